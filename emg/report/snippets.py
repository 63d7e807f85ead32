"""Waveform snippets around events, cut from the analysed recording (no plotting here).

The report shows what the counted events look like. The analysis files keep only times, so
the snippets are cut again from the input recording: a short window around each event's
largest deflection, band-passed (20 Hz high-pass as the detector does, mains notches) with a
zero-phase filter over a padded window so that the edges do not ring into the snippet.
EDF/BDF files are read at random (only the windows needed); other formats are read whole.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .load import UnitTemplate

__all__ = [
    "SampleSource",
    "Snippets",
    "cut_snippets",
    "open_source",
    "unit_templates_from_snippets",
]

#: Default window around the largest deflection, ms (a 5-20 ms MUAP fits with its baseline).
PRE_MS = 25.0
POST_MS = 25.0
#: Extra signal read on each side so the zero-phase filter settles before the snippet, s.
PAD_S = 0.3


@dataclass(frozen=True, eq=False)
class Snippets:
    """Filtered waveforms in µV, shape (n_events, n_wave); time 0 (the peak) at ``pre`` samples."""

    waveforms_uv: np.ndarray
    fs: float
    pre: int

    @property
    def times_ms(self) -> np.ndarray:
        return (np.arange(self.waveforms_uv.shape[1]) - self.pre) / self.fs * 1e3


@dataclass(frozen=True)
class SampleSource:
    """Random access to a recording: ``read(first, n)`` -> float32 µV (channels, n)."""

    read: Callable[[int, int], np.ndarray]
    fs: float
    channel_names: tuple[str, ...]
    n_samples: int


def open_source(path: str | Path) -> SampleSource:
    """Open ``path`` (any format :func:`emg.io.open_reader` reads) for reading windows of samples.

    EDF/BDF files are read window by window from disk; other formats are loaded once.
    """
    from ..io import open_reader

    reader = open_reader(path)
    info = reader.info
    if hasattr(reader, "read_samples"):
        return SampleSource(reader.read_samples, info.fs, info.channel_names, info.n_samples)
    rec = reader.read()
    return SampleSource(
        lambda first, n: rec.data[:, first : first + n], rec.fs, rec.channel_names, rec.n_samples
    )


def _design(fs: float, mains_hz: float | None):
    from scipy import signal

    sos = [signal.butter(4, 20.0, btype="highpass", fs=fs, output="sos")]
    high = min(450.0, 0.45 * fs)
    if high > 40.0:
        sos.append(signal.butter(4, high, btype="lowpass", fs=fs, output="sos"))
    if mains_hz:
        harmonic = mains_hz
        while harmonic < min(high, 0.5 * fs - 1.0):
            b, a = signal.iirnotch(harmonic, 30.0, fs=fs)
            sos.append(signal.tf2sos(b, a))
            harmonic += 2 * mains_hz  # odd harmonics carry mains interference
    return np.vstack(sos)


def cut_snippets(
    source: SampleSource,
    onset_s: np.ndarray,
    channel: Sequence[str],
    *,
    mains_hz: float | None = None,
    pre_ms: float = PRE_MS,
    post_ms: float = POST_MS,
) -> Snippets:
    """Filtered snippets around events.

    Parameters
    ----------
    source : SampleSource
        The recording (see :func:`open_source`).
    onset_s : array of float
        Time of each event's largest deflection, s from the recording start.
    channel : sequence of str
        Channel name of each event.
    mains_hz : float or None
        Mains frequency to notch (with odd harmonics); None for no notch.
    pre_ms, post_ms : float
        Window before and after the event, ms.

    Returns
    -------
    Snippets
        Rows in the order given; a window reaching past the recording is zero-padded.
    """
    from scipy import signal

    fs = source.fs
    pre = round(pre_ms * 1e-3 * fs)
    post = round(post_ms * 1e-3 * fs)
    pad = round(PAD_S * fs)
    sos = _design(fs, mains_hz)
    index = {name: i for i, name in enumerate(source.channel_names)}
    onset_s = np.asarray(onset_s, dtype=np.float64)
    out = np.zeros((onset_s.size, pre + post + 1), dtype=np.float64)
    for row, (t, name) in enumerate(zip(onset_s, channel)):
        if name not in index:
            raise ValueError(
                f"Invalid value for 'channel': allowed are {', '.join(map(repr, source.channel_names))}, got {name!r}."
            )
        centre = round(float(t) * fs)
        lo = max(0, centre - pre - pad)
        hi = min(source.n_samples, centre + post + pad + 1)
        if hi - lo < 8:
            continue
        x = np.asarray(source.read(lo, hi - lo)[index[name]], dtype=np.float64)
        y = signal.sosfiltfilt(sos, x - np.median(x), padlen=min(3 * 12, x.size - 1))
        a, b = centre - pre - lo, centre + post + 1 - lo
        src_lo, src_hi = max(a, 0), min(b, y.size)
        if src_hi > src_lo:
            out[row, src_lo - a : src_hi - a] = y[src_lo:src_hi]
    return Snippets(out, fs, pre)


def unit_templates_from_snippets(
    snippets: Snippets,
    channel: Sequence[str],
    unit: Sequence[str],
    counts: dict[tuple[str, str], int],
) -> list[UnitTemplate]:
    """Median waveform per (channel, unit) from snippets of that unit's events."""
    channel = np.asarray(channel, dtype=object)
    unit = np.asarray(unit, dtype=object)
    out = []
    for key in dict.fromkeys(zip(channel.tolist(), unit.tolist())):
        rows = (channel == key[0]) & (unit == key[1])
        out.append(
            UnitTemplate(
                channel=key[0],
                unit=key[1],
                template_uv=np.median(snippets.waveforms_uv[rows], axis=0),
                fs=snippets.fs,
                peak_index=snippets.pre,
                count=counts.get(key),
            )
        )
    return out
