# Sensitivities S_{k,l}, D_{k,l} of every run, from its saved weights (one job per ensemble, so that
# the runs of one dataset are measured in the same passes).

for ensemble in PLAN.ensembles.values():

    rule:
        name:
            f"sensitivity_{ensemble.id}"
        input:
            [f"{RESULTS}/{run.dir}/{name}" for run in ensemble.runs for name in paths.TRAINED_FILES],
            [f"{RESULTS}/{dataset.path}" for dataset in ensemble.datasets],
        output:
            [f"{RESULTS}/{run.dir}/{paths.SENSITIVITY_FILE}" for run in ensemble.runs],
        params:
            runs=[f"{RESULTS}/{run.dir}" for run in ensemble.runs],
            distinct="--distinct" if config["distinct_resample"] else "",
            probe_size=config["probe_size"],
            weights=config["error_convention"],
        log:
            f"{RESULTS}/{paths.log('sensitivity', ensemble.id)}",
        benchmark:
            f"{RESULTS}/{paths.benchmark('sensitivity', ensemble.id)}"
        group:
            f"ensemble_{ensemble.id}"
        threads: config["threads"]
        resources:
            mem_mb=2000,
            runtime=30,
        conda:
            "../../envs/srhm.yaml"
        shell:
            "python -m srhm measure {params.runs} --probe-size {params.probe_size} --weights {params.weights}"
            " --threads {threads} {params.distinct} > {log} 2>&1"
