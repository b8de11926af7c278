"""Rubanova et al. (2019) Table 3 on the MuJoCo Hopper: ``python -m benchmarks.hopper --size quick|book|full [--device cuda]``.

Runs :func:`lode_utils.hopper.table3` — Latent ODE (ODE-RNN and GRU encoders), ODE-RNN and
RNN-Δt; interpolation and extrapolation at 10 / 20 / 30 / 50 % of the time points observed —
and writes ``hopper_<size>.json`` and ``hopper_<size>.md`` with the paper's table beside ours
(test MSE × 10⁻², converted to the paper code's normalisation with
:func:`lode_utils.hopper.paper_scale`), and a model-free line for scale.

Sizes (:data:`SIZES`):

* ``quick``: seconds, for the test suite; numbers are not results.
* ``book``: what chapter 8 runs (1000 trajectories, 200 steps per model, one model per task on
  mixed fractions, two worker processes), about two minutes on two cores.
* ``full``: the paper's scale as far as ``lode_utils`` models go — 10 000 trajectories, a
  separate model per fraction (32 models), the paper's command's 300 epochs of batches of 50
  (48 000 steps) at latent size 15 and 128 hidden units. On CPU this is days, so it is meant
  for a GPU: ``--device cuda`` trains every model there (one process at a time unless
  ``--workers`` says otherwise; data, masks and random draws stay on the CPU, see
  :func:`lode_utils.fit`). It has not been run for this edition, and the book's table says
  "not run" until ``benchmarks/results/hopper_full.json`` exists. Check a GPU first with
  ``--size quick --device cuda --out /tmp/hopper_check`` (seconds).
"""

from __future__ import annotations

import argparse
import time

import torch

import lode_utils.devices
from lode_utils import hopper

from . import common

SIZES = {
    "quick": dict(n_trajectories=40, iterations=2, batch_size=8, n_test=8, eval_samples=2, workers=1, per_fraction=False, model_kwargs={}),
    "book": dict(n_trajectories=1000, iterations=200, batch_size=32, n_test=100, eval_samples=10, workers=2, per_fraction=False, model_kwargs={}),
    "full": dict(
        n_trajectories=10_000,
        iterations=48_000,
        batch_size=50,
        n_test=2000,
        eval_samples=10,
        workers=2,
        per_fraction=True,
        model_kwargs={"latent_dim": 15, "hidden": 128},
    ),
}


def run(*, size: str = "book", out=None, threads: int = 1, workers: int | None = None, device: str = "cpu") -> dict:
    """Run one size of the Table 3 comparison on ``device``; write and return its payload."""
    spec = dict(SIZES[size])
    device = str(lode_utils.devices.resolve_device(device))
    if device != "cpu":
        spec["device"] = device
        spec["workers"] = 1  # one GPU: one training process at a time, unless --workers says otherwise
    if workers is not None:
        spec["workers"] = workers
    threads = common.pin_threads(threads)
    meta = dict(common.run_metadata(threads=threads, quick=size == "quick"), device=device)
    if device.startswith("cuda"):
        meta["gpu"] = torch.cuda.get_device_name(torch.device(device))
    started = time.perf_counter()
    jobs = hopper.table3(**spec)
    ds = hopper.dataset(spec["n_trajectories"])
    naive = {task: hopper.naive_mse(ds, task, n_test=spec["n_test"], scale=hopper.paper_scale(ds)) for task in ("interpolation", "extrapolation")}
    ours: dict = {}
    for j in jobs:
        cell = ours.setdefault(j["task"], {}).setdefault(j["model"], {"mse_paper_norm": [None] * len(hopper.FRACTIONS), "mse": [None] * len(hopper.FRACTIONS)})
        for f, a, b in zip(j["fractions"], j["mse_paper_norm"], j["mse"]):
            i = hopper.FRACTIONS.index(f)
            cell["mse_paper_norm"][i], cell["mse"][i] = a, b
    payload = {
        "benchmark": f"hopper_{size}",
        "description": "Rubanova et al. (2019) Table 3 (MuJoCo Hopper): test MSE, four models, interpolation and extrapolation at 10/20/30/50 % observed",
        "metadata": meta,
        "size": size,
        "settings": spec,
        "paper": hopper.PAPER_TABLE3,
        "ours": ours,
        "naive_paper_norm": naive,
        "runs": [{k: v for k, v in j.items() if k != "state_dict"} for j in jobs],
        "wall_seconds_total": time.perf_counter() - started,
    }
    common.write_results(f"hopper_{size}", payload, _markdown(payload), common.results_dir(size == "quick", out))
    return payload


def _markdown(p: dict) -> str:
    paper, scale = p["paper"], p["paper"]["scale"]
    rows = []
    for task in ("interpolation", "extrapolation"):
        for key, name in hopper.MODEL_NAMES.items():
            ours = p["ours"].get(task, {}).get(key, {}).get("mse_paper_norm")
            rows.append([task, name, " / ".join(f"{v:.3f}" for v in paper[task][key]), " / ".join(f"{v / scale:.3f}" for v in ours) if ours else "not run"])
        rows.append([task, "no model (interpolate / repeat shown points)", "—", " / ".join(f"{v / scale:.3f}" for v in p["naive_paper_norm"][task])])
    table = common.markdown_table(["task", "model", "paper (10/20/30/50 %)", f"ours, {p['size']} size"], rows)
    return f"""# Hopper: Rubanova et al. (2019) Table 3, {p["size"]} size

Test MSE × 10⁻² in the paper code's normalisation ((x − min) / max per dimension; ours are converted with `lode_utils.hopper.paper_scale`). Paper: {paper["source"]}; {paper["checked"]}.

{table}

Settings: {p["settings"]}. Training seconds per model (CPU / wall): {", ".join(f"{r['model']}/{r['task']}: {r['train_seconds']:.0f} / {r['train_wall_seconds']:.0f}" for r in p["runs"][:8])}{" …" if len(p["runs"]) > 8 else ""}.

## Run

{common.metadata_markdown(p["metadata"])}
- total wall time: {p["wall_seconds_total"]:.0f} s
"""


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.hopper", description=__doc__.split("\n")[0])
    ap.add_argument("--size", choices=list(SIZES), default="book")
    ap.add_argument("--workers", type=int, help="training processes at a time (default: the size's on the CPU, 1 on a GPU)")
    ap.add_argument("--device", default="cpu", help="where the models train: cpu (default), cuda, cuda:N")
    ap.add_argument("--out", help="output folder (default benchmarks/results, or benchmarks/results/quick for --size quick)")
    a = ap.parse_args(argv)
    run(size=a.size, out=a.out, workers=a.workers, device=a.device)


if __name__ == "__main__":
    main()
