"""Read the files ``emg analyze`` writes into a folder (CONTRACT.md formats).

One :class:`Analysis` per ``<stem>.summary.json``; beside it ``<stem>.events.csv``,
``<stem>.segments.csv`` and ``<stem>.rates.csv`` are required, and one optional file is used
when present:

``<stem>.units.json``
    Putative motor-unit templates: ``{"fs": Hz, "channels": {name: [unit, ...]}}`` or
    ``{"fs": Hz, "units": [unit, ...]}`` where each unit is ``{"channel": name (in the second
    layout), "unit": id, "template_uv" (or "waveform_uv"): [µV, ...], "count": n, "rate_per_hour": r,
    "peak_index": k}`` (``count``, ``rate_per_hour`` and ``peak_index`` may be missing).

Only NumPy and the standard library are used here; nothing is plotted.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError

__all__ = [
    "Analysis",
    "EventTable",
    "RateTable",
    "SegmentTable",
    "Summary",
    "UnitTemplate",
    "find_stems",
    "load_analysis",
    "load_folder",
]

_ALL_CHANNELS = ("", "all", "*")


def _read_csv(path: Path, required: Sequence[str]) -> list[dict[str, str]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in required if c not in header]
            if missing:
                raise InputError(
                    path,
                    f"missing column(s) {', '.join(missing)}; found {', '.join(header) or 'none'}",
                )
            reader.fieldnames = header
            return [
                {k: (v or "").strip() for k, v in row.items() if k is not None} for row in reader
            ]
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(path, f"cannot read CSV ({exc})") from None


def _floats(
    rows: list[dict[str, str]], name: str, path: Path, *, empty: float = math.nan
) -> np.ndarray:
    out = np.empty(len(rows), dtype=np.float64)
    for i, row in enumerate(rows):
        text = row.get(name, "")
        if text == "":
            out[i] = empty
            continue
        try:
            out[i] = float(text)
        except ValueError:
            raise InputError(
                path, f"line {i + 2}: column '{name}' must be a number, got {text!r}"
            ) from None
    return out


def _time(text: str, path: Path, what: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise InputError(
            path, f"{what} must be an ISO 8601 time with offset, got {text!r}"
        ) from None
    if value.tzinfo is None:
        raise InputError(path, f"{what} must carry a UTC offset, got {text!r}")
    return value


@dataclass(frozen=True)
class Summary:
    """``<stem>.summary.json``; per-channel values are dicts keyed by channel name."""

    input: str
    format: str
    fs: float
    channels: tuple[str, ...]
    start: dt.datetime
    duration_s: float
    valid_s: float
    mains_hz: float | None
    noise_uv: dict[str, float]
    fasciculations: dict[str, int]
    rate_per_hour: dict[str, float | None]
    packets_lost: int | None
    software: dict[str, str] = field(default_factory=dict)
    #: smallest potential counted per channel (µV peak-to-peak); absent in older folders
    counted_from_uv: dict[str, float] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> Summary:
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(path, "file not found") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(path, f"not valid JSON ({exc})") from None
        if not isinstance(raw, dict):
            raise InputError(path, f"expected a JSON object, got {type(raw).__name__}")
        missing = [k for k in ("input", "fs", "channels", "start", "duration_s") if k not in raw]
        if missing:
            raise InputError(path, f"missing key(s) {', '.join(missing)}")
        channels = tuple(str(c) for c in raw["channels"])
        valid = raw.get("valid_s")
        if isinstance(
            valid, dict
        ):  # per channel: keep the mean, the per-channel values are in rates
            valid = float(np.mean([float(v) for v in valid.values()])) if valid else math.nan
        try:
            return cls(
                input=str(raw["input"]),
                format=str(raw.get("format", "unknown")),
                fs=float(raw["fs"]),
                channels=channels,
                start=_time(str(raw["start"]), path, "'start'"),
                duration_s=float(raw["duration_s"]),
                valid_s=math.nan if valid is None else float(valid),
                mains_hz=None if raw.get("mains_hz") in (None, "") else float(raw["mains_hz"]),
                noise_uv={
                    str(k): float(v)
                    for k, v in (raw.get("noise_uv") or {}).items()
                    if v is not None
                },
                fasciculations={
                    str(k): int(v) for k, v in (raw.get("fasciculations") or {}).items()
                },
                rate_per_hour={
                    str(k): (None if v is None else float(v))
                    for k, v in (raw.get("rate_per_hour") or {}).items()
                },
                packets_lost=None if raw.get("packets_lost") is None else int(raw["packets_lost"]),
                software={str(k): str(v) for k, v in (raw.get("software") or {}).items()},
                counted_from_uv={
                    str(k): float(v)
                    for k, v in (raw.get("counted_from_uv") or {}).items()
                    if v is not None
                },
            )
        except (TypeError, ValueError) as exc:
            raise InputError(path, f"bad value ({exc})") from None


@dataclass(frozen=True, eq=False)
class EventTable:
    """``<stem>.events.csv`` as columns; ``unit`` is a str ("" for none)."""

    onset_s: np.ndarray
    channel: np.ndarray
    label: np.ndarray
    amplitude_uv: np.ndarray
    duration_ms: np.ndarray
    phases: np.ndarray
    snr: np.ndarray
    unit: np.ndarray
    multiplicity: np.ndarray

    COLUMNS = (
        "onset_s",
        "time",
        "channel",
        "label",
        "amplitude_uv",
        "duration_ms",
        "phases",
        "snr",
        "unit",
        "multiplicity",
    )

    def __len__(self) -> int:
        return len(self.onset_s)

    def select(self, mask: np.ndarray) -> EventTable:
        return EventTable(**{name: getattr(self, name)[mask] for name in self.__dataclass_fields__})

    @classmethod
    def read(cls, path: Path) -> EventTable:
        rows = _read_csv(path, ("onset_s", "channel", "label", "amplitude_uv"))
        mult = _floats(rows, "multiplicity", path, empty=1.0)
        return cls(
            onset_s=_floats(rows, "onset_s", path),
            channel=np.array([r["channel"] for r in rows], dtype=object),
            label=np.array([r["label"] for r in rows], dtype=object),
            amplitude_uv=_floats(rows, "amplitude_uv", path),
            duration_ms=_floats(rows, "duration_ms", path),
            phases=_floats(rows, "phases", path),
            snr=_floats(rows, "snr", path),
            unit=np.array([r.get("unit", "") for r in rows], dtype=object),
            multiplicity=np.nan_to_num(mult, nan=1.0).astype(np.int64),
        )


@dataclass(frozen=True, eq=False)
class SegmentTable:
    """``<stem>.segments.csv`` as columns; ``channel`` "" means every channel."""

    start_s: np.ndarray
    end_s: np.ndarray
    channel: np.ndarray
    label: np.ndarray

    def __len__(self) -> int:
        return len(self.start_s)

    def on_channel(self, name: str) -> SegmentTable:
        """Segments that apply to channel ``name`` (its own and those marked for all channels)."""
        mask = np.array([c == name or c.lower() in _ALL_CHANNELS for c in self.channel], dtype=bool)
        return SegmentTable(
            self.start_s[mask], self.end_s[mask], self.channel[mask], self.label[mask]
        )

    @classmethod
    def read(cls, path: Path) -> SegmentTable:
        rows = _read_csv(path, ("start_s", "end_s", "channel", "label"))
        return cls(
            start_s=_floats(rows, "start_s", path),
            end_s=_floats(rows, "end_s", path),
            channel=np.array([r["channel"] for r in rows], dtype=object),
            label=np.array([r["label"] for r in rows], dtype=object),
        )


@dataclass(frozen=True, eq=False)
class RateTable:
    """``<stem>.rates.csv`` as columns; rate and interval are NaN where the file leaves them empty."""

    hour_start: np.ndarray  # object array of tz-aware datetimes
    channel: np.ndarray
    fasciculations: np.ndarray
    valid_s: np.ndarray
    rate_per_hour: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray

    def __len__(self) -> int:
        return len(self.valid_s)

    def select(self, mask: np.ndarray) -> RateTable:
        return RateTable(**{name: getattr(self, name)[mask] for name in self.__dataclass_fields__})

    @classmethod
    def read(cls, path: Path) -> RateTable:
        rows = _read_csv(
            path, ("hour_start", "channel", "fasciculations", "valid_s", "rate_per_hour")
        )
        hours = np.empty(len(rows), dtype=object)
        for i, row in enumerate(rows):
            hours[i] = _time(row["hour_start"], path, f"line {i + 2}: 'hour_start'")
        return cls(
            hour_start=hours,
            channel=np.array([r["channel"] for r in rows], dtype=object),
            fasciculations=np.nan_to_num(_floats(rows, "fasciculations", path, empty=0.0)).astype(
                np.int64
            ),
            valid_s=np.nan_to_num(_floats(rows, "valid_s", path, empty=0.0)),
            rate_per_hour=_floats(rows, "rate_per_hour", path),
            ci_low=_floats(rows, "ci_low", path),
            ci_high=_floats(rows, "ci_high", path),
        )

    @classmethod
    def concat(cls, tables: Sequence[RateTable]) -> RateTable:
        names = list(cls.__dataclass_fields__)
        if not tables:
            return cls(
                **{
                    n: np.zeros(0, dtype=object if n in ("hour_start", "channel") else float)
                    for n in names
                }
            )
        return cls(**{n: np.concatenate([getattr(t, n) for t in tables]) for n in names})


@dataclass(frozen=True, eq=False)
class UnitTemplate:
    """The mean waveform of one putative motor unit (µV, largest deflection at ``peak_index``)."""

    channel: str
    unit: str
    template_uv: np.ndarray
    fs: float
    peak_index: int
    count: int | None = None
    rate_per_hour: float | None = None


def _first(item: dict, *keys: str, default=None):
    for key in keys:
        if key in item and item[key] is not None:
            return item[key]
    return default


def _read_units(path: Path) -> list[UnitTemplate]:
    """Both layouts: ``{"fs", "units": [{"channel", ...}]}`` or ``{"fs", "channels": {name: [...]}}``."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        fs = float(raw["fs"])
        if "channels" in raw and isinstance(raw["channels"], dict):
            items = [
                dict(item, channel=name)
                for name, units in raw["channels"].items()
                for item in units
            ]
        else:
            items = list(raw["units"])
        out = []
        for item in items:
            template = np.asarray(
                _first(item, "template_uv", "waveform_uv", "template"), dtype=np.float64
            )
            if template.ndim != 1 or template.size < 2:
                raise ValueError(
                    f"a template must be a list of numbers, got shape {template.shape}"
                )
            count = _first(item, "count", "n_events", "n")
            rate = _first(item, "rate_per_hour")
            out.append(
                UnitTemplate(
                    channel=str(item["channel"]),
                    unit=str(_first(item, "unit", "id")),
                    template_uv=template,
                    fs=fs,
                    peak_index=int(_first(item, "peak_index", default=template.size // 2)),
                    count=None if count is None else int(count),
                    rate_per_hour=None if rate is None else float(rate),
                )
            )
        return out
    except (
        OSError,
        UnicodeDecodeError,
        json.JSONDecodeError,
        KeyError,
        TypeError,
        ValueError,
    ) as exc:
        raise InputError(
            path, f"cannot read unit templates ({type(exc).__name__}: {exc})"
        ) from None


@dataclass(frozen=True, eq=False)
class Analysis:
    """Everything ``emg analyze`` wrote for one input."""

    stem: str
    folder: Path
    summary: Summary
    events: EventTable
    segments: SegmentTable
    rates: RateTable
    units: list[UnitTemplate] | None = None

    def path(self, suffix: str) -> Path:
        return self.folder / f"{self.stem}{suffix}"

    def input_path(self) -> Path | None:
        """The analysed recording, if it can be found.

        Tried in order: the path as written (absolute, or relative to the current folder),
        relative to the output folder, relative to its parent (where ``emg analyze`` is
        usually run), and its file name beside the outputs.
        """
        written = Path(self.summary.input)
        for candidate in (
            written,
            self.folder / written,
            self.folder.parent / written,
            self.folder / written.name,
        ):
            if candidate.is_file():
                return candidate
        return None

    def valid_s(self, channel: str) -> float:
        """Seconds of valid rest on ``channel``: summed over its hours in the rates file."""
        return float(self.rates.valid_s[self.rates.channel == channel].sum())


def find_stems(folder: Path) -> list[str]:
    """The stems of every ``<stem>.summary.json`` in ``folder``, sorted."""
    return sorted(p.name[: -len(".summary.json")] for p in Path(folder).glob("*.summary.json"))


def load_analysis(folder: Path, stem: str) -> Analysis:
    """Read the output files of one input; raises :class:`InputError` naming the bad file."""
    folder = Path(folder)
    units_path = folder / f"{stem}.units.json"
    return Analysis(
        stem=stem,
        folder=folder,
        summary=Summary.read(folder / f"{stem}.summary.json"),
        events=EventTable.read(folder / f"{stem}.events.csv"),
        segments=SegmentTable.read(folder / f"{stem}.segments.csv"),
        rates=RateTable.read(folder / f"{stem}.rates.csv"),
        units=_read_units(units_path) if units_path.is_file() else None,
    )


def load_folder(folder: Path) -> tuple[list[Analysis], list[InputError]]:
    """Read every analysed input in ``folder``.

    Returns
    -------
    analyses : list of Analysis
        The inputs whose files could be read, in stem order.
    errors : list of InputError
        One per input that could not be read (the others are still returned).

    Raises
    ------
    InputError
        If ``folder`` is not a folder or holds no ``*.summary.json``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "not a folder (expected the output folder of 'emg analyze')")
    stems = find_stems(folder)
    if not stems:
        raise InputError(
            folder,
            "holds no analysis outputs (no *.summary.json); run 'emg analyze INPUT --out DIR' first",
        )
    analyses, errors = [], []
    for stem in stems:
        try:
            analyses.append(load_analysis(folder, stem))
        except InputError as exc:
            errors.append(exc)
    return analyses, errors
