"""The arithmetic a training runs in: the `precision` setting, checked against the device, applied, and recorded.

- "fp32" (the default): every product in float32. On a GPU, TF32 is switched off for matmuls and cuDNN
  (PyTorch lets cuDNN's convolutions use TF32 by default), and torch's float32 matmul precision is "highest".
- "tf32": float32 storage with TensorFloat-32 products (matmuls and cuDNN); a CUDA GPU of compute capability
  8.0 or more only.
- "bf16": the forward and backward products under torch.autocast in bfloat16 (float32 weights, momentum and
  loss); on a CUDA GPU with bf16, or a CPU whose oneDNN has bf16 kernels (AVX512-BF16 or AMX). Elsewhere
  torch emulates bf16 products tens of times slower than float32, so the setting is refused.
A reduced precision is a reduction of the protocol like any other (README, "Reductions"): it is never
chosen silently, and each run's metrics.json records it with the backend settings in force (`settings`).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch

from srhm.protocol import PRECISIONS


def check_precision(precision: str, device: torch.device) -> None:
    """ValueError naming `precision` when it is unknown or `device` cannot run it (before any training)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} must be one of {PRECISIONS}")
    if precision == "tf32" and (device.type != "cuda" or torch.cuda.get_device_capability(device)[0] < 8):
        raise ValueError(f"precision='tf32' needs a CUDA GPU of compute capability 8.0 or more; this job runs on "
                         f"{_describe(device)}: use precision 'fp32'")
    if precision == "bf16" and not bf16_supported(device):
        raise ValueError(f"precision='bf16' needs a CUDA GPU with bf16 or a CPU with AVX512-BF16 or AMX; this job "
                         f"runs on {_describe(device)}, which has neither (torch would emulate bf16 products "
                         f"tens of times slower than float32): use precision 'fp32'")


def bf16_supported(device: torch.device) -> bool:
    """Whether `device` has native bfloat16 products (CUDA: torch.cuda.is_bf16_supported; CPU: oneDNN's bf16)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def apply(precision: str, device: torch.device) -> None:
    """Set torch's process-wide matmul and cuDNN switches for `precision` (checked by check_precision)."""
    tf32 = precision == "tf32"
    torch.set_float32_matmul_precision("high" if tf32 else "highest")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32


def autocast(precision: str, device: torch.device) -> AbstractContextManager:
    """The context the products run in: bf16 autocast for "bf16", nothing otherwise."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return nullcontext()


def settings(precision: str, device: torch.device) -> dict:
    """What metrics.json records: the precision and the backend settings in force on `device`."""
    recorded = {"precision": precision, "autocast_dtype": "bfloat16" if precision == "bf16" else None,
                "float32_matmul_precision": torch.get_float32_matmul_precision(),
                "mkldnn_enabled": torch.backends.mkldnn.enabled}
    if device.type == "cuda":
        recorded.update(cuda_matmul_allow_tf32=torch.backends.cuda.matmul.allow_tf32,
                        cudnn_allow_tf32=torch.backends.cudnn.allow_tf32, cudnn_version=torch.backends.cudnn.version(),
                        cudnn_benchmark=torch.backends.cudnn.benchmark,
                        cudnn_deterministic=torch.backends.cudnn.deterministic,
                        gpu=torch.cuda.get_device_name(device))
    else:
        recorded["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    return recorded


def _describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (compute capability {torch.cuda.get_device_capability(device)})"
    return f"a CPU ({torch.backends.cpu.get_cpu_capability()})"
