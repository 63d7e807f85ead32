"""NumPy/SciPy references for the kernels in ``_segments_numba.py`` (private; used by tests).

Each reference computes the same result the straightforward way (SciPy filters, a full
FFT per window, ``np.percentile`` per window, SciPy's median filter, the Python loops the
kernels replaced), so the tests can check the compiled kernels against them.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

__all__ = [
    "dilate_rows_ref",
    "highpass_windows_ref",
    "mark_touching_runs_ref",
    "noise_levels_ref",
    "running_median_ref",
    "trailing_percentile_ref",
    "window_features_ref",
    "window_fractions_ref",
]


def window_features_ref(x: np.ndarray, sos: np.ndarray, zi: np.ndarray, win: int, keep: np.ndarray) -> dict:
    """High-pass (``scipy.signal.sosfilt``), then per window: mean, RMS of the inverse FFT
    of the kept bins ``keep`` (rfft bins), mean square, longest flat run, filter state at
    the window start. Returns a dict of arrays named as the kernel's outputs, plus ``hp``
    and the final ``zi``."""
    n_ch, n = x.shape
    nw = n // win
    x = x[:, : nw * win]
    states = np.empty((n_ch, nw, 4))
    hp = np.empty((n_ch, nw * win))
    z = np.array(zi, dtype=np.float64)
    for w in range(nw):  # window by window, to read the state at each start
        states[:, w, :2] = z[0]
        states[:, w, 2:] = z[1]
        hp[:, w * win : (w + 1) * win], z = signal.sosfilt(sos, x[:, w * win : (w + 1) * win].astype(np.float64),
                                                          axis=1, zi=z)
    windows = hp.reshape(n_ch, nw, win)
    spec = np.fft.rfft(windows, axis=2)
    spec[..., ~keep] = 0
    y = np.fft.irfft(spec, n=win, axis=2)
    xw = x.reshape(n_ch, nw, win)
    same = np.diff(xw, axis=2) == 0
    flat = np.zeros((n_ch, nw), np.int64)
    for c, w in zip(*np.nonzero(same.any(axis=2))):
        d = np.diff(np.concatenate([[0], same[c, w].astype(np.int8), [0]]))
        flat[c, w] = int(np.max(np.flatnonzero(d == -1) - np.flatnonzero(d == 1)))
    return {
        "hp": hp,
        "zi": z,
        "mean": xw.mean(axis=2, dtype=np.float64),
        "rms": np.sqrt((y * y).mean(axis=2)),
        "total_ms": (windows * windows).mean(axis=2),
        "same_run": flat,
        "states": states,
    }


def highpass_windows_ref(x: np.ndarray, sos: np.ndarray, states: np.ndarray, chans: np.ndarray,
                         wins: np.ndarray, win: int) -> np.ndarray:
    """Each window ``(chans[k], wins[k])`` filtered with ``scipy.signal.sosfilt`` from its start state."""
    out = np.empty((len(chans), win))
    for k, (c, w) in enumerate(zip(chans, wins)):
        zi = np.array([states[c, w, :2], states[c, w, 2:]])
        out[k] = signal.sosfilt(sos, x[c, w * win : (w + 1) * win].astype(np.float64), zi=zi)[0]
    return out


def window_fractions_ref(x: np.ndarray, sos: np.ndarray, states: np.ndarray, chans: np.ndarray,
                         wins: np.ndarray, win: int, keep: np.ndarray, thr_a: np.ndarray,
                         thr_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The windows filtered again from their states, the inverse FFT of their kept bins,
    and the share of ``|y|`` above each threshold."""
    hp = highpass_windows_ref(x, sos, states, chans, wins, win)
    spec = np.fft.rfft(hp, axis=1)
    spec[:, ~keep] = 0
    y = np.abs(np.fft.irfft(spec, n=win, axis=1))
    return (y > thr_a[:, None]).mean(axis=1), (y > thr_b[:, None]).mean(axis=1)


def trailing_percentile_ref(values: np.ndarray, ends: np.ndarray, width: int, q: float) -> np.ndarray:
    """``np.percentile`` of ``values[:, max(0, e - width) : e]`` for each end ``e``."""
    out = np.empty((values.shape[0], len(ends)))
    for j, e in enumerate(ends):
        out[:, j] = np.percentile(values[:, max(0, e - width) : e], 100 * q, axis=1)
    return out


def noise_levels_ref(rms: np.ndarray, ok: np.ndarray, p20: np.ndarray, cnt: np.ndarray, block: int,
                     sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The segmenter's noise rule per block as NumPy expressions (the loop the kernel replaced).

    Returns the last noise level and the level per block.
    """
    import warnings

    n_ch, nw = rms.shape
    n_b = len(cnt)
    pad = n_b * block - nw
    blk_rms = np.pad(np.where(ok[None, :], rms, np.nan), ((0, 0), (0, pad)), constant_values=np.nan)
    blk_rms = blk_rms.reshape(n_ch, n_b, block)
    any_ok = np.isfinite(blk_rms).any(axis=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(blk_rms, axis=2)
    sigma = np.array(sigma, dtype=np.float64)
    sigma_b = np.zeros((n_ch, n_b))
    for j in range(n_b):
        if cnt[j] >= block:
            sig = p20[:, j]
        elif any_ok[0, j]:
            sig = np.percentile(blk_rms[:, j][:, np.isfinite(blk_rms[0, j])], 20, axis=1)
        else:
            sigma_b[:, j] = np.nan
            continue
        with np.errstate(invalid="ignore"):
            sig = np.where(np.isfinite(sigma), np.minimum(sig, 1.5 * sigma), sig)
            sig = np.where(any_ok[:, j], np.minimum(sig, med[:, j]), sig)
            sig = np.maximum(sig, 1e-3)
        sigma = sig
        sigma_b[:, j] = sig
    return sigma, sigma_b


def running_median_ref(values: np.ndarray, half: int) -> np.ndarray:
    """``scipy.ndimage.median_filter`` along rows, edges repeated."""
    from scipy.ndimage import median_filter

    return median_filter(values, size=(1, 2 * half + 1), mode="nearest")


def dilate_rows_ref(x: np.ndarray, before: int, after: int) -> np.ndarray:
    """Boolean dilation by shifted ORs (True spreads ``before`` back and ``after`` forward)."""
    out = x.copy()
    for k in range(1, after + 1):
        out[..., k:] |= x[..., :-k]
    for k in range(1, before + 1):
        out[..., :-k] |= x[..., k:]
    return out


def mark_touching_runs_ref(runs: np.ndarray, touch: np.ndarray, out: np.ndarray) -> np.ndarray:
    """A copy of ``out`` with every run of ``runs`` that holds a True of ``touch`` set True."""
    out = out.copy()
    for c in range(runs.shape[0]):
        d = np.diff(np.concatenate([[0], runs[c].astype(np.int8), [0]]))
        for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)):
            if touch[c, a:b].any():
                out[c, a:b] = True
    return out
