"""Shared tiny fixtures for the lode_utils unit suite.

Every fixture is small enough that the whole suite runs in about a minute on one thread.
Problems with exact answers live in the test files themselves; here are only the inputs
several files share.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lode_utils import data

torch.set_num_threads(1)


def pytest_report_header(config):
    """The numerical code path, which the stored notebook outputs depend on (see the Makefile)."""
    import os

    mkl = os.environ.get("MKL_CBWR", "unset")
    path = f"torch CPU kernels {torch.backends.cpu.get_cpu_capability()}, MKL_CBWR={mkl}"
    if mkl == "unset":
        path += " (not `make test`'s path: stored notebook outputs may not reproduce)"
    return f"numerical code path: {path}"


@pytest.fixture(autouse=True)
def _isolate_global_torch_state():
    """Tests that call ``fit`` / ``seed_everything`` switch on deterministic algorithms and
    reseed the global generator; restore both so no test depends on the order tests run in."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    rng = torch.get_rng_state()
    yield
    now = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    if now != (deterministic, warn_only):  # the first call costs seconds
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
    torch.set_rng_state(rng)


@pytest.fixture
def raw_series():
    """Three 2-channel series with their own times, lengths and missing values (NaN).

    Every time point of every series has at least one observed channel, so
    ``uncollate(collate(raw_series))`` gives back every row.
    """
    return [
        (np.array([0.0, 0.2, 0.5, 0.9]), np.array([[1.0, 2.0], [3.0, np.nan], [5.0, 6.0], [7.0, 8.0]])),
        (np.array([0.1, 0.5, 0.7]), np.array([[-1.0, 0.5], [np.nan, 4.0], [2.5, -3.0]])),
        (np.array([0.05, 0.3, 0.5, 0.65, 1.0]), np.array([[0.1, 0.2], [0.3, 0.4], [0.5, np.nan], [0.7, 0.8], [0.9, 1.0]])),
    ]


@pytest.fixture
def batch(raw_series):
    """``raw_series`` on their union grid, float32."""
    return data.collate(raw_series)


def sine_arrays(n_series: int = 40, n_points: int = 15, *, n_grid: int = 25, noise: float = 0.05, seed: int = 0):
    """Per-series arrays of ``a·sin(2πt + φ)`` with random amplitude and phase.

    Times are a random subset of ``n_grid`` regular points on [0, 1], so every series is
    irregular but the union grid stays short (the recurrent baselines loop over it).
    """
    rng = np.random.default_rng(seed)
    grid = np.linspace(0.0, 1.0, n_grid)
    times, values = [], []
    for _ in range(n_series):
        t = np.sort(rng.choice(grid, n_points, replace=False))
        a, phase = rng.uniform(0.5, 1.5), rng.uniform(0.0, 2 * np.pi)
        times.append(t)
        values.append((a * np.sin(2 * np.pi * t + phase) + noise * rng.standard_normal(n_points))[:, None])
    return times, values


@pytest.fixture(scope="session")
def sine_dataset():
    """A tiny 1-channel training problem: 40 irregular sine series, 30 train / 10 test."""
    times, values = sine_arrays()
    return data.from_arrays(times, values, test_fraction=0.25, seed=0, normalize=False, name="sines")
