"""The paper's visual conventions (those of the paper's figures), shared by every figure.

Markers by s0 (0 ♦, 1 ●, 2 ×, 4 ■, 6 ▼); reds for L = 2 and blues for L = 3, darker for larger v;
the tab10 cycle for hierarchy levels; grey for test-error curves drawn beside sensitivities.
"""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import Colormap, ListedColormap, Normalize

S0_MARKERS = {0: "D", 1: "o", 2: "x", 4: "s", 6: "v"}
"""Marker per number of empties s0, as in the paper."""
S_MARKERS = {2: "D", 3: "o"}
"""Marker per patch size s (Fig. 10 right)."""
EXTRA_MARKERS = ("^", "P", "*", "h", "<", ">")
"""Markers for values the paper never used, picked by value modulo their number."""
S0_LINESTYLES = {0: "-", 1: "--", 2: "-.", 4: ":", 6: (0, (5, 1, 1, 1))}
EXTRA_LINESTYLES = ((0, (1, 1)), (0, (3, 3)), (0, (6, 2, 1, 2)))
L_COLOURMAPS = {2: "Reds", 3: "Blues"}
EXTRA_COLOURMAPS = ("Greens", "Purples", "Oranges", "Greys")
SHADES = (0.4, 0.95)
"""Part of a sequential colourmap used for v: light (smallest v) to dark (largest v)."""
ERROR_COLOUR = "0.5"
GUIDE_STYLE = {"color": "black", "linestyle": "--", "linewidth": 1.0}
FIT_COLOUR = "0.2"
P_LABEL = "P (distinct training samples)"
ERROR_LABEL = r"test error $\varepsilon$"
LCN_PREDICTION_LABEL = r"$s^{L/2}(s_0+1)^L\, n_c\, m^L$"
CNN_PREDICTION_LABEL = r"$(s_0+1)^2\, n_c\, m^L$"
MARKERS = {"s0": S0_MARKERS, "s": S_MARKERS}


def marker(parameter: str, value: int) -> str:
    """Marker of a point whose `parameter` ("s0" or "s") equals `value`."""
    if parameter not in MARKERS:
        raise ValueError(f"parameter must be one of {tuple(MARKERS)}, got {parameter!r}")
    value = int(value)
    return MARKERS[parameter].get(value, EXTRA_MARKERS[value % len(EXTRA_MARKERS)])


def s0_linestyle(s0: int):
    """Line style of a curve with s0 empties."""
    s0 = int(s0)
    return S0_LINESTYLES.get(s0, EXTRA_LINESTYLES[s0 % len(EXTRA_LINESTYLES)])


def v_colourmap(L: int) -> Colormap:
    """The colour scale of depth L restricted to SHADES, so the colourbar shows the colours drawn."""
    L = int(L)
    name = L_COLOURMAPS.get(L, EXTRA_COLOURMAPS[L % len(EXTRA_COLOURMAPS)])
    return ListedColormap(colormaps[name](np.linspace(*SHADES, 256)), name=f"{name}_v")


def v_norm(v_range: tuple[float, float]) -> Normalize:
    """Normalisation of v over the figure's range; a single v maps to the middle shade."""
    low, high = v_range
    return Normalize(low - 1, high + 1) if low == high else Normalize(low, high)


def v_colour(L: int, v: int, v_range: tuple[float, float]) -> tuple[float, float, float, float]:
    """RGBA colour of the points of depth L and vocabulary v: darker for larger v within `v_range`."""
    return v_colourmap(L)(float(v_norm(v_range)(v)))


def v_range(*tables) -> tuple[float, float]:
    """Smallest and largest v over the "v" columns of `tables` (pandas DataFrames); (0, 1) if all empty."""
    values = np.concatenate([np.asarray(table["v"], dtype=float) for table in tables if len(table)] or [[0.0, 1.0]])
    return float(values.min()), float(values.max())


def level_colour(level: int) -> str:
    """Colour of hierarchy level l = 1, 2, ...: blue, orange, green, ... (tab10), as in Figs. 12 and 15."""
    level = int(level)
    if level < 1:
        raise ValueError(f"level must be >= 1, got {level}")
    return f"C{(level - 1) % 10}"


def proportional(slope: float) -> str:
    """A line through the origin in words: 'y = x', 'y = 2.5x'."""
    return "y = x" if slope == 1 else f"y = {slope:g}x"


def percent(value: float) -> str:
    """A threshold as the paper writes it, e.g. 0.1 -> '10%'."""
    return f"{100 * value:g}%"
