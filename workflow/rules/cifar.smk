# CIFAR-10 relative stability to diffeomorphisms (Fig. 1A-B, after Petrini et al. 2021), srhm.cifar.
# The digitised published values are always available as a table; the training and measuring rules
# exist only when config["cifar"]["path"] names a local CIFAR-10 copy (`snakemake cifar` builds the
# measured table; `figures.fig01.cifar: measured` makes Fig. 1 draw it).

from srhm.cifar.settings import NETS, TEST_FILE, TRAIN_FILES, planned_runs
from srhm.cifar.tables import DIGITISED_DATA

CIFAR = config["cifar"]
try:
    CIFAR_RUNS = planned_runs(config)
except ValueError as error:
    raise WorkflowError(f"invalid config: {error}") from None


rule cifar_digitised_table:
    input:
        workflow_file(DIGITISED_DATA),
    output:
        report(f"{RESULTS}/{paths.cifar_table('digitised')}", caption="../report/table.rst", category="Tables",
               labels={"experiment": "-", "table": "CIFAR-10, digitised"}),
    log:
        f"{RESULTS}/{paths.log('cifar', 'digitised_table')}",
    localrule: True
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../../envs/srhm.yaml"
    shell:
        "python -m srhm cifar digitised --data-file {input:q} --out {output} > {log} 2>&1"


if CIFAR_RUNS:
    CIFAR_RUN = f"{RESULTS}/{paths.cifar_run_dir('{net}', '{P}', '{seed}')}"  # one run's folder, by wildcards
    CIFAR_DATA = [str(Path(CIFAR["path"]) / name) for name in (*TRAIN_FILES, TEST_FILE)]

    rule cifar_train:
        input:
            data=CIFAR_DATA,
        output:
            model=f"{CIFAR_RUN}/{paths.MODEL_FILE}",
            metrics=f"{CIFAR_RUN}/{paths.METRICS_FILE}",
        params:
            data=lambda wildcards, input: Path(input.data[0]).parent,
            run=lambda wildcards, output: Path(output.model).parent,
            epochs=CIFAR["epochs"],
            rescale="--rescale-epochs" if CIFAR["rescale_epochs"] else "",
            batch_size=CIFAR["batch_size"],
            lr="" if CIFAR["lr"] is None else f"--lr {CIFAR['lr']}",
            augment="" if CIFAR["augment"] else "--no-augment",
            evaluations=CIFAR["evaluations"],
            test_size=CIFAR["test_size"],
        log:
            f"{RESULTS}/{paths.log('cifar', 'train_{net}_P{P}_seed{seed}')}",
        wildcard_constraints:
            net="|".join(NETS),
            P=r"\d+",
            seed=r"\d+",
        threads: config["threads"]
        resources:
            mem_mb=4000,
            runtime=config["train_runtime_minutes"],
            gpu=config["gpus_per_training"],
            device=training_device(),
        conda:
            "../../envs/srhm.yaml"
        shell:
            "python -m srhm cifar train --data {params.data:q} --net {wildcards.net} --size {wildcards.P}"
            " --seed {wildcards.seed} --epochs {params.epochs} {params.rescale} --batch-size {params.batch_size}"
            " {params.lr} {params.augment} --evaluations {params.evaluations} --test-size {params.test_size}"
            " --device {resources.device} --threads {threads} --out {params.run} > {log} 2>&1"

    rule cifar_measure:
        input:
            data=CIFAR_DATA,
            model=f"{CIFAR_RUN}/{paths.MODEL_FILE}",
            metrics=f"{CIFAR_RUN}/{paths.METRICS_FILE}",
        output:
            f"{CIFAR_RUN}/{paths.STABILITY_FILE}",
        params:
            data=lambda wildcards, input: Path(input.data[0]).parent,
            run=lambda wildcards, input: Path(input.model).parent,
            cut=CIFAR["cut"],
            delta=CIFAR["delta"],
            n_probe=CIFAR["n_probe"],
            device=config["device"],
        log:
            f"{RESULTS}/{paths.log('cifar', 'measure_{net}_P{P}_seed{seed}')}",
        wildcard_constraints:
            net="|".join(NETS),
            P=r"\d+",
            seed=r"\d+",
        threads: config["threads"]
        resources:
            mem_mb=4000,
            runtime=30,
        conda:
            "../../envs/srhm.yaml"
        shell:
            "python -m srhm cifar measure {params.run} --data {params.data:q} --cut {params.cut} --delta {params.delta}"
            " --n-probe {params.n_probe} --device {params.device} --threads {threads} > {log} 2>&1"

    rule cifar_collect:
        input:
            [f"{RESULTS}/{run}/{paths.STABILITY_FILE}" for run in CIFAR_RUNS],
        output:
            report(f"{RESULTS}/{paths.cifar_table('measured')}", caption="../report/table.rst", category="Tables",
                   labels={"experiment": "-", "table": "CIFAR-10, measured"}),
        params:
            runs=[f"{RESULTS}/{run}" for run in CIFAR_RUNS],
        log:
            f"{RESULTS}/{paths.log('cifar', 'collect')}",
        threads: 1
        resources:
            mem_mb=500,
            runtime=5,
        conda:
            "../../envs/srhm.yaml"
        shell:
            "python -m srhm cifar collect {params.runs} --out {output} > {log} 2>&1"

    rule cifar:
        input:
            f"{RESULTS}/{paths.cifar_table('measured')}",
        localrule: True
