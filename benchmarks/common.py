"""Shared machinery of the benchmarks: thread pinning, timing, memory, isolation, statistics, output.

How things are measured (every results file repeats the relevant part):

* **Threads.** :func:`pin_threads` sets ``torch.set_num_threads(n)`` (default 1) and, for worker
  subprocesses, ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS``; the count in effect is recorded.
* **Time.** Wall time with :func:`time.perf_counter` and the process's CPU time with
  :func:`time.process_time`. Training time is the wall time :func:`lode_utils.fit` records
  (evaluation excluded). On a shared machine, ``cpu / wall`` well below 1 means the process
  waited for a core, so its timings are inflated; it is recorded next to every timing.
* **Memory, two ways.**

  1. *Autograd memory* (:class:`SavedTensorMeter`): the peak number of bytes that autograd
     holds for the backward pass during one training step (forward + backward), counted through
     ``torch.autograd.graph.saved_tensors_hooks`` once per storage, parameters excluded. This is
     the part that direct backprop and the adjoint method trade; it is exact and needs no
     separate process.
  2. *Process memory* (:func:`rss_probe`): in a fresh subprocess per configuration
     (:func:`run_isolated`), the peak resident set size reached during the training steps, minus
     the resident size just before them. The kernel's peak counter is reset first by writing
     ``5`` to ``/proc/self/clear_refs`` (Linux ≥ 4.0), so set-up costs do not leak in; where
     that is impossible, ``ru_maxrss`` of the fresh process is used and the method says so.

* **Output.** :func:`write_results` writes ``NAME.json`` (all numbers plus :func:`run_metadata`:
  machine, library versions, thread count, git commit, load average) and ``NAME.md`` (tables).
"""

from __future__ import annotations

import contextlib
import datetime
import importlib
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "RESULTS_DIR",
    "SavedTensorMeter",
    "fmt",
    "fmt_spread",
    "markdown_table",
    "pin_threads",
    "plan_iterations",
    "results_dir",
    "rss_probe",
    "run_isolated",
    "run_metadata",
    "summarize",
    "write_json",
    "write_results",
]

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "benchmarks" / "results"


# ----------------------------------------------------------------------------------------------
# Threads
# ----------------------------------------------------------------------------------------------
def pin_threads(n: int = 1) -> int:
    """Use ``n`` intra-op threads in this process (and tell child processes to do the same).

    Returns the thread count torch reports afterwards, which the results record.
    """
    n = int(n)
    if n < 1:
        raise ValueError(f"threads must be >= 1, got {n}.")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(n)
    torch.set_num_threads(n)
    with contextlib.suppress(RuntimeError):  # only allowed before the first parallel region
        torch.set_num_interop_threads(n)
    got = torch.get_num_threads()
    if got != n:
        raise RuntimeError(f"asked torch for {n} thread(s) but it uses {got}.")
    return got


# ----------------------------------------------------------------------------------------------
# Metadata
# ----------------------------------------------------------------------------------------------
def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=20, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _total_memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def run_metadata(*, threads: int, quick: bool, argv: Sequence[str] | None = None) -> dict:
    """Where and how a benchmark ran: machine, versions, threads, git commit, load, time."""
    import torchdiffeq

    import lode_utils

    commit = _git("rev-parse", "HEAD")
    dirty = _git("status", "--porcelain", "--", "lode_utils", "benchmarks")
    try:
        cores_available = len(os.sched_getaffinity(0))
    except AttributeError:
        cores_available = os.cpu_count()
    return {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "quick": quick,
        "argv": list(sys.argv if argv is None else argv),
        "threads": threads,
        "thread_note": f"torch.set_num_threads({threads}) pinned for every measurement (and OMP/MKL_NUM_THREADS in worker processes)",
        "machine": {
            "platform": platform.platform(),
            "cpu": _cpu_model(),
            "cores_visible": os.cpu_count(),
            "cores_available": cores_available,
            "memory_gib": _total_memory_gib(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        },
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "torchdiffeq": getattr(torchdiffeq, "__version__", "unknown"),
            "numpy": np.__version__,
            "lode_utils": lode_utils.__version__,
        },
        "git": {"commit": commit, "dirty": bool(dirty) if dirty is not None else None},
    }


# ----------------------------------------------------------------------------------------------
# Memory
# ----------------------------------------------------------------------------------------------
class _Held:
    """What the pack hook returns: the saved tensor, and a release of its count when autograd frees it."""

    __slots__ = ("key", "meter", "tensor")

    def __init__(self, meter: SavedTensorMeter, key: int, tensor: torch.Tensor):
        self.meter, self.key, self.tensor = meter, key, tensor

    def __del__(self):
        if self.key is not None:
            self.meter._release(self.key)


class SavedTensorMeter:
    """Peak bytes autograd holds for the backward pass while the context is open.

    Every tensor autograd saves is counted once per underlying storage (views share it);
    storages of the ``exclude`` tensors (the model's parameters) are not counted, since they
    exist whether or not a graph is kept. Saved tensors are released when autograd frees them,
    so ``peak_bytes`` is the high-water mark of the graph's memory over forward and backward.
    """

    def __init__(self, exclude=()):
        self._exclude = {p.untyped_storage().data_ptr() for p in exclude}
        self._live: dict[int, list[int]] = {}
        self.current_bytes = 0
        self.peak_bytes = 0
        self.saved_tensors = 0
        self._hooks = None

    def _pack(self, t: torch.Tensor):
        try:
            storage = t.untyped_storage()
        except (RuntimeError, NotImplementedError):
            return _Held(self, None, t)
        key = storage.data_ptr()
        if key == 0 or key in self._exclude:
            return _Held(self, None, t)
        self.saved_tensors += 1
        entry = self._live.get(key)
        if entry is None:
            self._live[key] = [1, storage.nbytes()]
            self.current_bytes += storage.nbytes()
            self.peak_bytes = max(self.peak_bytes, self.current_bytes)
        else:
            entry[0] += 1
        return _Held(self, key, t)

    @staticmethod
    def _unpack(held: _Held) -> torch.Tensor:
        return held.tensor

    def _release(self, key: int) -> None:
        entry = self._live.get(key)
        if entry is None:
            return
        entry[0] -= 1
        if entry[0] == 0:
            self.current_bytes -= entry[1]
            del self._live[key]

    def __enter__(self) -> SavedTensorMeter:
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._hooks.__exit__(*exc)


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


@contextlib.contextmanager
def rss_probe():
    """Measure the peak resident set size reached inside the block, above the size at its start.

    Yields a dict that is filled on exit with ``rss_before_mib``, ``rss_peak_mib``,
    ``rss_delta_mib`` and ``rss_method``. Meaningful in a fresh process (see :func:`run_isolated`).
    """
    out: dict = {}
    import gc

    gc.collect()
    reset = False
    try:
        Path("/proc/self/clear_refs").write_text("5")
        reset = True
    except OSError:
        pass
    before_kib = _status_kib("VmRSS")
    try:
        yield out
    finally:
        if reset and _status_kib("VmHWM") is not None:
            peak_kib = _status_kib("VmHWM")
            method = "VmHWM after reset via /proc/self/clear_refs, minus VmRSS at the start"
        else:
            peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
            method = "ru_maxrss of the fresh process, minus VmRSS at the start (peak could not be reset)"
        if before_kib is not None and peak_kib is not None:
            out.update(rss_before_mib=before_kib / 1024, rss_peak_mib=peak_kib / 1024, rss_delta_mib=max(0, peak_kib - before_kib) / 1024, rss_method=method)


# ----------------------------------------------------------------------------------------------
# Isolation: one fresh process per configuration
# ----------------------------------------------------------------------------------------------
_MARK = "@@BENCH-RESULT@@"


def run_isolated(target: str, kwargs: dict, *, threads: int = 1, timeout: float | None = None) -> dict:
    """Run ``module:function(**kwargs)`` in a fresh Python process and return its dict result.

    ``kwargs`` and the result must be JSON-serialisable. The child pins ``threads`` threads
    before it imports anything heavy.
    """
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    env.setdefault("PYTHONHASHSEED", "0")
    cmd = [sys.executable, "-m", "benchmarks.common", "worker", target, json.dumps(kwargs), str(threads)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(_MARK):
            return json.loads(line[len(_MARK) :])
    raise RuntimeError(f"worker {target} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")


def _worker_main(target: str, kwargs_json: str, threads: str) -> None:
    pin_threads(int(threads))
    module, func = target.split(":")
    result = getattr(importlib.import_module(module), func)(**json.loads(kwargs_json))
    result["isolated"] = True
    print(_MARK + json.dumps(result, default=_json_default), flush=True)


# ----------------------------------------------------------------------------------------------
# Training-time planning
# ----------------------------------------------------------------------------------------------
def plan_iterations(seconds_per_iteration: float, budget: float | None, cap: int) -> int:
    """Iterations that fill ``budget`` seconds at ``seconds_per_iteration`` (at most ``cap``).

    Used so that the cosine learning-rate schedule of :func:`lode_utils.fit` ends near the end of
    the budget; ``fit(time_budget=budget)`` still stops training when the budget is spent.
    """
    if budget is None:
        return cap
    if not seconds_per_iteration > 0:
        return cap
    return int(max(1, min(cap, math.ceil(budget / seconds_per_iteration))))


def steady_seconds_per_iteration(wall: Sequence[float]) -> float:
    """Median seconds per iteration from a cumulative wall-time list, first iteration dropped."""
    steps = np.diff(np.asarray(wall, dtype=float))
    if steps.size == 0:
        return float(wall[0]) if len(wall) else float("nan")
    return float(np.median(steps))


# ----------------------------------------------------------------------------------------------
# Statistics and formatting
# ----------------------------------------------------------------------------------------------
def summarize(values: Sequence[float]) -> dict:
    """``mean``, ``std`` (sample, n−1; 0 for one value), ``min``, ``max``, ``n`` and the ``values``."""
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return {"mean": None, "std": None, "min": None, "max": None, "n": 0, "values": []}
    return {
        "mean": statistics.fmean(vals),
        "std": statistics.stdev(vals) if len(vals) > 1 else 0.0,
        "min": min(vals),
        "max": max(vals),
        "n": len(vals),
        "values": vals,
    }


def fmt(x, digits: int = 4) -> str:
    """A number for a table: ``digits`` significant digits, ``—`` for missing or non-finite."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    if isinstance(x, bool | int | str):
        return str(x)
    return f"{x:.{digits}g}"


def fmt_spread(summary: dict, digits: int = 4) -> str:
    """``mean ± std (n=…)`` of a :func:`summarize` dict."""
    if not summary or summary.get("n", 0) == 0:
        return "—"
    if summary["n"] == 1:
        return f"{fmt(summary['mean'], digits)} (n=1)"
    return f"{fmt(summary['mean'], digits)} ± {fmt(summary['std'], digits)} (n={summary['n']})"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence]) -> str:
    def cell(v):
        return fmt(v) if isinstance(v, float) or v is None else str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def results_dir(quick: bool, out: str | os.PathLike | None = None) -> Path:
    """``benchmarks/results`` (full runs, committed) or ``benchmarks/results/quick`` (git-ignored)."""
    path = Path(out) if out is not None else (RESULTS_DIR / "quick" if quick else RESULTS_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, torch.Tensor):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


def _finite_or_none(o):
    """NaN and infinities become ``None`` so the JSON stays standard."""
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {k: _finite_or_none(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_finite_or_none(v) for v in o]
    return o


def write_json(path: Path, payload: dict) -> Path:
    """``payload`` as standard JSON (NaN and infinities become ``null``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_finite_or_none(json.loads(json.dumps(payload, default=_json_default))), indent=1) + "\n")
    return path


def write_results(name: str, payload: dict, markdown: str, out_dir: Path) -> tuple[Path, Path]:
    """Write ``out_dir/name.json`` (``payload``) and ``out_dir/name.md`` (``markdown``)."""
    jpath, mpath = write_json(out_dir / f"{name}.json", payload), out_dir / f"{name}.md"
    mpath.write_text(markdown.rstrip() + "\n")
    return jpath, mpath


def metadata_markdown(meta: dict) -> str:
    m, v, g = meta["machine"], meta["versions"], meta["git"]
    commit = (g["commit"] or "unknown")[:12] + (" (uncommitted changes in lode_utils/ or benchmarks/)" if g.get("dirty") else "")
    return "\n".join(
        [
            f"- run: {meta['date_utc']}, {'quick (CI-sized, not a result)' if meta['quick'] else 'full'} mode; command `{' '.join(meta['argv'])}`",
            f"- machine: {m['cpu']}, {m['cores_available']} core(s) available, {m['memory_gib']} GiB; load average at start {m['load_average_at_start']}",
            f"- threads: {meta['thread_note']}",
            f"- versions: Python {v['python']}, torch {v['torch']}, torchdiffeq {v['torchdiffeq']}, numpy {v['numpy']}, lode_utils {v['lode_utils']}; git {commit}",
        ]
        + ([f"- device: {meta['device']}" + (f" ({meta['gpu']})" if meta.get("gpu") else "")] if "device" in meta else [])
    )


def timed(fn: Callable, *args, **kwargs):
    """``(result, wall_seconds, cpu_seconds)`` of one call."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - w0, time.process_time() - c0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "worker":
        _worker_main(*sys.argv[2:])
    else:
        sys.exit("usage: python -m benchmarks.common worker MODULE:FUNCTION KWARGS_JSON THREADS")
