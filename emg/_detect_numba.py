"""Numba kernels of the detector (private). Each has a NumPy reference in ``_detect_ref.py``.

All kernels are written as plain loops over samples so the same code runs compiled (the
default) or as Python (``EMG_NO_NUMBA=1``). They carry their state in arrays the caller
owns, which is what makes the detector chunk-invariant.
"""

from __future__ import annotations

import numpy as np

from ._numba import jit

__all__ = [
    "assign_units",
    "block_mad",
    "event_features",
    "mains_cancel",
    "railed_runs",
    "select_rank",
    "sos_filter",
    "threshold_events",
    "unit_correlations",
]

ROTATE_EVERY = 8  # the canceller turns its phasors for the frequency error every 8 samples
LANES = 16  # channels the canceller advances together: one row of its state (2 vectors of 8 float32)
BLOCK = 256  # samples moved between (channel, sample) arrays and the canceller's (sample, lane) buffer


@jit
def sos_filter(x, valid, sos, zi_unit, zi, pending_reset, out):
    """Cascade of biquads (direct form II transposed) over each row, in place of ``out``.

    Parameters
    ----------
    x : float32 (n_ch, n)
        Input in µV.
    valid : bool (n,)
        False inside gaps: the output is 0 there and the filter restarts after the gap.
    sos : float64 (n_sec, 6)
        Second-order sections (scipy layout, a0 = 1).
    zi_unit : float64 (n_sec, 2)
        Steady-state state for a unit step input (``scipy.signal.sosfilt_zi``); a restart
        sets the state to ``zi_unit * x`` so a DC offset causes no transient.
    zi : float64 (n_ch, n_sec, 2)
        Filter state, updated.
    pending_reset : bool (n_ch,)
        True when the next valid sample must restart the filter; updated.
    out : float32 (n_ch, n)
        Filtered output.
    """
    n_ch, n = x.shape
    n_sec = sos.shape[0]
    # state laid out (section, channel) and samples outer, channels inner: the channels'
    # recurrences are independent, so the inner loops become vector instructions
    z0 = np.empty((n_sec, n_ch))
    z1 = np.empty((n_sec, n_ch))
    for c in range(n_ch):
        for s in range(n_sec):
            z0[s, c] = zi[c, s, 0]
            z1[s, c] = zi[c, s, 1]
    v = np.empty(n_ch)
    for i in range(n):
        if not valid[i]:
            for c in range(n_ch):
                pending_reset[c] = True
                out[c, i] = 0.0
            continue
        for c in range(n_ch):
            v[c] = x[c, i]
        for c in range(n_ch):
            if pending_reset[c]:
                for s in range(n_sec):
                    z0[s, c] = zi_unit[s, 0] * v[c]
                    z1[s, c] = zi_unit[s, 1] * v[c]
                pending_reset[c] = False
        for s in range(n_sec):
            b0 = sos[s, 0]
            b1 = sos[s, 1]
            b2 = sos[s, 2]
            a1 = sos[s, 4]
            a2 = sos[s, 5]
            for c in range(n_ch):
                vc = v[c]
                y = b0 * vc + z0[s, c]
                z0[s, c] = b1 * vc - a1 * y + z1[s, c]
                z1[s, c] = b2 * vc - a2 * y
                v[c] = y
        for c in range(n_ch):
            out[c, i] = v[c]
    for c in range(n_ch):
        for s in range(n_sec):
            zi[c, s, 0] = z0[s, c]
            zi[c, s, 1] = z1[s, c]


@jit
def select_rank(a, n, k):
    """Rearrange ``a[:n]`` so that ``a[k]`` holds the value of rank ``k`` (0-based), everything
    before it no larger and everything after it no smaller (quickselect).

    The partitions are branch-free (Lomuto with an unconditional swap, the index moved by
    the comparison's result): on noise a data-dependent branch is mispredicted half the
    time, which made ``np.median`` ~2.5 x slower here. Values equal to the pivot are
    gathered after each partition, so runs of equal values (a railed input) end at once.
    ``a[:n]`` must hold no NaN (nothing compares with it: the search would not end).
    """
    lo, hi = 0, n
    while hi - lo > 1:
        x, y, z = a[lo], a[lo + (hi - lo) // 2], a[hi - 1]
        if x > y:
            x, y = y, x
        if y > z:
            y = z
        if x > y:
            y = x
        j = lo
        for i in range(lo, hi):  # a[lo:j] < pivot <= a[j:i]
            v = a[i]
            a[i] = a[j]
            a[j] = v
            j += v < y
        if k < j:
            hi = j
            continue
        e = j
        for i in range(j, hi):  # a[j:e] == pivot < a[e:i]
            v = a[i]
            a[i] = a[e]
            a[e] = v
            e += v == y
        if k < e:
            return
        lo = e


@jit
def block_mad(y, usable, block_n, min_fraction, stride):
    """Robust noise RMS per channel and block: median(|y|) / 0.6745 over usable samples.

    ``y`` (n_ch, n_blocks * block_n) is zero-mean filtered data; every ``stride``-th sample
    of a block is used. A block with fewer than ``min_fraction`` usable samples gives NaN.
    The median is exactly ``np.median``'s (mean of the two middle values for an even count),
    found by :func:`select_rank`: first among the values within [0.8, 1.25] x the channel's
    previous median only (noise changes slowly: about a fifth of the values, and both middle
    ones are there almost always), else among all.
    """
    n_ch, n = y.shape
    n_blocks = n // block_n
    out = np.full((n_ch, n_blocks), np.nan)
    tmp = np.empty(block_n, dtype=np.float32)
    near = np.empty(block_n, dtype=np.float32)
    last = np.full(n_ch, np.nan)  # each channel's previous median (NaN: none, nothing is near)
    need = max(1, int(min_fraction * ((block_n + stride - 1) // stride)))
    for b in range(n_blocks):
        lo = b * block_n
        for c in range(n_ch):
            near_lo, near_hi = 0.8 * last[c], 1.25 * last[c]
            m = 0
            nan = False
            below = 0  # values below the near range
            k = 0  # values in it, copied to near[:k]
            for i in range(lo, lo + block_n, stride):
                if usable[i]:
                    v = abs(y[c, i])
                    nan |= v != v
                    tmp[m] = v
                    m += 1
                    below += v < near_lo
                    near[k] = v
                    k += (v >= near_lo) & (v <= near_hi)
            if nan or m < need:  # as np.median: NaN in, NaN out (and select_rank needs ordered values)
                continue
            h = m // 2  # rank of the upper middle value
            odd = m % 2 == 1
            if below + (0 if odd else 1) <= h < below + k:  # both middle values are near
                med = _middle(near, k, h - below, odd)
            else:
                med = _middle(tmp, m, h, odd)
            last[c] = med
            out[c, b] = med / 0.6744897501960817
    return out


@jit
def _middle(a, n, h, odd):
    """Value of rank ``h`` of ``a[:n]`` (``odd``), else the mean of ranks ``h - 1`` and ``h`` (``h >= 1``);
    reorders ``a[:n]``."""
    select_rank(a, n, h)
    if odd:
        return a[h] * 1.0
    below = a[0]  # the other middle value: the largest below rank h
    for i in range(1, h):
        below = max(below, a[i])
    return (below + a[h]) / 2


def threshold_events(y, usable, thr, block_n, first_sample, merge_n, max_n, dead_n, extend_frac, shadow_frac,
                     shadow_n, state, peak_val, out_ch, out_peak, out_val):
    """Threshold crossings of |y| grouped into events, each reported at its largest |y|.

    A sample above the threshold opens an event. The event grows while samples above
    ``max(thr, extend_frac x its peak)`` follow within ``merge_n`` samples, and closes
    after ``merge_n`` samples without one or ``max_n`` samples after it opened. A new event
    needs ``dead_n`` samples after the previous peak, and must exceed the previous peak's
    shadow ``shadow_frac x peak x exp(-dt / shadow_n)`` (the filter's tail after a large
    potential; a doublet's second discharge, as large as the first, passes). An event
    touching an unusable sample (gap, settling) is dropped.

    Parameters
    ----------
    y : float32 (n_ch, n)
        Filtered µV; sample ``i`` is absolute sample ``first_sample + i``. Each row
        contiguous (a view of a filter's output is): the rows go one by one to a kernel that
        skips quiet stretches in vector instructions.
    usable : bool (n,)
    thr : float64 (n_ch, n_blocks)
        Threshold per channel and block of ``block_n`` samples (NaN: no detection).
    state : int64 (n_ch, 5)
        Per channel, updated: open flag, start sample, peak sample, last sample above
        the extension level, peak sample of the previous event.
    peak_val : float64 (n_ch, 2)
        |y| at the open event's peak and at the previous event's peak, updated.
    out_ch, out_peak : int64 (capacity,)
        Closed events (channel, absolute peak sample), in order of closing.
    out_val : float64 (capacity,)
        |y| at each closed event's peak.

    Returns
    -------
    int
        Number of events written.
    """
    # a float32 threshold a float32 |y| exceeds exactly when it exceeds thr: thr rounded down
    with np.errstate(over="ignore"):  # beyond float32: inf, rounded down to its largest value
        thr32 = thr.astype(np.float32)
    thr32 = np.where(thr32 > thr, np.nextafter(thr32, np.float32(-np.inf)), thr32)
    k = 0
    for c in range(y.shape[0]):
        k = _threshold_row(y[c], usable, thr[c], thr32[c], block_n, first_sample, merge_n, max_n, dead_n, extend_frac,
                           shadow_frac, shadow_n, state[c], peak_val[c], c, out_ch, out_peak, out_val, k)
    return k


_SCAN_N = 256  # samples checked at once for one above the threshold


@jit
def _threshold_row(yr, usable, thr, thr32, block_n, first_sample, merge_n, max_n, dead_n, extend_frac, shadow_frac,
                   shadow_n, state, peak_val, c, out_ch, out_peak, out_val, k):
    """Channel ``c`` of :func:`threshold_events` (``yr`` contiguous, ``thr32`` the float32
    thresholds); returns the events written so far.

    Between events, stretches of ``_SCAN_N`` samples with none above the threshold (a count
    the compiler vectorises) are skipped; only a stretch with one is walked sample by sample.
    """
    n = len(yr)
    is_open = state[0]
    start = state[1]
    peak = state[2]
    last = state[3]
    prev_peak = state[4]
    pv = peak_val[0]
    prev_pv = peak_val[1]
    for b in range((n + block_n - 1) // block_n):
        t = thr[b]
        t32 = thr32[b]
        i = b * block_n
        stop = min(n, i + block_n)
        while i < stop:
            if not is_open:  # nothing changes until a usable sample rises above the threshold
                while i < stop:
                    e = min(stop, i + _SCAN_N)
                    stretch = yr[i:e]
                    above = 0
                    for j in range(len(stretch)):
                        above += abs(stretch[j]) > t32
                    if above == 0:
                        i = e
                        continue
                    while i < e and not (abs(yr[i]) > t and usable[i]):
                        i += 1
                    if i < e:
                        break
                if i == stop:
                    break
            g = first_sample + i
            if not usable[i]:
                is_open = 0
                i += 1
                continue
            a = abs(np.float64(yr[i]))
            if is_open:
                if a > t and a > extend_frac * pv:
                    last = g
                    if a > pv:
                        pv = a
                        peak = g
                if g - last > merge_n or g - start >= max_n:
                    out_ch[k] = c
                    out_peak[k] = peak
                    out_val[k] = pv
                    k += 1
                    is_open = 0
                    prev_peak = peak
                    prev_pv = pv
            if not is_open and a > t and g - prev_peak > dead_n and g - last > 0:
                if a > shadow_frac * prev_pv * np.exp(-(g - prev_peak) / shadow_n):
                    is_open = 1
                    start = g
                    last = g
                    peak = g
                    pv = a
            i += 1
    state[0] = is_open
    state[1] = start
    state[2] = peak
    state[3] = last
    state[4] = prev_peak
    peak_val[0] = pv
    peak_val[1] = prev_pv
    return k


@jit
def event_features(waves, noise, fs, search_n, gap_n, level_sd, level_frac):
    """Features of centred event snippets.

    Parameters
    ----------
    waves : float32 (m, n_wave)
        Filtered µV, the largest deflection at ``n_wave // 2``.
    noise : float64 (m,)
        Robust noise RMS at each event, µV.
    fs : float
        Sample rate, Hz.
    search_n : int
        Half width (samples) of the region searched for the event's support.
    gap_n : int
        Largest run of sub-level samples allowed inside the support.
    level_sd, level_frac : float
        Support level = max(level_sd x noise, level_frac x |peak|).

    Returns
    -------
    pp, duration_ms, phases, energy_uv2s, centroid_hz : arrays (m,)
        Peak-to-peak over the support widened by ``gap_n`` samples each side; duration
        and energy over the support; phases = runs of one sign among supra-level samples.
    """
    m, n_wave = waves.shape
    centre = n_wave // 2
    pp = np.zeros(m)
    duration = np.zeros(m)
    phases = np.zeros(m, dtype=np.int64)
    energy = np.zeros(m)
    centroid = np.zeros(m)
    # Hann window and DFT tables for the spectral centroid
    win = np.empty(n_wave)
    for j in range(n_wave):
        win[j] = 0.5 - 0.5 * np.cos(2.0 * np.pi * (j + 1) / (n_wave + 1))
    n_freq = n_wave // 2 + 1
    cos_t = np.empty((n_freq, n_wave))
    sin_t = np.empty((n_freq, n_wave))
    for f in range(n_freq):
        for j in range(n_wave):
            ang = 2.0 * np.pi * f * j / n_wave
            cos_t[f, j] = np.cos(ang)
            sin_t[f, j] = np.sin(ang)
    lo_lim = max(0, centre - search_n)
    hi_lim = min(n_wave - 1, centre + search_n)
    for e in range(m):
        w = waves[e]
        level = max(level_sd * noise[e], level_frac * abs(np.float64(w[centre])))
        lo = centre
        j = centre - 1
        while j >= lo_lim and lo - j <= gap_n:
            if abs(w[j]) > level:
                lo = j
            j -= 1
        hi = centre
        j = centre + 1
        while j <= hi_lim and j - hi <= gap_n:
            if abs(w[j]) > level:
                hi = j
            j += 1
        vmax = -np.inf
        vmin = np.inf
        for j in range(max(0, lo - gap_n), min(n_wave - 1, hi + gap_n) + 1):
            v = np.float64(w[j])
            vmax = max(vmax, v)
            vmin = min(vmin, v)
        en = 0.0
        sign = 0
        ph = 0
        for j in range(lo, hi + 1):
            v = np.float64(w[j])
            en += v * v
            if abs(v) > level:
                s = 1 if v > 0 else -1
                if s != sign:
                    ph += 1
                    sign = s
        pp[e] = vmax - vmin
        duration[e] = (hi - lo + 1) * 1000.0 / fs
        phases[e] = ph
        energy[e] = en / fs
        num = 0.0
        den = 0.0
        for f in range(1, n_freq):
            re = 0.0
            im = 0.0
            for j in range(n_wave):
                v = w[j] * win[j]
                re += v * cos_t[f, j]
                im -= v * sin_t[f, j]
            p = re * re + im * im
            num += p * f * fs / n_wave
            den += p
        centroid[e] = num / den if den > 0 else 0.0
    return pp, duration, phases, energy, centroid


@jit
def _pick(cond, a, b):
    """``a if cond else b`` as one select (no branch), so the loop over lanes can be vectorised."""
    return a if cond else b


@jit
def mains_cancel(x, valid, bq, zi_unit, zi, pending_reset, cos_t, sin_t, first_sample, mu, pll_gain, max_dw,
                 clip_k, freeze_k, hold_n, max_frozen_n, ema_n, amp, dw, ema, hold, turn_state, out):
    """Band-pass (a cascade of biquads) and then an adaptive mains canceller (one LMS phasor per
    harmonic, a frequency-locked loop) that freezes on spikes, in one pass over the data.

    The band-pass is ``sos_filter``'s arithmetic, bit for bit, including its restart in steady
    state after a gap (its float32 output is what the canceller sees); run here, in the
    canceller's lane layout, its recurrences become vector instructions that overlap with the
    canceller's own (the canceller's one-sample dependency chain leaves the core room).

    Subtracts ``sum_k Re(a_k exp(j k w n))`` from each row. ``a_k`` follows the mains with
    time constant ``1 / mu[k]`` samples (``mu`` grows with the harmonic number, like notches
    of equal Q); a second-order loop estimates the mains frequency error ``dw`` (rad/sample)
    from the fundamental's phase corrections and turns every ``a_k`` by ``k dw`` per sample
    (both applied every ``ROTATE_EVERY`` absolute samples, so chunking does not matter),
    so a drifting mains frequency leaves no residual. The error that drives the adaptation
    is clipped at ``clip_k x`` its running mean absolute value (which itself follows the
    clipped residual), so a spike pulls little; adaptation is frozen for ``hold_n`` samples
    whenever ``|residual| > freeze_k x`` that level: unlike a notch, a large spike leaves no
    ringing. A freeze longer than ``max_frozen_n`` samples is not a spike: adaptation is then
    forced for as long again, so the canceller cannot lock itself out.

    Layout (for speed; the arithmetic is that of the plain per-channel loop
    ``_detect_ref.mains_cancel_loop_ref``, bit for bit): channels are taken ``LANES`` at a
    time and their state lives in arrays of shape (quantity, lane): the canceller's rows
    ``re_k``, ``im_k``, ``dw``, level, the two freeze counters (as floats), the turn state in
    ``s``; the band-pass's ``z0``, ``z1`` per section and its restart flag in ``z``. ``mu`` and
    ``bq`` are tuples, so the numbers of harmonics and sections are compile-time constants and
    their loops unroll; one sample of every lane is then a loop over lanes for the band-pass
    and one for the canceller, bodies without branches (``_pick``) reading contiguous rows,
    which the compiler turns into vector instructions. The samples of a ``BLOCK`` are copied
    into a (sample, lane) buffer first (unused lanes hold zeros) and the residual back out.

    Precision: the band-pass runs in float64 (as ``sos_filter``); the canceller in float32
    (its input is the band-pass output rounded to float32 anyway), so one 256-bit vector
    instruction advances 8 channels instead of 4 and 8 channels take one pass of the
    canceller's loop body per sample instead of two (measured, AVX2: 8 channels 1.3-1.4 x
    faster, 16 channels 1.5 x; 4 channels, computed as 8 lanes, ~10 % slower). float32 keeps
    24 bits: the output differs from the same canceller in float64 by ~1e-6 of the mains
    amplitude at most (measured: 8e-4 µV with 300 µV of mains, 3e-3 µV with 3 mV), 1e-3 of the
    noise or less; the detector's events were the same. The state kept between calls (float64
    arrays) holds float32 values.

    Parameters
    ----------
    x : float32 (n_ch, n)
        Raw µV; sample ``i`` is absolute sample ``first_sample + i``.
    valid : bool (n,)
    bq : tuple of n_sec tuples (b0, b1, b2, a1, a2), n_sec >= 1
        The band-pass sections (a0 = 1); a tuple, so the sections unroll like the harmonics.
        ``((1.0, 0.0, 0.0, 0.0, 0.0),)`` passes the data through unchanged.
    zi_unit, zi, pending_reset
        As in ``sos_filter`` (the state is updated).
    cos_t, sin_t : float64 (n_h, period)
        ``cos(2 pi k f0 m / fs)`` over one exact period of the mains in samples.
    mu : tuple of n_h floats (n_h >= 1)
        Step size per harmonic.
    pll_gain, max_dw : float
        Gain of the frequency loop and the largest frequency error followed (rad/sample).
    amp : float64 (n_ch, n_h, 2)
        Re and Im of each harmonic's amplitude, updated.
    dw : float64 (n_ch,)
        Frequency error estimate, rad/sample, updated.
    ema : float64 (n_ch,)
        Running mean |residual| (``ema_n`` samples), updated.
    hold : int64 (n_ch, 2)
        Samples left in a freeze, and the length of the current freeze (negative while
        adaptation is forced), updated.
    turn_state : float64 (n_ch, 2)
        Phase corrections gathered since the last turn, and 1 / the fundamental's power
        (0 while it is too weak to lock on), updated.
    out : float32 (n_ch, n)
    """
    n_ch, n = x.shape
    n_h = len(mu)
    period = cos_t.shape[1]
    f32 = np.float32
    zero, one = f32(0.0), f32(1.0)
    alpha = f32(1.0 / ema_n)
    g_pll = f32(pll_gain * 2.0 * mu[0])
    max_w = f32(max_dw)
    clip32, freeze32 = f32(clip_k), f32(freeze_k)
    f_hold = f32(hold_n)
    f_max = f32(max_frozen_n)
    # per phase of the mains period: cos, sin, and both scaled by the step size 2 mu_k
    tab = np.empty((period, 4 * n_h), np.float32)
    for p in range(period):
        for k in range(n_h):
            tab[p, k] = cos_t[k, p]
            tab[p, n_h + k] = sin_t[k, p]
            tab[p, 2 * n_h + k] = 2.0 * mu[k] * cos_t[k, p]
            tab[p, 3 * n_h + k] = 2.0 * mu[k] * sin_t[k, p]
    # rows of the canceller's state: re_k at k, im_k at n_h + k, then these
    W, LEV, H0, H1, TURN, INV_P2 = 2 * n_h, 2 * n_h + 1, 2 * n_h + 2, 2 * n_h + 3, 2 * n_h + 4, 2 * n_h + 5
    n_sec = len(bq)
    PEND = 2 * n_sec  # rows of the band-pass state: z0, z1 per section, then the restart flag
    s = np.empty((2 * n_h + 6, LANES), np.float32)
    z = np.empty((PEND + 1, LANES))
    buf = np.empty((BLOCK, LANES), np.float32)
    for c0 in range(0, n_ch, LANES):
        n_l = min(LANES, n_ch - c0)
        n_v = min(LANES, (n_l + 7) // 8 * 8)  # lanes of the canceller: whole vectors of 8 float32
        n_4 = min(LANES, (n_l + 3) // 4 * 4)  # lanes of the band-pass: whole vectors of 4 float64
        s[:] = 0.0
        z[:] = 0.0
        buf[:] = 0.0
        for l in range(n_l):
            c = c0 + l
            for k in range(n_h):
                s[k, l] = amp[c, k, 0]
                s[n_h + k, l] = amp[c, k, 1]
            s[W, l] = dw[c]
            s[LEV, l] = ema[c]
            s[H0, l] = hold[c, 0]
            s[H1, l] = hold[c, 1]
            s[TURN, l] = turn_state[c, 0]
            s[INV_P2, l] = turn_state[c, 1]
            for q in range(n_sec):
                z[2 * q, l] = zi[c, q, 0]
                z[2 * q + 1, l] = zi[c, q, 1]
            z[PEND, l] = 1.0 if pending_reset[c] else 0.0
        restart = False  # some lane must restart its band-pass at the next valid sample
        for l in range(n_l):
            restart |= z[PEND, l] > 0.0
        ph = first_sample % period
        rot = first_sample % ROTATE_EVERY
        for b0 in range(0, n, BLOCK):
            n_b = min(BLOCK, n - b0)
            for l in range(n_l):  # along rows: x may be a view of a longer array (any row stride)
                for j in range(n_b):
                    buf[j, l] = x[c0 + l, b0 + j]
            for j in range(n_b):
                if b0 + j > 0:  # counters instead of a modulo per sample
                    ph += 1
                    if ph == period:
                        ph = 0
                    rot += 1
                    if rot == ROTATE_EVERY:
                        rot = 0
                if not valid[b0 + j]:
                    for l in range(n_v):
                        buf[j, l] = 0.0
                    for l in range(n_l):
                        z[PEND, l] = 1.0
                    restart = True
                    continue
                if restart:  # band-pass state at the steady state for this sample's value
                    for l in range(n_l):
                        if z[PEND, l] > 0.0:
                            for q in range(n_sec):
                                z[2 * q, l] = zi_unit[q, 0] * np.float64(buf[j, l])
                                z[2 * q + 1, l] = zi_unit[q, 1] * np.float64(buf[j, l])
                            z[PEND, l] = 0.0
                    restart = False
                if rot == 0:
                    for l in range(n_v):
                        # the frequency loop: apply the phase corrections gathered since the last
                        # turn (normalised by the fundamental's power, only when it is clear)
                        p2 = s[0, l] * s[0, l] + s[n_h, l] * s[n_h, l]
                        w = s[W, l]
                        inv_p2 = s[INV_P2, l]
                        # (+ 0 keeps w bit for bit: it is never -0.0; storing w itself back
                        # would make the compiler emit a slow masked store)
                        w = _pick(inv_p2 > zero, min(max(w - g_pll * s[TURN, l] * inv_p2, -max_w), max_w), w + zero)
                        s[W, l] = w
                        s[TURN, l] = zero
                        # (selects, not a branch: with a branch the compiler peeled a lane off this
                        # loop and it ran slower; dividing by 1 when unclear: no division by zero)
                        clear = p2 > f32(16.0) * s[LEV, l] * s[LEV, l]
                        s[INV_P2, l] = _pick(clear, one / _pick(clear, p2, one), zero)
                        # turn each phasor by its share of the frequency error (every few samples)
                        for k in range(n_h):
                            ang = f32((k + 1) * ROTATE_EVERY) * w
                            cr = one - f32(0.5) * ang * ang
                            r0 = s[k, l]
                            s[k, l] = r0 * cr - s[n_h + k, l] * ang
                            s[n_h + k, l] = r0 * ang + s[n_h + k, l] * cr
                # the band-pass (sos_filter's arithmetic, float64) in a loop of its own: in one loop
                # with the float32 canceller, the compiler would make both 4 lanes wide
                for l in range(n_4):
                    v = np.float64(buf[j, l])
                    for q in range(n_sec):
                        y = bq[q][0] * v + z[2 * q, l]
                        z[2 * q, l] = bq[q][1] * v - bq[q][3] * y + z[2 * q + 1, l]
                        z[2 * q + 1, l] = bq[q][2] * v - bq[q][4] * y
                        v = y
                    buf[j, l] = v
                for l in range(n_v):
                    xv = buf[j, l]
                    m = zero
                    for k in range(n_h):
                        m += s[k, l] * tab[ph, k] - s[n_h + k, l] * tab[ph, n_h + k]
                    e = xv - m
                    buf[j, l] = e
                    lev = s[LEV, l]
                    lim = clip32 * lev
                    lev += alpha * (min(abs(e), lim) - lev)
                    s[LEV, l] = lev
                    h1 = s[H1, l]
                    h0 = _pick((abs(e) > freeze32 * lev) & (h1 >= zero), f_hold, s[H0, l])
                    frozen = h0 > zero  # frozen: no adaptation
                    over = h1 + one > f_max
                    s[H0, l] = _pick(frozen, _pick(over, zero, h0 - one), h0)
                    s[H1, l] = _pick(frozen, _pick(over, -f_max, h1 + one),
                                     _pick(h1 > zero, zero, _pick(h1 < zero, h1 + one, h1)))
                    ecc = min(max(e, -lim), lim)  # clipped (Huber) error: a spike's pull is bounded
                    # (+ 0 while frozen: the sum is never -0.0, so it stays bit for bit)
                    s[TURN, l] += _pick(frozen, zero, ecc * (s[0, l] * tab[ph, n_h] + s[n_h, l] * tab[ph, 0]))
                    ec = _pick(frozen, zero, ecc)
                    for k in range(n_h):
                        s[k, l] += ec * tab[ph, 2 * n_h + k]
                        s[n_h + k, l] -= ec * tab[ph, 3 * n_h + k]
            for l in range(n_l):
                for j in range(n_b):
                    out[c0 + l, b0 + j] = buf[j, l]
        for l in range(n_l):
            c = c0 + l
            for k in range(n_h):
                amp[c, k, 0] = s[k, l]
                amp[c, k, 1] = s[n_h + k, l]
            dw[c] = s[W, l]
            ema[c] = s[LEV, l]
            hold[c, 0] = np.int64(s[H0, l])
            hold[c, 1] = np.int64(s[H1, l])
            turn_state[c, 0] = s[TURN, l]
            turn_state[c, 1] = s[INV_P2, l]
            for q in range(n_sec):
                zi[c, q, 0] = z[2 * q, l]
                zi[c, q, 1] = z[2 * q + 1, l]
            pending_reset[c] = z[PEND, l] > 0.0


@jit
def unit_correlations(wave, templates, max_lag, out):
    """Largest normalised cross-correlation of ``wave`` with each template, into ``out``.

    Parameters
    ----------
    wave : float64 (n,)
        One waveform in µV.
    templates : float64 (k, n)
        Unit templates, same length as ``wave``.
    max_lag : int
        Lags searched, in samples (cut to ``(n - 3) // 2`` for short waveforms); the
        overlapping parts ``[max_lag, n - max_lag)`` are compared.
    out : float64 (k,)
        Per template, the best correlation over ``|lag| <= max_lag`` (-1 where a side is flat).
    """
    k, n = templates.shape
    lags = 2 * _lag_reach(n, max_lag) + 1
    mean = np.empty((k, lags))
    ss = np.empty((k, lags))
    for t in range(k):
        _template_stats(templates[t], max_lag, mean[t], ss[t])
    _correlations(wave, templates, mean, ss, max_lag, out)


@jit
def _lag_reach(n, max_lag):
    """The lags searched for waveforms of ``n`` samples: ``max_lag``, cut for short ones."""
    return max_lag if n > 2 * max_lag + 2 else max(0, (n - 3) // 2)


@jit
def _template_stats(template, max_lag, mean, ss):
    """Per lag (index ``max_lag + lag``): mean and sum of squared deviations of the template's
    part that :func:`unit_correlations` compares, into ``mean`` and ``ss``."""
    n = template.shape[0]
    reach = _lag_reach(n, max_lag)
    m = n - 2 * reach
    for o in range(2 * reach + 1):
        s = 0.0
        for i in range(m):
            s += template[o + i]
        my = s / m
        syy = 0.0
        for i in range(m):
            d = template[o + i] - my
            syy += d * d
        mean[o] = my
        ss[o] = syy


@jit
def _correlations(wave, templates, mean, ss, max_lag, out):
    """:func:`unit_correlations` with each template's :func:`_template_stats` given."""
    n = wave.shape[0]
    reach = _lag_reach(n, max_lag)
    m = n - 2 * reach
    x = np.empty(m)
    s = 0.0
    for i in range(m):
        s += wave[reach + i]
    mx = s / m
    sxx = 0.0
    for i in range(m):
        x[i] = wave[reach + i] - mx
        sxx += x[i] * x[i]
    for t in range(templates.shape[0]):
        best = -np.inf
        for o in range(2 * reach + 1):
            my = mean[t, o]
            sxy = 0.0
            for i in range(m):
                sxy += (templates[t, o + i] - my) * x[i]
            den = np.sqrt(sxx * ss[t, o])
            c = sxy / den if den > 0 else -1.0
            best = max(best, c)
        out[t] = best


def railed_runs(x, run_val, run_len, flat_n, first_sample, block_n, counts):
    """Count, per channel and block, the samples at least ``flat_n`` into a run of identical
    raw values (a railed input).

    Parameters
    ----------
    x : float32 (n_ch, n)
        Raw input in µV, absolute samples ``first_sample`` on; each row contiguous (a view
        of a recording's rows is): the rows go one by one to a kernel that checks stretches
        of samples for equal neighbours in vector instructions.
    run_val : float64 (n_ch,)
        Last raw sample before ``x`` (NaN at the start); updated in place.
    run_len : int64 (n_ch,)
        Length of the run that sample ended; updated in place.
    flat_n : int
        Run length (samples) from which a sample counts as railed.
    first_sample, block_n : int
        Absolute index of ``x[:, 0]``; block length in samples (blocks on the absolute grid).
    counts : int64 (n_ch, n_blocks)
        ``counts[c, k]`` is increased by the railed samples of channel ``c`` in absolute block
        ``first_sample // block_n + k`` (a block split over two calls adds up).
    """
    for c in range(x.shape[0]):
        run_val[c], run_len[c] = _railed_row(x[c], run_val[c], run_len[c], flat_n, first_sample, block_n, counts[c])


_RAILED_STRETCH = 256  # samples checked at once for equal neighbours


@jit
def _railed_row(x, prev, r, flat_n, first_sample, block_n, counts):
    """One channel of :func:`railed_runs`; returns the updated (last value, run length).

    Noise has almost never two equal neighbours: a stretch without any (a count the
    compiler vectorises) leaves every run there at length 1, nothing railed, and only
    stretches with one are walked sample by sample.
    """
    n = len(x)
    b0 = first_sample // block_n
    i = 0
    while i < n:
        g = first_sample + i
        stop = min(n, i + _RAILED_STRETCH, (g // block_n + 1) * block_n - first_sample)  # within one block
        same = np.int64(x[i] == prev)
        a = x[i + 1 : stop]
        b = x[i : stop - 1]
        for j in range(len(a)):
            same += a[j] == b[j]
        if same == 0:
            prev = np.float64(x[stop - 1])
            r = 1
        else:
            k = 0
            for j in range(i, stop):
                v = np.float64(x[j])
                if v == prev:
                    r += 1
                else:
                    r = 1
                prev = v
                k += r >= flat_n
            counts[g // block_n - b0] += k
        i = stop
    return prev, r


@jit
def assign_units(channels, waves, amps, times, min_corr, max_amp_ratio, max_lag, memory, tpl, tpl_mean, tpl_ss,
                 tpl_amp, tpl_count, tpl_first, tpl_last, n_units, out, match_only, match_corr, match_count,
                 match_gap, matched, matched_last):
    """On-line leader clustering of waveforms into putative motor units (see :mod:`emg.units`).

    Events are taken in order; each joins, among its channel's units whose peak-to-peak is
    within a factor ``max_amp_ratio``, the last one with the best correlation
    (:func:`unit_correlations`) of at least ``min_corr``, or starts a new unit (none beyond
    ``tpl.shape[1]`` units per channel: unit -1). A unit's template and amplitude are running
    means over its last ``memory`` members.

    An event with ``match_only`` set changes no template: it gets the first unit with the
    best correlation of at least ``match_corr`` among those of at least ``match_count``
    members whose last member (``tpl_last``, ``matched_last``) is at least ``match_gap`` s
    before it and whose size is within ``max_amp_ratio``, counted in ``matched`` and
    ``matched_last``; else -1.

    Parameters
    ----------
    channels : int64 (m,)
    waves : float32 or float64 (m, n)
        Waveforms in µV, peak at the centre.
    amps, times : float64 (m,)
        Peak-to-peak µV and time in s of each event.
    tpl : float64 (n_ch, max_units, n)
    tpl_mean, tpl_ss : float64 (n_ch, max_units, 2 * max_lag + 1)
        Each template's :func:`_template_stats` (kept with it: a template changes only when
        a member joins, and is compared with every later event of its channel).
    tpl_amp, tpl_first, tpl_last : float64 (n_ch, max_units)
    tpl_count : int64 (n_ch, max_units)
    n_units : int64 (n_ch,)
        Units per channel; all of these are updated in place.
    out : int64 (m,)
        1-based unit per event, -1 when none.
    match_only : bool (m,)
    matched : int64 (n_ch, max_units)
    matched_last : float64 (n_ch, max_units)
        Members found by matching and the time of the last one, updated.
    """
    m, n = waves.shape
    max_units = tpl.shape[1]
    corrs = np.empty(max_units)
    wave = np.empty(n)
    for e in range(m):
        any_nonzero = False
        for i in range(n):
            wave[i] = np.float64(waves[e, i])
            if wave[i] != 0.0:
                any_nonzero = True
        if n < 3 or not any_nonzero:
            out[e] = -1
            continue
        c = channels[e]
        k = n_units[c]
        if k:
            _correlations(wave, tpl[c, :k], tpl_mean[c, :k], tpl_ss[c, :k], max_lag, corrs)
        if match_only[e]:
            best = -1
            best_corr = -np.inf
            for u in range(k):
                ratio = amps[e] / max(tpl_amp[c, u], 1e-12)
                if (tpl_count[c, u] >= match_count and times[e] - max(tpl_last[c, u], matched_last[c, u]) >= match_gap
                        and 1.0 / max_amp_ratio <= ratio <= max_amp_ratio and corrs[u] >= match_corr
                        and corrs[u] > best_corr):
                    best = u
                    best_corr = corrs[u]
            if best >= 0:
                matched[c, best] += 1
                matched_last[c, best] = max(matched_last[c, best], times[e])
            out[e] = best + 1 if best >= 0 else -1
            continue
        best = -1
        best_corr = min_corr
        for u in range(k):
            ratio = amps[e] / max(tpl_amp[c, u], 1e-9)
            if 1.0 / max_amp_ratio <= ratio <= max_amp_ratio and corrs[u] >= best_corr:
                best = u
                best_corr = corrs[u]
        if best < 0:
            if k >= max_units:
                out[e] = -1
                continue
            best = k
            n_units[c] = k + 1
            for i in range(n):
                tpl[c, best, i] = wave[i]
            tpl_amp[c, best] = 0.0
            tpl_count[c, best] = 0
            tpl_first[c, best] = times[e]
        weight = 1.0 / min(tpl_count[c, best] + 1, memory)
        if tpl_count[c, best]:
            for i in range(n):
                tpl[c, best, i] = (1 - weight) * tpl[c, best, i] + weight * wave[i]
        _template_stats(tpl[c, best], max_lag, tpl_mean[c, best], tpl_ss[c, best])
        tpl_amp[c, best] += weight * (amps[e] - tpl_amp[c, best])
        tpl_count[c, best] += 1
        tpl_last[c, best] = times[e]
        out[e] = best + 1
