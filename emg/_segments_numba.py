"""Numba kernels of the segmenter (private). Each has a NumPy reference in ``_segments_ref.py``.

Written as plain loops so the same code runs compiled (the default) or as Python
(``EMG_NO_NUMBA=1``). State lives in arrays the caller owns (filter state, history of
window values), which keeps the segmenter chunk-invariant.
"""

from __future__ import annotations

import numpy as np

from ._numba import jit

__all__ = [
    "dilate_rows",
    "folded_dft_tables",
    "mark_touching_runs",
    "noise_levels",
    "removed_waves",
    "running_median",
    "trailing_percentile",
    "window_features",
    "window_fractions",
]


def folded_dft_tables(win: int, bins) -> tuple[np.ndarray, ...]:
    """Tables to compute a few DFT ``bins`` of a ``win``-sample window from folded sums.

    For a real window ``h`` the samples ``n``, ``win - n`` (and, for an even window,
    ``win/2 - n`` and ``win/2 + n``) meet the same cosine and sine up to a sign that
    depends only on the parity of the bin. Summed with those signs first (the "fold", see
    :func:`window_features`), about ``win / 4`` products per bin and part remain instead of
    ``win``.

    Returns
    -------
    cos_tab, sin_tab : float64 (n_reps, n_bins)
        ``cos`` and ``sin`` of ``2 pi k n / win`` for the representative samples
        ``n = 0 .. win // 4`` (even window) or ``0 .. win // 2`` (odd window).
    bin_rows : int64 (n_bins, 2)
        First folded row of the cosine and of the sine part of each bin (the folded rows
        come in sets of ``n_reps``: cosine even bins, cosine odd bins, sine even bins, sine
        odd bins; an odd window has one set per part).
    weight : float64 (n_bins,)
        ``|X_k|^2`` counts once for the DC and Nyquist bins and twice for the others (the
        mirrored bin of a real signal), so the energy of ``bins`` in the window is
        ``sum(weight * |X_k|^2) / win`` (Parseval).
    """
    bins = np.asarray(bins, np.int64)
    even = win % 2 == 0
    reps = np.arange(win // 4 + 1) if even else np.arange(win // 2 + 1)
    n_par = 2 if even else 1
    n_reps = len(reps)
    bin_rows = np.stack([(bins % n_par) * n_reps, (n_par + bins % n_par) * n_reps], axis=1)
    angle = 2 * np.pi * np.outer(reps, bins) / win
    cos_tab = np.cos(angle)
    sin_tab = np.sin(angle)
    real_bin = (bins == 0) | (2 * bins == win)
    sin_tab[:, real_bin] = 0.0
    weight = np.where(real_bin, 1.0, 2.0)
    return np.ascontiguousarray(cos_tab), np.ascontiguousarray(sin_tab), bin_rows.astype(np.int64), weight


@jit
def window_features(x, sos, zi, cos_tab, sin_tab, bin_rows, weight, mean, rms, total_ms, same_run, states):
    """High-pass a chunk and describe its windows: mean, mains-free RMS, flat runs.

    The high-pass runs four channels side by side (independent chains keep the FPU busy)
    and writes blocks of windows transposed (sample in window × window), so that the fold
    and the projection on the removed bins run along windows. The filtered signal itself
    is not kept: ``states`` holds the filter state at each window start, from which
    :func:`window_fractions` recomputes any window bit for bit.

    Parameters
    ----------
    x : float32 or float64 (n_ch, nw * win)
        Raw signal (µV); ``win`` is ``x.shape[1] // mean.shape[1]``.
    sos : float64 (2, 6)
        The high-pass as two second-order sections (a0 = 1).
    zi : float64 (2, n_ch, 2)
        Filter state (scipy's layout for ``axis=1``), updated in place. The filter is
        ``scipy.signal.sosfilt(sos, x, axis=1, zi=zi)`` bit for bit (same operations in
        the same order).
    cos_tab, sin_tab, bin_rows, weight :
        From :func:`folded_dft_tables` for the removed bins.
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
    states : float64 (n_ch, nw, 4)
        Out: filter state before each window (section 1, then section 2).
    """
    n_ch, n = x.shape
    nw = mean.shape[1]
    if nw == 0:
        return
    win = n // nw
    b00, b01, b02, a01, a02 = sos[0, 0], sos[0, 1], sos[0, 2], sos[0, 4], sos[0, 5]
    b10, b11, b12, a11, a12 = sos[1, 0], sos[1, 1], sos[1, 2], sos[1, 4], sos[1, 5]
    blk = 128
    tb = np.empty((4, win, blk))  # filtered, transposed: lane, sample in window, window
    n_reps = cos_tab.shape[0]
    folded = np.empty((4 * n_reps, blk))
    scratch = np.empty((5, blk))
    for g in range(0, n_ch, 4):
        # a short last group repeats its last channel, which computes the same values again
        ca, cb, cc, cd = g, min(g + 1, n_ch - 1), min(g + 2, n_ch - 1), min(g + 3, n_ch - 1)
        lanes = min(4, n_ch - g)
        pa0, pa1, qa0, qa1 = zi[0, ca, 0], zi[0, ca, 1], zi[1, ca, 0], zi[1, ca, 1]
        pb0, pb1, qb0, qb1 = zi[0, cb, 0], zi[0, cb, 1], zi[1, cb, 0], zi[1, cb, 1]
        pc0, pc1, qc0, qc1 = zi[0, cc, 0], zi[0, cc, 1], zi[1, cc, 0], zi[1, cc, 1]
        pd0, pd1, qd0, qd1 = zi[0, cd, 0], zi[0, cd, 1], zi[1, cd, 0], zi[1, cd, 1]
        xa_row, xb_row, xc_row, xd_row = x[ca], x[cb], x[cc], x[cd]
        ta, tb_, tc, td = tb[0], tb[1], tb[2], tb[3]
        for w0 in range(0, nw, blk):
            m = min(blk, nw - w0)
            for j in range(m):
                w = w0 + j
                t0 = w * win
                states[ca, w, 0], states[ca, w, 1], states[ca, w, 2], states[ca, w, 3] = pa0, pa1, qa0, qa1
                states[cb, w, 0], states[cb, w, 1], states[cb, w, 2], states[cb, w, 3] = pb0, pb1, qb0, qb1
                states[cc, w, 0], states[cc, w, 1], states[cc, w, 2], states[cc, w, 3] = pc0, pc1, qc0, qc1
                states[cd, w, 0], states[cd, w, 1], states[cd, w, 2], states[cd, w, 3] = pd0, pd1, qd0, qd1
                for i in range(win):
                    xa = np.float64(xa_row[t0 + i])
                    xb = np.float64(xb_row[t0 + i])
                    xc = np.float64(xc_row[t0 + i])
                    xd = np.float64(xd_row[t0 + i])
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
                    ta[i, j] = ya
                    tb_[i, j] = yb
                    tc[i, j] = yc
                    td[i, j] = yd
            for k in range(lanes):
                c = g + k
                _removed_block(tb[k], m, cos_tab, sin_tab, bin_rows, weight, folded, scratch,
                               rms[c, w0 : w0 + m], total_ms[c, w0 : w0 + m])
        zi[0, ca, 0], zi[0, ca, 1], zi[1, ca, 0], zi[1, ca, 1] = pa0, pa1, qa0, qa1
        zi[0, cb, 0], zi[0, cb, 1], zi[1, cb, 0], zi[1, cb, 1] = pb0, pb1, qb0, qb1
        zi[0, cc, 0], zi[0, cc, 1], zi[1, cc, 0], zi[1, cc, 1] = pc0, pc1, qc0, qc1
        zi[0, cd, 0], zi[0, cd, 1], zi[1, cd, 0], zi[1, cd, 1] = pd0, pd1, qd0, qd1
    for c in range(n_ch):
        xr = x[c]
        for w in range(nw):
            mean[c, w] = _pairwise_sum(xr, w * win, win) / win
            same_run[c, w] = _flat_run(xr, w * win, win)


@jit
def _flat_run(xr, t0, win):
    """Longest run of successive equal samples in ``xr[t0 : t0 + win]`` (in differences)."""
    a = xr[t0 : t0 + win - 1]
    b = xr[t0 + 1 : t0 + win]
    equal = 0
    for t in range(win - 1):  # cheap count first: most windows have no equal neighbours
        equal += np.int64(a[t] == b[t])
    best = 0
    if equal:
        run = 0
        for t in range(win - 1):
            if a[t] == b[t]:
                run += 1
                best = max(best, run)
            else:
                run = 0
    return best


@jit
def _fold(t, m, n_reps, folded, total, zero):
    """Fold the ``m`` windows in the columns of ``t`` (win, blk) into ``folded`` and add
    their energy ``sum(h^2)`` to ``total``; ``zero`` is a row of zeros.

    In one pass over the samples: ``e[n] = h[n] + h[win - n]`` and ``o[n] = h[n] - h[win - n]``,
    and for an even window (``H = win / 2``) the rows ``e[n] ± e[H - n]`` and
    ``o[n] ± o[H - n]`` (samples met twice counted once).
    """
    win = t.shape[0]
    half = win // 2
    if win % 2 == 0:
        for n in range(n_reps):
            # the orbit n, win - n, half - n, half + n (n = 0: 0 and half, whose sine rows are
            # multiplied by sin(0) = 0; n = half / 2: n and win - n only)
            a = t[n]
            b = t[win - n] if n else zero
            c = t[half - n] if half - n != n else zero
            d = t[half + n] if n and half - n != n else zero
            cp, cm, sm, sp = folded[n], folded[n_reps + n], folded[2 * n_reps + n], folded[3 * n_reps + n]
            for j in range(m):
                aj = a[j]
                bj = b[j]
                cj = c[j]
                dj = d[j]
                en = aj + bj
                on = aj - bj
                eh = cj + dj
                oh = cj - dj
                cp[j] = en + eh
                cm[j] = en - eh
                sm[j] = on - oh
                sp[j] = on + oh
                total[j] += (aj * aj + bj * bj) + (cj * cj + dj * dj)
    else:
        for n in range(n_reps):
            a = t[n]
            b = t[win - n] if n else zero
            c0, s0 = folded[n], folded[n_reps + n]
            for j in range(m):
                aj = a[j]
                bj = b[j]
                c0[j] = aj + bj
                s0[j] = aj - bj
                total[j] += aj * aj + bj * bj


@jit
def _bin_coefficients(folded, m, cos_tab, sin_tab, bin_rows, k, re, im):
    """``re = sum(h cos(2 pi k n / win))`` and ``im = sum(h sin(...))`` of removed bin ``k``
    for the ``m`` folded windows."""
    rc = bin_rows[k, 0]
    rs = bin_rows[k, 1]
    for j in range(m):
        re[j] = 0.0
        im[j] = 0.0
    for i in range(cos_tab.shape[0]):
        fc = cos_tab[i, k]
        fs = sin_tab[i, k]
        ci = folded[rc + i]
        si = folded[rs + i]
        for j in range(m):
            re[j] += fc * ci[j]
            im[j] += fs * si[j]


@jit
def _removed_block(t, m, cos_tab, sin_tab, bin_rows, weight, folded, scratch, rms, total_ms):
    """RMS without the removed bins for the ``m`` windows in the columns of ``t`` (win, blk)."""
    win = t.shape[0]
    total = scratch[0]
    removed = scratch[1]
    re = scratch[2]
    im = scratch[3]
    zero = scratch[4]
    for j in range(m):
        removed[j] = 0.0
        zero[j] = 0.0
        total[j] = 0.0
    _fold(t, m, cos_tab.shape[0], folded, total, zero)
    for k in range(cos_tab.shape[1]):
        _bin_coefficients(folded, m, cos_tab, sin_tab, bin_rows, k, re, im)
        wk = weight[k]
        for j in range(m):
            removed[j] += wk * (re[j] * re[j] + im[j] * im[j])
    for j in range(m):
        rms[j] = np.sqrt(max(total[j] - removed[j] / win, 0.0) / win)
        total_ms[j] = total[j] / win


@jit
def window_fractions(x, sos, states, chans, wins, cos_tab, sin_tab, bin_rows, waves, thr_a, thr_b,
                     frac_a, frac_b):
    """Share of samples of the mains-free windows ``(chans[k], wins[k])`` above two thresholds.

    Each window is high-passed again from its saved start state (as in
    :func:`window_features`), the removed bins are taken out in the time domain
    (``y = h - sum over removed bins of their wave``) and ``|y|`` is compared with
    ``thr_a[k]`` and ``thr_b[k]``.

    Parameters
    ----------
    x, sos, states : as for :func:`window_features`.
    chans, wins : int64 (k,)
    cos_tab, sin_tab, bin_rows : from :func:`folded_dft_tables`.
    waves : float64 (2, n_bins, win)
        From :func:`removed_waves`.
    thr_a, thr_b : float64 (k,)
        Thresholds (NaN: no sample counts).
    frac_a, frac_b : float64 (k,)
        Out: ``mean(|y| > thr)``.
    """
    win = waves.shape[2]
    n_bins = cos_tab.shape[1]
    n_reps = cos_tab.shape[0]
    b00, b01, b02, a01, a02 = sos[0, 0], sos[0, 1], sos[0, 2], sos[0, 4], sos[0, 5]
    b10, b11, b12, a11, a12 = sos[1, 0], sos[1, 1], sos[1, 2], sos[1, 4], sos[1, 5]
    blk = 64
    tb = np.empty((win, blk))
    folded = np.empty((4 * n_reps, blk))
    re = np.empty((n_bins, blk))
    im = np.empty((n_bins, blk))
    scratch = np.zeros((4, blk))
    total, zero, y, cnt = scratch[0], scratch[1], scratch[2], scratch[3]
    count_b = np.empty(blk)
    for b0 in range(0, chans.shape[0], blk):
        m = min(blk, chans.shape[0] - b0)
        for j in range(m):
            c = chans[b0 + j]
            w = wins[b0 + j]
            p0, p1, q0, q1 = states[c, w, 0], states[c, w, 1], states[c, w, 2], states[c, w, 3]
            for i in range(win):
                xi = np.float64(x[c, w * win + i])
                ni = b00 * xi + p0
                p0 = b01 * xi - a01 * ni + p1
                p1 = b02 * xi - a02 * ni
                yi = b10 * ni + q0
                q0 = b11 * ni - a11 * yi + q1
                q1 = b12 * ni - a12 * yi
                tb[i, j] = yi
        _fold(tb, m, n_reps, folded, total, zero)
        for k in range(n_bins):
            _bin_coefficients(folded, m, cos_tab, sin_tab, bin_rows, k, re[k], im[k])
        for j in range(m):
            cnt[j] = 0.0
            count_b[j] = 0.0
        ta = thr_a[b0 : b0 + m]
        tb_thr = thr_b[b0 : b0 + m]
        for n in range(win):
            for j in range(m):
                y[j] = tb[n, j]
            for k in range(n_bins):
                wc = waves[0, k, n]
                ws = waves[1, k, n]
                rk = re[k]
                ik = im[k]
                for j in range(m):
                    y[j] -= wc * rk[j] + ws * ik[j]
            for j in range(m):
                v = abs(y[j])
                if v > ta[j]:
                    cnt[j] += 1.0
                if v > tb_thr[j]:
                    count_b[j] += 1.0
        for j in range(m):
            frac_a[b0 + j] = cnt[j] / win
            frac_b[b0 + j] = count_b[j] / win


def removed_waves(win: int, bins) -> np.ndarray:
    """float64 (2, n_bins, win): ``weight / win × cos`` and ``× sin`` of ``2 pi k n / win`` per
    removed bin ``k``: the part of a window in those bins is ``sum(re_k cos + im_k sin)``
    with ``re``, ``im`` the cosine and sine sums of the window (Parseval's weights)."""
    bins = np.asarray(bins, np.int64)
    angle = 2 * np.pi * np.outer(bins, np.arange(win)) / win
    real_bin = (bins == 0) | (2 * bins == win)
    scale = np.where(real_bin, 1.0, 2.0)[:, None] / win
    sin = np.sin(angle)
    sin[real_bin] = 0.0
    return np.ascontiguousarray(np.stack([scale * np.cos(angle), scale * sin]))


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
def mark_touching_runs(runs, touch, out):
    """Set ``out`` True over every run of True in ``runs`` that has a True of ``touch`` in it.

    Parameters
    ----------
    runs, touch, out : bool (n_ch, n)
        ``out`` is updated in place (other places are left as they are).
    """
    n_ch, n = runs.shape
    for c in range(n_ch):
        t = 0
        while t < n:
            if not runs[c, t]:
                t += 1
                continue
            end = t
            hit = False
            while end < n and runs[c, end]:
                hit = hit or touch[c, end]
                end += 1
            if hit:
                for u in range(t, end):
                    out[c, u] = True
            t = end
