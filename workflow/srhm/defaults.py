"""Defaults of the analysis that the config schema, the command line and the library share, each given once.

srhm.scaling, srhm.analysis and srhm.cli read them and the config schema's defaults equal them (a test
checks). The module imports nothing, so the command line can read them without loading the analysis.
The test-error threshold eps* is the paper's, srhm.theory.EPS_STAR.
"""

N_BOOT = 1000
"""Seed resamples per SRHM instance behind the bootstrap intervals of P* and of the fits (config `bootstrap`)."""
PROBE_SIZE = 1000
"""Base points per run on which S_{k,l} and D_{k,l} are measured, the head of its test set (config `probe_size`)."""
PASS_BYTES = 32 * 2**20
"""Bound on the layer activations one forward pass of the sensitivity measurement holds (srhm.sensitivity.chunk_size_for):
32 MiB. The network's own transient buffers grow with the pass too: measuring ResNet34 (1000 probe points, one core)
peaks at 1.28 GB of resident memory with 256 MiB and at 0.43 GB with 32 MiB, EfficientNetB0 at 0.99 and 0.40 GB, thirty
LCNs at 0.92 and 0.50 GB, in about the same time (smaller passes are no slower on a CPU)."""
