"""lode_utils.devices and ``device=``: checking a requested device, and models that follow theirs.

The CPU-only tests run everywhere. The ``cuda`` tests run only where torch sees a GPU (none of
this project's CI machines has one); they train the same tiny problem on both devices and
compare.
"""

from __future__ import annotations

import pytest
import torch

from lode_utils import LatentODE, RecurrentBaseline, evaluate, fit, hopper, make_task
from lode_utils.devices import module_device, resolve_device
from lode_utils.sampling import random_tensor

HAS_CUDA = torch.cuda.is_available()
cuda_only = pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU")
cpu_only_build = pytest.mark.skipif(HAS_CUDA, reason="checks the error on a machine without a CUDA GPU")


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def small_lode(seed: int = 0) -> LatentODE:
    torch.manual_seed(seed)
    return LatentODE(obs_dim=1, latent_dim=4, enc_hidden=16, ode_hidden=16, dec_hidden=16, step_size=0.1, obs_std=0.1)


def small_baseline(seed: int = 0) -> RecurrentBaseline:
    torch.manual_seed(seed)
    return RecurrentBaseline(obs_dim=1, kind="odernn", hidden=16, ode_hidden=16, max_step=0.1)


# ----------------------------------------------------------------------------------------------
# resolve_device
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", ["cpu", torch.device("cpu")])
def test_cpu_resolves(spec):
    assert resolve_device(spec) == torch.device("cpu")


@pytest.mark.parametrize(("spec", "match"), [("gpu", "not a device name"), ("", "not a device name"), (3.5, "not a device name"), ("meta", "not 'meta'")])
def test_bad_device_names_raise_value_error(spec, match):
    with pytest.raises(ValueError, match=match):
        resolve_device(spec)


@cpu_only_build
@pytest.mark.parametrize("spec", ["cuda", "cuda:0", torch.device("cuda")])
def test_cuda_without_a_gpu_says_so(spec):
    with pytest.raises(ValueError, match=r"sees no CUDA GPU.*use device='cpu'"):
        resolve_device(spec)


@cpu_only_build
def test_fit_on_a_missing_gpu_fails_before_training(sine_dataset):
    model = small_lode()
    before = [p.clone() for p in model.parameters()]
    with pytest.raises(ValueError, match="sees no CUDA GPU"):
        fit(model, sine_dataset, iterations=2, device="cuda")
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    with pytest.raises(ValueError, match="sees no CUDA GPU"):
        hopper.table3(n_trajectories=4, iterations=1, device="cuda")  # checked before any simulation


@cuda_only
def test_gpu_index_out_of_range():
    with pytest.raises(ValueError, match="numbered from 0"):
        resolve_device(f"cuda:{torch.cuda.device_count()}")


# ----------------------------------------------------------------------------------------------
# random draws do not depend on the device
# ----------------------------------------------------------------------------------------------
def test_random_tensor_draws_on_the_generators_device():
    like = torch.zeros(3, dtype=torch.float64)
    assert torch.equal(random_tensor((4, 3), like=like, generator=gen(5)), torch.randn((4, 3), generator=gen(5), dtype=torch.float64))
    u = random_tensor((2, 5), like=like, generator=gen(5), distribution="uniform", dtype=torch.float32)
    assert u.dtype == torch.float32 and torch.equal(u, torch.rand((2, 5), generator=gen(5)))
    with pytest.raises(ValueError, match="'normal' or 'uniform'"):
        random_tensor((2,), like=like, distribution="cauchy")


# ----------------------------------------------------------------------------------------------
# models follow their device
# ----------------------------------------------------------------------------------------------
def test_models_report_their_device_and_batches_stay_put(sine_dataset):
    batch = sine_dataset.batch(sine_dataset.train_idx[:4])
    for model in (small_lode(), small_baseline()):
        assert model.device == torch.device("cpu") == module_device(model)
        assert batch.on(model.device) is batch  # no copy when it is there already
    assert module_device(torch.nn.ReLU()) == torch.device("cpu")


def test_fit_on_cpu_explicitly_is_the_default(sine_dataset):
    runs = []
    for device in (None, "cpu"):
        model = small_lode()
        hist = fit(model, sine_dataset, iterations=5, batch_size=8, seed=3, device=device)
        runs.append((hist.loss, [p.detach().clone() for p in model.parameters()]))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))


@cuda_only
@pytest.mark.parametrize("make", [small_lode, small_baseline], ids=["latent_ode", "odernn"])
def test_training_on_a_gpu_matches_the_cpu(sine_dataset, make):
    """Same seed on both devices: same minibatches, masks and ε (drawn on the CPU), so the runs
    differ only by floating-point arithmetic over a few steps."""
    test = make_task("interpolation", sine_dataset.test_batch(), observed_fraction=0.5, score="held_out", generator=gen(1))
    out = {}
    for device in ("cpu", "cuda"):
        model = make()
        hist = fit(model, sine_dataset, iterations=5, batch_size=8, seed=3, device=device, test=test)
        assert model.device.type == device
        pred = model.predict(test, n_samples=4, generator=gen(0))
        assert pred.mean.device.type == device
        out[device] = (hist.loss, evaluate(model, test, n_samples=4, generator=gen(0))["mse"], {k: v.cpu() for k, v in model.state_dict().items()})
    assert out["cpu"][0] == pytest.approx(out["cuda"][0], rel=1e-3, abs=1e-4)
    assert out["cpu"][1] == pytest.approx(out["cuda"][1], rel=1e-3, abs=1e-5)
    for k, v in out["cpu"][2].items():
        torch.testing.assert_close(v, out["cuda"][2][k], rtol=1e-3, atol=1e-4)
