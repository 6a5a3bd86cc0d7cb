"""The architecture registry: one record per network, read by the builder, the protocol, the theory's
predictions, the config schema and the figures."""

from __future__ import annotations

import subprocess
import sys
from importlib import import_module

import pytest

from srhm import analysis, protocol, theory
from srhm.architectures import (ARCHITECTURES, COMMON, HIERARCHICAL, REGISTRY, STYLED, architecture,
                                default_width)
from srhm.figures import common_nets


def test_the_registry_imports_without_torch():
    code = "import sys, srhm.architectures; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


PAPER = ("lcn", "cnn", "fcn", "vgg11", "vgg16", "resnet18", "resnet34", "efficientnetb0")
"""The paper's networks, first in the registry (a network added after them leaves these tests as they are)."""


def test_families_and_order():
    assert ARCHITECTURES[: len(PAPER)] == PAPER
    assert HIERARCHICAL == ("lcn", "cnn", "fcn") and set(COMMON) == set(ARCHITECTURES) - set(HIERARCHICAL)
    assert all(REGISTRY[name].name == name for name in ARCHITECTURES)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_builder_resolves(arch):
    module, _, attribute = REGISTRY[arch].builder.partition(":")
    builder = getattr(import_module(module), attribute)
    assert REGISTRY[arch].hierarchical or hasattr(builder, "HIDDEN_LAYER")


@pytest.mark.parametrize(
    "arch, widths, lr_scale, weight_decay, loss_threshold, max_epochs",
    [("lcn", (512, 512), 512.0, 0.0, 1e-3, 10_000), ("cnn", (512, 512), 512.0, 0.0, 1e-3, 10_000),
     ("fcn", (512, 256), 256.0, 0.0, 1e-2, 10_000), ("vgg11", (None, None), 64.0, 5e-4, 1e-2, 250),
     ("vgg16", (None, None), 64.0, 5e-4, 1e-2, 250), ("resnet18", (None, None), 64.0, 5e-4, 1e-2, 250),
     ("resnet34", (None, None), 64.0, 5e-4, 1e-2, 250), ("efficientnetb0", (None, None), 64.0, 5e-4, 1e-3, 250)],
)
def test_the_paper_protocol_of_every_architecture(arch, widths, lr_scale, weight_decay, loss_threshold, max_epochs):
    """The authors' launch scripts (widths at L = 2 and L = 3) and fun_choices.py (paper App. B)."""
    assert (default_width(arch, 2), default_width(arch, 3)) == widths
    assert protocol.paper_lr_scale(arch, default_width(arch, 3)) == lr_scale
    assert protocol.paper_weight_decay(arch) == weight_decay
    assert protocol.paper_loss_threshold(arch) == loss_threshold
    assert protocol.paper_max_epochs(arch) == max_epochs
    if arch in COMMON:
        assert protocol.paper_base_lr(arch, 3, 6, 3) == 1e-4


@pytest.mark.parametrize("lookup", [architecture, lambda arch: default_width(arch, 2), protocol.paper_max_epochs,
                                    protocol.paper_loss_threshold, lambda arch: protocol.paper_base_lr(arch, 2, 1, 2)])
def test_an_unknown_architecture_is_refused_by_name(lookup):
    with pytest.raises(ValueError, match=r"arch must be one of .*got 'vgg13'"):
        lookup("vgg13")


def test_predictions_point_to_the_papers_formulas():
    """Eq. 3 for the LCN, Eq. 4 for the CNN, none for the others."""
    assert {arch: REGISTRY[arch].prediction for arch in ARCHITECTURES if REGISTRY[arch].prediction} == {
        "lcn": "lcn", "cnn": "cnn"}
    assert set(analysis.PREDICTION) == {"lcn", "cnn"} and set(analysis.PREDICTION.values()) <= set(analysis.PREDICTIONS)
    assert theory.predicted_p_star("lcn", 10, 10, 2, 2, 2) == theory.p_star_lcn(10, 10, 2, 2, 2)
    assert theory.predicted_p_star("cnn", 10, 10, 2, 2, 2) == theory.p_star_cnn(10, 10, 2, 2)
    assert theory.p_star("rhm", 10, 10, 2, 2, 2) == theory.p_star_rhm(10, 10, 2)
    with pytest.raises(ValueError, match="formula"):
        theory.p_star("fcn", 10, 10, 2, 2, 2)
    with pytest.raises(ValueError, match="arch"):
        theory.predicted_p_star("vgg11", 10, 10, 2, 2, 2)


def test_the_common_nets_figures_draw_the_styled_nets():
    paper = ("lcn", "cnn", "vgg11", "vgg16", "resnet18", "resnet34", "efficientnetb0")
    assert common_nets.NETS == STYLED and STYLED[: len(paper)] == paper
    assert {net: common_nets.MARKERS[net] for net in paper} == {
        "lcn": "D", "cnn": "o", "vgg11": "x", "vgg16": "s", "resnet18": "v", "resnet34": "*", "efficientnetb0": "+"}
    assert {net: common_nets.COLOURS[net] for net in paper} == {
        "resnet34": "C0", "efficientnetb0": "C1", "vgg16": "C2", "lcn": "C3", "cnn": "C4", "vgg11": "C5", "resnet18": "C6"}
    assert len(set(common_nets.MARKERS.values())) == len(set(common_nets.COLOURS.values())) == len(STYLED)
    assert set(common_nets.SWEEP_NETS) | set(common_nets.LAYER_NETS) <= set(STYLED)
