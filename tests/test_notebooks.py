"""The book's chapters: stored-output hygiene, papermill runs with quick parameters, and the
rendered HTML of chapter 7 in headless Chromium.

nbval itself (re-executing every chapter and comparing with the stored outputs) runs from the
Makefile: ``pytest tests book/*.ipynb --nbval ...``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))
HTML = ROOT / "_build" / "html"

#: Parameters that make each chapter a quick run (papermill); every chapter must accept them.
QUICK: dict[str, dict] = {
    "01_irregular_data": {"N_SERIES": 5, "N_POINTS": 20, "SPIRAL_POINTS": 20, "BATCH": 4, "POINTS_PER_SERIES": 5},
    "02_encoding": {"N_SERIES": 5, "N_POINTS": 20, "REPEATS": 2, "HIDDEN": 8},
    "03_sampling": {"N_REPEATS": 50, "K_VALUES": [1, 4, 16], "SIGMAS": [0.3, 1.0], "N_SERIES": 4, "K_TRAIN": [1, 10], "N_DRAWS": 8},
    "04_ode_flow": {"ACCURACY_LEVELS": 2, "MAX_TIME_SCALE": 10, "BATCH": 16, "HIDDEN_SIZES": [16], "HORIZONS": [0.5, 1.0], "TIMING_REPEATS": 1},
    "05_decoding": {"N_SERIES": 40, "N_POINTS": 20, "ITERATIONS": 3, "BATCH_SIZE": 16, "EVAL_SAMPLES": 5, "MLP_DECODER": False},
    "06_elbo_training": {"ITERATIONS": 5, "ANNEAL_ITERATIONS": 5, "N_SERIES": 60, "K_VALUES": [1, 3]},
    "07_generation": {"ITERATIONS": 5, "RNN_ITERATIONS": 5, "N_SERIES": 60, "N_SAMPLES": 10, "CHECK_QUALITY": False},
    "08_hopper": {"N_TRAJECTORIES": 40, "ITERATIONS": 2, "BATCH_SIZE": 8, "N_TEST": 8, "EVAL_SAMPLES": 2, "WORKERS": 1},
    "09_your_own_data": {"ITERATIONS": 5, "WARMUP_ITERATIONS": 5, "RECIPE_ITERATIONS": 2},
    "10_results": {"N_EXAMPLES": 1},
}

MACHINE_PATH = re.compile(r"(/tmp/|/root/|/work/|/home/[a-z]+/|\\\\Users\\\\)")


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def test_every_toc_chapter_exists():
    toc = (ROOT / "_toc.yml").read_text()
    files = re.findall(r"file:\s*(\S+)", toc)
    assert files, "no chapters in _toc.yml"
    for f in files:
        assert any((ROOT / f"{f}{ext}").exists() for ext in (".ipynb", ".md")), f"_toc.yml names {f}, which does not exist"
    for nb in CHAPTERS:
        assert f"book/{nb.stem}" in files, f"{nb.name} is not in _toc.yml"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_notebook_hygiene(path: Path):
    """Stored outputs, no errors, executed top to bottom, no machine paths, small, parameters cell."""
    nb = _load(path)
    assert path.stat().st_size < 3 * 2**20, f"{path.name} is over 3 MB; store smaller figures"
    cells = [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    assert cells, f"{path.name} has no code"
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name} needs exactly one cell tagged 'parameters' (papermill)"
    counts = [c.get("execution_count") for c in cells]
    assert None not in counts, f"{path.name} has cells that were never executed; run `make execute`"
    assert counts == list(range(1, len(counts) + 1)), f"{path.name} was not executed once, top to bottom: {counts}"
    assert any(c.get("outputs") for c in cells), f"{path.name} is stored without outputs"
    for i, c in enumerate(cells):
        for out in c.get("outputs", []):
            assert out.get("output_type") != "error", f"{path.name} cell {i} stored an error ({out.get('ename')})"
            text = "".join(out.get("text", "")) + "".join(out.get("data", {}).get("text/plain", ""))
            assert not MACHINE_PATH.search(text), f"{path.name} cell {i} shows a machine-specific path"
            assert "Traceback" not in text, f"{path.name} cell {i} shows a traceback"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_parameters_cover_quick_run(path: Path):
    """Every chapter has quick parameters here, and its parameters cell defines each of them."""
    assert path.stem in QUICK, f"add quick papermill parameters for {path.stem} to QUICK"
    nb = _load(path)
    src = "".join(next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))["source"])
    for name in QUICK[path.stem]:
        assert re.search(rf"^{name}\s*=", src, re.M), f"{path.name}: parameters cell does not define {name}"


@pytest.mark.slow
@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_papermill_quick_run(path: Path, tmp_path: Path):
    """Each chapter runs to the end with its quick parameters (other values than the stored run)."""
    papermill = pytest.importorskip("papermill")
    work = tmp_path / "book"
    shutil.copytree(BOOK, work, ignore=shutil.ignore_patterns("_build", "*.ipynb_checkpoints"))
    # the results appendix (and the hopper chapter's full-size column) read ../benchmarks/results
    shutil.copytree(ROOT / "benchmarks" / "results", tmp_path / "benchmarks" / "results", ignore=shutil.ignore_patterns("quick"))
    out = tmp_path / f"{path.stem}.out.ipynb"
    papermill.execute_notebook(
        str(work / path.name), str(out), parameters=QUICK.get(path.stem, {}), cwd=str(work), progress_bar=False, log_output=False, kernel_name="python3"
    )
    nb = _load(out)
    assert nb["metadata"]["papermill"]["exception"] in (None, False)


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.mark.slow
def test_chapter7_html_renders_offline(tmp_path: Path):
    """Open the built chapter 7 in headless Chromium: figures and math render, nothing leaves the machine."""
    page = HTML / "book" / "07_generation.html"
    if not page.exists():
        pytest.skip("the book is not built (run `make build` first; `make test` does)")
    browser = _chromium()
    if browser is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium); cannot check the rendered page")
    netlog = tmp_path / "netlog.json"
    cmd = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--log-net-log={netlog}",
        "--allow-file-access-from-files",
        "--virtual-time-budget=15000",
        "--dump-dom",
        page.as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    dom = proc.stdout
    assert "<html" in dom.lower(), f"Chromium returned no page: {proc.stderr[-500:]}"
    # math: MathJax (served from _static, no CDN) replaced the TeX by rendered containers
    assert "mjx-container" in dom, "math did not render (no MathJax output in the page)"
    # figures: every image the page shows is a local file that exists
    imgs = re.findall(r'<img[^>]+src="([^"]+)"', dom)
    figures = [s for s in imgs if "_images/" in s]
    assert len(figures) >= 3, f"expected chapter 7's figures, found {figures}"
    for src in figures:
        assert not src.startswith("http"), f"image loaded from the network: {src}"
        assert (page.parent / src).resolve().exists() or src.startswith("file:"), f"missing image {src}"
    # network: no request made by the page (initiator file://) goes to a host off this machine;
    # Chromium's own service calls (initiator "not an origin") are not the page's doing
    page_urls = _page_requests(netlog)
    remote = sorted(u for u in page_urls if re.match(r"https?://", u) and not re.match(r"https?://(localhost|127\.|\[::1\])", u))
    assert not remote, f"the page requested remote resources: {remote[:5]}"


def _page_requests(netlog: Path) -> set[str]:
    """URLs the page itself requested, from a Chromium net log (JSON, possibly unterminated)."""
    if not netlog.exists():
        return set()
    text = netlog.read_text(errors="replace")
    try:
        log = json.loads(text)
    except json.JSONDecodeError:
        log = json.loads(text.rstrip().rstrip(",") + "]}")
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return {e["params"]["url"] for e in log["events"] if e["type"] == start and e.get("params", {}).get("initiator", "").startswith(("file:", "null"))}
