"""Reparameterized sampling z₀ = μ + σ·ε, and the score-function estimator it replaces.

Explained in chapter 3 (*Reparameterized sampling*).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["log_normal", "reparam_gradients", "reparameterize", "score_function_gradients"]


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
    eps = torch.randn((n_samples, *mu.shape), generator=generator, dtype=mu.dtype, device=mu.device)
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
    eps = torch.randn((n_samples, *mu.shape), generator=generator, dtype=mu.dtype)
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
    eps = torch.randn((n_samples, *mu.shape), generator=generator, dtype=mu.dtype)
    z = mu + sigma * eps
    with torch.no_grad():
        fz = f(z)[:, None]
    return fz * eps / sigma, fz * (eps**2 - 1) / sigma
