"""The detector: kernels agree with their NumPy references, results do not depend on
chunking, planted potentials are found, gaps produce nothing."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emg import _detect_numba as K
from emg import _detect_ref as R
from emg.detect import Detector, detect
from emg.filters import highpass_sos, lowpass_sos, mains_harmonics
from emg.simulate import simulate
from emg.types import Chunk, Events, Recording


def _recall_precision(events: Events, truth, tol_s=0.015):
    tp = n_true = n_call = 0
    for c in range(truth.n_channels):
        true_t = truth.fasciculation_times(c)
        calls = events.onset_s[events.channel == c]
        n_true, n_call = n_true + len(true_t), n_call + len(calls)
        if len(true_t) and len(calls):
            d = np.abs(calls[:, None] - true_t[None, :])
            tp += int(np.sum(d.min(axis=0) <= tol_s))
    return tp / max(n_true, 1), tp / max(n_call, 1)


# -- kernels against references -------------------------------------------------------------
def _gappy(rng, n):
    valid = np.ones(n, bool)
    for _ in range(3):
        i = int(rng.integers(10, n - 60))
        valid[i : i + int(rng.integers(1, 50))] = False
    return valid


@pytest.mark.parametrize("seed", range(3))
def test_sos_filter_kernel_matches_scipy_reference(seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((2, 3000)) * 20 + rng.uniform(-500, 500, (2, 1))).astype(np.float32)
    valid = _gappy(rng, 3000)
    sos = np.vstack([highpass_sos(1000.0), lowpass_sos(1000.0)])
    from scipy import signal

    out = np.empty_like(x)
    K.sos_filter(x, valid, sos, signal.sosfilt_zi(sos), np.zeros((2, len(sos), 2)), np.ones(2, bool), out)
    ref = R.sos_filter_ref(x, valid, sos)
    assert np.allclose(out, ref, atol=1e-3)


@pytest.mark.parametrize("seed", range(3))
def test_block_mad_kernel_matches_reference(seed):
    rng = np.random.default_rng(seed)
    y = (rng.standard_normal((3, 4000)) * rng.uniform(1, 10, (3, 1))).astype(np.float32)
    usable = _gappy(rng, 4000)
    usable[1000:1900] = False  # one block with too few usable samples -> NaN
    got = K.block_mad(y, usable, 1000, 0.25, 1 + seed)
    ref = R.block_mad_ref(y, usable, 1000, 0.25, 1 + seed)
    assert np.isnan(got[:, 1]).all() and np.isnan(ref[:, 1]).all()
    assert np.allclose(got, ref, rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("seed", range(6))
def test_select_rank_puts_the_value_of_that_rank_in_place(seed):
    rng = np.random.default_rng(seed)
    for n in (1, 2, 3, 7, 250, 251, 1000):
        # noise, heavy ties (railed or quantised inputs) and sorted runs
        for a in (rng.standard_normal(n), rng.integers(0, 3, n), np.sort(rng.standard_normal(n)), np.ones(n)):
            a = np.abs(a).astype(np.float32)
            for k in {0, n // 2, n - 1}:
                b = np.concatenate([a, np.float32([-1.0, -2.0])])  # values past n are not touched
                K.select_rank(b, n, k)
                assert b[k] == np.sort(a)[k]
                assert (b[:k] <= b[k]).all() and (b[k:n] >= b[k]).all()
                assert sorted(b[:n]) == sorted(a) and list(b[n:]) == [-1.0, -2.0]


def test_block_mad_is_numpys_median_exactly():
    rng = np.random.default_rng(5)
    y = (rng.standard_normal((4, 20000)) * 3).astype(np.float32)
    y[1, 3000:6000] = 2.5  # a railed stretch: all values equal
    y[2] = np.round(y[2])  # quantised: many ties
    usable = _gappy(rng, 20000)
    for stride in (1, 3, 4):  # even and odd counts per block
        got = K.block_mad(y, usable, 1000, 0.25, stride)
        want = np.full_like(got, np.nan)
        for b in range(got.shape[1]):
            sl = slice(b * 1000, (b + 1) * 1000, stride)
            if usable[sl].sum() >= max(1, int(0.25 * len(usable[sl]))):
                med = np.median(np.abs(y[:, sl][:, usable[sl]]), axis=1)  # float32, as the kernel's
                want[:, b] = med.astype(np.float64) / 0.6744897501960817
        np.testing.assert_array_equal(got, want)
    y[3, 12_345] = np.nan  # a NaN sample (a Chunk does not check): that block's noise is NaN, as np.median's
    usable[12_000:13_000] = True
    got = K.block_mad(y, usable, 1000, 0.25, 1)
    assert np.isnan(got[3, 12])
    finite = K.block_mad(np.nan_to_num(y), usable, 1000, 0.25, 1)
    np.testing.assert_array_equal(np.delete(got, 12, axis=1), np.delete(finite, 12, axis=1))


@pytest.mark.parametrize("seed", range(40))
def test_threshold_kernel_matches_reference(seed):
    rng = np.random.default_rng(seed)
    n_ch, n, block_n = 2, 3000, 500
    y = (rng.standard_normal((n_ch, n)) * 3).astype(np.float32)
    for _ in range(40):
        c, i = rng.integers(n_ch), rng.integers(0, n - 30)
        y[c, i : i + rng.integers(3, 25)] += rng.normal(0, 40)
    usable = _gappy(rng, n)
    thr = rng.uniform(8, 15, (n_ch, n // block_n))
    p = dict(merge_n=int(rng.integers(1, 6)), max_n=int(rng.integers(5, 40)), dead_n=int(rng.integers(0, 5)),
             extend_frac=float(rng.choice([0.0, 0.1, 0.3])), shadow_frac=float(rng.choice([0.0, 0.6])),
             shadow_n=float(rng.uniform(3, 20)))
    state = np.zeros((n_ch, 5), np.int64)
    state[:, 3:] = -(1 << 40)
    cap = n_ch * n
    oc, op, ov = np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(cap)
    k = K.threshold_events(y, usable, thr, block_n, 0, p["merge_n"], p["max_n"], p["dead_n"], p["extend_frac"],
                           p["shadow_frac"], p["shadow_n"], state, np.zeros((n_ch, 2)), oc, op, ov)
    rc, rp, rv = R.threshold_events_ref(y, usable, thr, block_n, **p)
    assert k == len(rc) > 5
    assert np.array_equal(oc[:k], rc) and np.array_equal(op[:k], rp)
    assert np.allclose(ov[:k], rv)


def test_threshold_kernel_skips_quiet_stretches_exactly():
    """The kernel skips stretches with no float32 |y| above the float64 threshold rounded
    down to float32: a sample one float32 step above a threshold between two float32 values
    still opens an event (rounded to the nearest, the threshold would be that value), one at
    the float32 just below it does not; NaN thresholds none."""
    thr_value = np.float64(10.0) + 9e-7  # between two float32 values, nearer the upper
    up = np.float32(thr_value)  # the nearest float32: just above
    down = np.nextafter(up, np.float32(-np.inf))
    assert down < thr_value < up
    n, block_n = 4000, 1000
    y = np.zeros((3, n), np.float32)
    y[0, [300, 1700, 2900]] = [up, -up, up]  # each alone in its stretch
    y[1, [300, 1700, 2900]] = [down, -down, down]
    y[2, 500] = 1000.0
    thr = np.full((3, n // block_n), thr_value)
    thr[2] = np.nan
    state = np.zeros((3, 5), np.int64)
    state[:, 3:] = -(1 << 40)
    oc, op, ov = np.empty(30, np.int64), np.empty(30, np.int64), np.empty(30)
    k = K.threshold_events(y, np.ones(n, bool), thr, block_n, 0, 4, 30, 3, 0.1, 0.6, 20.0, state,
                           np.zeros((3, 2)), oc, op, ov)
    rc, rp, _ = R.threshold_events_ref(y, np.ones(n, bool), thr, block_n, merge_n=4, max_n=30, dead_n=3,
                                       extend_frac=0.1, shadow_frac=0.6, shadow_n=20.0)
    assert oc[:k].tolist() == rc.tolist() == [0, 0, 0]
    assert op[:k].tolist() == rp.tolist() == [300, 1700, 2900]


def test_feature_kernel_matches_reference():
    rec, _ = simulate("clean", minutes=1, channels=2, seed=5)
    ev = detect(rec)
    assert len(ev) > 10
    got = K.event_features(ev.waveforms, ev.noise_uv.astype(float), rec.fs, 15, 3, 3.0, 0.1)
    ref = R.event_features_ref(ev.waveforms, ev.noise_uv.astype(float), rec.fs, 15, 3, 3.0, 0.1)
    for g, r in zip(got, ref):
        assert np.allclose(g, r, rtol=1e-6, atol=1e-6)
    # the detector's own columns are these features
    assert np.allclose(ev.amplitude_uv, got[0], rtol=1e-6)
    assert np.array_equal(ev.phases, got[2])


_PASS = ((1.0, 0.0, 0.0, 0.0, 0.0),)  # a band-pass section that changes nothing


def test_mains_kernel_matches_plain_lms_reference_when_freeze_and_loop_are_off():
    fs, n = 1000.0, 3000
    rng = np.random.default_rng(6)
    t = np.arange(n) / fs
    x = (80 * np.cos(2 * np.pi * 50 * t + 0.4) + 20 * np.cos(2 * np.pi * 150 * t) + rng.standard_normal(n) * 3)
    harm = mains_harmonics(fs, 50.0, 250.0)
    mu = np.arange(1, len(harm) + 1) / (0.1 * fs)
    phase = 2 * np.pi * np.outer(harm, np.arange(20)) / fs
    out = np.empty((1, n), np.float32)
    K.mains_cancel(x[None].astype(np.float32), np.ones(n, bool), _PASS, np.zeros((1, 2)), np.zeros((1, 1, 2)),
                   np.zeros(1, bool), np.cos(phase), np.sin(phase), 0, tuple(mu), 0.0, 0.0, 1e12, 1e12, 1, 10, 1000.0,
                   np.zeros((1, len(harm), 2)), np.zeros(1), np.full(1, 1.0), np.zeros((1, 2), np.int64),
                   np.zeros((1, 2)), out)
    ref = R.mains_cancel_ref(x.astype(np.float32).astype(float), fs, harm, mu)
    assert np.allclose(out[0], ref, atol=1e-3)



_STATE = ("amp", "dw", "ema", "hold", "turn_state")


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("n_ch, fs, mains", [(1, 250.0, 50.0), (3, 500.0, 60.0), (8, 1000.0, 50.0), (16, 2000.0, 60.0),
                                             (2, 1000.0, 60.0), (16, 500.0, 50.0), (8, 2000.0, 50.0), (3, 250.0, 50.0)])
def test_mains_kernel_matches_the_plain_loop_bit_for_bit(n_ch, fs, mains, fused):
    """The vectorised canceller against the per-channel loop it replaced: same output and state
    bit for bit, through drift, gaps, spikes (freeze), a burst longer than ``max_frozen_n``
    (forced adaptation), with the kernel fed in uneven chunks. ``fused``: the kernel also runs
    the detector's band-pass first, against ``sos_filter`` followed by the loop."""
    from emg._numba import jit
    from emg.filters import MainsCanceller, StreamingFilter

    loop = jit(R.mains_cancel_loop_ref)
    rng = np.random.default_rng(int(fs) + n_ch)
    n = int(2.5 * fs)
    t = np.arange(n) / fs
    ph0 = rng.uniform(0, 2 * np.pi, (n_ch, 1))
    f0 = mains * 1.003  # off-nominal mains: the frequency loop has work to do
    x = 60 * np.cos(2 * np.pi * f0 * t + ph0)
    if 3 * mains in mains_harmonics(fs, mains):
        x += 15 * np.cos(2 * np.pi * 3 * f0 * t + 2 * ph0)
    x += rng.standard_normal((n_ch, n)) * 4
    for _ in range(4):  # single spikes: short freezes
        x[rng.integers(n_ch), rng.integers(50, n - 50)] += rng.choice([-1, 1]) * 3000
    burst = slice(int(0.8 * fs), int(1.3 * fs))  # 0.5 s of large activity > max_frozen_s on channel 0
    x[0, burst] += rng.standard_normal(burst.stop - burst.start) * 2000
    x = x.astype(np.float32)
    valid = np.ones(n, bool)
    valid[int(0.4 * fs) : int(0.45 * fs)] = False
    valid[int(2.0 * fs) : int(2.0 * fs) + 3] = False
    c = MainsCanceller(fs, mains, n_ch)
    c.ema = np.maximum(np.abs(x[:, : int(0.3 * fs)]).mean(axis=1, dtype=np.float64), 1e-3)  # the starting level
    ref = {k: getattr(c, k).copy() for k in _STATE}
    new = {k: getattr(c, k).copy() for k in _STATE}
    args = (c.cos_t, c.sin_t)
    params = (c.pll_gain, c.max_dw, c.clip, c.freeze, c.hold_n, c.max_frozen_n, c.ema_n)
    sos = np.vstack([highpass_sos(fs), lowpass_sos(fs)]) if fused else np.array([[1.0, 0, 0, 1.0, 0, 0]])
    band_ref, band = StreamingFilter(sos, n_ch), StreamingFilter(sos, n_ch)
    x_in = x + 300 * rng.standard_normal((n_ch, 1)).astype(np.float32) if fused else x  # an offset to filter out
    out_ref = np.empty_like(x)
    loop(band_ref.process(x_in, valid), valid, *args, 0, c.mu, *params, *(ref[k] for k in _STATE), out_ref)
    out = np.empty_like(x)
    sections = tuple(tuple(float(v) for v in (b0, b1, b2, a1, a2)) for b0, b1, b2, _, a1, a2 in sos)
    edges = [0, 1, 77, int(0.42 * fs), *range(burst.start, burst.stop + 1, int(0.04 * fs)), int(2.0 * fs) + 1, n]
    forced = False
    for lo, hi in zip(edges[:-1], edges[1:]):
        part = np.empty((n_ch, hi - lo), np.float32)
        K.mains_cancel(x_in[:, lo:hi], valid[lo:hi], sections, band.zi_unit, band.zi, band.pending_reset, *args, lo,
                       tuple(c.mu), *params, *(new[k] for k in _STATE), part)
        out[:, lo:hi] = part
        forced |= new["hold"][0, 1] < 0
    assert forced  # the long burst did force adaptation on channel 0
    assert np.array_equal(out, out_ref)
    assert out.tobytes() == out_ref.tobytes()
    for k in _STATE:
        assert new[k].tobytes() == ref[k].tobytes(), k
    assert band.zi.tobytes() == band_ref.zi.tobytes()
    assert np.array_equal(band.pending_reset, band_ref.pending_reset)
    late = slice(int(1.5 * fs), None)
    assert np.median(np.abs(out[:, late])) < 0.2 * np.median(np.abs(x[:, late]))  # and it does cancel

# -- chunk invariance -------------------------------------------------------------------------
_REC, _ = simulate("mixed", minutes=0.75, channels=3, seed=21)
_RAILED = _REC.data.copy()
_RAILED[1, int(20.0 * _REC.fs) : int(25.5 * _REC.fs)] = 187_500.0  # a saturated stretch on one channel
_GAPPED = Recording(_RAILED, fs=_REC.fs, channel_names=_REC.channel_names, start=_REC.start,
                    gaps=[(12.3, 0.8), (30.0, 0.05)])
_WHOLE = detect(_GAPPED)


def _run_chunked(rec: Recording, sizes: list[int]) -> Events:
    det = Detector(rec.fs, rec.n_channels)
    valid = rec.valid_mask()
    parts, first = [], 0
    i = 0
    while first < rec.n_samples:
        n = sizes[i % len(sizes)]
        i += 1
        parts.append(det.process(Chunk(rec.data[:, first : first + n], first, rec.fs, valid[first : first + n])))
        first += n
    parts.append(det.flush())
    return Events.concat(parts, fs=rec.fs)


def _assert_same(a: Events, b: Events):
    assert len(a) == len(b)
    for name in Events.columns:
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert np.array_equal(a.waveforms, b.waveforms)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=1, max_value=7000), min_size=1, max_size=6))
def test_events_do_not_depend_on_chunk_sizes(sizes):
    _assert_same(_WHOLE, _run_chunked(_GAPPED, sizes))


def test_tiny_chunks_equal_one_chunk():
    _assert_same(_WHOLE, _run_chunked(_GAPPED, [1, 3, 250, 17]))


def test_no_events_in_gaps_or_while_settling():
    assert len(_WHOLE) > 50
    t = _WHOLE.onset_s
    assert not np.any((t >= 12.3) & (t < 12.3 + 0.8 + 0.5))
    assert not np.any(t < 0.5)


# -- accuracy and behaviour ---------------------------------------------------------------
def test_noise_estimate_holds_through_saturation():
    """A railed stretch (identical samples) is no noise measurement: the running estimate
    keeps its value instead of collapsing, so no noise-level false calls follow."""
    fs, rng = 1000.0, np.random.default_rng(5)
    x = (3.0 * rng.standard_normal((2, int(30 * fs)))).astype(np.float32)
    x[0, int(8 * fs) : int(13 * fs)] = 187_500.0  # 5 s on the rail, channel 0 only
    rec = Recording(x, fs=fs, channel_names=["a", "b"], start=_REC.start)
    det = Detector(fs, 2, mains=None)
    det.process(Chunk(x[:, : int(14 * fs)], 0, fs, np.ones(int(14 * fs), bool)))
    # channel b: the same noise never railed (3 µV white, 20-250 Hz band: ~2.1 µV); without
    # the rule the median of 10 blocks, 5 of them railed, fell to ~1.0 µV
    assert det.noise_uv[0] == pytest.approx(det.noise_uv[1], rel=0.15)
    ev = detect(rec, mains=None)
    after = (ev.channel == 0) & (ev.onset_s > 14.0)
    assert np.count_nonzero(after) <= 2  # white noise at 5 sigma: ~0 calls in 16 s
    assert np.allclose(ev.noise_uv[ev.channel == 0], det.noise_uv[1], rtol=0.15)


@pytest.mark.parametrize(("scenario", "min_recall", "min_precision"),
                         [("clean", 0.97, 0.9), ("mains-60", 0.97, 0.9), ("cyton-250", 0.93, 0.9),
                          ("low-snr", 0.9, 0.85)])
def test_finds_planted_potentials(scenario, min_recall, min_precision):
    rec, truth = simulate(scenario, minutes=4, channels=2, seed=2)
    ev = detect(rec)
    recall, precision = _recall_precision(ev, truth)
    assert recall >= min_recall
    assert precision >= min_precision


def test_mains_found_and_noise_estimated():
    for scenario, mains in (("clean", 50.0), ("mains-60", 60.0)):
        rec, truth = simulate(scenario, minutes=0.5, channels=2, seed=3)
        det = Detector(rec.fs, rec.n_channels)
        assert det.mains_hz is None
        det.process(Chunk(rec.data, 0, rec.fs))
        det.flush()
        assert det.mains_hz == mains
        assert np.allclose(det.noise_uv, truth.noise_uv, rtol=0.3)
    det = Detector(1000.0, 1, mains=60)
    assert det.mains_hz == 60.0


def test_event_columns_and_waveforms():
    rec, truth = simulate("clean", minutes=1, channels=2, seed=4)
    ev = detect(rec)
    centre = ev.waveforms.shape[1] // 2
    assert ev.waveforms.shape[1] == 51  # +-25 ms at 1 kHz
    # the largest deflection is at the centre (another event may sit elsewhere in the +-25 ms)
    near = np.abs(ev.waveforms[:, centre - 4 : centre + 5]).max(axis=1)
    assert np.allclose(np.abs(ev.waveforms[:, centre]), near)
    assert np.mean(np.abs(ev.waveforms[:, centre]) >= np.abs(ev.waveforms).max(axis=1)) > 0.9
    assert np.all(ev.snr >= 4.9) and np.allclose(ev.snr, ev.amplitude_uv / ev.noise_uv, rtol=1e-5)
    assert np.all((ev.duration_ms > 0) & (ev.duration_ms <= 31)) and np.all(ev.phases >= 1)
    assert np.all((ev.centroid_hz > 20) & (ev.centroid_hz < 500))
    assert np.all(np.diff(ev.sample) >= 0)
    # large, not too fast potentials: measured peak-to-peak close to the planted one (the
    # 20-250 Hz band shrinks short polyphasic ones more: they are left out here)
    slow = {(u["channel"], u["unit"]) for u in truth.units if u["duration_ms"] >= 10}
    checked = 0
    for row in truth.events_of("fasciculation")[:40]:
        m = (ev.channel == row["channel"]) & (np.abs(ev.onset_s - row["time_s"]) < 0.015)
        if m.sum() == 1 and row["amplitude_uv"] > 100 and (row["channel"], row["unit"]) in slow:
            assert ev.amplitude_uv[m][0] == pytest.approx(row["amplitude_uv"], rel=0.25)
            checked += 1
    assert checked >= 5


def test_coincidence_counts_other_channels():
    rec, truth = simulate("chest-ecg", minutes=0.5, channels=3, seed=6)
    ev = detect(rec)
    beats = truth.events_of("ecg", 0)["time_s"]
    near_beat = np.min(np.abs(ev.onset_s[:, None] - beats[None, :]), axis=1) < 0.03
    assert near_beat.sum() > 20
    assert np.mean(ev.coincident[near_beat] == 2) > 0.8  # a heartbeat is on all three channels
    rec1, _ = simulate("clean", minutes=0.5, channels=1, seed=6)
    assert np.all(detect(rec1).coincident == 0)


def test_coincidence_bit_masks_match_the_per_channel_count():
    """Up to 64 channels the count ORs one bit per channel; over 64 it searches channel by
    channel: both count the other channels with a peak within +-coinc_n, held events included."""
    rng = np.random.default_rng(11)
    ch = rng.integers(0, 8, 300)
    peak = np.sort(rng.integers(0, 3000, 300))
    got = []
    for n_channels in (8, 65):
        det = Detector(1000.0, n_channels)
        det._recent_ch, det._recent_peak = ch[:40], peak[:40]  # already emitted, still in reach
        det._pend_ch, det._pend_peak = ch[250:], peak[250:]  # not yet emitted
        got.append(det._coincidence(ch[40:250], peak[40:250]))
    want = [len({int(c) for c, p in zip(ch, peak) if abs(p - p0) <= 5 and c != c0})
            for c0, p0 in zip(ch[40:250], peak[40:250])]
    assert got[0].tolist() == want and got[1].tolist() == want
    assert max(want) >= 2

def test_bad_input_messages():
    with pytest.raises(ValueError, match="Invalid value for 'mains': allowed are 'auto', 50, 60, None, got 55"):
        Detector(1000.0, 1, mains=55)
    det = Detector(1000.0, 2)
    with pytest.raises(ValueError, match="first_sample must be 0"):
        det.process(Chunk(np.zeros((2, 10)), 5, 1000.0))
    with pytest.raises(ValueError, match="3 channels, the detector has 2"):
        det.process(Chunk(np.zeros((3, 10)), 0, 1000.0))
    with pytest.raises(ValueError, match="fs is 500 Hz"):
        det.process(Chunk(np.zeros((2, 10)), 0, 500.0))


def test_pure_python_path_gives_the_same_events(tmp_path):
    """EMG_NO_NUMBA=1 runs the kernels as Python: same events as the compiled path."""
    rec, _ = simulate("clean", minutes=0.2, channels=1, seed=8)
    ev = detect(rec)
    script = (
        "import numpy as np, sys; from emg.simulate import simulate; from emg.detect import detect; "
        "from emg import _numba; assert not _numba.NUMBA_ENABLED; "
        "rec, _ = simulate('clean', minutes=0.2, channels=1, seed=8); ev = detect(rec); "
        "np.save(sys.argv[1], np.vstack([ev.sample, ev.amplitude_uv]))"
    )
    out = tmp_path / "py.npy"
    env = {**os.environ, "EMG_NO_NUMBA": "1"}
    subprocess.run([sys.executable, "-c", script, str(out)], check=True, env=env, timeout=300)
    py = np.load(out)
    assert np.array_equal(py[0], ev.sample)
    assert np.allclose(py[1], ev.amplitude_uv, rtol=1e-5)


def _backward_shadow_loop(ch, peak, val, horizon, span_n, frac, tau_n):
    """The backward shadow as plain loops (what Detector._backward_shadow computes at once)."""
    keep = np.ones(len(peak), bool)
    for c in np.unique(ch):
        idx = np.flatnonzero(ch == c)
        idx = idx[np.argsort(peak[idx], kind="stable")]
        p, v = peak[idx], val[idx]
        for a in range(len(idx) - 1):
            if p[a] + span_n >= horizon:
                break
            for b in range(a + 1, len(idx)):
                dt = p[b] - p[a]
                if dt > span_n:
                    break
                if v[a] < frac * v[b] * np.exp(-dt / tau_n):
                    keep[idx[a]] = False
                    break
    return keep


@pytest.mark.parametrize("seed", range(5))
def test_backward_shadow_matches_the_plain_loops(seed):
    rng = np.random.default_rng(seed)
    det = Detector(fs=1000.0, n_channels=3)
    n = 400
    ch = rng.integers(0, 3, n)
    peak = np.sort(rng.integers(0, 20_000, n))  # dense: many events within a span
    val = rng.lognormal(3, 1, n)
    horizon = 18_000
    want = _backward_shadow_loop(ch, peak, val, horizon, det.shadow_span_n, det.shadow_frac, det.shadow_n)
    det._pend_ch, det._pend_peak, det._pend_val = ch.copy(), peak.copy(), val.copy()
    det._backward_shadow(horizon)
    assert 0 < (~want).sum() < n // 2  # the case is not trivial
    np.testing.assert_array_equal(det._pend_peak, peak[want])
    np.testing.assert_array_equal(det._pend_ch, ch[want])
