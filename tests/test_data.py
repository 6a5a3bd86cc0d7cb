"""Properties of the SRHM generator: structure, uniformity, distinctness, resampling, encoding."""

import hashlib
import itertools
import math

import numpy as np
import pytest
import torch
from scipy import stats

from srhm import EMPTY, SRHM, Batch
from srhm.paths import pool_dataset, pool_stem

SMALL = dict(v=3, n_classes=3, m=3, s=2, L=2, s0=1)


def parse(ds: SRHM, x: np.ndarray) -> list[np.ndarray]:
    """Reference bottom-up parser, independent of the generator.

    Returns the informative features at every depth, deepest first: out[0] are the input symbols in
    reading order [n, s**L], out[L] the recovered labels [n, 1]. Fails an assertion wherever the
    input breaks the grammar or the sparsity rule.
    """
    n, s, patch = len(x), ds.s, ds.patch
    current = x.astype(np.int64)
    out = [x[x >= 0].reshape(n, -1).astype(np.int64)]
    for g in reversed(range(ds.L)):
        patches = current.reshape(n, -1, patch)
        informative = patches >= 0
        counts = informative.sum(-1)
        assert np.isin(counts, (0, s)).all(), "a patch must hold 0 or s informative children"
        if ds.sparsity == "A":
            per_subpatch = informative.reshape(n, -1, s, ds.s0 + 1).sum(-1)
            assert (per_subpatch[counts == s] == 1).all(), "sparsity A: one informative child per sub-patch"
        order = np.argsort(~informative, axis=-1, kind="stable")[..., :s]
        children = np.take_along_axis(patches, order, axis=-1)  # [n, patches, s], reading order
        code = (children * ds.v ** np.arange(s - 1, -1, -1)).sum(-1)
        n_parents = ds.n_classes if g == 0 else ds.v
        inverse = np.full(ds.v**s, -1)
        for parent in range(n_parents):
            for rule in ds.rules[g][parent]:
                inverse[(rule * ds.v ** np.arange(s - 1, -1, -1)).sum()] = parent
        parents = np.where(counts == s, inverse[np.where(counts == s, code, 0)], -1)
        assert (parents[counts == s] >= 0).all(), "every informative tuple must be a production of some parent"
        current = parents
        out.append(parents[parents >= 0].reshape(n, -1))
    return out


def row_set(x: np.ndarray) -> set[bytes]:
    return {row.tobytes() for row in x}


@pytest.mark.parametrize(
    "params",
    [
        dict(v=8, n_classes=8, m=8, s=2, L=3, s0=2, sparsity="A"),
        dict(v=6, n_classes=6, m=6, s=2, L=2, s0=1, sparsity="B"),
        dict(v=4, n_classes=4, m=16, s=3, L=2, s0=2, sparsity="A"),
        dict(v=5, n_classes=3, m=4, s=2, L=3, s0=0, sparsity="A"),
    ],
)
def test_structure_and_parse_recovers_label(params):
    ds = SRHM(**params, seed=3)
    b = ds.sample(2000, seed=1)
    assert ds.d == (ds.s * (ds.s0 + 1)) ** ds.L
    assert b.x.shape == (2000, ds.d) and b.x.dtype == np.int8
    assert len(ds.rules) == ds.L and ds.rules[0].shape == (ds.n_classes, ds.m, ds.s)
    assert all(r.shape == (ds.v, ds.m, ds.s) for r in ds.rules[1:])
    assert ((b.x >= EMPTY) & (b.x < ds.v)).all()
    assert ((b.x >= 0).sum(1) == ds.s**ds.L).all(), "exactly s**L informative positions"
    levels = parse(ds, b.x)
    np.testing.assert_array_equal(levels[-1][:, 0], b.y)


def test_grammar_is_unambiguous_and_uses_distinct_tuples():
    ds = SRHM(v=4, n_classes=4, m=4, s=2, L=3, seed=5)
    for rules in ds.rules:
        tuples = {tuple(t) for t in rules.reshape(-1, ds.s)}
        assert len(tuples) == rules.shape[0] * ds.m, "no tuple is owned twice"
    # maximal case m = v**(s-1), n_c = v: every tuple is used at every level
    assert all(len({tuple(t) for t in r.reshape(-1, 2)}) == 16 for r in ds.rules)


def test_sparsity_b_keeps_order_and_reaches_every_arrangement():
    ds = SRHM(v=4, n_classes=4, m=4, s=2, L=1, s0=1, sparsity="B", seed=0)
    b = ds.sample(ds.P_max, seed=0)
    patterns = {tuple(np.flatnonzero(row >= 0)) for row in b.x}
    assert patterns == set(itertools.combinations(range(4), 2))
    assert len(patterns) == math.comb(4, 2) == ds.n_arrangements
    parse(ds, b.x)  # order kept: every tuple read left to right is a production


@pytest.mark.parametrize("sparsity", ["A", "B"])
def test_enumeration_is_a_bijection(sparsity):
    ds = SRHM(v=2, n_classes=2, m=2, s=2, L=2, s0=1, sparsity=sparsity, seed=1)
    expected = ds.n_classes * (ds.m * (4 if sparsity == "A" else 6)) ** 3
    assert ds.P_max == expected
    everything = ds.decode(np.arange(ds.P_max))
    assert len(row_set(everything.x)) == ds.P_max
    drawn = ds.sample(ds.P_max, seed=4)
    assert row_set(drawn.x) == row_set(everything.x)
    with pytest.raises(ValueError, match="exceeds P_max"):
        ds.sample(ds.P_max + 1, seed=0)


def test_sampling_beyond_int64_is_distinct_and_valid():
    ds = SRHM(v=4, n_classes=4, m=16, s=3, L=3, s0=1, seed=2)
    assert ds.P_max > 2**63
    b = ds.sample(3000, seed=0)
    assert len(row_set(b.x)) == 3000
    np.testing.assert_array_equal(parse(ds, b.x)[-1][:, 0], b.y)
    assert stats.chisquare(np.bincount(b.y, minlength=4)).pvalue > 1e-3


def test_classes_and_positions_are_uniform():
    ds = SRHM(v=6, n_classes=6, m=6, s=2, L=2, s0=2, sparsity="A", seed=0)
    b = ds.sample(30000, seed=7)
    assert stats.chisquare(np.bincount(b.y, minlength=6)).pvalue > 1e-3
    # every input sub-patch that holds a symbol holds it at a uniform slot among s0+1
    sub = (b.x.reshape(len(b), -1, ds.s0 + 1) >= 0)
    slot = sub.argmax(-1)[sub.any(-1)]
    assert stats.chisquare(np.bincount(slot, minlength=3)).pvalue > 1e-3
    # top-level placement: which of the s*(s0+1) blocks of size d/patch are occupied
    blocks = (b.x.reshape(len(b), ds.patch, -1) >= 0).any(-1)
    pattern = blocks @ (2 ** np.arange(ds.patch))
    counts = np.unique(pattern, return_counts=True)[1]
    assert len(counts) == ds.n_arrangements and stats.chisquare(counts).pvalue > 1e-3

    dsb = SRHM(v=6, n_classes=6, m=6, s=2, L=2, s0=2, sparsity="B", seed=0)
    bb = dsb.sample(20000, seed=7)
    pattern = (bb.x.reshape(len(bb), dsb.patch, -1) >= 0).any(-1) @ (2 ** np.arange(dsb.patch))
    counts = np.unique(pattern, return_counts=True)[1]
    assert len(counts) == math.comb(6, 2) and stats.chisquare(counts).pvalue > 1e-3


@pytest.mark.parametrize("balanced", [False, True])
def test_pool_is_distinct_and_train_test_disjoint(balanced):
    """The test set is the pool's head, the training sets the nested prefixes of the rest."""
    ds = SRHM(v=4, n_classes=4, m=4, s=2, L=2, s0=1, seed=0)
    pool = ds.sample(12000, seed=3, balanced=balanced)  # 73 % of P_max = 16384: duplicates would be frequent
    assert len(row_set(pool.x)) == len(pool)
    test, train = pool[:3000], pool[3000:]
    assert not row_set(train.x) & row_set(test.x)
    assert row_set(train[:1000].x) <= row_set(train[:5000].x), "training sets are nested prefixes"


@pytest.mark.parametrize("balanced", [False, True])
@pytest.mark.parametrize("params", [dict(v=4, n_classes=4, m=4, s=2, L=2, s0=1), dict(v=4, n_classes=4, m=16, s=3, L=3, s0=1)])
def test_smaller_draw_is_a_prefix_of_a_larger_one(params, balanced):
    """So a pool grown for a larger P keeps every test head and training prefix of a smaller one."""
    ds = SRHM(**params, seed=0)
    big = ds.sample(70000 if ds.P_max > 10**6 else 9000, seed=3, balanced=balanced)  # several blocks of draws
    small = ds.sample(1234, seed=3, balanced=balanced)
    np.testing.assert_array_equal(small.x, big[:1234].x)
    np.testing.assert_array_equal(small.y, big[:1234].y)


@pytest.mark.parametrize("params", [dict(v=5, n_classes=5, m=5, s=2, L=2, s0=1),  # integer-index path
                                    dict(v=4, n_classes=3, m=16, s=3, L=3, s0=1)])  # digit-vector path (> 2**63)
def test_balanced_pools_cycle_through_the_classes(params):
    """Row i has class i mod n_c, so any window of k consecutive rows (the test head, every training prefix
    after it) holds floor(k/n_c) or ceil(k/n_c) of each class; rows are distinct and each class's rows
    are uniform among that class's samples."""
    ds = SRHM(**params, seed=1)
    pool = ds.sample(8003, seed=2, balanced=True)
    n_c = ds.n_classes
    np.testing.assert_array_equal(pool.y, np.arange(len(pool)) % n_c)
    np.testing.assert_array_equal(parse(ds, pool.x)[-1][:, 0], pool.y)
    assert len(row_set(pool.x)) == len(pool)
    for start, size in ((0, 1000), (1000, 7), (1000, 4001), (1003, 998)):
        counts = np.bincount(pool.y[start : start + size], minlength=n_c)
        assert counts.max() - counts.min() <= 1 and counts.sum() == size
        assert counts.min() == size // n_c
    # within class 0, the first rule choice of the top node is uniform over its m values
    first_choice = pool.choices[0][pool.y == 0, 0]
    assert stats.chisquare(np.bincount(first_choice, minlength=ds.m)).pvalue > 1e-3
    assert not np.array_equal(pool.x[:100], ds.sample(100, seed=2).x), "balanced and uniform are different draws"


def test_balanced_sampling_exhausts_small_models():
    ds = SRHM(v=3, n_classes=3, m=3, s=2, L=2, s0=0, seed=0)  # P_max = 3 * 3**3 = 81
    every = ds.sample(ds.P_max, seed=0, balanced=True)
    assert len(row_set(every.x)) == ds.P_max and len(ds.sample(0, seed=0, balanced=True)) == 0
    with pytest.raises(ValueError, match="exceeds P_max=81"):
        ds.sample(82, seed=0, balanced=True)


def digest(b: Batch) -> str:
    return hashlib.sha256(b.x.tobytes() + b.y.tobytes()).hexdigest()[:16]


def test_determinism_and_golden_checksums():
    a = SRHM(**SMALL, sparsity="B", seed=11).sample(500, seed=2)
    b = SRHM(**SMALL, sparsity="B", seed=11).sample(500, seed=2)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)
    c = SRHM(**SMALL, sparsity="B", seed=12).sample(500, seed=2)
    assert not np.array_equal(a.x, c.x), "the grammar seed changes the data"
    # pinned digests: the same seeds give bit-identical data on every machine, for both
    # sampling paths (integer indices below 2**63, rejection of repeated digits above)
    huge = SRHM(v=4, n_classes=4, m=16, s=3, L=3, s0=1, seed=0).sample(200, seed=1)
    assert (digest(a), digest(huge)) == ("5b3ae348433fc415", "3d19330ee1038492")


def informative_blocks(ds: SRHM, x: np.ndarray, block: int) -> np.ndarray:
    """[n, d/block] occupancy of consecutive blocks of `block` positions."""
    return (x.reshape(len(x), -1, block) >= 0).any(-1)


@pytest.mark.parametrize("sparsity", ["A", "B"])
@pytest.mark.parametrize("level", [1, 2, 3])
def test_synonym_exchange_keeps_placements_and_level_features(sparsity, level):
    ds = SRHM(v=4, n_classes=4, m=4, s=2, L=3, s0=1, sparsity=sparsity, seed=0)
    b = ds.sample(3000, seed=1)
    p = ds.resample(b, "synonym", level=level, seed=2)
    np.testing.assert_array_equal(p.y, b.y)
    np.testing.assert_array_equal(p.x >= 0, b.x >= 0)  # every placement kept
    before, after = parse(ds, b.x), parse(ds, p.x)
    np.testing.assert_array_equal(after[level], before[level])  # the level-l features kept
    changed = (after[level - 1] != before[level - 1]).any(1).mean()
    assert 0.3 < changed < 1.0, "uniform redraws change most samples, but may repeat the old value"


@pytest.mark.parametrize("sparsity", ["A", "B"])
@pytest.mark.parametrize("level", [1, 2])
def test_diffeo_keeps_rules_and_coarser_placements(sparsity, level):
    ds = SRHM(v=4, n_classes=4, m=4, s=2, L=3, s0=1, sparsity=sparsity, seed=0)
    b = ds.sample(3000, seed=1)
    t = ds.resample(b, "diffeo", level=level, seed=3)
    np.testing.assert_array_equal(t.y, b.y)
    for before, after in zip(parse(ds, b.x), parse(ds, t.x)):
        np.testing.assert_array_equal(after, before)  # every feature at every depth kept
    coarse = ds.patch**level
    np.testing.assert_array_equal(informative_blocks(ds, t.x, coarse), informative_blocks(ds, b.x, coarse))
    fine = ds.patch ** (level - 1)
    moved = (informative_blocks(ds, t.x, fine) != informative_blocks(ds, b.x, fine)).any(1).mean()
    assert moved > 0.5


def test_distinct_resampling_changes_every_redrawn_choice():
    ds = SRHM(v=4, n_classes=4, m=4, s=2, L=2, s0=1, seed=0)
    b = ds.sample(2000, seed=1)
    p = ds.resample(b, "synonym", level=1, seed=2, distinct=True)
    tuples_before = parse(ds, b.x)[0].reshape(len(b), -1, ds.s)
    tuples_after = parse(ds, p.x)[0].reshape(len(b), -1, ds.s)
    assert (tuples_before != tuples_after).any(-1).all(), "each input tuple replaced by another synonym"
    t = ds.resample(b, "diffeo", level=1, seed=2, distinct=True)
    assert all((new != old).all() for new, old in zip(t.arrangements[-1:], b.arrangements[-1:]))
    with pytest.raises(ValueError, match="s0 >= 1"):
        SRHM(v=4, n_classes=4, m=4, s=2, L=2, s0=0).resample(b[:0], "diffeo", level=1, seed=0, distinct=True)


def test_resample_streams_are_independent():
    ds = SRHM(v=4, n_classes=4, m=4, s=2, L=2, s0=1, seed=0)
    b = ds.sample(1000, seed=1)
    same = ds.resample(b, "synonym", level=1, seed=5)
    np.testing.assert_array_equal(same.x, ds.resample(b, "synonym", level=1, seed=5).x)
    assert not np.array_equal(same.x, ds.resample(b, "synonym", level=1, seed=6).x)
    syn, dif = ds.resample(b, "synonym", level=1, seed=5), ds.resample(b, "diffeo", level=1, seed=5)
    assert not np.array_equal(syn.choices[-1], dif.arrangements[-1] % ds.m), "purposes draw from different streams"


def test_encodings():
    ds = SRHM(v=5, n_classes=5, m=5, s=2, L=2, s0=1, seed=0)
    b = ds.sample(50, seed=0)
    zeros = ds.encode(b.x, encoding="zeros")
    assert zeros.shape == (50, 5, ds.d) and zeros.dtype == torch.float32
    np.testing.assert_array_equal(zeros.sum(1).numpy(), (b.x >= 0).astype(np.float32))
    np.testing.assert_array_equal(zeros.argmax(1).numpy()[b.x >= 0], b.x[b.x >= 0])
    white = ds.encode(b.x)  # "whitened" is the default
    a = 0.5  # (v-1)**-1/2 with v = 5
    informative = torch.as_tensor(b.x >= 0)
    empty_columns = white.permute(0, 2, 1)[~informative]
    assert torch.allclose(empty_columns, torch.full_like(empty_columns, -a))
    columns = white.permute(0, 2, 1)[informative]
    assert torch.allclose(columns.max(1).values, torch.ones(len(columns)))
    assert torch.allclose(columns.sum(1), torch.full((len(columns),), 1 - 4 * a))
    with pytest.raises(ValueError, match="encoding"):
        ds.encode(b.x, encoding="onehot")


def test_save_load_round_trip(tmp_path):
    ds = SRHM(**SMALL, seed=0)
    b = ds.sample(100, seed=0)
    path = tmp_path / "pool.npz"
    b.save(path, **ds.params)
    loaded, meta = Batch.load(path)
    np.testing.assert_array_equal(loaded.x, b.x)
    assert all(np.array_equal(p, q) for p, q in zip(loaded.choices + loaded.arrangements, b.choices + b.arrangements))
    assert meta["sparsity"] == "A" and int(meta["v"]) == 3
    assert [p.name for p in tmp_path.iterdir()] == ["pool.npz"], "no temporary file left behind"


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(SMALL, n_classes=2, m=4), r"m=4 must be <= v\*\*\(s-1\)"),
        (dict(SMALL, n_classes=4, m=3), r"n_classes\*m"),
        (dict(SMALL, s=1), r"s=1 must be an integer >= 2"),
        (dict(SMALL, s0=-1), r"s0=-1"),
        (dict(SMALL, v=2.5), r"v=2.5"),
        (dict(SMALL, sparsity="C"), r"sparsity='C'"),
        (dict(SMALL, seed=-3), r"seed=-3"),
    ],
)
def test_invalid_parameters_name_the_constraint(params, match):
    with pytest.raises(ValueError, match=match):
        SRHM(**params)


def test_invalid_calls_name_the_argument():
    ds = SRHM(**SMALL)
    b = ds.sample(10, seed=0)
    with pytest.raises(ValueError, match=r"level=3 must be an integer in 1..L=2"):
        ds.resample(b, "synonym", level=3, seed=0)
    with pytest.raises(ValueError, match=r"kind='swap'"):
        ds.resample(b, "swap", level=1, seed=0)
    with pytest.raises(ValueError, match=r"n=-1"):
        ds.sample(-1, seed=0)
    with pytest.raises(ValueError, match=r"seed keys must be non-negative"):
        ds.sample(1, seed=-1)


def test_pool_files_name_their_dataset_and_size():
    assert pool_stem("v4_nc4_m4_s2_L2_s01_A_seed0", 3000) == "v4_nc4_m4_s2_L2_s01_A_seed0_n3000"
    assert pool_dataset("results/data/balanced/v4_nc4_m4_s2_L2_s01_A_seed0_n3000.npz") == "v4_nc4_m4_s2_L2_s01_A_seed0"
    with pytest.raises(ValueError, match="is not named like"):
        pool_dataset("data/v4_nc4_m4_s2_L2_s01_A_seed0.npz")
