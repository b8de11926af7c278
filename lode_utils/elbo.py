"""The training objective: masked Gaussian likelihood, analytic KL, the K-sample bound, annealing.

Explained in chapter 6 (*ELBO and training*).

    ELBO(x) = E_q[ Σ_{observed i,d} log p(x_{i,d} | z_{t_i}) ] − KL( q(z₀|x) ‖ N(0, I) )
"""

from __future__ import annotations

import dataclasses
import math

import torch

from .sampling import log_normal

__all__ = ["ElboTerms", "KLSchedule", "elbo", "gaussian_log_likelihood", "kl_standard_normal"]

_LOG_2PI = math.log(2 * math.pi)


def gaussian_log_likelihood(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``Σ_{t,d} mask · log N(x; mean, std²)`` per sample and series.

    Args:
        x, mask: ``[B, T, D]``; masked-out entries contribute exactly 0, whatever ``x`` holds.
        mean: ``[K, B, T, D]`` (or ``[B, T, D]``); std: ``[D]`` or broadcastable.

    Returns:
        ``[K, B]`` (or ``[B]``).
    """
    observed = mask.bool()
    x = torch.where(observed, x, torch.zeros_like(x))  # so NaN there cannot reach the gradients either
    z = torch.where(observed, (x - mean) / std, torch.zeros_like(mean))
    logp = -0.5 * z**2 - torch.log(std) - 0.5 * _LOG_2PI
    return (logp * mask).sum(dim=(-2, -1))


def kl_standard_normal(mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Analytic ``KL(N(μ, σ²) ‖ N(0, 1))`` per dimension: ``[B, L] -> [B, L]``.

    ``KL = ½ (μ² + σ² − 1) − log σ``.
    """
    return 0.5 * (mu**2 + sigma**2 - 1.0) - torch.log(sigma)


@dataclasses.dataclass
class ElboTerms:
    """Every term of the objective, for logging (chapter 6). Tensors are scalars unless noted.

    Attributes:
        loss: what the optimiser minimises, per scored point,
            ``−(E_q log p − kl_weight·KL) / n_points`` (or ``−IWAE / n_points``).
        elbo: the (unweighted) ELBO summed over the batch.
        log_lik: ``E_q log p(x|z)`` summed over the batch.
        kl: ``Σ_B KL`` over the batch.
        kl_per_dim: ``[L]`` KL per latent dimension, mean over series (posterior-collapse check).
        mse: mean squared error of the decoded mean on scored points.
        n_points: the number of scored points.
        iwae: the K-sample importance-weighted bound summed over the batch (``None`` if not asked).
        nfe: function evaluations of the forward solve.
    """

    loss: torch.Tensor
    elbo: torch.Tensor
    log_lik: torch.Tensor
    kl: torch.Tensor
    kl_per_dim: torch.Tensor
    mse: torch.Tensor
    n_points: int
    iwae: torch.Tensor | None = None
    nfe: int = 0

    def as_floats(self) -> dict:
        """The scalar terms as Python floats."""
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, torch.Tensor) and v.numel() == 1:
                out[f.name] = float(v)
            elif isinstance(v, int | float):
                out[f.name] = v
        return out


def elbo(
    x: torch.Tensor,
    mask: torch.Tensor,
    mean: torch.Tensor,
    std: torch.Tensor,
    mu: torch.Tensor,
    sigma: torch.Tensor,
    z0: torch.Tensor,
    *,
    kl_weight: float = 1.0,
    iwae: bool = False,
) -> ElboTerms:
    """Assemble the ELBO from the model's pieces.

    Args:
        x, mask: ``[B, T, D]`` data and the mask of points to score.
        mean: ``[K, B, T, D]`` decoded means for K samples of ``z0``; std: ``[D]``.
        mu, sigma: ``[B, L]`` posterior parameters; z0: ``[K, B, L]`` the samples.
        kl_weight: annealing weight on KL (ignored by the IWAE loss, which is a bound itself).
        iwae: optimise the K-sample bound ``log 1/K Σ_k p(x|z_k) p(z_k) / q(z_k|x)``.
    """
    n_points = int(mask.sum())
    if n_points == 0:
        raise ValueError("no scored point in the batch (target mask is all zero).")
    ll = gaussian_log_likelihood(x, mean, std, mask)  # [K, B]
    kl_dims = kl_standard_normal(mu, sigma)  # [B, L]
    kl = kl_dims.sum(-1)  # [B]
    log_lik = ll.mean(0).sum()
    bound = None
    if iwae or z0.shape[0] > 1:
        log_w = ll + log_normal(z0, torch.zeros_like(mu), torch.ones_like(sigma)) - log_normal(z0, mu, sigma)
        bound = (torch.logsumexp(log_w, dim=0) - math.log(z0.shape[0])).sum()
    if iwae:
        loss = -bound / n_points
    else:
        loss = -(log_lik - kl_weight * kl.sum()) / n_points
    with torch.no_grad():
        sq = torch.where(mask.bool(), (x - mean) ** 2, torch.zeros_like(mean))
        mse = (sq * mask).sum() / (n_points * mean.shape[0]) if mean.ndim == 4 else (sq * mask).sum() / n_points
    return ElboTerms(
        loss=loss,
        elbo=(log_lik - kl.sum()).detach(),
        log_lik=log_lik.detach(),
        kl=kl.sum().detach(),
        kl_per_dim=kl_dims.mean(0).detach(),
        mse=mse,
        n_points=n_points,
        iwae=None if bound is None else bound.detach(),
    )


@dataclasses.dataclass
class KLSchedule:
    """KL-annealing weight as a function of the training step (chapter 6).

    ``kind="linear"``: 0 for ``warmup`` steps, then rising linearly to 1 over ``ramp`` steps.
    ``kind="exp"``: 0 for ``warmup`` steps, then ``1 − decay^(step − warmup)`` (Rubanova et al.
    use this per epoch with warmup 10 and decay 0.99). ``warmup = ramp = 0`` is no annealing.
    """

    warmup: int = 0
    ramp: int = 0
    kind: str = "linear"
    decay: float = 0.99

    def __post_init__(self):
        if self.kind not in ("linear", "exp"):
            raise ValueError(f"KLSchedule kind must be 'linear' or 'exp', got {self.kind!r}.")

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return 0.0
        if self.kind == "exp":
            return 1.0 - self.decay ** (step - self.warmup)
        if self.ramp <= 0:
            return 1.0
        return min(1.0, (step - self.warmup + 1) / self.ramp)
