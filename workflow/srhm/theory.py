"""Closed-form quantities of the (sparse) random hierarchy model and the paper's predictions.

Notation (the paper's): n_c classes, m synonyms per feature, patch size s, depth L, s0 empties per
informative element. Theory functions take numbers or NumPy arrays (broadcast together) and return
float64 values, except `p_max`, which returns an exact Python int because it overflows 64 bits.
"""

from __future__ import annotations

from math import comb
from typing import NamedTuple

import numpy as np

from srhm.architectures import HIERARCHICAL, REGISTRY, architecture

EPS_STAR = 0.10
"""Test-error threshold defining the sample complexity P* (a fraction, not a percentage)."""

SPARSITIES = ("A", "B")
P_STAR_FORMULAS = ("rhm", "lcn", "cnn")
"""The paper's P* formulas, by name: p_star_rhm (the non-sparse RHM), p_star_lcn (Eq. 3), p_star_cnn (Eq. 4)."""

FIG5_F = np.linspace(0.1, 1.0, 10)
"""Relevant fractions on the x axis of Fig. 5."""
FIG5_D = np.arange(20, 125, 8)
"""Input dimensions on the y axis of Fig. 5 (20, 28, ..., 124)."""
FIG5_S = 5
FIG5_M = 10**4
"""Fig. 5 uses v = 10, s = 5 and m = v^(s-1)."""


def _as_int(name: str, value, minimum: int) -> np.ndarray:
    """`value` as an integer array, or ValueError naming `name` if any entry is non-integral or < minimum."""
    array = np.asarray(value)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if not np.all(np.isfinite(array)) or np.any(array != np.round(array)) or np.any(array < minimum):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return array.astype(np.int64)


def _exact_int(name: str, value, minimum: int) -> int:
    """A scalar integer parameter as a Python int (for exact big-integer arithmetic)."""
    array = _as_int(name, value, minimum)
    if array.ndim != 0:
        raise ValueError(f"{name} must be a scalar integer, got an array of shape {array.shape}")
    return int(array)


def n_arrangements(s: int, s0: int, sparsity: str = "A") -> int:
    """Number of ways to place the s informative children of one production in its s(s0+1) slots.

    Sparsity A: each child picks one of the s0+1 slots of its own sub-patch, (s0+1)^s ways.
    Sparsity B: any s of the s(s0+1) slots, order preserved, C(s(s0+1), s) ways.
    """
    s, s0 = _exact_int("s", s, 2), _exact_int("s0", s0, 0)
    if sparsity == "A":
        return (s0 + 1) ** s
    if sparsity == "B":
        return comb(s * (s0 + 1), s)
    raise ValueError(f"sparsity must be one of {SPARSITIES}, got {sparsity!r}")


def p_max(n_c: int, m: int, s: int, L: int, s0: int = 0, sparsity: str = "A") -> int:
    """Number of distinct inputs the model can generate, exactly.

    P_max = n_c [m * arrangements]^((s^L - 1)/(s - 1)): every one of the (s^L - 1)/(s - 1) informative
    internal nodes picks a rule and an arrangement independently. With s0 = 0 this is the RHM value
    n_c m^((d - 1)/(s - 1)).
    """
    n_c, m = _exact_int("n_c", n_c, 1), _exact_int("m", m, 1)
    s, L = _exact_int("s", s, 2), _exact_int("L", L, 1)
    n_nodes = (s**L - 1) // (s - 1)
    return n_c * (m * n_arrangements(s, s0, sparsity)) ** n_nodes


def input_dim(s, L, s0=0) -> np.ndarray:
    """Input length d = (s(s0+1))^L."""
    s, L, s0 = _as_int("s", s, 2), _as_int("L", L, 1), _as_int("s0", s0, 0)
    return (s * (s0 + 1.0)) ** L


def relevant_fraction(s0, L) -> np.ndarray:
    """Fraction of informative input positions F = (s0+1)^-L."""
    s0, L = _as_int("s0", s0, 0), _as_int("L", L, 1)
    return (s0 + 1.0) ** -L


def p_star_rhm(n_c, m, L) -> np.ndarray:
    """Sample complexity of a deep network on the non-sparse RHM, n_c m^L."""
    n_c, m, L = _as_int("n_c", n_c, 1), _as_int("m", m, 1), _as_int("L", L, 1)
    return n_c * m ** L.astype(np.float64)


def sparsity_factor(arch: str, s0, L) -> np.ndarray:
    """Factor by which sparsity multiplies P*: (s0+1)^L for the LCN, (s0+1)^2 for the CNN.

    This is the rescaling of P used by the collapse plots (Figs. 7, 8, 12, 15).
    """
    s0, L = _as_int("s0", s0, 0), _as_int("L", L, 1)
    arch = _architecture(arch)
    if arch == "lcn":
        return (s0 + 1.0) ** L
    if arch == "cnn":
        return (s0 + 1.0) ** 2
    raise ValueError(f"arch must be 'lcn' or 'cnn' for a sparsity factor, got {arch!r}")


def p_star_lcn(n_c, m, s, L, s0) -> np.ndarray:
    """LCN prediction s^(L/2) (s0+1)^L n_c m^L (Eq. 3, with the empirical s^(L/2); Figs. 4B, 10)."""
    s, L = _as_int("s", s, 2), _as_int("L", L, 1)
    return s ** (L / 2.0) * sparsity_factor("lcn", s0, L) * p_star_rhm(n_c, m, L)


def p_star_cnn(n_c, m, L, s0) -> np.ndarray:
    """CNN prediction (s0+1)^2 n_c m^L (Eq. 4; Figs. 4C, 13)."""
    return sparsity_factor("cnn", s0, L) * p_star_rhm(n_c, m, L)


def p_star(formula: str, n_c, m, s, L, s0) -> np.ndarray:
    """The paper's P* formula named `formula` (P_STAR_FORMULAS): 'lcn' (Eq. 3), 'cnn' (Eq. 4) or 'rhm'.

    Each formula reads only the parameters it needs. Raises ValueError naming `formula` for another name.
    """
    if formula == "lcn":
        return p_star_lcn(n_c, m, s, L, s0)
    if formula == "cnn":
        return p_star_cnn(n_c, m, L, s0)
    if formula == "rhm":
        return p_star_rhm(n_c, m, L)
    raise ValueError(f"formula must be one of {P_STAR_FORMULAS}, got {formula!r}")


def predicted_p_star(arch: str, n_c, m, s, L, s0) -> np.ndarray:
    """The prediction the paper plots P* against for `arch` (its srhm.architectures record's `prediction`:
    Eq. 3 for the LCN, Eq. 4 for the CNN). `arch` is case-insensitive; ValueError naming `arch` where the
    paper gives no prediction."""
    formula = architecture(arch.lower() if isinstance(arch, str) else arch).prediction
    if formula is None:
        predicted = tuple(name for name, record in REGISTRY.items() if record.prediction is not None)
        raise ValueError(f"arch must be one of {predicted} for a P* prediction, got {arch!r}")
    return p_star(formula, n_c, m, s, L, s0)


def eq5_p_star_over_nc(F, d, m, s) -> np.ndarray:
    """Eq. 5: P*_LCN / n_c = F^-1 (F d)^(ln m / ln s) (F d)^(1/2), for relevant fraction F and dimension d.

    With F = (s0+1)^-L and d = (s(s0+1))^L this equals p_star_lcn / n_c exactly. At fixed d it grows
    with F as F^(ln m / ln s - 1/2), i.e. increases with F iff m > sqrt(s).
    """
    F, d = np.asarray(F, dtype=np.float64), np.asarray(d, dtype=np.float64)
    m, s = _as_int("m", m, 1), _as_int("s", s, 2)
    if np.any(~(F > 0)) or np.any(F > 1):
        raise ValueError(f"F must lie in (0, 1], got {F}")
    if np.any(~(d > 0)):
        raise ValueError(f"d must be positive, got {d}")
    relevant = F * d
    return relevant ** (np.log(m) / np.log(s) + 0.5) / F


class Fig5Map(NamedTuple):
    """Scattered points of the Fig. 5 map, all of shape [n_kept]."""

    F: np.ndarray
    d: np.ndarray
    p_star_over_nc: np.ndarray


def fig5_map(F=FIG5_F, d=FIG5_D, m=FIG5_M, s=FIG5_S) -> Fig5Map:
    """Eq. 5 on the grid F x d, keeping only points with F d >= s (at least one informative patch)."""
    F_grid, d_grid = np.meshgrid(np.asarray(F, dtype=np.float64), np.asarray(d, dtype=np.float64))
    keep = F_grid * d_grid >= s
    F_kept, d_kept = F_grid[keep], d_grid[keep]
    return Fig5Map(F_kept, d_kept, eq5_p_star_over_nc(F_kept, d_kept, m, s))


class Invariance(NamedTuple):
    """How P*_S and P*_D are read for an architecture: S_{k,1} at layer k = synonym_layer must fall below
    `synonym`, D_{k,1} at layer k = diffeo_layer below `diffeo` ("2": the second hidden layer; "out": the
    output)."""

    synonym_layer: str
    synonym: float
    diffeo_layer: str
    diffeo: float


def invariance_layers(arch: str) -> tuple[str, str]:
    """(synonym_layer, diffeo_layer): where P*_S and P*_D are read for `arch`, whatever s and L (see
    `invariance`): the second hidden layer, except the FCN's synonyms, read at the output."""
    return ("out", "2") if _architecture(arch) == "fcn" else ("2", "2")


def invariance(arch: str, s: int, L: int) -> Invariance:
    """The layers and thresholds defining P*_S and P*_D (the authors' table of thresholds, paper Apps. D-F;
    their scale_P_TASK notebooks at srhm.authors.COMMIT).

    LCN: S_2 30 % (s = 2) or 50 % (s = 3), D_2 10 %. CNN: S_2 40 % (L = 2, s = 2), 50 % (L = 2, s = 3) or
    20 % (L = 3), D_2 20 %. FCN: Fig. 16's D_2 = 10 %, but for synonyms the output's S at 20 %, as the
    authors' FCN notebook (scale_P_TASK-FCN, which drew Fig. 16): Fig. 16's S_2 = 30 % can never be crossed,
    the FCN's second layer keeping S_{2,1} near 0.5 even at zero test error (README, "Choices").
    Combinations the paper never used raise ValueError. `arch` is case-insensitive.
    """
    arch = _architecture(arch)
    s, L = _exact_int("s", s, 2), _exact_int("L", L, 1)
    thresholds = None
    if arch == "fcn":
        thresholds = (0.20, 0.10)
    elif arch == "lcn" and s in (2, 3):
        thresholds = ({2: 0.30, 3: 0.50}[s], 0.10)
    elif arch == "cnn" and (s, L) in ((2, 2), (3, 2)):
        thresholds = ({2: 0.40, 3: 0.50}[s], 0.20)
    elif arch == "cnn" and L == 3 and s in (2, 3):
        thresholds = (0.20, 0.20)
    if thresholds is not None:
        synonym_layer, diffeo_layer = invariance_layers(arch)
        return Invariance(synonym_layer, thresholds[0], diffeo_layer, thresholds[1])
    raise ValueError(f"the paper defines no sensitivity thresholds for arch={arch!r}, s={s}, L={L}")


def _architecture(arch: str) -> str:
    """`arch` in lower case, or ValueError naming `arch` unless it is an LCN, CNN or FCN (any case)."""
    if not isinstance(arch, str) or arch.lower() not in HIERARCHICAL:
        raise ValueError(f"arch must be one of {HIERARCHICAL} (any case), got {arch!r}")
    return arch.lower()
