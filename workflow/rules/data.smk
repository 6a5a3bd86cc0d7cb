# Sample the pool of each dataset: the test set is its head, the training sets the nested prefixes after it.
# The pool size is part of the file name (srhm.plan), so each training ensemble reads a pool of its own.


rule dataset:
    output:
        f"{RESULTS}/{paths.pool('{sampling}', '{dataset}', '{size}')}",
    log:
        f"{RESULTS}/{paths.log('data', '{sampling}', paths.pool_stem('{dataset}', '{size}'))}",
    wildcard_constraints:
        dataset=r"v\d+_nc\d+_m\d+_s\d+_L\d+_s0\d+_[AB]_seed\d+",
        size=r"\d+",
        sampling="balanced|uniform",
    threads: 1
    resources:
        mem_mb=lambda wildcards: 500 + 4 * int(wildcards.size) * pool_dimension(wildcards.dataset) // 10**6,
        runtime=10,
    conda:
        "../../envs/srhm.yaml"
    shell:
        "python -m srhm dataset {wildcards.dataset} --size {wildcards.size} --sampling {wildcards.sampling}"
        " --out {output:q} > {log:q} 2>&1"
