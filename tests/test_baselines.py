"""lode_utils.baselines: RNN-Δt and ODE-RNN on the Latent ODE's batch interface (chapter 7)."""

from __future__ import annotations

import pytest
import torch

from lode_utils import BaselineConfig, RecurrentBaseline, data
from lode_utils.data import Scaling

KINDS = ["rnn", "odernn"]


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def tiny(kind: str, seed: int = 0, **kw) -> RecurrentBaseline:
    torch.manual_seed(seed)
    cfg = dict(obs_dim=2, kind=kind, hidden=8, ode_hidden=8, max_step=0.1)
    cfg.update(kw)
    model = RecurrentBaseline(**cfg)
    with torch.no_grad():  # a non-zero initial state, so the first prediction is not trivial
        model.h0.normal_(generator=gen(seed + 100))
    return model


def test_config_validation():
    with pytest.raises(ValueError, match="baseline kind must be 'rnn' or 'odernn', got 'lstm'"):
        RecurrentBaseline(obs_dim=1, kind="lstm")
    m = RecurrentBaseline(BaselineConfig(obs_dim=1), kind="odernn")
    assert m.config.kind == "odernn" and hasattr(m, "dynamics")
    assert not hasattr(RecurrentBaseline(obs_dim=1), "dynamics")


@pytest.mark.parametrize("kind", KINDS)
def test_forward_shape_and_wrong_dim(batch, kind):
    model = tiny(kind)
    assert model(batch).shape == batch.x.shape
    with pytest.raises(ValueError, match=r"batch has 2 channel\(s\) but the model was built for obs_dim=1"):
        tiny(kind, obs_dim=1)(batch)


@pytest.mark.parametrize("kind", KINDS)
def test_one_step_predictions_only_see_the_past(batch, kind):
    """Changing an observed value at grid point j changes the predictions after j, not before."""
    model = tiny(kind)
    base = model(batch)
    j = 5  # t = 0.5, observed by every series
    assert bool((batch.mask[:, j].amax(-1) > 0).all())
    x = batch.x.clone()
    x[:, j] += 1.0
    moved = model(data.IrregularBatch(t=batch.t, x=x, mask=batch.mask))
    torch.testing.assert_close(moved[:, : j + 1], base[:, : j + 1], rtol=0, atol=0)
    assert (moved[:, j + 1] - base[:, j + 1]).abs().min() > 1e-6


@pytest.mark.parametrize("kind", KINDS)
def test_predictions_depend_on_the_time_gaps(batch, kind):
    """RNN-Δt reads Δt and the ODE-RNN evolves over it: the same values at other times differ."""
    model = tiny(kind)
    stretched = data.IrregularBatch(t=batch.t * 1.7, x=batch.x, mask=batch.mask)
    base, other = model(batch), model(stretched)
    torch.testing.assert_close(other[:, 0], base[:, 0])  # the first step has no gap yet
    assert (other[:, 1:] - base[:, 1:]).abs().max() > 1e-3


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("value", [1e6, float("nan")])
def test_values_where_mask_is_zero_are_never_read(batch, kind, value):
    model = tiny(kind)
    x = torch.where(batch.mask.bool(), batch.x, torch.full_like(batch.x, value))
    changed = data.IrregularBatch(t=batch.t, x=x, mask=batch.mask)
    torch.testing.assert_close(model(changed), model(batch), rtol=0, atol=1e-6)
    torch.testing.assert_close(model.loss(changed).loss, model.loss(batch).loss, rtol=0, atol=1e-6)
    p1 = model.predict(changed, [0.25, 1.2], n_samples=5, generator=gen(0))
    p2 = model.predict(batch, [0.25, 1.2], n_samples=5, generator=gen(0))
    torch.testing.assert_close(p1.samples, p2.samples, rtol=0, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_unobserved_points_are_filled_with_own_predictions(kind):
    """Extrapolation: past the data the model reads its own previous prediction."""
    model = tiny(kind, obs_dim=1)
    t = torch.tensor([0.0, 0.2, 0.4, 0.6, 0.8])
    x = torch.tensor([[[0.5], [-0.3], [0.0], [0.0], [0.0]]])
    m = torch.tensor([[[1.0], [1.0], [0.0], [0.0], [0.0]]])
    pred = model(data.IrregularBatch(t=t, x=x, mask=m))
    # the same run with the unobserved values set to the predictions and marked unobserved
    filled = x.clone()
    filled[0, 2:] = pred[0, 2:].detach()
    again = model(data.IrregularBatch(t=t, x=filled, mask=m))
    torch.testing.assert_close(again, pred, rtol=0, atol=1e-6)
    # whereas marking them observed changes the inputs (the mask bit), so the output changes
    observed = model(data.IrregularBatch(t=t, x=filled, mask=torch.ones_like(m)))
    assert (observed[0, 3:] - pred[0, 3:]).abs().max() > 1e-6


@pytest.mark.parametrize("kind", KINDS)
def test_loss_is_the_gaussian_nll_of_one_step_predictions(batch, kind):
    model = tiny(kind, obs_std=0.7)
    terms = model.loss(batch)
    mean = model(batch)
    n = int(batch.mask.sum())
    expected = -(torch.distributions.Normal(mean, 0.7).log_prob(batch.x) * batch.mask).sum() / n
    torch.testing.assert_close(terms.loss, expected)
    assert terms.n_points == n
    torch.testing.assert_close(terms.mse, (((mean - batch.x) * batch.mask) ** 2).sum() / n)
    assert terms.kl == 0 and terms.kl_per_dim.numel() == 0
    ignored = model.loss(batch, kl_weight=0.3, n_samples=5, iwae=True)  # Latent ODE keywords are accepted
    torch.testing.assert_close(ignored.loss, terms.loss)


@pytest.mark.parametrize("kind", KINDS)
def test_predict_shapes_times_and_units(batch, kind):
    model = tiny(kind)
    tq = [-0.2, 0.25, 0.5, 1.4]  # before, between (0.25 is not on the grid), on and after the data
    pred = model.predict(batch, tq, n_samples=12, generator=gen(0))
    assert pred.samples.shape == (12, 3, 4, 2)
    assert pred.mean.shape == pred.lower.shape == pred.upper.shape == (3, 4, 2)
    assert bool((pred.lower <= pred.median).all() and (pred.median <= pred.upper).all())
    assert pred.latent is None
    clean = model.predict(batch, tq, include_noise=False)
    assert clean.samples.shape[0] == 1
    # queries on the data's grid read the one-step predictions of the forward pass (a query
    # off the grid adds a step to the recurrence, so it is compared on the grid only)
    on_grid = model.predict(batch, batch.t[3:7], include_noise=False)
    torch.testing.assert_close(on_grid.mean, model(batch)[:, 3:7], rtol=0, atol=1e-6)
    # original units
    model.scaling = Scaling(t_offset=1.0, t_scale=2.0, mean=[0.5, -1.0], std=[2.0, 4.0])
    t_orig = [0.6, 1.5, 2.0, 3.8]
    po = model.predict(batch, t_orig, include_noise=False, original_units=True)
    torch.testing.assert_close(po.t, torch.tensor(t_orig))
    # (times go through float32 arithmetic on the way in: allow for its rounding)
    torch.testing.assert_close(po.mean, clean.mean * torch.tensor([2.0, 4.0]) + torch.tensor([0.5, -1.0]), rtol=0, atol=1e-4)
    default = model.predict(batch, include_noise=False, original_units=True)  # at the data's own times
    torch.testing.assert_close(default.t, 1.0 + 2.0 * batch.t)
    torch.testing.assert_close(default.mean, model(batch) * torch.tensor([2.0, 4.0]) + torch.tensor([0.5, -1.0]), rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="t_query must be strictly increasing"):
        model.predict(batch, [0.5, 0.1])
    model.scaling = None
    with pytest.raises(ValueError, match=r"needs model\.scaling"):
        model.predict(batch, [0.5], original_units=True)
