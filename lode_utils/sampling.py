"""Reparameterized sampling z₀ = μ + σ·ε, and the score-function estimator it replaces.

Explained in chapter 3 (*Reparameterized sampling*).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["log_normal", "random_tensor", "reparam_gradients", "reparameterize", "score_function_gradients"]


def random_tensor(
    shape, *, like: torch.Tensor, generator: torch.Generator | None = None, distribution: str = "normal", dtype: torch.dtype | None = None
) -> torch.Tensor:
    """Standard normal (or, with ``distribution="uniform"``, U[0, 1)) draws of ``shape`` on ``like``'s device, of ``like``'s dtype unless ``dtype`` is given.

    The draws are made on the generator's own device and then moved: a seeded
    ``torch.Generator()`` lives on the CPU, so it gives the same numbers whether the model runs
    on the CPU or on a GPU (and a CPU generator could not draw on a GPU anyway). Without a
    generator, torch's global generator of ``like``'s device is used.
    """
    draw = {"normal": torch.randn, "uniform": torch.rand}.get(distribution)
    if draw is None:
        raise ValueError(f"distribution must be 'normal' or 'uniform', got {distribution!r}.")
    where = like.device if generator is None else generator.device
    return draw(tuple(shape), generator=generator, dtype=like.dtype if dtype is None else dtype, device=where).to(like.device)


def reparameterize(mu: torch.Tensor, sigma: torch.Tensor, n_samples: int = 1, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """``K`` reparameterized samples ``z = μ + σ·ε``, ``ε ~ N(0, I)``.

    Args:
        mu, sigma: ``[B, L]``.
        n_samples: ``K``.

    Returns:
        ``[K, B, L]``; gradients flow to ``mu`` and ``sigma``.
    """
    if mu.shape != sigma.shape:
        raise ValueError(f"mu {tuple(mu.shape)} and sigma {tuple(sigma.shape)} must have the same shape.")
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}.")
    eps = random_tensor((n_samples, *mu.shape), like=mu, generator=generator)
    return mu + sigma * eps


def log_normal(z: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """``log N(z; μ, σ²)`` summed over the last axis: ``[..., L] -> [...]``."""
    return (-0.5 * ((z - mu) / sigma) ** 2 - torch.log(sigma) - 0.5 * torch.log(torch.tensor(2 * torch.pi, dtype=z.dtype))).sum(-1)


def reparam_gradients(
    f: Callable[[torch.Tensor], torch.Tensor], mu: torch.Tensor, sigma: torch.Tensor, n_samples: int, *, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample pathwise estimates of ``∇_μ E[f(z)]`` and ``∇_σ E[f(z)]``.

    Args:
        f: maps ``z: [K, L]`` to ``[K]``.
        mu, sigma: ``[L]``.

    Returns:
        ``(g_mu, g_sigma)``, each ``[K, L]`` — one unbiased estimate per sample.
    """
    mu = mu.detach().requires_grad_(True)
    sigma = sigma.detach().requires_grad_(True)
    eps = random_tensor((n_samples, *mu.shape), like=mu, generator=generator)
    z = mu + sigma * eps
    fz = f(z)
    gz = torch.autograd.grad(fz.sum(), z)[0]  # [K, L] = f'(z_k) per sample
    return gz, gz * eps


def score_function_gradients(
    f: Callable[[torch.Tensor], torch.Tensor], mu: torch.Tensor, sigma: torch.Tensor, n_samples: int, *, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample score-function (REINFORCE) estimates ``f(z) ∇ log q(z)`` of the same gradients.

    Returns ``(g_mu, g_sigma)``, each ``[K, L]``; ``f`` needs no gradient.
    """
    eps = random_tensor((n_samples, *mu.shape), like=mu, generator=generator)
    z = mu + sigma * eps
    with torch.no_grad():
        fz = f(z)[:, None]
    return fz * eps / sigma, fz * (eps**2 - 1) / sigma
