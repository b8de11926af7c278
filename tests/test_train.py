"""lode_utils.train: fit, seeds and the history (chapter 6)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from lode_utils import KLSchedule, LatentODE, RecurrentBaseline, data, evaluate, fit, make_task, seed_everything
from lode_utils.train import History, RandomStreams


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def small_lode(seed: int = 0, **kw) -> LatentODE:
    torch.manual_seed(seed)
    cfg = dict(obs_dim=1, latent_dim=4, enc_hidden=16, ode_hidden=16, dec_hidden=16, step_size=0.1, obs_std=0.1)
    cfg.update(kw)
    return LatentODE(**cfg)


def small_baseline(kind: str, seed: int = 0) -> RecurrentBaseline:
    torch.manual_seed(seed)
    return RecurrentBaseline(obs_dim=1, kind=kind, hidden=16, ode_hidden=16, max_step=0.1)


# ----------------------------------------------------------------------------------------------
# training lowers the loss and the held-out error
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("make", "iterations"),
    [(lambda: small_lode(step_size=0.2, obs_std=0.3), 100), (lambda: small_baseline("rnn"), 100), (lambda: small_baseline("odernn"), 100)],
    ids=["latent_ode", "rnn", "odernn"],
)
def test_fit_lowers_loss_and_test_mse(sine_dataset, make, iterations):
    ds = sine_dataset
    test = make_task("interpolation", ds.test_batch(), observed_fraction=0.5, score="held_out", generator=gen(1))
    model = make()
    before = evaluate(model, test, n_samples=10, generator=gen(0))["mse"]
    hist = fit(model, ds, iterations=iterations, batch_size=64, lr=3e-2, test=test, eval_samples=10, seed=0)
    after = hist.test_metric("mse")[-1]
    first, last = np.mean(hist.loss[:10]), np.mean(hist.loss[-10:])
    assert last < 0.5 * first, (first, last)
    assert after < 0.5 * before, (before, after)
    # and it beats the best constant guess (the variance of the held-out values)
    held_out = test.x[test.target_mask.bool()]
    assert after < 0.6 * float(held_out.var()), (after, float(held_out.var()))
    assert model.scaling is ds.scaling and not model.training


# ----------------------------------------------------------------------------------------------
# seeds
# ----------------------------------------------------------------------------------------------
def _fit_history(seed: int, init: int = 0) -> tuple[History, LatentODE]:
    batch = data.collate([(t, v) for t, v in zip(*_arrays())])
    model = small_lode(init)
    hist = fit(model, batch, iterations=12, lr=1e-2, seed=seed, observed_fraction=0.5)
    return hist, model


def _arrays():
    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, 12)
    return [t] * 6, [np.sin(2 * np.pi * t + p) for p in rng.uniform(0, 6, 6)]


def test_same_seed_gives_identical_history():
    h1, m1 = _fit_history(seed=7)
    h2, m2 = _fit_history(seed=7)
    assert h1.loss == h2.loss and h1.mse == h2.mse and h1.kl == h2.kl and h1.nfe_forward == h2.nfe_forward
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(p1, p2)


def test_different_seed_gives_different_history():
    h1, _ = _fit_history(seed=7)
    h3, _ = _fit_history(seed=8)
    assert h1.loss[0] != h3.loss[0]  # different masks and ε from the first step
    assert h1.loss != h3.loss


def test_seed_everything_returns_generators_and_enables_determinism():
    torch.use_deterministic_algorithms(False)
    streams = seed_everything(5)
    assert isinstance(streams, RandomStreams) and streams.seed == 5
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.initial_seed() == 5
    gens = [streams.data, streams.loader, streams.sampling, streams.evaluation]
    assert all(isinstance(g, torch.Generator) for g in gens)
    draws = [torch.rand(4, generator=g) for g in gens]
    assert all(not torch.equal(draws[i], draws[j]) for i in range(4) for j in range(i + 1, 4))  # one stream per purpose
    again = seed_everything(5)
    assert torch.equal(torch.rand(4, generator=again.sampling), draws[2])
    a = (random.random(), np.random.rand(), torch.rand(1))  # noqa: NPY002 - the legacy global stream is what it seeds
    seed_everything(5)
    b = (random.random(), np.random.rand(), torch.rand(1))  # noqa: NPY002
    assert a[:2] == b[:2] and torch.equal(a[2], b[2])


def test_seed_everything_without_determinism_and_bad_seeds():
    torch.use_deterministic_algorithms(False)
    seed_everything(3, deterministic=False)
    assert not torch.are_deterministic_algorithms_enabled()
    for bad in (-1, 1.5, "1"):
        with pytest.raises(ValueError, match="seed must be a non-negative integer"):
            seed_everything(bad)


# ----------------------------------------------------------------------------------------------
# the history and fit's options
# ----------------------------------------------------------------------------------------------
def test_history_records_every_step():
    batch = data.collate([(t, v) for t, v in zip(*_arrays())])
    model = small_lode()
    sched = KLSchedule(warmup=2, ramp=4)
    hist = fit(model, batch, iterations=8, lr=1e-2, kl_schedule=sched, eval_every=4, test=make_task("interpolation", batch, score="held_out", generator=gen(0)))
    for name in ("step", "loss", "log_lik", "kl", "kl_weight", "mse", "nfe_forward", "nfe_backward", "wall", "lr"):
        assert len(getattr(hist, name)) == 8, name
    assert hist.step == list(range(1, 9))
    assert hist.kl_weight == [sched(i) for i in range(8)] == [0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert all(n > 0 for n in hist.nfe_forward) and all(n == 0 for n in hist.nfe_backward)
    assert hist.lr[0] == pytest.approx(1e-2) and hist.lr[-1] < hist.lr[0]  # cosine decay
    assert all(a <= b for a, b in zip(hist.wall, hist.wall[1:]))
    assert hist.test_step == [4, 8] and len(hist.test_metric("coverage")) == 2
    assert set(hist.to_dict()) >= {"loss", "test"}


def test_lr_warmup_scales_the_first_steps_and_leaves_the_schedule_alone():
    batch = data.collate([(t, v) for t, v in zip(*_arrays())])
    flat = fit(small_lode(), batch, iterations=6, lr=1e-2, lr_decay=None, lr_warmup=4)
    assert flat.lr == pytest.approx([0.25e-2, 0.5e-2, 0.75e-2, 1e-2, 1e-2, 1e-2], rel=1e-12)
    plain = fit(small_lode(), batch, iterations=10, lr=1e-2)
    warm = fit(small_lode(), batch, iterations=10, lr=1e-2, lr_warmup=4)
    assert warm.lr[:3] == pytest.approx([plain.lr[i] * (i + 1) / 4 for i in range(3)], rel=1e-12)
    assert warm.lr[3:] == plain.lr[3:]  # the cosine goes on from the un-warmed rate, to 1 % of lr
    assert warm.loss[0] == plain.loss[0] and warm.loss[1] != plain.loss[1]  # a smaller first step


@pytest.mark.parametrize("bad", [-1, 2.5, "10"])
def test_lr_warmup_rejects_bad_values(bad):
    batch = data.collate([(t, v) for t, v in zip(*_arrays())])
    with pytest.raises(ValueError, match="lr_warmup must be a non-negative integer number of steps"):
        fit(small_lode(), batch, iterations=2, lr_warmup=bad)


def test_cosine_time_follows_the_budget_or_the_iterations_whichever_runs_out_first():
    import math
    import time

    batch = data.collate([(t, v) for t, v in zip(*_arrays())])

    class Slow(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = small_lode()

        def loss(self, *args, **kwargs):
            time.sleep(0.04)
            return self.inner.loss(*args, **kwargs)

    def cosine(frac):
        return 1e-2 * (0.01 + 0.99 * (1 + math.cos(math.pi * min(1.0, frac))) / 2)

    budget = 0.3
    hist = fit(Slow(), batch, iterations=1000, lr=1e-2, lr_decay="cosine-time", time_budget=budget, clock="wall")
    assert 4 <= len(hist.step) < 1000 and hist.wall[-1] >= budget  # stopped by the budget
    expected = [cosine(0.0)] + [cosine(max(k / 1000, w / budget)) for k, w in zip(hist.step, hist.wall[:-1])]
    assert hist.lr == pytest.approx(expected, rel=1e-12)
    assert hist.lr[-1] < 0.5e-2  # past the middle of the curve when the time was spent
    short = fit(small_lode(), batch, iterations=5, lr=1e-2, lr_decay="cosine-time", time_budget=1e6)
    assert short.lr == pytest.approx([cosine(k / 5) for k in range(5)], rel=1e-12)  # here the iterations run out first
    untimed = fit(small_lode(), batch, iterations=5, lr=1e-2, lr_decay="cosine-time")
    assert untimed.lr == short.lr and untimed.loss == short.loss


def test_fit_adjoint_counts_backward_evaluations():
    batch = data.collate([(t, v) for t, v in zip(*_arrays())])
    model = small_lode(method="dopri5", step_size=None, adjoint=True, rtol=1e-3, atol=1e-4)
    hist = fit(model, batch, iterations=2, lr=1e-2)
    assert all(n > 0 for n in hist.nfe_backward)


def test_fit_time_budget_stops_early():
    batch = data.collate([(t, v) for t, v in zip(*_arrays())])
    hist = fit(small_lode(), batch, iterations=50, time_budget=0.0, test=batch)
    assert hist.step == [1] and hist.test_step == [1]


def test_fit_cpu_clock_budget_ignores_waiting():
    """The CPU clock counts this process's computing, not time spent waiting (here: sleeping)."""
    import time

    batch = data.collate([(t, v) for t, v in zip(*_arrays())])

    class Sleepy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = small_lode()

        def loss(self, *args, **kwargs):
            time.sleep(0.05)
            return self.inner.loss(*args, **kwargs)

    hist = fit(Sleepy(), batch, iterations=4, time_budget=0.15, clock="cpu")
    assert hist.step == [1, 2, 3, 4], "sleeping must not count against a CPU-time budget"
    assert len(hist.cpu) == len(hist.wall) == 4
    assert all(c < w for c, w in zip(hist.cpu, hist.wall)) and hist.wall[-1] >= 0.2
    hist = fit(Sleepy(), batch, iterations=4, time_budget=0.15, clock="wall")
    assert len(hist.step) < 4


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        (dict(task="interp"), "unknown task 'interp'"),
        (dict(iterations=0), "iterations must be >= 1"),
        (dict(lr_decay="step"), "lr_decay must be 'cosine', 'cosine-time', a float or None"),
        (dict(clock="gpu"), "clock must be 'wall' or 'cpu'"),
    ],
)
def test_fit_rejects_bad_arguments(kw, match):
    batch = data.collate([(t, v) for t, v in zip(*_arrays())])
    with pytest.raises(ValueError, match=match):
        fit(small_lode(), batch, **kw)


def test_fit_rejects_other_data():
    with pytest.raises(ValueError, match="fit\\(\\) needs a SeriesDataset or an IrregularBatch, got list"):
        fit(small_lode(), [np.zeros(3)])
