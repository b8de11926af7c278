"""The book's figures, in one style: observed / truth / prediction / uncertainty always look the same.

Used in every chapter. Helpers read tensors and results (batches, :class:`~lode_utils.Prediction`,
:class:`~lode_utils.History`), never model internals.
"""

from __future__ import annotations

import contextlib

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import torch

__all__ = ["COLORS", "book_style", "plot_history", "plot_latent", "plot_prediction", "plot_series", "shade_future"]

#: One colour per role, used by every figure of the book (colour-blind-safe Okabe–Ito palette).
COLORS = {
    "observed": "#000000",  # points the model sees
    "held_out": "#E69F00",  # points hidden from the model and scored
    "truth": "#999999",  # noise-free curve
    "prediction": "#0072B2",  # posterior (predictive) mean
    "uncertainty": "#56B4E9",  # quantile band
    "baseline": "#D55E00",  # RNN baselines
    "prior": "#009E73",  # samples from the prior
    "future": "#F0E442",  # shaded extrapolation region
}

_STYLE = {
    "figure.dpi": 80,
    "savefig.dpi": 80,
    "figure.figsize": (8, 3.2),
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.constrained_layout.use": True,
}


def book_style() -> None:
    """Apply the book's matplotlib style globally (every chapter calls this once)."""
    mpl.rcParams.update(_STYLE)


@contextlib.contextmanager
def style():
    """The book's style for the figures made inside a ``with`` block."""
    with mpl.rc_context(_STYLE):
        yield


def _np(a):
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def plot_series(ax, batch, index: int = 0, channel: int = 0, *, show_truth: bool = True, show_held_out: bool = True, label_prefix: str = ""):
    """Scatter series ``index`` of an :class:`~lode_utils.data.IrregularBatch`.

    Observed points (``mask``) in black, held-out scored points (``target_mask`` minus
    ``mask``) in orange, and the noise-free truth as a grey line when the batch has it.
    """
    t = _np(batch.t)
    x = _np(batch.x[index, :, channel])
    m = _np(batch.mask[index, :, channel]) > 0
    tm = _np(batch.targets[index, :, channel]) > 0
    if show_truth and batch.truth is not None:
        avail = m | tm
        ax.plot(t[avail], _np(batch.truth[index, :, channel])[avail], color=COLORS["truth"], lw=1.5, label=f"{label_prefix}truth", zorder=1)
    ax.scatter(t[m], x[m], s=14, color=COLORS["observed"], label=f"{label_prefix}observed", zorder=3)
    held = tm & ~m
    if show_held_out and held.any():
        ax.scatter(t[held], x[held], s=14, facecolors="none", edgecolors=COLORS["held_out"], label=f"{label_prefix}held out", zorder=3)
    return ax


def plot_prediction(ax, pred, index: int = 0, channel: int = 0, *, color: str | None = None, label: str = "prediction", band: bool = True, n_paths: int = 0):
    """Draw a :class:`~lode_utils.Prediction`: mean line, quantile band, optional sample paths."""
    color = color or COLORS["prediction"]
    t = _np(pred.t)
    if n_paths:
        for k in range(min(n_paths, pred.samples.shape[0])):
            ax.plot(t, _np(pred.samples[k, index, :, channel]), color=color, lw=0.6, alpha=0.35, zorder=1)
    if band:
        lo, hi = pred.quantiles
        ax.fill_between(
            t,
            _np(pred.lower[index, :, channel]),
            _np(pred.upper[index, :, channel]),
            color=COLORS["uncertainty"] if color == COLORS["prediction"] else color,
            alpha=0.25,
            lw=0,
            label=f"{round((hi - lo) * 100)}% band",
            zorder=0,
        )
    ax.plot(t, _np(pred.mean[index, :, channel]), color=color, lw=2, label=label, zorder=2)
    return ax


def shade_future(ax, start: float, end: float | None = None, *, label: str = "extrapolation"):
    """Shade the extrapolation region ``[start, end]`` (default: to the right edge)."""
    end = ax.get_xlim()[1] if end is None else end
    ax.axvspan(start, end, color=COLORS["future"], alpha=0.18, lw=0, label=label, zorder=0)
    return ax


def plot_latent(ax, t, zt, index: int = 0, *, dims=None, sample: int = 0):
    """Latent trajectories ``zt: [K, B, T, L]`` of series ``index`` (one line per dimension)."""
    z = _np(zt[sample, index])
    dims = range(z.shape[-1]) if dims is None else dims
    cmap = plt.get_cmap("viridis")
    dims = list(dims)
    for j, d in enumerate(dims):
        ax.plot(_np(t), z[:, d], color=cmap(j / max(1, len(dims) - 1)), lw=1.3, label=f"$z_{{{d}}}$")
    ax.set_xlabel("time (model units)")
    ax.set_ylabel("latent state")
    return ax


def plot_history(axes, history, *, label: str | None = None, color: str | None = None, x: str = "step"):
    """Training curves from a :class:`~lode_utils.History` on two axes: loss, and test MSE.

    ``x="step"`` or ``x="wall"`` (seconds of training).
    """
    ax_loss, ax_test = axes
    xs = history.step if x == "step" else history.wall
    ax_loss.plot(xs, history.loss, color=color, lw=1, label=label)
    ax_loss.set_ylabel("training loss (−ELBO per point)")
    ax_loss.set_xlabel("iteration" if x == "step" else "training time (s)")
    if history.test:
        xt = history.test_step if x == "step" else history.test_wall
        ax_test.plot(xt, history.test_metric("mse"), "o-", color=color, lw=1.5, ms=4, label=label)
        ax_test.set_yscale("log")
        ax_test.set_ylabel("test MSE (held-out points)")
        ax_test.set_xlabel("iteration" if x == "step" else "training time (s)")
    return axes
