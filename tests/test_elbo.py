"""lode_utils.elbo: masked likelihood, analytic KL, the K-sample bound, annealing (chapter 6)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from lode_utils import elbo as E
from lode_utils import sampling

Z_TOL = 5.0  # standard errors


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------------------------
# KL
# ----------------------------------------------------------------------------------------------
MU = torch.tensor([[0.0, 1.2, -0.7], [2.0, -0.1, 0.4]], dtype=torch.float64)
SIGMA = torch.tensor([[1.0, 0.3, 1.8], [0.6, 1.1, 0.05]], dtype=torch.float64)


def test_kl_matches_torch_distributions():
    kl = E.kl_standard_normal(MU, SIGMA)
    assert kl.shape == MU.shape
    torch.testing.assert_close(kl, kl_divergence(Normal(MU, SIGMA), Normal(0.0, 1.0)))
    assert kl[0, 0] == 0  # KL(N(0,1) || N(0,1)) = 0 exactly


def test_kl_matches_monte_carlo():
    n = 200_000
    z = MU + SIGMA * torch.randn((n, *MU.shape), generator=gen(0), dtype=torch.float64)
    log_ratio = Normal(MU, SIGMA).log_prob(z) - Normal(0.0, 1.0).log_prob(z)  # [n, B, L]
    mc, se = log_ratio.mean(0), log_ratio.std(0) / math.sqrt(n)
    kl = E.kl_standard_normal(MU, SIGMA)
    assert bool(((mc - kl).abs() < Z_TOL * se + 1e-12).all()), (mc, kl, se)


# ----------------------------------------------------------------------------------------------
# masked Gaussian likelihood
# ----------------------------------------------------------------------------------------------
def _likelihood_case():
    g = gen(1)
    K, B, T, D = 3, 2, 5, 2
    x = torch.randn(B, T, D, generator=g, dtype=torch.float64)
    mean = torch.randn(K, B, T, D, generator=g, dtype=torch.float64)
    std = torch.tensor([0.5, 2.0], dtype=torch.float64)
    mask = (torch.rand(B, T, D, generator=g) < 0.6).double()
    mask[0, 0, 0] = 1.0
    mask[1, 1, 1] = 0.0
    return x, mean, std, mask


def test_gaussian_log_likelihood_matches_torch_distributions():
    x, mean, std, mask = _likelihood_case()
    ll = E.gaussian_log_likelihood(x, mean, std, mask)
    assert ll.shape == (3, 2)
    expected = (Normal(mean, std).log_prob(x.expand_as(mean)) * mask).sum(dim=(-2, -1))
    torch.testing.assert_close(ll, expected)
    ll3 = E.gaussian_log_likelihood(x, mean[0], std, mask)  # [B, T, D] mean -> [B]
    torch.testing.assert_close(ll3, expected[0])


@pytest.mark.parametrize("garbage", [1e6, -1e6, 3.0])
def test_masked_entries_contribute_exactly_zero(garbage):
    x, mean, std, mask = _likelihood_case()
    ll = E.gaussian_log_likelihood(x, mean, std, mask)
    x_bad = torch.where(mask.bool(), x, torch.full_like(x, garbage))
    assert torch.equal(E.gaussian_log_likelihood(x_bad, mean, std, mask), ll)
    assert torch.equal(E.gaussian_log_likelihood(x_bad, mean, std, torch.zeros_like(mask)), torch.zeros(3, 2, dtype=torch.float64))


def test_masked_nan_gives_finite_likelihood_and_gradients():
    """The batch docs allow anything (NaN too) where unobserved: it must not leak into gradients."""
    x, mean, _, mask = _likelihood_case()
    x_nan = torch.where(mask.bool(), x, torch.full_like(x, float("nan")))
    mean = mean.clone().requires_grad_(True)
    log_std = torch.tensor([0.1, -0.2], dtype=torch.float64, requires_grad=True)
    ll = E.gaussian_log_likelihood(x_nan, mean, log_std.exp(), mask)
    ll_ref = E.gaussian_log_likelihood(x, mean, log_std.exp(), mask)
    torch.testing.assert_close(ll, ll_ref)
    g = torch.autograd.grad(ll.sum(), [mean, log_std])
    g_ref = torch.autograd.grad(ll_ref.sum(), [mean, log_std])
    for a, b in zip(g, g_ref):
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a, b)


# ----------------------------------------------------------------------------------------------
# the ELBO and the K-sample (IWAE) bound, on a linear-Gaussian model with exact answers
# ----------------------------------------------------------------------------------------------
# p(z) = N(0, I_2), x = W^T z + noise (std s) on T=3 points of D=2 channels (6 numbers).
# W has orthogonal rows, so the exact posterior is diagonal and q can equal it.
S = 0.5
W = torch.tensor([[1.0, 0.0, 1.0, 0.0, 1.0, 0.0], [0.0, 2.0, 0.0, -1.0, 0.0, 1.0]], dtype=torch.float64)
X = torch.tensor([[0.3, -1.0], [1.2, 0.4], [0.1, 0.9]], dtype=torch.float64)[None]  # [1, 3, 2]
STD = torch.full((2,), S, dtype=torch.float64)
MASK = torch.ones_like(X)


def decode(z0: torch.Tensor) -> torch.Tensor:
    """``z0: [K, B, 2] -> mean [K, B, 3, 2]``."""
    return (z0 @ W).reshape(*z0.shape[:-1], 3, 2)


def exact_posterior():
    c = (W * W).sum(1)  # W W^T is diag(c)
    var = 1.0 / (1.0 + c / S**2)
    mu = var * (W @ X.reshape(-1)) / S**2
    return mu[None], var.sqrt()[None]  # [1, 2]


def exact_log_evidence():
    cov = W.T @ W + S**2 * torch.eye(6, dtype=torch.float64)
    return torch.distributions.MultivariateNormal(torch.zeros(6, dtype=torch.float64), cov).log_prob(X.reshape(-1))


def terms(mu, sigma, z0, **kw):
    return E.elbo(X.expand(z0.shape[1], -1, -1), MASK.expand(z0.shape[1], -1, -1), decode(z0), STD, mu, sigma, z0, **kw)


def test_elbo_terms_are_consistent():
    mu, sigma = torch.tensor([[0.2, -0.3]], dtype=torch.float64), torch.tensor([[0.4, 0.7]], dtype=torch.float64)
    z0 = sampling.reparameterize(mu, sigma, 4, generator=gen(0))
    t = terms(mu, sigma, z0, kl_weight=0.25)
    ll = Normal(decode(z0), S).log_prob(X).sum(dim=(-2, -1)).mean(0).sum()
    kl = kl_divergence(Normal(mu, sigma), Normal(0.0, 1.0))
    torch.testing.assert_close(t.log_lik, ll)
    torch.testing.assert_close(t.kl, kl.sum())
    torch.testing.assert_close(t.kl_per_dim, kl.mean(0))
    torch.testing.assert_close(t.elbo, ll - kl.sum())
    assert t.n_points == 6
    torch.testing.assert_close(t.loss, -(ll - 0.25 * kl.sum()) / 6)
    torch.testing.assert_close(t.mse, ((decode(z0) - X) ** 2).mean())
    assert t.iwae is not None  # K > 1: the bound is reported
    floats = t.as_floats()
    assert set(floats) >= {"loss", "elbo", "log_lik", "kl", "mse", "n_points"}
    assert floats["n_points"] == 6 and isinstance(floats["loss"], float)


def test_iwae_with_one_sample_is_the_single_sample_elbo():
    mu, sigma = torch.tensor([[0.2, -0.3]], dtype=torch.float64), torch.tensor([[0.4, 0.7]], dtype=torch.float64)
    for seed in range(5):
        z0 = sampling.reparameterize(mu, sigma, 1, generator=gen(seed))
        t = terms(mu, sigma, z0, iwae=True)
        single = Normal(decode(z0), S).log_prob(X).sum(dim=(-2, -1)) + Normal(0.0, 1.0).log_prob(z0).sum(-1) - Normal(mu, sigma).log_prob(z0).sum(-1)
        torch.testing.assert_close(t.iwae, single.sum())
        torch.testing.assert_close(t.loss, -single.sum() / 6)
    assert terms(mu, sigma, z0).iwae is None  # K = 1 without iwae: not computed


def test_iwae_is_exact_when_q_is_the_true_posterior():
    """log w(z) = log p(x, z) − log q(z) = log p(x) for every z when q is the posterior."""
    mu, sigma = exact_posterior()
    z0 = sampling.reparameterize(mu, sigma, 7, generator=gen(0))
    log_px = exact_log_evidence()
    for k in (1, 7):
        t = terms(mu, sigma, z0[:k], iwae=True)
        torch.testing.assert_close(t.iwae, log_px, rtol=1e-10, atol=1e-10)
    # and the analytic-KL ELBO averaged over z is log p(x) too (the gap is KL(q || posterior) = 0)
    z_many = sampling.reparameterize(mu, sigma, 20_000, generator=gen(1))
    est = terms(mu, sigma, z_many).elbo
    assert abs(float(est - log_px)) < 0.05


def test_k_sample_bound_lies_between_elbo_and_evidence():
    """E[IWAE_K] ≥ ELBO, increasing in K, and ≤ log p(x), for a q that is not the posterior."""
    mu, sigma = exact_posterior()
    mu, sigma = mu + torch.tensor([[0.3, -0.2]], dtype=torch.float64), sigma * 1.6
    R = 4000  # independent repetitions, one per "series" of a batch
    mu_r, sigma_r = mu.expand(R, -1), sigma.expand(R, -1)
    log_px = float(exact_log_evidence())
    per_rep = {}
    for k in (1, 10):
        z0 = sampling.reparameterize(mu_r, sigma_r, k, generator=gen(k))
        mean = decode(z0)
        ll = E.gaussian_log_likelihood(X.expand(R, -1, -1), mean, STD, MASK.expand(R, -1, -1))
        log_w = ll + sampling.log_normal(z0, torch.zeros_like(mu_r), torch.ones_like(sigma_r)) - sampling.log_normal(z0, mu_r, sigma_r)
        per_rep[k] = torch.logsumexp(log_w, 0) - math.log(k)  # [R]
        t = E.elbo(X.expand(R, -1, -1), MASK.expand(R, -1, -1), mean, STD, mu_r, sigma_r, z0, iwae=True)
        torch.testing.assert_close(t.iwae, per_rep[k].sum())
    elbo_exact = float(terms(mu, sigma, sampling.reparameterize(mu, sigma, 200_000, generator=gen(5))).elbo)
    mean1, se1 = per_rep[1].mean(), per_rep[1].std() / math.sqrt(R)
    mean10, se10 = per_rep[10].mean(), per_rep[10].std() / math.sqrt(R)
    assert abs(float(mean1) - elbo_exact) < Z_TOL * float(se1)  # K = 1 is an unbiased ELBO estimate
    diff = per_rep[10] - per_rep[1]
    assert float(diff.mean()) > Z_TOL * float(diff.std() / math.sqrt(R))  # K = 10 is higher on average
    assert float(mean10) < log_px + Z_TOL * float(se10)  # and still a lower bound
    assert log_px - elbo_exact > 0.1  # the gap is real, so the checks above have something to find


def test_elbo_rejects_an_all_zero_target_mask():
    mu, sigma = exact_posterior()
    z0 = sampling.reparameterize(mu, sigma, 1, generator=gen(0))
    with pytest.raises(ValueError, match="no scored point"):
        E.elbo(X, torch.zeros_like(X), decode(z0), STD, mu, sigma, z0)


def test_elbo_only_scores_masked_points():
    mu, sigma = exact_posterior()
    z0 = sampling.reparameterize(mu, sigma, 2, generator=gen(0))
    mask = MASK.clone()
    mask[0, 1] = 0
    x_bad = X.clone()
    x_bad[0, 1] = 1e6
    a = E.elbo(X, mask, decode(z0), STD, mu, sigma, z0)
    b = E.elbo(x_bad, mask, decode(z0), STD, mu, sigma, z0)
    assert a.n_points == 4
    for name in ("loss", "elbo", "log_lik", "mse", "iwae"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name


# ----------------------------------------------------------------------------------------------
# KL annealing
# ----------------------------------------------------------------------------------------------
def test_kl_schedule_linear():
    s = E.KLSchedule(warmup=3, ramp=4)
    assert [s(i) for i in range(9)] == [0.0, 0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert [E.KLSchedule()(i) for i in (0, 10)] == [1.0, 1.0]  # no annealing
    assert [E.KLSchedule(warmup=2)(i) for i in range(4)] == [0.0, 0.0, 1.0, 1.0]


def test_kl_schedule_exp():
    s = E.KLSchedule(warmup=10, kind="exp", decay=0.99)  # Rubanova et al.: 1 − 0.99^(epoch − 10)
    assert [s(i) for i in (0, 9)] == [0.0, 0.0]
    for step in (10, 11, 20, 110, 1000):
        assert s(step) == pytest.approx(1 - 0.99 ** (step - 10), rel=1e-12)
    assert s(11) == pytest.approx(0.01)
    weights = [s(i) for i in range(10, 500)]
    assert all(a < b for a, b in itertools.pairwise(weights)) and weights[-1] < 1


def test_kl_schedule_rejects_unknown_kind():
    with pytest.raises(ValueError, match="kind must be 'linear' or 'exp', got 'cosine'"):
        E.KLSchedule(kind="cosine")
