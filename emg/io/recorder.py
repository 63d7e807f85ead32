"""A crash-safe BDF+ writer for live data.

The file is valid after every data record: the header goes out first with a record count of
-1 (readers then count records from the file size), and each 1-second record is written,
flushed and ``fsync``'d as soon as it is full. After a ``kill -9`` or a power cut the file
opens in MNE, EDFbrowser and :func:`emg.io.read` with everything but the last partial second.
``close()`` writes the last partial record (padded with zeros, marked ``gap``) and the true
record count.

Beside the recording, the sidecar ``FILE.json`` (CONTRACT) is rewritten atomically (temporary
file + ``os.replace``) at least every 10 s of data and on close.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections import deque
from pathlib import Path

import numpy as np

from ..types import _check_fs, _check_names, _check_start
from .edf_header import N_RECORDS_OFFSET, SignalHeader, build_header, encode_tal, n_records_field

__all__ = ["BdfRecorder"]

_DIGITAL_MAX = 2**23 - 1
_ANNOTATION_SAMPLES = 170  # 510 bytes of TALs per record: about 20 gaps per second
_SIDECAR_EVERY_S = 10.0


class BdfRecorder:
    """Append-only BDF+ recorder with 1-second records, each fsync'd when full.

    Parameters
    ----------
    path : path-like
        The ``.bdf`` file to create (overwritten).
    fs : float
        Sample rate in Hz; must be a whole number (one record holds one second).
    channel_names : sequence of str
        Names of the channels (at most 16 characters each, unique).
    start : datetime
        Timezone-aware time of the first sample.
    physical_max_uv : float
        Range ±``physical_max_uv`` µV over ±(2**23 - 1) steps; the default 187500 µV makes one
        step exactly one Cyton count at gain 24. Larger samples are clipped (and counted in
        :attr:`samples_clipped`).
    sidecar : path-like, dict, False or None
        Where the JSON sidecar goes: None puts it beside the file (``FILE.json``); a dict
        does too and gives its first fields (``board``, ``port``); False writes none.
    fsync : bool
        ``os.fsync`` after every record (the crash-safety guarantee). False only flushes:
        for writing files offline fast (benchmarks, conversions).

    Examples
    --------
    >>> with BdfRecorder("x.bdf", fs=250, channel_names=["ch1"], start=start) as rec:  # doctest: +SKIP
    ...     rec.write(block_uv)          # float array (channels, n), any n
    ...     rec.add_gap(12.0, 0.5)       # after writing 0.5 s of zero filler for it
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        fs: float,
        channel_names,
        start: dt.datetime,
        physical_max_uv: float = 187500.0,
        sidecar: str | os.PathLike | dict | bool | None = None,
        fsync: bool = True,
    ):
        fs = _check_fs(fs)
        if abs(fs - round(fs)) > 1e-9:
            raise ValueError(f"Invalid value for 'fs': BdfRecorder needs a whole number of Hz, got {fs!r}.")
        if not (np.isfinite(physical_max_uv) and physical_max_uv > 0):
            raise ValueError(f"Invalid value for 'physical_max_uv': must be > 0, got {physical_max_uv!r}.")
        self.path = Path(path)
        self.fs = float(round(fs))
        self.channel_names = _check_names(channel_names)
        if any(len(name) > 16 for name in self.channel_names):
            raise ValueError(
                f"Invalid value for 'channel_names': BDF labels hold at most 16 characters, got {self.channel_names}."
            )
        self.start = _check_start(start)
        self.physical_max_uv = float(physical_max_uv)
        self._spr = int(self.fs)
        self._n_ch = len(self.channel_names)
        self._gain = self.physical_max_uv / _DIGITAL_MAX
        self._frac = self.start.microsecond / 1e6
        self._buffer = np.zeros((self._n_ch, self._spr), dtype=np.float32)
        self._fill = 0
        self._records = 0
        self._samples = 0
        self._pending: deque[bytes] = deque()
        self._gaps: list[tuple[float, float]] = []
        self.samples_clipped = 0
        self._closed = False
        self._fsync = bool(fsync)

        fields = {"board": None, "port": None, "packets_lost": 0, "reconnects": 0}
        if sidecar is False:
            self._sidecar_path = None
        elif sidecar is None or sidecar is True or isinstance(sidecar, dict):
            self._sidecar_path = self.path.with_suffix(".json")
            if isinstance(sidecar, dict):
                fields.update(sidecar)
        else:
            self._sidecar_path = Path(sidecar)
        self._fields = fields
        self._sidecar_samples = 0
        self._sidecar_dirty = False

        signals = [
            SignalHeader(
                label=name, transducer="surface EMG electrode", unit="uV",
                physical_min=-self.physical_max_uv, physical_max=self.physical_max_uv,
                digital_min=-_DIGITAL_MAX, digital_max=_DIGITAL_MAX, prefilter="",
                samples_per_record=self._spr,
            )
            for name in self.channel_names
        ]
        signals.append(
            SignalHeader(
                label="BDF Annotations", transducer="", unit="", physical_min=-1, physical_max=1,
                digital_min=-(2**23), digital_max=_DIGITAL_MAX, prefilter="",
                samples_per_record=_ANNOTATION_SAMPLES,
            )
        )
        header = build_header(
            bits=24, start=self.start.replace(microsecond=0), n_records=-1, record_duration_s=1.0,
            signals=signals,
        )
        self._file = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        self._file.write(header)
        self._sync()
        self._write_sidecar()

    # -- public ----------------------------------------------------------------------------
    @property
    def samples_written(self) -> int:
        """Samples accepted so far per channel (those still buffered included)."""
        return self._samples

    @property
    def closed(self) -> bool:
        return self._closed

    def write(self, data_uv) -> None:
        """Append samples (µV, shape (channels, n)); full 1-second records go to disk at once."""
        self._check_open()
        data = np.asarray(data_uv, dtype=np.float32)
        if data.ndim == 1 and self._n_ch == 1:
            data = data[None, :]
        if data.ndim != 2 or data.shape[0] != self._n_ch:
            raise ValueError(
                f"Invalid value for 'data_uv': expected shape ({self._n_ch}, n), got {data.shape}."
            )
        if not np.isfinite(data).all():
            raise ValueError("Invalid value for 'data_uv': samples must be finite (write 0 µV in gaps).")
        pos, n = 0, data.shape[1]
        while pos < n:
            take = min(self._spr - self._fill, n - pos)
            self._buffer[:, self._fill : self._fill + take] = data[:, pos : pos + take]
            self._fill += take
            pos += take
            if self._fill == self._spr:
                self._write_record()
        self._samples += n
        if self._samples - self._sidecar_samples >= _SIDECAR_EVERY_S * self.fs:
            self._write_sidecar()

    def add_gap(self, start_s: float, duration_s: float) -> None:
        """Mark ``[start_s, start_s + duration_s)`` (s from start) as a gap; filler already written."""
        self._check_open()
        if not (np.isfinite(start_s) and np.isfinite(duration_s) and duration_s > 0 and start_s >= 0):
            raise ValueError(
                f"Invalid gap: start_s must be >= 0 and duration_s > 0, got {start_s!r}, {duration_s!r}."
            )
        self._gaps.append((float(start_s), float(duration_s)))
        self._pending.append(encode_tal(start_s + self._frac, duration_s, ("gap",)))
        self._sidecar_dirty = True

    def annotate(self, onset_s: float, duration_s: float, text: str) -> None:
        """Add an annotation (seconds from start) to the next data record's TAL."""
        self._check_open()
        if not (np.isfinite(onset_s) and np.isfinite(duration_s) and duration_s >= 0):
            raise ValueError(f"Invalid annotation: got onset_s={onset_s!r}, duration_s={duration_s!r}.")
        self._pending.append(encode_tal(onset_s + self._frac, duration_s, (str(text),)))

    def update_sidecar(self, **fields) -> None:
        """Set sidecar fields (``board``, ``port``, ``packets_lost``, ``reconnects``, ...).

        Written with the next data record (or on close), so frequent calls stay cheap.
        """
        self._fields.update(fields)
        self._sidecar_dirty = True

    def close(self) -> None:
        """Write the last partial record (zero-padded, marked ``gap``), the record count, the sidecar."""
        if self._closed:
            return
        try:
            if self._fill:
                pad = self._spr - self._fill
                self._buffer[:, self._fill :] = 0.0
                self._pending.appendleft(encode_tal(self._samples / self.fs + self._frac, pad / self.fs, ("gap",)))
                self._gaps.append((self._samples / self.fs, pad / self.fs))
                self._write_record()
            self._file.seek(N_RECORDS_OFFSET)
            self._file.write(n_records_field(self._records))
            self._sync()
        finally:
            self._file.close()
            self._closed = True
        self._write_sidecar()

    def __enter__(self) -> BdfRecorder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"{self.path}: the recorder is closed.")

    def _sync(self) -> None:
        self._file.flush()
        if self._fsync:
            os.fsync(self._file.fileno())

    def _write_record(self) -> None:
        digital = np.rint(self._buffer / self._gain)
        clipped = np.abs(digital) > _DIGITAL_MAX
        if clipped.any():
            self.samples_clipped += int(clipped.sum())
            np.clip(digital, -_DIGITAL_MAX, _DIGITAL_MAX, out=digital)
        wide = digital.astype("<i4").view(np.uint8).reshape(self._n_ch, self._spr, 4)[..., :3]
        room = _ANNOTATION_SAMPLES * 3
        tal = bytearray(encode_tal(self._records * 1.0 + self._frac))
        while self._pending and len(tal) + len(self._pending[0]) <= room:
            tal += self._pending.popleft()
        tal += bytes(room - len(tal))
        self._file.write(wide.tobytes() + bytes(tal))
        self._records += 1
        self._fill = 0
        self._sync()
        if self._sidecar_dirty:
            self._write_sidecar()

    def _write_sidecar(self) -> None:
        self._sidecar_samples = self._samples
        self._sidecar_dirty = False
        if self._sidecar_path is None:
            return
        content = {
            "board": self._fields.get("board"),
            "port": self._fields.get("port"),
            "fs": self.fs,
            "channels": list(self.channel_names),
            "start": self.start.isoformat(),
            "samples": self._samples,
            "packets_lost": int(self._fields.get("packets_lost", 0)),
            "reconnects": int(self._fields.get("reconnects", 0)),
            "gaps": [[s, d] for s, d in self._gaps],
        }
        extra = {k: v for k, v in self._fields.items() if k not in content}
        content.update(extra)
        tmp = self._sidecar_path.with_name(self._sidecar_path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fid:
            json.dump(content, fid, indent=1, default=str)
            fid.flush()
            os.fsync(fid.fileno())
        os.replace(tmp, self._sidecar_path)
