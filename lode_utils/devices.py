"""Where a model runs: checking a requested device and finding a module's.

Data sets, masks and random draws stay on the CPU (so one seed gives the same minibatches,
masks and ε on any device); models move each batch to their own device when they are called.
Used by :func:`~lode_utils.fit` (``device=``) and by the Hopper benchmark's ``--device``.
"""

from __future__ import annotations

import os

import torch
from torch import nn

__all__ = ["module_device", "resolve_device"]


def resolve_device(device) -> torch.device:
    """``device`` (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or a :class:`torch.device`) checked against this machine.

    Raises ``ValueError`` naming the problem when the device is not a device name, when this
    torch build or machine has no such device, or when the GPU index is out of range. For CUDA
    it also sets ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` (unless already set), which cuBLAS needs
    for the deterministic algorithms that :func:`~lode_utils.seed_everything` asks for; it takes
    effect only if no cuBLAS call has been made yet in the process.
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device {device!r} is not a device name; use 'cpu', 'cuda', 'cuda:N' or 'mps'.") from err
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {device!r} was asked for, but torch {torch.__version__} sees no CUDA GPU (torch.cuda.is_available() is False); "
                "use device='cpu', or a machine with a GPU and a CUDA build of torch."
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {device!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s), numbered from 0.")
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        return dev
    if dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(f"device {device!r} was asked for, but torch.backends.mps.is_available() is False on this machine; use device='cpu'.")
        return dev
    raise ValueError(f"device {device!r}: lode_utils supports 'cpu', 'cuda' and 'mps' devices, not {dev.type!r}.")


def module_device(module: nn.Module) -> torch.device:
    """The device of ``module``'s parameters (the CPU for a module without parameters)."""
    for p in module.parameters():
        return p.device
    return torch.device("cpu")
