"""Defaults of the analysis that the config schema, the command line and the library share, each given once.

srhm.scaling, srhm.analysis and srhm.cli read them and the config schema's defaults equal them (a test
checks). The module imports nothing, so the command line can read them without loading the analysis.
The test-error threshold eps* is the paper's, srhm.theory.EPS_STAR.
"""

N_BOOT = 1000
"""Seed resamples per SRHM instance behind the bootstrap intervals of P* and of the fits (config `bootstrap`)."""
PROBE_SIZE = 1000
"""Base points per run on which S_{k,l} and D_{k,l} are measured, the head of its test set (config `probe_size`)."""
