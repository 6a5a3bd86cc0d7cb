# The authors' printed measurements (workflow/data/authors_measurements.csv, srhm.authors), checked and
# copied into the results, where the report and the figures that compare with them read it.

from srhm.authors import DATA as AUTHORS_DATA


rule authors_table:
    input:
        workflow_file(AUTHORS_DATA),
    output:
        report(f"{RESULTS}/{paths.AUTHORS_TABLE}", caption="../report/table.rst", category="Tables",
               labels={"experiment": "-", "table": "the authors' P*"}),
    log:
        f"{RESULTS}/{paths.log('authors_table')}",
    localrule: True
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../../envs/srhm.yaml"
    shell:
        "python -m srhm authors --out {output:q} > {log:q} 2>&1"
