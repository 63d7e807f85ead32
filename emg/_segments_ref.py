"""NumPy/SciPy references for the kernels in ``_segments_numba.py`` (private; used by tests).

Each reference computes the same result the straightforward way (NumPy reductions over
every window, ``np.percentile`` per window, SciPy's median filter, the Python loops the
kernels replaced), so the tests can check the compiled kernels against them.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "dilate_rows_ref",
    "mark_near_runs_ref",
    "noise_levels_ref",
    "raw_window_stats_ref",
    "running_median_ref",
    "trailing_percentile_ref",
    "window_fractions_ref",
    "window_rms_ref",
]


def raw_window_stats_ref(x: np.ndarray, win: int) -> tuple[np.ndarray, np.ndarray]:
    """Per window: ``mean`` (NumPy's float64 mean) and the longest run of equal neighbours."""
    n_ch, n = x.shape
    nw = n // win
    xw = x[:, : nw * win].reshape(n_ch, nw, win)
    same = np.diff(xw, axis=2) == 0
    flat = np.zeros((n_ch, nw), np.int64)
    for c, w in zip(*np.nonzero(same.any(axis=2))):
        d = np.diff(np.concatenate([[0], same[c, w].astype(np.int8), [0]]))
        flat[c, w] = int(np.max(np.flatnonzero(d == -1) - np.flatnonzero(d == 1)))
    return xw.mean(axis=2, dtype=np.float64), flat


def window_rms_ref(y: np.ndarray, win: int) -> np.ndarray:
    """RMS of each window (float64)."""
    n_ch, n = y.shape
    yw = y[:, : (n // win) * win].reshape(n_ch, -1, win).astype(np.float64)
    return np.sqrt((yw * yw).mean(axis=2))


def window_fractions_ref(y: np.ndarray, win: int, thr_a: np.ndarray, thr_b: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Share of every window's ``|y|`` above each threshold (no window skipped)."""
    n_ch, n = y.shape
    yw = np.abs(y[:, : (n // win) * win].reshape(n_ch, -1, win).astype(np.float64))
    return (yw > thr_a[..., None]).mean(axis=2), (yw > thr_b[..., None]).mean(axis=2)


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


def mark_near_runs_ref(runs: np.ndarray, marks: np.ndarray, reach: int, out: np.ndarray) -> np.ndarray:
    """A copy of ``out`` set True where ``runs`` is True and a True of ``marks`` lies within
    ``reach`` places with only ``runs`` or ``marks`` in between (by brute force)."""
    out = out.copy()
    n = runs.shape[1]
    for c in range(runs.shape[0]):
        for t in np.flatnonzero(runs[c] & ~marks[c]):
            for step in (-1, 1):
                for k in range(1, reach + 1):
                    u = t + step * k
                    if not 0 <= u < n:
                        break
                    if marks[c, u]:
                        out[c, t] = True
                        break
                    if not runs[c, u]:
                        break
    return out
