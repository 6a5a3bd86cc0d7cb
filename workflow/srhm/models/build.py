"""Building a network by architecture name (its srhm.architectures record), with argument checks."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from importlib import import_module

from srhm.architectures import HIERARCHICAL, Architecture, architecture, default_width
from srhm.checks import check_int
from srhm.models.ensemble import EnsembleNet
from srhm.models.single import SingleMemberNet
from srhm.theory import input_dim


def build_model(arch: str, *, v: int, n_classes: int, s: int, s0: int, L: int, width: int | None = None,
                init_seeds: Sequence[int] = (0,), bias: bool = True) -> EnsembleNet:
    """An ensemble with one member per init seed for inputs [E', B, v, d], d = (s(s0+1))^L.

    Member e's initial weights depend only on init_seeds[e]. width (H) defaults to default_width(arch, L)
    and bias switches the hidden-layer biases; both apply to the hierarchical nets only. The common nets
    (BatchNorm) take exactly one init seed, width=None and bias=True. Raises ValueError naming the
    parameter for an arch not in srhm.architectures.REGISTRY or any other bad argument.
    """
    record = architecture(arch)
    v, n_classes, s, s0, L = (check_int(name, value, minimum) for name, value, minimum in (
        ("v", v, 1), ("n_classes", n_classes, 2), ("s", s, 2), ("s0", s0, 0), ("L", L, 1)))
    if isinstance(init_seeds, (str, bytes)) or not isinstance(init_seeds, Sequence) or len(init_seeds) == 0:
        raise ValueError(f"init_seeds must be a non-empty sequence of seeds, got {init_seeds!r}")
    init_seeds = tuple(check_int("each of init_seeds", seed, 0) for seed in init_seeds)
    if not isinstance(bias, bool):
        raise ValueError(f"bias must be True or False, got {bias!r}")
    d = int(input_dim(s, L, s0))
    if record.hierarchical:
        width = check_int("width", default_width(arch, L) if width is None else width, 1)
        return _builder(record)(arch, v=v, n_classes=n_classes, s=s, s0=s0, L=L, width=width,
                                init_seeds=init_seeds, bias=bias)
    if len(init_seeds) != 1:
        raise ValueError(f"init_seeds must hold exactly one seed for {arch} (BatchNorm nets are single-member), "
                         f"got {len(init_seeds)}")
    if width is not None:
        raise ValueError(f"width must be None for {arch}: its channel counts are fixed by the architecture")
    if not bias:
        raise ValueError(f"bias=False applies to the hierarchical nets {HIERARCHICAL} only, not to {arch}")
    body = _builder(record)
    make_body = partial(body, arch, v=v, d=d, n_classes=n_classes)  # checks d before any weight is made
    return SingleMemberNet(make_body, body.HIDDEN_LAYER, init_seed=init_seeds[0], v=v, d=d, n_classes=n_classes)


def _builder(record: Architecture):
    """The class or function named by record.builder ("module:attribute")."""
    module, _, attribute = record.builder.partition(":")
    return getattr(import_module(module), attribute)
