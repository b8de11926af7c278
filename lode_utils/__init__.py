"""lode_utils — a small, tested Latent ODE library for irregularly sampled time series.

The companion package of the *Latent ODE book*. Each module is one stage of the model and
one chapter of the book:

========================  =====================================================  =========
module                    stage                                                  chapter
========================  =====================================================  =========
:mod:`.data`              irregular series → union-grid batch ``(t, x, mask)``   1
:mod:`.encoders`          GRU run backwards; ODE-RNN → ``μ, σ`` of q(z₀|x)        2
:mod:`.sampling`          ``z₀ = μ + σ·ε``                                       3
:mod:`.dynamics`          ``z_t = ODESolve(z₀, f_θ, t₀, t)``                      4
:mod:`.decoders`          ``p(x | z_t)``                                         5
:mod:`.elbo`              masked likelihood, KL, K-sample bound, annealing       6
:mod:`.train`             ``fit``, seeds, history                                6
:mod:`.model`             ``LatentODE``: predict and generate                    7
:mod:`.baselines`         RNN-Δt and ODE-RNN                                     7
:mod:`.metrics`           interpolation / extrapolation errors, coverage         7
:mod:`.checkpoint`        ``save`` / ``load``                                    6
:mod:`.devices`           ``device=``: CPU or GPU, checked                       8
:mod:`.plotting`          the book's figures                                     all
:mod:`.hopper`            the MuJoCo Hopper set and Table 3 (``[hopper]`` extra)  8
========================  =====================================================  =========
"""

__version__ = "0.1.0"

from . import baselines, checkpoint, data, decoders, devices, dynamics, elbo, encoders, hopper, metrics, model, plotting, sampling, source, train
from .baselines import BaselineConfig, RecurrentBaseline
from .checkpoint import load, save
from .data import IrregularBatch, SeriesDataset, collate
from .elbo import KLSchedule
from .metrics import evaluate
from .model import LatentODE, LatentODEConfig, Prediction
from .source import show_source
from .train import History, fit, make_task, seed_everything

__all__ = [
    "BaselineConfig",
    "History",
    "IrregularBatch",
    "KLSchedule",
    "LatentODE",
    "LatentODEConfig",
    "Prediction",
    "RecurrentBaseline",
    "SeriesDataset",
    "baselines",
    "checkpoint",
    "collate",
    "data",
    "decoders",
    "devices",
    "dynamics",
    "elbo",
    "encoders",
    "evaluate",
    "fit",
    "hopper",
    "load",
    "make_task",
    "metrics",
    "model",
    "plotting",
    "sampling",
    "save",
    "seed_everything",
    "show_source",
    "source",
    "train",
]
