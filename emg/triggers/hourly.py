"""Hourly counts for the trigger model, read from ``<stem>.rates.csv`` files (CONTRACT).

Channels are summed per clock hour (counts and valid seconds), so the rate is per
channel-hour of valid rest; ``channel=`` picks one channel instead. Rows of several files
for the same hour are summed too (two recordings that each cover part of an hour). Hours
with less than ``min_valid_s`` valid seconds in total are dropped: the model's exposure
offset already weights hours by their valid time, so only hours that carry (almost) no
information go.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ._csvfile import read_csv_rows

__all__ = ["RATES_COLUMNS", "HourlyCounts", "read_rates"]

RATES_COLUMNS = ("hour_start", "channel", "fasciculations", "valid_s", "rate_per_hour",
                 "ci_low", "ci_high")


@dataclass(frozen=True)
class HourlyCounts:
    """Counts per clock hour, time order.

    Attributes
    ----------
    hour_start_s : ndarray of float, shape (n,)
        Hour starts as POSIX seconds (UTC).
    utc_offset_s : ndarray of float, shape (n,)
        Offset of the local clock at each hour (from the rates file), seconds.
    counts : ndarray of int64, shape (n,)
        Fasciculations in the hour (summed over the channels used).
    valid_s : ndarray of float, shape (n,)
        Valid rest in channel-seconds.
    channels : tuple of str
        Channels that were summed.
    """

    hour_start_s: np.ndarray
    utc_offset_s: np.ndarray
    counts: np.ndarray
    valid_s: np.ndarray
    channels: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.hour_start_s)

    def times(self) -> tuple[dt.datetime, ...]:
        """Hour starts as timezone-aware datetimes in each hour's own offset."""
        return tuple(
            dt.datetime.fromtimestamp(s, dt.timezone(dt.timedelta(seconds=int(o))))
            for s, o in zip(self.hour_start_s, self.utc_offset_s)
        )

    @classmethod
    def from_arrays(cls, hour_start_s, utc_offset_s, counts, valid_s,
                    channels: tuple[str, ...] = ("all",)) -> HourlyCounts:
        order = np.argsort(np.asarray(hour_start_s, float), kind="stable")
        return cls(np.asarray(hour_start_s, float)[order],
                   np.asarray(utc_offset_s, float)[order],
                   np.asarray(counts, np.int64)[order],
                   np.asarray(valid_s, float)[order], tuple(channels))


def read_rates(paths, *, channel: str | None = None, min_valid_s: float = 60.0) -> HourlyCounts:
    """Read one or more rates CSV files into hourly counts.

    Parameters
    ----------
    paths : sequence of str or Path
        ``<stem>.rates.csv`` files (columns per CONTRACT; extra columns are ignored).
    channel : str or None
        Use only this channel; None sums all channels per hour.
    min_valid_s : float
        Hours with less valid time (channel-seconds, summed) are dropped.

    Returns
    -------
    HourlyCounts

    Raises
    ------
    InputError
        Naming the file and line of the first bad row, a missing column, a file given twice,
        or a channel that is in no file.
    """
    seen: set[str] = set()
    hours: dict[float, list[float]] = {}  # start_s -> [offset_s, counts, valid_s]
    channels: set[str] = set()
    for path in map(Path, paths):
        key = str(path.resolve())
        if key in seen:
            raise InputError(path, "given twice: its hours would be counted twice")
        seen.add(key)
        for line, start_s, offset_s, ch, n, valid in _rows(path):
            channels.add(ch)
            if channel is not None and ch != channel:
                continue
            slot = hours.setdefault(start_s, [offset_s, 0, 0.0])
            slot[1] += n
            slot[2] += valid
    if channel is not None and channel not in channels:
        listed = ", ".join(repr(c) for c in sorted(channels))
        raise InputError(paths[0], f"Invalid value for 'channel': allowed are {listed}, "
                         f"got {channel!r}")
    kept = sorted((s, v) for s, v in hours.items() if v[2] >= min_valid_s)
    if not kept:
        raise InputError(paths[0], f"no hour with at least {min_valid_s:g} s of valid rest")
    return HourlyCounts.from_arrays(
        [s for s, _ in kept], [v[0] for _, v in kept], [v[1] for _, v in kept],
        [v[2] for _, v in kept],
        (channel,) if channel is not None else tuple(sorted(channels)),
    )


def _rows(path: Path):
    rows = read_csv_rows(path, "the rates file")
    if not rows:
        raise InputError(path, "empty file: expected the rates header " + ",".join(RATES_COLUMNS))
    header = [h.strip() for h in rows[0]]
    for name in ("hour_start", "channel", "fasciculations", "valid_s"):
        if name not in header:
            raise InputError(path, f"line 1: missing column {name!r} (a rates file has "
                             + ", ".join(RATES_COLUMNS) + ")")
    col = {name: header.index(name) for name in ("hour_start", "channel", "fasciculations",
                                                 "valid_s")}
    for line, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        try:
            cells = {name: row[i].strip() for name, i in col.items()}
        except IndexError:
            raise InputError(path, f"line {line}: expected {len(header)} columns, "
                             f"got {len(row)}") from None
        try:
            when = dt.datetime.fromisoformat(cells["hour_start"])
        except ValueError:
            raise InputError(path, f"line {line}: invalid hour_start "
                             f"{cells['hour_start']!r}") from None
        if when.tzinfo is None:
            raise InputError(path, f"line {line}: hour_start {cells['hour_start']!r} "
                             "has no UTC offset")
        try:
            n = float(cells["fasciculations"])
            valid = float(cells["valid_s"])
        except ValueError:
            raise InputError(path, f"line {line}: fasciculations and valid_s must be numbers, "
                             f"got {cells['fasciculations']!r} and {cells['valid_s']!r}") from None
        if not (math.isfinite(n) and n >= 0 and n == int(n)):
            raise InputError(path, f"line {line}: fasciculations must be a count >= 0, "
                             f"got {cells['fasciculations']!r}")
        if not (math.isfinite(valid) and 0 <= valid <= 3601):
            raise InputError(path, f"line {line}: valid_s must be 0-3600 s, "
                             f"got {cells['valid_s']!r}")
        yield (line, when.timestamp(), when.utcoffset().total_seconds(), cells["channel"],
               int(n), valid)
