"""A single network [B, v, d] -> [B, n_classes] presented as a one-member ensemble.

Used for the BatchNorm architectures (VGG, ResNet, EfficientNet), whose batch statistics forbid
stacking members. The body is built with PyTorch's standard initialisation inside a forked torch RNG
seeded from the init seed, so the global RNG state is untouched. Hidden layers are the body's modules
of one type (ReLU or Sigmoid), named by their module path and captured with forward hooks only while
`activations()` runs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from srhm.models.ensemble import EnsembleNet
from srhm.streams import torch_seed


class SingleMemberNet(EnsembleNet):
    """One member: inputs [1, B, v, d] -> logits [1, B, n_classes]; members must be None or [0]."""

    def __init__(self, make_body: Callable[[], nn.Module], hidden_type: type[nn.Module], *, init_seed: int,
                 v: int, d: int, n_classes: int):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(torch_seed("init", init_seed))
            body = make_body()
        hidden = [name for name, module in body.named_modules() if isinstance(module, hidden_type)]
        super().__init__(n_members=1, v=v, d=d, n_classes=n_classes, hidden_layers=hidden)
        self.body = body

    def _evaluate(self, x: Tensor, members: Tensor | None, record: dict[str, Tensor] | None) -> Tensor:
        if record is None:
            return self.body(x[0])[None]
        modules = dict(self.body.named_modules())
        handles = [modules[name].register_forward_hook(self._recorder(name, record)) for name in self.hidden_layers]
        try:
            return self.body(x[0])[None]
        finally:
            for handle in handles:
                handle.remove()

    @staticmethod
    def _recorder(name: str, record: dict[str, Tensor]) -> Callable[[nn.Module, tuple, Tensor], None]:
        def hook(module: nn.Module, inputs: tuple, output: Tensor) -> None:
            if name in record:
                raise RuntimeError(f"hidden layer {name!r} ran twice in one forward pass")
            record[name] = output[None]

        return hook

    def flops_per_sample(self) -> tuple[int, int]:
        """Counted by torch.utils.flop_counter on a CPU copy of the network (forward, and forward + backward)
        over a batch of two samples (BatchNorm needs more than one), halved."""
        from copy import deepcopy

        from torch.utils.flop_counter import FlopCounterMode

        net = deepcopy(self).cpu().train()
        x = torch.zeros(1, 2, self.v, self.d)
        with torch.random.fork_rng(devices=[]):  # dropout draws here leave the caller's RNG alone
            with FlopCounterMode(display=False) as forward, torch.no_grad():
                net(x)
            with FlopCounterMode(display=False) as step:
                net(x).sum().backward()
        return forward.get_total_flops() // 2, step.get_total_flops() // 2

    def _member_state(self, e: int) -> dict[str, Tensor]:
        return {name: tensor.detach().clone() for name, tensor in self.state_dict().items()}
