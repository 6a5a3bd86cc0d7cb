"""Sparse Random Hierarchy Model reproduction: data, networks, training, measurements, analysis."""

from srhm.data import EMPTY, SRHM, Batch, encode

__all__ = ["EMPTY", "SRHM", "Batch", "encode"]
__version__ = "0.1.0"
