"""The CIFAR-10 protocol of Fig. 1A-B: validated training and probe settings, run directories (no torch).

Petrini et al. 2021 (code: leonardopetrini/diffeo-sota, relativestability, pcsl-epfl/diffeomorphism)
train every convolutional net with SGD (lr 0.1, momentum 0.9, weight decay 5e-4, cosine annealing),
batch 128, 250 epochs, random crops of the 4-pixel zero-padded image and horizontal flips, and report
the best test accuracy over training; at P < 50000 they train 250 x 50000 / P epochs, at most 5000.
Their fully connected nets train with Adam and weight decay 0 at a constant learning rate; no launch
line sets that rate, so it is the code's default, 0.1. Choices here:

- the cosine schedule anneals to zero over all the run's epochs (one version of their code anneals over
  200 epochs, a later one over 80 % of them and then rises again);
- the test error is evaluated `evaluations` times, evenly spaced (theirs: every epoch up to 250 times);
- each seed draws one order of the training set and a run of size P takes its first P images, so the
  training sets of one seed are nested (theirs: a random subset per run).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from srhm import paths
from srhm.checks import check_choice, check_int, check_real

NETS = ("fullconnl2", "fullconnl4", "fullconnl6", "lenet", "alexnet", "vgg11", "vgg11bn", "vgg16bn", "vgg19bn",
        "resnet18", "resnet34", "resnet50", "efficientnetb0")
"""The networks srhm.cifar.nets builds (the config schema's `cifar.nets` lists the same)."""
ADAM_NETS = ("fullconnl2", "fullconnl4", "fullconnl6")
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
FULL_TRAIN_SIZE = 50000
MAX_RESCALED_EPOCHS = 5000
DEFAULT_LR = 0.1
SGD_MOMENTUM = 0.9
SGD_WEIGHT_DECAY = 5e-4


@dataclass(frozen=True)
class TrainSettings:
    """One training run: `net` on the first P images of seed `seed`'s order of the training set."""

    net: str
    P: int
    seed: int
    epochs: int
    batch_size: int = 128
    lr: float | None = None
    augment: bool = True
    evaluations: int = 5
    test_size: int = 10000
    rescale_epochs: bool = False

    def __post_init__(self) -> None:
        check_choice("net", self.net, NETS)
        check_int("P", self.P, 1)
        for name, minimum in (("seed", 0), ("epochs", 1), ("batch_size", 1), ("evaluations", 1), ("test_size", 1)):
            check_int(name, getattr(self, name), minimum)
        if self.lr is not None:
            check_real("lr", self.lr, positive=True)
        for name in ("augment", "rescale_epochs"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")

    @property
    def optimizer(self) -> str:
        """"adam" for the fully connected nets, "sgd" otherwise."""
        return "adam" if self.net in ADAM_NETS else "sgd"

    @property
    def learning_rate(self) -> float:
        return DEFAULT_LR if self.lr is None else float(self.lr)

    @property
    def total_epochs(self) -> int:
        """`epochs`, or with rescale_epochs min(epochs x 50000 / P, 5000) (at least `epochs`)."""
        if not self.rescale_epochs:
            return self.epochs
        return max(self.epochs, min(self.epochs * FULL_TRAIN_SIZE // self.P, MAX_RESCALED_EPOCHS))

    @property
    def evaluation_epochs(self) -> tuple[int, ...]:
        """The 1-based epochs after which the test error is measured: evenly spaced, ending at the last."""
        total = self.total_epochs
        count = min(self.evaluations, total)
        return tuple(sorted({round(total * (k + 1) / count) for k in range(count)}))


@dataclass(frozen=True)
class ProbeSettings:
    """Relative stability measurement: the first `n_probe` test images, diffeomorphisms of cut-off `cut`
    and typical displacement `delta` pixels."""

    cut: int = 3
    delta: float = 1.0
    n_probe: int = 500

    def __post_init__(self) -> None:
        check_int("cut", self.cut, 2)
        check_real("delta", self.delta, positive=True)
        check_int("n_probe", self.n_probe, 2)


def check_cifar_dir(path: str | os.PathLike) -> Path:
    """`path` as a Path, or a ValueError naming the CIFAR-10 batch files it lacks."""
    path = Path(path)
    missing = [name for name in (*TRAIN_FILES, TEST_FILE) if not (path / name).is_file()]
    if missing:
        raise ValueError(f"cifar.path: {path} lacks the CIFAR-10 python-pickle batches {missing}")
    return path


def planned_runs(config: dict) -> list[str]:
    """Run directories the workflow config asks for (none without cifar.path), after checking that
    `figures.fig01.cifar: measured` has a cifar.path and that the path holds the batches."""
    cifar = config["cifar"]
    wants_measured = config["figures"].get("fig01", {}).get("cifar") == "measured"
    if cifar["path"] is None:
        if wants_measured:
            raise ValueError("figures.fig01.cifar: 'measured' needs cifar.path, the directory of a local "
                             "CIFAR-10 copy; set it or draw the digitised values (cifar: digitised)")
        return []
    check_cifar_dir(cifar["path"])
    return [paths.cifar_run_dir(net, P, seed) for net in cifar["nets"] for P in cifar["train_sizes"] for seed in cifar["seeds"]]
