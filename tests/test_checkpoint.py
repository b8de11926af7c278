"""lode_utils.checkpoint: save / load round trips, and files that must be refused (chapter 6)."""

from __future__ import annotations

import dataclasses
import os
import pickle
import random
import sys

import pytest
import torch

import lode_utils
from lode_utils import LatentODE, RecurrentBaseline, checkpoint
from lode_utils.data import Scaling

SCALING = Scaling(t_offset=3.0, t_scale=2.5, mean=[0.5, -1.0], std=[2.0, 0.1])


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def trained_like(model):
    """Perturb every parameter and buffer so a fresh model would not match by chance."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen(p.numel())))
    model.scaling = SCALING
    return model


def lode(**kw):
    torch.manual_seed(0)
    cfg = dict(obs_dim=2, latent_dim=3, enc_hidden=8, ode_hidden=8, step_size=0.1, learn_std=True)
    cfg.update(kw)
    return trained_like(LatentODE(**cfg))


class Payload:
    """Pickles to a call of ``os.system``: loading it with plain pickle would run the command."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


# ----------------------------------------------------------------------------------------------
# round trips
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("encoder", ["gru", "odernn"])
def test_latent_ode_round_trip_predicts_exactly_the_same(tmp_path, batch, encoder):
    model = lode(encoder=encoder)
    path = tmp_path / "model.pt"
    checkpoint.save(model, path, extra={"note": "unit test", "rmse": 0.25, "curve": torch.arange(3.0)})
    loaded = lode_utils.load(path)
    assert type(loaded) is LatentODE and loaded is not model
    assert loaded.config == model.config
    assert loaded.scaling == SCALING and loaded.scaling is not SCALING
    assert not loaded.training
    assert loaded.checkpoint_info["versions"] == checkpoint.versions()
    assert loaded.checkpoint_info["extra"]["note"] == "unit test"
    assert torch.equal(loaded.checkpoint_info["extra"]["curve"], torch.arange(3.0))
    for (k1, v1), (k2, v2) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k1 == k2 and torch.equal(v1, v2), k1
    model.eval()
    tq = [-0.3, 0.2, 0.45, 1.3]
    a = model.predict(batch, tq, use_mean=True, include_noise=False)
    b = loaded.predict(batch, tq, use_mean=True, include_noise=False)
    assert torch.equal(a.mean, b.mean)
    a = model.predict(batch, tq, n_samples=20, generator=gen(4), original_units=True)
    b = loaded.predict(batch, tq, n_samples=20, generator=gen(4), original_units=True)
    assert torch.equal(a.samples, b.samples) and torch.equal(a.t, b.t)


def test_baseline_round_trip(tmp_path, batch):
    torch.manual_seed(0)
    model = trained_like(RecurrentBaseline(obs_dim=2, kind="odernn", hidden=8, ode_hidden=8))
    model.scaling = None
    path = tmp_path / "rnn.pt"
    lode_utils.save(model, path)
    loaded = lode_utils.load(path)
    assert type(loaded) is RecurrentBaseline and loaded.config == model.config and loaded.scaling is None
    model.eval()
    assert torch.equal(loaded(batch), model(batch))


def test_load_into_an_existing_model(tmp_path, batch):
    model = lode()
    path = tmp_path / "m.pt"
    checkpoint.save(model, path)
    target = LatentODE(dataclasses.replace(model.config))
    out = checkpoint.load(path, model=target)
    assert out is target
    mu, _ = model.encode(batch)
    mu2, _ = target.encode(batch)
    assert torch.equal(mu, mu2)


def test_load_into_a_model_of_another_size_names_the_parameter(tmp_path):
    path = tmp_path / "m.pt"
    checkpoint.save(lode(), path)
    with pytest.raises(ValueError, match=r"shape mismatch: .*encoder\.gru\.weight_hh_l0 \(24, 8\) in file vs \(48, 16\) in model"):
        checkpoint.load(path, model=lode(enc_hidden=16))
    with pytest.raises(ValueError, match=r"missing in file: \['decoder\.net\.2\.bias', 'decoder\.net\.2\.weight'\]"):
        checkpoint.load(path, model=lode(dec_layers=1))  # a hidden layer in the decoder: more parameters
    with pytest.raises(ValueError, match=r"not in model: \['decoder\.net\.2\.bias'"):
        path2 = tmp_path / "deep.pt"
        checkpoint.save(lode(dec_layers=1), path2)
        checkpoint.load(path2, model=lode())
    with pytest.raises(ValueError, match="checkpoint holds a LatentODE, not a RecurrentBaseline"):
        checkpoint.load(path, model=RecurrentBaseline(obs_dim=2))


def test_save_rejects_other_objects(tmp_path):
    with pytest.raises(ValueError, match="save\\(\\) supports"):
        checkpoint.save(torch.nn.Linear(2, 2), tmp_path / "x.pt")


# ----------------------------------------------------------------------------------------------
# files that must be refused without running anything
# ----------------------------------------------------------------------------------------------
def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="no checkpoint at"):
        checkpoint.load(tmp_path / "nope.pt")


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.02])
def test_truncated_file(tmp_path, keep):
    path = tmp_path / "m.pt"
    checkpoint.save(lode(), path)
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep)])
    with pytest.raises(ValueError, match="is not a readable lode_utils checkpoint"):
        checkpoint.load(path)


@pytest.mark.parametrize("prefix", [b"", b"PK\x03\x04", b"\x80\x02"], ids=["raw", "zip-magic", "pickle-magic"])
def test_garbage_bytes(tmp_path, prefix):
    """Seeded random files (plain, or behind a zip or pickle header) always give the ValueError;
    the unpickler fails on them in many ways (a CI run once met an IndexError from os.urandom)."""
    path = tmp_path / "m.pt"
    for seed in range(100):
        path.write_bytes(prefix + random.Random(seed).randbytes(4096))
        with pytest.raises(ValueError, match="is not a readable lode_utils checkpoint"):
            checkpoint.load(path)


@pytest.mark.parametrize("where", [0.1, 0.5, 0.9])
def test_a_flipped_byte_in_the_weights_is_caught(tmp_path, where):
    """torch.load reads a weight record with one bit flipped without complaint; the stored SHA-256 catches it."""
    model = lode()
    path = tmp_path / "m.pt"
    checkpoint.save(model, path)
    weight = model.state_dict()["encoder.gru.weight_ih_l0"].numpy().tobytes()
    raw = bytearray(path.read_bytes())
    at = raw.find(weight)
    assert at > 0 and raw.count(weight) == 1  # tensors are stored uncompressed, so the bytes are there as they are
    raw[at + int(len(weight) * where)] ^= 0x10
    path.write_bytes(bytes(raw))
    flipped = torch.load(path, weights_only=True)["state_dict"]["encoder.gru.weight_ih_l0"]
    assert not torch.equal(flipped, model.state_dict()["encoder.gru.weight_ih_l0"])  # the damage is really there
    with pytest.raises(ValueError, match="do not match the SHA-256"):
        checkpoint.load(path)


@pytest.mark.parametrize("edit", ["weight", "config", "scaling"])
def test_edited_contents_with_the_old_checksum_are_refused(tmp_path, edit):
    path = tmp_path / "m.pt"
    checkpoint.save(lode(), path)
    payload = torch.load(path, weights_only=True)
    if edit == "weight":
        payload["state_dict"]["decoder.log_std"][0] += 1e-6
    elif edit == "config":
        payload["config"]["obs_std"] = 0.5
    else:
        payload["scaling"]["t_scale"] = 1.0
    torch.save(payload, path)
    with pytest.raises(ValueError, match="do not match the SHA-256"):
        checkpoint.load(path)


def test_a_checkpoint_saved_before_checksums_still_loads(tmp_path, batch):
    model = lode()
    path = tmp_path / "m.pt"
    checkpoint.save(model, path)
    payload = torch.load(path, weights_only=True)
    del payload["sha256"]
    torch.save(payload, path)
    again = checkpoint.load(path)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))


def test_other_plain_data_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "m.pt"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(ValueError, match="is not a lode_utils checkpoint"):
        checkpoint.load(path)
    torch.save([1, 2, 3], path)
    with pytest.raises(ValueError, match="is not a lode_utils checkpoint"):
        checkpoint.load(path)


@pytest.mark.parametrize(
    "edit",
    [
        lambda p: p.pop("kind"),
        lambda p: p.pop("state_dict"),
        lambda p: p.pop("config"),
        lambda p: p.update(kind=["LatentODE"]),
        lambda p: p.update(state_dict=[1, 2]),
        lambda p: p.update(state_dict={"flow.func.net.0.weight": "not a tensor"}),
        lambda p: p.update(config="obs_dim=2"),
        lambda p: p.update(config={"obs_dim": 2, "no_such_option": 1}),
        lambda p: p.update(config={"obs_dim": 2, "encoder": "lstm"}),
        lambda p: p.update(scaling={"t_offset": 0.0, "bogus": 1.0}),
        lambda p: p.update(scaling=[0.0, 1.0]),
        lambda p: p.update(kind="Transformer"),
    ],
    ids=[
        "no-kind",
        "no-state",
        "no-config",
        "kind-list",
        "state-list",
        "state-str",
        "config-str",
        "config-key",
        "config-value",
        "scaling-key",
        "scaling-list",
        "kind-unknown",
    ],
)
def test_tampered_contents_raise_value_error(tmp_path, edit):
    """A well-formed file whose plain-data contents were edited is refused with a ValueError."""
    path = tmp_path / "m.pt"
    checkpoint.save(lode(), path)
    payload = torch.load(path, weights_only=True)
    edit(payload)
    torch.save(payload, path)
    with pytest.raises(ValueError, match="checkpoint"):
        checkpoint.load(path)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
@pytest.mark.parametrize("writer", ["torch.save", "pickle", "inside_a_checkpoint"])
def test_code_in_a_file_is_never_run(tmp_path, writer):
    marker = tmp_path / "pwned"
    command = f"{sys.executable} -c \"open({str(marker)!r}, 'w').close()\""
    path = tmp_path / "evil.pt"
    if writer == "torch.save":
        torch.save(Payload(command), path)
    elif writer == "pickle":
        path.write_bytes(pickle.dumps(Payload(command)))
    else:  # a real checkpoint with the payload hidden in `extra`
        model = lode()
        payload = {
            "format": checkpoint.FORMAT,
            "kind": "LatentODE",
            "config": dataclasses.asdict(model.config),
            "scaling": None,
            "state_dict": model.state_dict(),
            "versions": checkpoint.versions(),
            "extra": {"hook": Payload(command)},
        }
        torch.save(payload, path)
    with pytest.raises(ValueError, match="is not a readable lode_utils checkpoint"):
        checkpoint.load(path)
    assert not marker.exists()
    # control: the payload is live — an unrestricted load does run it
    if writer == "pickle":
        pickle.loads(path.read_bytes())  # deliberately unsafe: our own file
    else:
        torch.load(path, weights_only=False)
    assert marker.exists()


def test_load_uses_weights_only(tmp_path, monkeypatch):
    path = tmp_path / "m.pt"
    checkpoint.save(lode(), path)
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    checkpoint.load(path)
    assert calls and all(c.get("weights_only") is True for c in calls)


def test_save_is_atomic(tmp_path):
    path = tmp_path / "m.pt"
    checkpoint.save(lode(), path)
    assert path.exists() and not (tmp_path / "m.pt.tmp").exists()
