# Per experiment: one tidy table of its runs, then sample complexities and scaling fits. Both read
# small files for seconds, so they run where Snakemake runs (localrule), not as cluster jobs.


rule collect:
    input:
        lambda wildcards: [f"{run}/{name}" for run in experiment_runs(wildcards)
                           for name in (paths.METRICS_FILE, paths.SENSITIVITY_FILE)],
        searches=experiment_searches,
    output:
        report(f"{RESULTS}/{paths.run_table('{experiment}')}", caption="../report/table.rst", category="Tables",
               labels={"experiment": "{experiment}", "table": "runs"}),
    params:
        runs=experiment_runs,
        error_convention=config["error_convention"],
    log:
        f"{RESULTS}/{paths.log('collect', '{experiment}')}",
    wildcard_constraints:
        experiment=EXPERIMENT_PATTERN,
    localrule: True
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/srhm.yaml"
    shell:
        "python -m srhm collect {params.runs:q} --searches {input.searches:q} --experiment {wildcards.experiment:q}"
        " --error-convention {params.error_convention} --out {output:q} > {log:q} 2>&1"


rule analyse:
    input:
        f"{RESULTS}/{paths.run_table('{experiment}')}",
    output:
        pstar=report(f"{RESULTS}/{paths.pstar_table('{experiment}')}", caption="../report/table.rst",
                     category="Tables", labels={"experiment": "{experiment}", "table": "sample complexities"}),
        fits=f"{RESULTS}/{paths.fits('{experiment}')}",
    params:
        eps_star=config["eps_star"],
        bootstrap=config["bootstrap"],
    log:
        f"{RESULTS}/{paths.log('analyse', '{experiment}')}",
    wildcard_constraints:
        experiment=EXPERIMENT_PATTERN,
    localrule: True
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/srhm.yaml"
    shell:
        "python -m srhm analyse {input:q} --eps-star {params.eps_star} --bootstrap {params.bootstrap}"
        " --pstar {output.pstar:q} --fits {output.fits:q} > {log:q} 2>&1"
