"""OpenBCI GUI text recordings (``OpenBCI-RAW-*.txt``).

Layouts understood:

* GUI v5/v6: ``%`` header lines (``%Number of channels = 8``, ``%Sample Rate = 250 Hz``,
  ``%Board = OpenBCI_GUI$BoardCytonSerial``), then a column header ``Sample Index, EXG Channel 0,
  ..., Accel/Digital/Analog ..., Timestamp, Marker Channel, Timestamp (Formatted)``. Older v5
  files say ``EEG Channel``. Columns are found by name, so the board mode (accelerometer,
  digital or analog auxiliary columns) does not matter.
* GUI v3/v4: ``%OpenBCI Raw EEG Data`` header, no column header; rows are ``index, ch1..chN,
  aux1..3[, hh:mm:ss.mmm, unix_ms]``.

EXG values are µV already. The ``Timestamp`` column (UNIX seconds, or milliseconds in v5/v6)
gives the start. The sample index (0-255 on the Cyton) reveals lost packets: their slots are
filled with 0 µV and marked as gaps.
"""

from __future__ import annotations

import os
import re

import numpy as np

from ..errors import InputError
from ..types import Recording
from ._common import (
    check_finite,
    fill_counter_losses,
    load_table,
    start_from_mtime,
    start_from_unix,
)

__all__ = ["parse_openbci_header", "read_openbci_txt"]

_CHANNEL = re.compile(r"^(?:EXG|EEG) Channel (\d+)$", re.IGNORECASE)


def parse_openbci_header(path: str | os.PathLike) -> tuple[dict[str, str], list[str] | None, int]:
    """``%`` header fields, the column names (None for v3/v4 files) and the first data line index."""
    fields: dict[str, str] = {}
    columns = None
    with open(path, encoding="utf-8", errors="replace") as fid:
        for index, line in enumerate(fid):
            text = line.strip()
            if text.startswith("%"):
                key, _, value = text[1:].partition("=")
                fields[key.strip()] = value.strip()
                continue
            if not text:
                continue
            if text[:1].isalpha():
                columns = [c.strip() for c in text.split(",")]
                return fields, columns, index + 1
            return fields, None, index
    return fields, columns, index + 1 if fields else 0


def _header_fs(path, fields: dict[str, str]) -> float | None:
    text = fields.get("Sample Rate")
    if text is None:
        return None
    match = re.match(r"([0-9.]+)", text)
    if not match:
        raise InputError(path, f"invalid '%Sample Rate' header: {text!r}")
    fs = float(match.group(1))
    if fs <= 0:
        raise InputError(path, f"sample rate is 0 Hz in the '%Sample Rate' header ({text!r})")
    return fs


def read_openbci_txt(path: str | os.PathLike, *, fs: float | None = None) -> Recording:
    """Read an OpenBCI GUI text file.

    Parameters
    ----------
    path : path-like
    fs : float, optional
        Sample rate in Hz, overriding the ``%Sample Rate`` header.
    """
    fields, columns, skip = parse_openbci_header(path)
    header_fs = _header_fs(path, fields)
    fs = fs if fs is not None else header_fs
    if fs is None:
        raise InputError(path, "no '%Sample Rate' header: give the sample rate (--fs)")
    n_header_ch = int(fields.get("Number of channels", "0") or 0)
    if columns is not None:
        chan_cols = [i for i, c in enumerate(columns) if _CHANNEL.match(c)]
        index_col = next((i for i, c in enumerate(columns) if c.lower() == "sample index"), None)
        time_col = next((i for i, c in enumerate(columns) if c.lower() == "timestamp"), None)
        names = [f"ch{int(_CHANNEL.match(columns[i]).group(1)) + 1}" for i in chan_cols]
        usecols = [c for c in [index_col, time_col] if c is not None] + chan_cols
        col_names = columns
    else:
        if n_header_ch <= 0:
            raise InputError(path, "zero channels: no '%Number of channels' header and no column header")
        chan_cols = list(range(1, n_header_ch + 1))
        index_col, time_col = 0, None
        names = [f"ch{i}" for i in range(1, n_header_ch + 1)]
        usecols = [0] + chan_cols
        col_names = ["Sample Index"] + [f"channel {i}" for i in range(1, n_header_ch + 1)]
    if not chan_cols:
        raise InputError(path, "zero channels: no 'EXG Channel' or 'EEG Channel' column")
    table = load_table(path, delimiter=",", skiprows=skip, usecols=usecols, comments="%", column_names=col_names)
    if table.shape[0] == 0:
        raise InputError(path, "no data rows after the header")
    pos = 0
    counter = times = None
    if index_col is not None:
        counter, pos = table[:, pos], pos + 1
    if time_col is not None:
        times, pos = table[:, pos], pos + 1
    data = table[:, pos:].T
    check_finite(path, data.T, first_line=skip + 1, names=names)
    if columns is None:  # v3/v4: the timestamp, when present, is the last numeric column
        times = _old_format_times(path, skip)
    gaps, lost = [], 0
    if counter is not None:
        data, gaps, lost = fill_counter_losses(data, counter, 256, fs)
    duration = data.shape[1] / fs
    if times is not None and times.size and np.isfinite(times[0]) and times[0] > 1e8:
        start = start_from_unix(path, times[0])
    else:
        start = start_from_mtime(path, duration)
    return Recording(
        data.astype(np.float32), fs=fs, channel_names=names, start=start, gaps=gaps,
        format="openbci", path=str(path), packets_lost=lost,
    )


def _old_format_times(path, skip: int) -> np.ndarray | None:
    """The trailing UNIX-ms column of GUI v4 rows (``..., hh:mm:ss.mmm, 1536155545296``), if any."""
    with open(path, encoding="utf-8", errors="replace") as fid:
        for index, line in enumerate(fid):
            if index < skip or line.startswith("%") or not line.strip():
                continue
            last = line.strip().split(",")[-1].strip()
            try:
                return np.array([float(last)])
            except ValueError:
                return None
    return None
