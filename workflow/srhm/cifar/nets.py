"""2-D networks for CIFAR-10, images [B, 3, 32, 32] -> logits [B, 10], as in Petrini et al. 2021.

The convolutional nets follow the CIFAR versions of kuangliu/pytorch-cifar that diffeo-sota trains,
with PyTorch's default initialisation:
- LeNet: conv 5x5 (6) - maxpool 2 - conv 5x5 (16) - maxpool 2 - 400 -> 120 -> 84 -> 10, ReLU.
- AlexNet (CIFAR variant): conv 3x3 stride 2 (64), maxpool, conv (192), maxpool, convs (384, 256, 256),
  maxpool, then dropout 0.5 / 1024 -> 4096 -> 4096 -> 10.
- VGG11/16/19: 3x3 convolutions (with BatchNorm for the "bn" variants), max-pooling, Linear(512, 10).
- ResNet18/34 (basic blocks) and ResNet50 (bottlenecks): 3x3 stem with 64 channels, stages of strides
  1, 2, 2, 2, 4x4 average pool, Linear.
- EfficientNetB0: 3x3 stem with 32 channels, 16 MBConv blocks (expansion, depthwise conv,
  squeeze-excitation, projection), swish, global average pool, dropout 0.2, Linear(320, 10).
The fully connected FullConnL{2,4,6} have L - 1 hidden ReLU layers of width 64 in the mean-field
parametrisation of diffeo-sota: weights and biases N(0, 1), pre-activations x w / sqrt(fan_in) + b,
and a bias-free readout x w / fan_in.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from srhm.cifar.data import IMAGE_SHAPE, N_CLASSES
from srhm.cifar.settings import NETS
from srhm.checks import check_choice, check_int
from srhm.streams import torch_seed

FULLCONN_WIDTH = 64
VGG_CHANNELS = {  # "M" = 2x2 max-pool
    "vgg11": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    "vgg19": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"),
}
RESNET_BLOCKS = {"resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3), "resnet50": (3, 4, 6, 3)}
# EfficientNetB0 stages: (expansion, out_channels, blocks, kernel_size, stride)
EFFICIENTNET_STAGES = ((1, 16, 1, 3, 1), (6, 24, 2, 3, 2), (6, 40, 2, 5, 2), (6, 80, 3, 3, 2),
                       (6, 112, 3, 5, 1), (6, 192, 4, 5, 2), (6, 320, 1, 3, 1))


def build_net(name: str, seed: int) -> nn.Module:
    """Network `name` (one of srhm.cifar.settings.NETS) whose initial weights depend only on `seed`."""
    check_choice("net", name, NETS)
    check_int("seed", seed, 0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(torch_seed("init", seed))
        if name.startswith("fullconn"):
            return FullConn(hidden_layers=int(name.removeprefix("fullconnl")) - 1)
        if name == "lenet":
            return LeNet()
        if name == "alexnet":
            return AlexNet()
        if name.startswith("vgg"):
            return VGG(VGG_CHANNELS[name.removesuffix("bn")], batch_norm=name.endswith("bn"))
        if name.startswith("resnet"):
            return ResNet(RESNET_BLOCKS[name], bottleneck=name == "resnet50")
        return EfficientNetB0()


class FullConn(nn.Module):
    """Mean-field fully connected net: `hidden_layers` ReLU layers of width 64 and a 1/fan_in readout."""

    def __init__(self, hidden_layers: int):
        super().__init__()
        widths = [math.prod(IMAGE_SHAPE)] + [FULLCONN_WIDTH] * hidden_layers
        self.weights = nn.ParameterList(nn.Parameter(torch.randn(a, b)) for a, b in zip(widths, widths[1:]))
        self.biases = nn.ParameterList(nn.Parameter(torch.randn(b)) for b in widths[1:])
        self.readout = nn.Parameter(torch.randn(widths[-1], N_CLASSES))

    def forward(self, x: Tensor) -> Tensor:
        h = x.flatten(1)
        for weight, bias in zip(self.weights, self.biases):
            h = F.relu(h @ weight / math.sqrt(weight.shape[0]) + bias)
        return h @ self.readout / self.readout.shape[0]


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
        self.classifier = nn.Sequential(nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                                        nn.Linear(84, N_CLASSES))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


class AlexNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 3, stride=2, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 192, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
        self.classifier = nn.Sequential(nn.Dropout(), nn.Linear(256 * 2 * 2, 4096), nn.ReLU(), nn.Dropout(),
                                        nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, N_CLASSES))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


class VGG(nn.Module):
    """3x3 convolutions (+ BatchNorm) and ReLU, "M" = 2x2 max-pool; the 1x1x512 output feeds Linear(512, 10)."""

    def __init__(self, channels: tuple, batch_norm: bool):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = IMAGE_SHAPE[0]
        for c_out in channels:
            if c_out == "M":
                layers.append(nn.MaxPool2d(2))
                continue
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), *([nn.BatchNorm2d(c_out)] if batch_norm else []),
                       nn.ReLU()]
            c_in = c_out
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.classifier = nn.Linear(c_in, N_CLASSES)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


def _conv_bn(c_in: int, c_out: int, kernel_size: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    """Bias-free convolution with 'same' padding, then BatchNorm."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=kernel_size // 2,
                                   groups=groups, bias=False), nn.BatchNorm2d(c_out))


class ResidualBlock(nn.Module):
    """Basic block (two 3x3 convs) or bottleneck (1x1, 3x3, 1x1 with 4x channels), plus the shortcut."""

    def __init__(self, c_in: int, channels: int, stride: int, bottleneck: bool):
        super().__init__()
        if bottleneck:
            c_out = 4 * channels
            self.body = nn.Sequential(_conv_bn(c_in, channels, 1), nn.ReLU(), _conv_bn(channels, channels, 3, stride),
                                      nn.ReLU(), _conv_bn(channels, c_out, 1))
        else:
            c_out = channels
            self.body = nn.Sequential(_conv_bn(c_in, channels, 3, stride), nn.ReLU(), _conv_bn(channels, channels, 3))
        self.shortcut = _conv_bn(c_in, c_out, 1, stride) if stride != 1 or c_in != c_out else nn.Identity()
        self.c_out = c_out

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.body(x) + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, blocks: tuple[int, ...], bottleneck: bool):
        super().__init__()
        layers: list[nn.Module] = [_conv_bn(IMAGE_SHAPE[0], 64, 3), nn.ReLU()]
        c_in = 64
        for channels, stride, n_blocks in zip((64, 128, 256, 512), (1, 2, 2, 2), blocks):
            for block_stride in (stride,) + (1,) * (n_blocks - 1):
                layers.append(ResidualBlock(c_in, channels, block_stride, bottleneck))
                c_in = layers[-1].c_out
        self.features = nn.Sequential(*layers, nn.AvgPool2d(4), nn.Flatten())
        self.classifier = nn.Linear(c_in, N_CLASSES)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


class MBConv(nn.Module):
    """Inverted residual: 1x1 expansion, depthwise conv, squeeze-excitation, 1x1 projection (+ identity)."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int, expansion: int):
        super().__init__()
        channels = expansion * c_in
        self.expand = nn.Sequential(_conv_bn(c_in, channels, 1), nn.SiLU()) if expansion != 1 else nn.Identity()
        self.depthwise = nn.Sequential(_conv_bn(channels, channels, kernel_size, stride, groups=channels), nn.SiLU())
        se_channels = int(c_in * 0.25)
        self.squeeze_excite = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, se_channels, 1), nn.SiLU(),
                                            nn.Conv2d(se_channels, channels, 1), nn.Sigmoid())
        self.project = _conv_bn(channels, c_out, 1)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: Tensor) -> Tensor:
        h = self.depthwise(self.expand(x))
        out = self.project(h * self.squeeze_excite(h))
        return out + x if self.residual else out


class EfficientNetB0(nn.Module):
    def __init__(self):
        super().__init__()
        layers: list[nn.Module] = [_conv_bn(IMAGE_SHAPE[0], 32, 3), nn.SiLU()]
        c_in = 32
        for expansion, c_out, n_blocks, kernel_size, stride in EFFICIENTNET_STAGES:
            for block_stride in (stride,) + (1,) * (n_blocks - 1):
                layers.append(MBConv(c_in, c_out, kernel_size, block_stride, expansion))
                c_in = c_out
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(c_in, N_CLASSES))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))
