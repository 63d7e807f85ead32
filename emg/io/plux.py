"""Plux biosignalsplux recordings in the OpenSignals HDF5 format (``.h5``).

Layout: one top-level group per device, named after its MAC address, with attributes
``sampling rate``, ``resolution`` (bits per channel), ``channels``, ``date`` (``2019-10-14``),
``time`` (``16:52:39.448``) and ``nsamples``; samples in ``<mac>/raw/channel_N`` (shape (n, 1)),
a sequence counter in ``<mac>/raw/nSeq``.

EMG sensor transfer function (Plux EMG datasheet): EMG(V) = (ADC / 2**bits - 1/2) × VCC / G
with VCC = 3 V and G = 1000, so µV = (ADC / 2**bits - 0.5) × 3.0 × 1000. Only channels whose
``sensor`` attribute is ``EMG`` are read. OpenSignals stores local wall-clock time without a
zone: it is read as UTC.
"""

from __future__ import annotations

import datetime as dt
import os

import numpy as np

from ..errors import InputError
from ..types import Recording, RecordingInfo
from ._common import fill_counter_losses

__all__ = ["is_plux", "read_plux", "read_plux_info"]

_VCC_V = 3.0
_GAIN = 1000.0


def _device_group(path, h5):
    for name in h5:
        group = h5[name]
        if hasattr(group, "attrs") and "sampling rate" in group.attrs and "raw" in group:
            return group
    raise InputError(path, "HDF5 file is not an OpenSignals (Plux) recording: no device group with 'sampling rate'")


def is_plux(path) -> bool:
    """True when ``path`` is an HDF5 file with an OpenSignals device group."""
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            _device_group(path, h5)
    except (OSError, InputError):
        return False
    return True


def _scalar(value):
    arr = np.asarray(value)
    return arr.reshape(-1)[0] if arr.size else None


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _open(path):
    import h5py

    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise InputError(path, f"cannot open HDF5 file ({str(exc).splitlines()[0]})") from None


def _header(path, group) -> tuple[float, list[tuple[str, str, int]], dt.datetime]:
    attrs = group.attrs
    fs = float(_scalar(attrs["sampling rate"]))
    if not fs > 0:
        raise InputError(path, f"sample rate is {fs:g} Hz in the 'sampling rate' attribute")
    resolutions = np.atleast_1d(np.asarray(attrs.get("resolution", [16])))
    channels = []
    sensors = []
    for key in sorted(group["raw"], key=lambda k: (len(k), k)):
        if not key.startswith("channel_"):
            continue
        ds = group["raw"][key]
        sensor = _text(ds.attrs.get("sensor", "EMG"))
        sensors.append(sensor)
        if sensor.upper() != "EMG":
            continue
        index = len(channels)
        bits = int(resolutions[min(index, resolutions.size - 1)])
        label = _text(ds.attrs.get("label", key)) or key
        channels.append((key, label, bits))
    if not channels:
        raise InputError(path, f"zero channels: no EMG channel in the Plux file (sensors: {sensors or 'none'})")
    try:
        date = _text(attrs["date"])
        clock = _text(attrs["time"])
        year, month, day = (int(x) for x in date.split("-"))
        hms, _, frac = clock.partition(".")
        hour, minute, second = (int(x) for x in hms.split(":"))
        micro = int(round(float("0." + frac) * 1e6)) if frac else 0
        start = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.timezone.utc)
        start += dt.timedelta(microseconds=micro)
    except (KeyError, ValueError):
        raise InputError(path, "invalid 'date'/'time' attributes in the Plux file") from None
    return fs, channels, start


def read_plux_info(path: str | os.PathLike) -> RecordingInfo:
    """Header of a Plux file without reading its samples."""
    with _open(path) as h5:
        group = _device_group(path, h5)
        fs, channels, start = _header(path, group)
        n = group["raw"][channels[0][0]].shape[0]
        names = [label for _, label, _ in channels]
    return RecordingInfo(fs=fs, channel_names=names, start=start, n_samples=n, format="plux", path=str(path))


def read_plux(path: str | os.PathLike) -> Recording:
    """Read the EMG channels of an OpenSignals ``.h5`` file as µV."""
    with _open(path) as h5:
        group = _device_group(path, h5)
        fs, channels, start = _header(path, group)
        rows = []
        for key, _, bits in channels:
            adc = np.asarray(group["raw"][key][:], dtype=np.float64).reshape(-1)
            rows.append((adc / 2.0**bits - 0.5) * _VCC_V / _GAIN * 1e6)
        lengths = {len(r) for r in rows}
        if len(lengths) != 1:
            raise InputError(path, f"channels have different lengths {sorted(lengths)}")
        data = np.vstack(rows)
        counter = np.asarray(group["raw"]["nSeq"][:]).reshape(-1) if "nSeq" in group["raw"] else None
    if data.shape[1] == 0:
        raise InputError(path, "no samples")
    gaps, lost = [], 0
    if counter is not None and counter.size == data.shape[1]:
        data, gaps, lost = fill_counter_losses(data, counter, 65536, fs)
    return Recording(
        data.astype(np.float32), fs=fs, channel_names=[label for _, label, _ in channels], start=start,
        gaps=gaps, format="plux", path=str(path), packets_lost=lost,
    )
