"""Training: seeds, one ``fit`` for every model, and the training history.

Explained in chapter 6 (*ELBO and training*).
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
import sys
import time
from collections.abc import Callable

import numpy as np
import torch

from .data import IrregularBatch, SeriesDataset, extrapolation_task, interpolation_task
from .devices import resolve_device
from .elbo import KLSchedule
from .metrics import evaluate

__all__ = ["History", "RandomStreams", "fit", "make_task", "seed_everything"]


@dataclasses.dataclass
class RandomStreams:
    """One seeded :class:`torch.Generator` per purpose, so changing one use of randomness
    (say, the minibatch order) leaves the others alone."""

    seed: int
    data: torch.Generator
    loader: torch.Generator
    sampling: torch.Generator
    evaluation: torch.Generator


def seed_everything(seed: int, *, deterministic: bool = True) -> RandomStreams:
    """Seed Python, NumPy and torch (model initialisation) and return per-purpose generators.

    With ``deterministic`` it also asks torch for deterministic algorithms and checks that the
    settings took effect (raising ``RuntimeError`` if not), so a typo cannot silently disable them.
    """
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - seeds legacy global NumPy users too
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
        if not torch.are_deterministic_algorithms_enabled() or torch.initial_seed() != seed:
            raise RuntimeError("determinism settings did not take effect")

    def gen(offset: int) -> torch.Generator:
        return torch.Generator().manual_seed(seed * 1000 + offset)

    return RandomStreams(seed=seed, data=gen(1), loader=gen(2), sampling=gen(3), evaluation=gen(4))


@dataclasses.dataclass
class History:
    """Per-iteration training record and periodic test scores (chapter 6).

    Lists, one entry per iteration: ``step, loss, log_lik, kl, kl_weight, mse, nfe_forward,
    nfe_backward, wall`` (seconds of training so far, evaluation excluded), ``cpu`` (the same in
    this process's CPU seconds), ``lr``. Test scores, one entry per evaluation: ``test_step,
    test_wall, test_cpu, test`` (dicts from :func:`~lode_utils.metrics.evaluate`).
    """

    step: list = dataclasses.field(default_factory=list)
    loss: list = dataclasses.field(default_factory=list)
    log_lik: list = dataclasses.field(default_factory=list)
    kl: list = dataclasses.field(default_factory=list)
    kl_weight: list = dataclasses.field(default_factory=list)
    mse: list = dataclasses.field(default_factory=list)
    nfe_forward: list = dataclasses.field(default_factory=list)
    nfe_backward: list = dataclasses.field(default_factory=list)
    wall: list = dataclasses.field(default_factory=list)
    cpu: list = dataclasses.field(default_factory=list)
    lr: list = dataclasses.field(default_factory=list)
    test_step: list = dataclasses.field(default_factory=list)
    test_wall: list = dataclasses.field(default_factory=list)
    test_cpu: list = dataclasses.field(default_factory=list)
    test: list = dataclasses.field(default_factory=list)

    def test_metric(self, name: str = "mse") -> list:
        """The test metric ``name`` at each evaluation."""
        return [d[name] for d in self.test]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def make_task(
    kind: str | Callable,
    batch: IrregularBatch,
    *,
    observed_fraction: float = 0.5,
    split_time: float | None = None,
    score: str = "all",
    generator: torch.Generator | None = None,
) -> IrregularBatch:
    """Turn a batch of series into a training or test task.

    ``kind``: ``"interpolation"`` (a random ``observed_fraction`` shown), ``"extrapolation"``
    (the points up to ``split_time`` shown), ``"reconstruction"`` (everything shown and scored)
    or a callable ``(batch, generator) -> batch``. ``score``: ``"all"`` scores every available
    point (training), ``"held_out"`` only the hidden ones (testing).
    """
    if callable(kind):
        return kind(batch, generator)
    if kind == "interpolation":
        return interpolation_task(batch, observed_fraction, generator=generator, score=score)
    if kind == "extrapolation":
        task = extrapolation_task(batch, split_time)
        if score == "all":
            task.target_mask = batch.mask
        return task
    if kind == "reconstruction":
        return IrregularBatch(t=batch.t, x=batch.x, mask=batch.mask, truth=batch.truth)
    raise ValueError(f"unknown task {kind!r}; use 'interpolation', 'extrapolation', 'reconstruction' or a callable.")


def _quiet() -> bool:
    return bool(os.environ.get("CI")) or not sys.stderr.isatty()


def fit(
    model,
    data: SeriesDataset | IrregularBatch,
    *,
    task: str | Callable = "interpolation",
    observed_fraction: float = 0.5,
    split_time: float | None = None,
    iterations: int = 500,
    batch_size: int = 50,
    lr: float = 1e-2,
    lr_decay: str | None = "cosine",
    lr_warmup: int = 0,
    weight_decay: float = 0.0,
    clip_grad: float | None = None,
    kl_schedule: KLSchedule | None = None,
    n_samples: int = 1,
    iwae: bool = False,
    eval_every: int = 0,
    eval_samples: int = 20,
    test: IrregularBatch | None = None,
    time_budget: float | None = None,
    clock: str = "wall",
    seed: int = 0,
    device=None,
    progress: bool | None = None,
) -> History:
    """Train a :class:`~lode_utils.LatentODE` or :class:`~lode_utils.baselines.RecurrentBaseline` with Adam.

    Args:
        model: the model; it is trained in place (and gets ``model.scaling`` from ``data``).
        data: a :class:`~lode_utils.data.SeriesDataset` (minibatches of its training split) or
            one :class:`~lode_utils.data.IrregularBatch` (full batch).
        task, observed_fraction, split_time: how each minibatch becomes a training task
            (:func:`~lode_utils.train.make_task`, scored on all available points).
        iterations: optimiser steps; time_budget: stop early after this many seconds of training,
            measured by ``clock``: ``"wall"`` (elapsed time) or ``"cpu"`` (this process's CPU time,
            which other load on the machine does not inflate; equal to elapsed time on one free core).
        batch_size: series per step; lr, weight_decay: Adam.
        lr_decay: ``"cosine"`` (to 1 % of ``lr`` over ``iterations``); ``"cosine-time"`` (the
            same curve over whichever runs out first, ``iterations`` or ``time_budget``, so a
            timed run ends its schedule when its time is spent, and the result depends on the
            machine's speed; without a budget it is the cosine over ``iterations``); ``None``;
            or a float ``γ`` for exponential decay per step.
        lr_warmup: scale the scheduled learning rate by ``step / lr_warmup`` for the first
            ``lr_warmup`` steps (linear warm-up from ``lr / lr_warmup``); 0 = none.
        clip_grad: clip the gradient norm to this value. Warm-up and clipping both guard against
            the first large Adam steps driving a Latent ODE onto a plateau where it predicts
            roughly the average curve (chapter 10 counts how often that happens).
        kl_schedule: KL annealing (default: none, weight 1).
        n_samples, iwae: samples of ``z0`` per series and whether to train on the K-sample bound.
        eval_every: evaluate on ``test`` every so many steps (and at the end); 0 = only at the end.
        test: a fixed test task; default for a dataset: its test split turned into the same
            ``task`` with held-out scoring, drawn once from the seed.
        seed: seeds model-independent randomness (minibatches, masks, ε) via :func:`seed_everything`.
        device: train there (``"cpu"``, ``"cuda"``...; checked by
            :func:`~lode_utils.devices.resolve_device`): the model is moved there, each minibatch
            follows it. Minibatches, masks and ε are still drawn on the CPU, so a seed gives the
            same draws on any device (the arithmetic, and so the trained weights, differ in the
            last digits). On a GPU, an operation with no deterministic kernel warns instead of
            failing. Default: wherever the model already is.
        progress: show a tqdm bar (default: only in an interactive terminal, never in CI).

    Returns:
        :class:`~lode_utils.History`.
    """
    streams = seed_everything(seed)
    if device is not None:
        device = resolve_device(device)
        model.to(device)
        if device.type != "cpu":
            torch.use_deterministic_algorithms(True, warn_only=True)
    if isinstance(data, SeriesDataset):
        model.scaling = data.scaling
        batches = data.batches(batch_size, generator=streams.loader)
        if test is None and data.test_idx.size:
            test = make_task(
                task, data.test_batch(), observed_fraction=observed_fraction, split_time=split_time, score="held_out", generator=streams.evaluation
            )
    elif isinstance(data, IrregularBatch):

        def _full():
            while True:
                yield data

        batches = _full()
    else:
        raise ValueError(f"fit() needs a SeriesDataset or an IrregularBatch, got {type(data).__name__}.")
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}.")
    if not isinstance(lr_warmup, int | np.integer) or lr_warmup < 0:
        raise ValueError(f"lr_warmup must be a non-negative integer number of steps, got {lr_warmup!r}.")
    if clock not in ("wall", "cpu"):
        raise ValueError(f"clock must be 'wall' or 'cpu', got {clock!r}.")
    kl_schedule = kl_schedule or KLSchedule()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if lr_decay == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=iterations, eta_min=lr * 0.01)
    elif isinstance(lr_decay, float):
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=lr_decay)
    elif lr_decay is None or lr_decay == "cosine-time":
        sched = None
    else:
        raise ValueError(f"lr_decay must be 'cosine', 'cosine-time', a float or None, got {lr_decay!r}.")
    hist = History()
    show = (not _quiet()) if progress is None else progress
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(total=iterations, desc=type(model).__name__, leave=False)
    func = getattr(getattr(model, "flow", None), "func", None)
    wall = cpu = 0.0

    def run_eval(step):
        if test is None:
            return
        hist.test_step.append(step)
        hist.test_wall.append(wall)
        hist.test_cpu.append(cpu)
        hist.test.append(evaluate(model, test, n_samples=eval_samples, generator=torch.Generator().manual_seed(seed)))

    model.train()
    for step in range(1, iterations + 1):
        start, start_cpu = time.perf_counter(), time.process_time()
        batch = next(batches)
        train_task = make_task(task, batch, observed_fraction=observed_fraction, split_time=split_time, score="all", generator=streams.data)
        w = kl_schedule(step - 1)
        opt.zero_grad(set_to_none=True)
        terms = model.loss(train_task, kl_weight=w, n_samples=n_samples, iwae=iwae, generator=streams.sampling)
        if not torch.isfinite(terms.loss):
            raise FloatingPointError(
                f"loss became {float(terms.loss)} at step {step}; lower lr, clip gradients (clip_grad=1.0) or loosen the solver tolerances."
            )
        nfe_before = func.nfe if func is not None else 0
        terms.loss.backward()
        nfe_bwd = (func.nfe - nfe_before) if func is not None else 0
        if clip_grad is not None:
            torch.nn.utils.clip_grad_norm_(params, clip_grad)
        if lr_decay == "cosine-time":
            done = (step - 1) / iterations
            if time_budget is not None:
                done = max(done, (wall if clock == "wall" else cpu) / time_budget)
            for g in opt.param_groups:
                g["lr"] = lr * (0.01 + 0.99 * (1 + math.cos(math.pi * min(1.0, done))) / 2)
        scheduled = [g["lr"] for g in opt.param_groups]
        if step < lr_warmup:
            for g in opt.param_groups:
                g["lr"] *= step / lr_warmup
        opt.step()
        hist.lr.append(opt.param_groups[0]["lr"])
        for g, value in zip(opt.param_groups, scheduled, strict=True):
            g["lr"] = value  # the schedule itself goes on from the un-warmed rate
        if sched is not None:
            sched.step()
        wall += time.perf_counter() - start
        cpu += time.process_time() - start_cpu
        hist.step.append(step)
        hist.loss.append(float(terms.loss.detach()))
        hist.log_lik.append(float(terms.log_lik))
        hist.kl.append(float(terms.kl))
        hist.kl_weight.append(w)
        hist.mse.append(float(terms.mse))
        hist.nfe_forward.append(terms.nfe)
        hist.nfe_backward.append(nfe_bwd)
        hist.wall.append(wall)
        hist.cpu.append(cpu)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{hist.loss[-1]:.3f}", mse=f"{hist.mse[-1]:.4f}")
        out_of_time = time_budget is not None and (wall if clock == "wall" else cpu) >= time_budget
        if (eval_every and step % eval_every == 0) or step == iterations or out_of_time:
            if not hist.test_step or hist.test_step[-1] != step:
                run_eval(step)
        if out_of_time:
            break
    if bar is not None:
        bar.close()
    model.eval()
    return hist
