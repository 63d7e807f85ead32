"""Reading and writing recordings: BDF/EDF(+), OpenBCI GUI text, BrainFlow, CSV, Plux HDF5.

>>> import emg.io
>>> rec = emg.io.read("datasets/openbci_gui/OpenBCI_GUI-v6-blinks-jawClench-alpha.txt")  # doctest: +SKIP
>>> emg.io.write_bdf(rec, "out.bdf")  # doctest: +SKIP

Every reader returns float32 µV and raises :class:`emg.errors.InputError` (one line naming the
file and the cause) on a file it cannot use. The format is detected from the content.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from ..errors import InputError
from ..types import Chunk, Recording, RecordingInfo
from .detect import FORMATS, detect_format

__all__ = ["FORMATS", "BdfRecorder", "detect_format", "open_reader", "read", "read_info", "write_bdf"]


def _check_format(path, format: str) -> str:
    if format not in ("auto",) + FORMATS:
        raise ValueError(
            f"Invalid value for 'format': allowed are {', '.join(repr(f) for f in ('auto',) + FORMATS)}, "
            f"got {format!r}."
        )
    detected = detect_format(path)  # also checks that the path exists and is a file
    return detected if format == "auto" else format


def _read_any(path, fmt: str, fs, scale_uv) -> Recording:
    if fmt in ("bdf", "edf"):
        from .bdf import EdfReader

        rec = EdfReader(path, format_name=fmt).read()
    elif fmt == "openbci":
        from .openbci_txt import read_openbci_txt

        rec = read_openbci_txt(path, fs=fs)
    elif fmt == "brainflow":
        from .brainflow import read_brainflow

        rec = read_brainflow(path, fs=fs)
    elif fmt == "csv":
        from .csv import read_csv

        rec = read_csv(path, fs=fs, scale_uv=scale_uv)
    else:
        from .plux import read_plux

        rec = read_plux(path)
    return rec


def read(
    path: str | os.PathLike,
    *,
    format: str = "auto",
    fs: float | None = None,
    scale_uv: float | None = None,
) -> Recording:
    """Read a recording into memory as float32 µV.

    Parameters
    ----------
    path : path-like
    format : str
        ``"auto"`` (from the content), ``"bdf"``, ``"edf"``, ``"openbci"``, ``"brainflow"``,
        ``"csv"`` or ``"plux"``.
    fs : float, optional
        Sample rate in Hz: required for CSV files without a time column; overrides the
        header of OpenBCI/BrainFlow text files.
    scale_uv : float, optional
        µV per ADC count for CSV logs of raw counts (MyoWare/Arduino).

    Returns
    -------
    Recording
        With ``format`` and ``path`` set.

    Raises
    ------
    InputError
        The file is missing, unreadable, truncated or inconsistent.
    """
    fmt = _check_format(path, format)
    try:
        return _read_any(path, fmt, fs, scale_uv)
    except InputError:
        raise
    except (ValueError, OSError, KeyError, IndexError) as exc:  # a Recording check or an I/O failure
        raise InputError(path, str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc


def read_info(
    path: str | os.PathLike,
    *,
    format: str = "auto",
    fs: float | None = None,
    scale_uv: float | None = None,
) -> RecordingInfo:
    """The header of a recording: reads only the header (and annotations) for BDF/EDF and Plux."""
    fmt = _check_format(path, format)
    try:
        if fmt in ("bdf", "edf"):
            from .bdf import EdfReader

            return EdfReader(path, format_name=fmt).info
        if fmt == "plux":
            from .plux import read_plux

            return read_plux(path).info
        return _read_any(path, fmt, fs, scale_uv).info
    except InputError:
        raise
    except (ValueError, OSError, KeyError, IndexError) as exc:
        raise InputError(path, str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc


class _MemoryReader:
    """The reader interface over a recording already in memory (text formats)."""

    def __init__(self, recording: Recording):
        self.recording = recording
        self.info = recording.info

    def iter_chunks(self, chunk_s: float = 10.0) -> Iterator[Chunk]:
        return self.recording.iter_chunks(chunk_s)

    def read(self) -> Recording:
        return self.recording


def open_reader(
    path: str | os.PathLike,
    *,
    format: str = "auto",
    fs: float | None = None,
    scale_uv: float | None = None,
):
    """An object with ``.info`` and ``.iter_chunks(chunk_s=10.0)`` (and ``.read()``).

    BDF/EDF files are read chunk by chunk from disk (bounded memory, so a 24-hour file can be
    processed); the text formats and Plux are loaded whole.
    """
    fmt = _check_format(path, format)
    if fmt in ("bdf", "edf"):
        from .bdf import EdfReader

        try:
            return EdfReader(path, format_name=fmt)
        except InputError:
            raise
        except (ValueError, OSError) as exc:
            raise InputError(path, str(exc).splitlines()[0]) from exc
    return _MemoryReader(read(path, format=fmt, fs=fs, scale_uv=scale_uv))


def write_bdf(recording: Recording, path: str | os.PathLike) -> None:
    """Write ``recording`` as BDF+ (see :func:`emg.io.bdf.write_bdf`)."""
    from .bdf import write_bdf as _write

    _write(recording, path)


def __getattr__(name: str):
    if name == "BdfRecorder":
        from .recorder import BdfRecorder

        return BdfRecorder
    raise AttributeError(f"module 'emg.io' has no attribute {name!r}")
