"""The interface every network presents: an ensemble of E members evaluated on inputs [E', B, v, d].

A member subset (`members`, a LongTensor [E'] of member indices) selects which members run; `None`
means all of them. Subclasses implement `_evaluate`, which may record hidden activations by name.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


class EnsembleNet(nn.Module):
    """Base class for a stack of `n_members` networks of one architecture.

    Subclasses set `hidden_layers` (names ordered input -> output) and implement `_evaluate` and
    `_member_state`.
    """

    def __init__(self, *, n_members: int, v: int, d: int, n_classes: int, hidden_layers: Sequence[str]):
        super().__init__()
        self.n_members = n_members
        self.v = v
        self.d = d
        self.n_classes = n_classes
        self.hidden_layers = tuple(hidden_layers)

    def forward(self, x: Tensor, members: Tensor | Sequence[int] | None = None) -> Tensor:
        """Logits [E', B, n_classes] of the selected members for inputs x [E', B, v, d]."""
        members = self._resolve_members(members)
        self._check_input(x, members)
        return self._evaluate(x, members, None)

    def activations(self, x: Tensor, members: Tensor | Sequence[int] | None = None) -> dict[str, Tensor]:
        """Every hidden layer and "output" (the logits), ordered input -> output, each [E', B, ...].

        The graph is kept; wrap the call in `torch.no_grad()` when only the values are needed.
        The network's train/eval mode is left as it is.
        """
        members = self._resolve_members(members)
        self._check_input(x, members)
        record: dict[str, Tensor] = {}
        record["output"] = self._evaluate(x, members, record)
        return {name: record[name] for name in (*self.hidden_layers, "output")}

    def symbol_logits(self, symbols: Tensor, code: Tensor, members: Tensor | Sequence[int] | None = None) -> Tensor:
        """Logits [E', B, n_classes] for inputs given as symbols [E', B, d] (int, EMPTY = -1) and the encoding
        table code [v+1, v] whose row j encodes symbol j - 1 (srhm.data.encode's values)."""
        return self(code[symbols.long() + 1].transpose(-1, -2), members)

    def flops_per_sample(self) -> tuple[int, int]:
        """(forward, training step) floating-point operations of the model's products (matrix products and
        convolutions, 2 per multiply-add) for one member on one sample."""
        raise NotImplementedError

    def layer_at_depth(self, fraction: float) -> str:
        """Name of hidden_layers[int(len(hidden_layers) * fraction)], fraction in (0, 1), as the authors' stabs.py."""
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"fraction must lie in the open interval (0, 1), got {fraction!r}")
        return self.hidden_layers[int(len(self.hidden_layers) * fraction)]

    def member_state_dict(self, e: int) -> dict[str, Tensor]:
        """State dict of a 1-member network of the same architecture holding member e's weights."""
        if isinstance(e, bool) or int(e) != e or not 0 <= e < self.n_members:
            raise ValueError(f"e must be a member index in [0, {self.n_members}), got {e!r}")
        return self._member_state(int(e))

    def load_member_states(self, states: Sequence[dict[str, Tensor]]) -> None:
        """Load one `member_state_dict`-style state per member: the inverse of member_state_dict."""
        if len(states) != self.n_members:
            raise ValueError(f"states must hold one state dict per member ({self.n_members}), got {len(states)}")
        if self.n_members == 1:
            self.load_state_dict(states[0])
        else:
            self.load_state_dict({name: torch.cat([state[name] for state in states]) for name in states[0]})

    def keep_members(self, slots: Tensor) -> None:
        """Keep only the members at `slots` (a LongTensor of member indices, in the new order), for a network that
        stacks its members: every parameter and buffer is [E, ...]."""
        for tensor in (*self.parameters(), *self.buffers()):
            tensor.data = tensor.data.index_select(0, slots)
        self.n_members = len(slots)

    def _evaluate(self, x: Tensor, members: Tensor | None, record: dict[str, Tensor] | None) -> Tensor:
        """Logits [E', B, n_classes]; store each hidden layer's output in `record` when it is a dict."""
        raise NotImplementedError

    def _member_state(self, e: int) -> dict[str, Tensor]:
        raise NotImplementedError

    def _resolve_members(self, members: Tensor | Sequence[int] | None) -> Tensor | None:
        """Validated member indices as a LongTensor [E'] on the parameters' device, or None for all."""
        if members is None:
            return None
        members = torch.as_tensor(members)
        if members.ndim != 1 or members.numel() == 0 or members.dtype not in (torch.int32, torch.int64):
            raise ValueError(
                f"members must be a non-empty 1-D integer tensor of member indices, got dtype "
                f"{members.dtype} and shape {list(members.shape)}"
            )
        low, high = int(members.min()), int(members.max())
        if low < 0 or high >= self.n_members:
            raise ValueError(f"members must be indices in [0, {self.n_members}), got values in [{low}, {high}]")
        if torch.unique(members).numel() != members.numel():
            raise ValueError(f"members must not repeat an index, got {members.tolist()}")
        device = next(self.parameters()).device
        return members.to(device=device, dtype=torch.long)

    def _check_input(self, x: Tensor, members: Tensor | None) -> None:
        n_selected = self.n_members if members is None else members.numel()
        if x.ndim != 4 or x.shape[0] != n_selected or x.shape[2] != self.v or x.shape[3] != self.d:
            raise ValueError(
                f"x must have shape [members={n_selected}, batch, v={self.v}, d={self.d}] (d = (s(s0+1))^L), "
                f"got {list(x.shape)}"
            )
