"""Helpers shared by the text and HDF5 readers: numeric tables, counters, start times."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..types import Gap

__all__ = ["check_finite", "fill_counter_losses", "load_table", "start_from_mtime", "start_from_unix"]

_NUMPY_ROW = re.compile(r"at row (\d+), column (\d+)")
_COLUMNS_CHANGED = re.compile(r"number of columns changed from \d+ to (?P<n>\d+) at row (?P<row>\d+)")
_COLUMN_MISSING = re.compile(r"invalid column index \d+ at row (?P<row>\d+) with (?P<n>\d+) columns")


def load_table(
    path: str | os.PathLike,
    *,
    delimiter: str | None,
    skiprows: int,
    usecols=None,
    dtype=np.float64,
    comments: str | None = None,
    column_names: list[str] | None = None,
) -> np.ndarray:
    """A 2-D float array from a delimited text file; errors become one-line InputErrors.

    Line numbers in messages count from 1 at the top of the file.
    """
    try:
        table = np.loadtxt(
            path, delimiter=delimiter, skiprows=skiprows, usecols=usecols, dtype=dtype,
            comments=comments, ndmin=2, encoding="utf-8",
        )
    except ValueError as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        match = _NUMPY_ROW.search(text)
        if match:
            # numpy counts rows from 0 after the skipped lines and columns from 1 in the file
            line = int(match.group(1)) + skiprows + 1
            col = int(match.group(2)) - 1
            name = column_names[col] if column_names and 0 <= col < len(column_names) else f"column {col + 1}"
            bad = re.search(r"could not convert string '([^']*)'", text)
            value = f" ({bad.group(1)!r})" if bad else ""
            raise InputError(path, f"line {line}: {name} is not a number{value}") from None
        changed = _COLUMNS_CHANGED.search(text) or _COLUMN_MISSING.search(text)
        if changed:
            line = int(changed.group("row")) + skiprows
            raise InputError(path, f"line {line}: {changed.group('n')} columns, the rows before have more") from None
        raise InputError(path, f"cannot parse the table: {text}") from None
    except UnicodeDecodeError:
        raise InputError(path, "not a text file (invalid UTF-8)") from None
    return table


def check_finite(path, values: np.ndarray, *, first_line: int, names: list[str]) -> None:
    """Raise InputError naming the first NaN/inf cell of ``values`` (rows = file lines)."""
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise InputError(
            path, f"line {first_line + int(row)}: {names[col]} is {float(values[row, col])} (NaN or infinite)"
        )


def fill_counter_losses(
    data: np.ndarray, counter: np.ndarray, modulus: int, fs: float
) -> tuple[np.ndarray, list[Gap], int]:
    """Put samples back into their time slots using a wrapping packet counter.

    A jump of the counter larger than its usual step means lost samples: they are filled
    with 0 µV and reported as gaps (never interpolated). Losses longer than one counter
    period wrap unseen.

    Parameters
    ----------
    data : ndarray, shape (channels, n)
    counter : ndarray, shape (n,)
        Sample/packet number as recorded (e.g. the Cyton's 0-255).
    modulus : int
        Counter period.
    fs : float
        Sample rate (Hz) for the gap times.

    Returns
    -------
    data : ndarray, shape (channels, n + lost)
    gaps : list of Gap
    lost : int
        Samples inserted.
    """
    if counter.size < 2:
        return data, [], 0
    top = float(np.max(counter))
    if np.min(counter) < 0 or top >= modulus or (counter.size > 2 * modulus and top != modulus - 1):
        return data, [], 0  # not a counter with this period (e.g. another board's numbering)
    diffs = np.mod(np.diff(counter.astype(np.int64)), modulus)
    values, counts = np.unique(diffs, return_counts=True)
    step = int(values[np.argmax(counts)])
    if step <= 0:
        return data, [], 0
    jumps = np.flatnonzero((diffs != step) & (diffs % step == 0) & (diffs > 0))
    if jumps.size == 0:
        return data, [], 0
    missing = diffs[jumps] // step - 1
    positions = np.zeros(counter.size, dtype=np.int64)
    positions[1:] = 1
    positions[jumps + 1] += missing
    positions = np.cumsum(positions)
    out = np.zeros((data.shape[0], int(positions[-1]) + 1), dtype=data.dtype)
    out[:, positions] = data
    gaps = [Gap(float(positions[j] + 1) / fs, float(m) / fs) for j, m in zip(jumps, missing)]
    return out, gaps, int(missing.sum())


def start_from_unix(path, seconds_or_ms: float) -> dt.datetime:
    """A UTC start from a UNIX time in seconds, or in milliseconds when it is that large."""
    value = float(seconds_or_ms)
    if not np.isfinite(value) or value <= 0:
        raise InputError(path, f"invalid timestamp {seconds_or_ms!r}")
    if value > 1e11:  # milliseconds (OpenBCI GUI v5/v6 write ms)
        value /= 1000.0
    return dt.datetime.fromtimestamp(value, tz=dt.timezone.utc)


def start_from_mtime(path, duration_s: float) -> dt.datetime:
    """Best guess when a file holds no absolute time: it ended when it was last modified."""
    mtime = Path(path).stat().st_mtime
    return dt.datetime.fromtimestamp(mtime - duration_s, tz=dt.timezone.utc).replace(microsecond=0)
