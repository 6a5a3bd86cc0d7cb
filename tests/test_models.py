"""Networks: parameter counts, shapes, member independence, reference implementations, init scale, API errors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from srhm.models import ARCHITECTURES, EnsembleNet, build_model, default_width
from srhm.models.conv import Conv1d

HIERARCHICAL = ("lcn", "cnn", "fcn")
COMMON = tuple(arch for arch in ARCHITECTURES if arch not in HIERARCHICAL)
PAPER_INSTANCE = dict(v=10, n_classes=10, s=2, s0=2, L=2)  # d = 36
SMALL = dict(v=3, n_classes=4, s=2, s0=1, L=2)  # d = 16, k = 4


def inputs(n_members: int, batch: int, v: int, d: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n_members, batch, v, d, generator=torch.Generator().manual_seed(seed))


def expected_parameter_count(arch: str, *, v: int, n_classes: int, s: int, s0: int, L: int, width: int,
                             bias: bool) -> int:
    """Closed-form count per member: weights + biases of L hidden layers + readout."""
    k = s * (s0 + 1)
    positions = [k ** (L - layer) for layer in range(L + 1)]  # n_0 = d, ..., n_L = 1
    channels = [v] + [width] * L
    total = width * n_classes
    for layer in range(1, L + 1):
        c_in, n_in, n_out = channels[layer - 1], positions[layer - 1], positions[layer]
        weights = {"lcn": n_out * c_in * k * width, "cnn": c_in * k * width, "fcn": c_in * n_in * width * n_out}
        total += weights[arch] + (width * n_out if bias else 0)
    return total


@pytest.mark.parametrize("arch", HIERARCHICAL)
@pytest.mark.parametrize(
    "params",
    [dict(v=10, n_classes=10, s=2, s0=2, L=2, width=32, bias=True),
     dict(v=4, n_classes=3, s=3, s0=0, L=3, width=8, bias=True),
     dict(v=5, n_classes=2, s=2, s0=1, L=2, width=6, bias=False)],
)
def test_parameter_count_matches_closed_form(arch, params):
    net = build_model(arch, **params, init_seeds=(0, 1))
    per_member = expected_parameter_count(arch, **params)
    assert sum(p.numel() for p in net.parameters()) == 2 * per_member
    assert all(p.shape[0] == 2 for p in net.parameters())


def test_paper_sizes():
    """Paper instance, H = 512: the LCN's first layer has 6 positions x 512 filters over 10 x 6 inputs."""
    net = build_model("lcn", **PAPER_INSTANCE)
    assert net.layers[0].weight.shape == (1, 6, 60, 512)
    assert net.layers[1].weight.shape == (1, 1, 3072, 512)
    assert net.readout.shape == (1, 512, 10)


@pytest.mark.parametrize("arch", HIERARCHICAL)
def test_activation_shapes_and_order(arch):
    width, k, d = 7, 4, 16
    net = build_model(arch, **SMALL, width=width, init_seeds=(0, 1, 2))
    x = inputs(2, 5, 3, d)
    acts = net.activations(x, members=torch.tensor([2, 0]))
    assert list(acts) == ["layer1", "layer2", "output"] == [*net.hidden_layers, "output"]
    assert acts["layer1"].shape == (2, 5, width, d // k)
    assert acts["layer2"].shape == (2, 5, width, 1)
    assert acts["output"].shape == (2, 5, SMALL["n_classes"])
    assert torch.all(acts["layer1"] >= 0) and torch.all(acts["layer2"] >= 0)
    assert torch.equal(acts["output"], net(x, members=torch.tensor([2, 0])))


@pytest.fixture
def one_thread():
    """One torch thread for the test, restored after: on several threads the CPU kernels may split a batched
    and a single-member product differently, which moves results by float rounding."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("arch", HIERARCHICAL)
def test_member_equals_single_member_net_built_with_its_seed(arch, one_thread):
    """Bitwise on one thread: same initial weights, logits and gradients, whether run alone, in the full
    ensemble or a subset."""
    seeds = (5, 7, 11)
    ensemble = build_model(arch, **SMALL, width=8, init_seeds=seeds)
    x = inputs(1, 6, 3, 16)
    full = ensemble(x.expand(3, -1, -1, -1))
    for e, seed in enumerate(seeds):
        single = build_model(arch, **SMALL, width=8, init_seeds=(seed,))
        for name, tensor in single.state_dict().items():
            assert torch.equal(tensor[0], ensemble.state_dict()[name][e]), name
        alone = single(x)
        assert torch.equal(alone[0], full[e])
        ensemble.zero_grad()
        subset = ensemble(x.expand(2, -1, -1, -1), members=torch.tensor([e, (e + 1) % 3]))
        assert torch.equal(subset[0], full[e])
        alone.pow(2).sum().backward()
        subset[0].pow(2).sum().backward()
        for (name, together), apart in zip(ensemble.named_parameters(), single.parameters()):
            assert torch.equal(together.grad[e], apart.grad[0]), name


@pytest.mark.parametrize("arch", HIERARCHICAL)
def test_member_state_dict_round_trip(arch):
    ensemble = build_model(arch, **SMALL, width=8, init_seeds=(3, 4, 5))
    x = inputs(3, 4, 3, 16)
    logits = ensemble(x)
    single = build_model(arch, **SMALL, width=8, init_seeds=(999,))
    single.load_state_dict(ensemble.member_state_dict(1))
    assert torch.equal(single(x[1:2])[0], logits[1])
    restacked = build_model(arch, **SMALL, width=8, init_seeds=(7, 7, 7))
    restacked.load_member_states([ensemble.member_state_dict(e) for e in range(3)])
    assert torch.equal(restacked(x), logits)
    with pytest.raises(ValueError, match="one state dict per member"):
        restacked.load_member_states([ensemble.member_state_dict(0)])


@pytest.mark.parametrize("arch", HIERARCHICAL)
def test_members_never_mix_gradients(arch):
    net = build_model(arch, **SMALL, width=8, init_seeds=(0, 1, 2))
    net(inputs(3, 4, 3, 16))[0].pow(2).sum().backward()
    for name, parameter in net.named_parameters():
        assert parameter.grad[0].abs().sum() > 0, name
        assert torch.count_nonzero(parameter.grad[1:]) == 0, name


@pytest.mark.parametrize("arch", HIERARCHICAL)
def test_member_subset_equals_slice_of_full_output(arch):
    net = build_model(arch, **SMALL, width=8, init_seeds=(0, 1, 2, 3))
    x = inputs(4, 5, 3, 16)
    full = net(x)
    subset = torch.tensor([3, 1])
    torch.testing.assert_close(net(x[subset], members=subset), full[subset], rtol=1e-6, atol=1e-6)
    net(x[subset], members=subset).sum().backward()
    grads = net.readout.grad
    assert torch.count_nonzero(grads[[0, 2]]) == 0 and torch.count_nonzero(grads[[1, 3]]) > 0


def reference_forward(net: EnsembleNet, x: torch.Tensor) -> torch.Tensor:
    """Loop over members and positions: layer l's position p sees inputs p*k .. p*k+k-1, read position-major
    (weight entry j*C + c for channel c of the patch's j-th position; the FCN's output entry p*C_out + o)."""
    out = []
    for e in range(net.n_members):
        h = x[e]  # [B, C, n]
        for layer in net.layers:
            c_in = h.shape[1]
            if net.arch == "fcn":
                pre = h.transpose(1, 2).reshape(h.shape[0], -1) @ layer.weight[e] / math.sqrt(c_in) + 0.1 * layer.bias[e]
                pre = pre.view(h.shape[0], layer.n_out, layer.c_out).transpose(1, 2)
            else:
                columns, k = [], layer.k
                for p in range(layer.n_out):
                    patch = h[:, :, p * k:(p + 1) * k].transpose(1, 2).reshape(h.shape[0], k * c_in)
                    weight = layer.weight[e, p] if net.arch == "lcn" else layer.weight[e]
                    columns.append(patch @ weight / math.sqrt(c_in) + 0.1 * layer.bias[e, p])
                pre = torch.stack(columns, dim=-1)
            h = torch.relu(pre)
        out.append(h[:, :, 0] @ net.readout[e] / net.width)
    return torch.stack(out)


@pytest.mark.parametrize("arch", HIERARCHICAL)
def test_matches_naive_reference(arch):
    net = build_model(arch, v=3, n_classes=4, s=2, s0=1, L=3, width=5, init_seeds=(0, 1))  # d = 64
    x = inputs(2, 3, 3, 64)
    with torch.no_grad():
        torch.testing.assert_close(net(x), reference_forward(net, x), rtol=1e-5, atol=1e-6)


def test_cnn_first_layer_is_strided_conv1d():
    """Independent check of the patch layout: CNN layer 1 == conv1d(kernel = stride = k) / sqrt(v) + 0.1 b."""
    net = build_model("cnn", **SMALL, width=6, init_seeds=(4,))
    x = inputs(1, 3, 3, 16)
    layer = net.layers[0]
    kernel = layer.weight[0].T.reshape(6, 4, 3).transpose(1, 2)  # [C_out, k*C_in] -> [C_out, C_in, k]
    expected = F.conv1d(x[0], kernel, stride=4) / math.sqrt(3) + 0.1 * layer.bias[0].T
    with torch.no_grad():
        torch.testing.assert_close(net.activations(x)["layer1"][0], torch.relu(expected), rtol=1e-5, atol=1e-6)


def test_cnn_equals_lcn_with_tied_weights():
    cnn = build_model("cnn", **SMALL, width=6, init_seeds=(1, 2))
    lcn = build_model("lcn", **SMALL, width=6, init_seeds=(8, 9))
    with torch.no_grad():
        for lcn_layer, cnn_layer in zip(lcn.layers, cnn.layers):
            lcn_layer.weight.copy_(cnn_layer.weight[:, None].expand_as(lcn_layer.weight))
            lcn_layer.bias.copy_(cnn_layer.bias)
        lcn.readout.copy_(cnn.readout)
        x = inputs(2, 5, 3, 16)
        torch.testing.assert_close(lcn(x), cnn(x), rtol=1e-5, atol=1e-6)
        assert not torch.allclose(lcn(x)[0], lcn(x)[1])


def predicted_logit_variance(arch: str, x: torch.Tensor, *, k: int, L: int, width: int, bias: bool) -> float:
    """Exact E_init[f^2] for one input x [v, d]: f = h_L . beta / H with beta ~ N(0, 1) gives
    E[f^2] = E[|h_L|^2] / H^2 = q_L / (2H), where q_l is the pre-activation variance at layer l:
    q_1 = |x_patch|^2 / v + 0.01 b, and q_l = sum over the inputs of a unit of q_{l-1} / 2 + 0.01 b
    (E relu(z)^2 = q/2, weights N(0,1) over sqrt(C_in), bias 0.1 N(0,1)); the FCN's units see all inputs."""
    shift = 0.01 if bias else 0.0
    v = x.shape[0]
    column_norms = x.pow(2).sum(0).double()  # [d]
    if arch == "fcn":
        q = column_norms.sum() / v + shift
        for layer in range(2, L + 1):
            q = k ** (L - layer + 1) * q / 2 + shift
    else:
        q = column_norms.view(-1, k).sum(1) / v + shift
        for _ in range(2, L + 1):
            q = q.view(-1, k).sum(1) / 2 + shift
    return float(q.sum()) / (2 * width)


@pytest.mark.parametrize("arch", HIERARCHICAL)
@pytest.mark.parametrize("bias", [True, False])
def test_initial_logits_have_mean_field_scale(arch, bias):
    """Across 500 members, Var(logit) = q_L / (2H): std ~ 1/sqrt(H), not O(1) as in the standard scaling."""
    n_members, width = 500, 16
    net = build_model(arch, **SMALL, width=width, init_seeds=tuple(range(n_members)), bias=bias)
    x = inputs(1, 1, 3, 16, seed=3)[0, 0]
    with torch.no_grad():
        logits = net(x.expand(n_members, 1, -1, -1))
    predicted = predicted_logit_variance(arch, x, k=4, L=2, width=width, bias=bias)
    assert abs(logits.mean().item()) < 4 * math.sqrt(predicted / n_members)
    assert logits.pow(2).mean().item() == pytest.approx(predicted, rel=0.15)


def test_default_widths():
    assert default_width("lcn", 2) == default_width("cnn", 3) == 512
    assert default_width("fcn", 2) == 512 and default_width("fcn", 3) == 256
    assert all(default_width(arch, 2) is None for arch in COMMON)
    assert build_model("fcn", v=3, n_classes=3, s=2, s0=0, L=3).width == 256


def test_initialisation_is_deterministic_and_leaves_global_rng_alone():
    state = torch.get_rng_state()
    first = build_model("lcn", **SMALL, width=4, init_seeds=(2, 3)).state_dict()
    second = build_model("lcn", **SMALL, width=4, init_seeds=(2, 3)).state_dict()
    vgg = build_model("vgg11", **PAPER_INSTANCE, init_seeds=(2,)).state_dict()
    vgg_again = build_model("vgg11", **PAPER_INSTANCE, init_seeds=(2,)).state_dict()
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(first[name], second[name]) for name in first)
    assert all(torch.equal(vgg[name], vgg_again[name]) for name in vgg)
    other = build_model("vgg11", **PAPER_INSTANCE, init_seeds=(3,)).state_dict()
    assert not torch.equal(vgg["body.features.0.weight"], other["body.features.0.weight"])


@pytest.fixture(scope="module")
def common_nets():
    return {arch: build_model(arch, **PAPER_INSTANCE, init_seeds=(0,)).eval() for arch in COMMON}


VGG_RELU_NODES = {  # the authors' stabs.py node indices
    "vgg11": [2, 6, 10, 13, 17, 20, 24, 27],
    "vgg16": [2, 5, 9, 12, 16, 19, 22, 26, 29, 32, 36, 39, 42],
}
HIDDEN_COUNTS = {"vgg11": 8, "vgg16": 13, "resnet18": 1 + 2 * 8, "resnet34": 1 + 2 * 16, "efficientnetb0": 64}


@pytest.mark.parametrize("arch", COMMON)
def test_common_net_api(arch, common_nets):
    net = common_nets[arch]
    x = inputs(1, 4, 10, 36)
    with torch.no_grad():
        logits = net(x)
        acts = net.activations(x, members=torch.tensor([0]))
    assert net.n_members == 1 and logits.shape == (1, 4, 10)
    assert len(net.hidden_layers) == HIDDEN_COUNTS[arch] >= 3
    assert list(acts) == [*net.hidden_layers, "output"]
    assert all(a.shape[:2] == (1, 4) for a in acts.values())
    torch.testing.assert_close(acts["output"], logits)
    for fraction in (0.2, 0.5, 0.8):
        assert net.layer_at_depth(fraction) == net.hidden_layers[int(len(net.hidden_layers) * fraction)]
    if arch in VGG_RELU_NODES:
        assert list(net.hidden_layers) == [f"features.{i}" for i in VGG_RELU_NODES[arch]]


@pytest.mark.parametrize("arch", COMMON)
def test_common_hidden_layers_are_in_execution_order(arch, common_nets):
    net = common_nets[arch]
    called = []
    handles = [module.register_forward_hook(lambda m, i, o, name=name: called.append(name))
               for name, module in net.body.named_modules() if name in net.hidden_layers]
    with torch.no_grad():
        net(inputs(1, 2, 10, 36))
    for handle in handles:
        handle.remove()
    assert called == list(net.hidden_layers)


def test_common_activations_add_no_hooks_to_plain_forward(common_nets):
    net = common_nets["resnet18"]
    with torch.no_grad():
        net.activations(inputs(1, 2, 10, 36))
    assert all(not module._forward_hooks for module in net.modules())


def test_layer_at_depth_for_hierarchical_nets():
    net = build_model("lcn", v=3, n_classes=3, s=2, s0=0, L=5, width=4)
    assert [net.layer_at_depth(f) for f in (0.2, 0.5, 0.8)] == ["layer2", "layer3", "layer5"]
    for fraction in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match="fraction"):
            net.layer_at_depth(fraction)


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(arch="mlp"), "arch"),
     (dict(arch="vgg16", init_seeds=(0, 1)), "init_seeds"),
     (dict(arch="resnet18", width=64), "width"),
     (dict(arch="efficientnetb0", bias=False), "bias"),
     (dict(arch="lcn", init_seeds=()), "init_seeds"),
     (dict(arch="lcn", init_seeds=(0, -1)), "init_seeds"),
     (dict(arch="cnn", s0=-1), "s0"),
     (dict(arch="fcn", L=0), "L"),
     (dict(arch="lcn", width=0), "width"),
     (dict(arch="lcn", n_classes=1), "n_classes"),
     (dict(arch="vgg11", s0=1), "d must be >= 32"),  # d = 16
     (dict(arch="resnet34", s0=1), "d must be >= 25")],
)
def test_bad_arguments_raise(kwargs, match):
    params = {**PAPER_INSTANCE, **kwargs}
    arch = params.pop("arch")
    with pytest.raises(ValueError, match=match):
        build_model(arch, **params)


def test_bad_inputs_and_members_raise():
    net = build_model("lcn", **SMALL, width=4, init_seeds=(0, 1))
    with pytest.raises(ValueError, match=r"d=16"):
        net(inputs(2, 3, 3, 36))
    with pytest.raises(ValueError, match=r"v=3"):
        net(inputs(2, 3, 4, 16))
    with pytest.raises(ValueError, match="members=1"):
        net(inputs(2, 3, 3, 16), members=torch.tensor([1]))
    with pytest.raises(ValueError, match="members"):
        net(inputs(1, 3, 3, 16), members=torch.tensor([2]))
    with pytest.raises(ValueError, match="repeat"):
        net(inputs(2, 3, 3, 16), members=torch.tensor([1, 1]))
    with pytest.raises(ValueError, match="members"):
        net(inputs(1, 3, 3, 16), members=torch.tensor([0.0]))
    with pytest.raises(ValueError, match="member index"):
        net.member_state_dict(2)
    vgg = build_model("vgg11", **PAPER_INSTANCE)
    with pytest.raises(ValueError, match="members"):
        vgg(inputs(1, 2, 10, 36), members=torch.tensor([1]))


@pytest.mark.parametrize("c_in, c_out, length, kernel, stride, padding, bias", [
    (10, 64, 36, 3, 1, 1, True), (512, 512, 2, 3, 1, 1, True), (64, 128, 9, 3, 2, 1, False),
    (64, 128, 9, 1, 2, 0, False), (3, 5, 1, 3, 1, 1, True)])
def test_conv1d_as_one_product_equals_torch_conv1d(c_in, c_out, length, kernel, stride, padding, bias):
    """srhm.models.conv.Conv1d (the CPU forward as unfold + matrix product) gives nn.Conv1d's outputs and
    gradients, with the same parameters and state dict."""
    torch.manual_seed(0)
    mine = Conv1d(c_in, c_out, kernel, stride=stride, padding=padding, bias=bias)
    reference = nn.Conv1d(c_in, c_out, kernel, stride=stride, padding=padding, bias=bias)
    reference.load_state_dict(mine.state_dict())
    x = torch.randn(4, c_in, length, requires_grad=True)
    ours, theirs = mine(x), reference(x)
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4)
    assert ours.shape == theirs.shape and ours.is_contiguous()
    grad_out = torch.randn_like(theirs)
    grads = torch.autograd.grad(ours, [x, *mine.parameters()], grad_out)
    expected = torch.autograd.grad(theirs, [x, *reference.parameters()], grad_out)
    for got, want in zip(grads, expected):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
