"""NumPy/SciPy references for the kernels in ``_detect_numba.py`` (private; used by tests).

Each reference computes the same result a different way (SciPy filters, vectorised
NumPy, a walk over the list of supra-threshold samples) for one chunk from a fresh state,
so the tests can check the compiled kernels against them.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

__all__ = [
    "assign_units_ref",
    "block_mad_ref",
    "event_features_ref",
    "mains_cancel_loop_ref",
    "mains_cancel_ref",
    "railed_counts_ref",
    "railed_runs_ref",
    "sos_filter_ref",
    "threshold_events_ref",
    "unit_correlations_ref",
]


def sos_filter_ref(x: np.ndarray, valid: np.ndarray, sos: np.ndarray) -> np.ndarray:
    """``scipy.signal.sosfilt`` on each run of valid samples, started in steady state."""
    out = np.zeros(x.shape, np.float64)
    zi_unit = signal.sosfilt_zi(sos)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], valid.astype(int), [0]])))
    for lo, hi in zip(edges[::2], edges[1::2]):
        for c in range(x.shape[0]):
            seg = x[c, lo:hi].astype(np.float64)
            out[c, lo:hi] = signal.sosfilt(sos, seg, zi=zi_unit * seg[0])[0]
    return out


def block_mad_ref(y: np.ndarray, usable: np.ndarray, block_n: int, min_fraction: float,
                  stride: int = 1) -> np.ndarray:
    """median(|y|)/0.6745 per block (every ``stride``-th sample) with NumPy."""
    n_blocks = y.shape[1] // block_n
    out = np.full((y.shape[0], n_blocks), np.nan)
    for b in range(n_blocks):
        sl = slice(b * block_n, (b + 1) * block_n, stride)
        u = usable[sl]
        if u.sum() >= max(1, int(min_fraction * len(u))):
            out[:, b] = np.median(np.abs(y[:, sl][:, u].astype(np.float64)), axis=1) / 0.6744897501960817
    return out


def threshold_events_ref(y, usable, thr, block_n, merge_n, max_n, dead_n, extend_frac, shadow_frac, shadow_n):
    """Events of one chunk from a fresh state, jumping between the samples above threshold
    instead of visiting every sample.

    Returns (channel, peak, peak_value) arrays of the events closed within the chunk, in
    the kernel's output order (by channel, then time).
    """
    n_ch, n = y.shape
    unusable = np.flatnonzero(~np.asarray(usable, bool))
    out_c, out_p, out_v = [], [], []
    for c in range(n_ch):
        a = np.abs(y[c].astype(np.float64))
        t = np.repeat(thr[c], block_n)[:n]
        cands = np.flatnonzero(usable & (a > t))
        prev_peak, prev_pv = -(1 << 40), 0.0
        j = 0
        while j < len(cands):
            s = cands[j]
            if s - prev_peak <= dead_n or a[s] <= shadow_frac * prev_pv * np.exp(-(s - prev_peak) / shadow_n):
                j += 1
                continue
            start = last = peak = s
            pv = a[s]
            k = np.searchsorted(unusable, s)
            gap = unusable[k] if k < len(unusable) else n + (1 << 40)
            j += 1
            while True:
                close_at = min(last + merge_n + 1, start + max_n)
                if j < len(cands) and cands[j] <= close_at and cands[j] < gap:
                    s2 = cands[j]
                    j += 1
                    extends = a[s2] > extend_frac * pv
                    if extends:
                        last = s2
                        if a[s2] > pv:
                            peak, pv = s2, a[s2]
                    if s2 == start + max_n or (not extends and s2 == close_at):
                        if not extends:
                            j -= 1  # a closing sample that did not extend may open the next event
                        out_c.append(c), out_p.append(peak), out_v.append(pv)
                        prev_peak, prev_pv = peak, pv
                        break
                    continue
                if gap <= close_at:
                    break  # dropped at the gap
                if close_at >= n:
                    j = len(cands)  # still open at the end of the chunk
                    break
                out_c.append(c), out_p.append(peak), out_v.append(pv)
                prev_peak, prev_pv = peak, pv
                break
    return np.array(out_c, np.int64), np.array(out_p, np.int64), np.array(out_v)


def event_features_ref(waves, noise, fs, search_n, gap_n, level_sd, level_frac):
    """The same features with NumPy: support by scanning supra-level indices, rfft centroid."""
    m, n_wave = waves.shape
    centre = n_wave // 2
    out = [np.zeros(m) for _ in range(5)]
    win = 0.5 - 0.5 * np.cos(2 * np.pi * (np.arange(n_wave) + 1) / (n_wave + 1))
    freqs = np.arange(n_wave // 2 + 1) * fs / n_wave
    for e in range(m):
        w = waves[e].astype(np.float64)
        level = max(level_sd * noise[e], level_frac * abs(w[centre]))
        supra = np.abs(w) > level
        lo_lim, hi_lim = max(0, centre - search_n), min(n_wave - 1, centre + search_n)
        lo = centre
        for j in np.flatnonzero(supra[lo_lim:centre])[::-1] + lo_lim:
            if lo - j <= gap_n:
                lo = j
            else:
                break
        hi = centre
        for j in np.flatnonzero(supra[centre + 1 : hi_lim + 1]) + centre + 1:
            if j - hi <= gap_n:
                hi = j
            else:
                break
        wide = w[max(0, lo - gap_n) : min(n_wave - 1, hi + gap_n) + 1]
        seg = w[lo : hi + 1]
        signs = np.sign(seg[np.abs(seg) > level])
        out[0][e] = wide.max() - wide.min()
        out[1][e] = (hi - lo + 1) * 1000.0 / fs
        out[2][e] = 1 + np.count_nonzero(np.diff(signs)) if len(signs) else 0
        out[3][e] = np.sum(seg**2) / fs
        p = np.abs(np.fft.rfft(w * win)) ** 2
        out[4][e] = np.sum(p[1:] * freqs[1:]) / np.sum(p[1:]) if np.sum(p[1:]) > 0 else 0.0
    out[2] = out[2].astype(np.int64)
    return tuple(out)


def mains_cancel_ref(x, fs, harmonics_hz, mu):
    """Plain LMS canceller without freezing, frequency loop or clipping, for one channel,
    written with complex numbers: ``a_k += 2 mu_k e conj(exp(j w_k n))``.

    Agrees with the kernel when the kernel's freezing and clipping never act and its
    frequency loop is off (``pll_gain = 0``).
    """
    n = len(x)
    a = np.zeros(len(harmonics_hz), complex)
    w = 2 * np.pi * np.asarray(harmonics_hz) / fs
    out = np.empty(n)
    for i in range(n):
        r = np.exp(1j * w * i)
        e = x[i] - np.real(np.sum(a * r))
        out[i] = e
        a += 2 * np.asarray(mu) * e * np.conj(r)
    return out


def mains_cancel_loop_ref(x, valid, cos_t, sin_t, first_sample, mu, pll_gain, max_dw, clip_k, freeze_k, hold_n,
                          max_frozen_n, ema_n, amp, dw, ema, hold, turn_state, out):
    """``mains_cancel`` as plain loops over samples, harmonics and channels (the kernel as it
    was before its state was laid out for vector instructions); same arguments, except that
    ``mu`` is an array and ``x`` is already band-passed (float32). Like the kernel it computes
    in float32 (every constant rounded to float32 once, the same operations in the same
    order). The kernel must agree with it bit for bit; the tests compile it with
    ``emg._numba.jit`` for speed.
    """
    ROTATE_EVERY = 8
    f32 = np.float32
    n_ch, n = x.shape
    n_h, period = cos_t.shape
    alpha = f32(1.0 / ema_n)
    g_pll = f32(pll_gain * 2.0 * mu[0])
    max_w = f32(max_dw)
    clip32, freeze32 = f32(clip_k), f32(freeze_k)
    ct = np.ascontiguousarray(cos_t.T).astype(np.float32)  # (period, n_h): one row per sample
    st = np.ascontiguousarray(sin_t.T).astype(np.float32)
    # the step tables: 2 mu_k cos and 2 mu_k sin, computed in float64 and rounded once
    gct = np.empty((period, n_h), np.float32)
    gst = np.empty((period, n_h), np.float32)
    for p in range(period):
        for k in range(n_h):
            gct[p, k] = 2.0 * mu[k] * cos_t[k, p]
            gst[p, k] = 2.0 * mu[k] * sin_t[k, p]
    # local state laid out (harmonic, channel): the hot loops run over channels, which the
    # compiler turns into vector instructions (the channels' recurrences are independent)
    re = np.empty((n_h, n_ch), np.float32)
    im = np.empty((n_h, n_ch), np.float32)
    for c in range(n_ch):
        for k in range(n_h):
            re[k, c] = amp[c, k, 0]
            im[k, c] = amp[c, k, 1]
    w = dw.astype(np.float32)
    level = ema.astype(np.float32)
    h0 = hold[:, 0].copy()
    h1 = hold[:, 1].copy()
    m = np.empty(n_ch, np.float32)
    ec = np.empty(n_ch, np.float32)
    turn_acc = turn_state[:, 0].astype(np.float32)
    inv_p2 = turn_state[:, 1].astype(np.float32)
    ph = first_sample % period
    rot = first_sample % ROTATE_EVERY
    for i in range(n):
        if i > 0:  # counters instead of a modulo per sample
            ph += 1
            if ph == period:
                ph = 0
            rot += 1
            if rot == ROTATE_EVERY:
                rot = 0
        if not valid[i]:
            for c in range(n_ch):
                out[c, i] = 0.0
            continue
        if rot == 0:
            # the frequency loop: apply the phase corrections gathered since the last turn
            # (normalised by the fundamental's power, only when the fundamental is clear)
            for c in range(n_ch):
                p2 = re[0, c] * re[0, c] + im[0, c] * im[0, c]
                if inv_p2[c] > 0.0:
                    w[c] = min(max(w[c] - g_pll * turn_acc[c] * inv_p2[c], -max_w), max_w)
                turn_acc[c] = 0.0
                inv_p2[c] = f32(1.0) / p2 if p2 > f32(16.0) * level[c] * level[c] else f32(0.0)
            # turn each phasor by its share of the frequency error (every few samples)
            for k in range(n_h):
                for c in range(n_ch):
                    ang = f32((k + 1) * ROTATE_EVERY) * w[c]
                    cr = f32(1.0) - f32(0.5) * ang * ang
                    r0 = re[k, c]
                    re[k, c] = r0 * cr - im[k, c] * ang
                    im[k, c] = r0 * ang + im[k, c] * cr
        for c in range(n_ch):
            m[c] = 0.0
        for k in range(n_h):
            ck = ct[ph, k]
            sk = st[ph, k]
            for c in range(n_ch):
                m[c] += re[k, c] * ck - im[k, c] * sk
        for c in range(n_ch):
            e = f32(x[c, i]) - m[c]
            out[c, i] = e
            lev = level[c]
            lim = clip32 * lev
            lev += alpha * (min(abs(e), lim) - lev)
            level[c] = lev
            if abs(e) > freeze32 * lev and h1[c] >= 0:
                h0[c] = hold_n
            if h0[c] > 0:
                h0[c] -= 1
                h1[c] += 1
                if h1[c] > max_frozen_n:
                    h0[c] = 0
                    h1[c] = -max_frozen_n
                ec[c] = 0.0  # frozen: no adaptation
                continue
            if h1[c] > 0:
                h1[c] = 0
            elif h1[c] < 0:
                h1[c] += 1
            ecc = min(max(e, -lim), lim)  # clipped (Huber) error: a spike's pull is bounded
            ec[c] = ecc
            turn_acc[c] += ecc * (re[0, c] * st[ph, 0] + im[0, c] * ct[ph, 0])
        for k in range(n_h):
            for c in range(n_ch):
                re[k, c] += ec[c] * gct[ph, k]
                im[k, c] -= ec[c] * gst[ph, k]
    for c in range(n_ch):
        for k in range(n_h):
            amp[c, k, 0] = re[k, c]
            amp[c, k, 1] = im[k, c]
        dw[c] = w[c]
        ema[c] = level[c]
        hold[c, 0] = h0[c]
        hold[c, 1] = h1[c]
        turn_state[c, 0] = turn_acc[c]
        turn_state[c, 1] = inv_p2[c]


def unit_correlations_ref(wave: np.ndarray, templates: np.ndarray, max_lag: int) -> np.ndarray:
    """Per template, the best normalised cross-correlation over lags, by matrix products."""
    a = np.asarray(wave, np.float64)
    n = len(a)
    if n <= 2 * max_lag + 2:
        max_lag = max(0, (n - 3) // 2)
    core = np.arange(max_lag, n - max_lag)
    x = a[core] - a[core].mean()
    out = np.empty(len(templates))
    for t, b in enumerate(np.asarray(templates, np.float64)):
        ys = b[core[None, :] + np.arange(-max_lag, max_lag + 1)[:, None]]
        ys = ys - ys.mean(axis=1, keepdims=True)
        den = np.sqrt(np.dot(x, x) * (ys * ys).sum(axis=1))
        out[t] = np.where(den > 0, (ys @ x) / np.where(den > 0, den, 1.0), -1.0).max()
    return out


def railed_runs_ref(x: np.ndarray, flat_n: int) -> np.ndarray:
    """Railed samples of one chunk from a fresh state, by cumulative maxima of change points."""
    n = x.shape[1]
    prev = np.concatenate([np.full((x.shape[0], 1), np.nan), x[:, :-1]], axis=1)
    idx = np.arange(n)
    last_change = np.maximum.accumulate(np.where(x == prev, -1, idx[None, :]), axis=1)
    return (idx[None, :] - last_change + 1) >= flat_n


def railed_counts_ref(x: np.ndarray, flat_n: int, first_sample: int, block_n: int) -> np.ndarray:
    """:func:`railed_runs_ref` summed per absolute block: (n_ch, blocks from ``first_sample // block_n``)."""
    g = first_sample + np.arange(x.shape[1])
    k = g // block_n - first_sample // block_n
    out = np.zeros((x.shape[0], int(k[-1]) + 1 if len(k) else 0), np.int64)
    mask = railed_runs_ref(x, flat_n)
    for c in range(x.shape[0]):
        np.add.at(out[c], k, mask[c])
    return out


def assign_units_ref(channels, waves, amps, times, n_channels, min_corr, max_amp_ratio, max_lag, max_units,
                     memory, match_only=None, match_corr=0.75, match_count=3, match_gap=0.0):
    """Leader clustering event by event with Python lists and :func:`emg.units.best_correlation`.

    Returns the 1-based unit per event (-1 when none) and, per channel, the list of units
    as dicts (waveform, amplitude, count, first, last, matched, matched_last) in creation order.
    ``match_only`` events are matched to an established unit without changing it.
    """
    from .units import best_correlation

    units: list[list[dict]] = [[] for _ in range(n_channels)]
    out = []
    match_only = np.zeros(len(channels), bool) if match_only is None else match_only
    for c, wave, amp, t, only in zip(channels, waves, amps, times, match_only):
        wave = np.asarray(wave, np.float64)
        if wave.size < 3 or not np.any(wave):
            out.append(-1)
            continue
        if only:
            best, best_corr = None, -np.inf
            for u in units[c]:
                ok = (u["count"] >= match_count and t - max(u["last"], u["matched_last"]) >= match_gap
                      and 1 / max_amp_ratio <= amp / max(u["amplitude"], 1e-12) <= max_amp_ratio)
                corr = best_correlation(wave, u["waveform"], max_lag) if ok else -np.inf
                if corr >= match_corr and corr > best_corr:
                    best, best_corr = u, corr
            if best is not None:
                best["matched"] += 1
                best["matched_last"] = max(best["matched_last"], t)
            out.append(-1 if best is None else best["id"])
            continue
        best, best_corr = None, min_corr
        for u in units[c]:
            if 1 / max_amp_ratio <= amp / max(u["amplitude"], 1e-9) <= max_amp_ratio:
                corr = best_correlation(wave, u["waveform"], max_lag)
                if corr >= best_corr:
                    best, best_corr = u, corr
        if best is None:
            if len(units[c]) >= max_units:
                out.append(-1)
                continue
            best = {"id": len(units[c]) + 1, "waveform": wave.copy(), "amplitude": 0.0, "count": 0,
                    "first": t, "last": t, "matched": 0, "matched_last": 0.0}
            units[c].append(best)
        weight = 1.0 / min(best["count"] + 1, memory)
        if best["count"]:
            best["waveform"] = (1 - weight) * best["waveform"] + weight * wave
        best["amplitude"] += weight * (amp - best["amplitude"])
        best["count"] += 1
        best["last"] = t
        out.append(best["id"])
    return np.array(out, np.int64), units
