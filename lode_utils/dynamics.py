"""The ODE flow: the vector field f_θ and the solve z_t = ODESolve(z₀, f_θ, t₀, t).

Explained in chapter 4 (*ODE flow*).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torchdiffeq import odeint, odeint_adjoint

__all__ = ["ODEFlow", "ODEFunc", "mlp"]

_ACTIVATIONS = {"tanh": nn.Tanh, "elu": nn.ELU, "relu": nn.ReLU, "softplus": nn.Softplus, "silu": nn.SiLU}


def mlp(n_in: int, n_out: int, hidden: int, layers: int, activation: str = "tanh") -> nn.Sequential:
    """``layers`` hidden layers of width ``hidden``: ``[..., n_in] -> [..., n_out]``.

    ``layers = 0`` gives a single linear map.
    """
    if activation not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(_ACTIVATIONS)}.")
    mods: list[nn.Module] = []
    width = n_in
    for _ in range(layers):
        mods += [nn.Linear(width, hidden), _ACTIVATIONS[activation]()]
        width = hidden
    mods.append(nn.Linear(width, n_out))
    return nn.Sequential(*mods)


class ODEFunc(nn.Module):
    """Autonomous vector field ``f_θ(z)``: ``z: [..., latent] -> dz/dt: [..., latent]`` (chapter 4).

    Counts its evaluations in ``nfe`` (reset by :class:`~lode_utils.dynamics.ODEFlow` before each solve).
    """

    def __init__(self, latent_dim: int, hidden: int = 32, layers: int = 1, activation: str = "tanh"):
        super().__init__()
        self.net = mlp(latent_dim, latent_dim, hidden, layers, activation)
        self.nfe = 0

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        self.nfe += 1
        return self.net(z)


class ODEFlow(nn.Module):
    """Solve ``dz/dt = f(z)`` from ``z(t0)`` to query times on either side of ``t0`` (chapter 4).

    Args:
        func: the vector field, called as ``func(t, z)``.
        method: any torchdiffeq solver (``"dopri5"``, ``"rk4"``, ``"euler"``, ...).
        rtol, atol: tolerances of adaptive solvers.
        step_size: step of fixed-grid solvers (model time units). The solver then steps on a
            regular grid from ``t0`` and the query times are read off it by cubic Hermite
            interpolation, vectorised over all queries (one extra batched evaluation of ``f``),
            so the cost no longer grows with the number of query times. ``None`` steps from
            query time to query time.
        adjoint: backpropagate with the adjoint method (less memory, more time).
        options: extra torchdiffeq options passed to ``odeint``.

    After each call, ``last_nfe`` holds the number of evaluations of ``func`` in the forward
    solve; ``func.nfe`` keeps counting through the backward pass, so
    ``func.nfe - last_nfe`` after ``loss.backward()`` is the backward NFE (zero unless adjoint).
    """

    FIXED = ("euler", "midpoint", "rk4", "explicit_adams", "implicit_adams", "heun3")

    def __init__(
        self,
        func: nn.Module,
        *,
        method: str = "dopri5",
        rtol: float = 1e-3,
        atol: float = 1e-4,
        step_size: float | None = None,
        adjoint: bool = False,
        options: dict | None = None,
    ):
        super().__init__()
        self.func = func
        self.method, self.rtol, self.atol = method, rtol, atol
        self.step_size, self.adjoint = step_size, adjoint
        if step_size is not None and not step_size > 0:
            raise ValueError(f"step_size must be positive, got {step_size}.")
        self.options = dict(options or {})
        self.last_nfe = 0

    def _solve(self, z0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``z0: [..., L]``, ``t: [T]`` monotone from ``t[0]`` = start → ``[T, ..., L]``."""
        if self.step_size is not None and self.method in self.FIXED:
            return self._solve_on_grid(z0, t)
        return self._odeint(z0, t)

    def _solve_on_grid(self, z0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        span = float((t[-1] - t[0]).abs())
        n = max(1, math.ceil(span / self.step_size - 1e-9))
        h = (t[-1] - t[0]) / n
        grid = t[0] + h * torch.arange(n + 1, dtype=t.dtype, device=t.device)
        zg = self._odeint(z0, grid)  # [n+1, ..., L]
        pos = ((t - t[0]) / h).clamp(0, n)
        i = pos.floor().long().clamp(max=n - 1)
        s = (pos - i).reshape(-1, *([1] * (zg.ndim - 1)))
        # one batched evaluation of f, at the grid points the queries fall between only
        # (so the adjoint's memory does not grow with the number of steps)
        need = torch.unique(torch.cat([i, i + 1]))
        fg = self.func(grid[need], zg[need])
        j = torch.searchsorted(need, i)
        y0, y1, f0, f1 = zg[i], zg[i + 1], fg[j], fg[j + 1]
        h00, h10, h01, h11 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s, -2 * s**3 + 3 * s**2, s**3 - s**2
        return h00 * y0 + h10 * h * f0 + h01 * y1 + h11 * h * f1

    def _odeint(self, z0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        solver = odeint_adjoint if self.adjoint else odeint
        kw = dict(rtol=self.rtol, atol=self.atol, method=self.method, options=self.options)
        if self.adjoint:
            kw["adjoint_params"] = tuple(self.func.parameters())
        return solver(self.func, z0, t, **kw)

    def forward(self, z0: torch.Tensor, t0: torch.Tensor | float, t: torch.Tensor) -> torch.Tensor:
        """Solve from ``z0`` at ``t0`` to every time in ``t``.

        Args:
            z0: ``[..., latent]`` state at time ``t0``.
            t0: scalar start time.
            t: ``[T]`` strictly increasing query times; they may lie before ``t0`` (solved
               backwards), at ``t0``, or after it.

        Returns:
            ``[..., T, latent]`` the state at each query time.
        """
        if t.ndim != 1 or t.numel() == 0:
            raise ValueError(f"query times must be a non-empty 1-D tensor, got shape {tuple(t.shape)}.")
        if t.numel() > 1 and not bool((t[1:] > t[:-1]).all()):
            raise ValueError("query times must be strictly increasing; sort them and drop duplicates.")
        t0 = torch.as_tensor(t0, dtype=t.dtype, device=t.device).reshape(1)
        if hasattr(self.func, "nfe"):
            self.func.nfe = 0
        parts = []
        before, after = t[t < t0], t[t >= t0]
        if before.numel():
            grid = torch.cat([t0, before.flip(0)])
            zs = self._solve(z0, grid)[1:].flip(0)
            parts.append(zs)
        if after.numel():
            if after[0] > t0:
                zs = self._solve(z0, torch.cat([t0, after]))[1:]
            elif after.numel() > 1:
                zs = self._solve(z0, after)
            else:
                zs = z0[None]
            parts.append(zs)
        self.last_nfe = getattr(self.func, "nfe", 0)
        out = torch.cat(parts, dim=0)  # [T, ..., latent]
        return out.movedim(0, -2)
