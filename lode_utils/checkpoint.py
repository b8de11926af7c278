"""Checkpoints: weights + config + data scaling + library versions, loaded without running code.

Explained in chapter 6. A checkpoint is a ``torch.save`` of plain data only (tensors, dicts,
lists, strings, numbers), read back with ``torch.load(..., weights_only=True)``. It also stores
a SHA-256 of the model's kind, config, scaling and weights, checked when it is read, so a file
corrupted on disk or edited by hand is refused instead of loading wrong weights silently.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform

import numpy as np
import torch
import torchdiffeq

from .baselines import BaselineConfig, RecurrentBaseline
from .data import Scaling
from .model import LatentODE, LatentODEConfig

__all__ = ["load", "save", "versions"]

FORMAT = "lode_utils-checkpoint-1"
_KINDS = {"LatentODE": (LatentODE, LatentODEConfig), "RecurrentBaseline": (RecurrentBaseline, BaselineConfig)}
# what save() writes: field -> accepted types (a tampered file may hold anything else)
_FIELDS = {"kind": str, "config": dict, "scaling": (dict, type(None)), "state_dict": dict, "versions": dict, "extra": dict}


def versions() -> dict:
    """Versions of the libraries a checkpoint depends on."""
    from . import __version__

    return {
        "lode_utils": __version__,
        "torch": str(torch.__version__),
        "torchdiffeq": torchdiffeq.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def _digest(payload: dict) -> str:
    """SHA-256 of what the loaded model depends on: kind, config, scaling, and each weight's name, dtype, shape and bytes."""
    h = hashlib.sha256(json.dumps({k: payload[k] for k in ("kind", "config", "scaling")}, sort_keys=True, default=repr).encode())
    for name in sorted(payload["state_dict"]):
        t = payload["state_dict"][name].detach().cpu().contiguous()
        h.update(f"\0{name}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save(model, path, *, extra: dict | None = None) -> None:
    """Write ``model`` (a :class:`~lode_utils.LatentODE` or :class:`~lode_utils.baselines.RecurrentBaseline`) to ``path``.

    Stores the state dict, ``model.config`` and ``model.scaling`` as plain data, the library
    versions, ``extra`` (plain data only: numbers, strings, lists, dicts, tensors) and the
    SHA-256 that :func:`load` checks.
    """
    kind = type(model).__name__
    if kind not in _KINDS:
        raise ValueError(f"save() supports {sorted(_KINDS)}, got {kind}.")
    payload = {
        "format": FORMAT,
        "kind": kind,
        "config": dataclasses.asdict(model.config),
        "scaling": None if model.scaling is None else model.scaling.to_dict(),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "versions": versions(),
        "extra": extra or {},
    }
    payload["sha256"] = _digest(payload)
    tmp = f"{os.fspath(path)}.tmp"
    torch.save(payload, tmp)
    os.replace(tmp, path)


def _read(path) -> dict:
    if not os.path.exists(path):
        raise ValueError(f"no checkpoint at {os.fspath(path)!r}; check the path or train and save() first.")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # arbitrary bytes make the unpickler fail in arbitrary ways (IndexError, struct.error, ...)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(
            f"{os.fspath(path)!r} is not a readable lode_utils checkpoint (truncated, tampered with, or holding code, which is refused): {first}"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(
            f"{os.fspath(path)!r} is not a lode_utils checkpoint (format {payload.get('format') if isinstance(payload, dict) else type(payload).__name__!r}); save models with lode_utils.save()."
        )
    bad = [k for k, types in _FIELDS.items() if not isinstance(payload.get(k), types)]
    if not bad and not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in payload["state_dict"].items()):
        bad = ["state_dict"]
    if bad:
        raise ValueError(f"{os.fspath(path)!r} is a damaged lode_utils checkpoint: {bad} missing or of the wrong type (tampered with?).")
    if "sha256" in payload and payload["sha256"] != _digest(payload):  # files saved before checksums have none
        raise ValueError(
            f"{os.fspath(path)!r} is a damaged lode_utils checkpoint: its weights, config or scaling do not match the SHA-256 stored "
            "when it was saved (corrupted on disk or edited); save it again from the trained model."
        )
    return payload


def load(path, model=None):
    """Read a checkpoint written by :func:`save`.

    Args:
        path: the file.
        model: optionally an existing model to load the weights into; its config must fit.

    Returns:
        The model (built from the stored config when ``model`` is None), in eval mode, with
        ``scaling`` restored and ``checkpoint_info`` (versions, extra) attached.

    Raises:
        ValueError: the file is missing, truncated, tampered with (checksum) or not a
            checkpoint, or its weights do not fit ``model`` (names the mismatched parameters).
    """
    payload = _read(path)
    cls, cfg_cls = _KINDS.get(payload["kind"], (None, None))
    if cls is None:
        raise ValueError(f"checkpoint holds an unknown model kind {payload['kind']!r}.")
    try:
        config = cfg_cls(**payload["config"])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"checkpoint config does not match this lode_utils version ({exc}); saved with {payload.get('versions')}.") from None
    if model is None:
        model = cls(config)
    elif not isinstance(model, cls):
        raise ValueError(f"checkpoint holds a {payload['kind']}, not a {type(model).__name__}.")
    state = payload["state_dict"]
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        parts = []
        if wrong:
            parts.append("shape mismatch: " + ", ".join(f"{k} {tuple(state[k].shape)} in file vs {tuple(own[k].shape)} in model" for k in wrong[:4]))
        if missing:
            parts.append(f"missing in file: {missing[:4]}")
        if unexpected:
            parts.append(f"not in model: {unexpected[:4]}")
        raise ValueError(
            f"checkpoint does not fit this model ({'; '.join(parts)}); build the model with the stored config: load(path) without model, config {payload['config']}."
        )
    try:
        scaling = None if payload["scaling"] is None else Scaling.from_dict(payload["scaling"])
    except TypeError as exc:
        raise ValueError(f"checkpoint scaling is damaged ({exc}).") from None
    model.load_state_dict(state)
    model.scaling = scaling
    model.checkpoint_info = {"versions": payload["versions"], "extra": payload["extra"]}
    model.eval()
    return model
