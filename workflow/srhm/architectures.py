"""Architecture names and the paper's default widths (the authors' launch scripts), importable without torch."""

from __future__ import annotations

from srhm.checks import check_int

HIERARCHICAL = ("lcn", "cnn", "fcn")
COMMON = ("vgg11", "vgg16", "resnet18", "resnet34", "efficientnetb0")
ARCHITECTURES = HIERARCHICAL + COMMON
PAPER_WIDTH = 512
FCN_DEEP_WIDTH = 256


def default_width(arch: str, L: int) -> int | None:
    """H of the authors' launch scripts: 512 for LCN/CNN; FCN 512 for L <= 2 and 256 for L >= 3; None for the common nets,
    whose channel counts are fixed by their architecture."""
    check_arch(arch)
    check_int("L", L, 1)
    if arch == "fcn" and L >= 3:
        return FCN_DEEP_WIDTH
    return PAPER_WIDTH if arch in HIERARCHICAL else None


def check_arch(arch: str) -> None:
    if arch not in ARCHITECTURES:
        raise ValueError(f"arch must be one of {ARCHITECTURES}, got {arch!r}")
