"""Sensitivities of a network's layers to synonym exchanges and discrete diffeomorphisms (paper Eqs. 6-7 and 13-14; the authors' stabs.py).

For layer k (every hidden layer, then "output") with flattened activations f_k and level l = 1..L:

    S_{k,l} = <||f_k(x) - f_k(P_l x)||^2>_{x, P_l} / <||f_k(x) - f_k(y)||^2>_{x, y}
    D_{k,l} = <||f_k(x) - f_k(tau_l x)||^2>_{x, tau_l} / <||f_k(x) - f_k(y)||^2>_{x, y}

P_l is a synonym exchange and tau_l a diffeomorphism at level l (`SRHM.resample`), x runs over a probe
set of N base samples and (x, y) over pairs of unperturbed probe points.

Denominator: the mean over pairs is computed in O(N) from the probe mean mu, never from an N x N matrix.
With Var_c the population variance of coordinate c over the N probe points,

    (1/N^2)      sum_{i, j}   ||f_i - f_j||^2 = 2 sum_c Var_c = (2/N) sum_i ||f_i - mu||^2   (pairs="all")
    (1/(N(N-1))) sum_{i != j} ||f_i - f_j||^2 = N/(N-1) times the above                    (pairs="off_diagonal")

pairs="all", the average over all N^2 pairs with the diagonal included, is the authors' convention
(stabs.py) and the default; the off-diagonal U-statistic is N/(N-1) times it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from numbers import Integral

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from srhm.checks import check_choice, check_int
from srhm.data import ENCODINGS, SRHM, Batch
from srhm.defaults import PASS_BYTES
from srhm.models import EnsembleNet
from srhm.sensitivity_table import KINDS, TABLE_COLUMNS

PAIRS = ("all", "off_diagonal")
CONSTANT_LAYER_TOLERANCE = 1e-12  # a pair distance <= this times the mean squared norm counts as zero
NO_SYNONYM_NOTE = "m=1: no synonym exchange"
NO_DIFFEO_NOTE = "s0=0: no diffeomorphism"
CONSTANT_LAYER_NOTE = "f_k constant over the probe set: no pair distance"


def mean_pair_distance(mean_spread: float, n: int, pairs: str = "all") -> float:
    """Mean of ||f_i - f_j||^2 over pairs of n points from their mean spread (1/n) sum_i ||f_i - mu||^2.

    pairs="all" (N^2 pairs, diagonal included): 2 * mean_spread; "off_diagonal": 2 * mean_spread * n/(n-1).
    """
    check_choice("pairs", pairs, PAIRS)
    return 2 * mean_spread * (1.0 if pairs == "all" else n / (n - 1))


class RunningCovariance:
    """Mean [E, K] and co-moment sum [E, K, K] of K statistics over points, merged block by block (Chan et al.).

    Merging centred blocks avoids the cancellation of sum(z z^T) - N mean mean^T; statistics are float64.
    """

    def __init__(self) -> None:
        self.count = 0
        self.mean: Tensor | None = None
        self.comoment: Tensor | None = None

    def update(self, block: Tensor) -> None:
        """Add a block [E, n, K] of n >= 1 points."""
        block = block.double()
        n = block.shape[1]
        block_mean = block.mean(1)
        centred = block - block_mean[:, None]
        block_comoment = centred.transpose(1, 2) @ centred
        if self.count == 0:
            self.count, self.mean, self.comoment = n, block_mean, block_comoment
            return
        total = self.count + n
        delta = block_mean - self.mean
        self.mean = self.mean + delta * (n / total)
        between = delta[:, :, None] * delta[:, None, :] * (self.count * n / total)
        self.comoment = self.comoment + block_comoment + between
        self.count = total

    def covariance(self) -> Tensor:
        """Unbiased covariance [E, K, K] (needs at least 2 points)."""
        return self.comoment / (self.count - 1)


def measure_sensitivities(net: EnsembleNet, ds: SRHM, probe: Batch, *, levels: Iterable[int] | int | None = None,
                          encoding: str = "whitened", chunk_size: int = 256, seed: int = 0, distinct: bool = False,
                          members: Sequence[int] | None = None, pairs: str = "all") -> pd.DataFrame:
    """S_{k,l} and D_{k,l} for every layer k, level l and member of `net`, as a tidy table.

    net: a network trained on `ds`; all selected `members` (default: all) are measured in the same passes,
    on the same probe points and the same transformed copies. probe: the N >= 2 base samples.
    levels: one level or a subset of 1..L (default all). encoding: the input encoding the net was trained on.
    chunk_size: probe points per forward pass, so memory is bounded whatever N. seed, distinct: passed
    to `SRHM.resample` (the transformed copies depend on them only). pairs: denominator convention.

    Two passes over the probe in chunks: the first evaluates the base points x to get each layer's
    probe mean mu; the second evaluates [x; P_l x for l in levels; tau_l x for l in levels] in one batch
    per chunk and accumulates, per point i, b_i = ||f(x_i) - mu||^2 and a_i = ||f(x_i) - f(T x_i)||^2
    for each transformation T. The net runs in eval mode under torch.no_grad (BatchNorm uses its
    running statistics); every module's training flag is restored afterwards.

    Returns one row per (member, layer, level, kind), columns TABLE_COLUMNS:
    member (index in net), layer (name), layer_index (1-based depth; the output is len(hidden_layers)+1),
    level, kind ("S" or "D"), numerator = mean_i a_i, denominator = mean_pair_distance(mean_i b_i, N, pairs),
    value = numerator / denominator, n_probe = N, and stderr, the delta-method standard error of the
    ratio over probe points: with r = mean(a) / mean(b) and sample (co)variances over points,
    stderr = sqrt((Var a - 2 r Cov(a, b) + r^2 Var b) / N) / denominator
    (the denominator's own fluctuation included; it matters for low-dimensional layers such as the output).
    value and stderr are NaN, with a reason in `note` (otherwise ""), when the transformation does not
    exist (D for s0 = 0, S for m = 1) or when f_k takes the same value on every probe point.
    """
    levels = _check_levels(levels, ds.L)
    check_choice("encoding", encoding, ENCODINGS)
    check_choice("pairs", pairs, PAIRS)
    chunk_size = check_int("chunk_size", chunk_size, 1)
    seed = check_int("seed", seed, 0)
    if not isinstance(distinct, bool):
        raise ValueError(f"distinct must be True or False, got {distinct!r}")
    _check_compatible(net, ds, probe)
    selected = net._resolve_members(members)
    member_ids = list(range(net.n_members)) if selected is None else selected.tolist()

    transformations = _transformations(ds, levels)
    measured = [(kind, level) for kind, level, note in transformations if not note]
    copies = [ds.resample(probe, dict(KINDS)[kind], level, seed=seed, distinct=distinct).x for kind, level in measured]
    passes = _ChunkedPasses(net, ds, encoding, chunk_size, selected, len(member_ids))
    with _evaluation_mode(net):
        means = passes.layer_means(probe.x)
        statistics = passes.point_statistics([probe.x, *copies], means)

    n = len(probe)
    rows = []
    for position, member in enumerate(member_ids):
        for layer_index, layer in enumerate((*net.hidden_layers, "output"), start=1):
            mean = statistics[layer].mean[position].tolist()  # [1 + T]: mean b, then mean a per copy
            covariance = statistics[layer].covariance()[position].tolist()
            denominator = mean_pair_distance(mean[0], n, pairs)
            mean_square_norm = float(means[layer][position].pow(2).sum()) + mean[0]
            layer_note = CONSTANT_LAYER_NOTE if denominator <= CONSTANT_LAYER_TOLERANCE * mean_square_norm else ""
            for kind, level, absent_note in transformations:
                note = absent_note or layer_note
                numerator = value = stderr = np.nan
                if not absent_note:
                    t = 1 + measured.index((kind, level))
                    numerator = mean[t]
                if not note:
                    value = numerator / denominator
                    r = mean[t] / mean[0]
                    variance = covariance[t][t] - 2 * r * covariance[t][0] + r**2 * covariance[0][0]
                    stderr = np.sqrt(max(variance, 0.0) / n) / denominator
                rows.append((member, layer, layer_index, level, kind, value, stderr, numerator, denominator, n, note))
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def chunk_size_for(net: EnsembleNet, ds: SRHM, probe: Batch, *, encoding: str = "whitened",
                   pass_bytes: int = PASS_BYTES) -> int:
    """The largest `chunk_size` of `measure_sensitivities` whose forward passes hold at most `pass_bytes` bytes of
    layer activations (all members, all 1 + 2L copies of a probe point; the net's own transient buffers come on top).

    The bytes per input are read from one forward pass on the first probe point. Returns an int in [1, len(probe)].
    ValueError when pass_bytes is not a positive int.
    """
    pass_bytes = check_int("pass_bytes", pass_bytes, 1)
    _check_compatible(net, ds, probe)
    passes = _ChunkedPasses(net, ds, encoding, 1, None, net.n_members)
    with _evaluation_mode(net):
        activations = next(passes.chunks([probe.x[:1]]))
    per_input = sum(f.numel() * f.element_size() for f in activations.values())
    return int(min(len(probe), max(1, pass_bytes // (per_input * (1 + 2 * ds.L)))))


def _transformations(ds: SRHM, levels: list[int]) -> list[tuple[str, int, str]]:
    """(kind, level, note) for S then D at every level; note says why the transformation does not exist, else ""."""
    absent = {"S": NO_SYNONYM_NOTE if ds.m == 1 else "", "D": NO_DIFFEO_NOTE if ds.n_arrangements == 1 else ""}
    return [(kind, level, absent[kind]) for kind, _ in KINDS for level in levels]


@contextmanager
def _evaluation_mode(net: EnsembleNet) -> Iterator[None]:
    """Eval mode and no gradients inside the block; every module's training flag is restored on exit."""
    flags = [(module, module.training) for module in net.modules()]
    net.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for module, training in flags:
            module.training = training


class _ChunkedPasses:
    """Forward passes of the selected members over symbol arrays [N, d], chunk_size probe points at a time."""

    def __init__(self, net: EnsembleNet, ds: SRHM, encoding: str, chunk_size: int, members: Tensor | None,
                 n_members: int):
        self.net, self.ds, self.encoding, self.chunk_size = net, ds, encoding, chunk_size
        self.members, self.n_members = members, n_members
        parameter = next(net.parameters())
        self.device, self.dtype = parameter.device, parameter.dtype

    def chunks(self, inputs: list[np.ndarray]) -> Iterator[dict[str, Tensor]]:
        """Per chunk, each layer's activations [E', len(inputs), rows, F] on the same rows of every input."""
        for start in range(0, len(inputs[0]), self.chunk_size):
            symbols = np.concatenate([x[start:start + self.chunk_size] for x in inputs])
            rows = len(symbols) // len(inputs)
            encoded = self.ds.encode(symbols, self.encoding).to(device=self.device, dtype=self.dtype)
            activations = self.net.activations(encoded.expand(self.n_members, *encoded.shape), self.members)
            yield {layer: f.reshape(self.n_members, len(inputs), rows, -1) for layer, f in activations.items()}

    def layer_means(self, x: np.ndarray) -> dict[str, Tensor]:
        """Each layer's mean activation [E', F] over the points x [N, d]."""
        sums: dict[str, Tensor] = {}
        for activations in self.chunks([x]):
            for layer, f in activations.items():
                sums[layer] = sums.get(layer, 0) + f[:, 0].double().sum(1)
        return {layer: total / len(x) for layer, total in sums.items()}

    def point_statistics(self, inputs: list[np.ndarray], means: dict[str, Tensor]) -> dict[str, RunningCovariance]:
        """Per layer, moments over points of (b_i, a_i1, ..., a_iT) [E', 1 + T]: b_i = ||f(x_i) - mean||^2 and
        a_it = ||f(x_i) - f(copy_t_i)||^2, for inputs = [x, copy_1, ..., copy_T]."""
        statistics: dict[str, RunningCovariance] = {}
        for activations in self.chunks(inputs):
            for layer, f in activations.items():
                base = f[:, 0].double()  # [E', rows, F]; the copies are converted one at a time to bound memory
                spread = (base - means[layer][:, None]).pow(2).sum(-1)  # [E', rows]
                distances = [(f[:, t].double() - base).pow(2).sum(-1) for t in range(1, len(inputs))]
                point = torch.stack([spread, *distances], -1)  # [E', rows, 1 + T]
                statistics.setdefault(layer, RunningCovariance()).update(point)
        return statistics


def _check_compatible(net: EnsembleNet, ds: SRHM, probe: Batch) -> None:
    if not isinstance(net, EnsembleNet):
        raise ValueError(f"net must be an EnsembleNet, got {type(net).__name__}")
    if not isinstance(probe, Batch):
        raise ValueError(f"probe must be a Batch of SRHM samples, got {type(probe).__name__}")
    if (net.v, net.d, net.n_classes) != (ds.v, ds.d, ds.n_classes):
        raise ValueError(f"net (v={net.v}, d={net.d}, n_classes={net.n_classes}) does not match the dataset "
                         f"{ds.name} (v={ds.v}, d={ds.d}, n_classes={ds.n_classes})")
    if probe.x.ndim != 2 or probe.x.shape[1] != ds.d or len(probe.choices) != ds.L:
        raise ValueError(f"probe must be samples of {ds.name}: x [N, d={ds.d}] and L={ds.L} layers of digits, "
                         f"got x {list(probe.x.shape)} and {len(probe.choices)} layers")
    if len(probe) < 2:
        raise ValueError(f"probe must hold at least 2 samples (the denominator averages pairs), got {len(probe)}")


def _check_levels(levels: Iterable[int] | int | None, L: int) -> list[int]:
    """Sorted distinct levels in 1..L (all of them when None)."""
    if levels is None:
        return list(range(1, L + 1))
    levels = list(levels) if isinstance(levels, Iterable) and not isinstance(levels, str) else [levels]
    if not levels or any(isinstance(l, bool) or not isinstance(l, Integral) or not 1 <= l <= L for l in levels):
        raise ValueError(f"levels must be a non-empty collection of integers in 1..L={L}, got {levels!r}")
    if len(set(levels)) != len(levels):
        raise ValueError(f"levels must not repeat a level, got {levels!r}")
    return sorted(int(l) for l in levels)
