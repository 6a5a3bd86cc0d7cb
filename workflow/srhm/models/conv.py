"""A 1-D convolution computed as one matrix product on the CPU, for the VGG and ResNet bodies.

On the short sequences of the 1-D VGG and ResNet (length d = 36 halved down to 1) oneDNN's direct
convolution runs far below the machine's matmul rate: for VGG11's 512-channel layers at lengths 2 and 4,
forward and backward took 26-28 ms per batch of 40 against 8-15 ms for the same operation written as the
product of the unfolded input (im2col) with the flattened kernel (1 CPU thread). `Conv1d` is nn.Conv1d with
that forward on the CPU: the same parameters and state dict, the same results to float rounding; on other
devices, and for groups, dilation or other padding modes, it is nn.Conv1d's own.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class Conv1d(nn.Conv1d):
    """nn.Conv1d whose CPU forward is one matrix product: inputs [B, C_in, L] -> [B, C_out, L_out]."""

    def forward(self, x: Tensor) -> Tensor:
        if (x.device.type != "cpu" or self.groups != 1 or self.dilation != (1,) or self.padding_mode != "zeros"
                or isinstance(self.padding, str)):
            return super().forward(x)
        (k,), (stride,), (pad,) = self.kernel_size, self.stride, self.padding
        batch, channels, _ = x.shape
        columns = F.pad(x, (pad, pad)).unfold(2, k, stride)  # [B, C_in, L_out, k]
        length = columns.shape[2]
        columns = columns.permute(0, 2, 1, 3).reshape(batch * length, channels * k)
        kernel = self.weight.reshape(self.out_channels, channels * k).t()
        out = columns @ kernel if self.bias is None else torch.addmm(self.bias, columns, kernel)
        return out.view(batch, length, self.out_channels).transpose(1, 2).contiguous()
