"""lode_utils.hopper: the MuJoCo Hopper set of Rubanova et al. (2019) — physics, cache, data set.

Tests that simulate need dm_control and skip without it; the checks of the install message
and of argument validation run everywhere. Every test caches under its own ``tmp_path``.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from lode_utils import hopper


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path, monkeypatch):
    """Never touch ~/.cache: the default cache directory is this test's own."""
    monkeypatch.setenv("LODE_UTILS_CACHE", str(tmp_path / "cache"))


def needs_dm_control():
    pytest.importorskip("dm_control")


def sha256(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def cached_files(directory) -> list:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


# ----------------------------------------------------------------------------------------------
# The physics
# ----------------------------------------------------------------------------------------------
def test_simulate_shape_dtype_and_finite():
    needs_dm_control()
    x = hopper.simulate(5)
    assert x.shape == (5, 200, 14) and x.dtype == np.float64
    assert np.isfinite(x).all()
    assert hopper.simulate(2, n_steps=7).shape == (2, 7, 14)


def test_simulate_is_dm_control_stepped_directly():
    """The reference loop of mujoco_physics.py, with physics.step(), gives the same numbers bit for bit."""
    needs_dm_control()
    suite, _, _ = hopper._import_physics()  # only the import (with the headless-GLFW warning silenced)
    physics = suite.load("hopper", "stand").physics
    rng = np.random.RandomState(123)
    expected = np.zeros((3, 200, 14))
    for i in range(3):
        with physics.reset_context():
            physics.data.qpos[:2] = rng.uniform(0, 0.5, size=2)
            physics.data.qpos[2:] = rng.uniform(-2, 2, size=physics.data.qpos[2:].shape)
            physics.data.qvel[:] = rng.uniform(-5, 5, size=physics.data.qvel.shape)
        for t in range(200):
            expected[i, t, :7] = physics.data.qpos
            expected[i, t, 7:] = physics.data.qvel
            physics.step()
    np.testing.assert_array_equal(hopper.simulate(3), expected)
    assert physics.model.opt.timestep == hopper.DT == 1 / 200


def test_simulate_leaves_the_global_numpy_stream_alone():
    needs_dm_control()
    before = np.random.get_state()  # noqa: NPY002 (the legacy global stream is what the reference code seeds)
    hopper.simulate(1, n_steps=2)
    after = np.random.get_state()  # noqa: NPY002
    np.testing.assert_array_equal(after[1], before[1])
    assert after[2:] == before[2:]


def test_first_trajectories_do_not_depend_on_how_many_follow():
    needs_dm_control()
    np.testing.assert_array_equal(hopper.simulate(8, n_steps=50)[:3], hopper.simulate(3, n_steps=50))


def test_state_names_and_units_come_from_the_model():
    needs_dm_control()
    suite, mujoco, _ = hopper._import_physics()
    model = suite.load("hopper", "stand").physics.model
    assert model.njnt == 7 and model.nq == model.nv == 7
    names = [model.id2name(j, "joint") for j in range(model.njnt)]
    assert list(model.jnt_qposadr) == list(model.jnt_dofadr) == list(range(7))  # one coordinate per joint, in joint order
    assert hopper.STATE_NAMES == (*names, *(f"{n} velocity" for n in names))
    assert names == ["rootx", "rootz", "rooty", "waist", "hip", "knee", "ankle"]
    slide = [int(t) == int(mujoco.mjtJoint.mjJNT_SLIDE) for t in model.jnt_type]
    hinge = [int(t) == int(mujoco.mjtJoint.mjJNT_HINGE) for t in model.jnt_type]
    assert all(s or h for s, h in zip(slide, hinge))
    assert hopper.STATE_UNITS == tuple(["m" if s else "rad" for s in slide] + ["m/s" if s else "rad/s" for s in slide])


def test_names_and_units_line_up():
    assert len(hopper.STATE_NAMES) == len(hopper.STATE_UNITS) == 14


# ----------------------------------------------------------------------------------------------
# Determinism and the cache
# ----------------------------------------------------------------------------------------------
def test_same_seed_same_bytes_other_seed_other_trajectories(tmp_path):
    needs_dm_control()
    a = hopper.trajectories(6, cache_dir=tmp_path / "a")
    b = hopper.trajectories(6, cache_dir=tmp_path / "b")
    assert sha256(a) == sha256(b)
    c = hopper.trajectories(6, seed=124, cache_dir=tmp_path / "c")
    assert not np.allclose(a, c)
    assert not np.allclose(a[:, 0], c[:, 0])


def test_cache_is_written_once_and_read_back(tmp_path, monkeypatch):
    needs_dm_control()
    first = hopper.trajectories(5)
    directory = tmp_path / "cache"
    files = cached_files(directory)
    assert len(files) == 1 and files[0].startswith("hopper_seed123_steps200_n5_mujoco") and files[0].endswith(".npy")
    assert "dmcontrol" in files[0]

    def no_simulation(*args, **kwargs):
        raise AssertionError("simulated although the cache holds this set")

    monkeypatch.setattr(hopper, "simulate", no_simulation)
    again = hopper.trajectories(5)
    assert sha256(again) == sha256(first)
    assert cached_files(directory) == files  # nothing new, no temporary files left behind


def test_smaller_set_is_sliced_from_a_larger_cached_one(tmp_path, monkeypatch):
    needs_dm_control()
    direct = hopper.simulate(4)
    hopper.trajectories(12, cache_dir=tmp_path / "c")
    monkeypatch.setattr(hopper, "simulate", lambda *a, **k: pytest.fail("simulated instead of slicing the cached set"))
    sliced = hopper.trajectories(4, cache_dir=tmp_path / "c")
    np.testing.assert_array_equal(sliced, direct)
    assert sliced.flags.writeable and sliced.flags.owndata  # a copy, not a view of the memory-mapped file
    assert cached_files(tmp_path / "c") == [p for p in cached_files(tmp_path / "c") if "_n12_" in p]


def test_other_seed_or_steps_do_not_hit_the_cache(tmp_path):
    needs_dm_control()
    hopper.trajectories(3, n_steps=20)
    hopper.trajectories(3, n_steps=30)
    hopper.trajectories(3, seed=5, n_steps=20)
    assert len(cached_files(tmp_path / "cache")) == 3


def test_use_cache_false_neither_reads_nor_writes(tmp_path):
    needs_dm_control()
    x = hopper.trajectories(2, n_steps=10, use_cache=False)
    assert x.shape == (2, 10, 14)
    assert cached_files(tmp_path / "cache") == []


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong shape", "wrong dtype", "nan"])
def test_damaged_cache_file_gives_a_clear_error(tmp_path, damage):
    needs_dm_control()
    good = hopper.trajectories(3, n_steps=10)
    (path,) = (tmp_path / "cache").iterdir()
    if damage == "garbage":
        path.write_bytes(b"not an array at all" * 10)
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:300])
    elif damage == "wrong shape":
        np.save(path, good[:, :5])
    elif damage == "wrong dtype":
        np.save(path, good.astype(np.float32))
    else:
        bad = good.copy()
        bad[1, 2, 3] = np.nan
        np.save(path, bad)
    with pytest.raises(ValueError, match="delete it") as info:
        hopper.trajectories(3, n_steps=10)
    assert str(path) in str(info.value)


def test_cache_hit_needs_no_dm_control(tmp_path, monkeypatch):
    needs_dm_control()
    stored = hopper.trajectories(3, n_steps=10)
    monkeypatch.setitem(sys.modules, "dm_control", None)
    monkeypatch.setattr(hopper, "_physics_versions", lambda: None)  # as if dm_control were not installed at all
    np.testing.assert_array_equal(hopper.trajectories(2, n_steps=10), stored[:2])


def test_default_cache_directory(monkeypatch, tmp_path):
    assert hopper.cache_directory() == tmp_path / "cache"
    assert hopper.cache_directory(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv("LODE_UTILS_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert hopper.cache_directory() == tmp_path / "home" / ".cache" / "lode_utils"


# ----------------------------------------------------------------------------------------------
# Without dm_control, and bad arguments
# ----------------------------------------------------------------------------------------------
def test_missing_dm_control_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "dm_control", None)  # import dm_control now fails, installed or not
    with pytest.raises(ImportError, match=r"lode-utils\[hopper\]") as info:
        hopper.simulate(1)
    assert "environment.yml" in str(info.value)
    with pytest.raises(ImportError, match=r"lode-utils\[hopper\]"):
        hopper.trajectories(1)  # a cache miss simulates
    with pytest.raises(ImportError, match=r"lode-utils\[hopper\]"):
        hopper.dataset(2)
    assert cached_files(tmp_path / "cache") == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_trajectories": 0}, "n_trajectories must be >= 1"),
        ({"n_trajectories": 2.5}, "n_trajectories must be an integer"),
        ({"n_trajectories": True}, "n_trajectories must be an integer"),
        ({"n_trajectories": 1, "seed": -1}, "seed must be >= 0"),
        ({"n_trajectories": 1, "seed": 2**32}, "seed must be below 2"),
        ({"n_trajectories": 1, "n_steps": 0}, "n_steps must be >= 1"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        hopper.simulate(**kwargs)
    with pytest.raises(ValueError, match=message):
        hopper.trajectories(**kwargs)


def test_no_glfw_warning_without_a_display(tmp_path):
    """Importing dm_control on a headless machine makes GLFW warn; the simulation silences exactly that."""
    needs_dm_control()
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MUJOCO_GL")}
    code = "import warnings; warnings.simplefilter('always'); from lode_utils import hopper; hopper.simulate(1, n_steps=2); print('ok')"
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"
    assert "GLFW" not in run.stderr and "DISPLAY" not in run.stderr, run.stderr


# ----------------------------------------------------------------------------------------------
# The data set
# ----------------------------------------------------------------------------------------------
def test_dataset_normalised_timed_and_split():
    needs_dm_control()
    ds = hopper.dataset(20)
    assert ds.name == "hopper" and len(ds) == 20 and ds.dim == 14
    assert ds.train_idx.size == 16 and ds.test_idx.size == 4
    assert set(ds.train_idx.tolist()).isdisjoint(ds.test_idx.tolist())
    assert sorted([*ds.train_idx.tolist(), *ds.test_idx.tolist()]) == list(range(20))

    values = np.stack([v for _, v, _ in ds.series])  # [20, 200, 14]
    assert values.shape == (20, 200, 14)
    np.testing.assert_array_equal(values.min(axis=(0, 1)), np.zeros(14))  # min 0 and max 1 attained in every dimension
    np.testing.assert_array_equal(values.max(axis=(0, 1)), np.ones(14))
    assert all((m == 1).all() for _, _, m in ds.series)  # every dimension observed at every step

    steps = np.arange(200) / 200
    assert all(np.array_equal(t, steps) for t, _, _ in ds.series)
    batch = ds.batch(dtype=torch.float64)  # model units
    np.testing.assert_array_equal(batch.t.numpy(), steps)
    assert batch.t[0] == 0 and batch.t[-1] == 0.995
    np.testing.assert_array_equal(batch.x.numpy(), values)  # normalize=False: no second scaling


def test_dataset_maps_back_to_physical_units():
    needs_dm_control()
    ds = hopper.dataset(10)
    raw = hopper.trajectories(10)
    np.testing.assert_array_equal(ds.params["data_min"], raw.min(axis=(0, 1)))
    np.testing.assert_array_equal(ds.params["data_max"], raw.max(axis=(0, 1)))
    assert ds.params["state_names"] == list(hopper.STATE_NAMES) and ds.params["seed"] == 123
    assert "mujoco_physics.py" in ds.params["recipe"]
    normalised = np.stack([v for _, v, _ in ds.series])
    np.testing.assert_allclose(hopper.to_physical(normalised, ds), raw, rtol=1e-12, atol=1e-12)
    back = hopper.to_physical(torch.as_tensor(normalised), ds.params)
    assert isinstance(back, torch.Tensor)
    np.testing.assert_allclose(back.numpy(), raw, rtol=1e-12, atol=1e-12)


def test_dataset_split_follows_split_seed_and_test_fraction():
    needs_dm_control()
    a, b = hopper.dataset(10, split_seed=0), hopper.dataset(10, split_seed=1)
    assert not np.array_equal(a.test_idx, b.test_idx)
    np.testing.assert_array_equal(a.test_idx, hopper.dataset(10, split_seed=0).test_idx)
    assert hopper.dataset(10, test_fraction=0.5).test_idx.size == 5
