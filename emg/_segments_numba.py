"""Numba kernels of the segmenter (private). Each has a NumPy reference in ``_segments_ref.py``.

Written as plain loops so the same code runs compiled (the default) or as Python
(``EMG_NO_NUMBA=1``). State lives in arrays the caller owns (history of window values),
which keeps the segmenter chunk-invariant. The segmenter filters nothing itself: its
noise and activity features come from the detector's filtered signal
(:meth:`emg.detect.Detector.filter`), the rest from the raw samples.
"""

from __future__ import annotations

import numpy as np

from ._numba import jit

__all__ = [
    "dilate_rows",
    "mark_near_runs",
    "noise_levels",
    "raw_window_stats",
    "running_median",
    "trailing_percentile",
    "window_fractions",
    "window_rms",
]

_FLAT_BLOCK = 16  # windows per stretch tested at once for equal neighbours


@jit
def raw_window_stats(x, mean, same_run):
    """Per window of the raw signal: the mean and the longest run of identical samples.

    Parameters
    ----------
    x : float32 or float64 (n_ch, nw * win)
        Raw signal (µV); ``win`` is ``x.shape[1] // mean.shape[1]``.
    mean : float64 (n_ch, nw)
        Out: window mean as ``x.mean(axis=-1, dtype=float64)`` gives it (NumPy's pairwise sum,
        bit for bit).
    same_run : int64 (n_ch, nw)
        Out: longest run of successive equal samples ``x[i + 1] == x[i]`` in the window
        (counted in differences, 0 when no two neighbours are equal).
    """
    n_ch, n = x.shape
    nw = mean.shape[1]
    if nw == 0:
        return
    win = n // nw
    for c in range(n_ch):
        xr = x[c]
        for w0 in range(0, nw, _FLAT_BLOCK):
            w1 = min(nw, w0 + _FLAT_BLOCK)
            for w in range(w0, w1):
                mean[c, w] = _pairwise_sum(xr, w * win, win) / win
            # most stretches hold no two equal neighbours: one test for the whole stretch
            # (its pairs across window borders included) settles all its windows
            stretch = _any_equal(xr[w0 * win : w1 * win - 1], xr[w0 * win + 1 : w1 * win])
            for w in range(w0, w1):
                same_run[c, w] = _flat_run(xr, w * win, win) if stretch else 0


@jit
def _any_equal(a, b):
    """Whether ``a[t] == b[t]`` anywhere (a loop Numba vectorises: 8 floats per step)."""
    found = False
    for t in range(a.shape[0]):
        found |= a[t] == b[t]
    return found


@jit
def _flat_run(xr, t0, win):
    """Longest run of successive equal samples in ``xr[t0 : t0 + win]`` (in differences)."""
    a = xr[t0 : t0 + win - 1]
    b = xr[t0 + 1 : t0 + win]
    best = 0
    if _any_equal(a, b):  # cheap test first: most windows have no equal neighbours
        run = 0
        for t in range(win - 1):
            if a[t] == b[t]:
                run += 1
                best = max(best, run)
            else:
                run = 0
    return best


@jit
def window_rms(y, rms):
    """RMS of each window of the detector's filtered signal.

    Parameters
    ----------
    y : float32 (n_ch, nw * win)
        Filtered µV (band-passed, mains cancelled; 0 in gaps).
    rms : float64 (n_ch, nw)
        Out: ``sqrt(sum(y**2) / win)`` per window, summed in float64 in sample order.
    """
    n_ch, n = y.shape
    nw = rms.shape[1]
    if nw == 0:
        return
    win = n // nw
    for c in range(n_ch):
        yr = y[c]
        # four windows at a time: each window's sum stays one chain of adds in sample order
        # (so the same bits), but four independent chains keep the adder busy (one chain
        # waits ~3 cycles per sample for the previous add); views indexed from 0 need no
        # negative-index checks
        w = 0
        while w + 4 <= nw:
            s0 = yr[w * win : (w + 1) * win]
            s1 = yr[(w + 1) * win : (w + 2) * win]
            s2 = yr[(w + 2) * win : (w + 3) * win]
            s3 = yr[(w + 3) * win : (w + 4) * win]
            acc0 = 0.0
            acc1 = 0.0
            acc2 = 0.0
            acc3 = 0.0
            for i in range(win):
                v0 = np.float64(s0[i])
                v1 = np.float64(s1[i])
                v2 = np.float64(s2[i])
                v3 = np.float64(s3[i])
                acc0 += v0 * v0
                acc1 += v1 * v1
                acc2 += v2 * v2
                acc3 += v3 * v3
            rms[c, w] = np.sqrt(acc0 / win)
            rms[c, w + 1] = np.sqrt(acc1 / win)
            rms[c, w + 2] = np.sqrt(acc2 / win)
            rms[c, w + 3] = np.sqrt(acc3 / win)
            w += 4
        for w in range(w, nw):  # the last 0-3 windows
            s0 = yr[w * win : (w + 1) * win]
            acc0 = 0.0
            for i in range(win):
                v0 = np.float64(s0[i])
                acc0 += v0 * v0
            rms[c, w] = np.sqrt(acc0 / win)


@jit
def window_fractions(y, rms, thr_a, thr_b, f_min, frac_a, frac_b):
    """Share of each window's filtered samples whose magnitude exceeds two thresholds.

    A window is counted only where its RMS allows ``f_min`` of its samples above ``thr_a``:
    ``k`` samples above ``T`` hold more than ``k T**2`` of the energy, so that share needs
    ``rms**2 > f_min T**2`` (checked with a margin of 1e-9 for rounding). Elsewhere both
    shares are stored as 0: the share above ``thr_a`` is below ``f_min``, and the caller reads
    the share above ``thr_b`` only in windows whose RMS is far above that bound. NaN
    thresholds (unknown noise) count nothing.

    Parameters
    ----------
    y : float32 (n_ch, nw * win)
    rms : float64 (n_ch, nw)
        From :func:`window_rms`.
    thr_a, thr_b : float64 (n_ch, nw)
        Thresholds in µV (NaN: unknown).
    f_min : float
        The smallest share any rule looks at.
    frac_a, frac_b : float64 (n_ch, nw)
        Out: ``mean(|y| > thr)`` per window (0 where skipped).
    """
    n_ch, n = y.shape
    nw = rms.shape[1]
    if nw == 0:
        return
    win = n // nw
    for c in range(n_ch):
        yr = y[c]
        for w in range(nw):
            ta = thr_a[c, w]
            tb = thr_b[c, w]
            r = rms[c, w]
            frac_a[c, w] = 0.0
            frac_b[c, w] = 0.0
            if not (r * r >= f_min * (1.0 - 1e-9) * ta * ta):  # NaN: False
                continue
            t0 = w * win
            ka = 0
            kb = 0
            for i in range(win):
                v = abs(np.float64(yr[t0 + i]))
                if v > ta:
                    ka += 1
                if v > tb:
                    kb += 1
            frac_a[c, w] = ka / win
            frac_b[c, w] = kb / win


@jit
def _block_sum(a, lo, n):
    """NumPy's pairwise sum of ``a[lo : lo + n]`` for ``n <= 128`` (eight running sums), in float64.

    Indexes a view from 0 (loop counters from ``range``): Numba then needs no check for
    negative indices, which would cost several instructions per sample.
    """
    s = a[lo : lo + n]
    if n < 8:
        res = 0.0
        for i in range(n):
            res += np.float64(s[i])
        return res
    r0 = np.float64(s[0])
    r1 = np.float64(s[1])
    r2 = np.float64(s[2])
    r3 = np.float64(s[3])
    r4 = np.float64(s[4])
    r5 = np.float64(s[5])
    r6 = np.float64(s[6])
    r7 = np.float64(s[7])
    for j in range(1, n // 8):
        i = 8 * j
        r0 += np.float64(s[i])
        r1 += np.float64(s[i + 1])
        r2 += np.float64(s[i + 2])
        r3 += np.float64(s[i + 3])
        r4 += np.float64(s[i + 4])
        r5 += np.float64(s[i + 5])
        r6 += np.float64(s[i + 6])
        r7 += np.float64(s[i + 7])
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for i in range(n - n % 8, n):
        res += np.float64(s[i])
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
def _insertion_sort(buf, m):
    """Sort ``buf[:m]`` in place (a handful of values: faster than a general sort)."""
    for u in range(1, m):
        v = buf[u]
        i = u
        while i > 0 and buf[i - 1] > v:
            buf[i] = buf[i - 1]
            i -= 1
        buf[i] = v


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
                    _insertion_sort(vals, m)
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
                _insertion_sort(vals, m)
                med = (vals[(m - 1) // 2] + vals[m // 2]) / 2
                sig = _nan_min(sig, med)
            if not np.isnan(sig):
                sig = max(sig, 1e-3)
            sigma[c] = sig
            sigma_b[c, j] = sig


@jit
def running_median(values, half, out):
    """Median of ``values[:, t - half : t + half + 1]`` for every ``t``, the edge values
    repeated beyond the ends (``scipy.ndimage.median_filter(values, size=(1, 2 * half + 1),
    mode="nearest")``; the median of an odd count is one of the values, so equal bit for bit).

    Parameters
    ----------
    values : float64 (n_ch, n)
        Without NaN.
    half : int
    out : float64 (n_ch, n)
    """
    n_ch, n = values.shape
    size = 2 * half + 1
    buf = np.empty(size)
    for c in range(n_ch):
        row = values[c]
        if n == 0:
            continue
        for u in range(size):  # the first window, sorted
            buf[u] = row[min(max(u - half, 0), n - 1)]
        _insertion_sort(buf, size)
        out[c, 0] = buf[half]
        for t in range(1, n):  # slide: one value leaves, one enters
            leave = row[min(max(t - 1 - half, 0), n - 1)]
            enter = row[min(t + half, n - 1)]
            if leave != enter:
                i = 0
                while buf[i] != leave:
                    i += 1
                while i + 1 < size and buf[i + 1] < enter:  # shift up over smaller values
                    buf[i] = buf[i + 1]
                    i += 1
                while i > 0 and buf[i - 1] > enter:  # or down over larger ones
                    buf[i] = buf[i - 1]
                    i -= 1
                buf[i] = enter
            out[c, t] = buf[half]


@jit
def dilate_rows(x, before, after, out):
    """Boolean dilation along rows: ``out[c, t]`` is True when any of
    ``x[c, t - after : t + before + 1]`` (clipped to the row) is (True spreads ``before``
    back and ``after`` forward).

    Parameters
    ----------
    x, out : bool (n_ch, n)
    before, after : int (>= 0)
    """
    n_ch, n = x.shape
    for c in range(n_ch):
        row = x[c]
        count = 0  # True values in the current span
        for t in range(min(before, n)):
            count += row[t]
        for t in range(n):
            if t + before < n:
                count += row[t + before]
            if t - after - 1 >= 0:
                count -= row[t - after - 1]
            out[c, t] = count > 0


@jit
def mark_near_runs(runs, marks, reach, out):
    """Set ``out`` True where ``runs`` is True within ``reach`` places of a True of ``marks``
    with only ``runs`` (or ``marks``) in between: a run is taken into a neighbouring mark's
    label up to ``reach`` away, never further (a bounded look, so streaming decides the same).

    Parameters
    ----------
    runs, marks, out : bool (n_ch, n)
        ``out`` is updated in place (other places are left as they are).
    reach : int
    """
    n_ch, n = runs.shape
    far = reach + 1
    for c in range(n_ch):
        for step in (1, -1):  # after the marks, then before them
            d = far  # places since the last mark, through runs only
            t = 0 if step == 1 else n - 1
            for _ in range(n):
                if marks[c, t]:
                    d = 0
                elif runs[c, t] and d < far:
                    d += 1
                    if d <= reach:
                        out[c, t] = True
                else:
                    d = far
                t += step


