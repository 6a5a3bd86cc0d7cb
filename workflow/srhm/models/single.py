"""A single network [B, v, d] -> [B, n_classes] presented as a one-member ensemble.

Used for the BatchNorm architectures (VGG, ResNet, EfficientNet), whose batch statistics forbid stacking
members as the LCN/CNN/FCN stack them; `StackedNets` stacks several such nets with torch.func instead. The
body is built with PyTorch's standard initialisation inside a forked torch RNG seeded from the init seed,
so the global RNG state is untouched. Hidden layers are the body's modules of one type (ReLU or Sigmoid),
named by their module path and captured with forward hooks only while `activations()` runs.
"""

from __future__ import annotations

import copy
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
        from torch.utils.flop_counter import FlopCounterMode

        net = copy.deepcopy(self).cpu().train()
        x = torch.zeros(1, 2, self.v, self.d)
        with torch.random.fork_rng(devices=[]):  # dropout draws here leave the caller's RNG alone
            with FlopCounterMode(display=False) as forward, torch.no_grad():
                net(x)
            with FlopCounterMode(display=False) as step:
                net(x).sum().backward()
        return forward.get_total_flops() // 2, step.get_total_flops() // 2

    def _member_state(self, e: int) -> dict[str, Tensor]:
        return {name: tensor.detach().clone() for name, tensor in self.state_dict().items()}

    def keep_members(self, slots: Tensor) -> None:
        raise TypeError("a SingleMemberNet has no member dimension to keep members of")


class StackedNets(EnsembleNet):
    """Single-member nets of one architecture stacked with torch.func: E members in one module.

    Each parameter and buffer of the body is stacked into one [E, ...] tensor (torch.func.stack_module_state,
    registered here under its name with "." -> "__"), and a forward pass is torch.func.vmap over the members
    of torch.func.functional_call of one template body, so every member keeps its own BatchNorm statistics and
    draws its own dropout masks (randomness="different"). Its members' state dicts (member_state_dict) are
    those of SingleMemberNet, so a member saved from a stack loads into a net built alone.
    Hidden activations (activations()) are taken member by member, with hooks on the template.
    """

    def __init__(self, nets: list[SingleMemberNet]):
        first = nets[0]
        super().__init__(n_members=len(nets), v=first.v, d=first.d, n_classes=first.n_classes,
                         hidden_layers=first.hidden_layers)
        from torch.func import stack_module_state

        params, buffers = stack_module_state([net.body for net in nets])
        # the template's own tensors are never used (functional_call passes the stacked ones); unregistered, so
        # that it adds nothing to parameters(), buffers() or the state dict
        object.__setattr__(self, "template", copy.deepcopy(first.body).to("meta"))
        self.names = {name: name.replace(".", "__") for name in first.body.state_dict()}
        for name, tensor in params.items():
            self.register_parameter(self.names[name], nn.Parameter(tensor.detach()))
        for name, tensor in buffers.items():
            self.register_buffer(self.names[name], tensor)
        self._flops = first.flops_per_sample()

    def flops_per_sample(self) -> tuple[int, int]:
        return self._flops

    def train(self, mode: bool = True) -> StackedNets:
        super().train(mode)
        self.template.train(mode)
        return self

    def _stacked(self, members: Tensor | None) -> dict[str, Tensor]:
        """The body's parameters and buffers by name, [E', ...], for the selected members (all when None)."""
        if members is not None and self.training:
            raise ValueError("a member subset runs in eval mode only: a training pass updates BatchNorm statistics")
        return {name: getattr(self, stacked) if members is None else getattr(self, stacked).index_select(0, members)
                for name, stacked in self.names.items()}

    def _evaluate(self, x: Tensor, members: Tensor | None, record: dict[str, Tensor] | None) -> Tensor:
        from torch.func import functional_call, vmap

        stacked = self._stacked(members)
        if record is None:
            return vmap(lambda state, inputs: functional_call(self.template, state, (inputs,)),
                        randomness="different")(stacked, x)
        per_member = []
        for e in range(x.shape[0]):
            record_e: dict[str, Tensor] = {}
            state = {name: tensor[e] for name, tensor in stacked.items()}
            modules = dict(self.template.named_modules())
            handles = [modules[name].register_forward_hook(SingleMemberNet._recorder(name, record_e))
                       for name in self.hidden_layers]
            try:
                record_e["output"] = functional_call(self.template, state, (x[e],))[None]
            finally:
                for handle in handles:
                    handle.remove()
            per_member.append(record_e)
        for name in self.hidden_layers:
            record[name] = torch.cat([r[name] for r in per_member])
        return torch.cat([r["output"] for r in per_member])

    def _member_state(self, e: int) -> dict[str, Tensor]:
        return {f"body.{name}": getattr(self, stacked)[e].detach().clone() for name, stacked in self.names.items()}
