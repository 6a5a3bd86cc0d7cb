"""Training one CIFAR-10 network (the protocol of srhm.cifar.settings).

Each epoch visits the run's P training images in a fresh random order, in batches of `batch_size` (the
last one may be smaller), each batch cropped and flipped when `augment`, then standardised; one step
minimises the mean cross-entropy. SGD (momentum 0.9, weight decay 5e-4) anneals its learning rate with a
cosine to zero over the run's epochs; Adam (weight decay 0) keeps it constant. The test error on the
first `test_size` test images is measured at the evaluation epochs, and the weights at the lowest one
are kept (the first reached, on ties). Randomness: the training subset comes from the ("sample", seed)
stream, the initial weights from ("init", seed), the batch order and augmentation from ("order", seed, P).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from srhm.cifar.augment import crop_and_flip
from srhm.cifar.data import Cifar
from srhm.cifar.nets import build_net
from srhm.cifar.settings import SGD_MOMENTUM, SGD_WEIGHT_DECAY, TrainSettings
from srhm.streams import stream, torch_seed

EVAL_BATCH = 1000


@dataclass
class TrainResult:
    """The trained net (final weights), the weights at the best test error and the run's record."""

    net: nn.Module
    best_state: dict[str, Tensor]
    best_test_error: float
    best_epoch: int
    test_errors: list[tuple[int, float]]  # (epoch, test error) at every evaluation
    train_losses: list[float]  # mean training loss of every epoch
    wall_time: float


def training_subset(seed: int, P: int, n_train: int) -> np.ndarray:
    """Indices [P] of the run's training images: the first P of seed `seed`'s order of all n_train."""
    if P > n_train:
        raise ValueError(f"P must be <= {n_train}, the number of training images, got P={P}")
    return stream("sample", seed).permutation(n_train)[:P]


def classification_error(net: nn.Module, images: Tensor, labels: Tensor,
                         standardise: Callable[[Tensor], Tensor]) -> float:
    """Fraction of misclassified uint8 images [N, 3, 32, 32] (labels [N]), with `net` in eval mode."""
    net.eval()
    with torch.no_grad():
        wrong = sum(int((net(standardise(x)).argmax(1) != y).sum())
                    for x, y in zip(images.split(EVAL_BATCH), labels.split(EVAL_BATCH)))
    return wrong / len(labels)


def train(settings: TrainSettings, cifar: Cifar, device: torch.device,
          log: Callable[[str], None] = lambda line: None) -> TrainResult:
    """Train `settings.net` on its P images; `log` receives one line per epoch."""
    if settings.test_size > len(cifar.test_labels):
        raise ValueError(f"test_size must be <= {len(cifar.test_labels)}, the number of test images, "
                         f"got {settings.test_size}")
    start = time.perf_counter()
    subset = training_subset(settings.seed, settings.P, len(cifar.train_labels))
    x_train = torch.from_numpy(cifar.train_images[subset]).to(device)
    y_train = torch.from_numpy(cifar.train_labels[subset]).to(device)
    x_test = torch.from_numpy(cifar.test_images[:settings.test_size]).to(device)
    y_test = torch.from_numpy(cifar.test_labels[:settings.test_size]).to(device)
    net = build_net(settings.net, settings.seed).to(device)
    optimizer, scheduler = _optimizer(net, settings)
    order = torch.Generator().manual_seed(torch_seed("order", settings.seed, settings.P))
    evaluations = set(settings.evaluation_epochs)
    best_state, best_error, best_epoch = {}, float("inf"), 0
    test_errors, train_losses = [], []
    for epoch in range(1, settings.total_epochs + 1):
        net.train()
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        for batch in torch.randperm(settings.P, generator=order).split(settings.batch_size):
            batch = batch.to(device)
            images = crop_and_flip(x_train[batch], order) if settings.augment else x_train[batch]
            loss = F.cross_entropy(net(cifar.standardise(images)), y_train[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach().double() * len(batch)
        if scheduler is not None:
            scheduler.step()
        train_losses.append(loss_sum.item() / settings.P)
        line = f"epoch {epoch}/{settings.total_epochs}: train loss {train_losses[-1]:.4f}"
        if epoch in evaluations:
            error = classification_error(net, x_test, y_test, cifar.standardise)
            test_errors.append((epoch, error))
            line += f", test error {error:.4f}"
            if error < best_error:
                best_error, best_epoch = error, epoch
                best_state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
        log(f"{line} ({time.perf_counter() - start:.1f} s)")
    return TrainResult(net, best_state, best_error, best_epoch, test_errors, train_losses,
                       time.perf_counter() - start)


def _optimizer(net: nn.Module, settings: TrainSettings):
    """SGD with cosine annealing to zero over the run, or Adam at a constant rate (scheduler None)."""
    if settings.optimizer == "adam":
        return torch.optim.Adam(net.parameters(), lr=settings.learning_rate, weight_decay=0.0), None
    optimizer = torch.optim.SGD(net.parameters(), lr=settings.learning_rate, momentum=SGD_MOMENTUM,
                                weight_decay=SGD_WEIGHT_DECAY)
    return optimizer, torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=settings.total_epochs)
