"""lode_utils.data: the batch, validation, collation, tasks, datasets and scaling (chapter 1)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lode_utils import data
from lode_utils.train import make_task


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------------------------
# collate / uncollate
# ----------------------------------------------------------------------------------------------
def test_collate_union_grid_is_sorted_union(raw_series, batch):
    expected = np.unique(np.concatenate([t for t, _ in raw_series]))
    np.testing.assert_array_equal(batch.t.numpy(), expected.astype(np.float32))
    assert bool((batch.t[1:] > batch.t[:-1]).all())
    assert batch.x.shape == batch.mask.shape == (3, expected.size, 2)
    assert batch.target_mask is None and batch.truth is None
    assert torch.equal(batch.targets, batch.mask)


def test_collate_uncollate_round_trip(raw_series, batch):
    back = data.uncollate(batch)
    assert len(back) == len(raw_series)
    for (t, v), (t2, v2, m2) in zip(raw_series, back):
        observed = np.isfinite(v)
        np.testing.assert_allclose(t2, t, rtol=1e-6)
        np.testing.assert_array_equal(m2, observed.astype(float))
        np.testing.assert_allclose(v2[observed], v[observed], rtol=1e-6)
        assert (v2[~observed] == 0).all()


def test_collate_nan_values_become_mask_zero(raw_series, batch):
    assert torch.isfinite(batch.x).all()
    # series 0 at t=0.2: channel 0 observed, channel 1 NaN
    i = int(torch.nonzero(torch.isclose(batch.t, torch.tensor(0.2))).item())
    assert batch.mask[0, i].tolist() == [1.0, 0.0]
    assert batch.x[0, i, 1] == 0
    # grid points a series lacks have mask 0 and x 0
    j = int(torch.nonzero(torch.isclose(batch.t, torch.tensor(0.1))).item())
    assert batch.mask[0, j].sum() == 0 and batch.x[0, j].abs().sum() == 0
    assert int(batch.mask.sum()) == sum(int(np.isfinite(v).sum()) for _, v in raw_series)


def test_collate_keeps_explicit_mask_target_and_truth():
    t = np.array([0.0, 1.0, 2.0])
    v = np.array([1.0, 2.0, 3.0])
    m = np.array([1.0, 0.0, 1.0])
    tm = np.array([0.0, 1.0, 1.0])
    tr = np.array([1.1, 2.1, 3.1])
    b = data.collate([(t, v, m, tm, tr), (t[:2] + 0.5, v[:2])], dtype=torch.float64)
    assert b.x.dtype == torch.float64
    np.testing.assert_array_equal(b.t.numpy(), [0.0, 0.5, 1.0, 1.5, 2.0])
    assert b.mask[0, :, 0].tolist() == [1, 0, 0, 0, 1]
    assert b.x[0, :, 0].tolist() == [1, 0, 0, 0, 3]  # the masked value 2.0 is not carried
    assert b.target_mask[0, :, 0].tolist() == [0, 0, 1, 0, 1]
    assert b.target_mask[1, :, 0].tolist() == [0, 1, 0, 1, 0]  # default target = mask
    assert b.truth is None  # only one series had truth


def test_collate_series_sharing_their_times():
    t = np.array([0.0, 0.3, 0.4])
    b = data.collate([(t, np.array([1.0, np.nan, 3.0])), (t.copy(), np.array([4.0, 5.0, 6.0]))])
    np.testing.assert_array_equal(b.t.numpy(), t.astype(np.float32))
    assert b.mask[:, :, 0].tolist() == [[1, 0, 1], [1, 1, 1]]
    assert b.x[:, :, 0].tolist() == [[1, 0, 3], [4, 5, 6]]


def test_batch_select_and_trimmed(batch):
    one = batch.select(1)
    assert one.batch_size == 1 and torch.equal(one.x[0], batch.x[1])
    trimmed = one.trimmed()
    np.testing.assert_allclose(trimmed.t.numpy(), [0.1, 0.5, 0.7], rtol=1e-6)
    assert torch.equal(trimmed.x[0], batch.x[1][batch.mask[1].amax(-1) > 0])
    assert batch.trimmed() is batch  # nothing to trim


def test_batch_to_dtype(batch):
    b64 = batch.to(torch.float64)
    assert b64.x.dtype == b64.t.dtype == b64.mask.dtype == torch.float64
    assert torch.equal(b64.x.float(), batch.x)


# ----------------------------------------------------------------------------------------------
# bad inputs: ValueError naming the problem
# ----------------------------------------------------------------------------------------------
T3 = np.array([0.0, 0.5, 1.0])
V3 = np.array([[1.0], [2.0], [3.0]])


@pytest.mark.parametrize(
    ("series", "match"),
    [
        ([(np.array([0.0, 1.0, 0.5]), V3)], r"series 0: times are not sorted"),
        ([(T3, V3), (np.array([0.0, 0.5, 0.5]), V3)], r"series 1: duplicate time 0\.5"),
        ([(np.array([0.0, np.nan, 1.0]), V3)], r"series 0: times contain NaN or infinity at positions \[1\]"),
        ([(np.array([0.0, 0.5, np.inf]), V3)], r"series 0: times contain NaN or infinity"),
        ([(T3, V3, np.ones((3, 2)))], r"series 0: mask shape \(3, 2\) does not match values shape \(3, 1\)"),
        ([(T3, V3[:2])], r"series 0: 3 times but 2 rows of values"),
        ([(T3, np.full((3, 1), np.nan))], r"series 0: no observed value"),
        ([(T3, V3, np.zeros(3))], r"series 0: no observed value"),
        ([(T3, V3), (np.array([]), np.zeros((0, 1)))], r"series 1: empty series"),
        ([(T3, V3), (T3, np.ones((3, 2)))], r"series 1: has 2 channels, expected 1"),
        ([(T3, V3, np.array([1.0, 0.5, 1.0]))], r"mask must hold only 0 and 1"),
        ([(T3, np.array([1.0, np.nan, 3.0]), np.ones(3))], r"NaN or infinite values where the mask says observed"),
        ([(T3,)], r"series 0: expected \(times, values"),
        ([], r"got no series"),
    ],
)
def test_collate_rejects_bad_series(series, match):
    with pytest.raises(ValueError, match=match):
        data.collate(series)


def test_validate_series_rejects_non_numeric_and_bad_rank():
    with pytest.raises(ValueError, match="could not be read as a numeric array"):
        data.validate_series(["a", "b"], [1.0, 2.0])
    with pytest.raises(ValueError, match="times must be 1-D"):
        data.validate_series(np.zeros((2, 2)), np.zeros(2))
    with pytest.raises(ValueError, match=r"values must be \[n\] or \[n, D\]"):
        data.validate_series(T3, np.zeros((3, 1, 1)))


def _good():
    t = torch.tensor([0.0, 0.5, 1.0])
    x = torch.ones(2, 3, 1)
    return t, x, torch.ones_like(x)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda t, x, m: (t.flip(0), x, m), "t must be strictly increasing"),
        (lambda t, x, m: (torch.tensor([0.0, 0.5, 0.5]), x, m), "t must be strictly increasing"),
        (lambda t, x, m: (torch.tensor([0.0, float("nan"), 1.0]), x, m), "t contains NaN or infinite times"),
        (lambda t, x, m: (torch.tensor([0.0, 0.5, float("inf")]), x, m), "t contains NaN or infinite times"),
        (
            lambda t, x, m: (t, x.index_put((torch.tensor(0), torch.tensor(1), torch.tensor(0)), torch.tensor(float("nan"))), m),
            "x has NaN or infinite values at observed points",
        ),
        (lambda t, x, m: (t, x, m[:, :2]), r"mask shape \(2, 2, 1\) does not match x shape \(2, 3, 1\)"),
        (lambda t, x, m: (t, x[0], m[0]), r"x must be \[batch, time, dim\]"),
        (lambda t, x, m: (t[:2], x, m), "x has 3 time points but t has 2"),
        (lambda t, x, m: (t[None], x, m), "t must be 1-D"),
        (lambda t, x, m: (t, x[:0], m[:0]), "empty batch"),
    ],
)
def test_irregular_batch_rejects_bad_input(edit, match):
    t, x, m = edit(*_good())
    with pytest.raises(ValueError, match=match):
        data.IrregularBatch(t=t, x=x, mask=m)


def test_irregular_batch_rejects_bad_target_mask():
    t, x, m = _good()
    with pytest.raises(ValueError, match="target_mask shape"):
        data.IrregularBatch(t=t, x=x, mask=m, target_mask=m[:1])


def test_irregular_batch_accepts_anything_where_unobserved():
    t, x, m = _good()
    m[0, 1] = 0
    x[0, 1] = float("nan")
    b = data.IrregularBatch(t=t, x=x, mask=m)  # documented: never read, so allowed
    assert torch.isnan(b.x).any()


# ----------------------------------------------------------------------------------------------
# interpolation / extrapolation tasks
# ----------------------------------------------------------------------------------------------
@pytest.fixture
def dense_batch():
    """Eight 2-channel series on a shared 12-point grid, with some missing points and channels."""
    rng = np.random.default_rng(3)
    t = np.linspace(0.0, 1.0, 12)
    series = []
    for i in range(8):
        v = rng.standard_normal((12, 2))
        v[rng.random((12, 2)) < 0.2] = np.nan  # missing channels
        v[rng.random(12) < 0.25] = np.nan  # missing rows
        v[i % 12, 0] = 1.0  # never empty
        series.append((t, v))
    return data.collate(series)


@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_interpolation_task_partitions_available_points(dense_batch, fraction, seed):
    available = dense_batch.mask
    task = data.interpolation_task(dense_batch, fraction, generator=gen(seed), score="held_out")
    shown, scored = task.mask, task.target_mask
    assert torch.equal(shown * scored, torch.zeros_like(shown))  # observed ∩ target = ∅
    assert torch.equal(shown + scored, available)  # observed ∪ target = available
    rows_avail = available.amax(-1)
    rows_shown = shown.amax(-1)
    assert bool((rows_shown <= rows_avail).all())
    assert bool((rows_shown.sum(1) >= 1).all())  # at least one point per series
    expected = torch.clamp(torch.round(rows_avail.sum(1) * fraction), min=1)
    assert torch.equal(rows_shown.sum(1), expected)
    # a shown time point shows every available channel there (whole rows are hidden or shown)
    assert torch.equal(shown, rows_shown[..., None] * available)
    assert torch.equal(task.x, dense_batch.x) and torch.equal(task.t, dense_batch.t)


def test_interpolation_task_score_all_and_seeding(dense_batch):
    a = data.interpolation_task(dense_batch, 0.4, generator=gen(5), score="all")
    assert torch.equal(a.target_mask, dense_batch.mask)
    b = data.interpolation_task(dense_batch, 0.4, generator=gen(5), score="all")
    c = data.interpolation_task(dense_batch, 0.4, generator=gen(6), score="all")
    assert torch.equal(a.mask, b.mask)
    assert not torch.equal(a.mask, c.mask)


def test_interpolation_task_keeps_one_point_of_a_single_point_series():
    b = data.collate([(np.array([0.3]), np.array([2.0])), (np.linspace(0, 1, 10), np.ones(10))])
    task = data.interpolation_task(b, 0.01, generator=gen(0))
    assert task.mask.sum(dim=(1, 2)).tolist() == [1.0, 1.0]


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        (dict(observed_fraction=0.0), "observed_fraction must be in"),
        (dict(observed_fraction=1.5), "observed_fraction"),
        (dict(observed_fraction=0.5, score="some"), "score must be"),
    ],
)
def test_interpolation_task_rejects_bad_arguments(dense_batch, kw, match):
    with pytest.raises(ValueError, match=match):
        data.interpolation_task(dense_batch, **kw)


@pytest.mark.parametrize("split_time", [None, 0.3, 0.62, "on-grid"])
def test_extrapolation_task_respects_split_time(dense_batch, split_time):
    if split_time == "on-grid":
        split_time = float(dense_batch.t[4])  # a point at the split belongs to the past
    task = data.extrapolation_task(dense_batch, split_time)
    split = 0.5 if split_time is None else split_time  # default: middle of the grid [0, 1]
    past = dense_batch.t <= split
    assert torch.equal(task.mask[:, past], dense_batch.mask[:, past])
    assert task.mask[:, ~past].sum() == 0
    assert torch.equal(task.target_mask[:, ~past], dense_batch.mask[:, ~past])
    assert task.target_mask[:, past].sum() == 0
    assert bool((task.mask.sum(dim=(1, 2)) >= 1).all())
    if split_time == float(dense_batch.t[4]):
        assert torch.equal(task.mask[:, 4], dense_batch.mask[:, 4]) and task.target_mask[:, 4].sum() == 0


def test_extrapolation_task_needs_an_observation_before_the_split():
    b = data.collate([(np.array([0.0, 1.0]), np.ones(2)), (np.array([0.8, 1.0]), np.ones(2))])
    with pytest.raises(ValueError, match=r"series 1 has no observation before split_time=0\.5"):
        data.extrapolation_task(b, 0.5)


def test_make_task_kinds(dense_batch):
    ext = make_task("extrapolation", dense_batch, split_time=0.5, score="all")
    assert torch.equal(ext.target_mask, dense_batch.mask)  # training: score past and future
    rec = make_task("reconstruction", dense_batch)
    assert torch.equal(rec.mask, dense_batch.mask) and torch.equal(rec.targets, dense_batch.mask)
    custom = make_task(lambda b, g: b.select(0), dense_batch)
    assert custom.batch_size == 1
    with pytest.raises(ValueError, match="unknown task 'interpolate'"):
        make_task("interpolate", dense_batch)


# ----------------------------------------------------------------------------------------------
# SeriesDataset / from_arrays / Scaling
# ----------------------------------------------------------------------------------------------
def _arrays(n=20, seed=0):
    """Series in odd units: times around 1000 s, two channels with different scales."""
    rng = np.random.default_rng(seed)
    times, values = [], []
    for i in range(n):
        k = 5 + i % 4
        t = 1000.0 + np.sort(rng.choice(np.arange(0, 500, 10.0), k, replace=False))
        v = np.stack([50.0 + 10.0 * rng.standard_normal(k) + i, -3.0 + 0.1 * rng.standard_normal(k)], axis=1)
        v[0, 1] = np.nan
        times.append(t)
        values.append(v)
    return times, values


def test_from_arrays_split_by_seed():
    times, values = _arrays()
    ds = data.from_arrays(times, values, test_fraction=0.25, seed=3)
    assert ds.test_idx.size == 5 and ds.train_idx.size == 15
    assert set(ds.test_idx) | set(ds.train_idx) == set(range(20))
    assert not set(ds.test_idx) & set(ds.train_idx)
    same = data.from_arrays(times, values, test_fraction=0.25, seed=3)
    other = data.from_arrays(times, values, test_fraction=0.25, seed=4)
    np.testing.assert_array_equal(same.test_idx, ds.test_idx)
    assert not np.array_equal(other.test_idx, ds.test_idx)
    assert len(ds) == 20 and ds.dim == 2
    assert "15 train / 5 test" in repr(ds)


def test_time_rescaling_is_stored_and_invertible():
    times, values = _arrays()
    ds = data.from_arrays(times, values, time_span=2.0)
    lo = min(t.min() for t in times)
    hi = max(t.max() for t in times)
    sc = ds.scaling
    assert sc.t_offset == lo
    assert sc.t_scale == pytest.approx((hi - lo) / 2.0)
    full = ds.batch()
    assert float(full.t[0]) == 0.0 and float(full.t[-1]) == pytest.approx(2.0)
    for t in times:
        np.testing.assert_allclose(sc.time_to_original(sc.time_to_model(t)), t, rtol=1e-12)
    tt = torch.tensor([1000.0, 1234.5], dtype=torch.float64)
    torch.testing.assert_close(sc.time_to_original(sc.time_to_model(tt)), tt)
    x = np.array([[10.0, -2.0], [70.0, -4.0]])
    np.testing.assert_allclose(sc.values_to_original(sc.values_to_model(x)), x, rtol=1e-12)
    xt = torch.tensor(x)
    torch.testing.assert_close(sc.values_to_original(sc.values_to_model(xt)), xt)
    assert data.Scaling.from_dict(sc.to_dict()) == sc


def test_normalisation_uses_training_statistics_only():
    times, values = _arrays()
    values[0] = values[0] + 1000.0  # an outlier series: it would shift the statistics if it were used
    seed = next(s for s in range(50) if 0 in data.from_arrays(times, values, seed=s, test_fraction=0.25).test_idx)
    ds = data.from_arrays(times, values, test_fraction=0.25, seed=seed)
    train_values = np.concatenate([values[i] for i in ds.train_idx])
    mean = np.nanmean(train_values, axis=0)
    std = np.nanstd(train_values, axis=0)
    np.testing.assert_allclose(ds.scaling.mean, mean, rtol=1e-10)
    np.testing.assert_allclose(ds.scaling.std, std, rtol=1e-10)
    all_mean = np.nanmean(np.concatenate(values), axis=0)
    assert abs(all_mean[0] - mean[0]) > 10  # the test series really would have shifted it
    tb = ds.train_batch(dtype=torch.float64)
    obs = tb.mask.bool()
    for d in range(2):
        xd = tb.x[..., d][obs[..., d]]
        assert float(xd.mean()) == pytest.approx(0.0, abs=1e-9)
        assert float(xd.std(unbiased=False)) == pytest.approx(1.0, rel=1e-9)
    test = ds.test_batch(dtype=torch.float64)
    assert float(test.x[..., 0][test.mask[..., 0].bool()].mean()) > 10  # outlier far off in model units


def test_normalize_off_keeps_values():
    times, values = _arrays()
    ds = data.from_arrays(times, values, normalize=False, test_fraction=0.0)
    assert ds.scaling.mean == [0.0, 0.0] and ds.scaling.std == [1.0, 1.0]
    b = ds.batch([2], dtype=torch.float64)
    np.testing.assert_allclose(b.x[0][b.mask[0].bool()].numpy(), values[2][np.isfinite(values[2])])
    with pytest.raises(ValueError, match="no test split"):
        ds.test_batch()


def test_from_arrays_explicit_test_split():
    times, values = _arrays()
    ds = data.from_arrays(times, values, test_idx=[19, 3, 7], seed=5)
    np.testing.assert_array_equal(ds.test_idx, [3, 7, 19])
    assert ds.train_idx.tolist() == [i for i in range(20) if i not in (3, 7, 19)]
    v = np.concatenate([values[i] for i in ds.train_idx])
    np.testing.assert_allclose(ds.scaling.mean, np.nanmean(v, axis=0))  # statistics from the training split only
    assert data.from_arrays(times, values, test_idx=[]).test_idx.size == 0
    np.testing.assert_array_equal(data.from_arrays(times, values, test_idx=np.array([2, 0])).test_idx, [0, 2])


@pytest.mark.parametrize(
    ("test_idx", "match"),
    [
        ([0, 20], r"test_idx has \[20\] out of range for 20 series; indices run from 0 to 19"),
        ([-1], r"test_idx has \[-1\] out of range"),
        ([1, 4, 1], r"test_idx lists series \[1\] more than once"),
        ([0.5, 2.0], "test_idx must be a 1-D list of integer series indices"),
        ([[0, 1]], "test_idx must be a 1-D list of integer series indices"),
        ([True, False], "test_idx must be a 1-D list of integer series indices"),
        (list(range(20)), "the training split is empty; hold out fewer series"),
    ],
)
def test_from_arrays_rejects_bad_test_idx(test_idx, match):
    times, values = _arrays()
    with pytest.raises(ValueError, match=match):
        data.from_arrays(times, values, test_idx=test_idx)


def test_dataset_encode_many_matches_one_at_a_time():
    times, values = _arrays()
    ds = data.from_arrays(times, values, seed=1)
    new_t = [np.array([1005.0, 1100.0, 1490.0]), np.array([1010.0, 1100.0])]
    new_v = [np.array([[55.0, np.nan], [45.0, -3.1], [60.0, -2.9]]), np.array([[50.0, -3.0], [np.nan, -2.5]])]
    both = ds.encode_many(new_t, new_v, dtype=torch.float64)
    assert both.x.shape == (2, 4, 2)  # the union of the times: 1005, 1010, 1100, 1490
    for i, (t, v) in enumerate(zip(new_t, new_v)):
        one = ds.encode(t, v, dtype=torch.float64)
        (t_back, v_back, m_back), (t_one, v_one, m_one) = data.uncollate(both)[i], data.uncollate(one)[0]
        np.testing.assert_allclose(t_back, t_one)
        np.testing.assert_allclose(v_back, v_one)
        np.testing.assert_array_equal(m_back, m_one)
    with pytest.raises(ValueError, match="new series 1: has 1 channels, expected 2"):
        ds.encode_many(new_t, [new_v[0], new_v[1][:, :1]])
    with pytest.raises(ValueError, match="2 time arrays, 1 value arrays; pass one of each per series"):
        ds.encode_many(new_t, new_v[:1])
    with pytest.raises(ValueError, match="no series given"):
        ds.encode_many([], [])


def test_dataset_encode_new_series():
    times, values = _arrays()
    ds = data.from_arrays(times, values, seed=1)
    sc = ds.scaling
    t_new = np.array([1005.0, 1100.0, 1490.0])
    v_new = np.array([[55.0, np.nan], [45.0, -3.1], [60.0, -2.9]])
    b = ds.encode(t_new, v_new, dtype=torch.float64)
    np.testing.assert_allclose(b.t.numpy(), (t_new - sc.t_offset) / sc.t_scale)
    np.testing.assert_array_equal(b.mask[0].numpy(), np.isfinite(v_new).astype(float))
    expected = (v_new - np.array(sc.mean)) / np.array(sc.std)
    obs = np.isfinite(v_new)
    np.testing.assert_allclose(b.x[0].numpy()[obs], expected[obs])
    with pytest.raises(ValueError, match="new series: has 1 channels, expected 2"):
        ds.encode(t_new, v_new[:, :1])
    with pytest.raises(ValueError, match="new series: times are not sorted"):
        ds.encode(t_new[::-1], v_new)


def test_batches_iterate_training_split():
    rng = np.random.default_rng(0)
    times = [np.sort(rng.choice(np.arange(20.0), 4, replace=False)) for _ in range(20)]
    values = [np.full(4, float(i)) for i in range(20)]  # series i holds the value i
    ds = data.from_arrays(times, values, test_fraction=0.25, seed=0, normalize=False)
    it = ds.batches(5, generator=gen(0))
    epoch = [next(it) for _ in range(3)]  # 15 training series in 3 batches of 5
    ids = [int(v[0, 0]) for b in epoch for _, v, _ in data.uncollate(b)]
    assert sorted(ids) == sorted(ds.train_idx.tolist())
    full = next(ds.batches(100, split="test"))
    assert sorted(int(v[0, 0]) for _, v, _ in data.uncollate(full)) == sorted(ds.test_idx.tolist())


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: data.from_arrays(np.arange(3.0), [np.arange(3.0)]), "times must be a list of per-series arrays"),
        (lambda: data.from_arrays([np.arange(3.0)], [np.arange(3.0), np.arange(3.0)]), "1 time arrays but 2 value arrays"),
        (lambda: data.from_arrays([np.arange(3.0)], [np.arange(3.0)], masks=[]), "0 masks for 1 series"),
        (lambda: data.from_arrays([np.arange(3.0)], [np.arange(3.0)], test_fraction=1.0), "test_fraction must be in"),
        (lambda: data.from_arrays([], []), "no series given"),
        (lambda: data.from_arrays([np.arange(3.0), np.arange(3.0)], [np.arange(3.0), np.full(3, np.nan)]), "series 1: no observed value"),
        (lambda: data.SeriesDataset([(np.arange(3.0), np.arange(3.0))], truth=[np.zeros(3), np.zeros(3)]), "truth has 2 series"),
    ],
)
def test_dataset_rejects_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_from_arrays_with_masks():
    t = [np.array([0.0, 1.0, 2.0]), np.array([0.5, 1.5])]
    v = [np.array([1.0, 99.0, 3.0]), np.array([2.0, 4.0])]
    m = [np.array([1.0, 0.0, 1.0]), np.array([1.0, 1.0])]
    ds = data.from_arrays(t, v, masks=m, test_fraction=0.0)
    np.testing.assert_allclose(ds.scaling.mean, [np.mean([1.0, 3.0, 2.0, 4.0])])  # 99 is masked out


# ----------------------------------------------------------------------------------------------
# synthetic generators
# ----------------------------------------------------------------------------------------------
def test_periodic_matches_its_formula():
    ds = data.periodic(n_series=12, n_points=30, seed=4, noise_std=0.01)
    t = ds.series[0][0]
    assert t[0] == 0.0 and t.size == 30 and all(np.array_equal(s[0], t) for s in ds.series)
    f, c = ds.params["freq"], ds.params["offset"]
    assert ((f >= 0.4) & (f <= 0.8)).all()
    for i in range(12):
        np.testing.assert_allclose(ds.truth[i][:, 0], np.sin(2 * np.pi * f[i] * t) + c[i], rtol=1e-12)
        resid = ds.series[i][1][:, 0] - ds.truth[i][:, 0]
        assert np.abs(resid).max() < 0.06  # 6 sigma of the noise
    b = ds.train_batch()
    assert float(b.t[-1]) == pytest.approx(1.0) and b.truth is not None
    again = data.periodic(n_series=12, n_points=30, seed=4, noise_std=0.01)
    np.testing.assert_array_equal(again.series[3][1], ds.series[3][1])


def test_spirals_lie_on_their_curves():
    n_grid, stop = 200, 6 * np.pi
    ds = data.spirals(n_series=20, n_points=15, n_grid=n_grid, seed=1)
    assert ds.dim == 2 and len(ds) == 20
    cw = ds.params["clockwise"]
    assert 0 < cw.sum() < 20
    theta = np.linspace(0.0, stop, n_grid)
    curves = {c: data.spiral_curve(theta, c) for c in (True, False)}
    for i in range(20):
        t = ds.series[i][0]
        assert t[0] == 0.0 and t.size == 15
        np.testing.assert_allclose(np.round(t / theta[1]), t / theta[1], atol=1e-9)  # times are grid steps
        dist = np.linalg.norm(ds.truth[i][:, None, :] - curves[bool(cw[i])][None], axis=-1).min(axis=1)
        assert dist.max() < 1e-12  # every clean point is on its own spiral
    with pytest.raises(ValueError, match="need n_points <= window"):
        data.spirals(n_series=2, n_points=50, n_grid=60)
