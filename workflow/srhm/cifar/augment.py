"""Training-time augmentation of CIFAR-10 images: a random 32x32 crop of the image zero-padded by 4
pixels on each side, then a horizontal flip with probability 1/2 (torchvision's RandomCrop(32,
padding=4) and RandomHorizontalFlip, applied to raw pixels before standardisation as in Petrini et al.).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

PADDING = 4


def crop_and_flip(images: Tensor, generator: torch.Generator) -> Tensor:
    """Images [B, C, H, W] (any dtype, any device) -> randomly cropped and flipped images [B, C, H, W].

    Offsets and flips are drawn on the CPU from `generator`, so the result does not depend on the device.
    """
    batch, _, height, width = images.shape
    offsets = torch.randint(0, 2 * PADDING + 1, (2, batch), generator=generator)
    flips = torch.rand(batch, generator=generator) < 0.5
    padded = F.pad(images, (PADDING,) * 4)
    rows = (offsets[0][:, None] + torch.arange(height)).to(images.device)  # [B, H]
    cols = offsets[1][:, None] + torch.arange(width)  # [B, W]
    cols = torch.where(flips[:, None], cols.flip(1), cols).to(images.device)
    index = torch.arange(batch, device=images.device)[:, None, None]
    # advanced indexing on dims 0, 2, 3 puts the broadcast [B, H, W] first: [B, H, W, C]
    return padded.permute(0, 2, 3, 1)[index, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2).contiguous()
