"""Fasciculations per clock hour of valid rest, with exact Poisson intervals.

Valid rest time is the recorded time minus gaps and every excluded segment (voluntary,
cramp, myokymia, artifact, noisy, gap), per channel: a segment with ``channel=None`` excludes
all channels. Hours are clock hours in the recording's own time zone (the offset of its
``start``); each row also gives the same instant in UTC.

The 95 % interval is the exact (Garwood) Poisson interval in its chi-square form:
``[chi2.ppf(0.025, 2n) / 2, chi2.ppf(0.975, 2n + 2) / 2] / hours``. A rate and its
interval are left empty when less than ``MIN_VALID_S`` (300 s) of an hour is valid: a count
over a few minutes says too little.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .types import Events, Gap, Segment

__all__ = [
    "MIN_VALID_S",
    "HourRate",
    "hourly_rates",
    "invalid_intervals",
    "merge_intervals",
    "overall_rate",
    "poisson_ci",
    "valid_seconds",
]

MIN_VALID_S = 300.0


def poisson_ci(count: int, exposure_h: float, level: float = 0.95) -> tuple[float, float]:
    """Exact Poisson confidence interval for a rate per hour.

    Parameters
    ----------
    count : int
        Number of events observed.
    exposure_h : float
        Observation time in hours (> 0).
    level : float
        Confidence level (default 0.95).

    Returns
    -------
    (low, high) : tuple of float
        Rate limits in events per hour.

    Examples
    --------
    >>> low, high = poisson_ci(0, 1.0)
    >>> (low, round(high, 3))
    (0.0, 3.689)
    """
    from scipy.special import gammaincinv  # chi2.ppf(p, df) is 2 * gammaincinv(df / 2, p), ~100x faster

    if count < 0:
        raise ValueError(f"Invalid value for 'count': must be >= 0, got {count!r}.")
    if not exposure_h > 0:
        raise ValueError(f"Invalid value for 'exposure_h': must be > 0 hours, got {exposure_h!r}.")
    alpha = 1.0 - level
    low = 0.0 if count == 0 else float(2 * gammaincinv(count, alpha / 2)) / 2
    high = float(2 * gammaincinv(count + 1, 1 - alpha / 2)) / 2
    return low / exposure_h, high / exposure_h


def merge_intervals(intervals: Iterable[tuple[float, float]] | np.ndarray) -> list[tuple[float, float]]:
    """Sorted union of ``(start, end)`` intervals (any iterable of pairs, or an (n, 2) array);
    empty and reversed ones are dropped."""
    arr = np.asarray(intervals if isinstance(intervals, np.ndarray) else list(intervals), dtype=float).reshape(-1, 2)
    arr = arr[arr[:, 1] > arr[:, 0]]
    if not len(arr):
        return []
    a, b = arr[np.lexsort((arr[:, 1], arr[:, 0]))].T
    reach = np.maximum.accumulate(b)  # the end of the union so far
    first = np.r_[True, a[1:] > reach[:-1]]  # starts a new piece: beyond everything before it
    last = np.r_[np.flatnonzero(first)[1:] - 1, len(a) - 1]
    return list(zip(a[first].tolist(), reach[last].tolist()))


def invalid_intervals(
    segments: Sequence[Segment], gaps: Sequence[Gap], channel: int,
    extra: Sequence[tuple[float, float]] = (),
) -> list[tuple[float, float]]:
    """Merged intervals (s from recording start) not valid on ``channel`` (``extra``: more
    spans of that channel, e.g. its ECG blanking windows)."""
    spans = [(g.start_s, g.end_s) for g in gaps] + [(float(a), float(b)) for a, b in extra]
    spans += [(s.start_s, s.end_s) for s in segments if s.channel is None or s.channel == channel]
    return merge_intervals(spans)


def _overlap(spans: Sequence[tuple[float, float]] | np.ndarray, lo: float, hi: float) -> float:
    arr = np.asarray(spans, dtype=float).reshape(-1, 2)
    return float(np.maximum(np.minimum(arr[:, 1], hi) - np.maximum(arr[:, 0], lo), 0.0).sum())


def valid_seconds(duration_s: float, invalid: Sequence[tuple[float, float]], lo: float = 0.0,
                  hi: float | None = None) -> float:
    """Valid seconds inside ``[lo, hi)`` of a recording lasting ``duration_s``."""
    hi = duration_s if hi is None else min(hi, duration_s)
    lo = max(lo, 0.0)
    if hi <= lo:
        return 0.0
    return max(0.0, (hi - lo) - _overlap(invalid, lo, hi))


@dataclass(frozen=True)
class HourRate:
    """One row of ``rates.csv``: a channel during one clock hour."""

    hour_start: dt.datetime  # local clock hour (the recording's offset)
    channel: str
    fasciculations: int
    valid_s: float
    rate_per_hour: float | None
    ci_low: float | None
    ci_high: float | None

    @property
    def hour_start_utc(self) -> dt.datetime:
        return self.hour_start.astimezone(dt.UTC)


def _rate(count: int, valid_s: float) -> tuple[float | None, float | None, float | None]:
    if valid_s < MIN_VALID_S:
        return None, None, None
    hours = valid_s / 3600.0
    low, high = poisson_ci(count, hours)
    return count / hours, low, high


def _hour_edges(start: dt.datetime, duration_s: float) -> list[tuple[dt.datetime, float, float]]:
    """Clock hours in the start's time zone covering the recording: (hour_start, lo_s, hi_s)."""
    first = start.replace(minute=0, second=0, microsecond=0)
    out = []
    hour = first
    while True:
        lo = (hour - start).total_seconds()
        if lo >= duration_s:
            break
        # step in absolute time so a zone with DST rules still gives 3600 s bins
        nxt = (hour.astimezone(dt.UTC) + dt.timedelta(hours=1)).astimezone(start.tzinfo)
        out.append((hour, lo, (nxt - start).total_seconds()))
        hour = nxt
    return out


def hourly_rates(
    events: Events,
    segments: Sequence[Segment],
    gaps: Sequence[Gap],
    *,
    start: dt.datetime,
    duration_s: float,
    channel_names: Sequence[str],
    blanked: Sequence[Sequence[tuple[float, float]]] | None = None,
) -> list[HourRate]:
    """Fasciculations and valid rest per channel and clock hour.

    Parameters
    ----------
    events : Events
        Classified events; rows labelled ``fasciculation`` are counted once each (a doublet
        or multiplet is one row with its ``multiplicity``).
    segments, gaps : sequences
        Excluded intervals; events inside them are not counted.
    start : datetime
        Timezone-aware start of the recording; hours follow its offset.
    duration_s : float
        Recorded time in seconds.
    channel_names : sequence of str
        Names for the channel indices.
    blanked : sequence of interval lists, optional
        Per channel, ECG blanking windows (inside large heartbeat complexes, see
        :meth:`emg.classify.EventClassifier.blanked_intervals`): not valid rest either.

    Returns
    -------
    list of HourRate
        Sorted by hour, then channel order.
    """
    hours = _hour_edges(start, duration_s)
    fasc = events.label == "fasciculation"
    onset = events.onset_s
    rows: list[HourRate] = []
    per_channel = []
    for ch in range(len(channel_names)):
        invalid = invalid_intervals(segments, gaps, ch, blanked[ch] if blanked is not None else ())
        t = onset[fasc & (events.channel == ch)]
        if invalid and len(t):
            starts = np.array([a for a, _ in invalid])
            ends = np.array([b for _, b in invalid])
            idx = np.searchsorted(starts, t, side="right") - 1
            inside = (idx >= 0) & (t < ends[np.clip(idx, 0, None)])
            t = t[~inside]
        per_channel.append((np.asarray(invalid, dtype=float).reshape(-1, 2), np.sort(t)))
    for hour, lo, hi in hours:
        for ch, name in enumerate(channel_names):
            invalid, t = per_channel[ch]
            n = int(np.searchsorted(t, hi, side="left") - np.searchsorted(t, lo, side="left"))
            valid = valid_seconds(duration_s, invalid, lo, hi)
            rows.append(HourRate(hour, name, n, valid, *_rate(n, valid)))
    return rows


def overall_rate(count: int, valid_s: float) -> tuple[float | None, float | None, float | None]:
    """Rate per hour and its exact 95 % interval over a whole recording (None below 300 s)."""
    return _rate(count, valid_s)


def _is_finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)
