# P* searches (srhm.search): the P of a searched instance are chosen round by round. Round r is a checkpoint
# that writes its plan (the P to train next, from every run of the rounds before it); one job follows that
# trains them and measures their sensitivities in the same process (srhm train --measure), and round r + 1
# reads its runs. A search ends at the first round whose plan says done; its list of runs (search_runs) is
# what the experiment's table (analyse.smk) reads. Runs keep the folders of srhm.paths, so a fixed grid's runs
# of the same model and SRHM family count for the search (it never trains them), and a round whose job is
# rerun leaves out the runs that exist (srhm train --keep-trained) and measures them all again.

checkpoint search_round:
    input:
        search_round_inputs,
    output:
        f"{RESULTS}/{paths.search_round('{search}', '{round}')}",
    params:
        spec=lambda wildcards: json.dumps(search_spec(wildcards)),
        previous=previous_round_option,
    log:
        f"{RESULTS}/{paths.log('search', '{search}', 'round{round}')}",
    wildcard_constraints:
        search=SEARCH_PATTERN,
        round=r"\d+",
    localrule: True
    priority: SEARCH_PRIORITY
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/srhm.yaml"
    shell:
        "python -m srhm search --spec {params.spec:q} --round {wildcards.round} {params.previous}"
        " --out {output:q} > {log:q} 2>&1"


rule search_train:
    input:
        plan=f"{RESULTS}/{paths.search_round('{search}', '{round}')}",
        pools=search_pools,
    output:
        touch(f"{RESULTS}/{paths.search_marker('{search}', '{round}')}"),
    params:
        spec=lambda wildcards, input: json.dumps(train_spec(round_ensemble(wildcards, input), RESULTS)),
        checkpoint=lambda wildcards: f"{RESULTS}/{paths.checkpoint(f'{wildcards.search}_round{wildcards.round}')}",
        distinct="--distinct" if config["distinct_resample"] else "",
        probe_size=config["probe_size"],
        weights=config["error_convention"],
    log:
        f"{RESULTS}/{paths.log('train', '{search}', 'round{round}')}",
    benchmark:
        f"{RESULTS}/{paths.benchmark('train', '{search}', 'round{round}')}"
    wildcard_constraints:
        search=SEARCH_PATTERN,
        round=r"\d+",
    priority: SEARCH_PRIORITY
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
        "python -m srhm train --spec {params.spec:q} --keep-trained --checkpoint {params.checkpoint:q}"
        " --checkpoint-every {resources.checkpoint_seconds} --device {resources.device} --threads {threads}"
        " --measure --probe-size {params.probe_size} --weights {params.weights} {params.distinct} > {log:q} 2>&1"


rule search_runs:
    input:
        search_runs_inputs,
    output:
        f"{RESULTS}/{paths.search_runs('{search}')}",
    params:
        spec=lambda wildcards: json.dumps(search_spec(wildcards)),
        last=last_round,
    log:
        f"{RESULTS}/{paths.log('search', '{search}', 'runs')}",
    wildcard_constraints:
        search=SEARCH_PATTERN,
    localrule: True
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../../envs/srhm.yaml"
    shell:
        "python -m srhm search --spec {params.spec:q} --finished {params.last:q} --out {output:q} > {log:q} 2>&1"
