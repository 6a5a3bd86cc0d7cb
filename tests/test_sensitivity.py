"""Sensitivities S_{k,l}, D_{k,l}: analytic invariances, the O(N) pair identity, brute-force agreement,
chunk and member independence, undefined cases, the table layouts and argument checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from srhm.data import SRHM
from srhm.models import build_model
from srhm.sensitivity import (
    CONSTANT_LAYER_NOTE,
    NO_DIFFEO_NOTE,
    NO_SYNONYM_NOTE,
    chunk_size_for,
    mean_pair_distance,
    measure_sensitivities,
)
from srhm.sensitivity_table import TABLE_COLUMNS, wide_sensitivities

HIERARCHICAL = ("lcn", "cnn", "fcn")
SMALL = dict(v=4, n_classes=4, m=4, s=2, L=2, s0=1)  # d = 16, P_max = 4 (4 * 4)^3
N_PROBE = 200


def small_dataset(**changes) -> SRHM:
    return SRHM(**{**SMALL, **changes})


def small_net(arch: str, ds: SRHM, init_seeds=(0,), width: int = 32):
    return build_model(arch, v=ds.v, n_classes=ds.n_classes, s=ds.s, s0=ds.s0, L=ds.L, width=width,
                       init_seeds=init_seeds)


def rows(table: pd.DataFrame, **where) -> pd.DataFrame:
    mask = np.ones(len(table), dtype=bool)
    for column, value in where.items():
        mask &= (table[column] == value).to_numpy()
    return table[mask]


def brute_force(net, ds, probe, *, seed=0, distinct=False, encoding="whitened"):
    """Per layer: base activations [E, N, F] and {(kind, level): per-point a_i [E, N]}, from one full batch."""
    copies = {("S", l): ds.resample(probe, "synonym", l, seed=seed, distinct=distinct) for l in range(1, ds.L + 1)}
    copies |= {("D", l): ds.resample(probe, "diffeo", l, seed=seed, distinct=distinct) for l in range(1, ds.L + 1)}

    def flat_activations(batch):
        x = ds.encode(batch.x, encoding)
        with torch.no_grad():
            acts = net.activations(x.expand(net.n_members, *x.shape))
        return {layer: f.flatten(2).double() for layer, f in acts.items()}

    base = flat_activations(probe)
    transformed = {key: flat_activations(batch) for key, batch in copies.items()}
    distances = {layer: {key: (transformed[key][layer] - f).pow(2).sum(-1) for key in copies}
                 for layer, f in base.items()}
    return base, distances


# ---- the pair identity ----------------------------------------------------------------------------------------
def test_mean_pair_distance_equals_brute_force_pair_average():
    points = torch.randn(3, 57, 9, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 3 + 1
    n = points.shape[1]
    squared = torch.cdist(points, points).pow(2)  # [E, N, N], diagonal zero
    spreads = (points - points.mean(1, keepdim=True)).pow(2).sum(-1).mean(1).tolist()
    all_pairs = (squared.sum((1, 2)) / n**2).tolist()
    off_diagonal = (squared.sum((1, 2)) / (n * (n - 1))).tolist()
    np.testing.assert_allclose([mean_pair_distance(spread, n) for spread in spreads], all_pairs, rtol=1e-12)
    np.testing.assert_allclose([mean_pair_distance(spread, n, "off_diagonal") for spread in spreads], off_diagonal,
                               rtol=1e-12)
    np.testing.assert_allclose(np.divide(off_diagonal, all_pairs), n / (n - 1), rtol=1e-12)


@pytest.mark.parametrize("arch", HIERARCHICAL)
@pytest.mark.parametrize("distinct", [False, True])
def test_table_equals_brute_force_on_full_batches(arch, distinct):
    """Numerator, denominator (both conventions) and stderr against per-point quantities from full batches."""
    ds = small_dataset()
    probe = ds.sample(N_PROBE, seed=1)
    net = small_net(arch, ds, init_seeds=(0, 1))
    table = measure_sensitivities(net, ds, probe, seed=3, distinct=distinct, chunk_size=64)
    off_diagonal = measure_sensitivities(net, ds, probe, seed=3, distinct=distinct, pairs="off_diagonal")
    base, distances = brute_force(net, ds, probe, seed=3, distinct=distinct)
    n = N_PROBE
    for layer, f in base.items():
        b = (f - f.mean(1, keepdim=True)).pow(2).sum(-1)  # [E, N]
        pairs = torch.cdist(f, f).pow(2).sum((1, 2))
        for (kind, level), a in distances[layer].items():
            got = rows(table, layer=layer, kind=kind, level=level).sort_values("member")
            got_unbiased = rows(off_diagonal, layer=layer, kind=kind, level=level).sort_values("member")
            np.testing.assert_allclose(got["denominator"], pairs / n**2, rtol=1e-6)
            np.testing.assert_allclose(got_unbiased["denominator"], pairs / (n * (n - 1)), rtol=1e-6)
            np.testing.assert_allclose(got["numerator"], a.mean(1), rtol=1e-6)
            r = (a.mean(1) / b.mean(1)).tolist()
            covariances = [torch.cov(torch.stack([a[e], b[e]])).tolist() for e in range(len(a))]
            expected = [((v[0][0] - 2 * r[e] * v[0][1] + r[e] ** 2 * v[1][1]) / n) ** 0.5 / (2 * float(b[e].mean()))
                        for e, v in enumerate(covariances)]
            np.testing.assert_allclose(got["stderr"], expected, rtol=1e-5)
            np.testing.assert_allclose(got["value"], got["numerator"] / got["denominator"], rtol=1e-12)


# ---- analytic invariances -------------------------------------------------------------------------------------
def tie_subpatch_weights(net, s0: int) -> None:
    """Make every first-layer weight equal across the s0+1 slots of each sub-patch.

    The first layer's input index is j * C + c (position j of the patch, or of the whole input for the FCN;
    both of a length that is a multiple of s0+1), and the sub-patches are aligned runs of s0+1 consecutive
    positions, so the layer sees each sub-patch only through its sum over slots: exactly invariant to moving
    an element inside its sub-patch (level-1 diffeo).
    """
    with torch.no_grad():
        weight = net.layers[0].weight
        grouped = weight.unflatten(-2, (-1, s0 + 1, net.v))  # [..., n / (s0+1), s0+1, C, C_out]
        weight.copy_(grouped[..., :1, :, :].expand_as(grouped).flatten(-4, -2))


@pytest.mark.parametrize("arch", HIERARCHICAL)
@pytest.mark.parametrize("encoding", ["whitened", "zeros"])
def test_subpatch_summing_net_is_blind_to_level_one_diffeos(arch, encoding):
    ds = small_dataset(s0=2)
    net = small_net(arch, ds)
    tie_subpatch_weights(net, ds.s0)
    table = measure_sensitivities(net, ds, ds.sample(N_PROBE, seed=2), encoding=encoding)
    assert (rows(table, kind="D", level=1)["value"] < 1e-10).all()  # every layer, output included
    assert (rows(table, kind="D", level=2)["value"] > 0.05).all()  # level 2 moves whole patches
    assert (rows(table, kind="S")["value"] > 0.05).all()


def synonym_blind_lcn(ds: SRHM):
    """An LCN (s0 = 0, "zeros" encoding) whose second layer depends on the level-1 features only.

    Layer 1 has one channel per s-tuple t: ReLU(sum_j [x_j = t_j] - (s-1)), the indicator of t at its patch.
    Layer 2 weighs tuple t at child slot j by G[parent(t), j], so it sees the parents of the input tuples
    and nothing else: exactly invariant to level-1 synonym exchanges.
    """
    v, s, width = ds.v, ds.s, ds.v**ds.s
    net = small_net("lcn", ds, width=width)
    tuples = (np.arange(width)[:, None] // v ** np.arange(s - 1, -1, -1)) % v  # [width, s], most significant first
    parent = np.zeros(width, dtype=np.int64)
    lowest_rules = ds.rules[-1]  # [v, m, s]: level-1 feature -> its m tuples
    for feature in range(v):
        parent[[int(np.ravel_multi_index(tuple(t), (v,) * s)) for t in lowest_rules[feature]]] = feature
    with torch.no_grad():
        first, second = net.layers
        match = torch.zeros(s, v, width)  # input index (slot j, channel c), position-major -> tuple channel
        match[np.arange(s)[None, :], tuples, np.arange(width)[:, None]] = 1.0
        first.weight.copy_((match.reshape(s * v, width) * v**0.5).expand_as(first.weight))
        first.bias.fill_(-(s - 1) / 0.1)
        g = torch.randn(v, s, width, generator=torch.Generator().manual_seed(0))
        second_weight = g[torch.as_tensor(parent)].transpose(0, 1)  # [slot j, tuple channel, out]
        second.weight.copy_(second_weight.reshape(s * width, width).expand_as(second.weight))
    return net


def test_parent_reading_net_is_blind_to_level_one_synonyms():
    ds = small_dataset(s0=0)
    net = synonym_blind_lcn(ds)
    wide = wide_sensitivities(measure_sensitivities(net, ds, ds.sample(N_PROBE, seed=2), encoding="zeros"))
    assert wide.loc[0, "S_1_1"] > 0.05  # layer 1 sees the tuples themselves
    assert wide.loc[0, "S_2_1"] < 1e-10 and wide.loc[0, "S_out_1"] < 1e-10
    assert wide.loc[0, "S_2_2"] > 0.05 and wide.loc[0, "S_out_2"] > 0.05  # level 2 changes the parents


@pytest.mark.parametrize("arch", HIERARCHICAL)
def test_random_network_sensitivities_are_of_order_one(arch):
    ds = small_dataset()
    table = measure_sensitivities(small_net(arch, ds, init_seeds=(0, 1)), ds, ds.sample(N_PROBE, seed=2))
    layer1 = rows(table, layer="layer1")["value"]
    assert ((layer1 > 0.05) & (layer1 < 3)).all()
    assert (table["note"] == "").all() and np.isfinite(table["stderr"]).all()


def test_stderr_matches_spread_over_independent_probe_sets():
    """Pooled over the 12 entries, the variance of the values over 30 disjoint probe sets and resample seeds
    matches the mean squared stderr."""
    ds = small_dataset(v=6, n_classes=6, m=6)
    net = small_net("lcn", ds)
    pool = ds.sample(30 * N_PROBE, seed=5)
    tables = [measure_sensitivities(net, ds, pool[i * N_PROBE:(i + 1) * N_PROBE], seed=i) for i in range(30)]
    values = np.stack([t["value"] for t in tables])
    stderrs = np.stack([t["stderr"] for t in tables])
    pooled = values.var(0, ddof=1).mean() / (stderrs**2).mean()
    assert 0.7 < pooled < 1.4


# ---- bookkeeping: chunks, members, seeds, levels ----------------------------------------------------------------
@pytest.mark.parametrize("arch", HIERARCHICAL)
def test_chunk_size_does_not_change_the_result(arch):
    ds = small_dataset()
    probe = ds.sample(N_PROBE, seed=1)
    net = small_net(arch, ds, init_seeds=(0, 1))
    whole = measure_sensitivities(net, ds, probe, chunk_size=N_PROBE)
    chunked = measure_sensitivities(net, ds, probe, chunk_size=7)
    pd.testing.assert_frame_equal(whole, chunked, rtol=1e-5, atol=0)


def test_chunk_size_for_holds_the_activations_of_a_pass_within_the_bound():
    ds = small_dataset()
    probe = ds.sample(N_PROBE, seed=1)
    net = small_net("cnn", ds, init_seeds=(0, 1, 2))
    x = ds.encode(probe.x[:1])
    with torch.no_grad():
        per_input = sum(f.numel() * f.element_size() for f in net.activations(x.expand(3, *x.shape)).values())
    per_point = per_input * (1 + 2 * ds.L)  # the base point and its S and D copies at every level
    assert chunk_size_for(net, ds, probe, pass_bytes=7 * per_point) == 7
    assert chunk_size_for(net, ds, probe, pass_bytes=8 * per_point - 1) == 7
    assert chunk_size_for(net, ds, probe, pass_bytes=1) == 1  # never fewer than one point
    assert chunk_size_for(net, ds, probe, pass_bytes=10**12) == N_PROBE  # never more than the probe
    wider = small_net("cnn", ds, init_seeds=(0, 1, 2), width=64)
    assert chunk_size_for(wider, ds, probe, pass_bytes=7 * per_point) < 7  # wider activations, fewer points
    with pytest.raises(ValueError, match="pass_bytes"):
        chunk_size_for(net, ds, probe, pass_bytes=0)


@pytest.mark.parametrize("arch", HIERARCHICAL)
def test_members_together_equal_members_one_at_a_time(arch):
    ds = small_dataset()
    probe = ds.sample(N_PROBE, seed=1)
    net = small_net(arch, ds, init_seeds=(4, 5, 6))
    together = measure_sensitivities(net, ds, probe)
    alone = pd.concat([measure_sensitivities(net, ds, probe, members=[e]) for e in range(3)], ignore_index=True)
    pd.testing.assert_frame_equal(together, alone, rtol=1e-5, atol=0)
    subset = measure_sensitivities(net, ds, probe, members=[2, 0])
    assert subset["member"].unique().tolist() == [2, 0]
    expected = pd.concat([rows(together, member=2), rows(together, member=0)], ignore_index=True)
    pd.testing.assert_frame_equal(subset, expected, rtol=1e-5, atol=0)


def test_deterministic_given_seed_and_levels_measured_independently():
    ds = small_dataset()
    probe = ds.sample(N_PROBE, seed=1)
    net = small_net("lcn", ds)
    first = measure_sensitivities(net, ds, probe, seed=7)
    pd.testing.assert_frame_equal(first, measure_sensitivities(net, ds, probe, seed=7))
    assert not np.allclose(first["value"], measure_sensitivities(net, ds, probe, seed=8)["value"])
    level_two = measure_sensitivities(net, ds, probe, seed=7, levels=[2])
    assert level_two["level"].unique().tolist() == [2]
    pd.testing.assert_frame_equal(level_two, rows(first, level=2).reset_index(drop=True), rtol=1e-5, atol=0)


def test_eval_mode_is_used_and_every_training_flag_restored():
    """A BatchNorm net measured in train mode gives its eval-mode result, and keeps its (mixed) flags."""
    ds = SRHM(v=4, n_classes=4, m=4, s=2, L=2, s0=2)  # d = 36 >= 32, as VGG needs
    net = build_model("vgg11", v=4, n_classes=4, s=2, s0=2, L=2)
    probe = ds.sample(40, seed=1)
    evaluated = measure_sensitivities(net.eval(), ds, probe, levels=[1])
    net.train()
    net.body.features[1].eval()
    flags = [module.training for module in net.modules()]
    measured = measure_sensitivities(net, ds, probe, levels=[1], chunk_size=13)
    assert [module.training for module in net.modules()] == flags
    assert all(parameter.grad is None for parameter in net.parameters())
    pd.testing.assert_frame_equal(evaluated, measured, rtol=1e-4, atol=0)
    assert len(measured) == (len(net.hidden_layers) + 1) * 2


# ---- undefined cases ---------------------------------------------------------------------------------------------
def test_no_diffeomorphism_without_empty_slots():
    ds = small_dataset(s0=0)
    table = measure_sensitivities(small_net("cnn", ds), ds, ds.sample(N_PROBE, seed=1))
    diffeo = rows(table, kind="D")
    assert diffeo["value"].isna().all() and diffeo["stderr"].isna().all() and diffeo["numerator"].isna().all()
    assert (diffeo["note"] == NO_DIFFEO_NOTE).all()
    synonym = rows(table, kind="S")
    assert np.isfinite(synonym["value"]).all() and (synonym["value"] > 0.05).all() and (synonym["note"] == "").all()


def test_no_synonym_exchange_with_one_rule_per_feature():
    ds = small_dataset(m=1)
    table = measure_sensitivities(small_net("lcn", ds), ds, ds.sample(N_PROBE, seed=1))
    assert rows(table, kind="S")["value"].isna().all() and (rows(table, kind="S")["note"] == NO_SYNONYM_NOTE).all()
    assert np.isfinite(rows(table, kind="D")["value"]).all()


def test_constant_layers_give_nan_not_zero():
    """Layer 1 dead (zero weights, negative bias): every layer is constant over the probe set."""
    ds = small_dataset()
    net = small_net("lcn", ds)
    with torch.no_grad():
        net.layers[0].weight.zero_()
        net.layers[0].bias.fill_(-1.0)
    table = measure_sensitivities(net, ds, ds.sample(N_PROBE, seed=1))
    assert table["value"].isna().all() and (table["note"] == CONSTANT_LAYER_NOTE).all()


# ---- table layouts ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("arch", HIERARCHICAL)
@pytest.mark.parametrize("L", [2, 3])
def test_tidy_table_layout(arch, L):
    ds = small_dataset(L=L, s0=0 if L == 3 else 1)
    net = small_net(arch, ds, init_seeds=(0, 1), width=16)
    table = measure_sensitivities(net, ds, ds.sample(64, seed=1))
    assert list(table.columns) == list(TABLE_COLUMNS)
    assert len(table) == (L + 1) * L * 2 * 2
    assert len(table.drop_duplicates(["member", "layer", "level", "kind"])) == len(table)
    assert dict(zip(table["layer"], table["layer_index"])) == {
        **{f"layer{k}": k for k in range(1, L + 1)}, "output": L + 1}
    assert set(table["level"]) == set(range(1, L + 1)) and set(table["kind"]) == {"S", "D"}
    assert (table["n_probe"] == 64).all()


def test_wide_columns_name_layer_and_level():
    ds = small_dataset()
    table = measure_sensitivities(small_net("lcn", ds, init_seeds=(0, 1)), ds, ds.sample(N_PROBE, seed=1))
    wide = wide_sensitivities(table, with_stderr=True)
    labels = [f"{kind}_{k}_{l}" for kind in "SD" for k in ("1", "2", "out") for l in (1, 2)]
    assert list(wide.columns) == labels + [f"{label}_stderr" for label in labels]
    assert wide.index.tolist() == [0, 1]
    expected = rows(table, member=1, layer="layer2", level=1, kind="D").iloc[0]
    assert wide.loc[1, "D_2_1"] == expected["value"] and wide.loc[1, "D_2_1_stderr"] == expected["stderr"]
    assert wide.loc[0, "S_out_2"] == rows(table, member=0, layer="output", level=2, kind="S")["value"].iloc[0]
    with pytest.raises(ValueError, match="lacks the columns"):
        wide_sensitivities(table.drop(columns="kind"))


# ---- argument checks ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "changes, match",
    [(dict(chunk_size=0), "chunk_size"), (dict(chunk_size=2.5), "chunk_size"), (dict(seed=-1), "seed"),
     (dict(levels=[0]), "levels"), (dict(levels=[3]), "levels"), (dict(levels=[1, 1]), "levels"),
     (dict(levels=[]), "levels"), (dict(levels="1"), "levels"), (dict(encoding="onehot"), "encoding"),
     (dict(pairs="both"), "pairs"), (dict(distinct=1), "distinct"), (dict(members=[2]), "members")],
)
def test_bad_arguments_raise(changes, match):
    ds = small_dataset()
    with pytest.raises(ValueError, match=match):
        measure_sensitivities(small_net("lcn", ds, init_seeds=(0, 1)), ds, ds.sample(8, seed=1), **changes)


def test_mismatched_inputs_raise():
    ds = small_dataset()
    net = small_net("lcn", ds)
    with pytest.raises(ValueError, match="at least 2 samples"):
        measure_sensitivities(net, ds, ds.sample(1, seed=1))
    other = small_dataset(s0=0)
    with pytest.raises(ValueError, match="probe must be samples"):
        measure_sensitivities(net, ds, other.sample(8, seed=1))
    with pytest.raises(ValueError, match="does not match the dataset"):
        measure_sensitivities(small_net("lcn", other), ds, ds.sample(8, seed=1))
    with pytest.raises(ValueError, match="pairs"):
        mean_pair_distance(1.0, 10, "diagonal")
