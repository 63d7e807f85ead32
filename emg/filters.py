"""Filter design in Hz and stateful streaming filters that carry their state across chunks.

The detector's chain (:class:`DetectionFilter`), all causal:

1. 2nd-order Butterworth high-pass at 20 Hz (offset wander, motion, ECG P and T waves);
   a steeper one rings longer after large potentials;
2. an adaptive mains canceller: one phasor per harmonic of 50 or 60 Hz (found from the
   data by :func:`detect_mains`) below 1.4 x the low-pass edge and Nyquist, adapted by LMS
   (time constant 0.1 s / harmonic number), turned by a frequency-locked loop that follows
   the grid's drift, and frozen while a spike passes. A fixed notch of the same
   width would ring for ~0.1 s after every large potential and make false events; the
   frozen canceller does not;
3. 2nd-order Butterworth low-pass at 250 Hz when the sample rate allows it (run together
   with the high-pass, before the canceller, which then follows only what the band lets
   through).

High-pass, low-pass and canceller run in one pass over the data (one compiled kernel,
``mains_cancel``), with the same numbers as the three run one after the other.

Fixed notches (:func:`notch_sos`) remain available, e.g. for the SciPy baseline.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from ._detect_numba import mains_cancel, sos_filter

__all__ = [
    "DetectionFilter",
    "MainsCanceller",
    "StreamingFilter",
    "detect_mains",
    "detection_sos",
    "highpass_sos",
    "lowpass_sos",
    "mains_harmonics",
    "notch_sos",
]

MAINS_CHOICES = (50.0, 60.0)


def notch_sos(fs: float, mains_hz: float, *, q: float = 30.0, max_hz: float | None = None) -> np.ndarray:
    """Second-order notch sections at ``mains_hz`` and its harmonics below ``max_hz`` and Nyquist.

    The quality factor ``q`` is the same for every harmonic, so the notch width grows
    with frequency (``k * mains_hz / q`` Hz), which tolerates the mains frequency drifting.
    """
    top = min(0.5 * fs - 5.0, np.inf if max_hz is None else max_hz)
    sections = []
    k = 1
    while k * mains_hz < top:
        b, a = signal.iirnotch(k * mains_hz, q, fs=fs)
        sections.append(signal.tf2sos(b, a))
        k += 1
    return np.vstack(sections) if sections else np.zeros((0, 6))


def detection_sos(
    fs: float,
    mains_hz: float | None,
    *,
    highpass_hz: float = 20.0,
    lowpass_hz: float = 250.0,
    notch_q: float = 30.0,
) -> np.ndarray:
    """The detector's filter as second-order sections (see module docstring).

    Parameters
    ----------
    fs : float
        Sample rate in Hz.
    mains_hz : float | None
        50 or 60 to notch, None for no notch.
    highpass_hz, lowpass_hz : float
        Band edges in Hz; the low-pass is left out when ``lowpass_hz >= 0.45 * fs``.
    notch_q : float
        Quality factor of each notch.
    """
    if not 0 < highpass_hz < 0.45 * fs:
        raise ValueError(f"Invalid value for 'highpass_hz': must be between 0 and {0.45 * fs:g} Hz, got {highpass_hz!r}.")
    parts = [signal.butter(4, highpass_hz, btype="highpass", fs=fs, output="sos")]
    has_lowpass = lowpass_hz < 0.45 * fs
    if has_lowpass:
        parts.append(signal.butter(2, lowpass_hz, btype="lowpass", fs=fs, output="sos"))
    if mains_hz:
        parts.append(notch_sos(fs, mains_hz, q=notch_q, max_hz=1.4 * lowpass_hz if has_lowpass else None))
    return np.vstack([p for p in parts if len(p)])


def _goertzel_power(x: np.ndarray, fs: float, freq_hz: float) -> np.ndarray:
    """Power of each row of ``x`` at ``freq_hz`` (Hann-windowed single DFT bin)."""
    n = x.shape[1]
    basis = np.hanning(n) * np.exp(-2j * np.pi * freq_hz * np.arange(n) / fs)
    return np.abs(x @ basis) ** 2


def detect_mains(data: np.ndarray, fs: float, valid: np.ndarray | None = None) -> float | None:
    """50 or 60 Hz, whichever has more power (fundamental + 3rd harmonic, all channels).

    Parameters
    ----------
    data : ndarray (n_channels, n_samples)
        Raw µV, a few seconds (2 s resolve 50 from 60 Hz easily).
    fs : float
        Sample rate in Hz.
    valid : ndarray of bool (n_samples,), optional
        False in gaps (ignored).

    Returns
    -------
    float | None
        50.0 or 60.0; None when fewer than 0.25 s of valid data are given.
    """
    x = np.asarray(data, dtype=np.float64)
    if valid is None:
        valid = np.ones(x.shape[1], bool)
    if np.count_nonzero(valid) < 0.25 * fs:
        return None
    mean = x[:, valid].mean(axis=1, keepdims=True)
    x = np.where(valid, x - mean, 0.0)
    power = {}
    for f0 in MAINS_CHOICES:
        total = _goertzel_power(x, fs, f0).sum()
        if 3 * f0 < 0.5 * fs:
            total += _goertzel_power(x, fs, 3 * f0).sum()
        power[f0] = total
    return max(MAINS_CHOICES, key=lambda f: power[f])


class StreamingFilter:
    """A cascade of second-order sections applied chunk by chunk, state carried over.

    Identical output whatever the chunking. At the first sample, and at the first valid
    sample after a gap, the state is set to the steady state for that sample's value, so
    a DC electrode offset causes no step transient; inside gaps the output is 0.

    Parameters
    ----------
    sos : ndarray (n_sections, 6)
    n_channels : int
    """

    def __init__(self, sos: np.ndarray, n_channels: int):
        self.sos = np.ascontiguousarray(sos, dtype=np.float64)
        self.n_channels = int(n_channels)
        self.zi_unit = np.ascontiguousarray(signal.sosfilt_zi(self.sos)) if len(self.sos) else np.zeros((0, 2))
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next sample restarts the filter."""
        self.zi = np.zeros((self.n_channels, len(self.sos), 2))
        self.pending_reset = np.ones(self.n_channels, dtype=np.bool_)

    def process(self, data: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        """Filter ``data`` (n_channels, n) µV; returns float32 µV of the same shape."""
        x = np.asarray(data, dtype=np.float32)  # a view of a longer recording is fine: no copy
        if x.ndim != 2 or x.shape[0] != self.n_channels:
            raise ValueError(f"Invalid data: expected shape ({self.n_channels}, n), got {x.shape}.")
        v = np.ones(x.shape[1], np.bool_) if valid is None else np.ascontiguousarray(valid, dtype=np.bool_)
        out = np.empty(x.shape, np.float32)
        sos_filter(x, v, self.sos, self.zi_unit, self.zi, self.pending_reset, out)
        return out


def highpass_sos(fs: float, highpass_hz: float = 20.0, order: int = 2) -> np.ndarray:
    """Butterworth high-pass as second-order sections.

    Order 2 by default: a 4th-order high-pass leaves a tail of up to 20 % of a large
    potential's peak 20-30 ms later (measured on simulated MUAPs), order 2 about 7 %.
    """
    if not 0 < highpass_hz < 0.45 * fs:
        raise ValueError(f"Invalid value for 'highpass_hz': must be between 0 and {0.45 * fs:g} Hz, got {highpass_hz!r}.")
    return signal.butter(order, highpass_hz, btype="highpass", fs=fs, output="sos")


def lowpass_sos(fs: float, lowpass_hz: float = 250.0) -> np.ndarray:
    """2nd-order Butterworth low-pass, or no section when ``lowpass_hz >= 0.45 * fs``."""
    if lowpass_hz >= 0.45 * fs:
        return np.zeros((0, 6))
    return signal.butter(2, lowpass_hz, btype="lowpass", fs=fs, output="sos")


def mains_harmonics(fs: float, mains_hz: float, lowpass_hz: float = 250.0) -> np.ndarray:
    """Harmonics (Hz) the canceller follows: below 1.4 x the low-pass edge and Nyquist - 5 Hz."""
    top = 0.5 * fs - 5.0
    if lowpass_hz < 0.45 * fs:
        top = min(top, 1.4 * lowpass_hz)
    k = np.arange(1, int(top // mains_hz) + 2)
    return (k * mains_hz)[k * mains_hz < top]


def _period_samples(fs: float, mains_hz: float) -> int:
    """Smallest whole number of samples holding whole mains cycles (<= 100 s), else 10 s."""
    for n in range(1, int(100 * fs) + 1):
        cycles = n * mains_hz / fs
        if abs(cycles - round(cycles)) < 1e-9 and round(cycles) >= 1:
            return n
    return int(round(10 * fs))


class MainsCanceller:
    """Adaptive cancellation of mains and harmonics, frozen during spikes (see module docstring).

    Parameters
    ----------
    fs : float
        Sample rate in Hz.
    mains_hz : float
        50 or 60.
    n_channels : int
    lowpass_hz : float
        Edge of the following low-pass (limits the harmonics followed).
    tau_s : float
        Adaptation time constant of the fundamental (harmonic k: ``tau_s / k``).
    clip : float
        The adapting error is clipped at this multiple of the residual's running mean |value|.
    freeze : float
        Freeze when |residual| exceeds this multiple of that level.
    hold_s : float
        Freeze length after the last such sample.
    max_frozen_s : float
        A longer freeze is not a spike: adaptation is forced for as long again.
    max_drift_hz : float
        Largest mains frequency error the frequency loop follows.
    """

    def __init__(self, fs: float, mains_hz: float, n_channels: int, *, lowpass_hz: float = 250.0,
                 tau_s: float = 0.1, clip: float = 4.0, freeze: float = 8.0, hold_s: float = 0.03, max_frozen_s: float = 0.1,
                 max_drift_hz: float = 0.5):
        self.fs, self.mains_hz, self.n_channels = float(fs), float(mains_hz), int(n_channels)
        self.harmonics_hz = mains_harmonics(fs, mains_hz, lowpass_hz)
        period = _period_samples(fs, mains_hz)
        phase = 2 * np.pi * np.outer(self.harmonics_hz, np.arange(period)) / fs
        self.cos_t, self.sin_t = np.cos(phase), np.sin(phase)
        # equal-Q behaviour: the k-th harmonic adapts k times faster (its frequency drifts k times more)
        self.mu = np.arange(1, len(self.harmonics_hz) + 1) / (tau_s * fs)
        self.clip = float(clip)
        self.freeze = float(freeze)
        self.hold_n = max(1, int(round(hold_s * fs)))
        self.max_frozen_n = max(self.hold_n + 1, int(round(max_frozen_s * fs)))
        # the LMS corrects a phase error at rate mu per sample; integrating those corrections
        # with gain K gives a second-order loop with damping sqrt(mu / K) / 2 and a slow pole
        # near K per sample: K = mu / 25 follows frequency drift within ~2.5 s (damping 2.5)
        self.pll_gain = float(self.mu[0] / 25.0) if len(self.mu) else 0.0
        self.max_dw = 2 * np.pi * max_drift_hz / fs
        self.dw = np.zeros(self.n_channels)
        self.turn_state = np.zeros((self.n_channels, 2))
        self.ema_n = max(1.0, 1.0 * fs)
        self.amp = np.zeros((self.n_channels, len(self.harmonics_hz), 2))
        self.ema = np.full(self.n_channels, np.inf)  # adapt freely until the level is known
        self.hold = np.zeros((self.n_channels, 2), np.int64)

    def process(self, data: np.ndarray, valid: np.ndarray, first_sample: int,
                band: StreamingFilter | None = None) -> np.ndarray:
        """Cancel mains in ``data`` whose first column is absolute ``first_sample``.

        ``data`` is high-passed µV; or raw µV with ``band``, the band-pass to run first (its
        state is updated), which then runs in the same pass over the data: the same numbers
        as ``band.process`` followed by this, in less time.
        """
        x = np.asarray(data, dtype=np.float32)  # the kernel reads a view of a longer array as it is
        ok = np.ascontiguousarray(valid, dtype=np.bool_)
        if band is not None and (not len(self.mu) or np.isinf(self.ema).any() or not len(band.sos)):
            x, band = band.process(x, ok), None  # two passes: the level below is the band's
        out = np.empty_like(x)
        if np.isinf(self.ema).any() and x.shape[1]:
            level = np.abs(x[:, ok]).mean(axis=1) if ok.any() else np.full(self.n_channels, np.inf)
            self.ema = np.where(np.isinf(self.ema), np.maximum(level, 1e-3), self.ema)
        if not len(self.mu):  # no harmonic below the band edge: nothing to cancel
            return np.where(ok, x, np.float32(0.0))
        if band is None:  # one section that changes nothing (its state is not kept)
            band = StreamingFilter(np.array([[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]]), self.n_channels)
        # sections and mu as tuples: the kernel is compiled for those counts (see its docstring)
        sections = tuple(tuple(float(c) for c in (b0, b1, b2, a1, a2)) for b0, b1, b2, _, a1, a2 in band.sos)
        mains_cancel(x, ok, sections, band.zi_unit, band.zi, band.pending_reset, self.cos_t, self.sin_t,
                     int(first_sample), tuple(self.mu), self.pll_gain, self.max_dw, self.clip, self.freeze, self.hold_n,
                     self.max_frozen_n, self.ema_n, self.amp, self.dw, self.ema, self.hold, self.turn_state, out)
        return out


class DetectionFilter:
    """The detector's causal chain: band-pass, then the mains canceller (module docstring).

    The high-pass and low-pass run as one cascade of sections; the canceller follows, on
    the band-limited signal, in the same pass over the data. Call :meth:`warm_up` with the first
    seconds of raw data before :meth:`process`, so the canceller has locked on to the mains
    from the first sample.
    """

    def __init__(self, fs: float, n_channels: int, mains_hz: float | None, *, highpass_hz: float = 20.0,
                 lowpass_hz: float = 250.0):
        self.fs, self.n_channels = float(fs), int(n_channels)
        sos = np.vstack([highpass_sos(fs, highpass_hz), lowpass_sos(fs, lowpass_hz)])
        self.band = StreamingFilter(sos, n_channels)
        self.canceller = (MainsCanceller(fs, mains_hz, n_channels, lowpass_hz=lowpass_hz)
                          if mains_hz else None)
        self._next = 0

    def warm_up(self, data: np.ndarray, valid: np.ndarray | None = None) -> None:
        """Lock the canceller on to the mains in ``data`` (the recording's first samples)."""
        if self.canceller is None or np.shape(data)[1] == 0:
            return
        v = np.ones(np.shape(data)[1], bool) if valid is None else np.asarray(valid, bool)
        self.canceller.process(data, v, 0, band=StreamingFilter(self.band.sos, self.n_channels))
        self.canceller.hold[:] = 0

    def process(self, data: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        """Filter the next consecutive block of raw µV; returns float32 µV."""
        v = np.ones(np.shape(data)[1], np.bool_) if valid is None else np.ascontiguousarray(valid, dtype=np.bool_)
        if self.canceller is not None:
            y = self.canceller.process(data, v, self._next, band=self.band)
        else:
            y = self.band.process(data, v)
        self._next += len(v)
        return y
