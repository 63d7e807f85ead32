"""The data model every stage shares: a recording, its chunks, gaps and annotations.

Units are fixed here and nowhere else: samples are float32 microvolts, ``fs`` is in Hz,
times within a recording are seconds from its start, and the start is a timezone-aware
datetime. Everything is checked on creation so a bad value fails where it enters.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Annotation", "Gap", "Chunk", "RecordingInfo", "Recording", "Events", "Segment",
    "EVENT_LABELS", "SEGMENT_LABELS", "chunk_grid", "chunk_step", "gap_mask",
]


def _check_fs(fs: float) -> float:
    try:
        value = float(fs)
    except (TypeError, ValueError):
        raise ValueError(f"Invalid value for 'fs': must be a number in Hz, got {fs!r}.") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"Invalid value for 'fs': must be a positive finite number in Hz, got {fs!r}.")
    return value


def _check_names(channel_names: Sequence[str]) -> tuple[str, ...]:
    if isinstance(channel_names, str):
        raise TypeError("Invalid value for 'channel_names': must be a sequence of str, got one str.")
    names = tuple(channel_names)
    if len(names) == 0:
        raise ValueError("Invalid value for 'channel_names': a recording needs at least one channel, got 0.")
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"Invalid value for 'channel_names': each must be a non-empty str, got {name!r}.")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"Invalid value for 'channel_names': names must be unique, got duplicates {duplicates}.")
    return names


def _check_start(start: dt.datetime) -> dt.datetime:
    if not isinstance(start, dt.datetime):
        raise TypeError(f"Invalid value for 'start': must be a datetime, got {type(start).__name__}.")
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError(
            f"Invalid value for 'start': must be timezone-aware (e.g. tzinfo=datetime.timezone.utc), got {start!r}."
        )
    return start


@dataclass(frozen=True)
class Annotation:
    """A labelled interval: ``onset_s`` and ``duration_s`` in seconds from recording start."""

    onset_s: float
    duration_s: float
    description: str

    def __post_init__(self) -> None:
        if not (math.isfinite(self.onset_s) and math.isfinite(self.duration_s)) or self.duration_s < 0:
            raise ValueError(
                f"Invalid annotation: onset_s and duration_s must be finite and duration_s >= 0, "
                f"got onset_s={self.onset_s!r}, duration_s={self.duration_s!r}."
            )


@dataclass(frozen=True)
class Gap:
    """Time slots with no data (lost packets, unplugged sensor): seconds from recording start.

    The samples in a gap exist (they keep real time slots) but hold no signal; analysis
    treats them as invalid time.
    """

    start_s: float
    duration_s: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start_s) and math.isfinite(self.duration_s)) or self.duration_s <= 0:
            raise ValueError(
                f"Invalid gap: start_s and duration_s must be finite and duration_s > 0, "
                f"got start_s={self.start_s!r}, duration_s={self.duration_s!r}."
            )

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


def _as_gaps(gaps: Sequence[Gap | tuple[float, float]]) -> tuple[Gap, ...]:
    out = [g if isinstance(g, Gap) else Gap(float(g[0]), float(g[1])) for g in gaps]
    return tuple(sorted(out, key=lambda g: g.start_s))


def gap_mask(gaps: Sequence[Gap], fs: float, first_sample: int, n_samples: int) -> np.ndarray:
    """Boolean mask, True where a sample of ``[first_sample, first_sample + n_samples)`` is valid."""
    valid = np.ones(n_samples, dtype=bool)
    for gap in gaps:
        lo = int(round(gap.start_s * fs)) - first_sample
        hi = int(round(gap.end_s * fs)) - first_sample
        if hi > 0 and lo < n_samples:
            valid[max(lo, 0) : min(hi, n_samples)] = False
    return valid


def chunk_grid(read: Callable[[int, int], np.ndarray], fs: float, gaps: Sequence[Gap], n_samples: int,
               step: int, first: int = 0) -> Iterator[Chunk]:
    """Chunks of ``[first, n_samples)`` on the grid ``first, first + step, ...``: ``read(first, n)``
    gives each chunk's µV data, ``gaps`` its valid mask (the last chunk may be shorter)."""
    for lo in range(first, n_samples, step):
        n = min(step, n_samples - lo)
        yield Chunk(read(lo, n), first_sample=lo, fs=fs, valid=gap_mask(gaps, fs, lo, n))


def chunk_step(chunk_s: float, fs: float) -> int:
    """Samples per chunk of ``chunk_s`` seconds (at least 1); a clear error for a bad length."""
    if not chunk_s > 0:
        raise ValueError(f"Invalid value for 'chunk_s': must be > 0 seconds, got {chunk_s!r}.")
    return max(1, int(round(chunk_s * fs)))


@dataclass(frozen=True, eq=False)
class Chunk:
    """A block of consecutive samples, the unit the streaming and batch paths exchange.

    Parameters
    ----------
    data : ndarray, float32, shape (n_channels, n_samples)
        Samples in µV. Kept as given when float32 (a view of a longer recording is not
        copied): do not change it while the chunk is in use.
    first_sample : int
        Index of ``data[:, 0]`` counted from the recording start.
    fs : float
        Sample rate in Hz.
    valid : ndarray of bool, shape (n_samples,)
        False for samples inside a gap (lost or missing data, stored as 0 µV).
    """

    data: np.ndarray
    first_sample: int
    fs: float
    valid: np.ndarray | None = None

    def __post_init__(self) -> None:
        data = np.asarray(self.data, dtype=np.float32)  # a view of a longer array stays a view: no copy
        if data.ndim != 2:
            raise ValueError(f"Invalid chunk: data must be 2-D (channels, samples), got shape {data.shape}.")
        valid = np.ones(data.shape[1], dtype=bool) if self.valid is None else np.asarray(self.valid, dtype=bool)
        if valid.shape != (data.shape[1],):
            raise ValueError(f"Invalid chunk: valid must have shape ({data.shape[1]},), got {valid.shape}.")
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "valid", valid)
        object.__setattr__(self, "fs", _check_fs(self.fs))

    @property
    def n_samples(self) -> int:
        return self.data.shape[1]

    @property
    def start_s(self) -> float:
        return self.first_sample / self.fs


@dataclass(frozen=True)
class RecordingInfo:
    """What a file's header says, known without reading its samples."""

    fs: float
    channel_names: tuple[str, ...]
    start: dt.datetime
    n_samples: int
    format: str = "unknown"
    path: str | None = None
    gaps: tuple[Gap, ...] = ()
    annotations: tuple[Annotation, ...] = ()
    packets_lost: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "fs", _check_fs(self.fs))
        object.__setattr__(self, "channel_names", _check_names(self.channel_names))
        object.__setattr__(self, "start", _check_start(self.start))
        object.__setattr__(self, "gaps", _as_gaps(self.gaps))
        object.__setattr__(self, "annotations", tuple(self.annotations))
        if int(self.n_samples) < 0:
            raise ValueError(f"Invalid value for 'n_samples': must be >= 0, got {self.n_samples!r}.")

    @property
    def n_channels(self) -> int:
        return len(self.channel_names)

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs


@dataclass(frozen=True, eq=False)
class Recording:
    """Surface EMG held in memory.

    Parameters
    ----------
    data : array-like, shape (n_channels, n_samples)
        Samples in µV; stored as float32. Must be finite (gaps hold 0 µV).
    fs : float
        Sample rate in Hz; required, there is no default.
    channel_names : sequence of str
        One unique, non-empty name per row of ``data``.
    start : datetime
        Timezone-aware time of the first sample.
    gaps : sequence of Gap or (start_s, duration_s)
        Intervals with no data.
    annotations : sequence of Annotation
        Labelled intervals carried from or to files.
    format, path : str
        Where the recording came from (for messages and ``emg info``).
    packets_lost : int
        Packets the acquisition reported lost (live recordings).

    Examples
    --------
    >>> import datetime as dt, numpy as np
    >>> rec = Recording(np.zeros((2, 1000)), fs=1000.0, channel_names=["a", "b"],
    ...                 start=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    >>> rec.duration_s
    1.0
    """

    data: np.ndarray
    fs: float
    channel_names: tuple[str, ...]
    start: dt.datetime
    gaps: tuple[Gap, ...] = ()
    annotations: tuple[Annotation, ...] = ()
    format: str = "memory"
    path: str | None = None
    packets_lost: int = 0

    def __post_init__(self) -> None:
        data = np.asarray(self.data)
        if data.ndim != 2:
            raise ValueError(f"Invalid value for 'data': must be 2-D (channels, samples), got shape {data.shape}.")
        if not np.issubdtype(data.dtype, np.number):
            raise TypeError(f"Invalid value for 'data': must be numeric, got dtype {data.dtype}.")
        data = np.ascontiguousarray(data, dtype=np.float32)
        names = _check_names(self.channel_names)
        if data.shape[0] != len(names):
            raise ValueError(
                f"Invalid value for 'channel_names': data has {data.shape[0]} channels, got {len(names)} names."
            )
        if not np.isfinite(data).all():
            bad = int(np.count_nonzero(~np.isfinite(data)))
            raise ValueError(f"Invalid value for 'data': must be finite, got {bad} NaN or infinite samples.")
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "channel_names", names)
        object.__setattr__(self, "fs", _check_fs(self.fs))
        object.__setattr__(self, "start", _check_start(self.start))
        object.__setattr__(self, "gaps", _as_gaps(self.gaps))
        object.__setattr__(self, "annotations", tuple(self.annotations))

    # -- shape ---------------------------------------------------------------
    @property
    def n_channels(self) -> int:
        return self.data.shape[0]

    @property
    def n_samples(self) -> int:
        return self.data.shape[1]

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs

    @property
    def info(self) -> RecordingInfo:
        """The header of this recording, as a reader would give it."""
        return RecordingInfo(
            fs=self.fs,
            channel_names=self.channel_names,
            start=self.start,
            n_samples=self.n_samples,
            format=self.format,
            path=self.path,
            gaps=self.gaps,
            annotations=self.annotations,
            packets_lost=self.packets_lost,
        )

    def valid_mask(self) -> np.ndarray:
        """Boolean mask over samples, False inside gaps."""
        return gap_mask(self.gaps, self.fs, 0, self.n_samples)

    # -- streaming view -----------------------------------------------------
    def iter_chunks(self, chunk_s: float = 10.0) -> Iterator[Chunk]:
        """Yield consecutive :class:`Chunk` views of ``chunk_s`` seconds (the last may be shorter)."""
        step = chunk_step(chunk_s, self.fs)
        yield from chunk_grid(lambda lo, n: self.data[:, lo : lo + n], self.fs, self.gaps, self.n_samples, step)

    # -- MNE interop ---------------------------------------------------------
    def to_mne(self):
        """Return an :class:`mne.io.RawArray` (volts, channel type ``emg``) with gaps and annotations.

        Gaps become annotations described ``gap``.
        """
        import mne

        info = mne.create_info(list(self.channel_names), self.fs, ch_types="emg")
        raw = mne.io.RawArray(self.data.astype(np.float64) * 1e-6, info, verbose="error")
        raw.set_meas_date(self.start.astimezone(dt.timezone.utc))
        onsets = [a.onset_s for a in self.annotations] + [g.start_s for g in self.gaps]
        durations = [a.duration_s for a in self.annotations] + [g.duration_s for g in self.gaps]
        descriptions = [a.description for a in self.annotations] + ["gap"] * len(self.gaps)
        if onsets:
            raw.set_annotations(mne.Annotations(onsets, durations, descriptions))
        return raw

    @classmethod
    def from_mne(cls, raw, *, timezone: dt.tzinfo | None = None) -> "Recording":
        """Build a Recording from an MNE Raw (any channel types; volts are converted to µV).

        Annotations described ``gap`` become gaps; the others are kept. Without a
        ``meas_date`` the start is taken as 1970-01-01 UTC.
        """
        data_uv = raw.get_data() * 1e6
        meas_date = raw.info["meas_date"] or dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
        if timezone is not None:
            meas_date = meas_date.astimezone(timezone)
        first = raw.first_samp / raw.info["sfreq"]
        gaps, annotations = [], []
        for ann in raw.annotations:
            onset = float(ann["onset"]) - first
            if ann["description"] == "gap" and ann["duration"] > 0:
                gaps.append(Gap(onset, float(ann["duration"])))
            else:
                annotations.append(Annotation(onset, float(ann["duration"]), str(ann["description"])))
        filenames = getattr(raw, "filenames", None) or [None]
        return cls(
            data_uv,
            fs=raw.info["sfreq"],
            channel_names=tuple(raw.ch_names),
            start=meas_date,
            gaps=gaps,
            annotations=annotations,
            format="mne",
            path=str(filenames[0]) if filenames[0] else None,
        )


# -- detector and classifier output ------------------------------------------------------------

EVENT_LABELS = ("fasciculation", "ecg", "artifact")
SEGMENT_LABELS = ("voluntary", "cramp", "myokymia", "artifact", "noisy", "gap")

_EVENT_COLUMNS = {
    "sample": np.int64,  # index of the largest deflection, counted from the recording start
    "channel": np.int32,  # row index into Recording.channel_names
    "amplitude_uv": np.float32,  # peak-to-peak, µV
    "duration_ms": np.float32,
    "phases": np.int32,
    "energy_uv2s": np.float32,  # sum of squares × dt over the event, µV²·s
    "centroid_hz": np.float32,  # spectral centroid of the event
    "snr": np.float32,  # peak-to-peak over the local noise level (robust RMS)
    "noise_uv": np.float32,  # local robust noise RMS, µV
    "coincident": np.int32,  # how many other channels had an event within the coincidence window
}


@dataclass(frozen=True, eq=False)
class Events:
    """Detected spikes, one row per event, sorted by ``sample`` (then ``channel``).

    Each column is a 1-D array of the same length; see ``Events.columns`` for the names
    and dtypes. ``waveforms`` holds the filtered signal around each event's largest
    deflection (µV, shape ``(n_events, n_wave)``, the peak at index ``n_wave // 2``).
    ``label``, ``unit`` and ``multiplicity`` are filled by the classifier: label is one of
    ``EVENT_LABELS`` or "" (not yet classified), unit -1 for none, multiplicity 1 for single.
    """

    fs: float
    sample: np.ndarray
    channel: np.ndarray
    amplitude_uv: np.ndarray
    duration_ms: np.ndarray
    phases: np.ndarray
    energy_uv2s: np.ndarray
    centroid_hz: np.ndarray
    snr: np.ndarray
    noise_uv: np.ndarray
    coincident: np.ndarray
    waveforms: np.ndarray
    label: np.ndarray | None = None
    unit: np.ndarray | None = None
    multiplicity: np.ndarray | None = None

    columns = _EVENT_COLUMNS

    def __post_init__(self) -> None:
        object.__setattr__(self, "fs", _check_fs(self.fs))
        n = len(np.asarray(self.sample))
        for name, dtype in _EVENT_COLUMNS.items():
            col = np.asarray(getattr(self, name), dtype=dtype)
            if col.shape != (n,):
                raise ValueError(f"Invalid events: column '{name}' has shape {col.shape}, expected ({n},).")
            object.__setattr__(self, name, col)
        waves = np.asarray(self.waveforms, dtype=np.float32)
        if waves.ndim != 2 or waves.shape[0] != n:
            waves = waves.reshape(n, -1) if waves.size == 0 else waves
            if waves.ndim != 2 or waves.shape[0] != n:
                raise ValueError(f"Invalid events: waveforms must have shape ({n}, n_wave), got {waves.shape}.")
        object.__setattr__(self, "waveforms", waves)
        defaults = {"label": (object, ""), "unit": (np.int32, -1), "multiplicity": (np.int32, 1)}
        for name, (dtype, fill) in defaults.items():
            value = getattr(self, name)
            value = np.full(n, fill, dtype) if value is None else np.asarray(value, dtype=dtype)
            if value.shape != (n,):
                raise ValueError(f"Invalid events: column '{name}' has shape {value.shape}, expected ({n},).")
            object.__setattr__(self, name, value)

    def __len__(self) -> int:
        return len(self.sample)

    @property
    def onset_s(self) -> np.ndarray:
        return self.sample / self.fs

    def select(self, mask_or_index) -> "Events":
        """Rows picked by a boolean mask or an index array."""
        fields = {name: getattr(self, name)[mask_or_index] for name in _EVENT_COLUMNS}
        return Events(
            fs=self.fs,
            waveforms=self.waveforms[mask_or_index],
            label=self.label[mask_or_index],
            unit=self.unit[mask_or_index],
            multiplicity=self.multiplicity[mask_or_index],
            **fields,
        )

    def replace(self, **changes) -> "Events":
        """A copy with some columns replaced (e.g. ``label=...``)."""
        from dataclasses import replace

        return replace(self, **changes)

    @classmethod
    def empty(cls, fs: float, n_wave: int = 0) -> "Events":
        cols = {name: np.zeros(0, dtype) for name, dtype in _EVENT_COLUMNS.items()}
        return cls(fs=fs, waveforms=np.zeros((0, n_wave), np.float32), **cols)

    @classmethod
    def concat(cls, parts: Sequence["Events"], fs: float | None = None) -> "Events":
        """Join event tables (same fs and waveform length) and sort them by sample, channel."""
        parts = [p for p in parts if len(p)]
        if not parts:
            if fs is None:
                raise ValueError("Events.concat needs 'fs' when every part is empty.")
            return cls.empty(fs)
        cols = {name: np.concatenate([getattr(p, name) for p in parts]) for name in _EVENT_COLUMNS}
        extra = {name: np.concatenate([getattr(p, name) for p in parts]) for name in ("label", "unit", "multiplicity")}
        waves = np.concatenate([p.waveforms for p in parts])
        order = np.lexsort((cols["channel"], cols["sample"]))
        return cls(
            fs=parts[0].fs,
            waveforms=waves[order],
            **{k: v[order] for k, v in cols.items()},
            **{k: v[order] for k, v in extra.items()},
        )


@dataclass(frozen=True)
class Segment:
    """An interval excluded from valid rest time, on one channel (``channel`` index) or all (None)."""

    start_s: float
    end_s: float
    label: str
    channel: int | None = None

    def __post_init__(self) -> None:
        if self.label not in SEGMENT_LABELS:
            raise ValueError(
                f"Invalid value for 'label': allowed are {', '.join(map(repr, SEGMENT_LABELS))}, got {self.label!r}."
            )
        if not self.end_s >= self.start_s:
            raise ValueError(f"Invalid segment: end_s must be >= start_s, got {self.start_s!r}..{self.end_s!r}.")
