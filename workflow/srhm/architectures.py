"""The architectures: one record per network, everything else in the workflow reads it. Importable without torch.

An `Architecture` holds what varies from one network to another:
- its family: HIERARCHICAL_FAMILY for the LCN, CNN and FCN of the paper (ensembles in the mean-field
  parametrisation, width H and a bias switch), COMMON_FAMILY for the BatchNorm nets of App. B (VGG,
  ResNet, EfficientNet; one member per job, channel counts fixed by the architecture);
- its builder, "module:attribute" resolved on use by srhm.models.build_model and called with the
  architecture's name first (one class may build several networks, e.g. VGG1d builds vgg11 and vgg16):
  a hierarchical builder as (name, v=, n_classes=, s=, s0=, L=, width=, init_seeds=, bias=) returns the
  EnsembleNet; a common one as (name, v=, d=, n_classes=) returns the body [B, v, d] -> [B, n_classes],
  whose class attribute HIDDEN_LAYER is the module type of its hidden layers (srhm.models.single);
- the training protocol of the paper (App. B; the authors' main_bs_S.py and fun_choices.py, whose
  `choice_lr` is the base-lr tables here) and the default width of the authors' launch scripts;
- which of the paper's P* formulas (srhm.theory.P_STAR_FORMULAS) predicts its sample complexity;
- its look in the common-architecture figures (Figs. 1C-F, 9, 17), where it has one.

Adding a network is one record in REGISTRY plus its builder; the config schema's architecture lists
(srhm.config), the protocol, the predictions and the figures follow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from srhm.checks import check_int

HIERARCHICAL_FAMILY = "hierarchical"
COMMON_FAMILY = "common"
FAMILIES = (HIERARCHICAL_FAMILY, COMMON_FAMILY)
PAPER_WIDTH = 512
FCN_DEEP_WIDTH = 256
COMMON_BASE_LR = 1e-4
COMMON_LR_SCALE = 64
"""The common nets keep the authors' default width argument 64, so their lr is 1e-4 x 64."""
COMMON_WEIGHT_DECAY = 5e-4
HIERARCHICAL_MAX_EPOCHS = 10_000
COMMON_MAX_EPOCHS = 250


@dataclass(frozen=True)
class Style:
    """How a net is drawn in the common-architecture figures: legend label, matplotlib marker and colour."""

    label: str
    marker: str
    colour: str


@dataclass(frozen=True)
class Architecture:
    """One network (see the module docstring).

    width(L): the default hidden width H at depth L (None: channel counts fixed by the architecture).
    base_lr(s, s0, L): the authors' base learning rate; ValueError where their table has no entry.
    lr_scale(width): the factor from base lr to lr (the width H for the mean-field nets).
    weight_decay: coefficient of sum_p mean(p^2); loss_threshold: training stops once the epoch's mean
    training loss is below it; max_epochs: the epoch cap.
    prediction: name of the paper's P* formula for it (srhm.theory.P_STAR_FORMULAS), None where the paper
    gives none. style: None where it is not drawn in the common-architecture figures.
    """

    name: str
    family: str
    builder: str
    width: Callable[[int], int | None]
    base_lr: Callable[[int, int, int], float]
    lr_scale: Callable[[int | None], float]
    weight_decay: float
    loss_threshold: float
    max_epochs: int
    prediction: str | None = None
    style: Style | None = None

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")
        module, _, attribute = self.builder.partition(":")
        if not module or not attribute:
            raise ValueError(f"builder must read 'module:attribute', got {self.builder!r}")

    @property
    def hierarchical(self) -> bool:
        return self.family == HIERARCHICAL_FAMILY


def _lcn_base_lr(s: int, s0: int, L: int) -> float:
    return 0.01 if s == 2 and s0 < 4 else 0.003


def _cnn_base_lr(s: int, s0: int, L: int) -> float:
    if s > 2:
        table = {4: 0.003, 6: 3e-4}
        if s0 < 4:
            return 0.01
        if s0 not in table:
            raise ValueError(f"base_lr: the paper's CNN table has no entry for s={s}, s0={s0}; give base_lr")
        return table[s0]
    if L == 1:
        return 0.1 if s0 < 4 else 0.03
    if s0 == 0:
        return 0.01
    if L == 2:
        return 0.1 if s0 < 4 else 0.03 if s0 == 4 else 0.01
    return 0.01 if s0 < 4 else 0.003 if s0 == 4 else 0.001


def _fcn_base_lr(s: int, s0: int, L: int) -> float:
    if L == 2:
        return 0.01 if s0 < 4 else 0.003
    return 0.003 if s0 < 4 else 0.001


def _paper_width(L: int) -> int:
    return PAPER_WIDTH


def _fcn_width(L: int) -> int:
    return PAPER_WIDTH if L <= 2 else FCN_DEEP_WIDTH


def _mean_field_lr_scale(width: int | None) -> float:
    return float(width)


def _hierarchical(name: str, base_lr: Callable[[int, int, int], float], *, loss_threshold: float,
                  width: Callable[[int], int] = _paper_width, prediction: str | None = None,
                  style: Style | None = None) -> Architecture:
    """An LCN/CNN/FCN: built by HierarchicalNet, lr = base lr x H, no weight decay, up to 10^4 epochs."""
    return Architecture(name, HIERARCHICAL_FAMILY, "srhm.models.hierarchical:HierarchicalNet", width, base_lr,
                        _mean_field_lr_scale, 0.0, loss_threshold, HIERARCHICAL_MAX_EPOCHS, prediction, style)


def _common(name: str, builder: str, *, loss_threshold: float, style: Style | None = None) -> Architecture:
    """A BatchNorm net: fixed channels, lr 1e-4 x 64, weight decay 5e-4, up to 250 epochs; drawn in the
    common-architecture figures where it has a style."""
    return Architecture(name, COMMON_FAMILY, builder, lambda L: None, lambda s, s0, L: COMMON_BASE_LR,
                        lambda width: float(COMMON_LR_SCALE), COMMON_WEIGHT_DECAY, loss_threshold,
                        COMMON_MAX_EPOCHS, None, style)


# Styles: the paper's markers (Fig. 1C: LCN ♦, CNN ●, VGG11 ×, VGG16 ■, ResNet18 ▼, ResNet34 ★,
# EfficientNetB0 +) and Fig. 1E-F's colours (ResNet34 C0, EfficientNetB0 C1, VGG16 C2, LCN C3), the other
# nets after them. Loss thresholds: the authors' fun_choices.py.
REGISTRY: dict[str, Architecture] = {arch.name: arch for arch in (
    _hierarchical("lcn", _lcn_base_lr, loss_threshold=1e-3, prediction="lcn", style=Style("LCN", "D", "C3")),
    _hierarchical("cnn", _cnn_base_lr, loss_threshold=1e-3, prediction="cnn", style=Style("CNN", "o", "C4")),
    _hierarchical("fcn", _fcn_base_lr, loss_threshold=1e-2, width=_fcn_width),
    _common("vgg11", "srhm.models.vgg:VGG1d", loss_threshold=1e-2, style=Style("VGG11", "x", "C5")),
    _common("vgg16", "srhm.models.vgg:VGG1d", loss_threshold=1e-2, style=Style("VGG16", "s", "C2")),
    _common("resnet18", "srhm.models.resnet:ResNet1d", loss_threshold=1e-2, style=Style("ResNet18", "v", "C6")),
    _common("resnet34", "srhm.models.resnet:ResNet1d", loss_threshold=1e-2, style=Style("ResNet34", "*", "C0")),
    _common("efficientnetb0", "srhm.models.efficientnet:EfficientNetB0", loss_threshold=1e-3,
            style=Style("EfficientNetB0", "+", "C1")),
)}
"""Every architecture, by name, in the order of the paper's tables."""

ARCHITECTURES = tuple(REGISTRY)
HIERARCHICAL = tuple(name for name, arch in REGISTRY.items() if arch.hierarchical)
COMMON = tuple(name for name, arch in REGISTRY.items() if not arch.hierarchical)
STYLED = tuple(name for name, arch in REGISTRY.items() if arch.style is not None)
"""The nets drawn in the common-architecture figures."""


def architecture(arch: str) -> Architecture:
    """The record of `arch`; ValueError naming `arch` for a name not in REGISTRY."""
    check_arch(arch)
    return REGISTRY[arch]


def check_arch(arch: str) -> None:
    if not isinstance(arch, str) or arch not in REGISTRY:
        raise ValueError(f"arch must be one of {ARCHITECTURES}, got {arch!r}")


def default_width(arch: str, L: int) -> int | None:
    """H of the authors' launch scripts: 512 for LCN/CNN; FCN 512 for L <= 2 and 256 for L >= 3; None for the common nets,
    whose channel counts are fixed by their architecture."""
    record = architecture(arch)
    return record.width(check_int("L", L, 1))
