"""Irregular time series: the batch representation, readers' own arrays, and the synthetic sets.

Explained in chapter 1 (*Irregular data*).

Every model in ``lode_utils`` reads one batch representation, :class:`IrregularBatch`:

* ``t: [T]`` — the sorted union of the batch's time points,
* ``x: [B, T, D]`` — values on that grid (anything where unobserved; it is never read),
* ``mask: [B, T, D]`` — 1 where a value is observed and shown to the model,
* ``target_mask: [B, T, D]`` — 1 where a value is scored (defaults to ``mask``).

:func:`collate` builds it from series that each have their own times and lengths;
:class:`SeriesDataset` holds readers' series in their original units together with the
time rescaling and per-channel normalisation that map them to model units and back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from .sampling import random_tensor

__all__ = [
    "IrregularBatch",
    "Scaling",
    "SeriesDataset",
    "collate",
    "extrapolation_task",
    "from_arrays",
    "interpolation_task",
    "periodic",
    "spirals",
    "validate_series",
]


# ----------------------------------------------------------------------------------------------
# The batch
# ----------------------------------------------------------------------------------------------
@dataclasses.dataclass
class IrregularBatch:
    """A batch of irregular series on the union of their time points (chapter 1).

    Attributes:
        t: ``[T]`` strictly increasing times (model units).
        x: ``[B, T, D]`` values; entries where ``mask`` is 0 are ignored everywhere.
        mask: ``[B, T, D]`` 1.0 where the value is observed (what encoders read).
        target_mask: ``[B, T, D]`` 1.0 where the value is scored by losses and metrics;
            ``None`` means the same as ``mask``.
        truth: optional ``[B, T, D]`` noise-free values (synthetic data only).
    """

    t: torch.Tensor
    x: torch.Tensor
    mask: torch.Tensor
    target_mask: torch.Tensor | None = None
    truth: torch.Tensor | None = None

    def __post_init__(self) -> None:
        check_batch(self.t, self.x, self.mask, self.target_mask)

    @property
    def targets(self) -> torch.Tensor:
        """``[B, T, D]`` the mask of scored values."""
        return self.mask if self.target_mask is None else self.target_mask

    @property
    def batch_size(self) -> int:
        return self.x.shape[0]

    @property
    def dim(self) -> int:
        return self.x.shape[2]

    def to(self, *args, **kwargs) -> IrregularBatch:
        """Move every tensor (``.to`` arguments as in torch)."""
        return IrregularBatch(
            **{f.name: None if getattr(self, f.name) is None else getattr(self, f.name).to(*args, **kwargs) for f in dataclasses.fields(self)}
        )

    def on(self, device: torch.device) -> IrregularBatch:
        """This batch on ``device``: itself when its tensors are there already, else a moved copy."""
        return self if self.x.device == torch.device(device) else self.to(device)

    def select(self, index) -> IrregularBatch:
        """Series ``index`` (an int, slice or index tensor) on the same time grid."""
        if isinstance(index, int):
            index = slice(index, index + 1)
        return IrregularBatch(
            t=self.t,
            x=self.x[index],
            mask=self.mask[index],
            target_mask=None if self.target_mask is None else self.target_mask[index],
            truth=None if self.truth is None else self.truth[index],
        )

    def trimmed(self) -> IrregularBatch:
        """The same batch without grid points that no series observes or scores."""
        used = (self.mask + self.targets).sum(dim=(0, 2)) > 0
        if bool(used.all()):
            return self
        return IrregularBatch(
            t=self.t[used],
            x=self.x[:, used],
            mask=self.mask[:, used],
            target_mask=None if self.target_mask is None else self.target_mask[:, used],
            truth=None if self.truth is None else self.truth[:, used],
        )


def check_batch(t, x, mask, target_mask=None) -> None:
    """Raise a ``ValueError`` naming the problem if ``(t, x, mask)`` is not a valid batch."""
    if t.ndim != 1:
        raise ValueError(f"t must be 1-D [T], got shape {tuple(t.shape)}; pass the union time grid.")
    if x.ndim != 3:
        raise ValueError(f"x must be [batch, time, dim], got shape {tuple(x.shape)}; add missing axes with x[None] or x[..., None].")
    if x.shape[1] != t.shape[0]:
        raise ValueError(f"x has {x.shape[1]} time points but t has {t.shape[0]}; they must match.")
    if mask.shape != x.shape:
        raise ValueError(f"mask shape {tuple(mask.shape)} does not match x shape {tuple(x.shape)}.")
    if target_mask is not None and target_mask.shape != x.shape:
        raise ValueError(f"target_mask shape {tuple(target_mask.shape)} does not match x shape {tuple(x.shape)}.")
    if t.numel() == 0 or x.shape[0] == 0:
        raise ValueError("empty batch: it needs at least one series and one time point.")
    if not bool(torch.isfinite(t).all()):
        raise ValueError("t contains NaN or infinite times; drop those points.")
    if t.numel() > 1 and not bool((t[1:] > t[:-1]).all()):
        raise ValueError("t must be strictly increasing (sorted, no duplicates); use collate() to build the union grid.")
    observed = mask.bool()
    if not bool(torch.isfinite(x[observed]).all()):
        raise ValueError("x has NaN or infinite values at observed points; set mask to 0 there (collate() does this for NaN).")


# ----------------------------------------------------------------------------------------------
# Validation and collation of per-series arrays
# ----------------------------------------------------------------------------------------------
def _as_numpy(a, name: str) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    try:
        return np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: could not be read as a numeric array ({exc}).") from None


def validate_series(times, values, mask=None, *, name: str = "series", dim: int | None = None):
    """Check one series and return it as float64 numpy arrays ``(times [n], values [n, D], mask [n, D])``.

    ``values`` may be ``[n]`` for a single channel. NaN values count as missing (mask 0).

    Raises:
        ValueError: naming ``name`` and the problem — empty series, non-finite or unsorted or
            duplicate times, values/mask shape mismatch, wrong number of channels, or a series
            with no observed value.
    """
    t = _as_numpy(times, name)
    v = _as_numpy(values, name)
    if t.ndim != 1:
        raise ValueError(f"{name}: times must be 1-D [n], got shape {t.shape}.")
    if t.size == 0:
        raise ValueError(f"{name}: empty series (no time points); drop it from the list.")
    if v.ndim == 1:
        v = v[:, None]
    if v.ndim != 2:
        raise ValueError(f"{name}: values must be [n] or [n, D], got shape {v.shape}.")
    if v.shape[0] != t.shape[0]:
        raise ValueError(f"{name}: {t.shape[0]} times but {v.shape[0]} rows of values; they must match.")
    if dim is not None and v.shape[1] != dim:
        raise ValueError(f"{name}: has {v.shape[1]} channels, expected {dim} like the other series.")
    if not np.isfinite(t).all():
        raise ValueError(f"{name}: times contain NaN or infinity at positions {np.flatnonzero(~np.isfinite(t))[:5].tolist()}; drop those points.")
    dt = np.diff(t)
    if (dt == 0).any():
        i = int(np.flatnonzero(dt == 0)[0])
        raise ValueError(f"{name}: duplicate time {t[i]:g} at positions {i} and {i + 1}; merge the rows into one (NaN for missing channels).")
    if (dt < 0).any():
        i = int(np.flatnonzero(dt < 0)[0])
        raise ValueError(f"{name}: times are not sorted ({t[i]:g} then {t[i + 1]:g} at position {i}); sort times and values together (np.argsort).")
    if mask is None:
        m = np.isfinite(v).astype(np.float64)
    else:
        m = _as_numpy(mask, name)
        if m.ndim == 1 and v.shape[1] == 1:
            m = m[:, None]
        if m.shape != v.shape:
            raise ValueError(f"{name}: mask shape {m.shape} does not match values shape {v.shape}.")
        if not np.isin(m, (0.0, 1.0)).all():
            raise ValueError(f"{name}: mask must hold only 0 and 1.")
        bad = (m == 1) & ~np.isfinite(v)
        if bad.any():
            raise ValueError(f"{name}: NaN or infinite values where the mask says observed (row {np.argwhere(bad)[0, 0]}); set the mask to 0 there.")
    if m.sum() == 0:
        raise ValueError(f"{name}: no observed value (all masked or NaN); drop it from the list.")
    v = np.where(m == 1, v, 0.0)
    return t, v, m


def collate(series: Sequence[tuple], *, dtype=torch.float32) -> IrregularBatch:
    """Put series with their own times on the union grid (chapter 1).

    Args:
        series: a sequence of ``(times [n_i], values [n_i, D])`` or
            ``(times, values, mask [n_i, D])`` or ``(times, values, mask, target_mask)``
            or ``(times, values, mask, target_mask, truth)``; NaN values count as missing.

    Returns:
        An :class:`IrregularBatch` with ``t: [T]`` the sorted union of all times,
        ``x, mask: [B, T, D]``; grid points a series lacks have mask 0 and x 0.
    """
    if len(series) == 0:
        raise ValueError("collate() got no series; pass at least one (times, values) pair.")
    parsed, dim = [], None
    for i, s in enumerate(series):
        if len(s) < 2:
            raise ValueError(f"series {i}: expected (times, values[, mask[, target_mask[, truth]]]), got {len(s)} items.")
        t, v, m = validate_series(s[0], s[1], s[2] if len(s) > 2 else None, name=f"series {i}", dim=dim)
        dim = v.shape[1]
        tm = None if len(s) < 4 or s[3] is None else _as_numpy(s[3], f"series {i}").reshape(v.shape)
        tr = None if len(s) < 5 or s[4] is None else _as_numpy(s[4], f"series {i}").reshape(v.shape)
        parsed.append((t, v, m, tm, tr))
    return _assemble(parsed, dtype)


def _assemble(parsed: list[tuple], dtype) -> IrregularBatch:
    """Validated per-series ``(t, v, m, target_mask | None, truth | None)`` → batch on the union grid."""
    dim = parsed[0][1].shape[1]
    # union in the batch's precision: times that differ only by rounding become one grid point
    np_dtype = torch.empty(0, dtype=dtype).numpy().dtype
    parsed = [(p[0].astype(np_dtype), *p[1:]) for p in parsed]
    for i, p in enumerate(parsed):
        if p[0].size > 1 and not (np.diff(p[0]) > 0).all():
            raise ValueError(f"series {i}: two times are equal in {np_dtype} precision; use dtype=torch.float64 or merge them.")
    first = parsed[0][0]
    if all(p[0] is first or (p[0].shape == first.shape and np.array_equal(p[0], first)) for p in parsed):
        grid = first  # every series on the same times (a common case): no union needed
    else:
        grid = np.unique(np.concatenate([p[0] for p in parsed]))
    B, T = len(parsed), grid.size
    x = np.zeros((B, T, dim))
    mask = np.zeros((B, T, dim))
    has_target = any(p[3] is not None for p in parsed)
    has_truth = all(p[4] is not None for p in parsed)
    target = np.zeros((B, T, dim)) if has_target else None
    truth = np.zeros((B, T, dim)) if has_truth else None
    for b, (t, v, m, tm, tr) in enumerate(parsed):
        idx = np.searchsorted(grid, t)
        x[b, idx], mask[b, idx] = v, m
        if has_target:
            target[b, idx] = m if tm is None else tm
        if has_truth:
            truth[b, idx] = tr

    def tt(a):
        return None if a is None else torch.as_tensor(a, dtype=dtype)

    return IrregularBatch(t=tt(grid), x=tt(x), mask=tt(mask), target_mask=tt(target), truth=tt(truth))


def uncollate(batch: IrregularBatch) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Inverse of :func:`collate`: per series ``(times [n_i], values [n_i, D], mask [n_i, D])``.

    Keeps the grid points where the series has at least one observed value.
    """
    out = []
    t = batch.t.detach().cpu().numpy()
    for b in range(batch.batch_size):
        m = batch.mask[b].detach().cpu().numpy()
        rows = m.sum(axis=1) > 0
        out.append((t[rows], batch.x[b].detach().cpu().numpy()[rows], m[rows]))
    return out


# ----------------------------------------------------------------------------------------------
# Tasks: what the model sees and what it is scored on
# ----------------------------------------------------------------------------------------------
def interpolation_task(batch: IrregularBatch, observed_fraction: float, *, generator: torch.Generator | None = None, score: str = "held_out") -> IrregularBatch:
    """Show a random ``observed_fraction`` of each series' observed time points; hide the rest.

    Args:
        batch: ``IrregularBatch`` whose ``mask`` marks all available values.
        observed_fraction: in (0, 1]; at least one time point per series stays observed.
        generator: torch generator for the choice (pass a seeded one for reproducibility).
        score: ``"held_out"`` scores only the hidden points (the interpolation metric);
            ``"all"`` scores every available point (the training reconstruction loss).

    Returns:
        A batch on the same grid, with ``mask`` the shown points and ``target_mask`` the scored ones.
    """
    if not 0 < observed_fraction <= 1:
        raise ValueError(f"observed_fraction must be in (0, 1], got {observed_fraction}.")
    if score not in ("held_out", "all"):
        raise ValueError(f"score must be 'held_out' or 'all', got {score!r}.")
    available = batch.mask
    rows = available.amax(dim=2)  # [B, T] time points with any value
    u = random_tensor(rows.shape, like=rows, generator=generator, distribution="uniform", dtype=torch.get_default_dtype())
    u = torch.where(rows > 0, u, torch.full_like(u, 2.0))
    n_avail = rows.sum(dim=1)
    n_keep = torch.clamp(torch.round(n_avail * observed_fraction), min=1)
    rank = u.argsort(dim=1).argsort(dim=1)
    keep = (rank < n_keep[:, None]).to(available.dtype)[..., None] * available
    target = available - keep if score == "held_out" else available
    return IrregularBatch(t=batch.t, x=batch.x, mask=keep, target_mask=target, truth=batch.truth)


def extrapolation_task(batch: IrregularBatch, split_time: float | None = None) -> IrregularBatch:
    """Show the points at ``t <= split_time``; score the points after it.

    ``split_time`` defaults to the middle of the grid, ``(t[0] + t[-1]) / 2``.
    Returns a batch on the same grid with ``mask`` = past, ``target_mask`` = future.
    """
    if split_time is None:
        split_time = float(batch.t[0] + batch.t[-1]) / 2
    past = (batch.t <= split_time).to(batch.mask.dtype)[None, :, None]
    observed = batch.mask * past
    empty = observed.sum(dim=(1, 2)) == 0
    if bool(empty.any()):
        raise ValueError(f"series {torch.nonzero(empty)[0].item()} has no observation before split_time={split_time:g}; choose a later split.")
    return IrregularBatch(t=batch.t, x=batch.x, mask=observed, target_mask=batch.mask * (1 - past), truth=batch.truth)


# ----------------------------------------------------------------------------------------------
# Scaling between original and model units
# ----------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Scaling:
    """Maps original units to model units: ``t' = (t - t_offset) / t_scale``, ``x' = (x - mean) / std``.

    Stored as plain floats so checkpoints keep it without pickling code.
    """

    t_offset: float = 0.0
    t_scale: float = 1.0
    mean: list[float] = dataclasses.field(default_factory=lambda: [0.0])
    std: list[float] = dataclasses.field(default_factory=lambda: [1.0])

    def time_to_model(self, t):
        return (t - self.t_offset) / self.t_scale

    def time_to_original(self, t):
        return t * self.t_scale + self.t_offset

    def _ms(self, like):
        if isinstance(like, torch.Tensor):
            return (torch.tensor(self.mean, dtype=like.dtype, device=like.device), torch.tensor(self.std, dtype=like.dtype, device=like.device))
        return np.asarray(self.mean), np.asarray(self.std)

    def values_to_model(self, x):
        mean, std = self._ms(x)
        return (x - mean) / std

    def values_to_original(self, x):
        mean, std = self._ms(x)
        return x * std + mean

    def std_to_original(self, s):
        """Scale a standard deviation (or an error) from model to original units, per channel."""
        return s * self._ms(s)[1]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Scaling:
        return cls(**d)


# ----------------------------------------------------------------------------------------------
# Datasets
# ----------------------------------------------------------------------------------------------
class SeriesDataset:
    """Irregular series in original units, with a train/test split and the scaling to model units.

    Build one with :func:`from_arrays` (readers' data) or a generator (:func:`periodic`,
    :func:`spirals`). Batches come out in model units: times rescaled so the whole data set
    spans ``[0, time_span]``, each channel standardised with training-set statistics
    (when ``normalize`` is on).

    Attributes:
        series: list of ``(times [n_i], values [n_i, D], mask [n_i, D])`` numpy arrays, original units.
        truth: optional list of ``[n_i, D]`` noise-free values (synthetic sets).
        train_idx, test_idx: integer index arrays into ``series``.
        scaling: :class:`Scaling` from original to model units.
    """

    def __init__(
        self,
        series,
        *,
        truth=None,
        test_fraction: float = 0.2,
        test_idx=None,
        seed: int = 0,
        normalize: bool = True,
        time_span: float = 1.0,
        name: str = "dataset",
    ):
        if len(series) == 0:
            raise ValueError("no series given; pass at least one (times, values) pair.")
        if test_idx is None and not 0 <= test_fraction < 1:
            raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}.")
        self.name = name
        parsed, dim = [], None
        for i, s in enumerate(series):
            t, v, m = validate_series(*s, name=f"series {i}", dim=dim)
            dim = v.shape[1]
            parsed.append((t, v, m))
        self.series = parsed
        self.dim = dim
        if truth is not None:
            if len(truth) != len(parsed):
                raise ValueError(f"truth has {len(truth)} series but there are {len(parsed)}.")
            truth = [np.asarray(tr, dtype=np.float64).reshape(s[1].shape) for tr, s in zip(truth, parsed, strict=True)]
        self.truth = truth
        if test_idx is not None:
            self.test_idx = _held_out(test_idx, len(parsed))
            self.train_idx = np.setdiff1d(np.arange(len(parsed)), self.test_idx)
        else:
            rng = np.random.default_rng(seed)
            order = rng.permutation(len(parsed))
            n_test = round(test_fraction * len(parsed))
            if test_fraction > 0 and len(parsed) > 1:
                n_test = max(n_test, 1)
            self.test_idx = np.sort(order[:n_test])
            self.train_idx = np.sort(order[n_test:])
        if self.train_idx.size == 0:
            raise ValueError("the training split is empty; hold out fewer series (test_fraction or test_idx) or add series.")
        self._model_units: list[tuple] | None = None
        all_t = np.concatenate([s[0] for s in parsed])
        t_min, t_max = float(all_t.min()), float(all_t.max())
        t_scale = (t_max - t_min) / time_span if t_max > t_min else 1.0
        if normalize:
            v = np.concatenate([parsed[i][1] for i in self.train_idx])
            m = np.concatenate([parsed[i][2] for i in self.train_idx])
            cnt = m.sum(axis=0)
            if (cnt == 0).any():
                raise ValueError(f"channel(s) {np.flatnonzero(cnt == 0).tolist()} have no observed value in the training split.")
            mean = (v * m).sum(axis=0) / cnt
            var = (((v - mean) * m) ** 2).sum(axis=0) / cnt
            std = np.where(var > 0, np.sqrt(var), 1.0)
        else:
            mean, std = np.zeros(dim), np.ones(dim)
        self.scaling = Scaling(t_offset=t_min, t_scale=t_scale, mean=mean.tolist(), std=std.tolist())

    def __len__(self) -> int:
        return len(self.series)

    def __repr__(self) -> str:
        return f"SeriesDataset({self.name!r}: {len(self)} series, {self.dim} channel(s), {self.train_idx.size} train / {self.test_idx.size} test)"

    def batch(self, indices=None, *, dtype=torch.float32) -> IrregularBatch:
        """Collate the series ``indices`` (default all) into one batch in model units."""
        if indices is None:
            indices = np.arange(len(self))
        if self._model_units is None:  # validated at construction; scale once, reuse every batch
            sc = self.scaling
            self._model_units = [
                (sc.time_to_model(t), np.where(m == 1, sc.values_to_model(v), 0.0), m, None, None if self.truth is None else sc.values_to_model(self.truth[i]))
                for i, (t, v, m) in enumerate(self.series)
            ]
        return _assemble([self._model_units[i] for i in np.asarray(indices).tolist()], dtype)

    def train_batch(self, **kw) -> IrregularBatch:
        return self.batch(self.train_idx, **kw)

    def test_batch(self, **kw) -> IrregularBatch:
        if self.test_idx.size == 0:
            raise ValueError("this dataset has no test split (test_fraction=0).")
        return self.batch(self.test_idx, **kw)

    def batches(self, batch_size: int, *, generator: torch.Generator | None = None, split: str = "train") -> Iterator[IrregularBatch]:
        """Endless shuffled minibatches of ``batch_size`` series from ``split`` (model units)."""
        idx = self.train_idx if split == "train" else self.test_idx
        batch_size = min(batch_size, idx.size)
        if batch_size == idx.size:  # full batch: collate once
            full = self.batch(idx)
            while True:
                yield full
        while True:
            perm = torch.randperm(idx.size, generator=generator).numpy()
            for start in range(0, idx.size - batch_size + 1, batch_size):
                yield self.batch(idx[perm[start : start + batch_size]])

    def encode(self, times, values, mask=None, *, dtype=torch.float32) -> IrregularBatch:
        """A new series in original units → a one-series batch in model units."""
        t, v, m = validate_series(times, values, mask, name="new series", dim=self.dim)
        sc = self.scaling
        return collate([(sc.time_to_model(t), np.where(m == 1, sc.values_to_model(v), 0.0), m)], dtype=dtype)

    def encode_many(self, times, values, masks=None, *, dtype=torch.float32) -> IrregularBatch:
        """New series in original units (lists as for :func:`from_arrays`) → one batch of ``B``
        series in model units, on the union of their times; errors name the series by position."""
        if len(times) != len(values) or (masks is not None and len(masks) != len(times)):
            raise ValueError(
                f"{len(times)} time arrays, {len(values)} value arrays"
                + ("" if masks is None else f" and {len(masks)} masks")
                + "; pass one of each per series."
            )
        if len(times) == 0:
            raise ValueError("no series given; pass at least one (times, values) pair.")
        sc, out = self.scaling, []
        for i, (t, v) in enumerate(zip(times, values, strict=True)):
            t, v, m = validate_series(t, v, None if masks is None else masks[i], name=f"new series {i}", dim=self.dim)
            out.append((sc.time_to_model(t), np.where(m == 1, sc.values_to_model(v), 0.0), m))
        return collate(out, dtype=dtype)


def _held_out(test_idx, n: int) -> np.ndarray:
    """Check an explicit list of held-out series indices against ``n`` series; sorted int array."""
    idx = np.asarray(test_idx)
    if idx.size == 0:
        return np.zeros(0, dtype=np.int64)
    if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"test_idx must be a 1-D list of integer series indices, got {np.asarray(test_idx).dtype} values of shape {idx.shape}.")
    bad = idx[(idx < 0) | (idx >= n)]
    if bad.size:
        raise ValueError(f"test_idx has {bad.tolist()[:5]} out of range for {n} series; indices run from 0 to {n - 1}.")
    values, counts = np.unique(idx, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"test_idx lists series {values[counts > 1].tolist()[:5]} more than once; list each held-out series once.")
    return values.astype(np.int64)


def from_arrays(
    times,
    values,
    masks=None,
    *,
    test_fraction: float = 0.2,
    test_idx=None,
    seed: int = 0,
    normalize: bool = True,
    time_span: float = 1.0,
    name: str = "dataset",
) -> SeriesDataset:
    """Build a :class:`SeriesDataset` from readers' own per-series arrays (chapters 1 and 8).

    Args:
        times: list of ``[n_i]`` arrays, each strictly increasing, in any unit.
        values: list of ``[n_i, D]`` (or ``[n_i]``) arrays; NaN marks a missing value.
        masks: optional list of ``[n_i, D]`` 0/1 arrays (1 = observed).
        test_fraction: share of series held out for testing, drawn at random (seeded by ``seed``).
        test_idx: instead, the indices of the series to hold out (say the latest patients, or
            one site); ``test_fraction`` and ``seed`` are then ignored. ``[]`` holds out none.
        normalize: standardise each channel with training-set mean and std.
        time_span: length of the model-time interval the data's time range maps to.

    Raises:
        ValueError: naming the series and the problem (see :func:`validate_series`).
    """
    if isinstance(times, np.ndarray | torch.Tensor) and np.ndim(times) == 1:
        raise ValueError("times must be a list of per-series arrays; for one series pass [times].")
    if len(times) != len(values):
        raise ValueError(f"{len(times)} time arrays but {len(values)} value arrays; pass one of each per series.")
    if masks is not None and len(masks) != len(times):
        raise ValueError(f"{len(masks)} masks for {len(times)} series; pass one per series or none.")
    series = [(t, v) if masks is None else (t, v, m) for t, v, m in zip(times, values, masks if masks is not None else [None] * len(times), strict=True)]
    return SeriesDataset(series, test_fraction=test_fraction, test_idx=test_idx, seed=seed, normalize=normalize, time_span=time_span, name=name)


# ----------------------------------------------------------------------------------------------
# Synthetic generators
# ----------------------------------------------------------------------------------------------
def periodic(
    n_series: int = 1000,
    n_points: int = 100,
    *,
    t_max: float = 5.0,
    time_span: float = 1.0,
    freq_range=(0.4, 0.8),
    amplitude: float = 1.0,
    offset_std: float = 0.1,
    noise_std: float = 0.01,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> SeriesDataset:
    """The periodic 1-D toy of Rubanova et al. (2019) (chapter 1).

    One set of ``n_points`` times drawn uniformly on ``[0, t_max]`` (``t = 0`` included) is
    shared by all series; series ``i`` is ``amplitude * sin(2π f_i t) + c_i`` with
    ``f_i ~ U(freq_range)`` and ``c_i ~ N(1, offset_std²)``, observed with Gaussian noise of
    std ``noise_std`` (the paper's code adds ``noise_std * U[0, 1)`` instead; we use Gaussian).
    Times are rescaled to ``[0, 1]`` in model units; values are not normalised, so the
    model sees the same numbers the paper's code does.

    Returns:
        A :class:`SeriesDataset` with ``truth`` holding the noise-free curves.
    """
    rng = np.random.default_rng(seed)
    t = np.sort(np.concatenate([[0.0], rng.uniform(0.0, t_max, n_points - 1)]))
    freq = rng.uniform(*freq_range, size=n_series)
    c = 1.0 + offset_std * rng.standard_normal(n_series)
    clean = amplitude * np.sin(2 * np.pi * freq[:, None] * t[None, :]) + c[:, None]
    noisy = clean + noise_std * rng.standard_normal(clean.shape)
    series = [(t, noisy[i][:, None]) for i in range(n_series)]
    ds = SeriesDataset(
        series,
        truth=[clean[i][:, None] for i in range(n_series)],
        test_fraction=test_fraction,
        seed=seed,
        normalize=False,
        time_span=time_span,
        name="periodic",
    )
    ds.params = {"freq": freq, "offset": c}
    return ds


def spiral_curve(theta: np.ndarray, clockwise: bool, *, a: float = 0.0, b: float = 0.3, stop: float = 6 * np.pi) -> np.ndarray:
    """The two Archimedean spirals of Chen et al. (2018): ``[n] -> [n, 2]``.

    Counter-clockwise: radius ``a + b θ`` centred at (5, 0); clockwise: radius
    ``a + 50 b / (stop + 1 − θ)`` centred at (−5, 0), as in torchdiffeq's example.
    """
    if clockwise:
        z = stop + 1.0 - theta
        r = a + b * 50.0 / z
        return np.stack([r * np.cos(z) - 5.0, r * np.sin(z)], axis=-1)
    r = a + b * theta
    return np.stack([r * np.cos(theta) + 5.0, r * np.sin(theta)], axis=-1)


def spirals(
    n_series: int = 1000,
    n_points: int = 100,
    *,
    n_grid: int = 1000,
    window: int | None = None,
    noise_std: float = 0.3,
    a: float = 0.0,
    b: float = 0.3,
    stop: float = 6 * np.pi,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> SeriesDataset:
    """2-D spirals of Chen et al. (2018, §5.1), irregularly sampled (chapter 1).

    Half the series (chosen at random) turn clockwise, half counter-clockwise. Each series is
    a window of ``window`` consecutive points (default ``2 * n_points``) of a regular grid of
    ``n_grid`` angles on ``[0, stop]``, starting at a random offset; ``n_points`` of the window
    are kept at random (irregular sampling) and observed with Gaussian noise ``noise_std``.
    Times are the angle from the series' first kept point (where its window effectively
    starts), so every series starts at ``t = 0``.

    Returns:
        A :class:`SeriesDataset` in model units ``t ∈ [0, 1]`` (values not normalised), with
        ``truth`` holding the noise-free points and ``params["clockwise"]`` the direction.
    """
    window = 2 * n_points if window is None else window
    if not n_points <= window <= n_grid // 2:
        raise ValueError(f"need n_points <= window <= n_grid // 2, got {n_points}, {window}, {n_grid}.")
    rng = np.random.default_rng(seed)
    theta = np.linspace(0.0, stop, n_grid)
    curves = {cw: spiral_curve(theta, cw, a=a, b=b, stop=stop) for cw in (True, False)}
    series, truth, cws = [], [], []
    for _ in range(n_series):
        cw = bool(rng.random() < 0.5)
        start = int(rng.integers(0, n_grid - window))
        pick = np.sort(rng.choice(window, size=n_points, replace=False))
        idx = start + pick
        clean = curves[cw][idx]
        series.append(((pick - pick[0]) * (stop / (n_grid - 1)), clean + noise_std * rng.standard_normal(clean.shape)))
        truth.append(clean)
        cws.append(cw)
    ds = SeriesDataset(series, truth=truth, test_fraction=test_fraction, seed=seed, normalize=False, name="spirals")
    ds.params = {"clockwise": np.array(cws)}
    return ds
