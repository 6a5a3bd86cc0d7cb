# Sample the pool of each dataset: the test set is its head, the training sets the nested prefixes after it.
# The pool size is part of the file name (srhm.plan), so each training ensemble reads a pool of its own.

from srhm.data import parse_dataset_name
from srhm.theory import input_dim


def pool_dimension(dataset):
    """d = (s (s0 + 1))^L of a dataset named like v4_nc4_m4_s2_L2_s01_A_seed0."""
    params = parse_dataset_name(dataset)
    return int(input_dim(params["s"], params["L"], params["s0"]))


rule dataset:
    output:
        f"{RESULTS}/data/{{sampling}}/{{dataset}}_n{{size}}.npz",
    log:
        f"{RESULTS}/logs/data/{{sampling}}/{{dataset}}_n{{size}}.log",
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
