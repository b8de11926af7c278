"""Run every benchmark: ``python -m benchmarks.run_all [--quick] [--only spirals periodic periodic_noclip speed] [--out DIR]``.

Full mode (``make bench``) writes the committed results to ``benchmarks/results/``; quick mode
(``make bench-quick``, and the test suite) runs CI-sized versions in about a minute and writes to
``benchmarks/results/quick/`` (git-ignored). Each benchmark writes ``NAME.json`` and ``NAME.md``;
this script adds ``README.md`` (an index with the headline numbers) and ``index.json``.
"""

from __future__ import annotations

import argparse
import time

from . import common, periodic, speed, sweep

# the spirals Table 2 sweep runs through papermill, one parameterised notebook per count (benchmarks.sweep);
# periodic_noclip is the periodic benchmark's ablation: its two Latent ODEs without gradient clipping
BENCHMARKS = {"spirals": sweep.run, "periodic": periodic.run, "periodic_noclip": periodic.run_without_clipping, "speed": speed.run}


def _headlines(results: dict) -> list[str]:
    lines = []
    if "spirals" in results:
        p = results["spirals"]
        for n, s in p["summary"].items():
            parts = [f"{k}: {common.fmt_spread(v['rmse'])}" for k, v in s.items()]
            lines.append(f"- spirals, {n}/100 observed, RMSE vs noisy (paper Latent ODE {p['paper']['rows']['latent_ode'].get(n)}): " + "; ".join(parts))
        lines.append(f"- spirals checks: {p['checks']}")
    if "periodic" in results:
        p = results["periodic"]
        for task, s in p["summary"].items():
            lines.append(f"- periodic {task} MSE: " + "; ".join(f"{k}: {common.fmt_spread(v['mse'])}" for k, v in s.items()))
        lines.append(f"- periodic checks: {p['checks']}")
    if "periodic_noclip" in results:
        for task, s in results["periodic_noclip"]["summary"].items():
            lines.append(f"- periodic {task} MSE without gradient clipping: " + "; ".join(f"{k}: {common.fmt_spread(v['mse'])}" for k, v in s.items()))
    if "speed" in results:
        p = results["speed"]
        for name, c in p["configs"].items():
            lines.append(
                f"- speed {name}: {common.fmt(c['seconds_per_iteration'])} s/it, NFE {common.fmt(c['nfe_forward_mean'])} fwd + {common.fmt(c['nfe_backward_mean'])} bwd, "
                f"time to RMSE {p['protocol']['target_rmse']}: {common.fmt(c['seconds_to_target']) if c['seconds_to_target'] is not None else 'not reached'} "
                f"(best {common.fmt(c['best_rmse'])})"
            )
        for r in p["adjoint"]:
            lines.append(
                f"- {r['size']} model, {'adjoint' if r['adjoint'] else 'direct'}: {common.fmt(r['step_seconds'])} s/step, autograd peak {common.fmt(r['memory']['autograd_peak_mib'])} MiB"
            )
        if p["profile"]:
            lines.append(
                f"- profile: solver overhead share of our forward ODE solve {common.fmt(p['profile']['forward_ode_solve_split']['solver_overhead_share'], 2)}"
            )
    return lines


def run(*, quick: bool = False, only=tuple(BENCHMARKS), out=None, threads: int = 1) -> dict:
    """Run the selected benchmarks in turn (in this process); returns ``{name: payload}``."""
    common.pin_threads(threads)
    started = time.perf_counter()
    results, seconds = {}, {}
    for name in only:
        t0 = time.perf_counter()
        results[name] = BENCHMARKS[name](quick=quick, out=out, threads=threads)
        seconds[name] = time.perf_counter() - t0
        print(f"[run_all] {name} done in {seconds[name]:.0f} s", flush=True)
    total = time.perf_counter() - started
    meta = common.run_metadata(threads=threads, quick=quick)
    md = "\n".join(
        [
            "# Benchmark results" + (" (quick mode: CI-sized, not results)" if quick else ""),
            "",
            "Each benchmark has a JSON file with every number and a Markdown file with the tables: "
            + ", ".join(f"[{n}]({n}.md) ({seconds[n]:.0f} s)" for n in results)
            + f"; {total:.0f} s in all.",
            "",
            *_headlines(results),
            "",
            "## Run",
            "",
            common.metadata_markdown(meta),
        ]
    )
    folder = common.results_dir(quick, out)
    common.write_json(folder / "index.json", {"metadata": meta, "seconds": seconds, "total_seconds": total, "benchmarks": list(results)})
    (folder / "README.md").write_text(md + "\n")
    return results


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run_all", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="CI-sized runs (about a minute); writes to benchmarks/results/quick/")
    ap.add_argument("--only", nargs="+", choices=list(BENCHMARKS), default=list(BENCHMARKS))
    ap.add_argument("--out", help="output folder (default benchmarks/results[/quick])")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    run(quick=a.quick, only=tuple(a.only), out=a.out, threads=a.threads)


if __name__ == "__main__":
    main()
