"""The unit-matching kernel agrees with its NumPy reference (and with best_correlation)."""

import numpy as np
import pytest

from emg import _detect_numba as K
from emg import _detect_ref as R
from emg.units import best_correlation


@pytest.mark.parametrize("n, max_lag", [(51, 2), (13, 1), (7, 4), (201, 8)])
def test_unit_correlations_kernel_matches_reference(n, max_lag):
    rng = np.random.default_rng(n + max_lag)
    wave = rng.normal(size=n)
    tpls = np.vstack([np.roll(wave, 1) + 0.3 * rng.normal(size=n), rng.normal(size=n), np.zeros(n),
                      -wave, wave])
    out = np.empty(len(tpls))
    K.unit_correlations(wave, tpls, max_lag, out)
    ref = R.unit_correlations_ref(wave, tpls, max_lag)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12)
    assert out[2] == -1.0  # a flat template correlates with nothing
    assert out[4] == pytest.approx(1.0, abs=1e-12)
    assert out[3] < out[4]
    for t in range(len(tpls)):
        assert out[t] == pytest.approx(best_correlation(wave, tpls[t], max_lag), abs=1e-12)


def _railed_chunked(x, flat_n, edges, first_sample, block_n):
    """Railed counts per absolute block from :func:`K.railed_runs` fed in chunks (and the final run length)."""
    n_blocks = (first_sample + x.shape[1] - 1) // block_n - first_sample // block_n + 1
    counts = np.zeros((x.shape[0], n_blocks), np.int64)
    val, run = np.full(x.shape[0], np.nan), np.zeros(x.shape[0], np.int64)
    b0 = first_sample // block_n
    for lo, hi in zip(edges[:-1], edges[1:]):
        if hi > lo:
            k = (first_sample + lo) // block_n - b0
            K.railed_runs(x[:, lo:hi], val, run, flat_n, first_sample + lo, block_n, counts[:, k:])
    return counts, run


def test_railed_runs_kernel_matches_reference_and_carries_over_chunks():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 400)).astype(np.float32)
    x[0, 50:70] = 187500.0  # railed
    x[1, 390:] = 5.0  # a run crossing the chunk border below
    x[2, 10:13] = 1.0  # too short
    mask = R.railed_runs_ref(x, 4)
    assert mask[0, 53:70].all() and not mask[0, 52] and not mask[2].any() and mask[1, 393:].all()
    for first_sample, block_n in ((0, 400), (0, 100), (1234, 7)):
        got, run = _railed_chunked(np.ascontiguousarray(x), 4, [0, 60, 395, 400], first_sample, block_n)
        np.testing.assert_array_equal(got, R.railed_counts_ref(x, 4, first_sample, block_n))
        assert run[1] == 10
    assert _railed_chunked(x, 4, [0, 400], 0, 400)[0][:, 0].tolist() == [17, 7, 0]


@pytest.mark.parametrize("flat_n", [3, 4, 8])
def test_railed_runs_kernel_matches_reference_for_any_chunking(flat_n):
    """Runs of every length (quantised data has many short ones), chunks of 1 sample and up,
    blocks shorter and longer than the kernel's stretch of 256 samples."""
    rng = np.random.default_rng(flat_n)
    x = np.round(rng.normal(size=(4, 3000)) * 0.8).astype(np.float32)  # equal neighbours are common
    x[1] = rng.normal(size=3000)  # none but the planted runs: the kernel's fast path
    for c in range(4):
        for _ in range(12):
            lo = rng.integers(0, 2950)
            x[c, lo : lo + rng.integers(1, 40)] = rng.choice([187500.0, -3.0, 0.0])
    x[3, :] = 7.0  # railed throughout: the run crosses every border
    for block_n, first_sample in ((1000, 0), (37, 5), (700, 450)):
        ref = R.railed_counts_ref(x, flat_n, first_sample, block_n)
        for sizes in ([3000], [1, 1, 2, 5, 2991], list(rng.integers(1, 300, 40))):
            edges = np.minimum(np.concatenate([[0], np.cumsum(sizes), [3000]]), 3000)
            got, run = _railed_chunked(x, flat_n, edges, first_sample, block_n)
            np.testing.assert_array_equal(got, ref)
            assert run[3] == 3000


def test_assign_units_kernel_matches_the_event_by_event_reference():
    from emg.units import UnitTracker

    rng = np.random.default_rng(11)
    n = 41
    t = np.linspace(-1, 1, n)
    shapes = [np.sin(np.pi * t) * np.exp(-4 * t * t), (1 - 8 * t * t) * np.exp(-6 * t * t),
              -np.sin(2 * np.pi * t) * np.exp(-3 * t * t)]
    m = 600
    kind = rng.integers(0, 3, m)
    size = rng.choice([60.0, 150.0, 400.0], m)
    channels = rng.integers(0, 2, m)
    waves = np.array([size[i] * shapes[kind[i]] + rng.normal(0, 8.0, n) for i in range(m)])
    waves[5] = 0.0  # a flat waveform gets no unit
    waves = waves.astype(np.float32)  # as the detector gives them
    amps = np.ptp(waves, axis=1).astype(np.float64)
    times = np.arange(m) * 0.5
    ref, ref_units = R.assign_units_ref(channels, waves, amps, times, 2, 0.85, 1.5, 2, 4, 50)
    tracker = UnitTracker(1000.0, 2, max_units=4)
    got = np.concatenate([tracker.assign_many(channels[a:b], waves[a:b],
                                              amps[a:b], times[a:b]) for a, b in ((0, 1), (1, 250), (250, m))])
    np.testing.assert_array_equal(got, ref)
    assert got[5] == -1 and (got == -1).sum() > 5  # the cap of 4 units per channel is reached
    for c in range(2):
        units = sorted(tracker.units_of(c), key=lambda u: u.unit)
        assert len(units) == len(ref_units[c]) == 4
        for u, r in zip(units, ref_units[c]):
            assert u.count == r["count"] and u.first_s == r["first"] and u.last_s == r["last"]
            np.testing.assert_allclose(u.waveform_uv, r["waveform"], rtol=0, atol=1e-9)
            assert u.amplitude_uv == pytest.approx(r["amplitude"], abs=1e-9)
    # one at a time is the same as in a batch
    single = UnitTracker(1000.0, 2, max_units=4)
    one = [single.assign(int(c), w, float(a), float(s)) for c, w, a, s in zip(channels, waves, amps, times)]
    np.testing.assert_array_equal(one, ref)


def test_assign_units_kernel_matches_the_reference_with_match_only_events():
    from emg.units import UnitTracker

    rng = np.random.default_rng(12)
    n = 41
    t = np.linspace(-1, 1, n)
    shapes = [np.sin(np.pi * t) * np.exp(-4 * t * t), (1 - 8 * t * t) * np.exp(-6 * t * t)]
    m = 400
    kind = rng.integers(0, 2, m)
    channels = rng.integers(0, 2, m)
    only = rng.random(m) < 0.3
    noise = np.where(only, 30.0, 8.0)  # faint copies are noisier
    waves = np.array([150.0 * shapes[kind[i]] + rng.normal(0, noise[i], n) for i in range(m)]).astype(np.float32)
    amps = np.ptp(waves, axis=1).astype(np.float64)
    times = np.cumsum(rng.exponential(0.8, m))
    settings = dict(match_corr=0.75, match_count=3, match_gap=1.0)
    ref, ref_units = R.assign_units_ref(channels, waves, amps, times, 2, 0.85, 1.5, 2, 20, 50, match_only=only,
                                        **settings)
    tracker = UnitTracker(1000.0, 2)
    got = np.concatenate([tracker.assign_many(channels[a:b], waves[a:b], amps[a:b], times[a:b], match_only=only[a:b],
                                              min_corr=0.75, min_count=3, min_gap_s=1.0)
                          for a, b in ((0, 7), (7, 200), (200, m))])
    np.testing.assert_array_equal(got, ref)
    assert 10 < np.count_nonzero(got[only] > 0) < np.count_nonzero(only)  # some matched, not all
    for c in range(2):
        units = sorted(tracker.units_of(c), key=lambda u: u.unit)
        assert [u.count for u in units] == [r["count"] + r["matched"] for r in ref_units[c]]
        np.testing.assert_allclose([u.waveform_uv for u in units], [r["waveform"] for r in ref_units[c]], atol=1e-9)
