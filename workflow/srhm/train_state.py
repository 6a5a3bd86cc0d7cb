"""What an ensemble's training has done so far (srhm.train), and its form in a checkpoint.

`TrainingState` holds every piece of mutable training progress of the M members besides the networks,
their optimisers and dropout RNGs (which srhm.train.Group saves): where each member stands in its epoch,
its batch order and its record. A checkpoint holds `state.to_checkpoint()`, one entry per field, and
`TrainingState.from_checkpoint` reads it back; both take the field names from the dataclass, so a field
added here is saved and restored without another list of names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from srhm.streams import stream


@dataclass
class MemberRecord:
    """What a member has done so far: curves, best test error and weights, stop, log lines."""

    train_loss: list[float] = dataclasses.field(default_factory=list)
    eval_epoch: list[int] = dataclasses.field(default_factory=list)
    test_error: list[float] = dataclasses.field(default_factory=list)
    test_loss: list[float] = dataclasses.field(default_factory=list)
    best_error: float = float("inf")
    best_epoch: int = 0
    best_state: dict[str, Tensor] | None = None
    final_state: dict[str, Tensor] | None = None  # the weights at the stop (the trainer then drops the member)
    stop_reason: str | None = None
    wall_at_stop: float | None = None
    log: list[str] = dataclasses.field(default_factory=list)


def _saved_as(save: Callable[[Any], Any], load: Callable[[Any], Any]) -> Any:
    """A TrainingState field that a checkpoint holds as save(value) and that load(saved) reads back."""
    return dataclasses.field(metadata={"save": save, "load": load})


def _array() -> Any:
    """A numpy field, held in a checkpoint as a tensor (torch.load(weights_only=True) reads no numpy arrays)."""
    return _saved_as(torch.from_numpy, lambda saved: saved.cpu().numpy().copy())


def _generator(state: dict) -> np.random.Generator:
    """A generator of srhm.streams' kind (NumPy's default, PCG64) set to a saved bit-generator state."""
    rng = np.random.default_rng()
    rng.bit_generator.state = state
    return rng


@dataclass
class TrainingState:
    """The training progress of M members; arrays over members are numpy, indexed with every step.

    cursor: [M] int64, samples of the current epoch already stepped over
    epoch: [M] int64, epochs completed
    steps: [M] int64, SGD steps taken
    active: [M] bool, still training
    perm: [sum of P] int32, each member's order of its P training rows for its current epoch, concatenated
        in member order (member e's is perm[sum(P[:e]) :][: P[e]])
    order_rngs: [M] each member's ("order", seed) stream, which draws its permutations
    epoch_loss: [M] float64 on the training device, the summed loss of the current epoch's samples so far
    flops: [M] float64, floating-point operations of the model's products spent on each member so far (its
        training steps on its real samples and its evaluations; EnsembleNet.flops_per_sample)
    records: [M] the members' curves, best weights, stops and log lines
    total_steps: ensemble steps taken (a step advances every active member by one batch)
    wall_before: seconds of wall time spent on this training before the current process started
    """

    cursor: np.ndarray = _array()
    epoch: np.ndarray = _array()
    steps: np.ndarray = _array()
    active: np.ndarray = _array()
    perm: np.ndarray = _array()
    order_rngs: list[np.random.Generator] = _saved_as(lambda rngs: [rng.bit_generator.state for rng in rngs],
                                                       lambda states: [_generator(state) for state in states])
    epoch_loss: Tensor
    flops: np.ndarray = _array()
    records: list[MemberRecord] = _saved_as(lambda records: [dataclasses.asdict(r) for r in records],
                                            lambda saved: [MemberRecord(**r) for r in saved])
    total_steps: int
    wall_before: float

    @classmethod
    def start(cls, P: np.ndarray, seeds: Sequence[int], device: torch.device) -> TrainingState:
        """The state before the first step of members with training-set sizes P [M] and seeds [M].

        perm is all zeros: the trainer draws each member's first permutation from its order_rngs.
        """
        M = len(P)
        return cls(cursor=np.zeros(M, dtype=np.int64), epoch=np.zeros(M, dtype=np.int64),
                   steps=np.zeros(M, dtype=np.int64), active=np.ones(M, dtype=bool),
                   perm=np.zeros(int(np.sum(P)), dtype=np.int32), order_rngs=[stream("order", seed) for seed in seeds],
                   epoch_loss=torch.zeros(M, dtype=torch.float64, device=device), flops=np.zeros(M),
                   records=[MemberRecord() for _ in range(M)], total_steps=0, wall_before=0.0)

    def to_checkpoint(self) -> dict[str, Any]:
        """Every field, as data torch.save writes and torch.load(weights_only=True) reads back."""
        return {f.name: f.metadata.get("save", _same)(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_checkpoint(cls, saved: dict[str, Any]) -> TrainingState:
        """The state that to_checkpoint() returned `saved` for (tensors stay on the device torch.load put
        them on); ValueError when `saved` does not hold exactly the fields of this class."""
        names = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(saved, dict) or set(saved) != names:
            found = sorted(saved) if isinstance(saved, dict) else type(saved).__name__
            raise ValueError(f"a saved training state must hold exactly the fields {sorted(names)}, got {found}")
        return cls(**{f.name: f.metadata.get("load", _same)(saved[f.name]) for f in dataclasses.fields(cls)})


def _same(value: Any) -> Any:
    return value
