"""LCN, CNN and FCN ensembles in the paper's mean-field parametrisation (paper Fig. 3 and App. B; the authors' models/lcn.py, cnn2.py, fcn2.py), and their SGD step.

Every parameter carries a leading member dimension E, so the ensemble runs as one batched matrix
product per layer and the gradients of different members never mix.

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

Layout. Activations and weights are position-major: a patch of k positions of C channels is the vector
of length k*C whose entry j*C + c is channel c of its j-th position, and a weight's fan-in is indexed the
same way (LCN weight [E, n_out, k*C_in, C_out], CNN [E, k*C_in, C_out], FCN [E, n_in*C_in, n_out*C_out]
whose output entry p*C_out + o is channel o at position p, FCN bias [E, n_out*C_out] likewise; LCN and
CNN biases [E, n_out, C_out]). Each layer is one batched product of patches A [G, R, F] by weights
[G, F, O] into pre-activations [G, R, O]:
- LCN: G = E*n_out products, each of the B samples' patches at one position; activations [E*n, B, C];
- CNN: G = E products of the B*n_out patches of all positions; activations [E, B*n, C];
- FCN: G = E products of the B whole inputs; activations [E, B, n*C].
The CNN and FCN read their patches as views of the layer below; the LCN regroups them (one copy a layer).
`HierarchicalNet.sgd_step` is the training step written out by hand: the forward pass above, its backward
pass as batched products, and torch.optim.SGD's momentum update with each weight gradient accumulated
into its momentum buffer by the product that computes it (no gradient tensors, no autograd graph).
`POSITION_MAJOR` names this layout in saved weights; `position_major_state` converts the channel-major
layout (patch entry c*k + j) that earlier versions saved.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from srhm.models.ensemble import EnsembleNet
from srhm.streams import torch_seed

BIAS_SCALE = 0.1
POSITION_MAJOR = "position-major"
"""The parameter layout of the module docstring, recorded beside saved weights."""


def select_members(parameter: Tensor | None, members: Tensor | None) -> Tensor | None:
    """The rows [E', ...] of an ensemble parameter [E, ...] for the selected members (all when None)."""
    if parameter is None or members is None:
        return parameter
    return parameter.index_select(0, members)


def _regroup(t: Tensor, first: int, second: int) -> Tensor:
    """Swap two adjacent blocks of the fan-in axis (-2): [..., first*second, O] read as (first, second)
    -> [..., second*first, O]."""
    return t.unflatten(-2, (first, second)).transpose(-3, -2).flatten(-3, -2)


class _Layer(nn.Module):
    """A hidden layer of E members, patches A [G, R, F] -> pre-activations [G, R, O] (module docstring).

    Subclasses give the grouping: `arrange` (channels-first inputs [E', B, C, d] -> this family's activation
    layout), `patches` (the activations below -> A, and its adjoint `patches_grad`), `matrix` (weights ->
    [G, F, O]), `_by_member` (pre-activations as a view in which the bias broadcasts after unsqueeze(BIAS_DIM))
    and `channels_first` (activations -> the view [E', B, C_out, n_out]).
    """

    BIAS_DIM = 1

    def __init__(self, weight_shape: tuple[int, ...], bias_shape: tuple[int, ...], n_members: int, c_in: int,
                 c_out: int, n_out: int, k: int, bias: bool):
        super().__init__()
        self.c_in, self.c_out, self.n_out, self.k = c_in, c_out, n_out, k
        self.scale = c_in**-0.5
        self.weight = nn.Parameter(torch.empty(n_members, *weight_shape))
        self.bias = nn.Parameter(torch.empty(n_members, *bias_shape)) if bias else None

    def pre_activation(self, A: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        """(A . w) / sqrt(C_in) + 0.1 b, [G, R, O], for patches A [G, R, F] and members' weight [E', ...]."""
        z = torch.bmm(A, self.matrix(weight))
        if bias is None:
            return z.mul_(self.scale)
        by_member = self._by_member(z, weight.shape[0])
        return torch.add(BIAS_SCALE * bias.unsqueeze(self.BIAS_DIM), by_member, alpha=self.scale).view(z.shape)

    def bias_grad(self, dz: Tensor, members: int) -> Tensor:
        """Sum of dz [G, R, O] over the samples (and the CNN's positions) in the bias's shape [E', ...]."""
        return self._by_member(dz, members).sum(self.BIAS_DIM)

    def flops(self) -> int:
        """Multiply-adds of the layer's product for one sample of one member."""
        return self.n_out * self.k * self.c_in * self.c_out

    def arrange(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def patches(self, h: Tensor, members: int) -> Tensor:
        raise NotImplementedError

    def patches_grad(self, dA: Tensor, members: int) -> Tensor:
        raise NotImplementedError

    def channels_first(self, h: Tensor, members: int) -> Tensor:
        raise NotImplementedError

    def position_major(self, weight: Tensor, bias: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """Weight and bias [..., shape] of the channel-major layout (patch entry c*k + j) in this layout."""
        return _regroup(weight, self.c_in, self.k), bias

    def matrix(self, weight: Tensor) -> Tensor:
        """weight [E', ...] as the [G, F, O] operand of the product (a view)."""
        return weight

    def _by_member(self, z: Tensor, members: int) -> Tensor:
        raise NotImplementedError


class LocallyConnected(_Layer):
    """One filter per position: weight [E, n_out, k*C_in, C_out]; activations [E*n, B, C] (position-outer)."""

    BIAS_DIM = 2

    def __init__(self, n_members: int, c_in: int, c_out: int, n_out: int, k: int, bias: bool):
        super().__init__((n_out, k * c_in, c_out), (n_out, c_out), n_members, c_in, c_out, n_out, k, bias)

    def arrange(self, x: Tensor) -> Tensor:
        e, b, c, d = x.shape
        return x.permute(0, 3, 1, 2).reshape(e * d, b, c)

    def patches(self, h: Tensor, members: int) -> Tensor:
        _, b, c = h.shape
        return h.view(members, self.n_out, self.k, b, c).transpose(2, 3).reshape(members * self.n_out, b, self.k * c)

    def patches_grad(self, dA: Tensor, members: int) -> Tensor:
        _, b, _ = dA.shape
        return dA.view(members, self.n_out, b, self.k, self.c_in).transpose(2, 3).reshape(-1, b, self.c_in)

    def channels_first(self, h: Tensor, members: int) -> Tensor:
        return h.view(members, self.n_out, -1, self.c_out).permute(0, 2, 3, 1)

    def matrix(self, weight: Tensor) -> Tensor:
        return weight.flatten(0, 1)

    def _by_member(self, z: Tensor, members: int) -> Tensor:
        return z.view(members, self.n_out, -1, self.c_out)


class SharedConv(_Layer):
    """One filter shared by all positions: weight [E, k*C_in, C_out]; activations [E, B*n, C] (position-inner)."""

    def __init__(self, n_members: int, c_in: int, c_out: int, n_out: int, k: int, bias: bool):
        super().__init__((k * c_in, c_out), (n_out, c_out), n_members, c_in, c_out, n_out, k, bias)

    def arrange(self, x: Tensor) -> Tensor:
        e, b, c, d = x.shape
        return x.transpose(2, 3).reshape(e, b * d, c)

    def patches(self, h: Tensor, members: int) -> Tensor:
        return h.reshape(members, -1, self.k * h.shape[-1])

    def patches_grad(self, dA: Tensor, members: int) -> Tensor:
        return dA.view(members, -1, self.c_in)

    def channels_first(self, h: Tensor, members: int) -> Tensor:
        return h.view(members, -1, self.n_out, self.c_out).transpose(2, 3)

    def _by_member(self, z: Tensor, members: int) -> Tensor:
        return z.view(members, -1, self.n_out, self.c_out)


class Dense(_Layer):
    """Dense layer: weight [E, n_in*C_in, n_out*C_out], bias [E, n_out*C_out]; activations [E, B, n*C]."""

    def __init__(self, n_members: int, c_in: int, c_out: int, n_out: int, k: int, bias: bool):
        super().__init__((n_out * k * c_in, n_out * c_out), (n_out * c_out,), n_members, c_in, c_out, n_out, k, bias)

    def arrange(self, x: Tensor) -> Tensor:
        e, b, c, d = x.shape
        return x.transpose(2, 3).reshape(e, b, d * c)

    def patches(self, h: Tensor, members: int) -> Tensor:
        return h

    def patches_grad(self, dA: Tensor, members: int) -> Tensor:
        return dA

    def channels_first(self, h: Tensor, members: int) -> Tensor:
        return h.view(members, -1, self.n_out, self.c_out).transpose(2, 3)

    def flops(self) -> int:
        return self.n_out * self.k * self.c_in * self.n_out * self.c_out

    def position_major(self, weight: Tensor, bias: Tensor | None) -> tuple[Tensor, Tensor | None]:
        n_in = self.n_out * self.k
        weight = _regroup(_regroup(weight, self.c_in, n_in).transpose(-1, -2), self.c_out, self.n_out)
        return weight.transpose(-1, -2), None if bias is None else _regroup(bias[..., None], self.c_out, self.n_out)[..., 0]

    def _by_member(self, z: Tensor, members: int) -> Tensor:
        return z


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
        """Member e's parameters, in registration order and in the channel-major layout (patch entry c*k + j),
        are N(0, 1) draws from a generator seeded by init_seeds[e]; so a member's initial network does not
        depend on the layout."""
        for e, seed in enumerate(init_seeds):
            generator = torch.Generator().manual_seed(torch_seed("init", seed))
            state = {name: torch.empty_like(p[e : e + 1]).normal_(generator=generator)
                     for name, p in self.named_parameters()}
            for name, value in position_major_state(self, state).items():
                self.get_parameter(name)[e] = value[0]

    # ---- forward -------------------------------------------------------------------------------
    def first_patches(self, x: Tensor) -> Tensor:
        """Channels-first inputs x [E', B, v, d] -> the first layer's patches A [G, R, k*v]."""
        return self.layers[0].patches(self.layers[0].arrange(x), x.shape[0])

    def symbol_patches(self, symbols: Tensor, code: Tensor) -> Tensor:
        """The first layer's patches [G, R, k*v] of inputs given as symbols [E', B, d] (int, EMPTY = -1) and the
        encoding table code [v+1, v] (row j encodes symbol j - 1), without forming the encoded inputs."""
        first = self.layers[0]
        index = first.patches(first.arrange(symbols[:, :, None, :]), symbols.shape[0])  # [G, R, k]
        return code[index.long() + 1].flatten(-2)

    def symbol_logits(self, symbols: Tensor, code: Tensor, members: Tensor | None = None) -> Tensor:
        return self.logits(self.symbol_patches(symbols, code), self._resolve_members(members))

    def logits(self, A: Tensor, members: Tensor | None = None, saved: list | None = None) -> Tensor:
        """Logits [E', B, n_classes] of the selected members from first-layer patches A; `saved` receives
        each layer's (patches, activations)."""
        n = self.n_members if members is None else len(members)
        h = None
        for layer in self.layers:
            if h is not None:
                A = layer.patches(h, n)
            h = layer.pre_activation(A, select_members(layer.weight, members),
                                     select_members(layer.bias, members)).relu_()
            if saved is not None:
                saved.append((A, h))
        return torch.bmm(h.view(n, -1, self.width), select_members(self.readout, members)).div_(self.width)

    def _evaluate(self, x: Tensor, members: Tensor | None, record: dict[str, Tensor] | None) -> Tensor:
        saved = [] if record is not None else None
        logits = self.logits(self.first_patches(x), members, saved)
        if record is not None:
            for name, layer, (_, h) in zip(self.hidden_layers, self.layers, saved):
                record[name] = layer.channels_first(h, x.shape[0])
        return logits

    # ---- training ------------------------------------------------------------------------------
    @torch.no_grad()
    def sgd_step(self, A: Tensor, y: Tensor, weight: Tensor, buffers: list[Tensor], *, lr: float,
                 momentum: float, weight_decay: float = 0.0, fold: bool = True) -> Tensor:
        """One step of SGD with momentum for every member on the loss sum_b weight[e, b] CE(logits[e, b], y[e, b])
        (+ weight_decay x sum over parameter tensors of mean(p^2)); returns [E] float64, each member's summed
        cross-entropy over the samples of positive weight.

        A: first-layer patches [G, R, k*v] (symbol_patches); y [E, B] labels; weight [E, B] (0 for padding);
        buffers: a momentum buffer per parameter (same order and shape, zeros before the first step). The update
        is torch.optim.SGD's: buf = momentum buf + grad, p -= lr buf. With fold, each weight gradient is
        accumulated into its buffer by the product that computes it (baddbmm with beta = momentum); without it
        (for reduced-precision autocast, whose products return bf16) the gradient is formed first.
        """
        n = self.n_members
        params = list(self.parameters())
        index = {id(p): i for i, p in enumerate(params)}
        grads: list[Tensor | None] = [None] * len(params)  # those not accumulated into their buffer by a product

        def accumulate(parameter: Tensor, a: Tensor, b: Tensor, alpha: float = 1.0, as_matrix=lambda t: t) -> None:
            """buffer = momentum buffer + alpha a @ b in one product (fold), else grad = alpha a @ b for the
            update below."""
            i = index[id(parameter)]
            if fold:
                as_matrix(buffers[i]).baddbmm_(a, b, beta=momentum, alpha=alpha)
            else:
                grads[i] = torch.bmm(a, b).mul_(alpha)

        saved: list[tuple[Tensor, Tensor]] = []
        logits = self.logits(A, saved=saved)
        log_p = F.log_softmax(logits.float(), dim=-1)
        picked = log_p.gather(-1, y[..., None])[..., 0]  # [E, B]
        sums = -(picked * (weight > 0)).sum(1, dtype=torch.float64)
        dlogits = log_p.exp_().scatter_add_(-1, y[..., None], torch.full_like(picked[..., None], -1.0))
        dlogits.mul_((weight / self.width)[..., None])  # d loss / d (h . beta): the readout's 1/H folded in
        accumulate(self.readout, saved[-1][1].view(n, -1, self.width).transpose(1, 2), dlogits)
        dh = torch.bmm(dlogits, self.readout.transpose(1, 2))
        for l in reversed(range(len(self.layers))):
            layer, (A_l, h) = self.layers[l], saved[l]
            dz = torch.ops.aten.threshold_backward(dh.view(h.shape), h, 0)  # d loss / d pre-activation
            if layer.bias is not None:
                grads[index[id(layer.bias)]] = layer.bias_grad(dz, n).mul_(BIAS_SCALE)
            if l:  # d loss / d A = scale dz . w^T, the 1/sqrt(C_in) applied by the product
                weight_t = layer.matrix(layer.weight).transpose(1, 2)
                dh = layer.patches_grad(torch.baddbmm(dz.new_empty(()), dz, weight_t, beta=0, alpha=layer.scale), n)
            accumulate(layer.weight, A_l.transpose(1, 2), dz, layer.scale, layer.matrix)
        for p, buf, grad in zip(params, buffers, grads):
            if grad is not None:
                buf.mul_(momentum).add_(grad.view(buf.shape))
            if weight_decay:
                buf.add_(p, alpha=2 * weight_decay / p[0].numel())
        torch._foreach_add_(params, buffers, alpha=-lr)
        return sums

    def flops_per_sample(self) -> tuple[int, int]:
        """Counted from the layer sizes: the forward pass is the layers' and the readout's products; a training
        step adds their weight gradients' products and the input gradients' of every layer but the first."""
        layers = [layer.flops() for layer in self.layers]
        readout = self.width * self.n_classes
        forward = sum(layers) + readout
        return 2 * forward, 2 * (forward + forward + (forward - layers[0]))

    def _member_state(self, e: int) -> dict[str, Tensor]:
        return {name: tensor[e : e + 1].detach().clone() for name, tensor in self.state_dict().items()}

    def extra_repr(self) -> str:
        return f"arch={self.arch!r}, n_members={self.n_members}, v={self.v}, d={self.d}, width={self.width}"


def position_major_state(net: HierarchicalNet, state: dict[str, Tensor]) -> dict[str, Tensor]:
    """A state dict of `net`'s architecture saved in the channel-major layout (patch entry c*k + j, earlier
    versions' model.pt) in this module's position-major layout; the readout and the LCN/CNN biases are the same."""
    converted = dict(state)
    for l, layer in enumerate(net.layers):
        weight, bias = f"layers.{l}.weight", f"layers.{l}.bias"
        converted[weight], new_bias = layer.position_major(state[weight], state.get(bias))
        if new_bias is not None:
            converted[bias] = new_bias
    return converted
