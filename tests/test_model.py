"""lode_utils.model and lode_utils.metrics: the assembled Latent ODE, predict, generate (chapter 7)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lode_utils import LatentODE, LatentODEConfig, Prediction, data, metrics
from lode_utils.data import Scaling

T0_QUERIES = [-0.5, -0.1, 0.0, 0.25, 0.6, 0.95, 1.5]  # before t0, at t0, between the data, after it


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def tiny(encoder: str = "gru", seed: int = 0, **kw) -> LatentODE:
    torch.manual_seed(seed)
    cfg = dict(obs_dim=2, latent_dim=3, encoder=encoder, enc_hidden=8, ode_hidden=8, dec_hidden=8, step_size=0.1, enc_max_step=0.1)
    cfg.update(kw)
    return LatentODE(**cfg)


def with_x(batch: data.IrregularBatch, where: torch.Tensor, value: float) -> data.IrregularBatch:
    x = torch.where(where.bool(), torch.full_like(batch.x, value), batch.x)
    return data.IrregularBatch(t=batch.t, x=x, mask=batch.mask, target_mask=batch.target_mask, truth=batch.truth)


# ----------------------------------------------------------------------------------------------
# construction and the forward pass
# ----------------------------------------------------------------------------------------------
def test_config_validation_and_overrides():
    with pytest.raises(ValueError, match="encoder must be 'gru' or 'odernn', got 'lstm'"):
        LatentODE(obs_dim=1, encoder="lstm")
    with pytest.raises(ValueError, match="latent_dim must be a positive integer"):
        LatentODE(obs_dim=1, latent_dim=0)
    with pytest.raises(ValueError, match="obs_dim must be a positive integer"):
        LatentODEConfig(obs_dim=0)
    m = LatentODE(LatentODEConfig(obs_dim=2), latent_dim=5)
    assert m.config.latent_dim == 5 and m.config.obs_dim == 2


@pytest.mark.parametrize("encoder", ["gru", "odernn"])
def test_forward_shapes(batch, encoder):
    model = tiny(encoder)
    out = model(batch, n_samples=4, generator=gen(0))
    B, T = batch.batch_size, batch.t.numel()
    assert out["mu"].shape == out["sigma"].shape == (B, 3)
    assert out["z0"].shape == (4, B, 3)
    assert out["zt"].shape == (4, B, T, 3)
    assert out["mean"].shape == (4, B, T, 2)
    torch.testing.assert_close(out["zt"][:, :, 0], out["z0"])  # batch.t[0] = 0 = t0


def test_encode_rejects_wrong_input(batch):
    model = tiny(obs_dim=1)
    with pytest.raises(ValueError, match=r"batch has 2 channel\(s\) but the model was built for obs_dim=1"):
        model.encode(batch)
    with pytest.raises(ValueError, match="expected an IrregularBatch"):
        model.encode((batch.t, batch.x, batch.mask))
    with pytest.raises(ValueError, match="obs_dim=1"):
        model.loss(batch)


# ----------------------------------------------------------------------------------------------
# the loss: padding and masking invariance
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("encoder", ["gru", "odernn"])
def test_loss_ignores_grid_points_a_series_does_not_observe(raw_series, encoder):
    model = tiny(encoder)
    alone = data.collate([raw_series[1]])
    padded = data.collate(raw_series).select(1)  # the same series on the 10-point union grid
    a = model.loss(alone, n_samples=2, generator=gen(3))
    b = model.loss(padded, n_samples=2, generator=gen(3))
    assert a.n_points == b.n_points == 5
    torch.testing.assert_close(b.loss, a.loss, rtol=0, atol=1e-6)
    torch.testing.assert_close(b.kl, a.kl, rtol=0, atol=1e-6)


@pytest.mark.parametrize("encoder", ["gru", "odernn"])
@pytest.mark.parametrize("value", [1e6, float("nan")])
def test_loss_ignores_values_neither_shown_nor_scored(batch, encoder, value):
    model = tiny(encoder)
    task = data.interpolation_task(batch, 0.5, generator=gen(0), score="held_out")
    unused = (task.mask == 0) & (task.target_mask == 0)
    base = model.loss(task, generator=gen(1))
    changed = model.loss(with_x(task, unused, value), generator=gen(1))
    torch.testing.assert_close(changed.loss, base.loss, rtol=0, atol=1e-6)


def test_loss_scores_targets_but_encoder_only_sees_mask(batch):
    model = tiny()
    task = data.interpolation_task(batch, 0.5, generator=gen(0), score="held_out")
    hidden = (task.mask == 0) & (task.target_mask == 1)
    assert hidden.any()
    moved = with_x(task, hidden, 5.0)
    mu, _ = model.encode(task)
    mu2, _ = model.encode(moved)
    torch.testing.assert_close(mu2, mu, rtol=0, atol=1e-6)  # held-out values are not read ...
    base = model.loss(task, generator=gen(1))
    assert float(model.loss(moved, generator=gen(1)).loss.detach()) > float(base.loss.detach()) + 1.0  # ... but are scored
    assert base.n_points == int(task.target_mask.sum())
    assert base.nfe > 0


# ----------------------------------------------------------------------------------------------
# predict: an exact answer from a linear latent ODE and a linear decoder
# ----------------------------------------------------------------------------------------------
A = torch.tensor([[-0.1, 2.0, 0.0], [-2.0, -0.1, 0.5], [0.0, -0.5, -0.3]])
WD = torch.tensor([[1.0, 0.5, -0.3], [0.0, -1.0, 0.7]])
BD = torch.tensor([0.2, -0.4])


def linear_model(encoder="gru", **kw) -> LatentODE:
    model = tiny(encoder, ode_layers=0, dec_layers=0, step_size=0.05, **kw)
    with torch.no_grad():
        model.flow.func.net[0].weight.copy_(A)
        model.flow.func.net[0].bias.zero_()
        model.decoder.net[0].weight.copy_(WD)
        model.decoder.net[0].bias.copy_(BD)
    return model


def closed_form(z0: torch.Tensor, t, t0: float = 0.0) -> torch.Tensor:
    """``z0: [B, L]`` → decoded mean ``[B, T, D]``."""
    z = torch.stack([z0.double() @ torch.linalg.matrix_exp(A.double() * (float(ti) - t0)).T for ti in t], dim=1)
    return (z @ WD.double().T + BD.double()).float()


def test_predict_mean_path_matches_closed_form_before_between_and_after(batch):
    model = linear_model()
    mu, _ = model.encode(batch)
    pred = model.predict(batch, T0_QUERIES, use_mean=True, include_noise=False)
    assert pred.samples.shape == (1, 3, len(T0_QUERIES), 2)
    torch.testing.assert_close(pred.mean, closed_form(mu, T0_QUERIES), rtol=0, atol=1e-4)
    assert pred.latent.shape == (1, 3, len(T0_QUERIES), 3)


@pytest.mark.parametrize("encoder", ["gru", "odernn"])
def test_model_is_invariant_to_shifting_data_queries_and_t0_together(batch, encoder):
    """t0 is the model's origin of time: moving it with the data changes nothing."""
    model = tiny(encoder).double()
    b = batch.to(torch.float64)
    shifted_model = tiny(encoder, t0=0.5).double()
    shifted_model.load_state_dict(model.state_dict())
    shifted = data.IrregularBatch(t=b.t + 0.5, x=b.x, mask=b.mask)
    tq = torch.tensor(T0_QUERIES, dtype=torch.float64)
    a = model.predict(b, tq, use_mean=True)
    s = shifted_model.predict(shifted, tq + 0.5, use_mean=True)
    torch.testing.assert_close(s.mean, a.mean, rtol=0, atol=1e-6)
    torch.testing.assert_close(s.latent[:, :, 2], shifted_model.encode(shifted)[0][None])  # the latent at t0 is mu
    unshifted = shifted_model.predict(b, tq, use_mean=True)  # the same data without the shift: a different answer
    assert (unshifted.mean - a.mean).abs().max() > 1e-3


def test_predict_at_any_times_is_consistent(batch):
    model = tiny()
    full = model.predict(batch, T0_QUERIES, use_mean=True, include_noise=False).mean
    for i in (0, 3, 5, 6):
        one = model.predict(batch, [T0_QUERIES[i]], use_mean=True, include_noise=False).mean
        torch.testing.assert_close(one[:, 0], full[:, i], rtol=0, atol=1e-4)


@pytest.mark.parametrize("encoder", ["gru", "odernn"])
def test_predict_shapes_and_band_ordering(batch, encoder):
    model = tiny(encoder)
    pred = model.predict(batch, T0_QUERIES, n_samples=64, generator=gen(0))
    K, B, T, D = 64, 3, len(T0_QUERIES), 2
    assert isinstance(pred, Prediction)
    assert pred.samples.shape == (K, B, T, D)
    for name in ("mean", "median", "lower", "upper"):
        assert getattr(pred, name).shape == (B, T, D), name
    assert bool((pred.lower <= pred.median).all() and (pred.median <= pred.upper).all())
    assert bool((pred.upper - pred.lower > 0).all())
    torch.testing.assert_close(pred.t, torch.tensor(T0_QUERIES))
    default = model.predict(batch, n_samples=2, generator=gen(0))
    assert torch.equal(default.t, batch.t)


def test_prediction_bands_hold_their_share_of_samples():
    samples = torch.randn(2001, 2, 3, 1, generator=gen(0))
    pred = Prediction.from_samples(torch.arange(3.0), samples, quantiles=(0.1, 0.9))
    inside = ((samples >= pred.lower) & (samples <= pred.upper)).double().mean(0)
    torch.testing.assert_close(inside, torch.full_like(inside, 0.8), rtol=0, atol=1e-3)
    below = (samples <= pred.median).double().mean(0)
    torch.testing.assert_close(below, torch.full_like(below, 0.5), rtol=0, atol=1e-3)


def test_predict_noise_and_seeding(batch):
    model = tiny()
    a = model.predict(batch, T0_QUERIES, n_samples=200, generator=gen(0))
    b = model.predict(batch, T0_QUERIES, n_samples=200, generator=gen(0))
    c = model.predict(batch, T0_QUERIES, n_samples=200, generator=gen(1))
    assert torch.equal(a.samples, b.samples)
    assert not torch.equal(a.samples, c.samples)
    noisy = tiny(obs_std=2.0)  # observation noise far above the latent spread
    wide = noisy.predict(batch, T0_QUERIES, n_samples=200, generator=gen(0))
    clean = noisy.predict(batch, T0_QUERIES, n_samples=200, generator=gen(0), include_noise=False)
    assert bool(((wide.upper - wide.lower) > (clean.upper - clean.lower)).all())  # noise widens every band
    torch.testing.assert_close(wide.samples.std(0), torch.full_like(wide.mean, 2.0), rtol=0.25, atol=0)
    one = model.predict(batch, T0_QUERIES, n_samples=200, use_mean=True)
    assert one.samples.shape[0] == 1


def test_predict_original_units_matches_scaling_by_hand(batch):
    model = linear_model()
    sc = Scaling(t_offset=10.0, t_scale=4.0, mean=[1.5, -2.0], std=[3.0, 0.5])
    model.scaling = sc
    t_orig = torch.tensor([8.0, 10.0, 10.4, 12.0, 15.0])
    t_model = (t_orig - 10.0) / 4.0
    po = model.predict(batch, t_orig, n_samples=30, original_units=True, generator=gen(2))
    pm = model.predict(batch, t_model, n_samples=30, generator=gen(2))
    std, mean = torch.tensor([3.0, 0.5]), torch.tensor([1.5, -2.0])
    torch.testing.assert_close(po.t, t_orig)
    for name in ("samples", "mean", "median", "lower", "upper"):
        torch.testing.assert_close(getattr(po, name), getattr(pm, name) * std + mean, msg=name)
    # and the deterministic path against the closed form, mapped by hand
    mu, _ = model.encode(batch)
    exact = model.predict(batch, t_orig, use_mean=True, include_noise=False, original_units=True)
    torch.testing.assert_close(exact.mean, closed_form(mu, t_model) * std + mean, rtol=0, atol=5e-4)


def test_predict_original_units_at_the_data_times(batch):
    """Without t_query the prediction is at the observations' own times (model units in,
    original units out), not at those times mistaken for original units."""
    model = linear_model()
    model.scaling = Scaling(t_offset=10.0, t_scale=4.0, mean=[1.5, -2.0], std=[3.0, 0.5])
    default = model.predict(batch, use_mean=True, original_units=True)
    explicit = model.predict(batch, model.scaling.time_to_original(batch.t), use_mean=True, original_units=True)
    torch.testing.assert_close(default.t, 10.0 + 4.0 * batch.t)
    torch.testing.assert_close(default.mean, explicit.mean, rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    ("t_query", "match"),
    [
        ([0.5, 0.2], "t_query must be strictly increasing"),
        ([0.2, 0.2], "t_query must be strictly increasing"),
        ([], "t_query is empty"),
        ([0.1, float("nan")], "t_query has NaN"),
    ],
)
def test_predict_rejects_bad_query_times(batch, t_query, match):
    with pytest.raises(ValueError, match=match):
        tiny().predict(batch, t_query)


def test_predict_original_units_needs_scaling(batch):
    with pytest.raises(ValueError, match=r"original_units=True needs model\.scaling"):
        tiny().predict(batch, [0.5], original_units=True)


def test_sample_prior_shapes():
    model = tiny()
    t = torch.linspace(-0.2, 1.5, 9)
    pred = model.sample_prior(t, n_samples=6, generator=gen(0))
    assert pred.samples.shape == (6, 1, 9, 2)
    assert pred.latent.shape == (6, 1, 9, 3)
    assert pred.mean.shape == pred.lower.shape == pred.upper.shape == (1, 9, 2)
    again = model.sample_prior(t, n_samples=6, generator=gen(0))
    assert torch.equal(pred.samples, again.samples)
    # z0 of the prior is N(0, I) at t0: the latent at t0 = 0 has unit spread over many draws
    many = model.sample_prior(torch.tensor([0.0, 0.5]), n_samples=4000, generator=gen(1))
    z_at_t0 = many.latent[:, 0, 0]
    torch.testing.assert_close(z_at_t0.std(0), torch.ones(3), rtol=0, atol=0.06)
    torch.testing.assert_close(z_at_t0.mean(0), torch.zeros(3), rtol=0, atol=0.08)


# ----------------------------------------------------------------------------------------------
# metrics
# ----------------------------------------------------------------------------------------------
def test_masked_mse_and_coverage_on_hand_values():
    pred = torch.tensor([[[1.0], [2.0], [3.0]]])
    x = torch.tensor([[[1.5], [2.0], [100.0]]])
    mask = torch.tensor([[[1.0], [1.0], [0.0]]])
    assert metrics.masked_mse(pred, x, mask) == pytest.approx(0.125)
    lower, upper = pred - 0.4, pred + 0.4
    assert metrics.coverage(lower, upper, x, mask) == pytest.approx(0.5)
    assert metrics.coverage(lower - 1, upper + 1, x, mask) == 1.0
    with pytest.raises(ValueError, match="no scored point"):
        metrics.masked_mse(pred, x, torch.zeros_like(mask))
    with pytest.raises(ValueError, match="no scored point"):
        metrics.coverage(lower, upper, x, torch.zeros_like(mask))


def test_evaluate_returns_scores_against_the_held_out_points():
    ds = data.periodic(n_series=6, n_points=20, seed=0, test_fraction=0.0)
    task = data.interpolation_task(ds.batch(), 0.5, generator=gen(0), score="held_out")
    model = tiny(obs_dim=1)
    model.train()
    out = metrics.evaluate(model, task, n_samples=16, generator=gen(5))
    assert model.training  # evaluate restores the mode
    assert set(out) == {"mse", "rmse", "coverage", "n_points", "mse_truth", "rmse_truth"}
    assert 0.0 <= out["coverage"] <= 1.0
    assert out["rmse"] == pytest.approx(out["mse"] ** 0.5)
    assert out["n_points"] == int(task.target_mask.sum())
    pred = model.predict(task, task.t, n_samples=16, include_noise=True, generator=gen(5))
    assert out["mse"] == pytest.approx(metrics.masked_mse(pred.mean, task.x, task.target_mask), rel=1e-6)
    assert out["mse_truth"] == pytest.approx(metrics.masked_mse(pred.mean, task.truth, task.target_mask), rel=1e-6)
    scaled = metrics.evaluate(model, task, n_samples=16, generator=gen(5), units_scale=[3.0])
    assert scaled["mse"] == pytest.approx(9 * out["mse"], rel=1e-5)
    assert scaled["coverage"] == out["coverage"]
    assert scaled["mse_model_units"] == pytest.approx(out["mse"], rel=1e-6)


def test_evaluate_coverage_of_a_known_model():
    """With a wide observation noise every held-out point falls inside the 1–99 % band."""
    ds = data.periodic(n_series=4, n_points=20, seed=1, test_fraction=0.0)
    task = data.interpolation_task(ds.batch(), 0.5, generator=gen(0), score="held_out")
    wide = tiny(obs_dim=1, obs_std=50.0)
    assert metrics.evaluate(wide, task, n_samples=200, quantiles=(0.01, 0.99), generator=gen(0))["coverage"] == 1.0
    narrow = tiny(obs_dim=1, obs_std=1e-3)
    assert metrics.evaluate(narrow, task, n_samples=50, generator=gen(0))["coverage"] < 0.5
    np.testing.assert_array_less(0, task.target_mask.sum().numpy())
