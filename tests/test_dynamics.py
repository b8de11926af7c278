"""lode_utils.dynamics: the ODE flow against closed forms, per solver and dtype (chapter 4).

As in torchdiffeq's own tests: a linear problem ``dz/dt = A z`` whose solution is
``z(t) = exp(A (t − t0)) z0``, tolerances per solver and dtype.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lode_utils import dynamics

A = torch.tensor([[-0.2, 1.5, 0.0], [-1.5, -0.2, 0.3], [0.0, -0.3, -0.5]], dtype=torch.float64)
Z0 = torch.tensor([[1.0, -0.5, 0.3], [0.2, 0.8, -1.0]], dtype=torch.float64)
T0 = 0.3
# before t0 (backward solve), at t0, between grid steps, and after t0
TQ = torch.tensor([-1.0, -0.45, 0.0, 0.3, 0.37, 1.1, 2.0], dtype=torch.float64)

SOLVERS = {
    # name: (flow options, {dtype: atol})
    "dopri5": (dict(method="dopri5", rtol=1e-8, atol=1e-10), {torch.float32: 2e-5, torch.float64: 1e-6}),
    "rk4-grid": (dict(method="rk4", step_size=0.05), {torch.float32: 2e-5, torch.float64: 5e-6}),
    "euler-grid": (dict(method="euler", step_size=0.001), {torch.float32: 5e-3, torch.float64: 5e-3}),
}


def linear_flow(dtype=torch.float64, matrix=A, **kw) -> dynamics.ODEFlow:
    """An ``ODEFunc`` with no hidden layer is ``z ↦ W z + b``; set ``W = A``, ``b = 0``."""
    func = dynamics.ODEFunc(matrix.shape[0], layers=0).to(dtype)
    with torch.no_grad():
        func.net[0].weight.copy_(matrix)
        func.net[0].bias.zero_()
    return dynamics.ODEFlow(func, **kw)


def exact(z0=Z0, t=TQ, t0=T0, matrix=A) -> torch.Tensor:
    """``[B, T, L]`` closed-form solution."""
    return torch.stack([z0 @ torch.linalg.matrix_exp(matrix * (ti - t0)).T for ti in t], dim=-2)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("solver", list(SOLVERS))
def test_flow_matches_linear_closed_form(solver, dtype):
    options, atol = SOLVERS[solver]
    flow = linear_flow(dtype, **options)
    zt = flow(Z0.to(dtype), T0, TQ.to(dtype))
    assert zt.shape == (2, TQ.numel(), 3) and zt.dtype == dtype
    torch.testing.assert_close(zt.double(), exact(), rtol=0, atol=atol[dtype])
    assert torch.equal(zt[:, 3], Z0.to(dtype))  # the query at t0 is z0 itself
    assert flow.last_nfe > 0


@pytest.mark.parametrize("solver", list(SOLVERS))
@pytest.mark.parametrize("side", ["before", "after", "at"])
def test_flow_one_sided_queries(solver, side):
    options, atol = SOLVERS[solver]
    t = {"before": torch.tensor([-0.8, -0.3, 0.1]), "after": torch.tensor([0.5, 0.9]), "at": torch.tensor([T0])}[side].double()
    zt = linear_flow(**options)(Z0, T0, t)
    torch.testing.assert_close(zt, exact(t=t), rtol=0, atol=atol[torch.float64])


def test_flow_batch_shape_of_many_samples():
    z0 = torch.randn(4, 2, 3, dtype=torch.float64)  # [K, B, L]
    zt = linear_flow(method="rk4", step_size=0.05)(z0, T0, TQ)
    assert zt.shape == (4, 2, TQ.numel(), 3)
    torch.testing.assert_close(zt[2], exact(z0=z0[2]), rtol=0, atol=5e-6)


def test_convergence_order_of_fixed_grid_solvers():
    """Halving the step divides the error by 2 (Euler, order 1) and by 16 (RK4, order 4)."""

    def err(method, h):
        return (linear_flow(method=method, step_size=h)(Z0, T0, TQ) - exact()).abs().max().item()

    assert 1.8 < err("euler", 0.02) / err("euler", 0.01) < 2.2
    assert 12 < err("rk4", 0.2) / err("rk4", 0.1) < 20


def test_rk4_grid_interpolates_between_steps():
    """Off-grid queries are read off the step grid by cubic Hermite interpolation (4th order),
    not linearly: a coarse grid still gives accurate values between its steps."""
    t = torch.tensor([0.3 + 0.05, 0.3 + 0.13, 0.3 + 0.21], dtype=torch.float64)  # inside one step of 0.25
    zt = linear_flow(method="rk4", step_size=0.25)(Z0, T0, t)
    e = exact(t=t)
    lin = exact(t=torch.tensor([0.3], dtype=torch.float64)) + (t - 0.3)[:, None] / 0.25 * (exact(t=torch.tensor([0.55], dtype=torch.float64)) - Z0[:, None])
    err_hermite = (zt - e).abs().max()
    err_linear = (lin - e).abs().max()
    assert err_hermite < 1e-3 < err_linear


def test_nfe_grows_with_tighter_tolerance():
    nfes = []
    for tol in (1e-3, 1e-6, 1e-9):
        flow = linear_flow(method="dopri5", rtol=tol, atol=tol)
        flow(Z0, T0, TQ)
        nfes.append(flow.last_nfe)
    assert 0 < nfes[0] < nfes[1] < nfes[2]


def test_nfe_of_fixed_grid_counts_steps():
    nfes = []
    for h in (0.1, 0.05):
        flow = linear_flow(method="rk4", step_size=h)
        flow(Z0, T0, torch.tensor([0.5, 1.3], dtype=torch.float64))  # span 1.0 after t0
        nfes.append(flow.last_nfe)
    assert nfes[0] >= 4 * 10  # four stages per step, 10 steps
    assert nfes[1] > nfes[0]
    assert nfes[1] - nfes[0] >= 4 * 10  # 10 more steps


def test_nfe_resets_each_call_and_backward_nfe_is_zero_for_direct():
    flow = linear_flow(method="dopri5")
    z0 = Z0.clone().requires_grad_(True)
    flow(z0, T0, TQ)
    first = flow.last_nfe
    out = flow(z0, T0, TQ)
    assert flow.last_nfe == first  # reset, not accumulated
    out.square().sum().backward()
    assert flow.func.nfe == flow.last_nfe  # direct backprop calls f no more


# ----------------------------------------------------------------------------------------------
# adjoint vs direct backprop
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("options", [dict(method="dopri5", rtol=1e-10, atol=1e-10), dict(method="rk4", step_size=0.1)], ids=["dopri5", "rk4-grid"])
def test_adjoint_gradients_equal_direct_backprop(options):
    torch.manual_seed(0)
    func = dynamics.ODEFunc(3, hidden=8, layers=1, activation="tanh").double()
    z0 = torch.randn(2, 3, dtype=torch.float64)
    t = torch.tensor([-0.4, 0.2, 0.5, 0.9], dtype=torch.float64)
    weights = torch.randn(2, 4, 3, dtype=torch.float64)
    grads, nfe_back = {}, {}
    for adjoint in (False, True):
        flow = dynamics.ODEFlow(func, adjoint=adjoint, **options)
        z = z0.clone().requires_grad_(True)
        loss = (weights * flow(z, 0.1, t)).sum() + flow(z, 0.1, t[1:]).square().sum()
        params = [z, *func.parameters()]
        grads[adjoint] = torch.autograd.grad(loss, params)
        nfe_back[adjoint] = func.nfe - flow.last_nfe
    tol = 1e-7 if options["method"] == "dopri5" else 1e-5
    for g_direct, g_adjoint in zip(grads[False], grads[True]):
        torch.testing.assert_close(g_adjoint, g_direct, rtol=tol, atol=tol)
    assert nfe_back[False] == 0 and nfe_back[True] > 0


# ----------------------------------------------------------------------------------------------
# arguments
# ----------------------------------------------------------------------------------------------
def test_flow_rejects_bad_query_times():
    flow = linear_flow()
    with pytest.raises(ValueError, match="query times must be strictly increasing"):
        flow(Z0, T0, torch.tensor([0.5, 0.2], dtype=torch.float64))
    with pytest.raises(ValueError, match="query times must be strictly increasing"):
        flow(Z0, T0, torch.tensor([0.5, 0.5], dtype=torch.float64))
    with pytest.raises(ValueError, match="non-empty 1-D tensor"):
        flow(Z0, T0, torch.zeros(0, dtype=torch.float64))
    with pytest.raises(ValueError, match="step_size must be positive"):
        dynamics.ODEFlow(flow.func, method="rk4", step_size=0.0)


def test_mlp_shapes_and_activation_names():
    net = dynamics.mlp(3, 5, 7, 2, "elu")
    assert [type(m) for m in net] == [nn.Linear, nn.ELU, nn.Linear, nn.ELU, nn.Linear]
    assert net(torch.zeros(4, 3)).shape == (4, 5)
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        dynamics.mlp(3, 5, 7, 1, "gelu")


def test_odefunc_is_autonomous_and_counts():
    f = dynamics.ODEFunc(3, hidden=4)
    z = torch.randn(2, 3)
    assert torch.equal(f(torch.tensor(0.0), z), f(torch.tensor(5.0), z))
    assert f.nfe == 2
