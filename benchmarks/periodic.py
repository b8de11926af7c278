"""The periodic 1-D toy: Latent ODE (RNN and ODE-RNN encoders) vs RNN-Δt and ODE-RNN, same time budget.

Run ``python -m benchmarks.periodic [--quick]``; see ``--help`` for the options.

* **Data**: ``lode_utils.data.periodic`` (Rubanova et al. 2019's toy: 100 shared time points on
  ``[0, 5]``, frequency ~ U[0.4, 0.8], Gaussian noise 0.01), 1000 series, 80/20 split, model
  time span ``--time-span`` (default 5, as the book's chapter 6).
* **Interpolation**: each test series shows a random half of its points; the other half is
  scored. **Extrapolation**: the points up to the middle of the time range are shown, the rest
  scored. Both with ``lode_utils.make_task`` (``fit`` draws the held-out test task once per seed
  from the test split; training scores every point).
* **Budget**: every model gets the same training time ``--time-budget`` per run, in CPU seconds of
  the training process (``lode_utils.fit(time_budget=…, clock="cpu")``, one thread, evaluation
  excluded, so that other load on the machine does not shorten a run). The learning rate follows
  ``fit``'s ``"cosine-time"`` schedule, which reaches its end when the budget is spent; gradients
  are clipped to norm 1 (``--clip-grad``). A 4-iteration probe on a throwaway copy only sizes how
  often to evaluate.
* **Parallel**: ``--jobs 2`` runs two runs at a time, each in its own spawned process on one
  thread (the budget is CPU time, so a run's result does not depend on what runs beside it,
  except through shared caches; the ``cpu/wall`` column shows how much each run waited).
* **Scores**: held-out MSE of the posterior-predictive mean against the noisy values (``mse``)
  and the noise-free curve (``mse_truth``), mean ± sample std over seeds; the training time at
  which the interpolation MSE first reached the anchor 0.0037.
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import torch

import lode_utils as L
from lode_utils import data

from . import common

ANCHOR = {
    "mse": 0.0037,
    "seconds": 1226,
    "source": "the paper's public code (Rubanova et al. 2019), periodic toy, interpolation, 1000 series, 50 of 100 points observed, "
    "test MSE 0.0037 after 1226 s on this kind of machine (as stated in the benchmark issue; not re-measured here)",
    "target": "the same MSE in at most 120 s on one thread",
}

OBS_STD = 0.05
LATENT = dict(
    obs_dim=1, latent_dim=16, enc_hidden=32, ode_hidden=64, ode_layers=1, activation="tanh", dec_layers=1, obs_std=OBS_STD, method="rk4", step_size=0.25
)
MODELS = {
    "latent_ode_rnn_enc": ("Latent ODE (RNN enc.)", lambda: L.LatentODE(L.LatentODEConfig(encoder="gru", **LATENT))),
    "latent_ode_odernn_enc": ("Latent ODE (ODE-RNN enc.)", lambda: L.LatentODE(L.LatentODEConfig(encoder="odernn", enc_max_step=0.25, **LATENT))),
    "rnn_dt": ("RNN-Δt", lambda: L.RecurrentBaseline(obs_dim=1, kind="rnn", hidden=64, obs_std=OBS_STD)),
    "ode_rnn": ("ODE-RNN", lambda: L.RecurrentBaseline(obs_dim=1, kind="odernn", hidden=64, ode_hidden=64, max_step=0.25, obs_std=OBS_STD)),
}
TASKS = ("interpolation", "extrapolation")

# Batches of 50 series, as the paper's code trains this toy: with batches of 100 the ODE-RNN-encoder
# Latent ODE ended at 0.0094 / 0.0066 / 0.0030 (seeds 0-2), with 50 at 0.0037 / 0.0034 / 0.0027 but
# 0.105 on seed 3 (exploratory runs of 120 s each). Five seeds, so that a run stuck on the plateau
# shows in the spread rather than hiding behind three lucky ones.
# Gradients clipped to norm 1: without it the Latent ODE stayed on the mean-curve plateau on 1-2 of
# 5 seeds per encoder and task (MSE 0.30-0.52, committed results of 5469c6e). In exploratory runs
# of 120 s, clipping let all three stuck runs tried train (0.011, 0.0050, 0.0042); a linear
# learning-rate warm-up of 200 steps rescued 3 of 5.
FULL = dict(
    n_series=1000, seeds=(0, 1, 2, 3, 4), time_budget=120.0, iterations=20000, batch_size=50, clip_grad=1.0, lr_warmup=0, eval_points=24, eval_samples=20
)
QUICK = dict(n_series=40, seeds=(0,), time_budget=1.0, iterations=40, batch_size=16, clip_grad=1.0, lr_warmup=0, eval_points=2, eval_samples=4)


def one_run(
    model_key: str,
    task: str,
    ds,
    *,
    seed: int,
    time_budget,
    iterations: int,
    batch_size: int,
    lr: float,
    clip_grad: float | None,
    lr_warmup: int,
    eval_points: int,
    eval_samples: int,
) -> dict:
    """Train one model on one task for the budget; return its test scores and costs.

    The learning rate follows ``fit``'s ``"cosine-time"`` schedule, which ends when the budget is
    spent; a 4-iteration probe on a throwaway copy only sizes how often to evaluate.
    """
    torch.manual_seed(seed)
    model = MODELS[model_key][1]()
    planned = iterations
    if time_budget is not None:
        probe = copy.deepcopy(model)
        h = L.fit(probe, ds, task=task, iterations=4, batch_size=batch_size, lr=lr, seed=seed, eval_samples=2, clock="cpu")
        planned = common.plan_iterations(common.steady_seconds_per_iteration(h.cpu), time_budget, iterations)
    w0, c0 = time.perf_counter(), time.process_time()
    hist = L.fit(
        model,
        ds,
        task=task,
        iterations=iterations,
        batch_size=batch_size,
        lr=lr,
        lr_decay="cosine-time",
        lr_warmup=lr_warmup,
        clip_grad=clip_grad,
        time_budget=time_budget,
        clock="cpu",
        eval_every=max(1, planned // max(1, eval_points)),
        eval_samples=eval_samples,
        seed=seed,
    )
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    mse = hist.test_metric("mse")
    reached = [w for w, m in zip(hist.test_cpu, mse) if m <= ANCHOR["mse"]]
    return {
        "model": model_key,
        "task": task,
        "seed": seed,
        "final": hist.test[-1],
        "iterations_estimated": planned,
        "iterations_done": len(hist.step),
        "train_seconds": hist.cpu[-1],
        "train_wall_seconds": hist.wall[-1],
        "seconds_per_iteration": common.steady_seconds_per_iteration(hist.cpu),
        "nfe_forward_mean": float(np.mean(hist.nfe_forward)),
        "cpu_over_wall": cpu / wall if wall > 0 else None,
        "best_mse": min(mse),
        "seconds_to_anchor_mse": reached[0] if reached else None,
        "curve": {"step": hist.test_step, "seconds": hist.test_cpu, "wall_seconds": hist.test_wall, "mse": mse},
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def _one_job(job: dict) -> dict:
    """One run in a worker process (``--jobs``): one torch thread, its own copy of the data set."""
    torch.set_num_threads(job.pop("threads"))
    ds = data.periodic(job.pop("n_series"), 100, seed=job.pop("data_seed"), time_span=job.pop("time_span"))
    return one_run(job.pop("model_key"), job.pop("task"), ds, **job)


def run(
    *,
    quick: bool = False,
    seeds=None,
    models=tuple(MODELS),
    tasks=TASKS,
    n_series: int | None = None,
    data_seed: int = 0,
    time_span: float = 5.0,
    time_budget: float | None = -1.0,
    iterations: int | None = None,
    batch_size: int | None = None,
    lr: float = 1e-2,
    clip_grad: float | None = -1.0,
    lr_warmup: int | None = None,
    eval_points: int | None = None,
    eval_samples: int | None = None,
    threads: int = 1,
    jobs: int = 1,
    out=None,
    name: str = "periodic",
    write: bool = True,
) -> dict:
    """Run the four-model comparison (``jobs`` runs at a time) and write ``NAME.json`` / ``NAME.md``; returns the payload."""
    preset = QUICK if quick else FULL
    seeds = list(seeds if seeds is not None else preset["seeds"])
    n_series = n_series or preset["n_series"]
    time_budget = preset["time_budget"] if time_budget == -1.0 else time_budget
    iterations = iterations or preset["iterations"]
    batch_size = batch_size or preset["batch_size"]
    clip_grad = preset["clip_grad"] if clip_grad == -1.0 else clip_grad
    lr_warmup = preset["lr_warmup"] if lr_warmup is None else lr_warmup
    eval_points = eval_points or preset["eval_points"]
    eval_samples = eval_samples or preset["eval_samples"]
    threads = common.pin_threads(threads)
    meta = common.run_metadata(threads=threads, quick=quick)
    started = time.perf_counter()
    ds = data.periodic(n_series, 100, seed=data_seed, time_span=time_span)

    settings = dict(
        time_budget=time_budget,
        iterations=iterations,
        batch_size=batch_size,
        lr=lr,
        clip_grad=clip_grad,
        lr_warmup=lr_warmup,
        eval_points=eval_points,
        eval_samples=eval_samples,
    )
    todo = [(task, key, seed) for task in tasks for key in models for seed in seeds]

    def report(r):
        print(
            f"[periodic] {r['task']:13s} {r['model']:22s} seed={r['seed']}: MSE {r['final']['mse']:.5f} after {r['iterations_done']} it / {r['train_seconds']:.1f} s",
            flush=True,
        )
        return r

    if jobs <= 1:
        runs = [report(one_run(key, task, ds, seed=seed, **settings)) for task, key, seed in todo]
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        specs = [
            dict(settings, model_key=key, task=task, seed=seed, threads=threads, n_series=n_series, data_seed=data_seed, time_span=time_span)
            for task, key, seed in todo
        ]
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            runs = [report(r) for r in pool.map(_one_job, specs)]  # results in the order of todo

    summary = {}
    for task in tasks:
        for key in models:
            sel = [r for r in runs if r["task"] == task and r["model"] == key]
            summary.setdefault(task, {})[key] = {
                "mse": common.summarize([r["final"]["mse"] for r in sel]),
                "mse_truth": common.summarize([r["final"].get("mse_truth") for r in sel]),
                "iterations": common.summarize([r["iterations_done"] for r in sel]),
                "train_seconds": common.summarize([r["train_seconds"] for r in sel]),
                "seconds_per_iteration": common.summarize([r["seconds_per_iteration"] for r in sel]),
                "seconds_to_anchor_mse": common.summarize([r["seconds_to_anchor_mse"] for r in sel]),
                "runs_reaching_anchor": sum(r["seconds_to_anchor_mse"] is not None for r in sel),
            }
    checks = {}
    ext = summary.get("extrapolation", {})
    if "rnn_dt" in ext:
        for key in ("latent_ode_rnn_enc", "latent_ode_odernn_enc"):
            if key in ext:
                ratio = ext["rnn_dt"]["mse"]["mean"] / ext[key]["mse"]["mean"]
                checks[f"extrapolation_rnn_dt_over_{key}"] = ratio
                checks[f"extrapolation_{key}_at_least_5x_below_rnn_dt"] = ratio >= 5
    interp = summary.get("interpolation", {})
    for key in ("latent_ode_rnn_enc", "latent_ode_odernn_enc"):
        if key in interp:
            checks[f"interpolation_{key}_reaches_anchor_mse_within_budget"] = interp[key]["mse"]["mean"] <= ANCHOR["mse"]
    payload = {
        "benchmark": "periodic",
        "description": "Periodic toy: Latent ODE (RNN / ODE-RNN encoder) vs RNN-Δt and ODE-RNN, interpolation and extrapolation, equal training time",
        "metadata": meta,
        "protocol": {
            "data": f"lode_utils.data.periodic(n_series={n_series}, n_points=100, seed={data_seed}, time_span={time_span}); 80/20 split; Gaussian noise std 0.01",
            "interpolation": "test series show a random 50% of their points; the other 50% are scored",
            "extrapolation": "test series show the points up to the middle of the time range; the later points are scored",
            "score": "MSE of the posterior-predictive mean on the scored points, against noisy values (mse) and the noise-free curve (mse_truth)",
            "budget": {
                "time_budget_seconds_per_run": time_budget,
                "iterations_cap": iterations,
                "batch_size": batch_size,
                "lr": lr,
                "lr_decay": "cosine-time",
                "lr_warmup": lr_warmup,
                "clip_grad": clip_grad,
            },
            "seeds_vary": "model initialisation, minibatches, masks and test masks (lode_utils.fit seed); the data set is fixed",
            "models": {
                "latent_ode_rnn_enc": {**LATENT, "encoder": "gru"},
                "latent_ode_odernn_enc": {**LATENT, "encoder": "odernn", "enc_max_step": 0.25},
                "rnn_dt": {"kind": "rnn", "hidden": 64, "obs_std": OBS_STD},
                "ode_rnn": {"kind": "odernn", "hidden": 64, "ode_hidden": 64, "max_step": 0.25, "obs_std": OBS_STD},
            },
        },
        "anchor": ANCHOR,
        "summary": summary,
        "checks": checks,
        "runs": runs,
        "jobs": jobs,
        "wall_seconds_total": time.perf_counter() - started,
    }
    if write:
        common.write_results(name, payload, _markdown(payload), common.results_dir(quick, out))
    return payload


LATENT_MODELS = ("latent_ode_rnn_enc", "latent_ode_odernn_enc")


def run_without_clipping(*, quick: bool = False, out=None, threads: int = 1, jobs: int = 1) -> dict:
    """The ablation: the two Latent ODEs with the same protocol but unclipped gradients, written to
    ``periodic_noclip.json`` / ``.md`` (``python -m benchmarks.periodic --clip-grad 0 --models
    latent_ode_rnn_enc latent_ode_odernn_enc --name periodic_noclip``)."""
    return run(quick=quick, out=out, threads=threads, jobs=jobs, clip_grad=None, models=LATENT_MODELS, name="periodic_noclip")


def _markdown(p: dict) -> str:
    s = p["summary"]
    rows = []
    for key in p["protocol"]["models"]:
        if not any(key in s.get(t, {}) for t in TASKS):
            continue
        i, e = s.get("interpolation", {}).get(key), s.get("extrapolation", {}).get(key)
        rows.append(
            [
                MODELS[key][0],
                common.fmt_spread(i["mse"]) if i else "—",
                common.fmt_spread(i["mse_truth"]) if i else "—",
                common.fmt_spread(e["mse"]) if e else "—",
                common.fmt_spread(e["mse_truth"]) if e else "—",
                common.fmt_spread(i["iterations"], 5) if i else "—",
                common.fmt_spread(i["seconds_per_iteration"], 3) if i else "—",
                f"{common.fmt_spread(i['seconds_to_anchor_mse'], 3)}; {i['runs_reaching_anchor']}/{i['mse']['n']} runs" if i else "—",
            ]
        )
    table = common.markdown_table(
        [
            "model",
            "interp. MSE",
            "interp. MSE vs clean",
            "extrap. MSE",
            "extrap. MSE vs clean",
            "iterations (interp.)",
            "s/it (interp.)",
            "s to MSE 0.0037 (interp.)",
        ],
        rows,
    )
    runs = common.markdown_table(
        ["task", "model", "seed", "MSE", "MSE clean", "best MSE", "iterations", "train s", "s/it", "NFE fwd", "cpu/wall"],
        [
            [
                r["task"],
                r["model"],
                r["seed"],
                r["final"]["mse"],
                r["final"].get("mse_truth"),
                r["best_mse"],
                r["iterations_done"],
                r["train_seconds"],
                r["seconds_per_iteration"],
                r["nfe_forward_mean"],
                r["cpu_over_wall"],
            ]
            for r in p["runs"]
        ],
    )
    pr = p["protocol"]
    return f"""# Periodic toy: Latent ODE vs RNN

Held-out MSE, mean ± sample std over seeds, every model trained for the same CPU time of one thread ({pr["budget"]["time_budget_seconds_per_run"]} s per run).

{table}

Checks: {p["checks"]}

Anchor: {p["anchor"]["source"]}; target: {p["anchor"]["target"]}.

**Protocol.** Data: {pr["data"]}. Interpolation: {pr["interpolation"]}. Extrapolation: {pr["extrapolation"]}. Score: {pr["score"]}.
Budget: {pr["budget"]}. Seeds vary {pr["seeds_vary"]}.
Models: {pr["models"]}.

## Every run

{runs}

## Run

{common.metadata_markdown(p["metadata"])}
- runs at a time: {p.get("jobs", 1)} (each in its own process on one thread when more than one)
- total wall time: {p["wall_seconds_total"]:.0f} s
"""


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.periodic", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="CI-sized run; writes to benchmarks/results/quick/")
    ap.add_argument("--seeds", type=int, nargs="+", help="training seeds (default 0 1 2 3 4)")
    ap.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    ap.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    ap.add_argument("--n-series", type=int)
    ap.add_argument("--data-seed", type=int, default=0)
    ap.add_argument("--time-span", type=float, default=5.0, help="model-time length of the data's time range (default 5)")
    ap.add_argument("--time-budget", type=float, default=-1.0, help="training seconds per run (default 120; 0 = none)")
    ap.add_argument("--iterations", type=int, help="iteration cap per run")
    ap.add_argument("--batch-size", type=int)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--clip-grad", type=float, default=-1.0, help="gradient-norm clip (default: the preset's; 0 = none)")
    ap.add_argument("--lr-warmup", type=int, help="steps of linear learning-rate warm-up (default: the preset's)")
    ap.add_argument("--eval-points", type=int)
    ap.add_argument("--eval-samples", type=int)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=1, help="runs at a time, each in its own process (default 1)")
    ap.add_argument("--out")
    ap.add_argument("--name", default="periodic", help="results file name (default periodic; the ablation without clipping: periodic_noclip)")
    a = ap.parse_args(argv)
    run(
        quick=a.quick,
        seeds=a.seeds,
        models=tuple(a.models),
        tasks=tuple(a.tasks),
        n_series=a.n_series,
        data_seed=a.data_seed,
        time_span=a.time_span,
        time_budget=None if a.time_budget == 0 else a.time_budget,
        iterations=a.iterations,
        batch_size=a.batch_size,
        lr=a.lr,
        clip_grad=None if a.clip_grad == 0 else a.clip_grad,
        lr_warmup=a.lr_warmup,
        eval_points=a.eval_points,
        eval_samples=a.eval_samples,
        threads=a.threads,
        jobs=a.jobs,
        out=a.out,
        name=a.name,
    )


if __name__ == "__main__":
    main()
