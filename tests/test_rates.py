import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emg.rates import MIN_VALID_S, hourly_rates, merge_intervals, poisson_ci, valid_seconds
from emg.types import Events, Gap, Segment

UTC = dt.UTC


def events_at(times_s, channel=0, fs=1000.0, label="fasciculation"):
    n = len(times_s)
    cols = {name: np.zeros(n, dtype) for name, dtype in Events.columns.items()}
    cols["sample"] = np.round(np.asarray(times_s) * fs).astype(np.int64)
    cols["channel"] = np.full(n, channel, np.int32)
    return Events(fs=fs, waveforms=np.zeros((n, 5)), label=np.array([label] * n, dtype=object), **cols)


@pytest.mark.parametrize(
    "count, hours, expected",
    [
        (0, 1.0, (0.0, 3.6889)),  # classic exact upper limit for zero events
        (10, 1.0, (4.7954, 18.3904)),  # Garwood interval, tabulated values
        (5, 0.5, (3.2470, 23.3367)),  # rates scale with 1 / exposure
    ],
)
def test_poisson_ci_matches_exact_values(count, hours, expected):
    low, high = poisson_ci(count, hours)
    assert low == pytest.approx(expected[0], abs=1e-3)
    assert high == pytest.approx(expected[1], abs=1e-3)


def test_poisson_ci_coverage_by_simulation():
    rng = np.random.default_rng(7)
    true_rate = 12.0
    counts = rng.poisson(true_rate * 0.5, size=2000)
    covered = np.mean([lo <= true_rate <= hi for lo, hi in (poisson_ci(int(c), 0.5) for c in counts)])
    assert covered >= 0.95  # exact intervals are conservative


def test_poisson_ci_rejects_bad_values():
    with pytest.raises(ValueError, match="Invalid value for 'exposure_h'"):
        poisson_ci(3, 0.0)
    with pytest.raises(ValueError, match="Invalid value for 'count'"):
        poisson_ci(-1, 1.0)


def test_merge_and_valid_seconds():
    assert merge_intervals([(5, 6), (0, 1), (0.5, 2), (3, 3)]) == [(0.0, 2.0), (5.0, 6.0)]
    assert merge_intervals([]) == [] and merge_intervals([(2, 1)]) == []
    assert merge_intervals([(0, 1), (1, 2), (0.2, 0.5)]) == [(0.0, 2.0)]  # touching pieces join
    assert merge_intervals(zip([3.0, 0.0], [4.0, 1.0])) == [(0.0, 1.0), (3.0, 4.0)]  # any iterable of pairs
    assert merge_intervals(np.array([[3.0, 4.0], [0.0, 1.0]])) == [(0.0, 1.0), (3.0, 4.0)]
    assert valid_seconds(10.0, [(0.0, 2.0), (5.0, 6.0)]) == pytest.approx(7.0)
    assert valid_seconds(10.0, [(0.0, 2.0)], lo=1.0, hi=4.0) == pytest.approx(2.0)


def test_hourly_rates_counts_valid_time_and_empties_short_hours():
    start = dt.datetime(2026, 3, 1, 8, 30, tzinfo=UTC)  # first clock hour is half long
    duration = 3 * 3600.0
    times = [100.0, 200.0, 1900.0, 1950.0, 5000.0, 9000.0]
    segments = [Segment(1800.0, 2000.0, "voluntary", 0), Segment(4000.0, 4100.0, "artifact", None)]
    gaps = [Gap(6000.0, 100.0)]
    rows = hourly_rates(events_at(times), segments, gaps, start=start, duration_s=duration, channel_names=["a"])
    assert [r.hour_start.hour for r in rows] == [8, 9, 10, 11]
    first, second, third, last = rows
    assert first.valid_s == pytest.approx(1800.0) and first.fasciculations == 2  # 08:30-09:00
    # 09:00-10:00 loses the voluntary bout (200 s, holding 2 events) and the artefact (100 s)
    assert second.valid_s == pytest.approx(3300.0) and second.fasciculations == 1
    assert third.valid_s == pytest.approx(3500.0) and third.fasciculations == 0  # the gap
    assert last.valid_s == pytest.approx(1800.0) and last.fasciculations == 1  # 9000 s opens 11:00
    assert second.rate_per_hour == pytest.approx(1 / (3300 / 3600))
    assert second.ci_low < second.rate_per_hour < second.ci_high


def test_rate_is_empty_below_five_minutes():
    start = dt.datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    rows = hourly_rates(events_at([10.0]), [], [], start=start, duration_s=MIN_VALID_S - 1, channel_names=["a"])
    assert rows[0].fasciculations == 1
    assert rows[0].rate_per_hour is None and rows[0].ci_low is None and rows[0].ci_high is None


def test_hours_follow_the_local_zone_and_give_utc():
    tz = dt.timezone(dt.timedelta(hours=5, minutes=30))
    start = dt.datetime(2026, 3, 1, 8, 10, tzinfo=tz)
    rows = hourly_rates(events_at([]), [], [], start=start, duration_s=3600.0, channel_names=["a", "b"])
    assert [r.hour_start.isoformat() for r in rows[::2]] == ["2026-03-01T08:00:00+05:30", "2026-03-01T09:00:00+05:30"]
    assert rows[0].hour_start_utc.isoformat() == "2026-03-01T02:30:00+00:00"
    assert [r.channel for r in rows] == ["a", "b", "a", "b"]
    assert rows[0].valid_s == pytest.approx(50 * 60.0)


def test_channel_segments_only_exclude_their_channel():
    start = dt.datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    ev = Events.concat([events_at([50.0], channel=0), events_at([50.0], channel=1)])
    rows = hourly_rates(ev, [Segment(40.0, 60.0, "cramp", 1)], [], start=start, duration_s=600.0,
                        channel_names=["a", "b"])
    assert [(r.channel, r.fasciculations, r.valid_s) for r in rows] == [("a", 1, 600.0), ("b", 0, 580.0)]


def test_blanked_windows_leave_valid_time_and_their_events():
    start = dt.datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    blank = [[(10.0, 10.04), (20.0, 20.04), (50.0, 55.0)], []]  # the last one overlaps the segment
    ev = Events.concat([events_at([10.02, 30.0], channel=0), events_at([10.02], channel=1)])
    rows = hourly_rates(ev, [Segment(52.0, 60.0, "cramp", 0)], [], start=start, duration_s=600.0,
                        channel_names=["a", "b"], blanked=blank)
    # channel a loses 0.08 s of windows and 50-60 s (the window and cramp counted once)
    assert rows[0].valid_s == pytest.approx(600.0 - 0.08 - 10.0)
    assert rows[0].fasciculations == 1  # the one at 10.02 s is inside a window
    assert (rows[1].valid_s, rows[1].fasciculations) == (600.0, 1)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 100), st.floats(0, 100)), max_size=40))
def test_merge_intervals_is_the_union(spans):
    merged = merge_intervals(spans)
    # sorted, disjoint (not even touching), non-empty pieces
    assert all(a < b for a, b in merged)
    assert all(b1 < a2 for (_, b1), (a2, _) in zip(merged, merged[1:]))
    # the same set: every input piece inside one merged piece, every merged piece's ends from the input
    for a, b in spans:
        if b > a:
            assert any(x <= a and b <= y for x, y in merged)
    ends = {float(a) for a, b in spans if b > a} | {float(b) for a, b in spans if b > a}
    assert all(x in ends and y in ends for x, y in merged)
    # and the covered length adds up
    grid = np.linspace(0, 100, 2001)
    covered = np.zeros(len(grid), bool)
    for a, b in spans:
        covered |= (grid >= a) & (grid < b)
    assert covered.sum() == sum(((grid >= x) & (grid < y)).sum() for x, y in merged)
