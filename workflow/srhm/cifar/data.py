"""CIFAR-10 from its python-pickle batches (data_batch_1 ... data_batch_5, test_batch).

Each batch is a pickled dict with b"data", a uint8 array [N, 3072] holding the red, green and blue
32x32 planes of each image in row-major order, and b"labels", N integers in 0..9. Images stay uint8 in
memory; `Cifar.standardise` maps them to float tensors with zero mean and unit variance per channel
over the whole training set (Petrini et al. use the fixed constants mean (0.4914, 0.4822, 0.4465),
std (0.2023, 0.1994, 0.2010) instead, whose std is about 0.8 times the actual one).
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from srhm.cifar.settings import TEST_FILE, TRAIN_FILES, check_cifar_dir

IMAGE_SHAPE = (3, 32, 32)
N_CLASSES = 10


@dataclass(frozen=True)
class Cifar:
    """Train and test images uint8 [N, 3, 32, 32], labels int64 [N], training-set channel statistics
    float64 [3] (of pixel values scaled to [0, 1])."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    channel_mean: np.ndarray
    channel_std: np.ndarray

    def standardise(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 [B, 3, 32, 32] -> float32 [B, 3, 32, 32] on the same device, standardised per channel."""
        mean = torch.as_tensor(self.channel_mean, dtype=torch.float32, device=images.device)[:, None, None]
        std = torch.as_tensor(self.channel_std, dtype=torch.float32, device=images.device)[:, None, None]
        return (images.float() / 255 - mean) / std


def read_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """One pickle batch: images uint8 [N, 3, 32, 32] and labels int64 [N]; ValueError if malformed."""
    with open(path, "rb") as handle:
        batch = pickle.load(handle, encoding="bytes")
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise ValueError(f"{path}: not a CIFAR-10 batch (a dict with b'data' and b'labels')")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != np.prod(IMAGE_SHAPE):
        raise ValueError(f"{path}: b'data' must be uint8 [N, 3072], got {data.dtype} {list(data.shape)}")
    if labels.shape != (len(data),) or labels.min(initial=0) < 0 or labels.max(initial=0) >= N_CLASSES:
        raise ValueError(f"{path}: b'labels' must hold {len(data)} labels in 0..{N_CLASSES - 1}")
    return data.reshape(-1, *IMAGE_SHAPE), labels


def load_cifar(path: str | os.PathLike) -> Cifar:
    """The five training batches (concatenated in order) and the test batch found in directory `path`."""
    path = check_cifar_dir(path)
    train = [read_batch(Path(path) / name) for name in TRAIN_FILES]
    train_images = np.concatenate([images for images, _ in train])
    train_labels = np.concatenate([labels for _, labels in train])
    test_images, test_labels = read_batch(Path(path) / TEST_FILE)
    mean, std = _channel_statistics(train_images)
    if (std == 0).any():
        raise ValueError(f"cifar.path: a colour channel of the training images in {path} is constant")
    return Cifar(train_images, train_labels, test_images, test_labels, mean, std)


def _channel_statistics(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact mean and standard deviation [3] per channel of uint8 images [N, 3, 32, 32], in [0, 1] units,
    from the histogram of the 256 pixel values (no float copy of the images)."""
    values = np.arange(256) / 255
    counts = np.stack([np.bincount(images[:, c].ravel(), minlength=256) for c in range(images.shape[1])])
    weights = counts / counts.sum(axis=1, keepdims=True)
    mean = weights @ values
    variance = (weights * (values - mean[:, None]) ** 2).sum(axis=1)
    return mean, np.sqrt(variance)
