"""The classifier's Numba kernels agree with their NumPy references, and the chunk-free history."""

import numpy as np
import pytest

from emg import _classify_numba as K
from emg.classify import RR_MAX_S, RR_MIN_S, EventClassifier, _pairs


def beat_like_events(seed, n_fam=6, minutes=2.0):
    """Times and families: rhythmic families (some with missed beats, split complexes) and random ones."""
    rng = np.random.default_rng(seed)
    t, fam = [], []
    for f in range(n_fam):
        if f % 2 == 0:  # a heartbeat family, 0.6-1.2 s period, 3 % jitter, 10 % missed, some split
            period = rng.uniform(0.6, 1.2)
            x = rng.uniform(0, 1)
            while x < minutes * 60:
                if rng.random() > 0.1:
                    t.append(x)
                    fam.append(f)
                    if rng.random() < 0.2:
                        t.append(x + rng.uniform(0.005, 0.05))
                        fam.append(f)
                x += period * (1 + 0.03 * rng.standard_normal())
        else:  # a unit firing at random, 10-60 per minute
            k = rng.integers(20, 120)
            t.extend(rng.uniform(0, minutes * 60, k))
            fam.extend([f] * k)
    order = np.argsort(t, kind="stable")
    return np.asarray(t)[order].round(3), np.asarray(fam, np.int64)[order]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_heartbeat_kernel_matches_reference(seed):
    t, fam = beat_like_events(seed)
    ctx = 4 * RR_MAX_S + 0.2
    out = np.empty(len(t), bool)
    K.heartbeat_flags(np.lexsort((t, fam)), fam, t, 0.10, ctx, 0.1, RR_MIN_S, RR_MAX_S, 5.0, 0.6, out)
    ref = K.heartbeat_flags_ref(fam, t, 0.10, ctx)
    np.testing.assert_array_equal(out, ref)
    rhythmic = fam % 2 == 0
    assert ref[rhythmic].mean() > 0.8  # most beats are found
    assert ref[~rhythmic].mean() < 0.05  # random firing is not a rhythm


@pytest.mark.parametrize("span", [0.5, 3.0, 12.4])
def test_windowed_counts_kernel_matches_reference(span):
    t, fam = beat_like_events(7)
    flag = np.random.default_rng(1).random(len(t)) < 0.3
    hits, total = np.empty(len(t), np.int64), np.empty(len(t), np.int64)
    K.windowed_counts(np.lexsort((t, fam)), fam, t, flag, span, hits, total)
    ref_hits, ref_total = K.windowed_counts_ref(fam, t, flag, span)
    np.testing.assert_array_equal(hits, ref_hits)
    np.testing.assert_array_equal(total, ref_total)
    i = len(t) // 2  # one by hand
    same = (fam == fam[i]) & (np.abs(t - t[i]) <= span)
    assert total[i] == same.sum() and hits[i] == (same & flag).sum()


def test_pairs_lists_every_neighbour_once():
    t = np.array([0.0, 0.01, 0.01, 0.02, 0.05, 0.3])
    rows = np.array([1, 4, 5])
    k, j = _pairs(t, rows, -0.01, 0.03)
    got = sorted(zip(k.tolist(), j.tolist()))
    want = sorted((a, b) for a, r in enumerate(rows) for b in range(len(t)) if -0.01 - 1e-9 <= t[b] - t[r] <= 0.03 + 1e-9)
    assert got == want


def test_family_history_counts_members_labelled_before_whatever_the_chunks():
    clf = EventClassifier(1000.0, 1)
    fam = np.array([3, 1, 3, 3, 1, 3])
    near = np.array([True, False, True, False, True, True])
    hits, total = clf._history(fam, near)
    np.testing.assert_array_equal(hits, [0, 0, 1, 2, 0, 2])
    np.testing.assert_array_equal(total, [0, 0, 1, 2, 1, 3])
    split = EventClassifier(1000.0, 1)  # the same rows in two pops
    h1, t1 = split._history(fam[:2], near[:2])
    h2, t2 = split._history(fam[2:], near[2:])
    np.testing.assert_array_equal(np.r_[h1, h2], hits)
    np.testing.assert_array_equal(np.r_[t1, t2], total)


@pytest.mark.parametrize("m", [2, 5])
def test_carry_residuals_kernel_matches_reference(m):
    rng = np.random.default_rng(m)
    n = 51
    x = np.linspace(-1, 1, n)
    qrs = (1 - 10 * x * x) * np.exp(-8 * x * x)
    shift = rng.integers(-3, 4, 40)
    tpl = np.array([np.roll(qrs, s) for s in shift + rng.integers(-2, 3, 40)])  # within the lag search
    tpl -= tpl.mean(axis=1, keepdims=True)
    tpl /= np.linalg.norm(tpl, axis=1, keepdims=True)
    waves = 800 * np.array([np.roll(qrs, s) for s in shift]) + rng.normal(0, 3.0, (40, n))
    waves[::4] += 300 * np.exp(-(((np.arange(n) - 35) / 1.5) ** 2))  # a discharge 10 samples after the peak
    waves = waves.astype(np.float32)
    best, peak = np.empty(40), np.empty(40, np.int64)
    K.carry_residuals(tpl, waves, m, best, peak)
    ref_best, ref_peak = K.carry_residuals_ref(tpl, waves, m)
    np.testing.assert_allclose(best, ref_best, rtol=1e-10, atol=1e-9)
    np.testing.assert_array_equal(peak, ref_peak)
    assert np.all(peak[::4] == 35)  # the rider's own peak
    assert best[::4].min() > 200 and np.delete(best, np.s_[::4]).max() < 60


def test_hidden_first_kernel_agrees_with_its_reference():
    # waveforms (1 kHz, 61 samples) with an earlier copy of the core 13-21 samples before the
    # peak (some scaled beyond the size limit, some noisy), and plain noise
    rng = np.random.default_rng(7)
    n, n_wave, m = 400, 61, 30
    core = np.sin(np.linspace(0, 2 * np.pi, 9)) * np.hanning(9)
    waves = rng.normal(0, 0.2, (n, n_wave))
    truth = np.zeros(n, np.int64)
    for e in range(n):
        waves[e, m - 4 : m + 5] += 10 * core
        if e % 3:
            d = int(rng.integers(13, 22))
            scale = rng.choice([1.0, 1.2, 3.0])
            waves[e, m - d - 4 : m - d + 5] += 10 * core * scale
            truth[e] = d if scale < 1.4 else 0
    waves = waves.astype(np.float32)
    out = np.empty(n, np.int64)
    K.hidden_first(waves, 4, 13, 21, 0.8, 1.4, out)
    ref = K.hidden_first_ref(waves, 4, 13, 21, 0.8, 1.4)
    np.testing.assert_array_equal(out, ref)
    assert 0.35 < (truth > 0).mean() < 0.55  # two thirds planted, a third of those 3x too large
    np.testing.assert_array_equal(out, truth)
