# The reproduction report: every quantitative claim of the paper beside what this run measured, as Markdown
# and as the page that leads `snakemake --report`.


rule report:
    input:
        tables=[f"{RESULTS}/{path}" for name in PLAN.experiments for path in paths.experiment_files(name)],
        authors=f"{RESULTS}/{paths.AUTHORS_TABLE}",
        code=report_code(),
    output:
        md=f"{RESULTS}/{paths.REPORT}",
        page=report(f"{RESULTS}/{paths.REPORT_PAGE}", caption="../report/reproduction.rst", category="Reproduction"),
    params:
        # A function: Snakemake reads braces in a plain string param as wildcards, and config strings (an
        # experiment's note, e.g. "n_c m^{L}") may hold some.
        config=lambda wildcards: json.dumps(result_config(config)),
        results=lambda wildcards, output: Path(output.md).parent,
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
        "python -m srhm report --config {params.config:q} --results {params.results} --out {output.md}"
        " --html {output.page} > {log} 2>&1"
