"""Ground truth of a simulated recording: every planted event and interval, with JSON I/O."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["EVENT_DTYPE", "EVENT_KINDS", "INTERVAL_LABELS", "Interval", "Truth"]

#: kinds of planted discrete events
EVENT_KINDS = ("fasciculation", "ecg")
#: labels of planted intervals (the classifier maps ``saturation`` to its ``artifact`` segments)
INTERVAL_LABELS = ("voluntary", "cramp", "myokymia", "artifact", "saturation")

#: one row per planted discharge or beat
EVENT_DTYPE = np.dtype(
    [
        ("time_s", np.float64),  # time of the largest deflection, s from recording start
        ("channel", np.int32),  # row index of the recording
        ("unit", np.int32),  # motor unit id within the channel (-1 for ECG)
        ("kind", "U16"),  # one of EVENT_KINDS
        ("amplitude_uv", np.float32),  # peak-to-peak after the anti-alias filter, µV
        ("group", np.int64),  # discharges of one doublet/multiplet share a group id
        ("order", np.int32),  # 1 for the first discharge of a group, 2 for the second, ...
        ("multiplicity", np.int32),  # group size: 1 single, 2 doublet, 3 triplet
    ]
)


@dataclass(frozen=True)
class Interval:
    """A planted interval on one channel (``channel`` index) or on all channels (None)."""

    start_s: float
    end_s: float
    label: str
    channel: int | None = None

    def __post_init__(self) -> None:
        if self.label not in INTERVAL_LABELS:
            raise ValueError(
                f"Invalid value for 'label': allowed are {', '.join(map(repr, INTERVAL_LABELS))}, "
                f"got {self.label!r}."
            )
        if not self.end_s >= self.start_s:
            raise ValueError(f"Invalid interval: end_s must be >= start_s, got {self.start_s!r}..{self.end_s!r}.")

    def covers(self, channel: int) -> bool:
        return self.channel is None or self.channel == channel


def _as_events(events) -> np.ndarray:
    arr = np.asarray(events)
    if arr.dtype != EVENT_DTYPE:
        out = np.zeros(len(arr), EVENT_DTYPE)
        for name in EVENT_DTYPE.names:
            out[name] = arr[name]
        arr = out
    order = np.lexsort((arr["channel"], arr["time_s"]))
    return arr[order]


@dataclass(frozen=True, eq=False)
class Truth:
    """Everything a simulation planted.

    Parameters
    ----------
    scenario : str
        Scenario name (see :data:`emg.simulate.SCENARIOS`).
    seed : int
        Random seed of the simulation.
    fs : float
        Device sample rate in Hz.
    n_channels : int
        Number of channels.
    duration_s : float
        Recording length in s.
    mains_hz : float
        Mains frequency planted (50 or 60).
    noise_uv : tuple of float
        Mean background noise RMS per channel in µV, in the 20-250 Hz detection band.
    events : structured ndarray, dtype :data:`EVENT_DTYPE`
        Every planted discharge (``kind == "fasciculation"``) and ECG beat (one row per
        channel where it is visible), sorted by time. Fasciculations are never planted inside
        an interval of their channel.
    intervals : tuple of Interval
        Voluntary bouts, cramps, myokymic episodes, artefacts and saturation.
    units : tuple of dict
        Per fasciculating motor unit: ``channel``, ``unit``, ``amplitude_uv``, ``duration_ms``, ``phases``.
    """

    scenario: str
    seed: int
    fs: float
    n_channels: int
    duration_s: float
    mains_hz: float
    noise_uv: tuple[float, ...]
    events: np.ndarray
    intervals: tuple[Interval, ...] = ()
    units: tuple[dict, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "events", _as_events(self.events))
        object.__setattr__(self, "intervals", tuple(self.intervals))
        object.__setattr__(self, "noise_uv", tuple(float(v) for v in self.noise_uv))

    # -- queries ----------------------------------------------------------------------
    def events_of(self, kind: str, channel: int | None = None) -> np.ndarray:
        """Rows of one kind, optionally on one channel."""
        mask = self.events["kind"] == kind
        if channel is not None:
            mask &= self.events["channel"] == channel
        return self.events[mask]

    def fasciculation_times(self, channel: int, *, first_only: bool = False) -> np.ndarray:
        """Times (s) of the planted fasciculation discharges on ``channel``.

        With ``first_only`` a doublet or multiplet counts once (its first discharge).
        """
        rows = self.events_of("fasciculation", channel)
        if first_only:
            rows = rows[rows["order"] == 1]
        return rows["time_s"].copy()

    def intervals_on(self, channel: int, labels: tuple[str, ...] | None = None) -> list[Interval]:
        """Intervals covering ``channel`` (channel-specific or all-channel), optionally by label."""
        return [iv for iv in self.intervals if iv.covers(channel) and (labels is None or iv.label in labels)]

    def valid_s(self, channel: int) -> float:
        """Seconds of rest on ``channel``: the duration minus the union of its intervals."""
        spans = sorted((max(0.0, iv.start_s), min(self.duration_s, iv.end_s)) for iv in self.intervals_on(channel))
        covered, cur_lo, cur_hi = 0.0, None, None
        for lo, hi in spans:
            if cur_hi is None or lo > cur_hi:
                if cur_hi is not None:
                    covered += cur_hi - cur_lo
                cur_lo, cur_hi = lo, hi
            else:
                cur_hi = max(cur_hi, hi)
        if cur_hi is not None:
            covered += cur_hi - cur_lo
        return self.duration_s - covered

    def rate_per_hour(self, channel: int) -> float:
        """Planted fasciculations (multiplets counted once) per hour of valid rest on ``channel``."""
        valid = self.valid_s(channel)
        n = len(self.fasciculation_times(channel, first_only=True))
        return math.nan if valid <= 0 else n / valid * 3600.0

    # -- JSON ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        ev = self.events
        return {
            "scenario": self.scenario,
            "seed": int(self.seed),
            "fs": float(self.fs),
            "n_channels": int(self.n_channels),
            "duration_s": float(self.duration_s),
            "mains_hz": float(self.mains_hz),
            "noise_uv": list(self.noise_uv),
            "units": [dict(u) for u in self.units],
            "intervals": [
                {"start_s": iv.start_s, "end_s": iv.end_s, "channel": iv.channel, "label": iv.label}
                for iv in self.intervals
            ],
            "events": {
                "time_s": [round(float(t), 6) for t in ev["time_s"]],
                "channel": ev["channel"].tolist(),
                "unit": ev["unit"].tolist(),
                "kind": ev["kind"].tolist(),
                "amplitude_uv": [round(float(a), 2) for a in ev["amplitude_uv"]],
                "group": ev["group"].tolist(),
                "order": ev["order"].tolist(),
                "multiplicity": ev["multiplicity"].tolist(),
            },
        }

    def to_json(self, path: str | Path) -> None:
        """Write the truth as JSON (events stored column-wise)."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")

    @classmethod
    def from_dict(cls, d: dict) -> Truth:
        cols = d["events"]
        events = np.zeros(len(cols["time_s"]), EVENT_DTYPE)
        for name in EVENT_DTYPE.names:
            events[name] = cols[name]
        return cls(
            scenario=d["scenario"],
            seed=d["seed"],
            fs=d["fs"],
            n_channels=d["n_channels"],
            duration_s=d["duration_s"],
            mains_hz=d["mains_hz"],
            noise_uv=tuple(d["noise_uv"]),
            events=events,
            intervals=tuple(Interval(iv["start_s"], iv["end_s"], iv["label"], iv["channel"]) for iv in d["intervals"]),
            units=tuple(d.get("units", ())),
        )

    @classmethod
    def from_json(cls, path: str | Path) -> Truth:
        """Read a truth file written by :meth:`to_json`."""
        from ..errors import InputError

        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(path, f"not a readable truth file ({type(exc).__name__}: {exc})") from None
