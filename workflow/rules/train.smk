# One training job per ensemble: every P and seed of one model and SRHM family, trained together
# (srhm.train stacks them into one batched network). Rules are generated per ensemble because each
# ensemble writes its own list of run directories. On a cluster, an ensemble's training and its
# sensitivity measurement (measure.smk) share one job (their group), and so one queue wait.

for ensemble in PLAN.ensembles.values():

    rule:
        name:
            f"train_{ensemble.id}"
        input:
            [f"{RESULTS}/{dataset.path}" for dataset in ensemble.datasets],
        output:
            [f"{RESULTS}/{run.dir}/{name}" for run in ensemble.runs for name in ("model.pt", "metrics.json")],
        params:
            spec=json.dumps(train_spec(ensemble, config, RESULTS)),
        log:
            f"{RESULTS}/logs/train/{ensemble.id}.log",
        group:
            f"ensemble_{ensemble.id}"
        threads: config["threads"]
        resources:
            mem_mb=2000,
            runtime=config["train_runtime_minutes"],
            gpu=config["gpus_per_training"],
        conda:
            "../../envs/srhm.yaml"
        shell:
            "python -m srhm train --spec {params.spec:q} > {log} 2>&1"
