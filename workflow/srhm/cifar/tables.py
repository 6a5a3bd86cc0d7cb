"""The CIFAR-10 stability table of Fig. 1A-B: one row per trained network (no torch).

Columns: net, source, P, seed, test_error, relative_sensitivity (R_f = D_f / G_f), diffeo_sensitivity
(D_f), noise_sensitivity (G_f). Two tables share them: the values digitised from the published figure
(workflow/data/petrini2021_fig1.csv, source "digitised") and the workflow's own measurement (source
"measured"). `figures.fig01.cifar` in the config names the one Fig. 1A-B draws; `srhm.paths.cifar_table`
gives its location under the results directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from srhm import paths

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ("net", "source", "P", "seed", "test_error", "relative_sensitivity", "diffeo_sensitivity",
           "noise_sensitivity")
SOURCES = tuple(paths.CIFAR_TABLES)
DIGITISED_DATA = Path(__file__).resolve().parents[2] / "data" / "petrini2021_fig1.csv"

NET_LABELS = {
    "fullconnl2": "FullConnL2", "fullconnl4": "FullConnL4", "fullconnl6": "FullConnL6", "lenet": "LeNet",
    "alexnet": "AlexNet", "vgg11": "VGG11", "vgg11bn": "VGG11bn", "vgg16bn": "VGG16bn", "vgg19bn": "VGG19bn",
    "resnet18": "ResNet18", "resnet34": "ResNet34", "resnet50": "ResNet50", "efficientnetb0": "EfficientNetB0",
    "efficientnetb0_pretrained": "EfficientNetB0 (pretrained)",
    "efficientnetb2_pretrained": "EfficientNetB2 (pretrained)",
}
"""Net id -> display name, for every net of either table."""


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """A stability table (CSV, `#` comment lines allowed), checked: exactly COLUMNS, known nets and sources.

    Raises ValueError naming the file and what is wrong with it.
    """
    import pandas as pd

    table = pd.read_csv(path, comment="#")
    if tuple(table.columns) != COLUMNS:
        raise ValueError(f"{path}: columns must be {list(COLUMNS)}, got {list(table.columns)}")
    unknown = sorted(set(table["net"]) - set(NET_LABELS))
    if unknown:
        raise ValueError(f"{path}: net must be one of {sorted(NET_LABELS)}, got {unknown}")
    bad_sources = sorted(set(table["source"]) - set(SOURCES))
    if bad_sources:
        raise ValueError(f"{path}: source must be one of {list(SOURCES)}, got {bad_sources}")
    numeric = list(COLUMNS[2:])
    for column in numeric:
        if not pd.api.types.is_numeric_dtype(table[column]):
            raise ValueError(f"{path}: column {column} must be numeric (empty for a missing value)")
    if (table[numeric] < 0).any().any():
        raise ValueError(f"{path}: P, seed, errors and sensitivities must be >= 0")
    return table
