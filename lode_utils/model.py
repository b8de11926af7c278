"""The Latent ODE: encode → sample → flow → decode, trained by the ELBO; predict and generate.

Explained in chapter 7 (*Generation and extrapolation*); each stage has its own chapter.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from .data import IrregularBatch, Scaling
from .decoders import GaussianDecoder
from .devices import module_device
from .dynamics import ODEFlow, ODEFunc
from .elbo import ElboTerms, elbo
from .encoders import GRUEncoder, ODERNNEncoder
from .sampling import random_tensor, reparameterize

__all__ = ["LatentODE", "LatentODEConfig", "Prediction"]


@dataclasses.dataclass
class LatentODEConfig:
    """Every size and option of a :class:`LatentODE`, as plain data (stored in checkpoints).

    Attributes:
        obs_dim: channels ``D``; latent_dim: ``L``.
        encoder: ``"gru"`` (GRU run backwards) or ``"odernn"`` (ODE-RNN run backwards).
        enc_hidden: encoder width; enc_max_step: ODE-RNN substep.
        ode_hidden, ode_layers, activation: the vector field ``f_θ``.
        dec_hidden, dec_layers: the decoder (``dec_layers = 0``: linear).
        obs_std, learn_std: observation-noise std (model units) and whether it is trained.
        method, rtol, atol, step_size, adjoint: the ODE solve (see :class:`~lode_utils.dynamics.ODEFlow`).
        t0: the reference time of ``z0`` in model units (data sets start at 0).
    """

    obs_dim: int
    latent_dim: int = 8
    encoder: str = "gru"
    enc_hidden: int = 32
    enc_max_step: float = 0.05
    ode_hidden: int = 32
    ode_layers: int = 1
    activation: str = "tanh"
    dec_hidden: int = 32
    dec_layers: int = 0
    obs_std: float = 0.1
    learn_std: bool = False
    method: str = "rk4"
    rtol: float = 1e-3
    atol: float = 1e-4
    step_size: float | None = 0.05
    adjoint: bool = False
    t0: float = 0.0

    def __post_init__(self):
        if self.encoder not in ("gru", "odernn"):
            raise ValueError(f"encoder must be 'gru' or 'odernn', got {self.encoder!r}.")
        for name in ("obs_dim", "latent_dim", "enc_hidden", "ode_hidden"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}.")


@dataclasses.dataclass
class Prediction:
    """Predictive samples and summaries at query times (chapter 7).

    Attributes:
        t: ``[T]`` query times.
        samples: ``[K, B, T, D]`` draws (decoded means, plus observation noise if asked).
        mean, median, lower, upper: ``[B, T, D]`` summaries over the K draws;
            ``lower``/``upper`` are the quantiles in ``quantiles``.
        latent: ``[K, B, T, L]`` latent trajectories (``None`` for baselines).
        quantiles: the (lower, upper) probabilities.
    """

    t: torch.Tensor
    samples: torch.Tensor
    mean: torch.Tensor
    median: torch.Tensor
    lower: torch.Tensor
    upper: torch.Tensor
    latent: torch.Tensor | None = None
    quantiles: tuple[float, float] = (0.05, 0.95)

    @classmethod
    def from_samples(cls, t, samples, quantiles=(0.05, 0.95), latent=None) -> Prediction:
        q = torch.tensor([quantiles[0], 0.5, quantiles[1]], dtype=samples.dtype, device=samples.device)
        lo, med, hi = torch.quantile(samples, q, dim=0)
        return cls(t=t, samples=samples, mean=samples.mean(0), median=med, lower=lo, upper=hi, latent=latent, quantiles=tuple(quantiles))

    def to_original(self, scaling: Scaling) -> Prediction:
        """The same prediction with times and values mapped back to original units."""
        v = scaling.values_to_original
        return Prediction(
            t=scaling.time_to_original(self.t),
            samples=v(self.samples),
            mean=v(self.mean),
            median=v(self.median),
            lower=v(self.lower),
            upper=v(self.upper),
            latent=self.latent,
            quantiles=self.quantiles,
        )


def _as_times(t_query, like: torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(t_query, dtype=like.dtype, device=like.device).reshape(-1)
    if t.numel() == 0:
        raise ValueError("t_query is empty; pass at least one query time.")
    if not bool(torch.isfinite(t).all()):
        raise ValueError("t_query has NaN or infinite times.")
    if t.numel() > 1 and not bool((t[1:] > t[:-1]).all()):
        raise ValueError("t_query must be strictly increasing; sort it and drop duplicates.")
    return t


class _Model(nn.Module):
    """What :class:`LatentODE` and :class:`~lode_utils.baselines.RecurrentBaseline` share: batch
    checks and the device (``model.to(device)`` moves a model; batches passed in follow it)."""

    @property
    def device(self) -> torch.device:
        """Where the parameters are."""
        return module_device(self)

    def _prepare(self, batch: IrregularBatch) -> IrregularBatch:
        """Check ``batch`` against the model and return it on the model's device."""
        if not isinstance(batch, IrregularBatch):
            raise ValueError(f"expected an IrregularBatch (see lode_utils.data.collate), got {type(batch).__name__}.")
        if batch.dim != self.config.obs_dim:
            raise ValueError(f"batch has {batch.dim} channel(s) but the model was built for obs_dim={self.config.obs_dim}.")
        return batch.on(self.device)


class LatentODE(_Model):
    """Latent ODE (Chen et al. 2018; Rubanova et al. 2019).

    ``q(z₀|x)`` from a backwards encoder → ``z₀ = μ + σ·ε`` → ``z_t = ODESolve(z₀, f_θ, t0, t)``
    → ``p(x_t | z_t) = N(g_ψ(z_t), s²)``.

    Build with keyword arguments of :class:`LatentODEConfig`, e.g. ``LatentODE(obs_dim=1)``.

    Attributes:
        config: the :class:`LatentODEConfig`.
        scaling: the data's :class:`~lode_utils.data.Scaling` (set by :func:`~lode_utils.fit`),
            so predictions can be returned in original units and checkpoints keep it.
        device: where the parameters are; ``model.to(device)`` (or ``fit(..., device=...)``)
            moves the model, and every batch passed in is moved to it.
    """

    def __init__(self, config: LatentODEConfig | None = None, **kwargs):
        super().__init__()
        if config is None:
            config = LatentODEConfig(**kwargs)
        elif kwargs:
            config = dataclasses.replace(config, **kwargs)
        self.config = c = config
        if c.encoder == "gru":
            self.encoder = GRUEncoder(c.obs_dim, c.latent_dim, c.enc_hidden)
        else:
            self.encoder = ODERNNEncoder(c.obs_dim, c.latent_dim, c.enc_hidden, c.ode_hidden, max_step=c.enc_max_step)
        self.flow = ODEFlow(
            ODEFunc(c.latent_dim, c.ode_hidden, c.ode_layers, c.activation), method=c.method, rtol=c.rtol, atol=c.atol, step_size=c.step_size, adjoint=c.adjoint
        )
        self.decoder = GaussianDecoder(c.latent_dim, c.obs_dim, c.dec_hidden, c.dec_layers, c.obs_std, c.learn_std, c.activation)
        self.scaling: Scaling | None = None

    # -- the four stages ------------------------------------------------------------------------
    def encode(self, batch: IrregularBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """``(μ, σ)`` of ``q(z₀ | x)``, each ``[B, L]``; reads only ``batch.mask == 1`` points."""
        return self.encoder(self._prepare(batch), self.config.t0)

    def decode_path(self, z0: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``z0: [K, B, L]``, ``t: [T]`` → ``(z_t [K, B, T, L], mean [K, B, T, D])``."""
        zt = self.flow(z0, self.config.t0, t)
        return zt, self.decoder(zt)

    def forward(self, batch: IrregularBatch, n_samples: int = 1, *, generator: torch.Generator | None = None) -> dict:
        """Run all stages on ``batch`` and decode at ``batch.t``.

        Returns a dict with ``mu, sigma: [B, L]``, ``z0: [K, B, L]``, ``zt: [K, B, T, L]``,
        ``mean: [K, B, T, D]``.
        """
        batch = self._prepare(batch)
        mu, sigma = self.encode(batch)
        z0 = reparameterize(mu, sigma, n_samples, generator=generator)
        zt, mean = self.decode_path(z0, batch.t)
        return {"mu": mu, "sigma": sigma, "z0": z0, "zt": zt, "mean": mean}

    def loss(
        self, batch: IrregularBatch, *, kl_weight: float = 1.0, n_samples: int = 1, iwae: bool = False, generator: torch.Generator | None = None
    ) -> ElboTerms:
        """The ELBO terms for ``batch``: encode its ``mask`` points, score its ``target_mask`` points.

        The solve only covers grid points that are observed or scored.
        """
        batch = self._prepare(batch).trimmed()
        out = self(batch, n_samples, generator=generator)
        terms = elbo(batch.x, batch.targets, out["mean"], self.decoder.std, out["mu"], out["sigma"], out["z0"], kl_weight=kl_weight, iwae=iwae)
        terms.nfe = self.flow.last_nfe
        return terms

    # -- prediction and generation ------------------------------------------------------------
    @torch.no_grad()
    def predict(
        self,
        obs: IrregularBatch,
        t_query=None,
        *,
        n_samples: int = 100,
        quantiles=(0.05, 0.95),
        include_noise: bool = True,
        use_mean: bool = False,
        original_units: bool = False,
        generator: torch.Generator | None = None,
    ) -> Prediction:
        """Posterior predictive at any times: before, between and after the observations.

        Args:
            obs: the observed points (``mask``) of each series, model units.
            t_query: ``[T]`` increasing query times (default ``obs.t``); model units, or
                original units if ``original_units`` (needs ``self.scaling``).
            n_samples: ``K`` draws of ``z0 ~ q(z0|x)``.
            include_noise: add observation noise to the draws (predictive bands for data);
                off gives bands for the underlying curve.
            use_mean: decode from ``z0 = μ`` only: one deterministic path, no noise (``K = 1``).
            original_units: convert ``t_query`` in and the result out with ``self.scaling``.

        Returns:
            :class:`~lode_utils.Prediction` with ``samples: [K, B, T, D]`` and ``mean, lower, upper: [B, T, D]``.
        """
        obs = self._prepare(obs)
        t = obs.t if t_query is None else _as_times(t_query, obs.t)
        if original_units:
            if self.scaling is None:
                raise ValueError("original_units=True needs model.scaling; train with fit() on a SeriesDataset or set it.")
            if t_query is not None:  # obs.t, the default, is in model units already
                t = self.scaling.time_to_model(t)
        mu, sigma = self.encode(obs)
        if use_mean:
            return self._finish(mu[None], t, quantiles, False, original_units, generator)
        z0 = reparameterize(mu, sigma, n_samples, generator=generator)
        return self._finish(z0, t, quantiles, include_noise, original_units, generator)

    @torch.no_grad()
    def sample_prior(
        self, t_query, *, n_samples: int = 10, quantiles=(0.05, 0.95), include_noise: bool = False, generator: torch.Generator | None = None
    ) -> Prediction:
        """Generate series from the prior ``z0 ~ N(0, I)`` at ``t_query: [T]`` (model units).

        Returns a :class:`~lode_utils.Prediction` with batch size 1: ``samples: [K, 1, T, D]``.
        """
        t = _as_times(t_query, next(self.parameters()))
        z0 = random_tensor((n_samples, 1, self.config.latent_dim), like=t, generator=generator)
        return self._finish(z0, t, quantiles, include_noise, False, generator)

    def _finish(self, z0, t, quantiles, include_noise, original_units, generator) -> Prediction:
        zt, mean = self.decode_path(z0, t)
        samples = mean
        if include_noise:
            samples = mean + self.decoder.std * random_tensor(mean.shape, like=mean, generator=generator)
        pred = Prediction.from_samples(t, samples, quantiles, latent=zt)
        return pred.to_original(self.scaling) if original_units else pred
