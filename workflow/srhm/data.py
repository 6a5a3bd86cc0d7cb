"""The Sparse Random Hierarchy Model (SRHM): grammar, sampling, resampling and encoding.

Vocabulary used throughout:
- generator layer g = 0..L-1, top-down: layer g expands the s**g informative nodes of depth g
  (g = 0: the class) into s-tuples with one production rule each;
- level l = 1..L, bottom-up (the paper's index): level l is generator layer L - l, so level 1 is the
  layer whose rules emit the input tuples;
- a sample is fixed by its latent digits: the class, and per informative node one rule choice
  (0..m-1) and one arrangement (which slots of its patch its s children occupy).

Distinct digits give distinct inputs (the grammar is unambiguous and positions are recoverable), so
drawing digits uniformly draws inputs uniformly among all P_max of them.
"""

from __future__ import annotations

import itertools
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from srhm import theory
from srhm.io import atomic_path
from srhm.streams import stream

if TYPE_CHECKING:
    import torch

EMPTY = -1
SPARSITIES = ("A", "B")
RESAMPLE_KINDS = ("synonym", "diffeo")
ENCODINGS = ("whitened", "zeros")
_INDEX_LIMIT = 2**63  # below it, samples are drawn as integer indices in int64
_BLOCK = 2**16  # draws per block of the sample stream; each block has its own stream


@dataclass(frozen=True)
class Batch:
    """A set of SRHM samples with the latent digits that generated them.

    x: [n, d] symbols 0..v-1, EMPTY (-1) at uninformative positions (int8, or int16 when v > 127)
    y: [n] class labels (int64)
    choices: L arrays, choices[g]: [n, s**g] rule index of each informative node of layer g
    arrangements: L arrays, arrangements[g]: [n, s**g] arrangement index of each such node
    """

    x: np.ndarray
    y: np.ndarray
    choices: tuple[np.ndarray, ...]
    arrangements: tuple[np.ndarray, ...]

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, rows) -> Batch:
        """Select rows (a slice, an index array or a boolean mask)."""
        return Batch(
            x=self.x[rows],
            y=self.y[rows],
            choices=tuple(c[rows] for c in self.choices),
            arrangements=tuple(a[rows] for a in self.arrangements),
        )

    def save(self, path: str | os.PathLike, **metadata) -> None:
        """Write the batch (and scalar or array `metadata`) to one .npz file, atomically."""
        arrays = {"x": self.x, "y": self.y}
        for g, (c, a) in enumerate(zip(self.choices, self.arrangements)):
            arrays[f"choices_{g}"] = c
            arrays[f"arrangements_{g}"] = a
        clash = set(arrays) & set(metadata)
        if clash:
            raise ValueError(f"metadata keys {sorted(clash)} clash with batch arrays")
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays, **{f"meta_{k}": np.asarray(v) for k, v in metadata.items()})

    @classmethod
    def load(cls, path: str | os.PathLike) -> tuple[Batch, dict]:
        """Read a file written by `save`; returns the batch and its metadata."""
        with np.load(Path(path)) as f:
            n_layers = sum(k.startswith("choices_") for k in f.files)
            batch = cls(
                x=f["x"],
                y=f["y"],
                choices=tuple(f[f"choices_{g}"] for g in range(n_layers)),
                arrangements=tuple(f[f"arrangements_{g}"] for g in range(n_layers)),
            )
            meta = {k[5:]: f[k][()] if f[k].ndim == 0 else f[k] for k in f.files if k.startswith("meta_")}
        return batch, meta


class SRHM:
    """A Sparse Random Hierarchy Model instance: one grammar plus the sparsity rule.

    v: vocabulary size per level; n_classes: classes; m: synonyms (rules) per feature; s: tuple size;
    L: levels; s0: empty slots accompanying each informative element (0 = plain RHM);
    sparsity: "A" (each child alone in its own sub-patch of s0+1 slots) or "B" (the s children take
    any s of the s(s0+1) slots of the patch, order kept); seed: grammar seed.
    """

    def __init__(self, v: int, n_classes: int, m: int, s: int, L: int, s0: int = 0, sparsity: str = "A", seed: int = 0):
        check_parameters(v=v, n_classes=n_classes, m=m, s=s, L=L, s0=s0, sparsity=sparsity, seed=seed)
        self.v, self.n_classes, self.m, self.s, self.L, self.s0 = v, n_classes, m, s, L, s0
        self.sparsity, self.seed = sparsity, seed
        self.rules = _sample_rules(v, n_classes, m, s, L, seed)
        self.slots = _arrangement_slots(s, s0, sparsity)

    # ---- sizes -------------------------------------------------------------------------------
    @property
    def params(self) -> dict:
        return dict(v=self.v, n_classes=self.n_classes, m=self.m, s=self.s, L=self.L, s0=self.s0,
                    sparsity=self.sparsity, seed=self.seed)

    @property
    def name(self) -> str:
        """Readable dataset id, e.g. v8_nc8_m8_s2_L3_s02_A_seed0 (see `dataset_name`)."""
        return dataset_name(**self.params)

    @classmethod
    def from_name(cls, name: str) -> SRHM:
        """The instance whose `name` is `name`."""
        return cls(**parse_dataset_name(name))

    @property
    def patch(self) -> int:
        """Length s(s0+1) of the patch one production fills."""
        return self.s * (self.s0 + 1)

    @property
    def d(self) -> int:
        """Input length (s(s0+1))**L."""
        return self.patch**self.L

    @property
    def n_arrangements(self) -> int:
        """Arrangements of one patch: (s0+1)**s (A) or C(s(s0+1), s) (B)."""
        return len(self.slots)

    @property
    def n_nodes(self) -> int:
        """Informative nodes that pick a rule and an arrangement: (s**L - 1) / (s - 1)."""
        return (self.s**self.L - 1) // (self.s - 1)

    @property
    def P_max(self) -> int:
        """Number of distinct samples, n_c (m * n_arrangements)**n_nodes (exact Python int)."""
        return theory.p_max(self.n_classes, self.m, self.s, self.L, self.s0, self.sparsity)

    # ---- sampling ----------------------------------------------------------------------------
    @property
    def radices(self) -> np.ndarray:
        """Radix of each latent digit: [n_classes] then (m, n_arrangements) per node, layer by layer."""
        return np.array([self.n_classes] + [self.m, self.n_arrangements] * self.n_nodes, dtype=np.int64)

    def sample(self, n: int, seed: int, *, balanced: bool = False) -> Batch:
        """n distinct samples drawn uniformly without replacement, in random order.

        balanced=False: uniform among all P_max samples, so class counts fluctuate.
        balanced=True: row i has class i mod n_classes, and the rows of class c are distinct samples
        drawn uniformly among the P_max / n_classes samples of class c (each class from its own
        stream). Every prefix of k rows then holds floor(k/n_c) or ceil(k/n_c) samples of each class,
        as the authors' training files, which hold 4 samples of every class each.

        Either way sample(k, seed) is exactly the prefix of sample(n, seed) for k <= n, so a pool
        serves every training-set size: the test set is its head and the training sets follow it.
        Draws are i.i.d. uniform in fixed-size blocks, each block from its own stream, and repeats are
        dropped (first occurrence kept), which leaves a uniformly random ordered sample without
        replacement. Samples are drawn as integer indices when P_max < 2**63 and as digit vectors
        otherwise. The expected number of draws is P_max ln(P_max / (P_max - n)), about n when n << P_max.
        Raises ValueError when n is not an integer in 0..P_max.
        """
        if isinstance(n, bool) or int(n) != n or n < 0:
            raise ValueError(f"n={n!r} must be a non-negative integer")
        if n > self.P_max:
            raise ValueError(f"n={n} exceeds P_max={self.P_max}, the number of distinct samples of {self.name}")
        if not balanced:
            kept = self._distinct(n, self.P_max, lambda block: self._draw_block(stream("sample", self.seed, seed, block)))
        else:
            per_class = [self._distinct(len(range(c, n, self.n_classes)), self.P_max // self.n_classes,
                                        lambda block, c=c: self._draw_block(stream("class_sample", self.seed, seed, c,
                                                                                   block), label=c))
                         for c in range(self.n_classes)]
            kept = np.empty((n, *per_class[0].shape[1:]), dtype=per_class[0].dtype)
            for c, keys in enumerate(per_class):
                kept[c :: self.n_classes] = keys
        return self.decode(kept) if kept.ndim == 1 else self._render_digits(kept)

    @staticmethod
    def _distinct(n: int, space: int, draw_block) -> np.ndarray:
        """The first n distinct keys of the blocks draw_block(0), draw_block(1), ... over a space of `space` values."""
        blocks: list[np.ndarray] = []
        first = np.empty(0, dtype=np.int64)
        while len(first) < n or not blocks:
            missing = (n - len(first)) * (1 + n / space)
            blocks += [draw_block(len(blocks) + i) for i in range(max(1, math.ceil(missing / _BLOCK)))]
            keys = np.concatenate(blocks)
            first = _first_occurrences(keys)
        return keys[first[:n]]

    def _draw_block(self, rng: np.random.Generator, label: int | None = None) -> np.ndarray:
        """_BLOCK uniform samples (of class `label` only, if given): int64 indices [_BLOCK] when
        P_max < 2**63, else digit vectors [_BLOCK, n_digits]."""
        if self.P_max < _INDEX_LIMIT:
            if label is None:
                return rng.integers(self.P_max, size=_BLOCK)
            return label + self.n_classes * rng.integers(self.P_max // self.n_classes, size=_BLOCK)
        digits = rng.integers(self.radices, size=(_BLOCK, len(self.radices)), dtype=self.digit_dtype)
        if label is not None:
            digits[:, 0] = label  # the class is the first digit; the others stay uniform
        return digits

    def decode(self, index: np.ndarray) -> Batch:
        """The samples with the given integer indices in 0..P_max-1 (a bijection; needs P_max < 2**63).

        Mixed radix over `radices`: index = y + n_c * (choice + m * (arrangement + n_arr * (...))),
        nodes taken layer by layer, top-down.
        """
        if self.P_max >= _INDEX_LIMIT:
            raise ValueError(f"decode needs P_max < 2**63, {self.name} has P_max = {self.P_max}")
        rest = np.asarray(index, dtype=np.int64)
        if rest.size and (rest.min() < 0 or rest.max() >= self.P_max):
            raise ValueError(f"index must lie in 0..P_max-1 = {self.P_max - 1}")
        digits = np.empty((len(rest), len(self.radices)), dtype=np.int64, order="F")  # columns written in turn
        for column, radix in enumerate(self.radices):
            quotient = rest // radix  # floor_divide by a scalar is much faster than np.divmod
            digits[:, column] = rest - quotient * radix
            rest = quotient
        return self._render_digits(digits)

    def _render_digits(self, digits: np.ndarray) -> Batch:
        """Render a digit matrix [n, n_digits] laid out as in `radices`."""
        per_node = digits[:, 1:].reshape(len(digits), self.n_nodes, 2)
        starts = [(self.s**g - 1) // (self.s - 1) for g in range(self.L + 1)]
        layers = [per_node[:, a:b] for a, b in zip(starts, starts[1:])]
        return self.render(digits[:, 0], [c[..., 0] for c in layers], [c[..., 1] for c in layers])

    def render(self, y: np.ndarray, choices, arrangements) -> Batch:
        """Expand latent digits top-down into inputs x [n, d] (positions of EMPTY stay -1)."""
        y = np.asarray(y, dtype=np.int64)
        n = len(y)
        features = y[:, None].astype(np.intp)  # [n, s**g] informative features of layer g
        position = np.zeros((n, 1), dtype=np.intp)  # [n, s**g] start of each node's block
        for g, rules in enumerate(self.rules):
            rule_index = features * self.m + np.asarray(choices[g], dtype=np.intp)
            features = np.take(rules.reshape(-1, self.s), rule_index, axis=0).reshape(n, self.s ** (g + 1))
            slots = np.take(self.slots, np.asarray(arrangements[g], dtype=np.intp), axis=0)
            position = (position[:, :, None] + slots * self.patch ** (self.L - g - 1)).reshape(n, self.s ** (g + 1))
        x = np.full((n, self.d), EMPTY, dtype=self.symbol_dtype)
        np.put_along_axis(x, position, features.astype(x.dtype), axis=1)
        return Batch(
            x=x,
            y=y,
            choices=tuple(np.asarray(c, dtype=self.digit_dtype) for c in choices),
            arrangements=tuple(np.asarray(a, dtype=self.digit_dtype) for a in arrangements),
        )

    @property
    def symbol_dtype(self) -> np.dtype:
        return np.dtype(np.int8 if self.v <= 127 else np.int16)

    @property
    def digit_dtype(self) -> np.dtype:
        """Smallest unsigned type holding every latent digit."""
        return np.min_scalar_type(int(self.radices.max()) - 1)

    # ---- transformations ---------------------------------------------------------------------
    def resample(self, batch: Batch, kind: str, level: int, seed: int, distinct: bool = False) -> Batch:
        """Transform every sample of `batch` at level 1..L; rows stay aligned and labels unchanged.

        kind="synonym": redraw the rule choices of the `level` lowest generator layers (a synonym
        exchange P_l); placements and the features of the nodes at level `level` are kept.
        kind="diffeo": redraw the arrangements of those layers (a discrete diffeomorphism tau_l);
        every rule choice is kept.
        By default each redraw is uniform and may repeat the old value (the authors' runs);
        distinct=True forces every redrawn digit to change (the text's "one of its m-1 synonyms").
        """
        if kind not in RESAMPLE_KINDS:
            raise ValueError(f"kind={kind!r} must be one of {RESAMPLE_KINDS}")
        if isinstance(level, bool) or int(level) != level or not 1 <= level <= self.L:
            raise ValueError(f"level={level!r} must be an integer in 1..L={self.L}")
        redrawn = list(batch.choices if kind == "synonym" else batch.arrangements)
        radix = self.m if kind == "synonym" else self.n_arrangements
        if distinct and radix < 2:
            what = "m >= 2" if kind == "synonym" else "s0 >= 1 (with s0 = 0 nothing can move)"
            raise ValueError(f"distinct {kind} resampling needs {what}")
        for g in range(self.L - level, self.L):
            rng = stream(kind, self.seed, seed, level, g)
            old = redrawn[g].astype(np.int64)
            if distinct:
                redrawn[g] = (old + 1 + rng.integers(radix - 1, size=old.shape)) % radix
            else:
                redrawn[g] = rng.integers(radix, size=old.shape)
        if kind == "synonym":
            return self.render(batch.y, redrawn, batch.arrangements)
        return self.render(batch.y, batch.choices, redrawn)

    def encode(self, x: np.ndarray, encoding: str = "whitened") -> torch.Tensor:
        """Encode symbols [n, d] as float32 [n, v, d]; see `encode`."""
        return encode(x, self.v, encoding)


def encode(x: np.ndarray | torch.Tensor, v: int, encoding: str = "whitened") -> torch.Tensor:
    """One-hot encode symbols x [n, d] (EMPTY = -1) into float32 [n, v, d], channels first.

    "zeros": one-hot over the v symbols, an empty position is an all-zero column.
    "whitened": the same followed by x -> x(1+a) - a with a = (v-1)**-1/2, so an informative
    position is 1 on its symbol and -a elsewhere and an empty position is -a everywhere.
    The authors trained every model on "whitened" inputs; it is the default.
    """
    import torch  # deferred: sampling a dataset needs no torch, and importing it takes seconds

    if encoding not in ENCODINGS:
        raise ValueError(f"encoding={encoding!r} must be one of {ENCODINGS}")
    x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).long()
    onehot = (x[:, None, :] == torch.arange(v)[None, :, None]).float()
    if encoding == "zeros":
        return onehot
    a = (v - 1) ** -0.5
    return onehot * (1 + a) - a


def _first_occurrences(keys: np.ndarray) -> np.ndarray:
    """Sorted positions of the first occurrence of each distinct value (1-D) or row (2-D) of keys."""
    if keys.ndim == 2:
        keys = np.ascontiguousarray(keys).view(np.dtype((np.void, keys.dtype.itemsize * keys.shape[1]))).ravel()
    ordered = np.sort(keys)
    if not (ordered[1:] == ordered[:-1]).any():  # the usual case when P_max >> n: a sort, no argsort
        return np.arange(len(keys))
    return np.sort(np.unique(keys, return_index=True)[1])


_NAME = re.compile(r"v(?P<v>\d+)_nc(?P<n_classes>\d+)_m(?P<m>\d+)_s(?P<s>\d+)_L(?P<L>\d+)_s0(?P<s0>\d+)"
                   r"_(?P<sparsity>[A-Z])_seed(?P<seed>\d+)")


def dataset_name(*, v, n_classes, m, s, L, s0, sparsity, seed) -> str:
    """Readable id of an SRHM dataset, e.g. v8_nc8_m8_s2_L3_s02_A_seed0 (s02 reads s0 = 2)."""
    return f"v{v}_nc{n_classes}_m{m}_s{s}_L{L}_s0{s0}_{sparsity}_seed{seed}"


def family_name(dataset: str) -> str:
    """The SRHM family of a dataset name: the name without its seed, e.g. v8_nc8_m8_s2_L3_s02_A (the grammars
    of one family differ only by their seed; a training ensemble trains one model on one family)."""
    return dataset.rsplit("_seed", 1)[0]


def parse_dataset_name(name: str) -> dict:
    """Inverse of `dataset_name`."""
    match = _NAME.fullmatch(name)
    if match is None:
        raise ValueError(f"dataset name {name!r} does not read like v8_nc8_m8_s2_L3_s02_A_seed0")
    return {k: (v if k == "sparsity" else int(v)) for k, v in match.groupdict().items()}


def check_parameters(*, v, n_classes, m, s, L, s0, sparsity, seed) -> None:
    """Raise ValueError naming the first SRHM parameter that violates its constraint."""
    ints = dict(v=(v, 2), n_classes=(n_classes, 2), m=(m, 1), s=(s, 2), L=(L, 1), s0=(s0, 0), seed=(seed, 0))
    for name, (value, low) in ints.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name}={value!r} must be an integer >= {low}")
    if v > 32767:
        raise ValueError(f"v={v} must be <= 32767 (symbols are stored as int16)")
    if sparsity not in SPARSITIES:
        raise ValueError(f"sparsity={sparsity!r} must be one of {SPARSITIES}")
    if n_classes * m > v**s:
        raise ValueError(f"n_classes*m = {n_classes}*{m} must be <= v**s = {v}**{s} = {v**s}: "
                         "each class needs m distinct s-tuples and no tuple may belong to two classes")
    if m > v ** (s - 1):
        raise ValueError(f"m={m} must be <= v**(s-1) = {v}**{s - 1} = {v ** (s - 1)}: "
                         "each of the v features needs m distinct s-tuples and no tuple may be shared")


def _sample_rules(v: int, n_classes: int, m: int, s: int, L: int, seed: int) -> list[np.ndarray]:
    """Production rules, top-down: rules[0] [n_classes, m, s], rules[g >= 1] [v, m, s].

    Each parent owns m distinct s-tuples, drawn without replacement from all v**s tuples, so no
    tuple belongs to two parents (the grammar is unambiguous).
    """
    rules = []
    for g in range(L):
        parents = n_classes if g == 0 else v
        codes = stream("grammar", seed, g).choice(v**s, size=parents * m, replace=False)
        digits = (codes[:, None] // v ** np.arange(s - 1, -1, -1)) % v  # base-v, most significant first
        rules.append(digits.reshape(parents, m, s).astype(np.int64))
    return rules


def _arrangement_slots(s: int, s0: int, sparsity: str) -> np.ndarray:
    """Slots [n_arrangements, s] (ascending) taken by the s children of a patch of s(s0+1) slots."""
    if sparsity == "A":
        offsets = itertools.product(range(s0 + 1), repeat=s)
        table = [[child * (s0 + 1) + o for child, o in enumerate(offset)] for offset in offsets]
    else:
        table = list(itertools.combinations(range(s * (s0 + 1)), s))
    return np.array(table, dtype=np.int64)
