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
        self._n_wave = 0  # waveform length, known from the first waveform
        self._tpl = np.zeros((self.n_channels, self.max_units, 0))
        # per template and lag, the mean and squared deviations its correlations need (kept with it)
        self._tpl_mean = np.zeros((self.n_channels, self.max_units, 2 * self.max_lag + 1))
        self._tpl_ss = np.zeros((self.n_channels, self.max_units, 2 * self.max_lag + 1))
        self._amp = np.zeros((self.n_channels, self.max_units))
        self._count = np.zeros((self.n_channels, self.max_units), np.int64)
        self._first = np.zeros((self.n_channels, self.max_units))
        self._last = np.zeros((self.n_channels, self.max_units))
        self._n_units = np.zeros(self.n_channels, np.int64)
        self._matched = np.zeros((self.n_channels, self.max_units), np.int64)  # members found by :meth:`match`
        self._matched_last = np.zeros((self.n_channels, self.max_units))

    def assign_many(self, channels: np.ndarray, waveforms_uv: np.ndarray, amplitudes_uv: np.ndarray,
                    times_s: np.ndarray, *, match_only: np.ndarray | None = None, min_corr: float = 0.75,
                    min_count: int = 3, min_gap_s: float = 0.0) -> np.ndarray:
        """Unit ids (1-based, -1 when none) of waveforms taken in order, updating the templates.

        One compiled pass (:func:`emg._detect_numba.assign_units`); the same as calling
        :meth:`assign` on each in turn. Waveforms flagged ``match_only`` are instead compared
        as :meth:`match` does (``min_corr``, ``min_count``, ``min_gap_s`` are its settings).
        """
        from ._detect_numba import assign_units

        waves = np.ascontiguousarray(waveforms_uv)
        if waves.ndim != 2 or len(waves) != len(channels):
            raise ValueError(f"Invalid waveforms: expected shape ({len(channels)}, n), got {waves.shape}.")
        out = np.full(len(channels), -1, np.int64)
        if not len(channels):
            return out
        if waves.dtype not in (np.float32, np.float64):
            waves = waves.astype(np.float64)
        if self._n_wave == 0:
            self._n_wave = waves.shape[1]
            self._tpl = np.zeros((self.n_channels, self.max_units, self._n_wave))
        elif waves.shape[1] != self._n_wave:
            raise ValueError(f"Invalid waveforms: {waves.shape[1]} samples, the units hold {self._n_wave}.")
        if self.max_units == 0:
            return out
        only = np.zeros(len(channels), np.bool_) if match_only is None else np.ascontiguousarray(match_only, np.bool_)
        assign_units(np.ascontiguousarray(channels, dtype=np.int64), waves,
                     np.ascontiguousarray(amplitudes_uv, dtype=np.float64),
                     np.ascontiguousarray(times_s, dtype=np.float64), float(self.min_corr),
                     float(self.max_amp_ratio), int(self.max_lag), int(self.memory), self._tpl, self._tpl_mean,
                     self._tpl_ss, self._amp, self._count, self._first, self._last, self._n_units, out, only,
                     float(min_corr), int(min_count), float(min_gap_s), self._matched, self._matched_last)
        return out

    def assign(self, channel: int, waveform_uv: np.ndarray, amplitude_uv: float, time_s: float) -> int:
        """Unit id (1-based) of one waveform, updating the templates; -1 when none is given."""
        wave = np.asarray(waveform_uv, dtype=np.float64)[None, :]
        return int(self.assign_many(np.array([channel]), wave, np.array([amplitude_uv]), np.array([time_s]))[0])

    def match(self, channel: int, waveform_uv: np.ndarray, amplitude_uv: float, time_s: float, *,
              min_corr: float, min_count: int, min_gap_s: float = 0.0) -> int:
        """Unit id (1-based) of an established unit this waveform repeats, else -1.

        Established: at least ``min_count`` members, the last one at least ``min_gap_s``
        before ``time_s`` (a unit firing again within a second is firing tonically, like in a
        weak contraction, not fasciculating). Repeats: normalised cross-correlation
        >= ``min_corr`` (over ``max_lag_ms``) and peak-to-peak within ``max_amp_ratio`` of
        the unit's; the first best-correlated such unit. It counts the waveform as a member
        (in :meth:`units_of`), but its template and the weights of later members are not
        changed, so faint waveforms do not blur it.
        """
        wave = np.asarray(waveform_uv, dtype=np.float64)[None, :]
        return int(self.assign_many(np.array([channel]), wave, np.array([amplitude_uv]), np.array([time_s]),
                                    match_only=np.array([True]), min_corr=min_corr, min_count=min_count,
                                    min_gap_s=min_gap_s)[0])

    def units_of(self, channel: int) -> list[UnitTemplate]:
        """Templates of one channel, most frequent first."""
        units = [UnitTemplate(channel, u + 1, self._tpl[channel, u].copy(),
                              count=int(self._count[channel, u] + self._matched[channel, u]),
                              amplitude_uv=float(self._amp[channel, u]), first_s=float(self._first[channel, u]),
                              last_s=float(max(self._last[channel, u], self._matched_last[channel, u])))
                 for u in range(int(self._n_units[channel]))]
        return sorted(units, key=lambda t: -t.count)
