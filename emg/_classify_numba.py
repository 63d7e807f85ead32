"""Numba kernel of the classifier (private): on-line shape families over a batch of events.

:meth:`emg.classify.ShapeFamilies.assign` is the plain-NumPy reference; ``tests/test_classify.py``
checks that both give the same families.
"""

from __future__ import annotations

import math

import numpy as np

from ._numba import jit

__all__ = ["assign_families"]


@jit
def assign_families(channels, waves, amps, tpl, amp, ids, used, count, state, min_corr, max_ratio, out):
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
