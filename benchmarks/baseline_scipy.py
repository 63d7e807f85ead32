"""The plain SciPy spike detector the project is measured against.

Zero-phase 4th-order Butterworth band-pass 20-450 Hz (``sosfiltfilt``), a notch at the
mains fundamental (``iirnotch`` Q = 30, ``filtfilt``), threshold 5 x MAD/0.6745 of the
whole filtered channel, ``find_peaks`` on |x| with 10 ms minimum distance, and the
peak-to-peak amplitude in +-10 ms. This is what one writes with SciPy in an afternoon;
it is not causal and cannot run on a stream.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

__all__ = ["scipy_detect"]


def scipy_detect(data: np.ndarray, fs: float, mains_hz: float = 50.0, threshold: float = 5.0):
    """Detect spikes in ``data`` (n_channels, n_samples) µV.

    Returns
    -------
    sample, channel, amplitude_uv : ndarrays
        One entry per detected peak, sorted by sample.
    """
    x = np.asarray(data, dtype=np.float64)
    high = min(450.0, 0.45 * fs)
    sos = signal.butter(4, [20.0, high], btype="bandpass", fs=fs, output="sos")
    y = signal.sosfiltfilt(sos, x, axis=1)
    if mains_hz and mains_hz < 0.5 * fs:
        b, a = signal.iirnotch(mains_hz, 30.0, fs=fs)
        y = signal.filtfilt(b, a, y, axis=1)
    half = max(1, int(round(0.010 * fs)))
    samples, channels, amps = [], [], []
    for c in range(y.shape[0]):
        yc = y[c]
        mad = np.median(np.abs(yc - np.median(yc))) / 0.6745
        peaks, _ = signal.find_peaks(np.abs(yc), height=threshold * mad, distance=half)
        if len(peaks):
            idx = np.clip(peaks[:, None] + np.arange(-half, half + 1)[None, :], 0, len(yc) - 1)
            win = yc[idx]
            amps.append(win.max(axis=1) - win.min(axis=1))
            samples.append(peaks)
            channels.append(np.full(len(peaks), c))
    if not samples:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    s, ch, a = np.concatenate(samples), np.concatenate(channels), np.concatenate(amps)
    order = np.lexsort((ch, s))
    return s[order], ch[order], a[order]
