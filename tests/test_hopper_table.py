"""lode_utils.hopper's Table 3 machinery: tasks, the paper's normalisation, the model-free line,
and the experiment runner (same results in one process or in two).

Every test caches under its own ``tmp_path``; tests that simulate skip without dm_control.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lode_utils as L
from lode_utils import data, hopper


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("LODE_UTILS_CACHE", str(tmp_path / "cache"))


def grid_batch(values: np.ndarray) -> data.IrregularBatch:
    """``values: [B, 200, D]`` on the Hopper's times ``k / 200``."""
    t = np.arange(hopper.N_STEPS) / hopper.N_STEPS
    return data.collate([(t, v) for v in values])


@pytest.mark.parametrize("fraction", [0.1, 0.2, 0.3, 0.5])
def test_interpolation_task_shows_fraction_scores_everything(fraction):
    batch = grid_batch(np.random.default_rng(0).normal(size=(3, 200, 14)))
    task = hopper.observed_task("interpolation", fraction)(batch, torch.Generator().manual_seed(0))
    rows = task.mask.amax(dim=2)
    assert torch.all(rows.sum(1) == round(200 * fraction))
    assert torch.equal(task.mask, rows[..., None].expand_as(task.mask)), "a shown time point shows all 14 dimensions"
    assert torch.equal(task.targets, batch.mask), "the paper's code scores every point for interpolation"


@pytest.mark.parametrize("fraction", [0.1, 0.5])
def test_extrapolation_task_shows_first_half_scores_second(fraction):
    batch = grid_batch(np.zeros((2, 200, 14)))
    task = hopper.observed_task("extrapolation", fraction)(batch, torch.Generator().manual_seed(1))
    rows = task.mask.amax(dim=2)
    assert torch.all(rows[:, 100:] == 0) and torch.all(rows.sum(1) == round(100 * fraction))
    assert torch.all(task.targets[:, :100] == 0) and torch.all(task.targets[:, 100:] == 1)
    train = hopper.observed_task("extrapolation", fraction, score="all")(batch, torch.Generator().manual_seed(1))
    assert torch.equal(train.targets, batch.mask) and torch.equal(train.mask, task.mask)


def test_tasks_reject_bad_arguments():
    with pytest.raises(ValueError, match="kind must be"):
        hopper.observed_task("forecast", 0.1)
    with pytest.raises(ValueError, match="fraction must be in"):
        hopper.observed_task("interpolation", 0.0)
    with pytest.raises(ValueError, match="200 time points"):
        hopper.observed_task("interpolation", 0.5)(data.collate([(np.arange(5.0), np.zeros((5, 14)))]))
    with pytest.raises(ValueError, match="unknown model"):
        hopper.build_model("lstm")


def test_mixed_task_draws_every_fraction():
    batch = grid_batch(np.zeros((1, 200, 14)))
    task, gen = hopper.mixed_task("interpolation"), torch.Generator().manual_seed(0)
    seen = {int(task(batch, gen).mask.amax(dim=2).sum()) for _ in range(60)}
    assert seen == {20, 40, 60, 100}


class _FakeDataset:
    def __init__(self, low, high):
        self.params = {"data_min": np.asarray(low, float), "data_max": np.asarray(high, float)}


def test_paper_scale_converts_errors_exactly():
    """An MSE in our units times paper_scale² equals the MSE computed in the paper's (x − min) / max units."""
    rng = np.random.default_rng(2)
    raw = rng.uniform(-3, 5, size=(4, 200, 14))
    low, high = raw.min(axis=(0, 1)), raw.max(axis=(0, 1))
    ours = (raw - low) / (high - low)
    theirs = (raw - low) / high
    pred_raw = raw + rng.normal(scale=0.3, size=raw.shape)
    mse_theirs = np.mean(((pred_raw - low) / high - theirs) ** 2)
    s = hopper.paper_scale(_FakeDataset(low, high))
    err_ours = (pred_raw - low) / (high - low) - ours
    np.testing.assert_allclose(np.mean((err_ours * s) ** 2), mse_theirs, rtol=1e-12)
    with pytest.raises(ValueError, match="maximum"):
        hopper.paper_scale(_FakeDataset([-2.0], [-1.0]))


def test_naive_line_is_exact_on_lines_and_holds_the_last_value():
    t = np.arange(200) / 200
    ramp = np.repeat((0.1 + 0.5 * t)[None, :, None], 14, axis=2)
    ds = data.SeriesDataset([(t, ramp[0])] * 10, test_fraction=0.5, seed=0, normalize=False, time_span=float(t[-1]))
    flat = data.SeriesDataset([(t, np.full((200, 14), 0.3))] * 10, test_fraction=0.5, seed=0, normalize=False, time_span=float(t[-1]))
    assert max(hopper.naive_mse(flat, "interpolation", n_test=5) + hopper.naive_mse(flat, "extrapolation", n_test=5)) < 1e-25
    interp = hopper.naive_mse(ds, "interpolation", fractions=(1.0,), n_test=5)
    assert interp[0] < 1e-25, "every point shown: the line through them is the series"
    extrap = hopper.naive_mse(ds, "extrapolation", fractions=(1.0,), n_test=5)
    # all of the first 100 seen: predict ramp(t_99) for t_100..t_199, error 0.5 * (t - t_99)
    expected = np.mean((0.5 * (t[100:] - t[99])) ** 2)
    np.testing.assert_allclose(extrap[0], expected, rtol=1e-6)  # float32 batches
    scaled = hopper.naive_mse(ds, "extrapolation", fractions=(1.0,), n_test=5, scale=np.full(14, 2.0))
    np.testing.assert_allclose(scaled[0], 4 * expected, rtol=1e-6)


@pytest.mark.parametrize("key", list(hopper.MODEL_NAMES))
def test_models_take_the_hopper_state(key):
    model = hopper.build_model(key, latent_dim=4, hidden=8)
    batch = grid_batch(np.random.default_rng(3).uniform(size=(2, 200, 14)))
    task = hopper.observed_task("extrapolation", 0.2)(batch, torch.Generator().manual_seed(0))
    terms = model.loss(task, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(terms.loss)
    pred = model.predict(task, n_samples=2, generator=torch.Generator().manual_seed(0))
    assert pred.mean.shape == (2, 200, 14)


def test_table3_same_in_one_process_or_two(tmp_path):
    pytest.importorskip("dm_control")
    kw = dict(models=("latent_ode_rnn_enc", "rnn_dt"), tasks=("extrapolation",), n_trajectories=20, iterations=2, batch_size=4, n_test=4, eval_samples=2)
    kw["model_kwargs"] = dict(latent_dim=4, hidden=8)
    one = hopper.table3(workers=1, cache_dir=tmp_path, **kw)
    two = hopper.table3(workers=2, cache_dir=tmp_path, **kw)
    assert [j["model"] for j in one] == ["latent_ode_rnn_enc", "rnn_dt"]
    for a, b in zip(one, two):
        assert a["mse"] == b["mse"] and a["mse_paper_norm"] == b["mse_paper_norm"]
        assert len(a["mse"]) == 4 and all(np.isfinite(a["mse"]))
        for k in a["state_dict"]:
            assert torch.equal(a["state_dict"][k], b["state_dict"][k])
    per = hopper.table3(workers=1, cache_dir=tmp_path, per_fraction=True, **kw)
    assert len(per) == 2 * 4 and all(len(j["fractions"]) == 1 and len(j["mse"]) == 1 for j in per)
    model = hopper.build_model("rnn_dt", **kw["model_kwargs"])
    model.load_state_dict(one[1]["state_dict"])
    assert isinstance(model, L.RecurrentBaseline)


def test_paper_table_is_the_published_one():
    p = hopper.PAPER_TABLE3
    assert p["fractions"] == hopper.FRACTIONS == (0.1, 0.2, 0.3, 0.5)
    assert p["interpolation"]["latent_ode_odernn_enc"][3] == 0.285 and p["interpolation"]["ode_rnn"][3] == 0.665
    assert p["extrapolation"]["latent_ode_odernn_enc"][3] == 1.258 and p["extrapolation"]["ode_rnn"][3] == 26.463
    assert set(p["interpolation"]) == set(p["extrapolation"]) == set(hopper.MODEL_NAMES)
