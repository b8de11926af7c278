"""The decoder p_ψ(x | z_t): a Gaussian whose mean is a network of the latent state.

Explained in chapter 5 (*Decoding*).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .dynamics import mlp
from .sampling import random_tensor

__all__ = ["GaussianDecoder"]


class GaussianDecoder(nn.Module):
    """``p(x | z) = N(x; g_ψ(z), diag(s²))`` (chapter 5).

    Args:
        latent_dim, obs_dim: ``L`` and ``D``.
        hidden, layers: size of ``g_ψ``; ``layers = 0`` is a linear map (Rubanova et al.).
        obs_std: the observation-noise std ``s`` (model units), one value for all channels.
        learn_std: make ``log s`` a trained parameter (one per channel) instead of fixed.
    """

    def __init__(
        self, latent_dim: int, obs_dim: int, hidden: int = 32, layers: int = 0, obs_std: float = 0.1, learn_std: bool = False, activation: str = "tanh"
    ):
        super().__init__()
        if not obs_std > 0:
            raise ValueError(f"obs_std must be positive, got {obs_std}.")
        self.net = mlp(latent_dim, obs_dim, hidden, layers, activation)
        log_std = torch.full((obs_dim,), math.log(obs_std))
        if learn_std:
            self.log_std = nn.Parameter(log_std)
        else:
            self.register_buffer("log_std", log_std)

    @property
    def std(self) -> torch.Tensor:
        """``[D]`` observation-noise std."""
        return self.log_std.exp()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``z: [..., L] -> mean: [..., D]``."""
        return self.net(z)

    def sample(self, z: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """A draw of ``x`` given ``z: [..., L]``: the mean plus Gaussian noise, ``[..., D]``."""
        mean = self(z)
        return mean + self.std * random_tensor(mean.shape, like=mean, generator=generator)
