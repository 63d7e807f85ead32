"""Files written by BrainFlow's ``DataFilter.write_file`` for OpenBCI boards.

Tab-separated, no header, one sample per line, one column per board row. Layouts (from
BrainFlow's board descriptions):

* Cyton (24 columns): 0 package number (0-255), 1-8 EXG in µV, 9-11 accelerometer,
  12-18 other, 19-21 analog, 22 UNIX timestamp (s), 23 marker;
* Cyton+Daisy (32 columns): 0 package number, 1-16 EXG in µV, 17-19 accelerometer,
  20-26 other, 27-29 analog, 30 UNIX timestamp (s), 31 marker.

The timestamps are taken on the PC when packets arrive (bursty), so they give the start and
the mean rate, not the sample times. The sample rate is the mean rate snapped to the board's
nominal rates (Cyton 250 Hz, Daisy 125 Hz, WiFi shield up to 16 kHz) unless given.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import InputError
from ..types import Recording
from ._common import check_finite, fill_counter_losses, load_table, start_from_unix

__all__ = ["LAYOUTS", "read_brainflow"]

# number of columns -> (name, EXG columns, timestamp column, nominal rate Hz)
LAYOUTS = {
    24: ("cyton", list(range(1, 9)), 22, 250.0),
    32: ("cyton-daisy", list(range(1, 17)), 30, 125.0),
}
_NOMINAL_FS = (125.0, 200.0, 250.0, 500.0, 1000.0, 1600.0, 2000.0, 4000.0, 8000.0, 16000.0)


def _estimate_fs(path, times: np.ndarray, nominal: float) -> float:
    if times.size < 2:
        return nominal
    span = float(times[-1] - times[0])
    if not np.isfinite(span) or span <= 0:
        return nominal
    mean_fs = (times.size - 1) / span
    best = min(_NOMINAL_FS, key=lambda f: abs(np.log(f / mean_fs)))
    if abs(best - mean_fs) / best > 0.1:
        raise InputError(
            path, f"the timestamps give {mean_fs:.1f} Hz, no standard OpenBCI rate: give the sample rate (--fs)"
        )
    return best


def read_brainflow(path: str | os.PathLike, *, fs: float | None = None) -> Recording:
    """Read a BrainFlow Cyton or Cyton+Daisy file (``DataFilter.write_file``).

    Parameters
    ----------
    path : path-like
    fs : float, optional
        Sample rate in Hz; estimated from the timestamp column when None.
    """
    table = load_table(path, delimiter="\t", skiprows=0)
    if table.shape[0] == 0:
        raise InputError(path, "empty file: no samples")
    n_cols = table.shape[1]
    if n_cols not in LAYOUTS:
        raise InputError(
            path, f"BrainFlow file with {n_cols} columns: allowed are 24 (Cyton) and 32 (Cyton+Daisy)"
        )
    _, exg, time_col, nominal = LAYOUTS[n_cols]
    times = table[:, time_col]
    names = [f"ch{i}" for i in range(1, len(exg) + 1)]
    data = table[:, exg].T
    check_finite(path, table[:, exg], first_line=1, names=names)
    if fs is None:
        fs = _estimate_fs(path, times, nominal)
    data, gaps, lost = fill_counter_losses(data, table[:, 0], 256, fs)
    return Recording(
        data.astype(np.float32), fs=fs, channel_names=names, start=start_from_unix(path, times[0]),
        gaps=gaps, format="brainflow", path=str(path), packets_lost=lost,
    )
