# The reproduction report: every quantitative claim of the paper beside what this run measured.


rule report:
    input:
        [f"{RESULTS}/tables/{name}{suffix}.csv" for name in PLAN.experiments for suffix in ("", "_pstar")],
        [f"{RESULTS}/fits/{name}.json" for name in PLAN.experiments],
        f"{RESULTS}/{AUTHORS_TABLE}",
    output:
        f"{RESULTS}/report.md",
    params:
        config=json.dumps(result_config(config)),
        results=lambda wildcards, output: Path(output[0]).parent,
    log:
        f"{RESULTS}/logs/report.log",
    localrule: True
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/srhm.yaml"
    shell:
        "python -m srhm report --config {params.config:q} --results {params.results} --out {output} > {log} 2>&1"
