"""Streaming filters: chunk-invariant, restart cleanly after gaps, mains found and cancelled
without the ringing a notch leaves after a large spike."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from emg.filters import (
    DetectionFilter,
    MainsCanceller,
    StreamingFilter,
    detect_mains,
    highpass_sos,
    lowpass_sos,
    mains_harmonics,
    notch_sos,
)


def _chunks(n, rng):
    cuts = np.sort(rng.choice(np.arange(1, n), size=7, replace=False))
    return np.split(np.arange(n), cuts)


def test_streaming_filter_matches_scipy_and_any_chunking():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((3, 5000)) * 10 + 500).astype(np.float32)
    sos = np.vstack([highpass_sos(1000.0), lowpass_sos(1000.0)])
    whole = StreamingFilter(sos, 3).process(x)
    # reference: scipy sosfilt started in steady state for the first sample, per channel
    ref = np.vstack([signal.sosfilt(sos, x[c].astype(float), zi=signal.sosfilt_zi(sos) * float(x[c, 0]))[0]
                     for c in range(3)])
    assert np.allclose(whole, ref, atol=1e-3)
    f = StreamingFilter(sos, 3)
    parts = np.concatenate([f.process(x[:, idx]) for idx in _chunks(5000, rng)], axis=1)
    assert np.array_equal(parts, whole)


def test_gap_restarts_in_steady_state_without_transient():
    x = np.full((1, 4000), 2500.0, np.float32)  # a DC electrode offset
    x[0, 2000:] = -800.0  # offset changed during the gap
    valid = np.ones(4000, bool)
    valid[1500:2000] = False
    y = StreamingFilter(highpass_sos(1000.0), 1).process(x, valid)
    assert np.all(y[0, 1500:2000] == 0.0)
    assert np.abs(y).max() < 1e-2  # no step response at the start nor after the gap


@pytest.mark.parametrize("mains", [50.0, 60.0])
@pytest.mark.parametrize("fs", [250.0, 1000.0])
def test_detect_mains(mains, fs):
    rng = np.random.default_rng(1)
    t = np.arange(int(2 * fs)) / fs
    x = 3000 + 20 * np.cos(2 * np.pi * mains * t) + rng.standard_normal((2, t.size)) * 5
    assert detect_mains(x, fs) == mains
    assert detect_mains(x[:, :10], fs) is None  # too short to tell


def test_harmonics_list_respects_lowpass_and_nyquist():
    assert list(mains_harmonics(1000.0, 50.0, 250.0)) == [50, 100, 150, 200, 250, 300]
    assert list(mains_harmonics(250.0, 60.0, 250.0)) == [60.0]
    assert list(mains_harmonics(250.0, 50.0, 250.0)) == [50.0, 100.0]


def test_canceller_follows_drifting_mains_to_the_noise_floor():
    fs, n = 1000.0, 40000
    t = np.arange(n) / fs
    rng = np.random.default_rng(2)
    noise = rng.standard_normal(n) * 3.0
    # 0.05 Hz off nominal, amplitude changing by half over the record, strong 3rd harmonic
    amp = 300 * (1 + 0.5 * t / t[-1])
    mains = amp * np.cos(2 * np.pi * 60.05 * t) + 0.5 * amp * np.cos(2 * np.pi * 180.15 * t + 1)
    c = MainsCanceller(fs, 60.0, 1)
    y = c.process((mains + noise)[None].astype(np.float32), np.ones(n, bool), 0)[0]
    assert np.std(y[10000:] - noise[10000:]) < 2.0  # residual < 2 µV RMS (from 350 µV), incl. misadjustment
    assert c.dw[0] * fs / (2 * np.pi) == pytest.approx(0.05, abs=0.01)


def test_canceller_leaves_no_ringing_after_a_spike_unlike_a_notch():
    fs, n = 1000.0, 6000
    t = np.arange(n) / fs
    rng = np.random.default_rng(3)
    x = 100 * np.cos(2 * np.pi * 50 * t) + rng.standard_normal(n) * 3.0
    spike = np.zeros(n)
    spike[4000:4012] = 800 * np.sin(np.linspace(0, 2 * np.pi, 12))  # 800 µV biphasic, 12 ms
    x = (x + spike).astype(np.float32)
    after = slice(4030, 4200)  # 18-200 ms after the spike
    d = DetectionFilter(fs, 1, 50.0)
    d.warm_up(x[None, :2000])
    y = d.process(x[None])[0]
    sos = np.vstack([highpass_sos(fs), notch_sos(fs, 50.0, q=30.0, max_hz=350.0), lowpass_sos(fs)])
    z = signal.sosfilt(sos, x.astype(float))
    ring_cancel = np.std(y[after])
    ring_notch = np.std(z[after])
    assert ring_cancel < 5.0  # close to the 3 µV noise
    assert ring_notch > 2 * ring_cancel


def test_detection_filter_is_chunk_invariant_with_gaps():
    fs = 1000.0
    rng = np.random.default_rng(4)
    t = np.arange(8000) / fs
    x = (1000 + 80 * np.cos(2 * np.pi * 50 * t) + rng.standard_normal((2, 8000)) * 4).astype(np.float32)
    valid = np.ones(8000, bool)
    valid[3000:3400] = False
    a = DetectionFilter(fs, 2, 50.0)
    a.warm_up(x[:, :2000])
    whole = a.process(x, valid)
    b = DetectionFilter(fs, 2, 50.0)
    b.warm_up(x[:, :2000])
    parts = np.concatenate([b.process(x[:, idx], valid[idx]) for idx in _chunks(8000, rng)], axis=1)
    assert np.array_equal(whole, parts)
    assert np.all(whole[:, 3000:3400] == 0)


def test_invalid_highpass_message():
    with pytest.raises(ValueError, match="Invalid value for 'highpass_hz'"):
        highpass_sos(250.0, 200.0)
