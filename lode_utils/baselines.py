"""Recurrent baselines on the same batch interface: RNN-Δt and the ODE-RNN, run autoregressively.

Explained in chapter 7 (the comparison "does it beat an RNN?").

Both walk forward over the grid. At grid point ``i`` the state has seen every point before
``t_i`` and predicts ``x̂_i``; then it reads ``x_i`` where observed and its own prediction
``x̂_i`` where not (flagged by the mask input), which is how they extrapolate.

* ``kind="rnn"`` (RNN-Δt): ``h_i = GRU([x̃_{i−1}, m_{i−1}, Δt_i], h_{i−1})``, ``x̂_i = g(h_i)``.
* ``kind="odernn"`` (ODE-RNN): ``h = GRU([x̃_{i−1}, m_{i−1}, Δt_i], h)``, then ``h`` follows
  ``dh/dt = u(h)`` over ``Δt_i``, ``x̂_i = g(h)``.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from .data import IrregularBatch, Scaling
from .decoders import GaussianDecoder
from .elbo import ElboTerms, gaussian_log_likelihood
from .encoders import HiddenODE
from .model import Prediction, _as_times, _Model
from .sampling import random_tensor

__all__ = ["BaselineConfig", "RecurrentBaseline"]


@dataclasses.dataclass
class BaselineConfig:
    """Sizes and options of a :class:`~lode_utils.baselines.RecurrentBaseline`, as plain data.

    kind: ``"rnn"`` (RNN-Δt) or ``"odernn"``; hidden: GRU width; ode_hidden, max_step: the
    ODE-RNN's hidden dynamics; dec_hidden, dec_layers, obs_std, learn_std: the decoder.
    """

    obs_dim: int
    kind: str = "rnn"
    hidden: int = 32
    ode_hidden: int = 32
    max_step: float = 0.05
    dec_hidden: int = 32
    dec_layers: int = 0
    obs_std: float = 0.1
    learn_std: bool = False

    def __post_init__(self):
        if self.kind not in ("rnn", "odernn"):
            raise ValueError(f"baseline kind must be 'rnn' or 'odernn', got {self.kind!r}.")


class RecurrentBaseline(_Model):
    """RNN-Δt or ODE-RNN baseline with the :class:`~lode_utils.LatentODE` interface
    (``loss``, ``predict``, ``device``), so :func:`~lode_utils.fit` and the metrics treat both alike.

    Build with keyword arguments of :class:`BaselineConfig`, e.g.
    ``RecurrentBaseline(obs_dim=1, kind="rnn")``.
    """

    def __init__(self, config: BaselineConfig | None = None, **kwargs):
        super().__init__()
        if config is None:
            config = BaselineConfig(**kwargs)
        elif kwargs:
            config = dataclasses.replace(config, **kwargs)
        self.config = c = config
        self.cell = nn.GRUCell(2 * c.obs_dim + 1, c.hidden)
        self.h0 = nn.Parameter(torch.zeros(c.hidden))
        if c.kind == "odernn":
            self.dynamics = HiddenODE(c.hidden, c.ode_hidden, c.max_step)
        self.decoder = GaussianDecoder(c.hidden, c.obs_dim, c.dec_hidden, c.dec_layers, c.obs_std, c.learn_std)
        self.scaling: Scaling | None = None

    def forward(self, batch: IrregularBatch) -> torch.Tensor:
        """One-step-ahead predictions ``x̂: [B, T, D]`` at every grid point of ``batch``."""
        batch = self._prepare(batch)
        x, m, t = batch.x, batch.mask, batch.t
        B, T, D = x.shape
        h = self.h0.expand(B, -1)
        x_prev = x.new_zeros(B, D)
        m_prev = x.new_zeros(B, D)
        times = t.tolist()
        preds = []
        for i in range(T):
            dt = times[i] - times[i - 1] if i > 0 else 0.0
            h = self.cell(torch.cat([x_prev, m_prev, x.new_full((B, 1), dt)], dim=-1), h)
            if self.config.kind == "odernn":
                h = self.dynamics.evolve(h, dt)
            pred = self.decoder(h)
            preds.append(pred)
            x_prev = torch.where(m[:, i].bool(), x[:, i], pred)
            m_prev = m[:, i]
        return torch.stack(preds, dim=1)

    def loss(self, batch: IrregularBatch, **unused) -> ElboTerms:
        """Gaussian negative log-likelihood of the one-step predictions at ``target_mask`` points.

        Accepts and ignores the Latent ODE's keyword arguments (``kl_weight``, ``n_samples``...).
        """
        batch = self._prepare(batch).trimmed()
        mean = self(batch)
        target = batch.targets
        n = int(target.sum())
        if n == 0:
            raise ValueError("no scored point in the batch (target mask is all zero).")
        ll = gaussian_log_likelihood(batch.x, mean, self.decoder.std, target).sum()
        with torch.no_grad():
            mse = (torch.where(target.bool(), batch.x - mean, torch.zeros_like(mean)) ** 2).sum() / n
        zero = mean.new_zeros(())
        return ElboTerms(loss=-ll / n, elbo=ll.detach(), log_lik=ll.detach(), kl=zero, kl_per_dim=mean.new_zeros(0), mse=mse, n_points=n)

    @torch.no_grad()
    def predict(
        self,
        obs: IrregularBatch,
        t_query=None,
        *,
        n_samples: int = 100,
        quantiles=(0.05, 0.95),
        include_noise: bool = True,
        original_units: bool = False,
        generator: torch.Generator | None = None,
        **unused,
    ) -> Prediction:
        """Predictions at ``t_query`` (default ``obs.t``) from the observed points of ``obs``.

        The recurrence runs over the union of ``obs.t`` and ``t_query``; query points that are
        not observed are filled autoregressively. Bands come from the observation noise only
        (these models have no latent uncertainty): ``samples: [K, B, T, D]``.
        """
        obs = self._prepare(obs)
        t = obs.t if t_query is None else _as_times(t_query, obs.t)
        if original_units:
            if self.scaling is None:
                raise ValueError("original_units=True needs model.scaling; train with fit() on a SeriesDataset or set it.")
            if t_query is not None:  # obs.t, the default, is in model units already
                t = self.scaling.time_to_model(t)
        grid, inv = torch.unique(torch.cat([obs.t, t]), return_inverse=True)
        B, _, D = obs.x.shape
        x = obs.x.new_zeros(B, grid.numel(), D)
        m = torch.zeros_like(x)
        x[:, inv[: obs.t.numel()]] = obs.x * obs.mask
        m[:, inv[: obs.t.numel()]] = obs.mask
        mean = self(IrregularBatch(t=grid, x=x, mask=m))[:, inv[obs.t.numel() :]]
        k = n_samples if include_noise else 1
        samples = mean[None].expand(k, -1, -1, -1)
        if include_noise:
            samples = samples + self.decoder.std * random_tensor(samples.shape, like=mean, generator=generator)
        pred = Prediction.from_samples(t, samples, quantiles)
        return pred.to_original(self.scaling) if original_units else pred
