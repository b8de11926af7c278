"""MuJoCo Hopper trajectories, the physics data set of Rubanova et al. (2019): simulated, cached, normalised.

The recipe is the one of the paper's public code (``mujoco_physics.py``), reproduced in its
random stream: DeepMind Control Suite's ``hopper`` (task ``stand``; only its physics is used),
``RandomState(123)``, and for each trajectory, in this order,

* ``qpos[:2] ~ U(0, 0.5)`` (``rootx``, ``rootz``),
* ``qpos[2:] ~ U(-2, 2)`` (``rooty`` and the four leg joints),
* ``qvel ~ U(-5, 5)`` (all seven velocities),

set inside ``physics.reset_context()``, then 200 steps of the passive dynamics (zero control,
no actions), recording ``(qpos, qvel)`` *before* each step. A trajectory is ``[200, 14]``:
``qpos`` (7) then ``qvel`` (7), named in :data:`STATE_NAMES` with units in :data:`STATE_UNITS`.
The model's timestep is 0.005 s, so the time of step ``k`` is ``k / 200`` seconds: model time
and simulated time are the same thing here.

Each trajectory consumes 14 numbers of the stream and starts from a reset physics, so the
first ``n`` trajectories of a seed do not depend on how many are generated after them: a set
of size ``n`` is the first ``n`` of the full 10 000 (as the reference code's ``dataset[:n]``).

Three layers:

* :func:`simulate` — ``[n, n_steps, 14]`` float64 in physical units (needs ``dm_control``),
* :func:`trajectories` — the same, through a disk cache (``$LODE_UTILS_CACHE``, else
  ``~/.cache/lode_utils``) keyed by ``n``, seed, steps and the MuJoCo / dm_control versions
  (other physics versions give other trajectories),
* :func:`dataset` — a :class:`~lode_utils.data.SeriesDataset` min–max normalised to ``[0, 1]``
  per dimension, times ``k / 200``, 80/20 train/test split.

``dm_control`` is an optional dependency: ``pip install "lode-utils[hopper]"`` (it is in
``environment.yml`` for conda users). It is imported only when a simulation runs, so
``import lode_utils`` works without it, and so does :func:`trajectories` on a cache hit.
"""

from __future__ import annotations

import contextlib
import operator
import os
import re
import uuid
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from .data import IrregularBatch, SeriesDataset, extrapolation_task, interpolation_task
from .devices import resolve_device

__all__ = [
    "DT",
    "FRACTIONS",
    "MODEL_NAMES",
    "N_STEPS",
    "PAPER_TABLE3",
    "STATE_NAMES",
    "STATE_UNITS",
    "build_model",
    "cache_directory",
    "dataset",
    "mixed_task",
    "naive_mse",
    "observed_task",
    "paper_scale",
    "simulate",
    "table3",
    "test_tasks",
    "to_physical",
    "train_and_score",
    "trajectories",
]

DT = 0.005
"""The Hopper's physics timestep in seconds (``physics.model.opt.timestep``): step ``k`` is at ``k * DT = k / 200``."""

N_STEPS = 200
"""Steps per trajectory in the paper's set."""

_JOINTS = ("rootx", "rootz", "rooty", "waist", "hip", "knee", "ankle")

STATE_NAMES: tuple[str, ...] = _JOINTS + tuple(f"{j} velocity" for j in _JOINTS)
"""Names of the 14 dimensions, the joints of ``hopper.xml`` in ``qpos`` order and then their velocities.

``rootx`` and ``rootz`` are slide joints of the torso (horizontal position and height, the
latter relative to the torso's rest height of 1 m); ``rooty`` is the torso's pitch (a hinge);
``waist``, ``hip``, ``knee`` and ``ankle`` are hinges of the leg.
"""

STATE_UNITS: tuple[str, ...] = ("m", "m") + ("rad",) * 5 + ("m/s", "m/s") + ("rad/s",) * 5
"""Physical units of :data:`STATE_NAMES` (slide joints in metres, hinges in radians)."""

RECIPE = (
    "Rubanova et al. (2019), mujoco_physics.py: dm_control suite.load('hopper', 'stand'); RandomState(seed); per trajectory, "
    "inside physics.reset_context(): qpos[:2] ~ U(0, 0.5), qpos[2:] ~ U(-2, 2), qvel ~ U(-5, 5); then n_steps physics steps "
    "with zero control, recording (qpos, qvel) before each step; times step / 200 (timestep 0.005 s); "
    "each dimension min-max normalised to [0, 1] over the whole set."
)

MISSING_DM_CONTROL = (
    'lode_utils.hopper needs DeepMind\'s dm_control (and MuJoCo) to simulate the Hopper: pip install "lode-utils[hopper]" '
    "(conda users: dm-control is in environment.yml, in its pip: section; conda env update -f environment.yml)."
)

_CACHE_ENV = "LODE_UTILS_CACHE"


# ----------------------------------------------------------------------------------------------
# Simulation
# ----------------------------------------------------------------------------------------------
def _import_physics():
    """``(suite, mujoco, PhysicsError)``, imported on first use; ``ImportError`` saying how to install them."""
    try:
        with warnings.catch_warnings():
            # dm_control chooses an OpenGL backend at import time; with no display GLFW warns
            # although nothing here renders. Silence that one message; MUJOCO_GL stays the user's.
            warnings.filterwarnings("ignore", message=r".*The DISPLAY environment variable is missing", module="glfw")
            import mujoco
            from dm_control import suite
            from dm_control.rl.control import PhysicsError
    except ImportError as exc:
        raise ImportError(f"{MISSING_DM_CONTROL} (The import failed with: {exc})") from exc
    return suite, mujoco, PhysicsError


def _check_arguments(n_trajectories, seed, n_steps) -> tuple[int, int, int]:
    values = []
    for name, value, low in (("n_trajectories", n_trajectories, 1), ("seed", seed, 0), ("n_steps", n_steps, 1)):
        try:
            if isinstance(value, bool):
                raise TypeError
            value = operator.index(value)
        except TypeError:
            raise ValueError(f"{name} must be an integer, got {value!r}.") from None
        if value < low:
            raise ValueError(f"{name} must be >= {low}, got {value}.")
        values.append(value)
    if values[1] >= 2**32:
        raise ValueError(f"seed must be below 2**32 (a NumPy RandomState seed), got {values[1]}.")
    return tuple(values)


def simulate(n_trajectories: int, *, seed: int = 123, n_steps: int = N_STEPS) -> np.ndarray:
    """Simulate ``n_trajectories`` Hopper trajectories with the paper's recipe (no cache).

    Exactly the loop of the reference code (see the module docstring), with
    ``np.random.RandomState(seed)`` in place of the global ``np.random.seed`` (the same
    stream, and the global state is left alone). The steps call ``mujoco.mj_step`` on the
    model and data behind dm_control's ``physics`` rather than ``physics.step()``: the same
    physics, bit for bit (``tests/test_hopper.py`` checks it), at half the cost. About 2 ms
    per trajectory of 200 steps.

    Args:
        n_trajectories: how many; the first ``n`` of a seed do not depend on ``n``.
        seed: seed of the initial states (123 in the paper).
        n_steps: recorded states per trajectory (200 in the paper).

    Returns:
        ``[n_trajectories, n_steps, 14]`` float64 in physical units: ``qpos`` then ``qvel``
        (:data:`STATE_NAMES`, :data:`STATE_UNITS`); row ``k`` is the state at ``k / 200`` s.

    Raises:
        ImportError: without ``dm_control``; the message says how to install it.
        dm_control.rl.control.PhysicsError: if MuJoCo flags an invalid state, as ``physics.step()`` would.
    """
    n_trajectories, seed, n_steps = _check_arguments(n_trajectories, seed, n_steps)
    suite, mujoco, PhysicsError = _import_physics()
    physics = suite.load("hopper", "stand").physics
    model, data = physics.model.ptr, physics.data.ptr
    if model.opt.timestep != DT or (model.nq, model.nv) != (7, 7):
        raise RuntimeError(
            f"this dm_control's hopper has timestep {model.opt.timestep} s and {model.nq} + {model.nv} state dimensions, "
            f"expected {DT} s and 7 + 7; the recipe (and times = step / 200) no longer applies."
        )
    qpos, qvel = data.qpos, data.qvel  # views into mjData, updated in place by every step
    step = mujoco.mj_step
    rng = np.random.RandomState(seed)
    out = np.empty((n_trajectories, n_steps, 14))
    for i in range(n_trajectories):
        with physics.reset_context():
            qpos[:2] = rng.uniform(0, 0.5, size=2)
            qpos[2:] = rng.uniform(-2, 2, size=qpos[2:].shape)
            qvel[:] = rng.uniform(-5, 5, size=qvel.shape)
        warnings_before = data.warning.number.copy()
        trajectory = out[i]
        for t in range(n_steps):
            trajectory[t, :7] = qpos
            trajectory[t, 7:] = qvel
            step(model, data)
        new = data.warning.number > warnings_before
        if new.any():
            names = ", ".join(np.compress(new, list(mujoco.mjtWarning.__members__)))
            raise PhysicsError(f"trajectory {i} (seed {seed}): MuJoCo reported {names}; dm_control's physics.step() stops here too.")
    return out


# ----------------------------------------------------------------------------------------------
# Disk cache
# ----------------------------------------------------------------------------------------------
def cache_directory(cache_dir=None) -> Path:
    """The cache directory: ``cache_dir`` if given, else ``$LODE_UTILS_CACHE``, else ``~/.cache/lode_utils``."""
    if cache_dir is None:
        cache_dir = os.environ.get(_CACHE_ENV) or Path.home() / ".cache" / "lode_utils"
    return Path(cache_dir).expanduser()


def _physics_versions() -> tuple[str, str] | None:
    """Installed ``(mujoco, dm_control)`` versions, file-name safe; ``None`` if either is missing."""
    try:
        found = (metadata.version("mujoco"), metadata.version("dm-control"))
    except metadata.PackageNotFoundError:
        return None
    return tuple(re.sub(r"[^0-9A-Za-z.+]", "-", v) for v in found)


def _file_name(n: int, seed: int, n_steps: int, versions: tuple[str, str]) -> str:
    return f"hopper_seed{seed}_steps{n_steps}_n{n}_mujoco{versions[0]}_dmcontrol{versions[1]}.npy"


def _find_cached(directory: Path, n: int, seed: int, n_steps: int, versions) -> tuple[Path, int] | None:
    """The smallest cached set of ``seed``/``n_steps`` with at least ``n`` trajectories, of these physics versions.

    With ``versions=None`` (dm_control not installed) any versions will do, as long as the
    candidates all come from one pair of versions.
    """
    if not directory.is_dir():
        return None
    pattern = re.compile(rf"hopper_seed{seed}_steps{n_steps}_n(\d+)_mujoco([^_]+)_dmcontrol([^_]+)\.npy")
    found = []
    for path in directory.glob(f"hopper_seed{seed}_steps{n_steps}_n*.npy"):
        m = pattern.fullmatch(path.name)
        if m is None or int(m[1]) < n or (versions is not None and (m[2], m[3]) != versions):
            continue
        found.append((int(m[1]), (m[2], m[3]), path))
    if not found:
        return None
    if len({f[1] for f in found}) > 1:
        raise ValueError(
            f"{directory} holds Hopper sets from several MuJoCo/dm_control versions and dm_control is not installed to choose: "
            f'{sorted(f[2].name for f in found)}; pip install "lode-utils[hopper]" or delete the ones you do not want.'
        )
    n_file, _, path = min(found)
    return path, n_file


def _load(path: Path, n_file: int, n: int, n_steps: int) -> np.ndarray:
    """The first ``n`` trajectories of the cached ``[n_file, n_steps, 14]`` array, checked."""

    def bad(why: str) -> ValueError:
        return ValueError(
            f"the Hopper cache file {path} is not a valid [{n_file}, {n_steps}, 14] float64 array ({why}); delete it and it will be simulated again."
        )

    try:
        stored = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise bad(f"could not be read: {exc}") from None
    if not isinstance(stored, np.ndarray) or stored.dtype != np.float64 or stored.shape != (n_file, n_steps, 14):
        raise bad(f"it holds {getattr(stored, 'dtype', type(stored).__name__)} of shape {getattr(stored, 'shape', '?')}")
    out = np.array(stored[:n])
    del stored
    if not np.isfinite(out).all():
        raise bad("it contains NaN or infinite values")
    return out


def _save(path: Path, array: np.ndarray) -> None:
    """Write ``array`` to ``path`` atomically (a temporary file, then ``os.replace``); warn if that fails."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")  # hidden; created with the user's umask
        try:
            with open(tmp, "xb") as f:
                np.save(f, array, allow_pickle=False)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        warnings.warn(f"could not write the Hopper cache {path} ({exc}); the trajectories will be simulated again next time.", stacklevel=3)


def trajectories(n_trajectories: int = 10_000, *, seed: int = 123, n_steps: int = N_STEPS, cache_dir=None, use_cache: bool = True) -> np.ndarray:
    """:func:`simulate`, through a disk cache: ``[n_trajectories, n_steps, 14]`` float64, physical units.

    The cache lives in ``cache_dir``, else ``$LODE_UTILS_CACHE``, else ``~/.cache/lode_utils``;
    one ``.npy`` file per set, named after ``n``, ``seed``, ``n_steps`` and the installed
    MuJoCo and dm_control versions (10 000 × 200 × 14 float64 is 224 MB). A cached larger set
    of the same seed, steps and versions serves a smaller ``n`` (its first ``n`` rows, which
    are what a simulation of ``n`` gives). New sets are written atomically.

    Args:
        use_cache: ``False`` simulates without reading or writing the cache.

    Raises:
        ImportError: on a cache miss without ``dm_control`` (the message says how to install it).
        ValueError: if the cached file is damaged (the message names it: delete it).
    """
    n_trajectories, seed, n_steps = _check_arguments(n_trajectories, seed, n_steps)
    if not use_cache:
        return simulate(n_trajectories, seed=seed, n_steps=n_steps)
    directory = cache_directory(cache_dir)
    versions = _physics_versions()
    hit = _find_cached(directory, n_trajectories, seed, n_steps, versions)
    if hit is not None:
        return _load(hit[0], hit[1], n_trajectories, n_steps)
    out = simulate(n_trajectories, seed=seed, n_steps=n_steps)
    if versions is not None:
        _save(directory / _file_name(n_trajectories, seed, n_steps, versions), out)
    return out


# ----------------------------------------------------------------------------------------------
# The data set
# ----------------------------------------------------------------------------------------------
def dataset(n_trajectories: int = 10_000, *, seed: int = 123, split_seed: int = 0, test_fraction: float = 0.2, cache_dir=None) -> SeriesDataset:
    """The Hopper set of Rubanova et al. (2019) as a :class:`~lode_utils.data.SeriesDataset`.

    ``n_trajectories`` series of 200 regular times ``k / 200`` (``[0, 0.995]`` s; model time
    equals simulated time) with all 14 dimensions observed, each dimension min–max normalised
    to ``[0, 1]`` over the whole set (train and test, as in the paper's code). The reference
    code's ``utils.normalize_data`` actually computes ``(x − min) / max``; this uses true
    min–max ``(x − min) / (max − min)``, so every dimension attains 0 and 1.

    The split is a seeded random ``1 − test_fraction`` / ``test_fraction`` one (``split_seed``);
    the reference code takes the first 80 % for training instead, which is the same in
    distribution since the trajectories are independent.

    ``params`` holds ``data_min`` and ``data_max`` (``[14]``, physical units; see
    :func:`to_physical`), ``state_names``, ``state_units``, ``seed``, ``dt``, the physics
    ``versions`` and the ``recipe``.
    """
    raw = trajectories(n_trajectories, seed=seed, cache_dir=cache_dir)
    data_min, data_max = raw.min(axis=(0, 1)), raw.max(axis=(0, 1))
    span = np.where(data_max > data_min, data_max - data_min, 1.0)
    values = raw  # our own copy: normalise in place
    values -= data_min
    values /= span
    times = np.arange(N_STEPS) / N_STEPS
    ds = SeriesDataset(
        [(times, values[i]) for i in range(len(values))],
        test_fraction=test_fraction,
        seed=split_seed,
        normalize=False,
        time_span=float(times[-1] - times[0]),  # t_scale = 1: model times are exactly k / 200
        name="hopper",
    )
    versions = _physics_versions()
    ds.params = {
        "data_min": data_min,
        "data_max": data_max,
        "state_names": list(STATE_NAMES),
        "state_units": list(STATE_UNITS),
        "seed": seed,
        "dt": DT,
        "versions": None if versions is None else {"mujoco": versions[0], "dm_control": versions[1]},
        "recipe": RECIPE,
    }
    return ds


def to_physical(values, ds_or_params):
    """Normalised values ``[..., 14]`` (numpy or torch) → physical units: ``x · (max − min) + min``.

    ``ds_or_params`` is the :func:`dataset` or its ``params`` dict.
    """
    params = getattr(ds_or_params, "params", ds_or_params)
    low = np.asarray(params["data_min"], dtype=np.float64)
    span = np.asarray(params["data_max"], dtype=np.float64) - low
    if isinstance(values, torch.Tensor):
        return values * torch.as_tensor(span, dtype=values.dtype, device=values.device) + torch.as_tensor(low, dtype=values.dtype, device=values.device)
    return np.asarray(values) * span + low


# ----------------------------------------------------------------------------------------------
# The paper's Table 3 experiment: four models, interpolation and extrapolation, observed fractions
# ----------------------------------------------------------------------------------------------
FRACTIONS = (0.1, 0.2, 0.3, 0.5)
"""Fractions of the time points observed in Rubanova et al. (2019), Table 3."""

MODEL_NAMES = {
    "latent_ode_odernn_enc": "Latent ODE (ODE enc.)",
    "latent_ode_rnn_enc": "Latent ODE (RNN enc.)",
    "ode_rnn": "ODE-RNN",
    "rnn_dt": "RNN-Δt",
}
"""The four models of Table 3, by key (the order of the paper's rows, best last)."""

PAPER_TABLE3 = {
    "source": "Rubanova, Chen, Duvenaud (2019), Latent ODEs for Irregularly-Sampled Time Series, NeurIPS 2019, Table 3 (MuJoCo), test MSE × 10^-2",
    "scale": 1e-2,
    "fractions": FRACTIONS,
    "interpolation": {
        "rnn_dt": (2.454, 1.714, 1.250, 0.785),
        "ode_rnn": (1.647, 1.209, 0.986, 0.665),
        "latent_ode_rnn_enc": (2.477, 0.578, 2.768, 0.447),
        "latent_ode_odernn_enc": (0.360, 0.295, 0.300, 0.285),
    },
    "extrapolation": {
        "rnn_dt": (7.259, 6.792, 6.594, 30.571),
        "ode_rnn": (13.508, 31.950, 15.465, 26.463),
        "latent_ode_rnn_enc": (1.663, 1.653, 1.485, 1.377),
        "latent_ode_odernn_enc": (1.441, 1.400, 1.175, 1.258),
    },
    "checked": "the 50 % cells of ODE-RNN and Latent ODE (ODE enc.) agree with the paper's entries on paperswithcode; the other cells are as given in the project's design notes",
}
"""The paper's Table 3 (values × 10⁻², as printed), with how far it was checked."""


def observed_task(kind: str, fraction: float, *, score: str = "held_out"):
    """A task for :func:`~lode_utils.fit` / :func:`~lode_utils.metrics.evaluate` on a 200-step Hopper batch.

    ``"interpolation"``: a random ``fraction`` of the 200 time points is shown; ``"extrapolation"``:
    a random ``fraction`` of the first 100 is shown and the last 100 are predicted. ``score``:
    ``"held_out"`` scores what the paper's code scores — every time point for interpolation
    (shown ones included) and the last 100 for extrapolation; ``"all"`` scores every point (the
    training loss). Returns ``task(batch, generator) -> IrregularBatch``.
    """
    if kind not in ("interpolation", "extrapolation"):
        raise ValueError(f"kind must be 'interpolation' or 'extrapolation', got {kind!r}.")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}.")
    if score not in ("held_out", "all"):
        raise ValueError(f"score must be 'held_out' or 'all', got {score!r}.")

    def task(batch, generator=None):
        if batch.t.numel() != N_STEPS:
            raise ValueError(f"expected Hopper batches of {N_STEPS} time points, got {batch.t.numel()}; use lode_utils.hopper.dataset().")
        if kind == "interpolation":
            shown = interpolation_task(batch, fraction, generator=generator, score="all").mask
            return IrregularBatch(t=batch.t, x=batch.x, mask=shown, target_mask=batch.mask, truth=batch.truth)
        ext = extrapolation_task(batch, float(batch.t[N_STEPS // 2 - 1]))
        shown = interpolation_task(ext, fraction, generator=generator, score="all").mask
        target = batch.mask if score == "all" else ext.target_mask
        return IrregularBatch(t=batch.t, x=batch.x, mask=shown, target_mask=target, truth=batch.truth)

    return task


def mixed_task(kind: str, fractions=FRACTIONS):
    """Training task drawing one of ``fractions`` per minibatch (uniformly, from the generator):
    one model per task serves every observed fraction. Scores every point."""
    tasks = [observed_task(kind, f, score="all") for f in fractions]

    def task(batch, generator=None):
        i = int(torch.randint(len(tasks), (1,), generator=generator))
        return tasks[i](batch, generator)

    return task


def build_model(key: str, *, latent_dim: int = 16, hidden: int = 64, step_size: float = 0.1, obs_std: float = 0.02):
    """One of :data:`MODEL_NAMES` for the 14-dimensional Hopper, at a common size.

    Latent ODEs: latent ``latent_dim``, GRU or ODE-RNN encoder of ``hidden`` units, an ODE
    network with one hidden layer of ``hidden`` units, fixed-step RK4 with ``step_size``, a
    linear decoder (as the paper). Baselines: a GRU of ``hidden`` units, fed Δt (RNN-Δt) or
    following an ODE between observations (ODE-RNN), with the same decoder.
    """
    from .baselines import RecurrentBaseline
    from .model import LatentODE, LatentODEConfig

    common = dict(
        obs_dim=len(STATE_NAMES), latent_dim=latent_dim, enc_hidden=hidden, ode_hidden=hidden, dec_layers=0, obs_std=obs_std, method="rk4", step_size=step_size
    )
    if key == "latent_ode_rnn_enc":
        return LatentODE(LatentODEConfig(encoder="gru", **common))
    if key == "latent_ode_odernn_enc":
        return LatentODE(LatentODEConfig(encoder="odernn", enc_max_step=step_size, **common))
    if key == "rnn_dt":
        return RecurrentBaseline(obs_dim=len(STATE_NAMES), kind="rnn", hidden=hidden, dec_layers=0, obs_std=obs_std)
    if key == "ode_rnn":
        return RecurrentBaseline(obs_dim=len(STATE_NAMES), kind="odernn", hidden=hidden, ode_hidden=hidden, max_step=step_size, dec_layers=0, obs_std=obs_std)
    raise ValueError(f"unknown model {key!r}; choose one of {sorted(MODEL_NAMES)}.")


def test_tasks(ds: SeriesDataset, kind: str, fractions=FRACTIONS, n_test: int = 200) -> list[IrregularBatch]:
    """The fixed test tasks: the first ``n_test`` test series, one task per fraction (seeded ``1000 + i``)."""
    test = ds.batch(ds.test_idx[:n_test])
    return [observed_task(kind, f)(test, torch.Generator().manual_seed(1000 + i)) for i, f in enumerate(fractions)]


def paper_scale(ds: SeriesDataset) -> np.ndarray:
    """``[14]`` factors from our normalisation to the paper code's: errors there are these times ours.

    Ours is ``(x − min) / (max − min)``; the reference code's ``normalize_data`` computes
    ``(x − min) / max``. An error ``e`` in ours is ``e · (max − min) / max`` in theirs, so MSEs
    in the paper's units need this per-dimension factor (squared), e.g. through
    ``lode_utils.evaluate(..., units_scale=paper_scale(ds))``.
    """
    low, high = np.asarray(ds.params["data_min"]), np.asarray(ds.params["data_max"])
    if np.any(high <= 0):
        raise ValueError("the paper's normalisation divides by each dimension's maximum, which must be positive here.")
    return (high - low) / high


def naive_mse(ds: SeriesDataset, kind: str, fractions=FRACTIONS, n_test: int = 200, *, scale=None) -> list[float]:
    """MSE of a model-free predictor on :func:`test_tasks`: per dimension, linear interpolation of
    the shown points, held constant before the first and after the last (so extrapolation repeats
    the last observed value). ``scale``: optional ``[14]`` factors (e.g. :func:`paper_scale`)."""
    from .metrics import masked_mse

    out = []
    for t in test_tasks(ds, kind, fractions, n_test):
        times, x, m = t.t.numpy(), t.x.numpy(), t.mask.numpy() > 0
        pred = np.empty_like(x)
        for b in range(x.shape[0]):
            for d in range(x.shape[2]):
                seen = m[b, :, d]
                pred[b, :, d] = np.interp(times, times[seen], x[b, seen, d])
        k = torch.ones(x.shape[2], dtype=t.x.dtype) if scale is None else torch.as_tensor(scale, dtype=t.x.dtype)
        out.append(masked_mse(torch.as_tensor(pred) * k, t.x * k, t.targets))
    return out


_WORKER_DATA: dict = {}


def train_and_score(job: dict) -> dict:
    """Train one model on one task (mixed fractions) and score it at every fraction; one job of :func:`table3`.

    ``job`` (plain data, so that it can run in a worker process): ``model``, ``task``,
    ``n_trajectories``, ``iterations``, ``batch_size``, ``lr``, ``seed``, ``fractions``,
    ``n_test`` (test series scored), ``eval_samples``, ``model_kwargs``, ``cache_dir``,
    ``threads``, optionally ``device`` (default the CPU; see :func:`~lode_utils.fit`). Returns the
    job with ``mse`` (one per fraction, in our normalised units), ``mse_paper_norm`` (the same
    errors in the paper code's normalisation, :func:`paper_scale`), ``train_seconds`` (CPU) and
    ``train_wall_seconds``, ``final_loss`` and the trained ``state_dict`` (on the CPU).
    """
    import time

    from .metrics import evaluate
    from .train import fit

    torch.set_num_threads(int(job.get("threads", 1)))
    key = (job["n_trajectories"], job.get("cache_dir"))
    if key not in _WORKER_DATA:  # a worker process builds the data set once for all its jobs
        _WORKER_DATA.clear()
        _WORKER_DATA[key] = dataset(job["n_trajectories"], cache_dir=job.get("cache_dir"))
    ds = _WORKER_DATA[key]
    torch.manual_seed(job["seed"])
    model = build_model(job["model"], **job.get("model_kwargs", {}))
    c0, w0 = time.process_time(), time.perf_counter()
    hist = fit(
        model,
        ds,
        task=mixed_task(job["task"], job["fractions"]),
        iterations=job["iterations"],
        batch_size=job["batch_size"],
        lr=job["lr"],
        seed=job["seed"],
        test=None,
        device=job.get("device"),
    )
    seconds, wall = time.process_time() - c0, time.perf_counter() - w0
    mse, mse_paper = [], []
    for t in test_tasks(ds, job["task"], job["fractions"], job["n_test"]):
        scores = evaluate(model, t, n_samples=job["eval_samples"], generator=torch.Generator().manual_seed(0), units_scale=paper_scale(ds))
        mse.append(scores["mse_model_units"])
        mse_paper.append(scores["mse"])
    state = {k: v.cpu() for k, v in model.state_dict().items()}
    return dict(job, mse=mse, mse_paper_norm=mse_paper, train_seconds=seconds, train_wall_seconds=wall, final_loss=hist.loss[-1], state_dict=state)


def table3(
    models=tuple(MODEL_NAMES),
    tasks=("interpolation", "extrapolation"),
    *,
    n_trajectories: int = 1000,
    iterations: int = 300,
    batch_size: int = 50,
    lr: float = 1e-2,
    seed: int = 0,
    fractions=FRACTIONS,
    n_test: int = 200,
    eval_samples: int = 10,
    model_kwargs: dict | None = None,
    per_fraction: bool = False,
    workers: int = 1,
    cache_dir=None,
    device=None,
) -> list[dict]:
    """Table 3 at any size: each model trained once per task on mixed observed fractions, scored per fraction.

    One job per (model, task) (:func:`train_and_score`), or with ``per_fraction`` one per
    (model, task, fraction) trained and scored at that fraction only, as the paper; run in ``workers`` processes at a time
    (one torch thread each; spawned, so results do not depend on ``workers``). The data set is
    simulated (or read from the cache) once here first. ``device``: where the models train
    (checked here, before any job starts; default the CPU). Returns the finished jobs in order, each
    with its ``mse`` list and trained ``state_dict`` (rebuild with :func:`build_model`).

    Deviation from the paper, said where the table is shown: the paper trains a separate model
    for every fraction and scores it on 10 000 × 20 % test series after many epochs.
    """
    if device is not None:
        device = str(resolve_device(device))
    dataset(n_trajectories, cache_dir=cache_dir)  # simulate once, before any worker needs it
    jobs = [
        dict(
            model=m,
            task=t,
            n_trajectories=n_trajectories,
            iterations=iterations,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
            fractions=fr,
            n_test=n_test,
            eval_samples=eval_samples,
            model_kwargs=dict(model_kwargs or {}),
            cache_dir=None if cache_dir is None else str(cache_dir),
            threads=1,
            device=device,
        )
        for t in tasks
        for m in models
        for fr in ([(f,) for f in fractions] if per_fraction else [tuple(fractions)])
    ]
    if workers <= 1:
        return [train_and_score(j) for j in jobs]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(train_and_score, jobs))
