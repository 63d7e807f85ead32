import numpy as np
import pytest

from emg.units import UnitTracker, best_correlation


def shape(kind, n=51):
    t = np.linspace(-1, 1, n)
    if kind == "bi":
        return np.sin(np.pi * t) * np.exp(-4 * t * t)
    return (1 - 8 * t * t) * np.exp(-6 * t * t)  # triphasic


def test_best_correlation_finds_a_shifted_copy():
    a = shape("bi")
    assert best_correlation(a, np.roll(a, 2), max_lag=3) == pytest.approx(1.0, abs=0.02)
    assert best_correlation(a, shape("tri"), max_lag=3) < 0.5


def test_repeated_units_get_stable_ids_and_templates():
    rng = np.random.default_rng(3)
    tracker = UnitTracker(1000.0, 1)
    truth, got = [], []
    for k in range(200):
        kind, amp = [("bi", 300.0), ("tri", 300.0), ("bi", 80.0)][k % 3]
        wave = amp * shape(kind) / np.ptp(shape(kind)) + rng.normal(0, 3.0, 51)
        truth.append(k % 3)
        got.append(tracker.assign(0, wave, float(np.ptp(wave)), k * 1.0))
    # three units (same shape at a quarter of the size is another unit), one id each
    mapping = {}
    for t, g in zip(truth, got):
        mapping.setdefault(t, set()).add(g)
    assert all(len(ids) == 1 for ids in mapping.values())
    assert len({next(iter(v)) for v in mapping.values()}) == 3
    units = tracker.units_of(0)
    assert [u.count for u in units] == [67, 67, 66]
    big_bi = next(u for u in units if u.unit == mapping[0].pop())
    assert big_bi.amplitude_uv == pytest.approx(300.0, rel=0.1)
    assert big_bi.to_dict()["count"] == 67 and len(big_bi.to_dict()["waveform_uv"]) == 51


def test_units_are_per_channel_and_capped():
    tracker = UnitTracker(1000.0, 2, max_units=2)
    assert tracker.assign(0, shape("bi"), 1.0, 0.0) == 1
    assert tracker.assign(1, shape("bi"), 1.0, 0.0) == 1  # ids restart per channel
    assert tracker.assign(0, shape("tri"), 1.0, 1.0) == 2
    assert tracker.assign(0, -shape("tri"), 1.0, 2.0) == -1  # a third shape: cap reached


def test_match_finds_an_established_unit_without_changing_its_template():
    rng = np.random.default_rng(5)
    tracker = UnitTracker(1000.0, 1)
    bi = 200.0 * shape("bi") / np.ptp(shape("bi"))
    for k in range(2):
        tracker.assign(0, bi + rng.normal(0, 3.0, 51), 200.0, float(k))
    noisy = bi + rng.normal(0, 25.0, 51)  # a faint copy: corr ~0.8 with the template
    assert tracker.match(0, noisy, 200.0, 5.0, min_corr=0.7, min_count=3) == -1  # not established yet
    tracker.assign(0, bi + rng.normal(0, 3.0, 51), 200.0, 2.0)
    before = tracker.units_of(0)[0]
    assert tracker.match(0, noisy, 200.0, 5.0, min_corr=0.7, min_count=3) == 1
    assert tracker.match(0, noisy, 500.0, 6.0, min_corr=0.7, min_count=3) == -1  # too big for the unit
    assert tracker.match(0, 200.0 * shape("tri") / np.ptp(shape("tri")), 200.0, 6.0, min_corr=0.7,
                         min_count=3) == -1  # another shape
    # a unit that fired less than min_gap_s ago is firing tonically: no match
    assert tracker.match(0, noisy, 200.0, 5.5, min_corr=0.7, min_count=3, min_gap_s=1.0) == -1  # last at 5.0
    after = tracker.units_of(0)[0]
    np.testing.assert_array_equal(after.waveform_uv, before.waveform_uv)
    assert (after.count, after.last_s) == (before.count + 1, 5.0)
    # the next clear member is averaged in exactly as if no match had happened
    twin = UnitTracker(1000.0, 1)
    rng2 = np.random.default_rng(5)
    for k in range(2):
        twin.assign(0, bi + rng2.normal(0, 3.0, 51), 200.0, float(k))
    rng2.normal(0, 25.0, 51)
    twin.assign(0, bi + rng2.normal(0, 3.0, 51), 200.0, 2.0)
    wave = bi + rng.normal(0, 3.0, 51)
    tracker.assign(0, wave, 200.0, 7.0)
    twin.assign(0, wave, 200.0, 7.0)
    np.testing.assert_array_equal(tracker.units_of(0)[0].waveform_uv, twin.units_of(0)[0].waveform_uv)
