"""Plain delimited text: MyoWare/Arduino serial logs and generic CSV exports.

* Delimiter: comma, semicolon, tab or spaces (sniffed from the first data line).
* Header row: optional. Without one, the columns are ``ch1..chN``.
* Time column: a column named ``time``, ``t``, ``timestamp``, ``seconds``, ``time_s``
  (seconds), ``ms``, ``millis``, ``time_ms`` (milliseconds), ``us``, ``micros``, ``time_us``
  (microseconds), or holding ISO 8601 times. Without a header, a first column that strictly
  increases is taken as time when ``fs`` is not given (milliseconds if it holds integers).
  Times must strictly increase: a duplicate or a step backwards is an error. UNIX times
  (> 1e9 s) and ISO times give the start; relative times do not (the file's modification time
  minus the duration is used).
* Sample rate: ``fs`` when given, otherwise from the median time step (rounded to whole Hz
  from 20 Hz up). Steps of three or more sample periods are gaps: their slots are filled with
  0 µV and marked invalid.
* Values: µV, or ADC counts times ``scale_uv`` (µV per count) when given.
"""

from __future__ import annotations

import datetime as dt
import os
import re

import numpy as np

from ..errors import InputError
from ..types import Gap, Recording
from ._common import check_finite, load_table, start_from_mtime, start_from_unix

__all__ = ["read_csv"]

_TIME_UNITS = {
    "time": 1.0, "t": 1.0, "timestamp": 1.0, "seconds": 1.0, "time_s": 1.0, "sec": 1.0, "s": 1.0,
    "ms": 1e-3, "millis": 1e-3, "time_ms": 1e-3, "timestamp_ms": 1e-3, "millis()": 1e-3,
    "us": 1e-6, "micros": 1e-6, "time_us": 1e-6, "timestamp_us": 1e-6, "micros()": 1e-6,
}
_ISO = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d")


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _first_lines(path, n: int = 3) -> list[tuple[int, str]]:
    out = []
    with open(path, encoding="utf-8", errors="replace") as fid:
        for index, line in enumerate(fid):
            if line.strip() and not line.lstrip().startswith("#"):
                out.append((index, line.rstrip("\r\n")))
                if len(out) >= n:
                    break
    return out


def _sniff_delimiter(line: str) -> str | None:
    for delim in (",", ";", "\t"):
        if delim in line:
            return delim
    return None  # whitespace


def _split(line: str, delim: str | None) -> list[str]:
    return [t.strip().strip('"') for t in (line.split(delim) if delim else line.split())]


def _parse_iso_column(path, lines: list[str], col: int, delim, first_line: int) -> tuple[np.ndarray, dt.datetime]:
    times = np.empty(len(lines))
    t0 = None
    for i, line in enumerate(lines):
        token = _split(line, delim)[col]
        try:
            stamp = dt.datetime.fromisoformat(token)
        except ValueError:
            raise InputError(path, f"line {first_line + i}: time {token!r} is not ISO 8601") from None
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=dt.timezone.utc)
        if t0 is None:
            t0 = stamp
        times[i] = (stamp - t0).total_seconds()
    return times, t0


def read_csv(path: str | os.PathLike, *, fs: float | None = None, scale_uv: float | None = None) -> Recording:
    """Read a delimited text recording (see the module description for the rules).

    Parameters
    ----------
    path : path-like
    fs : float, optional
        Sample rate in Hz; required when the file has no time column.
    scale_uv : float, optional
        µV per ADC count; values are taken as µV when None.
    """
    if fs is not None and not (np.isfinite(fs) and fs > 0):
        raise InputError(path, f"sample rate must be > 0 Hz, got {fs!r}")
    if scale_uv is not None and not (np.isfinite(scale_uv) and scale_uv > 0):
        raise InputError(path, f"scale must be > 0 µV per count, got {scale_uv!r}")
    first = _first_lines(path)
    if not first:
        raise InputError(path, "empty file: no data rows")
    delim = _sniff_delimiter(first[0][1])
    tokens = _split(first[0][1], delim)
    has_header = not all(_is_number(t) or _ISO.match(t) for t in tokens)
    if has_header:
        header = tokens
        skip = first[0][0] + 1
        if len(first) < 2:
            raise InputError(path, "no data rows after the header")
        row = _split(first[1][1], delim)
    else:
        header = [f"ch{i}" for i in range(1, len(tokens) + 1)]
        skip = first[0][0]
        row = tokens
    if len(row) != len(header):
        raise InputError(path, f"line {skip + 1}: {len(row)} values for {len(header)} columns")
    lowered = [h.lower() for h in header]
    time_col, unit = None, 1.0
    iso = False
    for i, name in enumerate(lowered):
        if name in _TIME_UNITS:
            time_col, unit = i, _TIME_UNITS[name]
            break
    for i, token in enumerate(row):
        if _ISO.match(token):
            time_col, iso = i, True
            break
    if time_col is None and not has_header and fs is None and len(header) >= 2:
        probe = load_table(path, delimiter=delim, skiprows=skip, usecols=[0], comments="#", column_names=header)
        if probe.shape[0] >= 3 and np.all(np.diff(probe[:, 0]) > 0):
            time_col = 0
            header[0] = "time"
            unit = 1e-3 if np.all(probe[:, 0] == np.round(probe[:, 0])) else 1.0
    if time_col is None and fs is None:
        raise InputError(path, "no time column: give the sample rate (--fs)")
    chan_cols = [i for i in range(len(header)) if i != time_col]
    if not chan_cols:
        raise InputError(path, "zero channels: the file holds only a time column")
    names = _unique([header[i] or f"ch{k}" for k, i in enumerate(chan_cols, 1)])

    data = load_table(path, delimiter=delim, skiprows=skip, usecols=chan_cols, comments="#", column_names=header)
    if data.shape[0] == 0:
        raise InputError(path, "no data rows")
    check_finite(path, data, first_line=skip + 1, names=names)
    start = None
    gaps: list[Gap] = []
    if time_col is not None:
        if iso:
            with open(path, encoding="utf-8", errors="replace") as fid:
                lines = [ln for k, ln in enumerate(fid) if k >= skip and ln.strip() and not ln.startswith("#")]
            times, start = _parse_iso_column(path, lines, time_col, delim, skip + 1)
        else:
            raw = load_table(path, delimiter=delim, skiprows=skip, usecols=[time_col], comments="#",
                             column_names=header)[:, 0]
            check_finite(path, raw[:, None], first_line=skip + 1, names=[header[time_col]])
            times = raw * unit
            if raw.size and raw[0] * unit > 1e9:
                start = start_from_unix(path, raw[0] * unit)
            times = times - times[0]
        steps = np.diff(times)
        bad = np.flatnonzero(steps <= 0)
        if bad.size:
            i = int(bad[0])
            what = "duplicate timestamp" if steps[i] == 0 else "timestamp goes backwards"
            raise InputError(path, f"line {skip + i + 2}: {what} ({header[time_col]} column)")
        if fs is None:
            if steps.size == 0:
                raise InputError(path, "one row only: cannot tell the sample rate, give it (--fs)")
            fs = 1.0 / float(np.median(steps))
            fs = float(round(fs)) if fs >= 20 else round(fs, 3)
        slots = np.rint(times * fs).astype(np.int64)
        step_slots = np.diff(slots)
        jumps = np.flatnonzero(step_slots >= 3)
        if jumps.size:
            positions = np.arange(len(times), dtype=np.int64)
            extra = np.zeros(len(times), dtype=np.int64)
            extra[jumps + 1] = step_slots[jumps] - 1
            positions += np.cumsum(extra)
            filled = np.zeros((positions[-1] + 1, data.shape[1]))
            filled[positions] = data
            gaps = [Gap((positions[j] + 1) / fs, (step_slots[j] - 1) / fs) for j in jumps]
            data = filled
    values = data.T * (scale_uv if scale_uv is not None else 1.0)
    if start is None:
        start = start_from_mtime(path, values.shape[1] / fs)
    return Recording(
        values.astype(np.float32), fs=fs, channel_names=names, start=start, gaps=gaps,
        format="csv", path=str(path),
    )


def _unique(names: list[str]) -> list[str]:
    out, seen = [], set()
    for name in names:
        base, k, cand = name, 2, name
        while cand in seen:
            cand, k = f"{base}-{k}", k + 1
        seen.add(cand)
        out.append(cand)
    return out
