"""Numba kernels of the segmenter (private). Each has a NumPy reference in ``_segments_ref.py``.

Written as plain loops so the same code runs compiled (the default) or as Python
(``EMG_NO_NUMBA=1``). State lives in arrays the caller owns (filter state, history of
window values), which keeps the segmenter chunk-invariant.
"""

from __future__ import annotations

import numpy as np

from ._numba import jit

__all__ = ["folded_dft_tables", "noise_levels", "trailing_percentile", "window_features"]


def folded_dft_tables(win: int, bins: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tables for the DFT of a few ``bins`` of a ``win``-sample window from its folded halves.

    With ``e[i] = x[i] + x[win - i]`` and ``o[i] = x[i] - x[win - i]`` (the first sample, and
    the middle one when ``win`` is even, stand alone in ``e``), bin ``k`` of the DFT is
    ``sum(e * cos_tab[:, j]) - 1j * sum(o * sin_tab[:, j])``: half the products of the plain sum.

    Returns
    -------
    cos_tab : float64 (n_even, n_bins)
        Rows ``i = 0 .. win // 2`` of ``cos(2 pi k i / win)``.
    sin_tab : float64 (n_pairs, n_bins)
        Rows ``i = 1 .. (win - 1) // 2`` of ``sin(2 pi k i / win)``.
    weight : float64 (n_bins,)
        ``|X_k|^2`` counts once for the DC and Nyquist bins and twice for the others (the
        mirrored bin of a real signal), so the energy of ``bins`` in the window is
        ``sum(weight * |X_k|^2) / win`` (Parseval).
    """
    bins = np.asarray(bins, np.int64)
    n_pairs = (win - 1) // 2
    i_even = np.arange(win // 2 + 1)
    i_odd = np.arange(1, n_pairs + 1)
    cos_tab = np.cos(2 * np.pi * np.outer(i_even, bins) / win)
    sin_tab = np.sin(2 * np.pi * np.outer(i_odd, bins) / win)
    real_bin = (bins == 0) | (2 * bins == win)
    sin_tab[:, real_bin] = 0.0
    weight = np.where(real_bin, 1.0, 2.0)
    return np.ascontiguousarray(cos_tab), np.ascontiguousarray(sin_tab), weight


@jit
def window_features(x, sos, zi, cos_tab, sin_tab, weight, hp, mean, rms, total_ms, same_run):
    """High-pass a chunk and describe its windows: mean, mains-free RMS, longest flat run.

    Parameters
    ----------
    x : float32 (n_ch, nw * win)
        Raw signal (µV); ``win`` is ``x.shape[1] // mean.shape[1]``.
    sos : float64 (2, 6)
        The high-pass as two second-order sections (a0 = 1).
    zi : float64 (2, n_ch, 2)
        Filter state (scipy's layout for ``axis=1``), updated in place.
    cos_tab, sin_tab, weight : from :func:`folded_dft_tables` for the removed bins.
    hp : float64 (n_ch, nw * win)
        Out: the high-passed signal, ``scipy.signal.sosfilt(sos, x, axis=1, zi=zi)``
        bit for bit (same operations in the same order).
    mean : float64 (n_ch, nw)
        Out: window mean of ``x`` as ``x.mean(axis=-1, dtype=float64)`` gives it (pairwise sum).
    rms : float64 (n_ch, nw)
        Out: RMS of the high-passed window without the removed bins, from Parseval:
        ``sqrt(max(sum(hp**2) - energy of the removed bins, 0) / win)``.
    total_ms : float64 (n_ch, nw)
        Out: mean square of the whole high-passed window (the scale of the rounding error
        of ``rms**2``, which is a difference).
    same_run : int64 (n_ch, nw)
        Out: longest run of successive equal samples ``x[i + 1] == x[i]`` in the window
        (counted in differences, 0 when no two neighbours are equal).
    """
    n_ch, n = x.shape
    nw = mean.shape[1]
    win = n // nw if nw else 1
    highpass(x, sos, zi, hp)
    window_means(x, win, mean, same_run)
    removed_rms(hp, win, cos_tab, sin_tab, weight, rms, total_ms)


@jit
def highpass(x, sos, zi, out):
    """``scipy.signal.sosfilt(sos, x, axis=1, zi=zi)`` for two sections, bit for bit.

    Parameters
    ----------
    x : float32 or float64 (n_ch, n)
    sos : float64 (2, 6)
        Second-order sections with a0 = 1.
    zi : float64 (2, n_ch, 2)
        Filter state (scipy's layout for ``axis=1``), updated in place.
    out : float64 (n_ch, n)
    """
    n_ch, n = x.shape
    b00, b01, b02, a01, a02 = sos[0, 0], sos[0, 1], sos[0, 2], sos[0, 4], sos[0, 5]
    b10, b11, b12, a11, a12 = sos[1, 0], sos[1, 1], sos[1, 2], sos[1, 4], sos[1, 5]
    for g in range(0, n_ch, 4):
        # four channels side by side in scalars (independent chains keep the FPU busy); a
        # short last group repeats its last channel, which computes the same values again
        ca, cb, cc, cd = g, min(g + 1, n_ch - 1), min(g + 2, n_ch - 1), min(g + 3, n_ch - 1)
        pa0, pa1, qa0, qa1 = zi[0, ca, 0], zi[0, ca, 1], zi[1, ca, 0], zi[1, ca, 1]
        pb0, pb1, qb0, qb1 = zi[0, cb, 0], zi[0, cb, 1], zi[1, cb, 0], zi[1, cb, 1]
        pc0, pc1, qc0, qc1 = zi[0, cc, 0], zi[0, cc, 1], zi[1, cc, 0], zi[1, cc, 1]
        pd0, pd1, qd0, qd1 = zi[0, cd, 0], zi[0, cd, 1], zi[1, cd, 0], zi[1, cd, 1]
        for t in range(n):
            xa = np.float64(x[ca, t])
            xb = np.float64(x[cb, t])
            xc = np.float64(x[cc, t])
            xd = np.float64(x[cd, t])
            na = b00 * xa + pa0
            nb = b00 * xb + pb0
            nc = b00 * xc + pc0
            nd = b00 * xd + pd0
            pa0 = b01 * xa - a01 * na + pa1
            pb0 = b01 * xb - a01 * nb + pb1
            pc0 = b01 * xc - a01 * nc + pc1
            pd0 = b01 * xd - a01 * nd + pd1
            pa1 = b02 * xa - a02 * na
            pb1 = b02 * xb - a02 * nb
            pc1 = b02 * xc - a02 * nc
            pd1 = b02 * xd - a02 * nd
            ya = b10 * na + qa0
            yb = b10 * nb + qb0
            yc = b10 * nc + qc0
            yd = b10 * nd + qd0
            qa0 = b11 * na - a11 * ya + qa1
            qb0 = b11 * nb - a11 * yb + qb1
            qc0 = b11 * nc - a11 * yc + qc1
            qd0 = b11 * nd - a11 * yd + qd1
            qa1 = b12 * na - a12 * ya
            qb1 = b12 * nb - a12 * yb
            qc1 = b12 * nc - a12 * yc
            qd1 = b12 * nd - a12 * yd
            out[ca, t] = ya
            out[cb, t] = yb
            out[cc, t] = yc
            out[cd, t] = yd
        zi[0, ca, 0], zi[0, ca, 1], zi[1, ca, 0], zi[1, ca, 1] = pa0, pa1, qa0, qa1
        zi[0, cb, 0], zi[0, cb, 1], zi[1, cb, 0], zi[1, cb, 1] = pb0, pb1, qb0, qb1
        zi[0, cc, 0], zi[0, cc, 1], zi[1, cc, 0], zi[1, cc, 1] = pc0, pc1, qc0, qc1
        zi[0, cd, 0], zi[0, cd, 1], zi[1, cd, 0], zi[1, cd, 1] = pd0, pd1, qd0, qd1


@jit
def window_means(x, win, mean, same_run):
    """Window means (as ``x.mean(axis=-1, dtype=float64)``, bit for bit) and longest flat runs."""
    n_ch = x.shape[0]
    nw = mean.shape[1]
    for c in range(n_ch):
        xr = x[c]
        for w in range(nw):
            t0 = w * win
            mean[c, w] = _pairwise_sum(xr, t0, win) / win
            equal = 0
            for t in range(t0 + 1, t0 + win):
                equal += xr[t] == xr[t - 1]
            best = 0
            if equal:
                run = 0
                for t in range(t0 + 1, t0 + win):
                    if xr[t] == xr[t - 1]:
                        run += 1
                        best = max(best, run)
                    else:
                        run = 0
            same_run[c, w] = best


@jit
def removed_rms(hp, win, cos_tab, sin_tab, weight, rms, total_ms):
    """RMS per window of ``hp`` without the bins of the tables (Parseval, see window_features)."""
    n_ch = hp.shape[0]
    nw = rms.shape[1]
    n_even = cos_tab.shape[0]
    n_pairs = sin_tab.shape[0]
    n_bins = cos_tab.shape[1]
    # removed bins, for blocks of windows side by side (the inner loops run along windows)
    blk = 64
    e = np.empty((n_even, blk))
    o = np.empty((max(n_pairs, 1), blk))
    re = np.empty((n_bins, blk))
    im = np.empty((n_bins, blk))
    total = np.empty(blk)
    for c in range(n_ch):
        h = hp[c]
        for w0 in range(0, nw, blk):
            m = min(blk, nw - w0)
            for j in range(m):
                t0 = (w0 + j) * win
                e[0, j] = h[t0]
                for i in range(1, n_pairs + 1):
                    u = h[t0 + i]
                    v = h[t0 + win - i]
                    e[i, j] = u + v
                    o[i - 1, j] = u - v
                if n_even > n_pairs + 1:
                    e[n_even - 1, j] = h[t0 + win // 2]
            for j in range(m):
                total[j] = e[0, j] * e[0, j]
            if n_even > n_pairs + 1:
                for j in range(m):
                    total[j] += e[n_even - 1, j] * e[n_even - 1, j]
            for i in range(1, n_pairs + 1):
                for j in range(m):
                    total[j] += 0.5 * (e[i, j] * e[i, j] + o[i - 1, j] * o[i - 1, j])
            for k in range(n_bins):
                for j in range(m):
                    re[k, j] = 0.0
                    im[k, j] = 0.0
                for i in range(n_even):
                    f = cos_tab[i, k]
                    for j in range(m):
                        re[k, j] += f * e[i, j]
                for i in range(n_pairs):
                    f = sin_tab[i, k]
                    for j in range(m):
                        im[k, j] += f * o[i, j]
            for j in range(m):
                removed = 0.0
                for k in range(n_bins):
                    removed += weight[k] * (re[k, j] * re[k, j] + im[k, j] * im[k, j])
                rms[c, w0 + j] = np.sqrt(max(total[j] - removed / win, 0.0) / win)
                total_ms[c, w0 + j] = total[j] / win


@jit
def _block_sum(a, lo, n):
    """NumPy's pairwise sum of ``a[lo : lo + n]`` for ``n <= 128`` (eight running sums), in float64."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += np.float64(a[i])
        return res
    r0 = np.float64(a[lo])
    r1 = np.float64(a[lo + 1])
    r2 = np.float64(a[lo + 2])
    r3 = np.float64(a[lo + 3])
    r4 = np.float64(a[lo + 4])
    r5 = np.float64(a[lo + 5])
    r6 = np.float64(a[lo + 6])
    r7 = np.float64(a[lo + 7])
    i = 8
    stop = n - n % 8
    while i < stop:
        r0 += np.float64(a[lo + i])
        r1 += np.float64(a[lo + i + 1])
        r2 += np.float64(a[lo + i + 2])
        r3 += np.float64(a[lo + i + 3])
        r4 += np.float64(a[lo + i + 4])
        r5 += np.float64(a[lo + i + 5])
        r6 += np.float64(a[lo + i + 6])
        r7 += np.float64(a[lo + i + 7])
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += np.float64(a[lo + i])
        i += 1
    return res


@jit
def _pairwise_sum(a, lo, n):
    """Sum of ``a[lo : lo + n]`` in float64 in NumPy's pairwise order (bit-identical to
    ``a[lo : lo + n].sum(dtype=np.float64)``): halves (cut at a multiple of 8) summed
    separately down to blocks of <= 128, walked with an explicit stack (no recursion)."""
    if n <= 128:
        return _block_sum(a, lo, n)
    seg_lo = np.empty(64, np.int64)
    seg_n = np.empty(64, np.int64)
    phase = np.zeros(64, np.int64)
    vals = np.empty(64)
    sp = 1
    nv = 0
    seg_lo[0] = lo
    seg_n[0] = n
    while sp:
        top = sp - 1
        m = seg_n[top]
        if m <= 128:
            vals[nv] = _block_sum(a, seg_lo[top], m)
            nv += 1
            sp -= 1
            continue
        half = m // 2
        half -= half % 8
        if phase[top] == 0:  # left half first
            phase[top] = 1
            seg_lo[sp], seg_n[sp], phase[sp] = seg_lo[top], half, 0
            sp += 1
        elif phase[top] == 1:  # then the right half
            phase[top] = 2
            seg_lo[sp], seg_n[sp], phase[sp] = seg_lo[top] + half, m - half, 0
            sp += 1
        else:  # both done: left + right
            vals[nv - 2] = vals[nv - 2] + vals[nv - 1]
            nv -= 1
            sp -= 1
    return vals[0]


@jit
def _percentile_of(a, b, m, q):
    """NumPy's default ('linear') percentile from the order statistics ``a`` (index
    ``floor((m - 1) q)``) and ``b`` (the next one) of ``m`` values, ``q`` in [0, 1]."""
    v = (m - 1) * q
    gamma = v - np.floor(v)
    d = b - a
    if gamma >= 0.5:
        return b - d * (1 - gamma)
    return a + d * gamma


@jit
def _sorted_percentile(buf, m, q):
    """NumPy's default ('linear') percentile of the sorted ``buf[:m]``, ``q`` in [0, 1]."""
    lo = int(np.floor((m - 1) * q))
    return _percentile_of(buf[lo], buf[min(lo + 1, m - 1)], m, q)


@jit
def trailing_percentile(values, order, ends, width, q, out):
    """Percentile of the trailing window ``values[:, max(0, e - width) : e]`` for each end ``e``.

    The values are sorted once (``order``); a cursor in that order marks the current order
    statistic and the count of window members before it. Moving the window updates the
    count for the values that leave and enter, and the cursor then moves by about as many
    places as the rank changed: consecutive windows that share most values cost little.

    Parameters
    ----------
    values : float64 (n_ch, m)
    order : int64 (n_ch, m)
        ``np.argsort(values, axis=1)`` (NaN last).
    ends : int64 (k,)
        Window ends, ``1 <= e <= m`` (any order; increasing ones are fastest).
    width : int
        Longest window (shorter at the start, where ``e < width``).
    q : float
        Quantile in [0, 1] (percentile / 100).
    out : float64 (n_ch, k)
        The percentiles, bit-identical to ``np.percentile(window, 100 * q)`` (same order
        statistics, same interpolation); NaN where the window holds a NaN.
    """
    n_ch, m = values.shape
    rank = np.empty(m, np.int64)  # place of each value in the sorted order
    nan_before = np.zeros(m + 1, np.int64)
    for c in range(n_ch):
        row = values[c]
        srt = order[c]
        for i in range(m):
            rank[srt[i]] = i
            nan_before[i + 1] = nan_before[i] + np.isnan(row[i])
        lo_p = 0
        hi_p = 0  # current window row[lo_p:hi_p]
        p = 0  # cursor in the sorted order
        below = 0  # window members at sorted places < p
        for j in range(ends.shape[0]):
            hi = ends[j]
            lo = max(0, hi - width)
            if lo < lo_p or hi < hi_p or lo >= hi_p:  # no shared values, or going back: recount
                p = 0
                below = 0
            else:
                for i in range(lo_p, lo):  # leaving
                    if rank[i] < p:
                        below -= 1
                for i in range(hi_p, hi):  # entering
                    if rank[i] < p:
                        below += 1
            lo_p, hi_p = lo, hi
            n = hi - lo
            if nan_before[hi] - nan_before[lo] or n == 0:
                out[c, j] = np.nan
                continue
            k = int(np.floor((n - 1) * q))
            while below > k:  # back up to the k-th member
                p -= 1
                if lo <= srt[p] < hi:
                    below -= 1
            while True:  # forward to it
                if lo <= srt[p] < hi:
                    if below == k:
                        break
                    below += 1
                p += 1
            a = row[srt[p]]
            b = a
            if k + 1 < n:  # the next member
                r = p + 1
                while not (lo <= srt[r] < hi):
                    r += 1
                b = row[srt[r]]
            out[c, j] = _percentile_of(a, b, n, q)


@jit
def _nan_min(a, b):
    """``np.minimum`` of two floats (NaN wins)."""
    if np.isnan(a) or np.isnan(b):
        return np.nan
    return min(a, b)


@jit
def noise_levels(rms, ok, p20, cnt, block, sigma, sigma_b):
    """Rest noise per block of windows (the segmenter's rule; see ``Segmenter``).

    For block ``j`` (windows ``j * block`` on): the trailing 20th percentile ``p20[:, j]``
    when ``cnt[j] >= block`` usable windows precede it, else (start of the recording) the
    20th percentile of the block's own usable windows, else unknown (NaN, the noise level is
    kept). It may grow at most x1.5 over the previous level, never exceeds the median RMS of
    the block's usable windows and is at least 1e-3.

    Parameters
    ----------
    rms : float64 (n_ch, nw)
    ok : bool (nw,)
        Usable windows (no gap, no saturation, RMS > 0 on every channel).
    p20 : float64 (n_ch, n_blocks)
        Trailing percentiles (read where ``cnt >= block``).
    cnt : int64 (n_blocks,)
    block : int
    sigma : float64 (n_ch,)
        The last noise level (NaN before the first), updated in place.
    sigma_b : float64 (n_ch, n_blocks)
        Out: the noise level of each block (NaN while unknown).
    """
    n_ch, nw = rms.shape
    vals = np.empty(block)
    for j in range(sigma_b.shape[1]):
        b0 = j * block
        b1 = min(nw, b0 + block)
        first = False  # a usable window with a finite RMS on channel 0
        for w in range(b0, b1):
            if ok[w] and np.isfinite(rms[0, w]):
                first = True
        if cnt[j] < block and not first:
            for c in range(n_ch):
                sigma_b[c, j] = np.nan
            continue
        for c in range(n_ch):
            if cnt[j] >= block:
                sig = p20[c, j]
            else:  # start of the recording: the block itself
                m = 0
                nan = False
                for w in range(b0, b1):
                    if ok[w] and np.isfinite(rms[0, w]):
                        if np.isnan(rms[c, w]):
                            nan = True
                        vals[m] = rms[c, w]
                        m += 1
                if nan:
                    sig = np.nan
                else:
                    vals[:m].sort()
                    sig = _sorted_percentile(vals, m, 0.2)
            prev = sigma[c]
            if np.isfinite(prev):
                sig = _nan_min(sig, 1.5 * prev)
            # the noise may drop at once: never above the block's median (NaN-free usable windows)
            m = 0
            finite = False
            for w in range(b0, b1):
                if ok[w] and not np.isnan(rms[c, w]):
                    vals[m] = rms[c, w]
                    m += 1
                    finite = finite or np.isfinite(rms[c, w])
            if finite:
                vals[:m].sort()
                med = (vals[(m - 1) // 2] + vals[m // 2]) / 2
                sig = _nan_min(sig, med)
            if not np.isnan(sig):
                sig = max(sig, 1e-3)
            sigma[c] = sig
            sigma_b[c, j] = sig
