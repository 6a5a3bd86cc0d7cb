"""Defaults of the analysis that the config schema, the command line and the library share, each given once.

srhm.scaling, srhm.analysis and srhm.cli read them and the config schema's defaults equal them (a test
checks). The module imports nothing, so the command line can read them without loading the analysis.
The test-error threshold eps* is the paper's, srhm.theory.EPS_STAR.
"""

N_BOOT = 1000
"""Seed resamples per SRHM instance behind the bootstrap intervals of P* and of the fits (config `bootstrap`)."""
PROBE_SIZE = 1000
"""Base points per run on which S_{k,l} and D_{k,l} are measured, the head of its test set (config `probe_size`)."""
PASS_BYTES = 256 * 2**20
"""Bound on the layer activations one forward pass of the sensitivity measurement holds (srhm.sensitivity.chunk_size_for):
256 MiB, so that the deepest network (EfficientNetB0, ~0.37 MB of activations per input) measures in well under 1 GB."""
