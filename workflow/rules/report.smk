# The reproduction report: every quantitative claim of the paper beside what this run measured.


rule report:
    input:
        tables=[f"{RESULTS}/{path}" for name in PLAN.experiments for path in paths.experiment_files(name)],
        authors=f"{RESULTS}/{paths.AUTHORS_TABLE}",
        code=report_code(),
    output:
        f"{RESULTS}/{paths.REPORT}",
    params:
        # A function: Snakemake reads braces in a plain string param as wildcards, and config strings (an
        # experiment's note, e.g. "n_c m^{L}") may hold some.
        config=lambda wildcards: json.dumps(result_config(config)),
        results=lambda wildcards, output: Path(output[0]).parent,
    log:
        f"{RESULTS}/{paths.log('report')}",
    localrule: True
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/srhm.yaml"
    shell:
        "python -m srhm report --config {params.config:q} --results {params.results} --out {output} > {log} 2>&1"
