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


CONFIGS = [(1000.0, 8, 50.0), (1000.0, 3, 60.0), (250.0, 1, 50.0), (500.0, 5, None), (256.0, 2, 50.0), (2000.0, 2, 60.0)]


@pytest.mark.parametrize("fs, n_ch, mains", CONFIGS)
def test_window_features_match_scipy_filter_and_full_fft(fs, n_ch, mains):
    seg = Segmenter(fs, n_ch, mains_hz=mains)
    win, nw = seg.win, 37
    x = _signal(fs, n_ch, nw * win + 3, seed=int(fs) + n_ch, mains_hz=mains or 50.0)[:, : nw * win]
    zi0 = signal.sosfilt_zi(seg._sos)[:, None, :] * x[None, :, :1].astype(np.float64)
    ref = R.window_features_ref(x, seg._sos, zi0, win, seg._spectral_mask())
    zi = zi0.copy()
    out = {k: np.empty((n_ch, nw)) for k in ("mean", "rms", "total_ms")}
    same_run = np.empty((n_ch, nw), np.int64)
    states = np.empty((n_ch, nw, 4))
    K.window_features(x, seg._sos, zi, *seg._removed_tables(), out["mean"], out["rms"], out["total_ms"],
                      same_run, states)
    np.testing.assert_array_equal(zi, ref["zi"])  # the filter is SciPy's, bit for bit
    np.testing.assert_array_equal(states, ref["states"])
    np.testing.assert_array_equal(out["mean"], ref["mean"])  # NumPy's pairwise sum, bit for bit
    np.testing.assert_array_equal(same_run, ref["same_run"])
    assert same_run[0].max() >= int(0.05 * fs) - 1
    # Parseval over the removed bins vs the inverse FFT of the kept ones: rounding only
    np.testing.assert_allclose(out["rms"], ref["rms"], rtol=1e-9)
    np.testing.assert_allclose(out["total_ms"], ref["total_ms"], rtol=1e-12)
    chans = np.array([0, n_ch - 1, n_ch - 1]), np.array([0, nw // 2, nw - 1])
    np.testing.assert_array_equal(R.highpass_windows_ref(x, seg._sos, states, *chans, win),
                                  ref["hp"].reshape(n_ch, nw, win)[chans])  # the states restart it exactly


@pytest.mark.parametrize("fs, n_ch, mains", CONFIGS)
def test_window_fractions_match_the_inverse_fft(fs, n_ch, mains):
    seg = Segmenter(fs, n_ch, mains_hz=mains)
    win, nw = seg.win, 90
    x = _signal(fs, n_ch, nw * win, seed=7 + n_ch, mains_hz=mains or 50.0)
    zi = signal.sosfilt_zi(seg._sos)[:, None, :] * x[None, :, :1].astype(np.float64)
    states = np.empty((n_ch, nw, 4))
    K.window_features(x, seg._sos, zi, *seg._removed_tables(), *(np.empty((n_ch, nw)) for _ in range(3)),
                      np.empty((n_ch, nw), np.int64), states)
    rng = np.random.default_rng(1)
    chans = rng.integers(0, n_ch, 150)
    wins = rng.integers(0, nw, 150)
    thr_a = rng.uniform(1, 30, 150)
    thr_b = 10 * thr_a
    thr_a[:3] = np.nan
    fa, fb = np.empty(150), np.empty(150)
    cos_tab, sin_tab, bin_rows, _ = seg._removed_tables()
    K.window_fractions(x, seg._sos, states, chans, wins, cos_tab, sin_tab, bin_rows, seg._waves, thr_a, thr_b,
                       fa, fb)
    ra, rb = R.window_fractions_ref(x, seg._sos, states, chans, wins, win, seg._spectral_mask(), thr_a, thr_b)
    np.testing.assert_array_equal(fa, ra)  # no sample within rounding of a threshold here
    np.testing.assert_array_equal(fb, rb)
    assert fa.max() >= 0.25 and (fa[3:] == 0).any() and not fa[:3].any()


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
        touch = rng.random(shape) < 0.05
        base = rng.random(shape) < 0.1
        got = base.copy()
        K.mark_touching_runs(runs, touch, got)
        np.testing.assert_array_equal(got, R.mark_touching_runs_ref(runs, touch, base))


def test_fractions_are_exact_wherever_a_rule_can_see_them():
    """Windows are transformed only where the RMS allows 25 % of samples above 3 x noise; the
    shares the rules compare (>= 25 %, >= 90 %, the 10 x share of dense windows) are those of
    the full inverse FFT of every window."""
    fs, n_ch, nw = 1000.0, 3, 300
    seg = Segmenter(fs, n_ch, mains_hz=50.0)
    win = seg.win
    x = _signal(fs, n_ch, nw * win, seed=9)
    rng = np.random.default_rng(9)
    for c in range(n_ch):  # bursts of every strength, so every rule is near its edge somewhere
        for k in range(0, nw, 7):
            x[c, k * win : (k + 2) * win] += rng.uniform(0, 60) * rng.normal(size=2 * win)
    zi = signal.sosfilt_zi(seg._sos)[:, None, :] * x[None, :, :1].astype(np.float64)
    ref = R.window_features_ref(x, seg._sos, zi, win, seg._spectral_mask())
    mean, rms, total = (np.empty((n_ch, nw)) for _ in range(3))
    states = np.empty((n_ch, nw, 4))
    K.window_features(x, seg._sos, zi.copy(), *seg._removed_tables(), mean, rms, total,
                      np.empty((n_ch, nw), np.int64), states)
    sigma_w = np.full((n_ch, nw), 4.0)
    sigma_w[:, :5] = np.nan  # unknown noise: nothing active
    frac, frac_hi = seg._fractions(x, states, rms, total, sigma_w)
    y = np.abs(np.fft.irfft(np.where(seg._spectral_mask(), np.fft.rfft(ref["hp"].reshape(n_ch, nw, win)), 0),
                            n=win))
    full = (y > 3.0 * sigma_w[..., None]).mean(axis=2)
    full_hi = (y > 10.0 * sigma_w[..., None]).mean(axis=2)
    assert 0.2 < np.mean(full >= 0.25) < 0.8 and (full >= 0.9).any()
    seen = full >= 0.25
    np.testing.assert_array_equal(frac[seen], full[seen])
    np.testing.assert_array_equal(frac_hi[seen], full_hi[seen])
    assert np.all(frac[~seen] < 0.25)
    assert not frac[:, :5].any()
    assert np.count_nonzero(frac) < frac.size  # some windows were skipped


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
        "segs = segment_recording(x, 1000.0, mains_hz=50.0, chunk_s=5.0)\n"
        "json.dump([[s.start_s, s.end_s, s.label, s.channel] for s in segs], sys.stdout)\n"
    )
    env = {**os.environ, "EMG_NO_NUMBA": "1"}
    res = subprocess.run([sys.executable, "-c", code], check=False, env=env, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr
    compiled = segment_recording(data, fs, mains_hz=50.0, chunk_s=5.0)
    assert json.loads(res.stdout) == [[s.start_s, s.end_s, s.label, s.channel] for s in compiled]
    assert {s.label for s in compiled} >= {"voluntary", "artifact"}


def test_fraction_shortcut_bound_is_tight_for_the_worst_window():
    """The fewest energy for 25 % of samples above 3 x noise: 25 samples just above, the rest
    zero. Such a window must still be transformed; one with less energy than any 25 % can
    hold must not."""
    seg = Segmenter(1000.0, 1, mains_hz=50.0)
    sigma = 2.0
    thr = np.full((1, 2), seg.active_k * sigma)
    y = np.zeros((2, seg.win))
    y[0, :25] = 1.0001 * thr[0, 0]  # exactly 25 % above
    y[1, :25] = 0.999 * thr[0, 0]  # none above, just below the bound
    rms = np.sqrt((y * y).mean(axis=1))[None, :]
    assert (np.abs(y[0]) > thr[0, 0]).mean() == seg.active_fraction
    np.testing.assert_array_equal(seg._may_reach_fraction(rms, rms**2, thr), [[True, False]])
    assert not seg._may_reach_fraction(rms, rms**2, np.full((1, 2), np.nan)).any()
