"""Relative stability of a network to diffeomorphisms (Petrini et al. 2021; leonardopetrini/relativestability).

On probe images x with network outputs f(x) [N, K]:

    D_f = <||f(tau x) - f(x)||^2>_x / <||f(x1) - f(x2)||^2>_{x1, x2}
    G_f = <||f(x + eta) - f(x)||^2>_x / <||f(x1) - f(x2)||^2>_{x1, x2}
    R_f = D_f / G_f

tau is a random maximum-entropy diffeomorphism per image (srhm.cifar.diffeo) and eta isotropic Gaussian
noise rescaled per image to ||eta|| = ||tau x - x||. The denominator averages over all N^2 ordered
pairs of probe points, the diagonal included (the authors' convention, srhm.sensitivity.mean_pair_distance).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from srhm.cifar.diffeo import deform, temperature
from srhm.cifar.settings import ProbeSettings
from srhm.sensitivity import mean_pair_distance
from srhm.streams import torch_seed

OUTPUT_BATCH = 250


def matched_noise(images: Tensor, perturbed: Tensor, generator: torch.Generator) -> Tensor:
    """images + eta [B, ...]: eta isotropic Gaussian with ||eta_b|| = ||perturbed_b - images_b|| for every b.

    The noise is drawn in float64 on the CPU from `generator`, so it does not depend on the device.
    """
    if perturbed.shape != images.shape:
        raise ValueError(f"perturbed must have the images' shape {list(images.shape)}, got {list(perturbed.shape)}")
    eta = torch.randn(images.shape, generator=generator, dtype=torch.float64).to(images.device)
    target = (perturbed - images).double().flatten(1).norm(dim=1)
    eta *= (target / eta.flatten(1).norm(dim=1)).view(-1, *[1] * (images.ndim - 1))
    return images + eta.to(images.dtype)


def stability_ratio(outputs: Tensor, perturbed_outputs: Tensor) -> tuple[float, float]:
    """(mean ||f(x') - f(x)||^2 over the probe points, mean ||f(x1) - f(x2)||^2 over all pairs) from [N, K] outputs."""
    outputs, perturbed_outputs = outputs.double().flatten(1), perturbed_outputs.double().flatten(1)
    numerator = (perturbed_outputs - outputs).square().sum(1).mean().item()
    spread = (outputs - outputs.mean(0)).square().sum(1).mean().item()
    return numerator, mean_pair_distance(spread, len(outputs))


@torch.no_grad()
def relative_stability(net: nn.Module, images: Tensor, probe: ProbeSettings, seed: int) -> dict:
    """D_f, G_f and R_f of `net` (evaluated in eval mode) on standardised images [N, C, n, n].

    The diffeomorphisms come from the ("diffeo", seed) stream and the noise from ("probe", seed), so
    every net measured with one seed sees the same perturbed images.
    """
    if len(images) < 2:
        raise ValueError(f"images must hold at least 2 probe images, got {len(images)}")
    T = temperature(probe.delta, probe.cut, images.shape[-1])
    deformed = deform(images, probe.cut, T, torch.Generator().manual_seed(torch_seed("diffeo", seed)))
    noisy = matched_noise(images, deformed, torch.Generator().manual_seed(torch_seed("probe", seed)))
    was_training = net.training
    net.eval()
    try:
        clean, diffeo, noise = (torch.cat([net(chunk) for chunk in batch.split(OUTPUT_BATCH)])
                                for batch in (images, deformed, noisy))
    finally:
        net.train(was_training)
    diffeo_numerator, denominator = stability_ratio(clean, diffeo)
    noise_numerator, _ = stability_ratio(clean, noise)
    if denominator == 0 or noise_numerator == 0:
        raise ValueError("the network's output is constant over the probe images or under noise: "
                         "D_f, G_f and R_f are undefined")
    return {
        "diffeo_sensitivity": diffeo_numerator / denominator,
        "noise_sensitivity": noise_numerator / denominator,
        "relative_sensitivity": diffeo_numerator / noise_numerator,
        "diffeo_numerator": diffeo_numerator, "noise_numerator": noise_numerator, "pair_denominator": denominator,
        "temperature": T,
        "mean_perturbation_norm": (deformed - images).flatten(1).norm(dim=1).mean().item(),
    }
