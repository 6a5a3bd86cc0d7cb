"""1-D ResNet18 / ResNet34 on inputs [B, v, d] (paper App. B; the authors' models/resnet.py).

Stem Conv1d(v, 64, 3, padding 1) + BatchNorm1d + ReLU, four stages of basic blocks with 64, 128, 256,
512 channels and strides 1, 2, 2, 2, then avg_pool1d(4), flatten and Linear, as in the authors'
resnet.py. The last stage has length ceil(d / 8), which the 4-wide pool needs to be >= 4, so d >= 25;
the classifier takes 512 * (ceil(d / 8) // 4) features (512 for the paper's d = 36, whose last stage
has length 5 and whose pool averages its first 4 positions). Convolutions have no bias.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

from srhm.models.conv import Conv1d

STAGE_CHANNELS = (64, 128, 256, 512)
STAGE_STRIDES = (1, 2, 2, 2)
BLOCKS_PER_STAGE = {"resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3)}
POOL_WIDTH = 4
MIN_LENGTH = 8 * (POOL_WIDTH - 1) + 1


class BasicBlock(nn.Module):
    """Two 3-wide convolutions with a residual connection (1x1 conv + BatchNorm when the shape changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = Conv1d(c_in, c_out, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm1d(c_out)
        self.relu1 = nn.ReLU()
        self.conv2 = Conv1d(c_out, c_out, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm1d(c_out)
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                Conv1d(c_in, c_out, kernel_size=1, stride=stride, bias=False), nn.BatchNorm1d(c_out)
            )
        else:
            self.shortcut = nn.Identity()
        self.relu2 = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu2(out + self.shortcut(x))


class ResNet1d(nn.Module):
    """[B, v, d] -> logits [B, n_classes]; `name` is a key of BLOCKS_PER_STAGE."""

    HIDDEN_LAYER = nn.ReLU

    def __init__(self, name: str, *, v: int, d: int, n_classes: int):
        super().__init__()
        if d < MIN_LENGTH:
            raise ValueError(f"d must be >= {MIN_LENGTH} for {name}: its final avg_pool1d({POOL_WIDTH}) "
                             f"needs a last stage of length >= {POOL_WIDTH}, got d={d}")
        self.conv1 = Conv1d(v, STAGE_CHANNELS[0], kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm1d(STAGE_CHANNELS[0])
        self.relu = nn.ReLU()
        channels = STAGE_CHANNELS[0]
        stages = []
        for c_out, stride, n_blocks in zip(STAGE_CHANNELS, STAGE_STRIDES, BLOCKS_PER_STAGE[name]):
            blocks = []
            for block_stride in (stride,) + (1,) * (n_blocks - 1):
                blocks.append(BasicBlock(channels, c_out, block_stride))
                channels = c_out
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        final_length = math.ceil(d / 8)
        self.linear = nn.Linear(channels * (final_length // POOL_WIDTH), n_classes)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return self.linear(F.avg_pool1d(out, POOL_WIDTH).flatten(1))
