"""The training engine: SGD with momentum on an ensemble of members trained in lockstep (paper App. B; the authors' main_bs_S.py and optim_loss.py).

Every member follows the protocol of training it alone:
- each epoch is a fresh permutation of its P training indices, drawn from its ("order", seed) stream,
  cut into consecutive batches of `batch_size` (the last one may be smaller); on a class-balanced pool
  (SRHM.sample(balanced=True): the training rows cycle through the classes) the permutation shuffles
  each class's rows among that class's positions, so every batch of batch_per_class * n_c holds
  batch_per_class samples of each class, as the authors' training files;
- one step minimises the mean cross-entropy over the member's batch (+ weight_decay x sum over
  parameter tensors of mean(p^2)) with torch.optim.SGD's momentum rule, buf = mu buf + grad,
  p -= lr buf (the first step has buf = grad); the rule is elementwise, so one update of the stacked
  parameters steps every member independently;
- at the end of each of its epochs it records the epoch's mean training loss over its P samples and
  stops once that is below `loss_threshold` or at `max_epochs`; the test error is evaluated every
  `eval_every` epochs and at the stop, and the weights at the best test error are kept.

LCN/CNN/FCN members share one stacked network (a StackedGroup), stepped by its hand-written training step
(srhm.models.hierarchical.HierarchicalNet.sgd_step); the stacked parameters of different members never
mix (members have separate cursors, partial batches are zero-weighted rows), and a member that stops is
dropped from the stack, its weights kept as they are at its stop. The BatchNorm nets train as one network,
or as several stacked with torch.func, each with its own BatchNorm statistics (srhm.models.single.StackedNets),
stepped by autograd and the same momentum rule (an AutogradGroup). A step reads nothing back from the
device: each group's batches are cut on the device from device-side cursors (Batches), mirrored by the
host's integer bookkeeping; only the end of a member's epoch (its loss, evaluation, stop, next permutation)
reads and writes between host and device. Each member's model FLOPs are counted as it trains.

The whole state is checkpointed every `checkpoint_every_s` seconds and before the outputs are written;
a job restarted with the same spec resumes from it and ends with bit-identical weights and metrics on CPU.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from srhm.architectures import HIERARCHICAL
from srhm.data import Batch, encode
from srhm.io import atomic_path
from srhm.memory import reuse_freed_memory
from srhm.models import EnsembleNet, build_model
from srhm.models.single import SingleMemberNet, StackedNets
from srhm.models.hierarchical import POSITION_MAJOR
from srhm.precision import apply as apply_precision
from srhm.precision import autocast, check_precision
from srhm.precision import settings as precision_settings
from srhm.protocol import DIVERGED_STOP, EPOCH_CAP_STOP, LOSS_STOP, Protocol, TrainSpec
from srhm.provenance import environment as run_environment
from srhm.run_files import METRICS_FILE, read_metrics, write_run
from srhm.runs import member_metrics
from srhm.streams import torch_seed
from srhm.train_state import TrainingState

CHECKPOINT_FORMAT = 3
DROPOUT_TYPES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout)
POOL_METADATA = ("v", "n_classes", "s", "s0", "L")
"""Pool metadata entries that must agree with the spec when the pool file records them."""


def train_ensemble(spec: TrainSpec) -> list[dict]:
    """Train every member of `spec` to its stop, resuming from spec.checkpoint if it exists.

    Writes model.pt, metrics.json and train.log into each member's out_dir, deletes the checkpoint
    and returns the members' metrics in member order.
    """
    trainer = EnsembleTrainer(spec)
    trainer.run()
    return trainer.finish()


def untrained(spec: TrainSpec) -> TrainSpec | None:
    """`spec` without the members whose out_dir already holds a finished run of the same training: a metrics.json
    with the member's P and seed whose spec trains as this one (TrainSpec.same_training; `srhm train
    --keep-trained`, which a P* search's rounds use). None when no member is left."""
    left = []
    for member in spec.members:
        if (Path(member.out_dir) / METRICS_FILE).is_file():
            metrics = read_metrics(member.out_dir)
            try:
                theirs = TrainSpec.from_dict({**metrics.get("spec", {}), "members": spec.members})
            except (TypeError, ValueError):  # a spec of another format: train again
                theirs = None
            if (theirs is not None and spec.same_training(theirs) and metrics.get("P") == member.P
                    and metrics.get("seed") == member.seed):
                continue
        left.append(member)
    return dataclasses.replace(spec, members=tuple(left)) if left else None


def resolve_device(device: str) -> torch.device:
    """"auto" -> CUDA when available, else CPU; otherwise the named device, which must exist."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}") from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for but CUDA is not available")
    if resolved.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    if resolved.type == "cuda" and resolved.index is not None and resolved.index >= torch.cuda.device_count():
        raise ValueError(f"device={device!r}: only {torch.cuda.device_count()} CUDA devices are visible")
    return resolved


@dataclass
class Pools:
    """The members' data as symbols (int8, EMPTY = -1), loaded once per distinct pool file.

    train_x: [N, d] the training rows of all pools (each pool's rows after its test head), concatenated;
    train_y: [N]
    offset: [M] row of member m's first training sample in train_x
    test_x: [n_pools, n_test, d] each pool's first n_test samples; test_y: [n_pools, n_test]
    pool: [M] index of member m's pool in test_x
    metadata: per pool, its path and scalar metadata (sampling: "balanced" or "uniform")
    """

    train_x: Tensor
    train_y: Tensor
    offset: np.ndarray
    test_x: Tensor
    test_y: Tensor
    pool: np.ndarray
    metadata: list[dict]

    def stratified(self, member: int) -> bool:
        """Whether member's batches keep the class cycle of a balanced pool (see the module docstring)."""
        return self.metadata[self.pool[member]].get("sampling") == "balanced"

    def to(self, device: torch.device) -> Pools:
        return dataclasses.replace(self, **{name: getattr(self, name).to(device)
                                            for name in ("train_x", "train_y", "test_x", "test_y")})


def load_pools(spec: TrainSpec) -> Pools:
    """Read and check every pool of `spec` (ValueError naming the member and the constraint)."""
    paths = list(dict.fromkeys(m.pool for m in spec.members))
    needed = {path: max(m.P for m in spec.members if m.pool == path) for path in paths}
    train_x, train_y, test_x, test_y, metadata = [], [], [], [], []
    for path in paths:
        index = next(i for i, m in enumerate(spec.members) if m.pool == path)
        if not Path(path).is_file():
            raise ValueError(f"members[{index}].pool: no such file {path!r}")
        batch, meta = Batch.load(path)
        _check_pool(spec, path, index, batch, meta)
        n = len(batch)
        for i, member in enumerate(spec.members):
            if member.pool == path and member.P > n - spec.n_test:
                raise ValueError(f"members[{i}].P={member.P} exceeds pool size - n_test = {n} - {spec.n_test} "
                                 f"= {n - spec.n_test} for {path!r} (train and test must be disjoint)")
        train = slice(spec.n_test, spec.n_test + needed[path])
        train_x.append(torch.from_numpy(batch.x[train].astype(np.int8)))
        train_y.append(torch.from_numpy(batch.y[train].astype(np.int64)))
        test_x.append(torch.from_numpy(batch.x[: spec.n_test].astype(np.int8)))
        test_y.append(torch.from_numpy(batch.y[: spec.n_test].astype(np.int64)))
        metadata.append({"pool": path, "size": n,
                         **{k: _plain(value) for k, value in meta.items() if np.ndim(value) == 0}})
    starts = np.cumsum([0] + [needed[path] for path in paths[:-1]])
    pool = np.array([paths.index(m.pool) for m in spec.members])
    return Pools(train_x=torch.cat(train_x), train_y=torch.cat(train_y), offset=starts[pool],
                 test_x=torch.stack(test_x), test_y=torch.stack(test_y), pool=pool, metadata=metadata)


def _check_pool(spec: TrainSpec, path: str, index: int, batch: Batch, meta: dict) -> None:
    where = f"members[{index}].pool {path!r}"
    for name in POOL_METADATA:
        if name in meta and int(meta[name]) != getattr(spec, name):
            raise ValueError(f"{where} was made with {name}={int(meta[name])}, the spec has {name}={getattr(spec, name)}")
    if batch.x.ndim != 2 or batch.x.shape[1] != spec.d:
        raise ValueError(f"{where} holds inputs of shape {list(batch.x.shape)}, the spec needs [N, d={spec.d}] "
                         f"(d = (s(s0+1))^L)")
    if batch.x.size and (batch.x.min() < -1 or batch.x.max() >= spec.v):
        raise ValueError(f"{where} holds symbols outside -1..v-1 = -1..{spec.v - 1}")
    if batch.y.size and (batch.y.min() < 0 or batch.y.max() >= spec.n_classes):
        raise ValueError(f"{where} holds labels outside 0..n_classes-1 = 0..{spec.n_classes - 1}")


class NoiseRng:
    """The torch RNG state that drives a network's dropout, swapped in around its training steps."""

    def __init__(self, device: torch.device, seed: int):
        self.device = device
        self.state = torch.Generator(device).manual_seed(seed).get_state()

    @contextmanager
    def active(self) -> Iterator[None]:
        cuda = self.device.type == "cuda"
        index = self.device.index if self.device.index is not None else torch.cuda.current_device() if cuda else 0
        with torch.random.fork_rng(devices=[index] if cuda else [], device_type="cuda"):
            if cuda:
                torch.cuda.set_rng_state(self.state, index)
            else:
                torch.set_rng_state(self.state)
            yield
            self.state = torch.cuda.get_rng_state(index) if cuda else torch.get_rng_state()


class Group:
    """One network and the members it holds: members[slot] is the global index of each slot's member;
    buffers holds the momentum of each parameter (zeros before the first step, as torch.optim.SGD's).

    A group holds only training members: once members stop, `keep` drops them from the network.
    """

    def __init__(self, net: EnsembleNet, members: np.ndarray):
        self.net = net
        self.members = members
        self.live: Tensor | None = None  # members on the device (EnsembleTrainer._refresh_selections)
        self.forward_flops, self.step_flops = net.flops_per_sample()
        self.buffers = [torch.zeros_like(p) for p in net.parameters()]

    def step(self, symbols: Tensor, y: Tensor, weight: Tensor, code: Tensor, protocol: Protocol,
             precision: str) -> Tensor:
        """One SGD step of every slot on its batch: symbols [E, B, d], labels y [E, B], sample weights
        [E, B] (each row sums to 1 over its real samples, 0 on padding); returns [E] float64, each slot's
        cross-entropy summed over its real samples."""
        raise NotImplementedError

    def keep(self, slots: np.ndarray) -> None:
        """Go on training the members at `slots` only (in this order); a network that stacks its members drops
        the others, and their momentum (a SingleMemberNet's one member just stops stepping)."""
        if not isinstance(self.net, SingleMemberNet):
            index = torch.from_numpy(slots).to(self.buffers[0].device)
            self.net.keep_members(index)
            self.buffers = [buffer.index_select(0, index) for buffer in self.buffers]
        self.members = self.members[slots]

    def checkpoint(self) -> dict:
        """The network's state and the momentum buffers, as torch.save data."""
        return {"net": self.net.state_dict(), "buffers": self.buffers}

    def restore(self, saved: dict) -> None:
        """The inverse of `checkpoint`, onto a group built from the same spec and kept to the same members."""
        self.net.load_state_dict(saved["net"])
        self.buffers = [buffer.to(self.buffers[0].device) for buffer in saved["buffers"]]


class StackedGroup(Group):
    """The LCN/CNN/FCN members stacked into one HierarchicalNet, stepped by its hand-written sgd_step."""

    def step(self, symbols, y, weight, code, protocol, precision):
        with autocast(precision, weight.device):
            return self.net.sgd_step(self.net.symbol_patches(symbols, code), y, weight, self.buffers, lr=protocol.lr,
                                     momentum=protocol.momentum, weight_decay=protocol.weight_decay,
                                     fold=precision != "bf16")


class AutogradGroup(Group):
    """BatchNorm nets: one (a SingleMemberNet) or several stacked with torch.func (a StackedNets), stepped by
    autograd and the momentum rule of torch.optim.SGD (buf = momentum buf + grad, p -= lr buf); `noise` is the
    RNG of their dropout."""

    def __init__(self, net: EnsembleNet, members: np.ndarray, noise: NoiseRng | None):
        super().__init__(net, members)
        self.noise = noise

    def step(self, symbols, y, weight, code, protocol, precision):
        params = list(self.net.parameters())
        with self.noise.active() if self.noise is not None else nullcontext(), autocast(precision, weight.device):
            logits = self.net.symbol_logits(symbols, code)
        per_sample = F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), reduction="none").view_as(weight)
        for p in params:
            p.grad = None
        (per_sample * weight).sum().backward()
        with torch.no_grad():
            stacked = isinstance(self.net, StackedNets)
            for p, buffer in zip(params, self.buffers):
                if protocol.weight_decay:  # the gradient of weight_decay x sum_p mean(p^2), per member
                    p.grad.add_(p, alpha=2 * protocol.weight_decay / (p[0].numel() if stacked else p.numel()))
                buffer.mul_(protocol.momentum).add_(p.grad)
            torch._foreach_add_(params, self.buffers, alpha=-protocol.lr)
            return (per_sample * (weight > 0)).sum(1, dtype=torch.float64)

    def checkpoint(self):
        return {**super().checkpoint(), "noise": None if self.noise is None else self.noise.state}

    def restore(self, saved):
        super().restore(saved)
        if self.noise is not None:
            self.noise.state = saved["noise"].cpu()  # RNG states are CPU byte tensors for every device


class Batches:
    """Where each slot of a group stands in its epoch, on the device, and its next batch's rows.

    The host keeps the authoritative cursors (srhm.train_state.TrainingState); this mirror is uploaded when a
    group's slots or a member's epoch change (per-epoch work) and advanced on the device at every step, so a
    step reads nothing back from the device.
    """

    def __init__(self, batch_size: int, device: torch.device):
        self.columns = torch.arange(batch_size, device=device)
        self.batch_size = batch_size

    def upload(self, cursor: np.ndarray, P: np.ndarray, perm_start: np.ndarray, offset: np.ndarray) -> None:
        """The slots' cursors, training-set sizes, starts in the permutation table and first training rows."""
        device = self.columns.device
        self.cursor, self.P, self.perm_start, self.offset = (torch.from_numpy(np.asarray(a, dtype=np.int64)).to(device)
                                                             for a in (cursor, P, perm_start, offset))

    def next(self, perm: Tensor) -> tuple[Tensor, Tensor]:
        """Rows [E, batch_size] of the pools' training table and sample weights [E, batch_size] (1/n_real on the
        n_real rows left in each slot's epoch, 0 on padding) of the slots' next batches; advances the cursors."""
        position = self.cursor[:, None] + self.columns
        real = position < self.P[:, None]
        rows = perm[self.perm_start[:, None] + torch.minimum(position, self.P[:, None] - 1)] + self.offset[:, None]
        weight = real / real.sum(1, keepdim=True)
        self.cursor += self.batch_size
        return rows, weight


class EnsembleTrainer:
    """Trains the members of a TrainSpec in lockstep; see the module docstring.

    EnsembleTrainer(spec) validates the pools, builds the networks (or resumes from the checkpoint),
    run(max_steps) advances, save_checkpoint() saves, finish() writes the outputs. The members' progress
    is `state` (srhm.train_state.TrainingState); the networks and their optimiser states are `groups`.
    """

    def __init__(self, spec: TrainSpec):
        self._start = time.perf_counter()
        reuse_freed_memory()
        self.spec = spec
        self.protocol = spec.protocol()
        self.device = resolve_device(spec.device)
        print(f"device {self.device} (CUDA {'available' if torch.cuda.is_available() else 'not available'}), "
              f"precision {spec.precision}", flush=True)
        self.perm: Tensor | None = None  # state.perm on the device, once the state exists
        check_precision(spec.precision, self.device)
        pools = load_pools(spec)
        if spec.threads is not None:
            torch.set_num_threads(spec.threads)
        apply_precision(spec.precision, self.device)
        self.pools = pools.to(self.device)
        self.train_labels = [pools.train_y[offset : offset + m.P].numpy() if pools.stratified(e) else None
                             for e, (offset, m) in enumerate(zip(pools.offset, spec.members))]
        table = encode(torch.arange(-1, spec.v)[None], spec.v, spec.encoding)[0]  # [v, v+1]
        self.code = table.T.contiguous().to(self.device)  # row j: encoding of symbol j - 1
        members = spec.members
        self.n_members = len(members)
        self.P = np.array([m.P for m in members], dtype=np.int64)
        self.perm_start = np.cumsum(self.P) - self.P  # member e's permutation is state.perm[perm_start[e]:][:P[e]]
        self.groups = self._build_groups()
        self.batches = [Batches(self.protocol.batch_size, self.device) for _ in self.groups]
        if spec.checkpoint is not None and Path(spec.checkpoint).is_file() and self._restore(spec.checkpoint):
            print(f"resumed {spec.checkpoint} at step {self.state.total_steps} ({self.state.wall_before:.0f} s of "
                  f"training so far)", flush=True)
        else:
            self.state = TrainingState.start(self.P, [m.seed for m in members], self.device)
            for e in range(self.n_members):
                self._new_permutation(e)
            for e in range(self.n_members):
                self._log(e, f"training {spec.arch} on {spec.members[e].pool} with P={self.P[e]}, seed "
                             f"{spec.members[e].seed}, device {self.device}, precision {spec.precision}: "
                             f"{self.protocol}")
        self.perm = torch.from_numpy(self.state.perm.astype(np.int64)).to(self.device)
        self._refresh_selections()
        self._last_checkpoint = self._last_progress = time.perf_counter()

    # ---- public --------------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return not self.state.active.any()

    @property
    def wall_time(self) -> float:
        """Seconds of wall time spent on this training, over all resumed runs."""
        return self.state.wall_before + time.perf_counter() - self._start

    def run(self, max_steps: int | None = None) -> bool:
        """Advance until every member has stopped, or for at most max_steps steps; True when finished."""
        taken = 0
        while not self.finished and (max_steps is None or taken < max_steps):
            self._step()
            taken += 1
            now = time.perf_counter()
            if self.spec.checkpoint is not None and now - self._last_checkpoint >= self.spec.checkpoint_every_s:
                self.save_checkpoint()
            if now - self._last_progress >= self.spec.progress_every_s:
                self._last_progress = now
                self._print_progress()
        return self.finished

    def member_state(self, e: int) -> dict[str, Tensor]:
        """Member e's current weights (at its stop, once stopped) as a CPU state dict of a one-member network."""
        if not self.state.active[e]:
            return self.state.records[e].final_state
        group = self.groups[self.group_of[e]]
        return {k: v.cpu() for k, v in group.net.member_state_dict(int(self.slot_of[e])).items()}

    def save_checkpoint(self) -> None:
        """Write the whole training state to spec.checkpoint, atomically."""
        if self.spec.checkpoint is None:
            raise ValueError("checkpoint is None in the spec: there is nowhere to save")
        checkpoint = {
            "format": CHECKPOINT_FORMAT,
            "spec": self.spec.to_dict(),
            "groups": [group.checkpoint() for group in self.groups],
            "state": dataclasses.replace(self.state, wall_before=self.wall_time).to_checkpoint(),
        }
        with atomic_path(self.spec.checkpoint) as tmp:
            torch.save(checkpoint, tmp)
        self._last_checkpoint = time.perf_counter()

    def finish(self) -> list[dict]:
        """Write every member's model.pt, metrics.json and train.log; delete the checkpoint; return the metrics."""
        if not self.finished:
            raise RuntimeError(f"{int(self.state.active.sum())} members are still training; call run() first")
        if self.spec.checkpoint is not None:
            self.save_checkpoint()
        wall, flops = self.wall_time, float(self.state.flops.sum())
        environment = {**run_environment(self.device), "numerics": precision_settings(self.spec.precision, self.device)}
        job = hashlib.sha1("\n".join(m.out_dir for m in self.spec.members).encode()).hexdigest()[:12]
        compute = {"job": job, "ensemble_flops": flops, "ensemble_gflop_per_s": flops / wall / 1e9}
        all_metrics = []
        for e, member in enumerate(self.spec.members):
            record = self.state.records[e]
            group = self.groups[self.group_of[e]]
            metrics = member_metrics(self.spec, e, record, dataset=self.pools.metadata[self.pools.pool[e]],
                                     epochs=int(self.state.epoch[e]), steps=int(self.state.steps[e]),
                                     ensemble_wall_time_s=wall, environment=environment,
                                     compute={"flops": float(self.state.flops[e]), **compute,
                                              "flops_per_sample": {"forward": group.forward_flops,
                                                                   "train_step": group.step_flops}})
            weights = {"final": record.final_state, "best": {k: v.cpu() for k, v in record.best_state.items()},
                       "model": self.spec.model_kwargs(), "layout": POSITION_MAJOR}
            write_run(member.out_dir, weights, metrics, record.log)
            all_metrics.append(metrics)
        print(f"trained {self.n_members} members in {wall:.1f} s: {flops / 1e9:.3g} GFLOP of model products, "
              f"{compute['ensemble_gflop_per_s']:.2f} GFLOP/s ({self.spec.precision} on {self.device})", flush=True)
        if self.spec.checkpoint is not None:
            Path(self.spec.checkpoint).unlink(missing_ok=True)
        return all_metrics

    # ---- set-up --------------------------------------------------------------------------------
    def _build_groups(self) -> list[Group]:
        """One group of all members: a stacked HierarchicalNet for LCN/CNN/FCN; for the BatchNorm nets one
        network, or several stacked with torch.func (StackedNets), whose dropout draws from the first member's
        ("order", seed, 1) stream."""
        seeds = [m.seed for m in self.spec.members]
        kwargs = self.spec.model_kwargs()
        members = np.arange(self.n_members)
        if self.spec.arch in HIERARCHICAL:
            return [StackedGroup(build_model(**kwargs, init_seeds=tuple(seeds)).to(self.device).train(), members)]
        nets = [build_model(**kwargs, init_seeds=(seed,)) for seed in seeds]
        stochastic = any(isinstance(module, DROPOUT_TYPES) for module in nets[0].modules())
        noise = NoiseRng(self.device, torch_seed("order", seeds[0], 1)) if stochastic else None
        net = nets[0] if len(nets) == 1 else StackedNets(nets)
        return [AutogradGroup(net.to(self.device).train(), members, noise)]

    def _restore(self, path: str) -> bool:
        """Resume from the checkpoint at `path`; False, with the file moved aside to `path`.stale, when it
        cannot be resumed (unreadable, another format, or written for another training spec)."""
        try:
            checkpoint = torch.load(path, map_location=self.device, weights_only=True)
            problem = (f"format {checkpoint.get('format')!r}, expected {CHECKPOINT_FORMAT}"
                       if checkpoint.get("format") != CHECKPOINT_FORMAT else
                       "it was written for a different training spec"
                       if not TrainSpec.from_dict(checkpoint["spec"]).same_training(self.spec) else None)
            state = TrainingState.from_checkpoint(checkpoint["state"]) if problem is None else None
        except Exception as error:  # noqa: BLE001 - any failure to read it (truncated, foreign pickle...) makes it stale
            problem = f"it cannot be read ({type(error).__name__}: {error})"
        if problem is not None:
            stale = Path(path).with_name(Path(path).name + ".stale")
            os.replace(path, stale)
            print(f"checkpoint {path} not resumed: {problem}; moved to {stale}, training from the start", flush=True)
            return False
        for group, saved in zip(self.groups, checkpoint["groups"]):
            group.keep(np.flatnonzero(state.active[group.members]))
            group.restore(saved)
        self.state = state
        return True

    def _refresh_selections(self) -> None:
        """Drop stopped members from their groups; map members to slots; upload each group's epoch positions."""
        self.group_of = np.full(self.n_members, -1, dtype=np.int64)
        self.slot_of = np.full(self.n_members, -1, dtype=np.int64)
        for g, (group, batches) in enumerate(zip(self.groups, self.batches)):
            live = self.state.active[group.members]
            if not live.all():
                group.keep(np.flatnonzero(live))
            self.group_of[group.members] = g
            self.slot_of[group.members] = np.arange(len(group.members))
            group.live = torch.from_numpy(group.members).to(self.device)
            self._upload(g)

    def _upload(self, g: int) -> None:
        members = self.groups[g].members
        self.batches[g].upload(self.state.cursor[members], self.P[members], self.perm_start[members],
                               self.pools.offset[members])

    def _new_permutation(self, e: int) -> None:
        """Member e's order of its P training rows for its next epoch (see the module docstring)."""
        rng, labels = self.state.order_rngs[e], self.train_labels[e]
        if labels is None:
            order = rng.permutation(self.P[e])
        else:  # position j (of class labels[j]) gets a random row of the same class
            order = np.empty(self.P[e], dtype=np.int64)
            order[np.argsort(labels, kind="stable")] = np.lexsort((rng.random(self.P[e]), labels))
        span = slice(self.perm_start[e], self.perm_start[e] + self.P[e])
        self.state.perm[span] = order
        if self.perm is not None:
            self.perm[span] = torch.from_numpy(order).to(self.device)

    # ---- training ------------------------------------------------------------------------------
    def _step(self) -> None:
        """One step of every training member; reads nothing back from the device (end-of-epoch work aside)."""
        for group, batches in zip(self.groups, self.batches):
            live = group.members
            if not live.size:
                continue
            rows, weight = batches.next(self.perm)
            sums = group.step(self.pools.train_x[rows], self.pools.train_y[rows], weight, self.code, self.protocol,
                              self.spec.precision)
            self.state.epoch_loss.index_add_(0, group.live, sums)
            n_real = np.minimum(self.protocol.batch_size, self.P[live] - self.state.cursor[live])
            self.state.cursor[live] += n_real
            self.state.steps[live] += 1
            self.state.flops[live] += n_real * group.step_flops
        self.state.total_steps += 1
        ended = np.flatnonzero(self.state.active & (self.state.cursor >= self.P))
        if ended.size:
            self._end_epochs(ended)

    def _end_epochs(self, ended: np.ndarray) -> None:
        """Record the epoch losses of the members that finished an epoch; evaluate, stop or reshuffle them."""
        ended_t = torch.from_numpy(ended).to(self.device)
        losses = (self.state.epoch_loss[ended_t] / torch.from_numpy(self.P[ended]).to(self.device)).tolist()
        self.state.epoch_loss[ended_t] = 0
        self.state.cursor[ended] = 0
        self.state.epoch[ended] += 1
        stopping, due = {}, []
        for e, loss in zip(ended, losses):
            self.state.records[e].train_loss.append(loss)
            if not np.isfinite(loss):
                stopping[e] = DIVERGED_STOP
            elif loss < self.protocol.loss_threshold:
                stopping[e] = LOSS_STOP
            elif self.state.epoch[e] >= self.protocol.max_epochs:
                stopping[e] = EPOCH_CAP_STOP
            if e in stopping or self.state.epoch[e] % self.protocol.eval_every == 0:
                due.append(e)
        if due:
            self._evaluate(np.array(due))
        for e in ended:
            if e in stopping:
                self._stop(e, stopping[e])
            else:
                self._new_permutation(e)
        if stopping:
            self._refresh_selections()
        else:
            for g in np.unique(self.group_of[ended]):
                self._upload(g)

    def _stop(self, e: int, reason: str) -> None:
        record = self.state.records[e]
        record.final_state = self.member_state(e)
        self.state.active[e] = False
        record.stop_reason, record.wall_at_stop = reason, self.wall_time
        self._log(e, f"stopped at epoch {self.state.epoch[e]} ({reason}): best test error {record.best_error:.4f} "
                     f"at epoch {record.best_epoch}, final {record.test_error[-1]:.4f}")

    # ---- evaluation ----------------------------------------------------------------------------
    @torch.no_grad()
    def _evaluate(self, due: np.ndarray) -> None:
        """Test error and loss of the `due` members on their pools' test sets; keep the best weights."""
        for group in self.groups:
            members = due[np.isin(due, group.members)]
            if not members.size:
                continue
            errors, losses = self._test(group, members)
            self.state.flops[members] += self.spec.n_test * group.forward_flops
            for e, error, loss in zip(members, errors, losses):
                record = self.state.records[e]
                record.eval_epoch.append(int(self.state.epoch[e]))
                record.test_error.append(error)
                record.test_loss.append(loss)
                if error < record.best_error:
                    record.best_error, record.best_epoch = error, int(self.state.epoch[e])
                    record.best_state = group.net.member_state_dict(int(self.slot_of[e]))
                self._log(e, f"epoch {self.state.epoch[e]} step {self.state.steps[e]} train_loss {record.train_loss[-1]:.4e} "
                             f"test_error {error:.4f} test_loss {loss:.4f} best {record.best_error:.4f}")

    def _test(self, group: Group, members: np.ndarray) -> tuple[list[float], list[float]]:
        """Mean test error and cross-entropy of `members` of `group`, in chunks of eval_batch samples."""
        n_test = self.spec.n_test
        pool = torch.from_numpy(self.pools.pool[members]).to(self.device)
        slots = self.slot_of[members]
        slots = None if np.array_equal(slots, np.arange(group.net.n_members)) else torch.from_numpy(slots).to(self.device)
        chunk = max(1, self.spec.eval_batch // len(members))
        wrong = torch.zeros(len(members), dtype=torch.float64, device=self.device)
        loss = torch.zeros(len(members), dtype=torch.float64, device=self.device)
        group.net.eval()
        for begin in range(0, n_test, chunk):
            y = self.pools.test_y[pool, begin : begin + chunk]
            with autocast(self.spec.precision, self.device):
                logits = group.net.symbol_logits(self.pools.test_x[pool, begin : begin + chunk], self.code, slots)
            wrong += (logits.argmax(-1) != y).sum(1)
            loss += F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), reduction="none").view_as(y).sum(1, dtype=torch.float64)
        group.net.train()
        return (wrong / n_test).tolist(), (loss / n_test).tolist()

    # ---- reporting -----------------------------------------------------------------------------
    def _label(self, e: int) -> str:
        member = self.spec.members[e]
        return f"[{Path(member.pool).stem} {self.spec.arch} P={member.P} seed={member.seed}]"

    def _log(self, e: int, message: str) -> None:
        line = f"{message} (wall {self.wall_time:.1f} s)"
        self.state.records[e].log.append(line)
        print(f"{self._label(e)} {line}", flush=True)

    def _print_progress(self) -> None:
        live = np.flatnonzero(self.state.active)
        losses = [self.state.records[e].train_loss[-1] for e in live if self.state.records[e].train_loss]
        loss_range = f"{min(losses):.2e}..{max(losses):.2e}" if losses else "-"
        epochs = f"{self.state.epoch[live].min()}..{self.state.epoch[live].max()}" if live.size else "-"
        wall = self.wall_time
        print(f"[{wall:.0f} s] step {self.state.total_steps}: {live.size}/{self.n_members} members training, "
              f"epochs {epochs}, last train losses {loss_range}, {self.state.flops.sum() / wall / 1e9:.2f} GFLOP/s",
              flush=True)


def _plain(value: np.ndarray) -> object:
    """A 0-d metadata array as a plain Python scalar."""
    return np.asarray(value).item()
