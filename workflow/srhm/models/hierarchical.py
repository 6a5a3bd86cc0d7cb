"""LCN, CNN and FCN ensembles in the paper's mean-field parametrisation (paper Fig. 3 and App. B; the authors' models/lcn.py, cnn2.py, fcn2.py).

Every parameter carries a leading member dimension E, so the ensemble runs as a few batched matrix
products per layer and the gradients of different members never mix.

With k = s(s0+1) and d = k^L, hidden layer l (1..L) has n_l = d / k^l positions and H channels:
- LCN: non-overlapping locally connected layer, filter size = stride = k, a separate filter per position;
- CNN: the same with one filter shared by all positions;
- FCN: a dense layer from C_{l-1} * n_{l-1} to H * n_l units (the LCN's effective size).
As in the authors' lcn.py, cnn2.py and fcn2.py:
- pre-activation = (w . x) / sqrt(C_in) + 0.1 b, where C_in is the number of input channels (v, then H),
  not the fan-in (also for the FCN, whose fan-in is C_in * n_{l-1});
- the bias has one entry per output channel and position in all three nets (the CNN shares its filter only);
- weights, biases and readout are drawn N(0, 1); the 0.1 bias factor is applied in the forward pass;
- ReLU after each hidden layer; logits = h . beta / H with beta [H, n_classes] (mean-field readout).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from srhm.models.ensemble import EnsembleNet
from srhm.streams import torch_seed

BIAS_SCALE = 0.1


def select_members(parameter: Tensor | None, members: Tensor | None) -> Tensor | None:
    """The rows [E', ...] of an ensemble parameter [E, ...] for the selected members (all when None)."""
    if parameter is None or members is None:
        return parameter
    return parameter.index_select(0, members)


def non_overlapping_patches(h: Tensor, k: int) -> Tensor:
    """[E', B, C, n] -> [E', n // k, B, C * k]: consecutive positions grouped by k, channel-major."""
    e, b, c, n = h.shape
    return h.unflatten(3, (n // k, k)).permute(0, 3, 1, 2, 4).reshape(e, n // k, b, c * k)


def scale_and_shift(product: Tensor, bias: Tensor | None, c_in: int) -> Tensor:
    """product / sqrt(c_in) + 0.1 * bias (bias broadcast against product)."""
    if bias is None:
        return product * c_in**-0.5
    return torch.add(BIAS_SCALE * bias, product, alpha=c_in**-0.5)


class _PatchLayer(nn.Module):
    """Non-overlapping layer [E', B, C_in, n_out * k] -> pre-activation [E', B, C_out, n_out]."""

    def __init__(self, weight_shape: tuple[int, ...], n_members: int, c_in: int, c_out: int, n_out: int, k: int,
                 bias: bool):
        super().__init__()
        self.c_in, self.c_out, self.n_out, self.k = c_in, c_out, n_out, k
        self.weight = nn.Parameter(torch.empty(n_members, *weight_shape))
        self.bias = nn.Parameter(torch.empty(n_members, n_out, c_out)) if bias else None

    def forward(self, h: Tensor, members: Tensor | None) -> Tensor:
        patches = non_overlapping_patches(h, self.k)
        product = self._contract(patches, select_members(self.weight, members))
        bias = select_members(self.bias, members)
        out = scale_and_shift(product, None if bias is None else bias[:, :, None, :], self.c_in)
        return out.permute(0, 2, 3, 1)

    def _contract(self, patches: Tensor, weight: Tensor) -> Tensor:
        """patches [E', n_out, B, C_in * k], weight [E', ...] -> [E', n_out, B, C_out]."""
        raise NotImplementedError


class LocallyConnected(_PatchLayer):
    """One filter per position: weight [E, n_out, C_in * k, C_out] (input index c * k + j)."""

    def __init__(self, n_members: int, c_in: int, c_out: int, n_out: int, k: int, bias: bool):
        super().__init__((n_out, c_in * k, c_out), n_members, c_in, c_out, n_out, k, bias)

    def _contract(self, patches: Tensor, weight: Tensor) -> Tensor:
        e, n_out, b, fan = patches.shape
        product = torch.bmm(patches.reshape(e * n_out, b, fan), weight.reshape(e * n_out, fan, self.c_out))
        return product.view(e, n_out, b, self.c_out)


class SharedConv(_PatchLayer):
    """One filter shared by all positions: weight [E, C_in * k, C_out] (input index c * k + j)."""

    def __init__(self, n_members: int, c_in: int, c_out: int, n_out: int, k: int, bias: bool):
        super().__init__((c_in * k, c_out), n_members, c_in, c_out, n_out, k, bias)

    def _contract(self, patches: Tensor, weight: Tensor) -> Tensor:
        e, n_out, b, fan = patches.shape
        return torch.bmm(patches.reshape(e, n_out * b, fan), weight).view(e, n_out, b, self.c_out)


class Dense(nn.Module):
    """Dense layer [E', B, C_in, n_out * k] -> [E', B, C_out, n_out]; weight [E, C_in * n_in, C_out * n_out]."""

    def __init__(self, n_members: int, c_in: int, c_out: int, n_out: int, k: int, bias: bool):
        super().__init__()
        self.c_in, self.c_out, self.n_out = c_in, c_out, n_out
        self.weight = nn.Parameter(torch.empty(n_members, c_in * n_out * k, c_out * n_out))
        self.bias = nn.Parameter(torch.empty(n_members, c_out * n_out)) if bias else None

    def forward(self, h: Tensor, members: Tensor | None) -> Tensor:
        e, b = h.shape[:2]
        product = torch.bmm(h.reshape(e, b, -1), select_members(self.weight, members))
        bias = select_members(self.bias, members)
        out = scale_and_shift(product, None if bias is None else bias[:, None, :], self.c_in)
        return out.view(e, b, self.c_out, self.n_out)


LAYER_TYPES = {"lcn": LocallyConnected, "cnn": SharedConv, "fcn": Dense}


class HierarchicalNet(EnsembleNet):
    """An ensemble of L-hidden-layer LCNs, CNNs or FCNs; hidden layers "layer1".."layerL", each [E', B, H, n_l]."""

    def __init__(self, arch: str, *, v: int, n_classes: int, s: int, s0: int, L: int, width: int,
                 init_seeds: tuple[int, ...], bias: bool):
        k = s * (s0 + 1)
        d = k**L
        super().__init__(n_members=len(init_seeds), v=v, d=d, n_classes=n_classes,
                         hidden_layers=[f"layer{layer}" for layer in range(1, L + 1)])
        self.arch = arch
        self.width = width
        channels = [v] + [width] * L
        self.layers = nn.ModuleList(
            LAYER_TYPES[arch](self.n_members, channels[l], width, d // k ** (l + 1), k, bias) for l in range(L)
        )
        self.readout = nn.Parameter(torch.empty(self.n_members, width, n_classes))
        self._initialise(init_seeds)

    @torch.no_grad()
    def _initialise(self, init_seeds: tuple[int, ...]) -> None:
        """Member e's parameters, in registration order, are N(0, 1) draws from a generator seeded by init_seeds[e]."""
        for e, seed in enumerate(init_seeds):
            generator = torch.Generator().manual_seed(torch_seed("init", seed))
            for parameter in self.parameters():
                parameter[e].normal_(generator=generator)

    def _evaluate(self, x: Tensor, members: Tensor | None, record: dict[str, Tensor] | None) -> Tensor:
        h = x
        for name, layer in zip(self.hidden_layers, self.layers):
            h = torch.relu(layer(h, members))
            if record is not None:
                record[name] = h
        features = h.reshape(h.shape[0], h.shape[1], self.width)
        return torch.bmm(features, select_members(self.readout, members)) / self.width

    def _member_state(self, e: int) -> dict[str, Tensor]:
        return {name: tensor[e : e + 1].detach().clone() for name, tensor in self.state_dict().items()}

    def extra_repr(self) -> str:
        return f"arch={self.arch!r}, n_members={self.n_members}, v={self.v}, d={self.d}, width={self.width}"
