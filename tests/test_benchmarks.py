"""The benchmarks' quick mode runs, and its numbers are finite and plausibly ordered.

One quick run of every benchmark (``python -m benchmarks.run_all --quick``, in this process,
into a temporary folder) is shared by the checks below; it takes about a minute on one thread.
No check depends on timings beyond "positive": quick-mode numbers are not results.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from benchmarks import common, run_all, spirals

pytestmark = pytest.mark.slow


def finite_positive(x) -> bool:
    return x is not None and math.isfinite(x) and x > 0


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    deterministic, rng = torch.are_deterministic_algorithms_enabled(), torch.get_rng_state()
    try:
        run_all.main(["--quick", "--out", str(out)])
    finally:  # lode_utils.fit switches on deterministic algorithms and reseeds; leave no trace for other test files
        torch.use_deterministic_algorithms(deterministic)
        torch.set_rng_state(rng)
    return {name: json.loads((out / f"{name}.json").read_text()) for name in ("spirals", "periodic", "periodic_noclip", "speed", "index")} | {"_dir": out}


def test_every_file_is_written(quick):
    out = quick["_dir"]
    for name in ("spirals", "periodic", "speed"):
        assert (out / f"{name}.md").read_text().startswith("# ")
    assert "spirals.md" in (out / "README.md").read_text()


def test_metadata_pins_one_thread(quick):
    for name in ("spirals", "periodic", "speed"):
        meta = quick[name]["metadata"]
        assert meta["quick"] is True and meta["threads"] == 1
        assert meta["versions"]["torch"] == torch.__version__
        assert "git" in meta and "machine" in meta


def test_spirals_numbers(quick):
    p = quick["spirals"]
    assert p["paper"]["verified"] is True
    assert p["paper"]["rows"] == {
        "latent_ode": {"30": 0.1642, "50": 0.1502, "100": 0.1346},
        "rnn": {"30": 0.3937, "50": 0.3202, "100": 0.1813},
    }
    sigma = p["protocol"]["noise_floor_rmse"]
    expected_nfe = 4 * math.ceil(1.0 / spirals.OURS["step_size"] - 1e-9) + 1  # RK4 grid on [0, 1] + one Hermite evaluation
    seeds = {r["seed"] for r in p["runs"]}
    for r in p["runs"]:
        f = r["final"]
        assert finite_positive(f["rmse"]) and finite_positive(f["rmse_truth"])
        assert f["n_points"] > 0 and f["n_points"] % (2 * spirals.HORIZON) == 0  # 100 future points × 2 coordinates per test series
        # the scored points' noise is independent of the prediction: mse(noisy) ≈ mse(clean) + σ²
        assert abs(f["mse"] - f["mse_truth"] - sigma**2) <= 0.05 * f["mse"] + 0.01
        assert finite_positive(r["train_seconds"]) and finite_positive(r["seconds_per_iteration"])
        assert r["iterations_done"] >= 1 and r["best_rmse"] <= f["rmse"] + 1e-12
        assert r["nfe_backward_mean"] == 0
        assert r["nfe_forward_mean"] == (expected_nfe if r["model"] == "latent_ode" else 0)
    for cells in p["summary"].values():
        for s in cells.values():
            assert s["rmse"]["n"] == len(seeds)
            assert s["rmse"]["min"] <= s["rmse"]["mean"] <= s["rmse"]["max"] and s["rmse"]["std"] >= 0


def test_periodic_numbers(quick):
    p = quick["periodic"]
    budget = p["protocol"]["budget"]["time_budget_seconds_per_run"]
    assert set(p["summary"]) == {"interpolation", "extrapolation"}
    for task in p["summary"].values():
        assert set(task) == {"latent_ode_rnn_enc", "latent_ode_odernn_enc", "rnn_dt", "ode_rnn"}
    for r in p["runs"]:
        assert finite_positive(r["final"]["mse"]) and finite_positive(r["final"]["mse_truth"])
        assert r["iterations_done"] >= 1 and finite_positive(r["train_seconds"])
        # fit stops at the first iteration that ends past the budget
        assert r["train_seconds"] <= budget + 5 * r["seconds_per_iteration"] + 1.0
        assert (r["nfe_forward_mean"] > 0) == r["model"].startswith("latent_ode")
    assert all(isinstance(v, bool | float) for v in p["checks"].values())


def test_periodic_ablation_differs_only_in_clipping(quick):
    main, ablation = quick["periodic"]["protocol"], quick["periodic_noclip"]["protocol"]
    assert main["budget"]["clip_grad"] == 1.0 and ablation["budget"]["clip_grad"] is None
    assert {k: v for k, v in main["budget"].items() if k != "clip_grad"} == {k: v for k, v in ablation["budget"].items() if k != "clip_grad"}
    assert set(quick["periodic_noclip"]["summary"]["interpolation"]) == {"latent_ode_rnn_enc", "latent_ode_odernn_enc"}
    assert [r["seed"] for r in quick["periodic_noclip"]["runs"]] == [r["seed"] for r in quick["periodic"]["runs"] if r["model"].startswith("latent_ode")]


def test_periodic_runs_in_worker_processes_give_the_same_numbers():
    """``--jobs 2`` only changes where runs execute: with an iteration count instead of a time
    budget, every run's result is bit for bit the one of the serial loop."""
    from benchmarks import periodic

    kw = dict(quick=True, models=("rnn_dt", "latent_ode_rnn_enc"), tasks=("interpolation",), seeds=[0, 1], time_budget=None, iterations=3, write=False)
    serial, parallel = periodic.run(jobs=1, **kw), periodic.run(jobs=2, **kw)
    assert [(r["model"], r["seed"]) for r in parallel["runs"]] == [(r["model"], r["seed"]) for r in serial["runs"]]
    assert [r["final"] for r in parallel["runs"]] == [r["final"] for r in serial["runs"]]
    assert parallel["jobs"] == 2 and serial["jobs"] == 1


def test_speed_reference_vs_ours(quick):
    c = quick["speed"]["configs"]
    ref, ours, short = c["reference"], c["ours"], c["ours_short"]
    for x in (ref, ours, short):
        assert finite_positive(x["seconds_per_iteration"]) and finite_positive(x["best_rmse"])
        assert x["nfe_backward_mean"] == 0  # direct backprop: no evaluations of f in the backward pass
        assert finite_positive(x["memory"]["autograd_peak_mib"])
    # adaptive dopri5 at rtol 1e-7 evaluates f more often than our fixed RK4 grid
    assert ref["nfe_forward_mean"] > ours["nfe_forward_mean"]
    assert ref["architecture"]["method"] == "dopri5" and ref["architecture"]["rtol"] == 1e-7
    # the short schedule is the same model, trained with its own batch size and rate
    assert short["architecture"] == ours["architecture"] and short["parameters"] == ours["parameters"]
    assert (short["training"]["batch_size"], short["training"]["lr"]) != (ours["training"]["batch_size"], ours["training"]["lr"])


def test_speed_short_schedule_is_capped_at_its_budget(monkeypatch):
    from benchmarks import speed

    captured = {}

    def fake_train_and_score(*args, time_budget, **kwargs):
        captured["time_budget"] = time_budget
        raise StopIteration  # stop before any training

    monkeypatch.setattr(speed.spirals, "train_and_score", fake_train_and_score)
    kw = dict(n_series=12, noise_std=0.1, count=30, data_seed=0, seed=0, iterations=2, eval_points=1, eval_samples=1)
    for config, budget, expected in (("ours_short", 450.0, speed.SHORT_BUDGET), ("ours_short", 10.0, 10.0), ("ours", 450.0, 450.0), ("ours_short", None, None)):
        with pytest.raises(StopIteration):
            speed.measure_config(config, time_budget=budget, **kw)
        assert captured["time_budget"] == expected


def test_speed_adjoint_vs_direct(quick):
    rows = {(r["size"], r["adjoint"]): r for r in quick["speed"]["adjoint"]}
    assert set(rows) == {("small", False), ("small", True), ("large", False), ("large", True)}
    for size in ("small", "large"):
        direct, adjoint = rows[(size, False)], rows[(size, True)]
        assert direct["nfe_backward"] == 0 and adjoint["nfe_backward"] > 0
        assert direct["nfe_forward"] == adjoint["nfe_forward"] > 0
        assert finite_positive(direct["step_seconds"]) and finite_positive(adjoint["step_seconds"])
        # the adjoint keeps no graph through the solver
        assert 0 < adjoint["memory"]["autograd_peak_mib"] < direct["memory"]["autograd_peak_mib"]
    assert rows[("large", False)]["memory"]["autograd_peak_mib"] > rows[("small", False)]["memory"]["autograd_peak_mib"]
    assert rows[("large", False)]["parameters"] > rows[("small", False)]["parameters"]


def test_speed_profile(quick):
    pf = quick["speed"]["profile"]
    assert finite_positive(pf["iteration_ms_profiled"]) and finite_positive(pf["iteration_ms_unprofiled_median"])
    assert all(v >= 0 for v in pf["categories_ms"].values())
    assert math.isclose(sum(pf["categories_share"].values()), 1.0, rel_tol=1e-6)
    assert pf["f_theta_calls_forward"] == 4 * math.ceil(1.0 / spirals.OURS["step_size"] - 1e-9) + 1
    assert finite_positive(pf["categories_ms"]["f_theta_network_ops"]) and finite_positive(pf["categories_ms"]["backward"])
    split = pf["forward_ode_solve_split"]
    assert math.isclose(split["network_share"] + split["solver_overhead_share"], 1.0, rel_tol=1e-6)


def test_isolated_worker_reports_process_memory():
    """One configuration in a fresh process (the full mode's path): process peak memory is reported."""
    from benchmarks import speed

    r = common.run_isolated(
        "benchmarks.speed:measure_adjoint",
        dict(size="small", adjoint=False, quick=True, n_series=20, noise_std=0.1, count=30, data_seed=0, seed=0, steps=1),
        timeout=300,
    )
    assert r["isolated"] is True and r["size"] == "small"
    assert r["memory"]["rss_delta_mib"] >= 0 and r["memory"]["rss_peak_mib"] > 0 and r["memory"]["rss_method"]
    assert r["architecture"]["latent_dim"] == speed.QUICK_SIZES["small"]["latent_dim"]


def test_saved_tensor_meter_counts_each_storage_once_and_releases():
    x = torch.randn(1000, requires_grad=True)  # float32: 4000 bytes
    w = torch.nn.Parameter(torch.randn(1000))
    with common.SavedTensorMeter(exclude=[w]) as meter:
        y = (x * x * w).sum()  # saves x twice (one storage) and w (excluded), then x*x
        y.backward()
    assert meter.peak_bytes == 4000 + 4000  # x, and x*x saved for the product with w
    assert meter.current_bytes == 0


def test_table2_task_observes_n_of_the_first_half_and_scores_the_second():
    ds = spirals.table2_dataset(12, seed=3)
    batch = ds.train_batch()
    assert batch.t.numel() == 2 * spirals.HORIZON and math.isclose(float(batch.t[-1]), 1.0)
    task = spirals.table2_task(30)(batch, torch.Generator().manual_seed(0))
    shown = task.mask[..., 0]
    assert torch.all(shown.sum(1) == 30) and shown[:, spirals.HORIZON :].sum() == 0
    assert torch.equal(task.targets, batch.mask)  # training scores the whole window
    test = spirals.table2_test(ds, 50)
    assert torch.all(test.mask[..., 0].sum(1) == 50)
    assert torch.all(test.targets[:, : spirals.HORIZON] == 0) and torch.all(test.targets[:, spirals.HORIZON :] == 1)
    np.testing.assert_array_equal(ds.test_idx, spirals.table2_dataset(12, seed=3).test_idx)


def test_hopper_quick_writes_the_table(tmp_path):
    """``python -m benchmarks.hopper --size quick``: the paper's table beside ours, every cell finite."""
    pytest.importorskip("dm_control")
    from benchmarks import hopper as bench
    from lode_utils import hopper

    deterministic, rng = torch.are_deterministic_algorithms_enabled(), torch.get_rng_state()
    try:
        bench.main(["--size", "quick", "--out", str(tmp_path)])
    finally:
        torch.use_deterministic_algorithms(deterministic)
        torch.set_rng_state(rng)
    p = json.loads((tmp_path / "hopper_quick.json").read_text())
    assert p["metadata"]["quick"] is True and p["paper"]["interpolation"]["latent_ode_odernn_enc"][3] == 0.285
    for task in ("interpolation", "extrapolation"):
        assert set(p["ours"][task]) == set(hopper.MODEL_NAMES)
        for cell in p["ours"][task].values():
            assert all(finite_positive(v) for v in cell["mse"] + cell["mse_paper_norm"])
        assert all(finite_positive(v) for v in p["naive_paper_norm"][task])
    assert p["metadata"]["device"] == "cpu" and all(r["device"] is None and r["train_wall_seconds"] > 0 for r in p["runs"])
    md = (tmp_path / "hopper_quick.md").read_text()
    assert md.startswith("# Hopper") and "Latent ODE (ODE enc.)" in md and "- device: cpu" in md


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without a CUDA GPU")
def test_hopper_on_a_missing_gpu_says_so_before_running(tmp_path):
    from benchmarks import hopper as bench

    with pytest.raises(ValueError, match="sees no CUDA GPU"):
        bench.main(["--size", "quick", "--device", "cuda", "--out", str(tmp_path)])
    assert not any(tmp_path.iterdir())
