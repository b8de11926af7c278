"""lode_utils.encoders: the GRU read backwards in time and the ODE-RNN (chapter 2)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from lode_utils import data, encoders


def pad(batch: data.IrregularBatch, extra_times, fill: float = 0.0) -> data.IrregularBatch:
    """``batch`` on a grid with ``extra_times`` added; nobody observes the new points."""
    t = torch.cat([batch.t, torch.as_tensor(extra_times, dtype=batch.t.dtype)])
    order = torch.argsort(t)
    B, _, D = batch.x.shape
    n = len(extra_times)
    x = torch.cat([batch.x, torch.full((B, n, D), fill, dtype=batch.x.dtype)], dim=1)[:, order]
    m = torch.cat([batch.mask, torch.zeros(B, n, D, dtype=batch.mask.dtype)], dim=1)[:, order]
    return data.IrregularBatch(t=t[order], x=x, mask=m)


def garbage_where_unobserved(batch: data.IrregularBatch, value: float) -> data.IrregularBatch:
    x = torch.where(batch.mask.bool(), batch.x, torch.full_like(batch.x, value))
    return data.IrregularBatch(t=batch.t, x=x, mask=batch.mask)


def make(kind: str, obs_dim: int = 2, latent: int = 3, hidden: int = 8, seed: int = 0):
    torch.manual_seed(seed)
    if kind == "gru":
        return encoders.GRUEncoder(obs_dim, latent, hidden)
    return encoders.ODERNNEncoder(obs_dim, latent, hidden, ode_hidden=8, max_step=0.05)


# ----------------------------------------------------------------------------------------------
# reading backwards in time
# ----------------------------------------------------------------------------------------------
def test_reversed_observations_order_and_gaps(batch):
    # series 1 is observed at t = 0.1, 0.5 (channel 1 only), 0.7 on a 10-point union grid
    inputs, lengths, first_time = encoders.reversed_observations(batch, t0=-0.5)
    assert inputs.shape == (3, batch.t.numel(), 2 * 2 + 2)
    assert lengths.tolist() == [4, 3, 5]
    torch.testing.assert_close(first_time, torch.tensor([0.5, 0.6, 0.55]))
    expected = torch.tensor(
        [
            [2.5, -3.0, 1.0, 1.0, 0.0, 1.2],  # t = 0.7 read first, Δt = 0, t − t0 = 1.2
            [0.0, 4.0, 0.0, 1.0, 0.2, 1.0],  # t = 0.5, Δt = 0.7 − 0.5; the missing channel reads 0 with mask 0
            [-1.0, 0.5, 1.0, 1.0, 0.4, 0.6],  # t = 0.1, Δt = 0.5 − 0.1
        ]
    )
    torch.testing.assert_close(inputs[1, :3], expected)
    assert inputs[1, 3:].abs().sum() == 0  # zero past the series' length
    # series 0 (t = 0, 0.2, 0.5, 0.9): Δt column is the gap to the later observation
    torch.testing.assert_close(inputs[0, :4, -2], torch.tensor([0.0, 0.4, 0.3, 0.2]))
    torch.testing.assert_close(inputs[0, :4, -1], torch.tensor([1.4, 1.0, 0.7, 0.5]))  # own time since t0
    torch.testing.assert_close(inputs[0, :4, 0], torch.tensor([7.0, 5.0, 3.0, 1.0]))


def _manual_gru(enc: encoders.GRUEncoder, batch: data.IrregularBatch, t0: float, reverse: bool = True):
    """The GRU encoder written as a Python loop of an ``nn.GRUCell`` sharing its weights."""
    gru = enc.gru
    cell = nn.GRUCell(gru.input_size, gru.hidden_size).to(batch.x.dtype)
    with torch.no_grad():
        cell.weight_ih.copy_(gru.weight_ih_l0)
        cell.weight_hh.copy_(gru.weight_hh_l0)
        cell.bias_ih.copy_(gru.bias_ih_l0)
        cell.bias_hh.copy_(gru.bias_hh_l0)
    mus, sigmas = [], []
    for b in range(batch.batch_size):
        m, x, t = batch.mask[b], batch.x[b], batch.t
        rows = torch.nonzero(m.amax(-1) > 0).squeeze(1).tolist()
        order = rows[::-1] if reverse else rows
        h = torch.zeros(1, gru.hidden_size, dtype=x.dtype)
        prev = None
        for k in order:
            dt = 0.0 if prev is None else abs(float(prev - t[k]))
            inp = torch.cat([x[k] * m[k], m[k], torch.tensor([dt, float(t[k]) - t0], dtype=x.dtype)])[None]
            h = cell(inp, h)
            prev = t[k]
        first = t[rows[0]] - t0
        mu, sigma = enc.head(torch.cat([h, first.reshape(1, 1)], dim=-1))
        mus.append(mu)
        sigmas.append(sigma)
    return torch.cat(mus), torch.cat(sigmas)


def test_gru_encoder_equals_a_backwards_loop_of_grucells(batch):
    enc = make("gru").double()
    b64 = batch.to(torch.float64)
    mu, sigma = enc(b64, t0=-0.25)
    mu_ref, sigma_ref = _manual_gru(enc, b64, t0=-0.25)
    torch.testing.assert_close(mu, mu_ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(sigma, sigma_ref, rtol=0, atol=1e-12)
    # the same loop run forwards in time is a different function: the check has teeth
    mu_fwd, _ = _manual_gru(enc, b64, t0=-0.25, reverse=False)
    assert (mu - mu_fwd).abs().max() > 1e-3


def _manual_odernn_one(enc: encoders.ODERNNEncoder, series: data.IrregularBatch, t0: float):
    """ODE-RNN of Rubanova et al. for one series: evolve between observations, update at each,
    latest first, then evolve back to ``t0``."""
    m, x, t = series.mask[0], series.x[0], series.t.tolist()
    rows = [k for k in range(len(t)) if m[k].sum() > 0]
    h = torch.zeros(1, enc.cell.hidden_size, dtype=x.dtype)
    prev = None
    for k in reversed(rows):
        if prev is not None:
            h = enc.dynamics.evolve(h, t[k] - prev)
        h = enc.cell(torch.cat([x[k] * m[k], m[k]])[None], h)
        prev = t[k]
    return enc.head(enc.dynamics.evolve(h, t0 - prev))


@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_odernn_encoder_equals_the_backwards_recursion(batch, method):
    enc = make("odernn").double()
    enc.dynamics.method = method
    one = batch.select(2).trimmed().to(torch.float64)
    mu, sigma = enc(one, t0=0.0)
    mu_ref, sigma_ref = _manual_odernn_one(enc, one, 0.0)
    torch.testing.assert_close(mu, mu_ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(sigma, sigma_ref, rtol=0, atol=1e-12)


def test_odernn_state_stays_zero_until_a_series_starts():
    """In a batch, series B (observed at 0.1, 0.3) waits while series A's later points are read."""
    tb = np.array([0.1, 0.3])
    ta = np.array([0.1, 0.3, 0.6, 0.9])
    a = (ta, np.array([1.0, -1.0, 0.5, 2.0]))
    b = (tb, np.array([0.7, -0.2]))
    enc = make("odernn", obs_dim=1).double()
    both = enc(data.collate([a, b], dtype=torch.float64))
    alone = enc(data.collate([b], dtype=torch.float64))
    torch.testing.assert_close(both[0][1:], alone[0], rtol=0, atol=1e-12)
    torch.testing.assert_close(both[1][1:], alone[1], rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", ["gru", "odernn"])
def test_encoder_shapes_and_positive_sigma(batch, kind):
    mu, sigma = make(kind)(batch)
    assert mu.shape == sigma.shape == (3, 3)
    assert bool((sigma > 0).all())
    assert mu.dtype == torch.float32


# ----------------------------------------------------------------------------------------------
# padding and masking invariance
# ----------------------------------------------------------------------------------------------
def test_gru_encoder_ignores_grid_points_a_series_does_not_observe(raw_series):
    enc = make("gru")
    alone = data.collate([raw_series[1]])
    padded = data.collate(raw_series).select(1)  # same series on the 10-point union grid
    assert padded.t.numel() > alone.t.numel()
    mu, sigma = enc(alone)
    mu_p, sigma_p = enc(padded)
    torch.testing.assert_close(mu_p, mu, rtol=0, atol=1e-6)
    torch.testing.assert_close(sigma_p, sigma, rtol=0, atol=1e-6)
    mu_b, sigma_b = enc(data.collate(raw_series))  # and in a batch with the other series
    torch.testing.assert_close(mu_b[1:2], mu, rtol=0, atol=1e-6)
    torch.testing.assert_close(sigma_b[1:2], sigma, rtol=0, atol=1e-6)


@pytest.mark.parametrize("kind", ["gru", "odernn"])
def test_encoder_ignores_grid_points_no_series_observes(batch, kind):
    enc = make(kind)
    mu, sigma = enc(batch)
    padded = pad(batch, [-0.3, 0.15, 0.42, 0.43, 1.7], fill=123.0)
    mu_p, sigma_p = enc(padded)
    torch.testing.assert_close(mu_p, mu, rtol=0, atol=1e-6)
    torch.testing.assert_close(sigma_p, sigma, rtol=0, atol=1e-6)


@pytest.mark.parametrize("kind", ["gru", "odernn"])
@pytest.mark.parametrize("value", [1e6, -3.5, float("nan")])
def test_encoder_ignores_values_where_mask_is_zero(batch, kind, value):
    enc = make(kind)
    mu, sigma = enc(batch)
    changed = garbage_where_unobserved(batch, value)
    assert not torch.equal(changed.x, batch.x) or value == 0
    mu_c, sigma_c = enc(changed)
    torch.testing.assert_close(mu_c, mu, rtol=0, atol=1e-6)
    torch.testing.assert_close(sigma_c, sigma, rtol=0, atol=1e-6)


@pytest.mark.parametrize("kind", ["gru", "odernn"])
def test_encoder_depends_on_observed_values(batch, kind):
    """The invariance checks above would pass for an encoder that ignores x: rule that out."""
    enc = make(kind)
    mu, _ = enc(batch)
    x = batch.x.clone()
    x[0, 0, 0] += 1.0  # an observed value
    mu_c, _ = enc(data.IrregularBatch(t=batch.t, x=x, mask=batch.mask))
    assert (mu_c[0] - mu[0]).abs().max() > 1e-4
    torch.testing.assert_close(mu_c[1:], mu[1:], rtol=0, atol=1e-6)  # other series untouched


@pytest.mark.parametrize("kind", ["gru", "odernn"])
def test_encoder_is_invariant_to_shifting_time_and_t0_together(batch, kind):
    enc = make(kind).double()
    b = batch.to(torch.float64)
    shifted = data.IrregularBatch(t=b.t + 0.5, x=b.x, mask=b.mask)
    mu, sigma = enc(b, t0=-0.25)
    mu_s, sigma_s = enc(shifted, t0=0.25)
    torch.testing.assert_close(mu_s, mu, rtol=0, atol=1e-10)
    torch.testing.assert_close(sigma_s, sigma, rtol=0, atol=1e-10)
    mu_other, _ = enc(b, t0=0.25)  # and t0 does matter
    assert (mu_other - mu).abs().max() > 1e-4


@pytest.mark.parametrize("kind", ["gru", "odernn"])
def test_encoder_rejects_a_series_with_no_observed_point(batch, kind):
    m = batch.mask.clone()
    m[1] = 0
    empty = data.IrregularBatch(t=batch.t, x=batch.x, mask=m)
    with pytest.raises(ValueError, match="series 1 has no observed point"):
        make(kind)(empty)


# ----------------------------------------------------------------------------------------------
# HiddenODE
# ----------------------------------------------------------------------------------------------
def test_hidden_ode_evolve():
    torch.manual_seed(0)
    h = torch.randn(4, 6, dtype=torch.float64)
    fine = encoders.HiddenODE(6, 8, max_step=1e-4, method="euler").double()
    rk4 = encoders.HiddenODE(6, 8, max_step=0.05, method="rk4").double()
    rk4.load_state_dict(fine.state_dict())
    assert fine.evolve(h, 0.0) is h
    out_rk4 = rk4.evolve(h, 0.37)
    torch.testing.assert_close(fine.evolve(h, 0.37), out_rk4, rtol=0, atol=1e-3)  # same flow, two solvers
    torch.testing.assert_close(rk4.evolve(out_rk4, -0.37), h, rtol=0, atol=1e-7)  # backwards undoes forwards
    assert (out_rk4 - h).abs().max() > 1e-2  # it did move
    active = torch.tensor([True, False, True, False])
    part = rk4.evolve(h, 0.37, active)
    assert torch.equal(part[~active], h[~active])
    assert torch.equal(part[active], out_rk4[active])


def test_hidden_ode_rejects_bad_options():
    with pytest.raises(ValueError, match="method must be 'euler' or 'rk4'"):
        encoders.HiddenODE(4, method="dopri5")
    with pytest.raises(ValueError, match="max_step must be positive"):
        encoders.HiddenODE(4, max_step=0.0)
