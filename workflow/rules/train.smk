# One training job per ensemble: every P and seed of one model and SRHM family, trained together
# (srhm.train stacks them into one batched network). Rules are generated per ensemble because each
# ensemble writes its own list of run directories. On a cluster, an ensemble's training and its
# sensitivity measurement (measure.smk) share one job (their group), and so one queue wait.
# The spec (params) holds what determines the trained weights, so changing it reruns the training;
# device, threads and the checkpoint interval are passed as threads and resources, which never trigger
# a rerun. Each ensemble reads pools sized for its own largest P (srhm.plan), so another
# experiment's grid never touches its input files.

for ensemble in PLAN.ensembles.values():

    rule:
        name:
            f"train_{ensemble.id}"
        input:
            [f"{RESULTS}/{dataset.path}" for dataset in ensemble.datasets],
        output:
            [f"{RESULTS}/{run.dir}/{name}" for run in ensemble.runs for name in paths.TRAINED_FILES],
        params:
            spec=json.dumps(train_spec(ensemble, RESULTS)),
            checkpoint=f"{RESULTS}/{paths.checkpoint(ensemble.id)}",
        log:
            f"{RESULTS}/{paths.log('train', ensemble.id)}",
        benchmark:
            f"{RESULTS}/{paths.benchmark('train', ensemble.id)}"
        group:
            f"ensemble_{ensemble.id}"
        priority: 0 if ensemble.arch in HIERARCHICAL else LONGEST_JOB_PRIORITY
        threads: config["threads"]
        resources:
            mem_mb=2000,
            runtime=config["train_runtime_minutes"],
            gpu=config["gpus_per_training"],
            device=training_device(),
            checkpoint_seconds=str(config["train"]["checkpoint_seconds"]),
        conda:
            "../../envs/srhm.yaml"
        shell:
            "python -m srhm train --spec {params.spec:q} --checkpoint {params.checkpoint:q}"
            " --checkpoint-every {resources.checkpoint_seconds} --device {resources.device} --threads {threads}"
            " > {log:q} 2>&1"
