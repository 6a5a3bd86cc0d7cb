"""What one training job does: the paper's hyperparameters (App. B; the authors' main_bs_S.py and fun_choices.py) and the validated `TrainSpec`.

A `TrainSpec` describes one ensemble: every member shares the network (architecture, SRHM sizes) and
the optimisation protocol, and has its own dataset pool, training-set size P, seed and output folder.
Fields left to None take the paper's value; `TrainSpec.protocol()` resolves them. A spec is checked when
it is built (`__post_init__`), so a bad one raises ValueError naming the field before any work.
The module does not import torch, so a workflow can build and check specs cheaply.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from srhm import theory
from srhm.architectures import HIERARCHICAL, architecture, check_arch, default_width
from srhm.checks import check_int, check_optional_int, check_real, check_text
from srhm.data import ENCODINGS

SAMPLES_PER_CLASS_PER_STEP = 4
PRECISIONS = ("fp32", "tf32", "bf16")
"""The arithmetic of a training's products (srhm.precision says what each means and where it runs)."""
FP32 = PRECISIONS[0]
"""The default precision, the paper's."""
RUNTIME_FIELDS = ("device", "threads", "checkpoint", "checkpoint_every_s", "progress_every_s", "eval_batch")
"""Fields that change how a job runs but not what it computes: they may differ when resuming."""
LOSS_STOP, EPOCH_CAP_STOP, DIVERGED_STOP = "loss threshold", "max epochs", "non-finite loss"
"""Why a member's training stopped (its stop_reason in metrics.json): its epoch's training loss fell below
`loss_threshold`, it reached `max_epochs` first, or its training loss became non-finite (the training diverged)."""


def paper_base_lr(arch: str, s: int, s0: int, L: int) -> float:
    """The authors' `choice_lr` table (paper App. B); the effective lr is this times `paper_lr_scale`.

    Raises ValueError for an unknown arch or where the table has no entry (CNN with s > 2 and s0 = 5 or
    s0 > 6).
    """
    return architecture(arch).base_lr(s, s0, L)


def paper_lr_scale(arch: str, width: int | None) -> float:
    """Mean-field lr scaling: the width H for LCN/CNN/FCN, the authors' default 64 for the common nets."""
    return architecture(arch).lr_scale(width)


def paper_weight_decay(arch: str) -> float:
    """0 for LCN/CNN/FCN, 5e-4 (on sum_p mean(p^2)) for the common nets."""
    return architecture(arch).weight_decay


def paper_loss_threshold(arch: str) -> float:
    """Training stops once the epoch's mean training loss is below this (1e-2 for the FCN, VGGs and
    ResNets, 1e-3 for the others)."""
    return architecture(arch).loss_threshold


def paper_max_epochs(arch: str) -> int:
    """The epoch cap: 10^4 for LCN/CNN/FCN, 250 for the common nets."""
    return architecture(arch).max_epochs


def paper_batch_size(n_classes: int) -> int:
    """The authors' steps use files of 4 samples per class."""
    return SAMPLES_PER_CLASS_PER_STEP * n_classes


@dataclass(frozen=True)
class MemberSpec:
    """One member: tested on the first n_test samples of the pool file `pool`, trained on the P after them.

    seed: the member seed; its network initialisation and data order are the streams ("init", seed)
    and ("order", seed). out_dir receives model.pt, metrics.json and train.log.
    """

    pool: str
    P: int
    seed: int
    out_dir: str

    def __post_init__(self) -> None:
        check_text("members[].pool", self.pool)
        check_int("members[].P", self.P, 1)
        check_int("members[].seed", self.seed, 0)
        check_text("members[].out_dir", self.out_dir)


@dataclass(frozen=True)
class Protocol:
    """The concrete optimisation protocol of a spec, every paper default resolved."""

    width: int | None
    base_lr: float
    lr_scale: float
    lr: float
    momentum: float
    weight_decay: float
    batch_size: int
    loss_threshold: float
    max_epochs: int
    eval_every: int


@dataclass(frozen=True)
class TrainSpec:
    """One ensemble to train (see the module docstring); JSON-serialisable through to_dict/from_dict.

    Model: arch, v, n_classes, s, s0, L, width (None: paper default), bias.
    Protocol (None: paper value): base_lr, lr_scale (effective lr = base_lr x lr_scale), momentum,
    weight_decay (coefficient of sum over parameter tensors of mean(p^2), per member), batch_size,
    loss_threshold, max_epochs; eval_every (epochs between test evaluations), n_test, encoding, precision
    (one of PRECISIONS; fp32, the paper's, by default).
    Runtime: device ("auto", "cpu", "cuda", "cuda:N"), threads (torch.set_num_threads; None leaves it),
    checkpoint (file path, None for no checkpoints), checkpoint_every_s, progress_every_s (summary
    lines on stdout), eval_batch (test samples per forward pass, summed over members).
    """

    arch: str
    v: int
    n_classes: int
    s: int
    s0: int
    L: int
    n_test: int
    members: tuple[MemberSpec, ...]
    width: int | None = None
    bias: bool = True
    base_lr: float | None = None
    lr_scale: float | None = None
    momentum: float = 0.9
    weight_decay: float | None = None
    batch_size: int | None = None
    loss_threshold: float | None = None
    max_epochs: int | None = None
    eval_every: int = 10
    encoding: str = "whitened"
    precision: str = FP32
    device: str = "auto"
    threads: int | None = None
    checkpoint: str | None = None
    checkpoint_every_s: float = 300.0
    progress_every_s: float = 60.0
    eval_batch: int = 8192

    def __post_init__(self) -> None:
        check_arch(self.arch)
        for name, minimum in (("v", 2), ("n_classes", 2), ("s", 2), ("s0", 0), ("L", 1), ("n_test", 1),
                              ("eval_every", 1), ("eval_batch", 1)):
            check_int(name, getattr(self, name), minimum)
        if isinstance(self.members, (str, bytes, dict)) or not self.members:
            raise ValueError("members must be a non-empty list of MemberSpec (or dicts with pool, P, seed, out_dir)")
        members = tuple(_member(i, m) for i, m in enumerate(self.members))
        object.__setattr__(self, "members", members)
        out_dirs = [m.out_dir for m in members]
        if len(set(out_dirs)) != len(out_dirs):
            raise ValueError(f"members[].out_dir must be distinct, got {out_dirs}")
        if self.arch in HIERARCHICAL:
            check_optional_int("width", self.width, 1)
        elif self.width is not None:
            raise ValueError(f"width must be None for {self.arch}: its channel counts are fixed")
        if not isinstance(self.bias, bool) or (not self.bias and self.arch not in HIERARCHICAL):
            raise ValueError(f"bias must be True or False (False only for {HIERARCHICAL}), got {self.bias!r}")
        for name in ("base_lr", "lr_scale", "loss_threshold"):
            if getattr(self, name) is not None:
                check_real(name, getattr(self, name), positive=True)
        check_real("momentum", self.momentum)
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must lie in [0, 1), got {self.momentum!r}")
        if self.weight_decay is not None:
            check_real("weight_decay", self.weight_decay)
        check_optional_int("batch_size", self.batch_size, 1)
        check_optional_int("max_epochs", self.max_epochs, 1)
        check_optional_int("threads", self.threads, 1)
        if self.encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {ENCODINGS}, got {self.encoding!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        check_text("device", self.device)
        if self.checkpoint is not None:
            check_text("checkpoint", self.checkpoint)
        check_real("checkpoint_every_s", self.checkpoint_every_s)
        check_real("progress_every_s", self.progress_every_s)
        protocol = self.protocol()  # resolves the paper table now, so a missing entry fails here
        if self.arch not in HIERARCHICAL and protocol.batch_size > 1:
            for i, member in enumerate(members):
                if member.P % protocol.batch_size == 1:
                    raise ValueError(f"members[{i}].P={member.P} leaves a last batch of one sample with batch_size="
                                     f"{protocol.batch_size}, which {self.arch}'s BatchNorm cannot train on")

    @property
    def d(self) -> int:
        """Input length (s(s0+1))^L."""
        return int(theory.input_dim(self.s, self.L, self.s0))

    def protocol(self) -> Protocol:
        width = default_width(self.arch, self.L) if self.width is None else self.width
        base_lr = paper_base_lr(self.arch, self.s, self.s0, self.L) if self.base_lr is None else float(self.base_lr)
        lr_scale = paper_lr_scale(self.arch, width) if self.lr_scale is None else float(self.lr_scale)
        return Protocol(
            width=width,
            base_lr=base_lr,
            lr_scale=lr_scale,
            lr=base_lr * lr_scale,
            momentum=float(self.momentum),
            weight_decay=paper_weight_decay(self.arch) if self.weight_decay is None else float(self.weight_decay),
            batch_size=paper_batch_size(self.n_classes) if self.batch_size is None else self.batch_size,
            loss_threshold=(paper_loss_threshold(self.arch) if self.loss_threshold is None
                            else float(self.loss_threshold)),
            max_epochs=paper_max_epochs(self.arch) if self.max_epochs is None else self.max_epochs,
            eval_every=self.eval_every,
        )

    def model_kwargs(self) -> dict:
        """Keyword arguments of build_model (without init_seeds) for this spec's network."""
        return dict(arch=self.arch, v=self.v, n_classes=self.n_classes, s=self.s, s0=self.s0, L=self.L,
                    width=self.protocol().width, bias=self.bias)

    def to_dict(self) -> dict:
        """Plain JSON-serialisable form; TrainSpec.from_dict(spec.to_dict()) == spec."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainSpec:
        if not isinstance(data, dict):
            raise ValueError(f"a train spec must be a dict, got {type(data).__name__}")
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - fields)
        if unknown:
            raise ValueError(f"unknown train spec fields {unknown}; known fields are {sorted(fields)}")
        missing = sorted(f.name for f in dataclasses.fields(cls)
                         if f.default is dataclasses.MISSING and f.name not in data)
        if missing:
            raise ValueError(f"train spec is missing the required fields {missing}")
        members = data["members"]
        if not isinstance(members, (list, tuple)):
            raise ValueError(f"members must be a list, got {type(members).__name__}")
        return cls(**{**data, "members": tuple(members)})

    def same_training(self, other: TrainSpec) -> bool:
        """Whether two specs compute the same training (they may differ in RUNTIME_FIELDS)."""
        mine, theirs = self.to_dict(), other.to_dict()
        return all(mine[k] == theirs[k] for k in mine if k not in RUNTIME_FIELDS)


def _member(index: int, member: MemberSpec | dict) -> MemberSpec:
    """members[index] as a MemberSpec; errors name the member's index."""
    if isinstance(member, MemberSpec):
        return member
    if not isinstance(member, dict) or set(member) != {f.name for f in dataclasses.fields(MemberSpec)}:
        raise ValueError(f"members[{index}] must be a MemberSpec or a dict with exactly the keys pool, P, seed, "
                         f"out_dir, got {member!r}")
    try:
        return MemberSpec(**member)
    except ValueError as error:
        raise ValueError(f"members[{index}]: {error}") from None
