"""lode_utils.sampling: reparameterized z₀ and the two gradient estimators (chapter 3).

Statistical checks use a tolerance of 5 standard errors estimated from the samples
themselves, so a correct estimator fails with probability below 1e-6 per check.
"""

from __future__ import annotations

import math

import pytest
import torch

from lode_utils import sampling

Z_TOL = 5.0  # standard errors


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_reparameterize_shape_and_gradients_reach_mu_and_sigma():
    K, B, L = 7, 3, 4
    mu = torch.randn(B, L, dtype=torch.float64, generator=gen(0)).requires_grad_(True)
    sigma = torch.rand(B, L, dtype=torch.float64, generator=gen(1)).add(0.1).requires_grad_(True)
    z = sampling.reparameterize(mu, sigma, K, generator=gen(2))
    assert z.shape == (K, B, L) and z.dtype == torch.float64
    eps = torch.randn((K, B, L), generator=gen(2), dtype=torch.float64)  # the same noise
    torch.testing.assert_close(z, mu + sigma * eps)
    w = torch.randn(K, B, L, dtype=torch.float64, generator=gen(3))
    (w * z).sum().backward()  # d/dμ Σ w z = Σ_k w_k,  d/dσ = Σ_k w_k ε_k
    torch.testing.assert_close(mu.grad, w.sum(0))
    torch.testing.assert_close(sigma.grad, (w * eps).sum(0))


def test_reparameterize_moments_and_seeding():
    mu = torch.tensor([[0.5, -2.0]])
    sigma = torch.tensor([[0.3, 1.7]])
    n = 100_000
    z = sampling.reparameterize(mu, sigma, n, generator=gen(0))[:, 0]
    se_mean = sigma[0] / math.sqrt(n)
    assert bool(((z.mean(0) - mu[0]).abs() < Z_TOL * se_mean).all())
    se_std = sigma[0] / math.sqrt(2 * n)
    assert bool(((z.std(0) - sigma[0]).abs() < Z_TOL * se_std).all())
    assert torch.equal(sampling.reparameterize(mu, sigma, 3, generator=gen(9)), sampling.reparameterize(mu, sigma, 3, generator=gen(9)))
    assert not torch.equal(sampling.reparameterize(mu, sigma, 3, generator=gen(9)), sampling.reparameterize(mu, sigma, 3, generator=gen(10)))


def test_reparameterize_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"mu \(2, 3\) and sigma \(2, 2\) must have the same shape"):
        sampling.reparameterize(torch.zeros(2, 3), torch.ones(2, 2))
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        sampling.reparameterize(torch.zeros(2, 3), torch.ones(2, 3), 0)


def test_log_normal_matches_torch_distributions():
    z = torch.randn(5, 3, 4, dtype=torch.float64, generator=gen(0))
    mu = torch.randn(3, 4, dtype=torch.float64, generator=gen(1))
    sigma = torch.rand(3, 4, dtype=torch.float64, generator=gen(2)) + 0.2
    expected = torch.distributions.Normal(mu, sigma).log_prob(z).sum(-1)
    torch.testing.assert_close(sampling.log_normal(z, mu, sigma), expected)


# ----------------------------------------------------------------------------------------------
# gradient estimators of E[z²]: exact gradient 2μ (w.r.t. μ) and 2σ (w.r.t. σ)
# ----------------------------------------------------------------------------------------------
MU = torch.tensor([0.8, -0.4, 1.5], dtype=torch.float64)
SIGMA = torch.tensor([0.5, 1.2, 0.3], dtype=torch.float64)


def square(z: torch.Tensor) -> torch.Tensor:
    return (z**2).sum(-1)


def _check_unbiased(g: torch.Tensor, exact: torch.Tensor):
    n = g.shape[0]
    se = g.std(0) / math.sqrt(n)
    err = (g.mean(0) - exact).abs()
    assert bool((err < Z_TOL * se).all()), f"mean {g.mean(0)} vs exact {exact} (se {se})"


@pytest.mark.parametrize("estimator", [sampling.reparam_gradients, sampling.score_function_gradients])
def test_gradient_estimators_are_unbiased(estimator):
    g_mu, g_sigma = estimator(square, MU, SIGMA, 200_000, generator=gen(1))
    assert g_mu.shape == g_sigma.shape == (200_000, 3)
    _check_unbiased(g_mu, 2 * MU)
    _check_unbiased(g_sigma, 2 * SIGMA)


def test_gradient_estimator_check_detects_bias():
    """The unbiasedness check is strict enough to reject an estimator off by 2 %."""
    g_mu, _ = sampling.reparam_gradients(square, MU, SIGMA, 200_000, generator=gen(1))
    with pytest.raises(AssertionError):
        _check_unbiased(g_mu * 1.02, 2 * MU)


def test_reparameterized_gradients_have_lower_variance():
    n = 50_000
    r_mu, r_sigma = sampling.reparam_gradients(square, MU, SIGMA, n, generator=gen(2))
    s_mu, s_sigma = sampling.score_function_gradients(square, MU, SIGMA, n, generator=gen(3))
    # exact per-sample variances of the pathwise estimator: Var[2z] = 4σ², Var[2zε] = 4(μ² + 2σ²)
    torch.testing.assert_close(r_mu.var(0), 4 * SIGMA**2, rtol=0.05, atol=0)
    torch.testing.assert_close(r_sigma.var(0), 4 * (MU**2 + 2 * SIGMA**2), rtol=0.05, atol=0)
    assert bool((r_mu.var(0) < s_mu.var(0)).all())
    assert bool((r_sigma.var(0) < s_sigma.var(0)).all())


def test_reparam_gradients_do_not_touch_the_inputs():
    mu, sigma = MU.clone().requires_grad_(True), SIGMA.clone()
    sampling.reparam_gradients(square, mu, sigma, 10, generator=gen(0))
    assert mu.grad is None
