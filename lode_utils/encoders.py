"""Encoders q_φ(z₀ | x): a GRU run backwards in time, and the ODE-RNN.

Explained in chapter 2 (*Encoding*).

Both read an :class:`~lode_utils.data.IrregularBatch` — only the points where ``mask`` is 1 —
and return the mean ``μ: [B, latent]`` and standard deviation ``σ: [B, latent]`` of a diagonal
Gaussian over the latent state at the model's reference time ``t0``.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence

from .data import IrregularBatch
from .dynamics import mlp

__all__ = ["GRUEncoder", "HiddenODE", "ODERNNEncoder", "reversed_observations"]

_MIN_STD = 1e-4


class _GaussianHead(nn.Module):
    """``[B, H] -> (μ [B, L], σ [B, L])`` with ``σ = softplus(·) + 1e-4``."""

    def __init__(self, hidden: int, latent_dim: int, init_std: float = 0.05):
        super().__init__()
        self.linear = nn.Linear(hidden, 2 * latent_dim)
        with torch.no_grad():  # start nearly deterministic: z0 noise would hide the signal early on
            self.linear.weight[latent_dim:] *= 0.1
            self.linear.bias[latent_dim:] = math.log(math.expm1(init_std))

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, raw = self.linear(h).chunk(2, dim=-1)
        return mu, F.softplus(raw) + _MIN_STD


def reversed_observations(batch: IrregularBatch, t0: float = 0.0):
    """Each series' observed time points, latest first, packed to the left.

    Only time points where the series has at least one observed channel are kept, so grid
    points added for other series (padding) change nothing.

    Returns:
        A tuple ``(inputs, lengths, first_time)``. ``inputs`` is ``[B, T, 2D + 2]``, per step
        ``(x·m, m, Δt, t − t0)`` where ``Δt`` is the gap to the previously read (later)
        observation, 0 for the first step, and ``t − t0`` the observation's own time; zero past
        ``lengths``. ``lengths`` is ``[B]``, the number of observed time points per series.
        ``first_time`` is ``[B]``, the time of each series' earliest observation minus ``t0``.
    """
    x, m, t = batch.x, batch.mask, batch.t
    _B, T, _ = x.shape
    rows = m.amax(dim=2) > 0  # [B, T]
    lengths = rows.sum(dim=1)
    if bool((lengths == 0).any()):
        raise ValueError(f"series {torch.nonzero(lengths == 0)[0].item()} has no observed point; the encoder needs at least one.")
    # positions in reversed time, observed ones first (stable sort keeps the time order)
    order = torch.argsort((~rows.flip(1)).to(torch.int8), dim=1, stable=True)
    idx = (T - 1) - order  # [B, T] original indices, latest observation first
    gather = idx[..., None].expand(-1, -1, x.shape[2])
    xs = torch.gather(torch.where(m.bool(), x, torch.zeros_like(x)), 1, gather)  # not x * m: NaN * 0 is NaN
    ms = torch.gather(m, 1, gather)
    ts = t[idx]  # [B, T]
    valid = (torch.arange(T, device=t.device)[None, :] < lengths[:, None]).to(x.dtype)
    dt = torch.zeros_like(ts)
    dt[:, 1:] = ts[:, :-1] - ts[:, 1:]
    dt = dt * valid
    inputs = torch.cat([xs * valid[..., None], ms * valid[..., None], dt[..., None], ((ts - t0) * valid)[..., None]], dim=-1)
    first_time = ts.gather(1, (lengths - 1)[:, None]).squeeze(1) - t0
    return inputs, lengths, first_time


class GRUEncoder(nn.Module):
    """A GRU read backwards in time over ``(x·m, m, Δt, t − t0)``, then ``(h, t_first − t0) → μ, σ``.

    One fused :class:`torch.nn.GRU` call over the packed, reversed observations (no Python
    loop over time). Besides the gaps ``Δt``, each step sees its own time since ``t0``: the
    phase of the latent state at ``t0`` is then a direct function of the inputs instead of a
    running sum of gaps, which makes oscillating data much faster to learn. The gap from
    ``t0`` to the earliest observation also enters the output layer.

    Args:
        obs_dim: ``D``; latent_dim: ``L``; hidden: GRU width.
    """

    def __init__(self, obs_dim: int, latent_dim: int, hidden: int = 32):
        super().__init__()
        self.gru = nn.GRU(2 * obs_dim + 2, hidden, batch_first=True)
        self.head = _GaussianHead(hidden + 1, latent_dim)

    def forward(self, batch: IrregularBatch, t0: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
        """``batch`` (``x, mask: [B, T, D]``) → ``(μ, σ)``, each ``[B, latent]``."""
        inputs, lengths, first_time = reversed_observations(batch, t0)
        packed = pack_padded_sequence(inputs, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, h = self.gru(packed)  # h: [1, B, hidden]
        return self.head(torch.cat([h[0], first_time[:, None]], dim=-1))


class HiddenODE(nn.Module):
    """Hidden-state dynamics ``dh/dt = g(h)`` of an ODE-RNN, integrated with fixed substeps.

    Args:
        hidden: state width; ode_hidden: width of ``g``; max_step: largest substep
        (model-time units); method: ``"euler"`` or ``"rk4"``.
    """

    def __init__(self, hidden: int, ode_hidden: int = 32, max_step: float = 0.05, method: str = "euler"):
        super().__init__()
        if method not in ("euler", "rk4"):
            raise ValueError(f"ODE-RNN method must be 'euler' or 'rk4', got {method!r}.")
        if not max_step > 0:
            raise ValueError(f"max_step must be positive, got {max_step}.")
        self.net = mlp(hidden, hidden, ode_hidden, 1, "tanh")
        self.max_step, self.method = max_step, method

    def evolve(self, h: torch.Tensor, dt: float, active: torch.Tensor | None = None) -> torch.Tensor:
        """Integrate over ``dt`` (may be negative): ``h: [B, H] -> [B, H]``; rows where
        ``active: [B]`` is False are returned unchanged."""
        if dt == 0:
            return h
        n = max(1, math.ceil(abs(dt) / self.max_step))
        step = dt / n
        h0, g = h, self.net
        for _ in range(n):
            if self.method == "euler":
                h = h + step * g(h)
            else:
                k1 = g(h)
                k2 = g(h + 0.5 * step * k1)
                k3 = g(h + 0.5 * step * k2)
                k4 = g(h + step * k3)
                h = h + step / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        return h if active is None else torch.where(active[:, None], h, h0)


class ODERNNEncoder(nn.Module):
    """ODE-RNN run backwards in time (Rubanova et al. 2019): between observations the hidden
    state follows ``dh/dt = g(h)`` (:class:`HiddenODE`); at each observation a GRU cell
    updates it (chapter 2).

    The hidden state of a series stays zero until its latest observation is read, then is
    evolved back to ``t0``. The loop over the grid is unavoidable, so each step is kept to one
    small network call; grid points that no series observes are skipped.

    Args:
        obs_dim, latent_dim, hidden: sizes; ode_hidden, max_step, method: see :class:`HiddenODE`.
    """

    def __init__(self, obs_dim: int, latent_dim: int, hidden: int = 32, ode_hidden: int = 32, max_step: float = 0.05, method: str = "euler"):
        super().__init__()
        self.cell = nn.GRUCell(2 * obs_dim, hidden)
        self.dynamics = HiddenODE(hidden, ode_hidden, max_step, method)
        self.head = _GaussianHead(hidden, latent_dim)

    def run(self, batch: IrregularBatch, t0: float = 0.0) -> torch.Tensor:
        """The hidden state at ``t0`` after the backward pass: ``[B, hidden]``."""
        x, m, t = batch.x, batch.mask, batch.t
        B = x.shape[0]
        rows = m.amax(dim=2) > 0  # [B, T]
        if bool((rows.sum(1) == 0).any()):
            raise ValueError(f"series {torch.nonzero(rows.sum(1) == 0)[0].item()} has no observed point; the encoder needs at least one.")
        idx = torch.nonzero(rows.any(dim=0)).squeeze(1).tolist()
        times = t.tolist()
        xm = torch.where(m.bool(), x, torch.zeros_like(x))  # unobserved entries may hold anything, NaN too
        h = x.new_zeros(B, self.cell.hidden_size)
        started = torch.zeros(B, dtype=torch.bool, device=x.device)
        t_prev = None
        for k in reversed(idx):
            if t_prev is not None:
                h = self.dynamics.evolve(h, times[k] - t_prev, started)
            obs = rows[:, k]
            h_new = self.cell(torch.cat([xm[:, k], m[:, k]], dim=-1), h)
            h = torch.where(obs[:, None], h_new, h)
            started = started | obs
            t_prev = times[k]
        return self.dynamics.evolve(h, t0 - t_prev)

    def forward(self, batch: IrregularBatch, t0: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
        """``batch`` (``x, mask: [B, T, D]``) → ``(μ, σ)``, each ``[B, latent]``."""
        return self.head(self.run(batch, t0))
