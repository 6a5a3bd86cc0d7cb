"""1-D EfficientNetB0 on inputs [B, v, d] (paper App. B; the authors' models/efficientnet.py).

Stem Conv1d(v, 32, 3, padding 1) + BatchNorm1d + swish, 16 MBConv blocks (1x1 expansion, depthwise
conv, squeeze-excitation, 1x1 projection; residual when stride 1 and channels match), adaptive average
pool, dropout 0.2 and Linear, following the authors' efficientnet.py. Its drop-connect rate is zero in
every block (the block counter it scales with never advances), so there is no drop-connect here.
Every sigmoid is its own `nn.Sigmoid` module (inside each swish and as each SE gate): these are the
nodes whose outputs the authors measured sensitivities on. Any d >= 1 works.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

# stage: (expansion, out_channels, blocks, kernel_size, stride)
STAGES = ((1, 16, 1, 3, 1), (6, 24, 2, 3, 2), (6, 40, 2, 5, 2), (6, 80, 3, 3, 2),
          (6, 112, 3, 5, 1), (6, 192, 4, 5, 2), (6, 320, 1, 3, 1))
STEM_CHANNELS = 32
SE_RATIO = 0.25
DROPOUT = 0.2


class Swish(nn.Module):
    """x * sigmoid(x), with the sigmoid as a separate module."""

    def __init__(self):
        super().__init__()
        self.gate = nn.Sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gate(x)


class SqueezeExcitation(nn.Module):
    """Channel gating [B, C, n] -> [B, C, n] from the length-averaged channels."""

    def __init__(self, channels: int, se_channels: int):
        super().__init__()
        self.squeeze = nn.Conv1d(channels, se_channels, kernel_size=1)
        self.act = Swish()
        self.excite = nn.Conv1d(se_channels, channels, kernel_size=1)
        self.gate = nn.Sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        pooled = F.adaptive_avg_pool1d(x, 1)
        return x * self.gate(self.excite(self.act(self.squeeze(pooled))))


class MBConv(nn.Module):
    """Inverted residual block: expansion, depthwise conv, squeeze-excitation, projection."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int, expansion: int):
        super().__init__()
        channels = expansion * c_in
        if expansion != 1:
            self.expand = nn.Sequential(nn.Conv1d(c_in, channels, kernel_size=1, bias=False),
                                        nn.BatchNorm1d(channels), Swish())
        else:
            self.expand = nn.Identity()
        self.depthwise = nn.Sequential(
            nn.Conv1d(channels, channels, kernel_size, stride=stride, padding=kernel_size // 2, groups=channels,
                      bias=False),
            nn.BatchNorm1d(channels),
            Swish(),
        )
        self.se = SqueezeExcitation(channels, int(c_in * SE_RATIO))
        self.project = nn.Sequential(nn.Conv1d(channels, c_out, kernel_size=1, bias=False), nn.BatchNorm1d(c_out))
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: Tensor) -> Tensor:
        out = self.project(self.se(self.depthwise(self.expand(x))))
        return out + x if self.residual else out


class EfficientNetB0(nn.Module):
    """[B, v, d] -> logits [B, n_classes] for any d; `name` must be "efficientnetb0" (the one variant)."""

    HIDDEN_LAYER = nn.Sigmoid

    def __init__(self, name: str, *, v: int, d: int, n_classes: int):
        if name != "efficientnetb0":
            raise ValueError(f"name must be 'efficientnetb0', got {name!r}")
        super().__init__()
        self.stem = nn.Sequential(nn.Conv1d(v, STEM_CHANNELS, kernel_size=3, padding=1, bias=False),
                                  nn.BatchNorm1d(STEM_CHANNELS), Swish())
        blocks = []
        channels = STEM_CHANNELS
        for expansion, c_out, n_blocks, kernel_size, stride in STAGES:
            for block_stride in (stride,) + (1,) * (n_blocks - 1):
                blocks.append(MBConv(channels, c_out, kernel_size, block_stride, expansion))
                channels = c_out
        self.blocks = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(DROPOUT)
        self.linear = nn.Linear(channels, n_classes)

    def forward(self, x: Tensor) -> Tensor:
        out = F.adaptive_avg_pool1d(self.blocks(self.stem(x)), 1).flatten(1)
        return self.linear(self.dropout(out))
