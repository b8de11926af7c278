"""Scores on held-out points: MSE / RMSE for interpolation and extrapolation, interval coverage.

Explained in chapter 7. Every metric reads only the points where ``target_mask`` is 1.
"""

from __future__ import annotations

import torch

from .data import IrregularBatch

__all__ = ["coverage", "evaluate", "masked_mse"]


def masked_mse(pred: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> float:
    """Mean of ``(pred − x)²`` over entries where ``mask`` is 1; all ``[B, T, D]``."""
    n = mask.sum()
    if n == 0:
        raise ValueError("no scored point: the mask is all zero.")
    diff = torch.where(mask.bool(), pred - x, torch.zeros_like(pred))
    return float((diff**2).sum() / n)


def coverage(lower: torch.Tensor, upper: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> float:
    """Share of masked values inside ``[lower, upper]``; all ``[B, T, D]``."""
    n = mask.sum()
    if n == 0:
        raise ValueError("no scored point: the mask is all zero.")
    inside = ((x >= lower) & (x <= upper)).to(x.dtype) * mask
    return float(inside.sum() / n)


def evaluate(model, task: IrregularBatch, *, n_samples: int = 50, quantiles=(0.05, 0.95), generator: torch.Generator | None = None, units_scale=None) -> dict:
    """Score ``model`` on ``task``: it sees ``task.mask`` points and is scored on ``target_mask``.

    Args:
        model: a :class:`~lode_utils.LatentODE` or :class:`~lode_utils.baselines.RecurrentBaseline`.
        task: from :func:`~lode_utils.data.interpolation_task` or
            :func:`~lode_utils.data.extrapolation_task`.
        units_scale: optional ``[D]`` per-channel std to report errors in original units; the
            MSE in the model's own units is then also returned, as ``"mse_model_units"``.

    Returns:
        ``{"mse", "rmse", "coverage", "n_points"}`` against the observations, plus
        ``"mse_truth"``, ``"rmse_truth"`` against the noise-free values when ``task.truth`` exists.
        The point prediction is the mean of the posterior predictive.
    """
    task = task.on(model.device)  # once, here: predict() then finds it in place, and the scores need it too
    was_training = model.training
    model.eval()
    try:
        pred = model.predict(task, task.t, n_samples=n_samples, quantiles=quantiles, include_noise=True, generator=generator)
    finally:
        model.train(was_training)
    target = task.targets
    scale = 1.0 if units_scale is None else torch.as_tensor(units_scale, dtype=pred.mean.dtype, device=pred.mean.device)
    out = {
        "mse": masked_mse(pred.mean * scale, task.x * scale, target),
        "coverage": coverage(pred.lower, pred.upper, task.x, target),
        "n_points": int(target.sum()),
    }
    out["rmse"] = out["mse"] ** 0.5
    if units_scale is not None:
        out["mse_model_units"] = masked_mse(pred.mean, task.x, target)
    if task.truth is not None:
        out["mse_truth"] = masked_mse(pred.mean * scale, task.truth * scale, target)
        out["rmse_truth"] = out["mse_truth"] ** 0.5
    return out
