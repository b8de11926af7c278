"""The Table 2 sweep driven by papermill: ``python -m benchmarks.sweep [--quick] [--jobs 2] [--counts 30 50 100]``.

Executes the parameterised notebook ``benchmarks/spirals_count.ipynb`` once per count of observed
points, each in its own papermill process (``--jobs`` at a time, one torch thread each), keeps
every executed notebook as the record of its part (``<results>/spirals_runs/count_<n>.ipynb``),
and joins the parts' results with :func:`benchmarks.spirals.combine` into
``<results>/spirals.json`` and ``spirals.md`` — the files the book's results page renders.

Two jobs on a two-core machine run two parts side by side; each part's ``cpu/wall`` column says
whether it had a core to itself.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from . import common, spirals

NOTEBOOK = common.ROOT / "benchmarks" / "spirals_count.ipynb"


def _part(n: int, *, folder, seeds, models, quick: bool, time_budget: float) -> dict:
    """Run one count through papermill in a fresh process; return that part's payload."""
    parts_dir = folder / "spirals_parts"
    record = folder / "spirals_runs" / f"count_{n}.ipynb"
    record.parent.mkdir(parents=True, exist_ok=True)
    params = {"n_observed": n, "seeds": list(seeds), "models": list(models), "quick": quick, "time_budget": float(time_budget), "out": str(parts_dir)}
    cmd = [sys.executable, "-m", "papermill", str(NOTEBOOK), str(record), "--cwd", str(common.ROOT), "--log-level", "WARNING", "--no-progress-bar"]
    cmd += ["-y", json.dumps(params)]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="0")
    proc = subprocess.run(cmd, cwd=common.ROOT, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"papermill part n={n} failed (exit {proc.returncode}); see {record}\n{proc.stderr[-3000:]}")
    return json.loads((parts_dir / f"count_{n}" / "spirals.json").read_text())


def run(
    *, quick: bool = False, counts=None, seeds=None, models=("latent_ode", "rnn"), jobs: int = 1, time_budget: float = -1.0, out=None, threads: int = 1
) -> dict:
    """Run every count through papermill (``jobs`` at a time) and write the joined ``spirals.json``."""
    if threads != 1:
        raise ValueError("benchmarks.sweep runs every part on one torch thread; use --jobs for parallel parts.")
    preset = spirals.QUICK if quick else spirals.FULL
    counts = list(counts or preset["counts"])
    seeds = list(seeds if seeds is not None else preset["seeds"])
    folder = common.results_dir(quick, out)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, int(jobs))) as pool:
        futures = [pool.submit(_part, n, folder=folder, seeds=seeds, models=models, quick=quick, time_budget=time_budget) for n in counts]
        parts = [f.result() for f in futures]
    payload = spirals.combine(parts, out=out, quick=quick)
    print(f"[sweep] {len(counts)} parts through papermill in {time.perf_counter() - started:.0f} s -> {folder / 'spirals.json'}", flush=True)
    return payload


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.sweep", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="CI-sized parts; writes to benchmarks/results/quick/")
    ap.add_argument("--counts", type=int, nargs="+", help="observed points per series (default 30 50 100)")
    ap.add_argument("--seeds", type=int, nargs="+", help="training seeds (default 0 1 2)")
    ap.add_argument("--models", nargs="+", default=["latent_ode", "rnn"], choices=["latent_ode", "rnn"])
    ap.add_argument("--jobs", type=int, default=1, help="parts run at the same time (default 1; at most the number of cores)")
    ap.add_argument("--time-budget", type=float, default=-1.0, help="training seconds per run (default: the mode's)")
    ap.add_argument("--out", help="output folder (default benchmarks/results[/quick])")
    a = ap.parse_args(argv)
    run(quick=a.quick, counts=a.counts, seeds=a.seeds, models=tuple(a.models), jobs=a.jobs, time_budget=a.time_budget, out=a.out)


if __name__ == "__main__":
    main()
