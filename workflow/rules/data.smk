# Sample the pool of each dataset: the test set is its head, the training sets the nested prefixes after it.


rule dataset:
    output:
        f"{RESULTS}/data/{{sampling}}/{{dataset}}.npz",
    params:
        size=lambda wildcards: PLAN.datasets[wildcards.dataset].pool_size,
    log:
        f"{RESULTS}/logs/data/{{sampling}}/{{dataset}}.log",
    wildcard_constraints:
        dataset=r"v\d+_nc\d+_m\d+_s\d+_L\d+_s0\d+_[AB]_seed\d+",
        sampling="balanced|uniform",
    threads: 1
    resources:
        mem_mb=lambda wildcards: 500 + 4 * PLAN.datasets[wildcards.dataset].pool_size * PLAN.datasets[wildcards.dataset].d // 10**6,
        runtime=10,
    conda:
        "../../envs/srhm.yaml"
    shell:
        "python -m srhm dataset {wildcards.dataset} --size {params.size} --sampling {wildcards.sampling}"
        " --out {output:q} > {log:q} 2>&1"
