"""Maximum-entropy smooth diffeomorphisms of images (Petrini et al. 2021; pcsl-epfl/diffeomorphism).

On the unit square, each displacement component is a sine series vanishing on the border,

    u(x, y) = sum_{(i, j) in modes(c)} C_ij sin(i pi x) sin(j pi y),   C_ij ~ N(0, T / (i^2 + j^2)),

drawn independently for the x and y components. The modes are i, j >= 1 with sqrt(i^2 + j^2) < c + 1/2:
this is the rule of the authors' code, which the published numbers come from (the paper writes
i^2 + j^2 <= c^2, which drops (1, 3), (3, 1) at c = 3). On an n x n image the pixel (row r, column q)
sits at x = q / (n - 1), y = r / (n - 1) and moves by n u pixels. The temperature that gives a typical
displacement of delta pixels is T = 4 delta^2 / (pi n^2 ln c). The deformed image is the input sampled
at (q - n u_x, r - n u_y), clamped to the image and interpolated bilinearly.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from srhm.checks import check_int, check_real


def temperature(delta: float, cut: int, n: int) -> float:
    """T = 4 delta^2 / (pi n^2 ln c): the temperature of typical displacement `delta` pixels on n x n images."""
    check_real("delta", delta)
    check_int("cut", cut, 2)
    check_int("n", n, 2)
    return 4 * delta**2 / (math.pi * n**2 * math.log(cut))


def modes(cut: int) -> tuple[Tensor, Tensor]:
    """The modes (i, j) of cut-off `cut`: integer tensors [K] each, i and j >= 1 with sqrt(i^2 + j^2) < cut + 1/2."""
    check_int("cut", cut, 1)
    i, j = torch.meshgrid(torch.arange(1, cut + 1), torch.arange(1, cut + 1), indexing="ij")
    keep = (i**2 + j**2) < (cut + 0.5) ** 2
    return i[keep], j[keep]


def displacement_fields(count: int, n: int, cut: int, T: float, generator: torch.Generator) -> Tensor:
    """`count` random fields [count, 2, n, n] in pixels: channel 0 moves columns (x), channel 1 rows (y).

    Drawn in float64 on the CPU from `generator`, so they do not depend on the device they are used on.
    """
    check_int("count", count, 0)
    check_int("n", n, 2)
    check_real("T", T)
    i, j = modes(cut)
    coefficients = torch.randn(count, 2, len(i), generator=generator, dtype=torch.float64)
    coefficients *= math.sqrt(T) / torch.sqrt((i**2 + j**2).double())
    grid = torch.linspace(0, 1, n, dtype=torch.float64)
    sin_x = torch.sin(math.pi * grid[:, None] * i)  # [n (column), K]
    sin_y = torch.sin(math.pi * grid[:, None] * j)  # [n (row), K]
    return n * torch.einsum("bck,rk,qk->bcrq", coefficients, sin_y, sin_x)


def remap(images: Tensor, fields: Tensor) -> Tensor:
    """Images [B, C, n, n] sampled at (column - field_x, row - field_y), clamped, bilinear: [B, C, n, n].

    fields [B, 2, n, n] (pixels) is used in the images' dtype and device.
    """
    batch, channels, rows, cols = images.shape
    if fields.shape != (batch, 2, rows, cols):
        raise ValueError(f"fields must have shape {[batch, 2, rows, cols]} for images {list(images.shape)}, "
                         f"got {list(fields.shape)}")
    fields = fields.to(images.device, images.dtype)
    col = torch.arange(cols, device=images.device, dtype=images.dtype)
    row = torch.arange(rows, device=images.device, dtype=images.dtype)[:, None]
    x = (col - fields[:, 0]).clamp(0, cols - 1)  # [B, n, n]
    y = (row - fields[:, 1]).clamp(0, rows - 1)
    x0, y0 = x.floor(), y.floor()
    wx, wy = (x - x0)[:, None], (y - y0)[:, None]  # [B, 1, n, n]
    x0, y0 = x0.long(), y0.long()
    x1, y1 = (x0 + 1).clamp(max=cols - 1), (y0 + 1).clamp(max=rows - 1)
    flat = images.reshape(batch, channels, rows * cols)

    def at(yy: Tensor, xx: Tensor) -> Tensor:
        index = (yy * cols + xx).reshape(batch, 1, rows * cols).expand(batch, channels, rows * cols)
        return flat.gather(2, index).reshape(batch, channels, rows, cols)

    top = at(y0, x0) * (1 - wx) + at(y0, x1) * wx
    bottom = at(y1, x0) * (1 - wx) + at(y1, x1) * wx
    return top * (1 - wy) + bottom * wy


def deform(images: Tensor, cut: int, T: float, generator: torch.Generator) -> Tensor:
    """Each image [B, C, n, n] under its own random diffeomorphism of cut-off `cut` and temperature `T`."""
    if images.ndim != 4 or images.shape[-1] != images.shape[-2]:
        raise ValueError(f"images must be square, [B, C, n, n], got {list(images.shape)}")
    return remap(images, displacement_fields(len(images), images.shape[-1], cut, T, generator))
