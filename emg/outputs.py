"""Writers for the files ``emg analyze`` and ``emg demo`` leave per input (see CONTRACT.md).

``<stem>.events.csv``, ``<stem>.segments.csv``, ``<stem>.rates.csv``, ``<stem>.summary.json``
and, added beside them, ``<stem>.units.json`` (the putative motor-unit templates). CSV files
are UTF-8 with one header row, ``.`` as decimal point and ISO 8601 times with offset. Columns
after the contract's ones are additions (``hour_start_utc``, ``start_time``...); the contract's
columns keep their names and order.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ._version import __version__

if TYPE_CHECKING:  # pragma: no cover
    from .pipeline import AnalysisResult

__all__ = [
    "EVENT_COLUMNS",
    "RATE_COLUMNS",
    "SEGMENT_COLUMNS",
    "SUMMARY_KEYS",
    "iso_time",
    "output_paths",
    "write_outputs",
]

EVENT_COLUMNS = ("onset_s", "time", "channel", "label", "amplitude_uv", "duration_ms", "phases",
                 "snr", "unit", "multiplicity")
SEGMENT_COLUMNS = ("start_s", "end_s", "channel", "label", "start_time", "end_time")
RATE_COLUMNS = ("hour_start", "channel", "fasciculations", "valid_s", "rate_per_hour", "ci_low",
                "ci_high", "hour_start_utc")
SUMMARY_KEYS = ("input", "format", "fs", "channels", "start", "duration_s", "valid_s", "mains_hz",
                "noise_uv", "fasciculations", "rate_per_hour", "packets_lost", "software")


def iso_time(start: dt.datetime, offset_s: float | np.ndarray) -> str:
    """ISO 8601 time with offset, to the millisecond, of ``start + offset_s``."""
    return (start + dt.timedelta(seconds=float(offset_s))).isoformat(timespec="milliseconds")


def _num(x: float | None, digits: int) -> str:
    if x is None or not math.isfinite(x):
        return ""
    return f"{x:.{digits}f}"


def output_paths(out_dir: str | os.PathLike, stem: str) -> dict[str, Path]:
    """Where the files of one input go: keys events, segments, rates, summary, units."""
    out = Path(out_dir)
    return {kind: out / f"{stem}.{kind}.{'json' if kind in ('summary', 'units') else 'csv'}"
            for kind in ("events", "segments", "rates", "summary", "units")}


def _write_csv(path: Path, header: tuple[str, ...], rows) -> None:
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    os.replace(tmp, path)


def _write_events(path: Path, result: AnalysisResult) -> None:
    ev = result.events
    names = result.info.channel_names
    digits = max(3, math.ceil(math.log10(ev.fs)) if ev.fs > 1 else 3)
    onset = ev.onset_s
    rows = (
        (
            f"{onset[i]:.{digits}f}",
            iso_time(result.info.start, onset[i]),
            names[int(ev.channel[i])],
            ev.label[i],
            f"{ev.amplitude_uv[i]:.1f}",
            f"{ev.duration_ms[i]:.2f}",
            int(ev.phases[i]),
            f"{ev.snr[i]:.2f}",
            "" if ev.unit[i] < 0 else int(ev.unit[i]),
            int(ev.multiplicity[i]),
        )
        for i in range(len(ev))
    )
    _write_csv(path, EVENT_COLUMNS, rows)


def _write_segments(path: Path, result: AnalysisResult) -> None:
    names = result.info.channel_names
    start = result.info.start
    rows = []
    for seg in sorted(result.segments, key=lambda s: (s.start_s, -1 if s.channel is None else s.channel)):
        # a segment on every channel is written once per channel: no special channel value
        channels = range(len(names)) if seg.channel is None else [seg.channel]
        for ch in channels:
            rows.append((f"{seg.start_s:.3f}", f"{seg.end_s:.3f}", names[ch], seg.label,
                         iso_time(start, seg.start_s), iso_time(start, seg.end_s)))
    _write_csv(path, SEGMENT_COLUMNS, rows)


def _write_rates(path: Path, result: AnalysisResult) -> None:
    rows = (
        (
            r.hour_start.isoformat(timespec="seconds"),
            r.channel,
            r.fasciculations,
            f"{r.valid_s:.1f}",
            _num(r.rate_per_hour, 2),
            _num(r.ci_low, 2),
            _num(r.ci_high, 2),
            r.hour_start_utc.isoformat(timespec="seconds"),
        )
        for r in result.rates
    )
    _write_csv(path, RATE_COLUMNS, rows)


def _round(x: float | None, digits: int) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), digits)


def summary_dict(result: AnalysisResult) -> dict:
    """The summary as a JSON-ready dict: the contract's keys first, then additions."""
    info = result.info
    names = info.channel_names
    summary = {
        "input": result.input,
        "format": info.format,
        "fs": info.fs,
        "channels": list(names),
        "start": info.start.isoformat(timespec="milliseconds"),
        "duration_s": round(info.duration_s, 3),
        "valid_s": round(result.valid_s, 1),
        "mains_hz": _round(result.mains_hz, 1),
        "noise_uv": {n: _round(result.noise_uv.get(n), 2) for n in names},
        "fasciculations": {n: int(result.fasciculations[n]) for n in names},
        "rate_per_hour": {n: _round(result.rate_per_hour[n][0], 2) for n in names},
        "packets_lost": int(result.packets_lost),
        "software": {"name": "emg", "version": __version__},
        # additions (never renamed): detail a reader may want
        "valid_s_per_channel": {n: round(result.valid_s_per_channel[n], 1) for n in names},
        "rate_ci": {n: [_round(result.rate_per_hour[n][1], 2), _round(result.rate_per_hour[n][2], 2)]
                    for n in names},
        "events": {lab: int(np.count_nonzero(result.events.label == lab))
                   for lab in ("fasciculation", "ecg", "artifact")},
        "multiplets": {n: int(np.count_nonzero((result.events.label == "fasciculation")
                                               & (result.events.multiplicity > 1)
                                               & (result.events.channel == i)))
                       for i, n in enumerate(names)},
        "segments_s": result.segment_seconds(),
        "units": {n: len(result.units.get(n, [])) for n in names},
        "notes": list(result.notes),
        "ecg_blanked_s": {n: round(result.ecg_blanked_s.get(n, 0.0), 1) for n in names},
        "counted_from_uv": {n: _round(result.counted_from_uv.get(n), 1) for n in names},
    }
    return summary


def _write_json(path: Path, obj) -> None:
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
    os.replace(tmp, path)


def write_outputs(result: AnalysisResult, out_dir: str | os.PathLike, stem: str) -> dict[str, Path]:
    """Write the four contract files plus ``<stem>.units.json``; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = output_paths(out, stem)
    _write_events(paths["events"], result)
    _write_segments(paths["segments"], result)
    _write_rates(paths["rates"], result)
    _write_json(paths["summary"], summary_dict(result))
    units = {
        "fs": result.info.fs,
        "channels": {
            n: [u.to_dict() for u in result.units.get(n, [])] for n in result.info.channel_names
        },
    }
    _write_json(paths["units"], units)
    return paths
