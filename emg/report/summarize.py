"""The numbers the report shows, computed from the analysis files (no plotting here).

Headline rates per channel with exact Poisson 95 % intervals, recording quality per input and
channel, motor-unit counts, and the choice of example events for the waveform gallery.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..rates import MIN_VALID_S, merge_intervals, poisson_ci
from ..types import EVENT_LABELS, SEGMENT_LABELS
from .load import Analysis, RateTable

__all__ = [
    "ChannelQuality",
    "ChannelRate",
    "UnitRow",
    "channel_quality",
    "channel_rates",
    "daily_rates",
    "pick_examples",
    "union_length_s",
    "unit_rows",
]

#: Above this robust noise level (µV RMS) the report asks the user to check the electrodes
#: (DOMAIN.md: 1-10 µV RMS at rest on a good contact).
NOISE_LIMIT_UV = 10.0


def _rate_with_ci(count: int, exposure_h: float) -> tuple[float, float, float]:
    """Rate per hour with its exact Poisson 95 % interval (``emg.rates.poisson_ci``)."""
    low, high = poisson_ci(count, exposure_h)
    return count / exposure_h, low, high


@dataclass(frozen=True)
class ChannelRate:
    """Fasciculations over all hours of one channel (all inputs together)."""

    channel: str
    fasciculations: int
    valid_s: float
    rate_per_hour: float
    ci_low: float
    ci_high: float
    hours_with_rate: int  # clock hours with at least MIN_VALID_S of valid rest
    hours: int


def channel_rates(rates: RateTable, channels: Sequence[str] | None = None) -> list[ChannelRate]:
    """Total count over total valid time per channel, with an exact Poisson 95 % interval.

    The rate is NaN when the channel has less than ``MIN_VALID_S`` of valid rest in total.
    """
    names = list(channels) if channels is not None else list(dict.fromkeys(rates.channel.tolist()))
    out = []
    for name in names:
        mask = rates.channel == name
        n = int(rates.fasciculations[mask].sum())
        valid_s = float(rates.valid_s[mask].sum())
        if valid_s >= MIN_VALID_S:
            rate, low, high = _rate_with_ci(n, valid_s / 3600.0)
        else:
            rate = low = high = math.nan
        out.append(
            ChannelRate(
                channel=name,
                fasciculations=n,
                valid_s=valid_s,
                rate_per_hour=rate,
                ci_low=low,
                ci_high=high,
                hours_with_rate=int(np.count_nonzero(rates.valid_s[mask] >= MIN_VALID_S)),
                hours=int(np.count_nonzero(mask)),
            )
        )
    return out


def daily_rates(rates: RateTable, channel: str, *, min_valid_s: float = MIN_VALID_S):
    """Rate per local calendar day (by each hour's own offset) on one channel.

    Returns
    -------
    days : list of datetime.datetime
        Local midnight of each day with rows, in order.
    rate, low, high : ndarray
        Fasciculations per hour of valid rest over the day and its exact Poisson 95 % interval;
        NaN when the day has less than ``min_valid_s`` of valid rest.
    """
    m = rates.channel == channel
    totals: dict[dt.datetime, list[float]] = {}
    for start, n, valid in zip(rates.hour_start[m], rates.fasciculations[m], rates.valid_s[m]):
        day = start.replace(hour=0, minute=0, second=0, microsecond=0)
        acc = totals.setdefault(day, [0.0, 0.0])
        acc[0] += n
        acc[1] += valid
    days = sorted(totals)
    out = np.full((3, len(days)), np.nan)
    for i, day in enumerate(days):
        n, valid = totals[day]
        if valid >= min_valid_s:
            out[:, i] = _rate_with_ci(int(n), valid / 3600.0)
    return days, out[0], out[1], out[2]


def union_length_s(starts: np.ndarray, ends: np.ndarray) -> float:
    """Total length in seconds of the union of intervals (overlaps counted once)."""
    return sum(hi - lo for lo, hi in merge_intervals(zip(starts, ends)))


@dataclass(frozen=True)
class ChannelQuality:
    """Recording quality of one channel of one input."""

    stem: str
    channel: str
    fs: float
    noise_uv: float
    counted_from_uv: float  # smallest potential counted, µV peak-to-peak (NaN: not recorded)
    recorded_s: float
    valid_s: float
    gaps: int
    gap_s: float
    excluded_s: dict[str, float]  # seconds per segment label (union within a label)
    packets_lost: int | None

    @property
    def valid_fraction(self) -> float:
        return self.valid_s / self.recorded_s if self.recorded_s > 0 else math.nan

    @property
    def noisy(self) -> bool:
        return math.isfinite(self.noise_uv) and self.noise_uv > NOISE_LIMIT_UV


def channel_quality(analysis: Analysis) -> list[ChannelQuality]:
    """One :class:`ChannelQuality` per channel of ``analysis``."""
    s = analysis.summary
    out = []
    for name in s.channels:
        seg = analysis.segments.on_channel(name)
        excluded = {}
        for label in SEGMENT_LABELS:
            m = seg.label == label
            if m.any():
                excluded[label] = union_length_s(seg.start_s[m], seg.end_s[m])
        gaps = seg.label == "gap"
        has_rates = bool(np.any(analysis.rates.channel == name))
        out.append(
            ChannelQuality(
                stem=analysis.stem,
                channel=name,
                fs=s.fs,
                noise_uv=s.noise_uv.get(name, math.nan),
                counted_from_uv=s.counted_from_uv.get(name, math.nan),
                recorded_s=s.duration_s,
                valid_s=analysis.valid_s(name) if has_rates else s.valid_s,
                gaps=int(np.count_nonzero(gaps)),
                gap_s=excluded.get("gap", 0.0),
                excluded_s=excluded,
                packets_lost=s.packets_lost,
            )
        )
    return out


@dataclass(frozen=True)
class UnitRow:
    """One putative motor unit: how often it fired and at what rate over the valid rest."""

    channel: str
    unit: str
    count: int
    rate_per_hour: float


def _unit_key(unit: str) -> tuple[int, float | str]:
    try:
        return (0, float(unit))
    except ValueError:
        return (1, unit)


def unit_rows(analyses: Sequence[Analysis]) -> list[UnitRow]:
    """Count fasciculations per (channel, unit) over every input; rate over the channel's valid time.

    Events without a unit id are left out. Units of different inputs with the same id are
    taken as the same unit only within one input, so rows are per input when there are several.
    """
    rows = []
    for a in analyses:
        ev = a.events
        fasc = (ev.label == "fasciculation") & (ev.unit != "")
        prefix = f"{a.stem}: " if len(analyses) > 1 else ""
        for name in a.summary.channels:
            on = fasc & (ev.channel == name)
            valid_h = a.valid_s(name) / 3600.0
            for unit in sorted(set(ev.unit[on].tolist()), key=_unit_key):
                n = int(np.count_nonzero(ev.unit[on] == unit))
                rate = n / valid_h if valid_h * 3600.0 >= MIN_VALID_S else math.nan
                rows.append(UnitRow(prefix + name, unit, n, rate))
    return rows


def pick_examples(
    amplitude_uv: np.ndarray, label: np.ndarray, n_per_label: int = 5
) -> dict[str, np.ndarray]:
    """Indices of example events per label, spread over the amplitude range (not just the largest).

    For each label in ``EVENT_LABELS`` with events, the events at evenly spaced amplitude
    quantiles are chosen (deterministic, sorted by amplitude).
    """
    out = {}
    for name in EVENT_LABELS:
        idx = np.flatnonzero(label == name)
        if idx.size == 0:
            continue
        order = idx[np.argsort(amplitude_uv[idx], kind="stable")]
        k = min(n_per_label, order.size)
        pos = (
            np.unique(np.round(np.linspace(0.1, 0.9, k) * (order.size - 1)).astype(int))
            if k > 1
            else [order.size // 2]
        )
        out[name] = order[np.asarray(pos)]
    return out
