"""Segmenter kernels against their NumPy/SciPy references (``emg/_segments_ref.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import signal

from emg import _segments_numba as K
from emg import _segments_ref as R
from emg.segments import Segmenter, segment_recording


def _signal(fs, n_ch, n, seed, mains_hz=50.0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    x = rng.normal(0, 3, (n_ch, n)) + rng.normal(0, 2000, (n_ch, 1))
    x += rng.uniform(20, 300, (n_ch, 1)) * np.sin(2 * np.pi * mains_hz * t)  # strong mains
    x += 30 * np.sin(2 * np.pi * 3 * mains_hz * t)
    x[0, n // 3 : n // 3 + int(0.05 * fs)] = x[0, n // 3]  # a flat run
    burst = slice(n // 2, n // 2 + int(0.3 * fs))
    x[-1, burst] += rng.normal(0, 80, burst.stop - burst.start)
    return x.astype(np.float32)


CONFIGS = [(1000.0, 8), (1000.0, 3), (250.0, 1), (500.0, 5), (256.0, 2), (2000.0, 2)]


def _filtered(fs, n_ch, n, seed):
    """The detector's filtered signal of :func:`_signal` (what the segmenter reads)."""
    from emg.filters import DetectionFilter

    x = _signal(fs, n_ch, n, seed)
    f = DetectionFilter(fs, n_ch, 50.0)
    f.warm_up(x[:, : int(2 * fs)])
    return x, f.process(x)


@pytest.mark.parametrize("fs, n_ch", CONFIGS)
def test_raw_window_stats_match_numpy(fs, n_ch):
    win, nw = Segmenter(fs, n_ch).win, 37
    x = _signal(fs, n_ch, nw * win + 3, seed=int(fs) + n_ch)
    mean, same_run = np.empty((n_ch, nw)), np.empty((n_ch, nw), np.int64)
    K.raw_window_stats(x[:, : nw * win], mean, same_run)
    ref_mean, ref_run = R.raw_window_stats_ref(x, win)
    np.testing.assert_array_equal(mean, ref_mean)  # NumPy's pairwise sum, bit for bit
    np.testing.assert_array_equal(same_run, ref_run)
    assert same_run[0].max() >= int(0.05 * fs) - 1  # the planted flat run


@pytest.mark.parametrize("fs, n_ch", CONFIGS)
def test_window_rms_and_fractions_match_numpy_wherever_a_rule_can_see_them(fs, n_ch):
    """RMS to rounding; the shares exact in every window whose share above ``thr_a`` reaches
    ``f_min`` (the smallest a rule reads), below it elsewhere, 0 where the RMS rules it out."""
    seg = Segmenter(fs, n_ch)
    win, nw = seg.win, 120
    x, y = _filtered(fs, n_ch, nw * win, seed=7 + n_ch)
    rng = np.random.default_rng(int(fs) + n_ch)
    for c in range(n_ch):  # bursts of every strength, so the rules' edges are crossed somewhere
        for k in range(0, nw - 1, 7):
            y[c, k * win : (k + 2) * win] += (10 ** rng.uniform(0, 2.5) * rng.normal(size=2 * win)).astype(np.float32)
    rms = np.empty((n_ch, nw))
    K.window_rms(y, rms)
    np.testing.assert_allclose(rms, R.window_rms_ref(y, win), rtol=1e-12)
    sigma = rng.uniform(0.7, 2.0, (n_ch, nw)) * np.median(rms, axis=1, keepdims=True)  # about the rest noise
    sigma[:, :3] = np.nan  # unknown noise: nothing counts
    thr_a, thr_b = 3.0 * sigma, 10.0 * sigma
    f_min = min(seg.active_fraction, seg.dense_fraction)
    fa, fb = np.empty((n_ch, nw)), np.empty((n_ch, nw))
    K.window_fractions(y, rms, thr_a, thr_b, f_min, fa, fb)
    ra, rb = R.window_fractions_ref(y, win, thr_a, thr_b)
    seen = ra >= f_min
    assert 0.05 < seen.mean() < 0.9 and (ra >= 0.9).any() and (rb[seen] > 0).any()
    np.testing.assert_array_equal(fa[seen], ra[seen])
    np.testing.assert_array_equal(fb[seen], rb[seen])
    assert np.all(fa[~seen] < f_min) and np.all(fb[~seen] <= rb[~seen])
    assert not fa[:, :3].any() and not fb[:, :3].any()
    assert (fa[~seen] == 0).mean() > 0.5  # most quiet windows were skipped


def test_window_rms_sums_each_window_in_sample_order_for_any_window_count():
    """Four windows are summed side by side, the rest one by one: every window's sum of
    squares is still the float64 sum in sample order (``np.cumsum``'s order), bit for bit."""
    rng = np.random.default_rng(21)
    win = 100
    for nw in (1, 3, 4, 5, 8, 11):
        y = (rng.normal(0, 1, (3, nw * win)) * 10 ** rng.uniform(-3, 4, (3, nw * win))).astype(np.float32)
        rms = np.empty((3, nw))
        K.window_rms(y, rms)
        sq = y.astype(np.float64).reshape(3, nw, win) ** 2
        np.testing.assert_array_equal(rms, np.sqrt(np.cumsum(sq, axis=-1)[..., -1] / win))


def test_raw_window_stats_flat_runs_with_many_equal_neighbours_and_at_stretch_borders():
    """Coarsely quantised data (equal neighbours everywhere), and equal pairs only across
    window borders or stretch borders (16 windows are tested at once): same as NumPy."""
    rng = np.random.default_rng(22)
    win, nw = 50, 41
    coarse = np.round(rng.normal(0, 2, (2, nw * win))).astype(np.float32)
    border = rng.normal(0, 3, (2, nw * win)).astype(np.float32)
    for w in (1, 15, 16, 31, 32):  # a pair across the border before window w only
        border[:, w * win] = border[:, w * win - 1]
    border[1, 16 * win + 3 : 16 * win + 9] = 7.0  # a run just after a stretch border
    for x in (coarse, border):
        mean, same_run = np.empty((2, nw)), np.empty((2, nw), np.int64)
        K.raw_window_stats(x, mean, same_run)
        ref_mean, ref_run = R.raw_window_stats_ref(x, win)
        np.testing.assert_array_equal(mean, ref_mean)
        np.testing.assert_array_equal(same_run, ref_run)
    assert same_run[1, 16] == 5 and same_run[0].max() == 0


def test_fraction_shortcut_bound_is_tight_for_the_worst_window():
    """The least energy for 25 % of samples above 3 x noise: 25 samples just above, the rest
    zero. Such a window must still be counted; one with less energy than any 25 % can hold
    is skipped (and could not reach 25 %)."""
    seg = Segmenter(1000.0, 1)
    thr = seg.active_k * 2.0
    y = np.zeros((1, 2 * seg.win), np.float32)
    y[0, :25] = 1.0001 * thr  # exactly 25 % above
    y[0, seg.win : seg.win + 25] = 0.999 * thr  # none above, just below the bound
    rms = np.empty((1, 2))
    K.window_rms(y, rms)
    fa, fb = np.empty((1, 2)), np.empty((1, 2))
    K.window_fractions(y, rms, np.full((1, 2), thr), np.full((1, 2), 10 * thr), 0.25, fa, fb)
    np.testing.assert_array_equal(fa, [[0.25, 0.0]])
    assert (np.abs(y[0, : seg.win]) > thr).mean() == seg.active_fraction


@pytest.mark.parametrize("width, q", [(600, 0.2), (300, 0.9), (7, 0.0), (7, 1.0), (1, 0.5), (50, 0.37)])
def test_trailing_percentile_is_bit_identical_to_numpy(width, q):
    rng = np.random.default_rng(width)
    values = np.round(rng.lognormal(0, 0.5, (3, 1500)), 2)  # many ties
    values[1, 700] = np.nan
    ends = np.concatenate([np.arange(1, 1500, 10), [1500, 900, 20, 1400, 1400]]).astype(np.int64)
    out = np.empty((3, len(ends)))
    K.trailing_percentile(values, np.argsort(values, axis=1), ends, width, q, out)
    np.testing.assert_array_equal(out, R.trailing_percentile_ref(values, ends, width, q))
    assert np.isnan(out[1]).any() and np.isfinite(out[0]).all()


def test_noise_levels_match_the_reference_rule():
    rng = np.random.default_rng(3)
    n_ch, nw, block = 4, 127, 10
    rms = rng.lognormal(1, 0.3, (n_ch, nw))
    rms[2, 40:60] *= 20  # a loud stretch: the cap at 1.5x and the drop to the median act
    ok = rng.random(nw) > 0.2
    ok[:12] = False  # nothing usable at first: unknown noise
    ok[13] = True
    n_b = -(-nw // block)
    cnt = np.concatenate([[0], np.cumsum(ok)])[np.arange(0, nw, block)].astype(np.int64)
    p20 = rng.lognormal(1, 0.2, (n_ch, n_b))
    for start in (np.full(n_ch, np.nan), np.array([1.0, 2.0, np.nan, 0.5])):
        sigma = start.copy()
        sigma_b = np.empty((n_ch, n_b))
        K.noise_levels(rms, ok, p20, cnt, block, sigma, sigma_b)
        ref_sigma, ref_b = R.noise_levels_ref(rms, ok, p20, cnt, block, start)
        np.testing.assert_array_equal(sigma_b, ref_b)
        np.testing.assert_array_equal(sigma, ref_sigma)
        assert np.isnan(sigma_b[:, 0]).all() and np.isfinite(sigma_b[:, -1]).all()


def test_running_median_dilation_and_touching_runs_match_references():
    rng = np.random.default_rng(5)
    for shape, half in (((8, 684), 3), ((1, 5), 3), ((2, 1), 1), ((3, 40), 0)):
        m = np.round(rng.normal(size=shape), 1)
        out = np.empty_like(m)
        K.running_median(m, half, out)
        np.testing.assert_array_equal(out, R.running_median_ref(m, half))
    for shape in ((8, 684), (1, 3), (3, 1)):
        x = rng.random(shape) < 0.05
        for before, after in ((0, 0), (0, 4), (2, 4), (3, 10), (7, 0)):
            out = np.empty_like(x)
            K.dilate_rows(x, before, after, out)
            np.testing.assert_array_equal(out, R.dilate_rows_ref(x, before, after))
        runs = R.dilate_rows_ref(rng.random(shape) < 0.1, 2, 2)
        marks = rng.random(shape) < 0.05
        base = rng.random(shape) < 0.1
        for reach in (0, 1, 3, 10):
            got = base.copy()
            K.mark_near_runs(runs, marks, reach, got)
            np.testing.assert_array_equal(got, R.mark_near_runs_ref(runs, marks, reach, base))


def test_without_numba_the_segments_are_the_same(tmp_path):
    """EMG_NO_NUMBA=1 runs every kernel as Python: same segments and noise as compiled."""
    fs = 1000.0
    rng = np.random.default_rng(11)
    x = rng.normal(0, 3, (2, int(14 * fs))) + 5000.0
    x[0, 6000:9000] += signal.sosfilt(signal.butter(4, [20, 250], "bandpass", fs=fs, output="sos"),
                                      rng.normal(0, 200, 3000))
    x[1, 11000:11500] = 187500.0
    data = x.astype(np.float32)
    np.save(tmp_path / "x.npy", data)
    code = (
        "import json, sys, numpy as np\n"
        "from emg.segments import Segmenter, segment_recording\n"
        f"x = np.load({str(tmp_path / 'x.npy')!r})\n"
        "segs = segment_recording(x, 1000.0, mains=50, chunk_s=5.0)\n"
        "json.dump([[s.start_s, s.end_s, s.label, s.channel] for s in segs], sys.stdout)\n"
    )
    env = {**os.environ, "EMG_NO_NUMBA": "1"}
    res = subprocess.run([sys.executable, "-c", code], check=False, env=env, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr
    compiled = segment_recording(data, fs, mains=50, chunk_s=5.0)
    assert json.loads(res.stdout) == [[s.start_s, s.end_s, s.label, s.channel] for s in compiled]
    assert {s.label for s in compiled} >= {"voluntary", "artifact"}
