"""Numba kernel of the classifier (private): on-line shape families over a batch of events.

:meth:`emg.classify.ShapeFamilies.assign` is the plain-NumPy reference; ``tests/test_classify.py``
checks that both give the same families.
"""

from __future__ import annotations

import math

import numpy as np

from ._numba import jit

__all__ = ["assign_families", "carry_residuals", "carry_residuals_ref", "heartbeat_flags", "heartbeat_flags_ref",
           "hidden_first", "hidden_first_ref", "windowed_counts", "windowed_counts_ref"]


@jit
def assign_families(channels, waves, amps, tpl, amp, ids, used, count, state, min_corr, max_ratio, out,
                    prior, has_prior):
    """Assign each event (in order) to a family of its channel, updating the templates.

    Parameters
    ----------
    channels : int (n,)
    waves : float32 (n, n_wave)
        Event waveforms in µV.
    amps : float (n,)
        Peak-to-peak amplitudes in µV.
    tpl : float64 (n_channels, K, n_wave)
        Unit-norm, zero-mean family templates; updated.
    amp, ids, used, count : (n_channels, K)
        Mean amplitude, family id (-1 free), last use tick and member count; updated.
    state : int64 (2,)
        Next family id and the use tick; updated.
    min_corr, max_ratio : float
        Joining rules (normalised correlation, amplitude ratio either way).
    out : int64 (n,)
        Family id of each event.
    prior : float64 (n, n_wave)
        The template of the family an event joined, as it stood once the event joined (its
        past members and itself, none later: the same whatever the chunking);
        ``has_prior`` False for an event that started a family.
    has_prior : bool (n,)
    """
    n, n_wave = waves.shape
    n_fam = tpl.shape[1]
    w = np.empty(n_wave)
    for e in range(n):
        state[1] += 1
        c = channels[e]
        mean = 0.0
        for j in range(n_wave):
            mean += waves[e, j]
        mean /= n_wave
        ss = 0.0
        for j in range(n_wave):
            w[j] = waves[e, j] - mean
            ss += w[j] * w[j]
        norm = math.sqrt(ss)
        if norm > 0:
            for j in range(n_wave):
                w[j] /= norm
        best = -1
        best_corr = -2.0
        for k in range(n_fam):
            if ids[c, k] < 0:
                continue
            a = max(1e-09, amp[c, k])
            ratio = amps[e] / a
            if ratio > max_ratio or ratio < 1.0 / max_ratio:
                continue
            corr = 0.0
            for j in range(n_wave):
                corr += tpl[c, k, j] * w[j]
            if corr >= min_corr and corr > best_corr:
                best = k
                best_corr = corr
        has_prior[e] = best >= 0
        if best >= 0:
            cnt = count[c, best] + 1
            cnt = min(cnt, 30)
            mean = 0.0
            for j in range(n_wave):
                v = (1.0 - 1.0 / cnt) * tpl[c, best, j] + (1.0 / cnt) * w[j]
                tpl[c, best, j] = v
                mean += v
            mean /= n_wave
            ss = 0.0
            for j in range(n_wave):
                tpl[c, best, j] -= mean
                ss += tpl[c, best, j] * tpl[c, best, j]
            norm = math.sqrt(ss)
            if norm > 0:
                for j in range(n_wave):
                    tpl[c, best, j] /= norm
            for j in range(n_wave):
                prior[e, j] = tpl[c, best, j]
            amp[c, best] += (amps[e] - amp[c, best]) / cnt
            count[c, best] += 1
            used[c, best] = state[1]
            out[e] = ids[c, best]
        else:
            fid = state[0]
            state[0] += 1
            k = -1
            for q in range(n_fam):
                if ids[c, q] < 0:
                    k = q
                    break
            if k < 0:
                k = 0
                for q in range(1, n_fam):
                    if used[c, q] < used[c, k]:
                        k = q
            for j in range(n_wave):
                tpl[c, k, j] = w[j]
            amp[c, k] = amps[e]
            ids[c, k] = fid
            used[c, k] = state[1]
            count[c, k] = 1
            out[e] = fid


@jit
def heartbeat_flags(order, fam, t, tol, context_s, merge_s, rr_min, rr_max, min_beats, min_frac, out):
    """Heartbeat flag of every event: in a regular run of 4 beats of its shape family, with
    the family beating around it (see :mod:`emg.classify`).

    Parameters
    ----------
    order : int64 (n,)
        Indices sorting the events by (family, time), e.g. ``np.lexsort((t, fam))``.
    fam : int64 (n,)
        Shape family of each event.
    t : float64 (n,)
        Event times in s.
    tol : float
        Interval tolerance, fraction of one period.
    context_s : float
        Half width of the window in which the family must beat (s).
    merge_s : float
        Members closer than this are one beat (a complex split into pieces), s.
    rr_min, rr_max : float
        Beat periods allowed (s).
    min_beats, min_frac : float
        Members in runs needed within ±``context_s``: at least ``min_beats`` and
        ``min_frac`` of all members there.
    out : bool (n,)
        Heartbeat flags; written.

    The NumPy reference is :func:`heartbeat_flags_ref`.
    """
    n = len(order)
    for e in range(n):
        out[e] = False
    g0 = 0
    while g0 < n:
        f = fam[order[g0]]
        g1 = g0 + 1
        while g1 < n and fam[order[g1]] == f:
            g1 += 1
        m = g1 - g0
        if m >= 4:
            starts = np.empty(m, np.int64)
            beat_of = np.empty(m, np.int64)
            ns = 0
            prev = -np.inf
            for k in range(m):
                tk = t[order[g0 + k]]
                if tk - prev > merge_s:
                    starts[ns] = k
                    ns += 1
                beat_of[k] = ns - 1
                prev = tk
            if ns >= 4:
                ok = np.zeros(ns, np.bool_)
                d = np.empty(3)
                for w in range(ns - 3):
                    for j in range(3):
                        d[j] = t[order[g0 + starts[w + j + 1]]] - t[order[g0 + starts[w + j]]]
                    run = False
                    for j in range(3):
                        p = d[j]
                        if not (rr_min <= p <= rr_max):
                            continue
                        good = True
                        twos = 0
                        for q in range(3):
                            mq = np.rint(d[q] / p)
                            if mq < 1 or mq > 2:
                                good = False
                                break
                            if mq == 2:
                                twos += 1
                            if not abs(d[q] - mq * p) <= tol * p:
                                good = False
                                break
                        if good and twos <= 1:
                            run = True
                            break
                    if run:
                        for j in range(4):
                            ok[w + j] = True
                csum = np.zeros(m + 1, np.int64)
                for k in range(m):
                    csum[k + 1] = csum[k] + (1 if ok[beat_of[k]] else 0)
                lo = 0
                hi = 0
                for k in range(m):
                    tk = t[order[g0 + k]]
                    a = tk - context_s
                    b = tk + context_s
                    while lo < m and t[order[g0 + lo]] < a:
                        lo += 1
                    while hi < m and t[order[g0 + hi]] <= b:
                        hi += 1
                    hits = csum[hi] - csum[lo]
                    out[order[g0 + k]] = ok[beat_of[k]] and hits >= min_beats and hits >= min_frac * (hi - lo)
        g0 = g1


def heartbeat_flags_ref(fam, t, tol, context_s, merge_s=0.1, min_beats=5, min_frac=0.6):
    """Plain-NumPy reference of :func:`heartbeat_flags` (per family: merged beats, runs of
    :func:`emg.classify.regular_run` over 3 intervals, members in runs within ±``context_s``)."""
    from .classify import _regular_runs

    fam, t = np.asarray(fam), np.asarray(t, np.float64)
    beat = np.zeros(len(t), bool)
    order = np.lexsort((t, fam))
    bounds = np.flatnonzero(np.diff(fam[order])) + 1
    for idx in np.split(order, bounds):
        if len(idx) < 4:
            continue
        times = t[idx]
        starts = np.flatnonzero(np.diff(times, prepend=-np.inf) > merge_s)
        if len(starts) < 4:
            continue
        beat_of = np.searchsorted(starts, np.arange(len(idx)), side="right") - 1
        runs = _regular_runs(np.diff(times[starts]), tol)
        ok = np.zeros(len(starts), bool)
        for k in range(4):
            ok[k : k + len(runs)] |= runs
        member = ok[beat_of]
        csum = np.concatenate([[0], np.cumsum(member)])
        lo = np.searchsorted(times, times - context_s)
        hi = np.searchsorted(times, times + context_s, side="right")
        hits = csum[hi] - csum[lo]
        beat[idx] = member & (hits >= min_beats) & (hits >= min_frac * (hi - lo))
    return beat


@jit
def windowed_counts(order, groups, t, flag, span_s, hits, total):
    """Per event: flagged events (``hits``) and all events (``total``) of its group within
    ±``span_s`` (itself included). ``order`` sorts by (group, time); NumPy reference
    :func:`windowed_counts_ref`."""
    n = len(order)
    g0 = 0
    while g0 < n:
        g = groups[order[g0]]
        g1 = g0 + 1
        while g1 < n and groups[order[g1]] == g:
            g1 += 1
        m = g1 - g0
        csum = np.zeros(m + 1, np.int64)
        for k in range(m):
            csum[k + 1] = csum[k] + (1 if flag[order[g0 + k]] else 0)
        lo = 0
        hi = 0
        for k in range(m):
            tk = t[order[g0 + k]]
            a = tk - span_s
            b = tk + span_s
            while lo < m and t[order[g0 + lo]] < a:
                lo += 1
            while hi < m and t[order[g0 + hi]] <= b:
                hi += 1
            hits[order[g0 + k]] = csum[hi] - csum[lo]
            total[order[g0 + k]] = hi - lo
        g0 = g1


def windowed_counts_ref(groups, t, flag, span_s):
    """Plain-NumPy reference of :func:`windowed_counts`: returns ``(hits, total)``."""
    groups, t = np.asarray(groups), np.asarray(t, np.float64)
    hits = np.zeros(len(t), np.int64)
    total = np.zeros(len(t), np.int64)
    order = np.lexsort((t, groups))
    bounds = np.flatnonzero(np.diff(groups[order])) + 1
    for idx in np.split(order, bounds):
        tt = t[idx]
        csum = np.concatenate([[0], np.cumsum(flag[idx])])
        a = np.searchsorted(tt, tt - span_s)
        z = np.searchsorted(tt, tt + span_s, side="right")
        hits[idx] = csum[z] - csum[a]
        total[idx] = z - a
    return hits, total


@jit
def carry_residuals(tpl, waves, m, best_pp, peak):
    """Template subtraction for would-be heartbeats (see :mod:`emg.classify`).

    For each row, the unit-norm family template ``tpl[r]`` is shifted by each lag in
    ``-m..m`` samples, scaled by least squares onto the waveform's centre
    (``m + 1 .. n - m - 2``, both mean-removed) and subtracted. ``best_pp[r]`` gets the
    smallest residual peak-to-peak over the lags (µV), ``peak[r]`` the waveform index of that
    residual's largest absolute value (the first one). NumPy reference: :func:`carry_residuals_ref`.
    """
    r_n, n = waves.shape
    lo, hi = m + 1, n - m - 1
    s = hi - lo
    y = np.empty(s)
    x = np.empty(s)
    for r in range(r_n):
        mean = 0.0
        for k in range(s):
            y[k] = waves[r, lo + k]
            mean += y[k]
        mean /= s
        for k in range(s):
            y[k] -= mean
        best = np.inf
        best_at = lo
        for lag in range(-m, m + 1):
            mx = 0.0
            for k in range(s):
                x[k] = tpl[r, lo + k - lag]
                mx += x[k]
            mx /= s
            xy = 0.0
            xx = 0.0
            for k in range(s):
                x[k] -= mx
                xy += x[k] * y[k]
                xx += x[k] * x[k]
            a = xy / max(xx, 1e-12)
            vmax = -np.inf
            vmin = np.inf
            amax = -1.0
            at = 0
            for k in range(s):
                v = y[k] - a * x[k]
                vmax = max(vmax, v)
                vmin = min(vmin, v)
                if abs(v) > amax:
                    amax = abs(v)
                    at = k
            pp = vmax - vmin
            if pp < best:
                best = pp
                best_at = lo + at
        best_pp[r] = best
        peak[r] = best_at


def carry_residuals_ref(tpl, waves, m):
    """Plain-NumPy reference of :func:`carry_residuals`: returns ``(best_pp, peak)``."""
    n = waves.shape[1]
    idx = np.arange(m + 1, n - m - 1)
    lag_idx = (idx[None, :] - np.arange(-m, m + 1)[:, None]) % n  # (lags, s)
    X = np.asarray(tpl, np.float64)[:, lag_idx]  # (r, lags, s)
    X = X - X.mean(axis=2, keepdims=True)
    Y = np.asarray(waves)[:, idx].astype(np.float64)
    Y = Y - Y.mean(axis=1, keepdims=True)
    a = np.einsum("rls,rs->rl", X, Y) / np.maximum((X * X).sum(axis=2), 1e-12)
    resid = Y[:, None, :] - a[..., None] * X
    pp = resid.max(axis=2) - resid.min(axis=2)
    lag = pp.argmin(axis=1)
    rows = np.arange(len(Y))
    return pp[rows, lag], idx[np.abs(resid[rows, lag]).argmax(axis=1)]


@jit
def hidden_first(waves, h, d_lo, d_hi, min_corr, max_ratio, out):
    """For waveforms centred on their peak: the delay (samples) before the peak of an earlier
    copy of the core at the peak, 0 for none.

    The core is the ``2 h + 1`` samples around a position, mean removed; a copy ``d``
    samples earlier (``d_lo <= d <= d_hi``) correlates >= ``min_corr`` with the core at the
    peak and its peak-to-peak is within a factor ``max_ratio``; the most correlated delay
    wins (the earliest on a tie). ``out`` (n,) int64 is written.
    """
    n, n_wave = waves.shape
    m = n_wave // 2
    width = 2 * h + 1
    a = np.empty(width)
    b = np.empty(width)
    for e in range(n):
        out[e] = 0
        mean = 0.0
        for j in range(width):
            a[j] = waves[e, m - h + j]
            mean += a[j]
        mean /= width
        lo, hi, na = np.inf, -np.inf, 0.0
        for j in range(width):
            a[j] -= mean
            na += a[j] * a[j]
            lo = min(lo, a[j])
            hi = max(hi, a[j])
        na = math.sqrt(na)
        pp_a = max(hi - lo, 1e-12)
        best = -np.inf
        for d in range(d_lo, d_hi + 1):
            mean = 0.0
            for j in range(width):
                b[j] = waves[e, m - d - h + j]
                mean += b[j]
            mean /= width
            lo, hi, nb, ab = np.inf, -np.inf, 0.0, 0.0
            for j in range(width):
                v = b[j] - mean
                nb += v * v
                ab += a[j] * v
                lo = min(lo, v)
                hi = max(hi, v)
            r = ab / max(na * math.sqrt(nb), 1e-12)
            ratio = (hi - lo) / pp_a
            if r >= min_corr and ratio >= 1.0 / max_ratio and ratio <= max_ratio and r > best:
                best = r
                out[e] = d


def hidden_first_ref(waves, h, d_lo, d_hi, min_corr, max_ratio):
    """NumPy reference of :func:`hidden_first` (all events at once, one delay at a time)."""
    w = np.asarray(waves, np.float64)
    m = w.shape[1] // 2
    out = np.zeros(len(w), np.int64)

    def core(at):
        x = w[:, at - h : at + h + 1]
        x = x - x.mean(axis=1, keepdims=True)
        return x, np.sqrt(np.einsum("ij,ij->i", x, x))

    a, na = core(m)
    pp_a = np.ptp(a, axis=1)
    best = np.full(len(w), -np.inf)
    for d in range(d_lo, d_hi + 1):
        b, nb = core(m - d)
        r = np.einsum("ij,ij->i", a, b) / np.maximum(na * nb, 1e-12)
        ratio = np.ptp(b, axis=1) / np.maximum(pp_a, 1e-12)
        ok = (r >= min_corr) & (ratio >= 1 / max_ratio) & (ratio <= max_ratio) & (r > best)
        best[ok] = r[ok]
        out[ok] = d
    return out
