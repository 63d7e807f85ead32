"""Putative motor units: fasciculation waveforms grouped per channel by shape and size.

A surface fasciculation of one motor unit has nearly the same shape every time it fires, so
the same few units twitching again and again show up as a few templates. The grouping is an
on-line "leader" clustering, the same on a live stream and on a file: each new waveform joins
the template it matches best when

* the normalised cross-correlation (over lags of up to ``max_lag_ms``) is at least
  ``min_corr`` (0.85), and
* its peak-to-peak amplitude is within a factor ``max_amp_ratio`` (1.5) of the template's,

otherwise it starts a new unit (at most ``max_units`` per channel; beyond that the event gets
no unit). Templates are running means of their members' waveforms (the newest ``memory``
members weigh most), kept for the report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["UnitTemplate", "UnitTracker", "best_correlation"]


@dataclass
class UnitTemplate:
    """One putative motor unit on one channel."""

    channel: int
    unit: int  # 1-based id within the channel
    waveform_uv: np.ndarray  # mean waveform, µV, peak at the centre
    count: int = 0
    amplitude_uv: float = 0.0  # running mean peak-to-peak of the members, µV
    first_s: float = 0.0
    last_s: float = 0.0

    def to_dict(self) -> dict:
        return {
            "unit": self.unit,
            "count": self.count,
            "amplitude_uv": round(self.amplitude_uv, 1),
            "first_s": round(self.first_s, 3),
            "last_s": round(self.last_s, 3),
            "waveform_uv": [round(float(v), 2) for v in self.waveform_uv],
        }


def best_correlation(a: np.ndarray, b: np.ndarray, max_lag: int) -> float:
    """Largest normalised cross-correlation of two equal-length waveforms over ``|lag| <= max_lag``.

    The overlapping parts are compared (the ends are cut by ``max_lag`` samples).
    """
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    n = len(a)
    if n <= 2 * max_lag + 2:
        max_lag = max(0, (n - 3) // 2)
    core = np.arange(max_lag, n - max_lag)
    x = a[core]
    x = x - x.mean()
    ys = b[core[None, :] + np.arange(-max_lag, max_lag + 1)[:, None]]
    ys = ys - ys.mean(axis=1, keepdims=True)
    den = np.sqrt(np.dot(x, x) * (ys * ys).sum(axis=1))
    corr = np.where(den > 0, (ys @ x) / np.where(den > 0, den, 1.0), -1.0)
    return float(corr.max())


class UnitTracker:
    """Assign fasciculation waveforms to putative motor units, channel by channel.

    Parameters
    ----------
    fs : float
        Sample rate in Hz.
    n_channels : int
        Number of channels.
    min_corr : float
        Minimum normalised cross-correlation to join a unit.
    max_amp_ratio : float
        Largest peak-to-peak ratio (either way) to join a unit.
    max_lag_ms : float
        Lags searched when comparing shapes, in ms.
    max_units : int
        Units kept per channel.
    memory : int
        Templates average at most this many recent members (running mean).
    """

    def __init__(self, fs: float, n_channels: int, *, min_corr: float = 0.85, max_amp_ratio: float = 1.5,
                 max_lag_ms: float = 2.0, max_units: int = 20, memory: int = 50):
        self.fs = float(fs)
        self.n_channels = int(n_channels)
        self.min_corr = min_corr
        self.max_amp_ratio = max_amp_ratio
        self.max_lag = max(1, int(round(max_lag_ms * 1e-3 * fs)))
        self.max_units = max_units
        self.memory = memory
        self.templates: list[list[UnitTemplate]] = [[] for _ in range(self.n_channels)]

    def assign(self, channel: int, waveform_uv: np.ndarray, amplitude_uv: float, time_s: float) -> int:
        """Unit id (1-based) of one waveform, updating the templates; -1 when none is given."""
        wave = np.asarray(waveform_uv, dtype=np.float64)
        if wave.size < 3 or not np.any(wave):
            return -1
        best, best_corr = None, self.min_corr
        cands = [tpl for tpl in self.templates[channel]
                 if 1 / self.max_amp_ratio <= amplitude_uv / max(tpl.amplitude_uv, 1e-9) <= self.max_amp_ratio]
        if cands:
            from ._detect_numba import unit_correlations

            corrs = np.empty(len(cands))
            unit_correlations(wave, np.array([t.waveform_uv for t in cands], np.float64), self.max_lag, corrs)
            for tpl, corr in zip(cands, corrs.tolist()):
                if corr >= best_corr:
                    best, best_corr = tpl, corr
        if best is None:
            units = self.templates[channel]
            if len(units) >= self.max_units:
                return -1
            best = UnitTemplate(channel, len(units) + 1, wave.copy(), first_s=time_s)
            units.append(best)
        weight = 1.0 / min(best.count + 1, self.memory)
        if best.count:
            best.waveform_uv = (1 - weight) * best.waveform_uv + weight * wave
        best.amplitude_uv += weight * (float(amplitude_uv) - best.amplitude_uv)
        best.count += 1
        best.last_s = time_s
        return best.unit

    def units_of(self, channel: int) -> list[UnitTemplate]:
        """Templates of one channel, most frequent first."""
        return sorted(self.templates[channel], key=lambda t: -t.count)
