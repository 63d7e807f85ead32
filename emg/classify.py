"""Event labels: ``fasciculation``, ``ecg`` or ``artifact``; doublets and multiplets counted once.

The rules are few, fixed and documented here; thresholds are keyword arguments of
:class:`EventClassifier`. They were set on simulator seeds 1000-1019 (see
``benchmarks/eval_detector.py``, which evaluates on other seeds) and on physiology, not on
the evaluation cases.

**Shape families.** Every event is matched, per channel, to a running family of
near-identical waveforms (normalised correlation ≥ ``family_corr`` 0.85 and peak-to-peak
within a factor ``family_amp`` 1.6). Heartbeats of one lead form one family; each
fasciculating motor unit forms its own.

**ECG** (heartbeats are regular, fasciculations are not). An event is a heartbeat when, with
three other members of its family next to it in time, it makes a regular run of four: the
three intervals are one beat period between 0.333 and 1.5 s (40-180 per minute), one of
them may be two periods (a missed beat), each within ``rhythm_tol`` (10 %) of a period
(:func:`regular_run`; family members < 0.1 s apart count as one beat), and its family beats: at least 5 of its members within ±6.2 s are
in such runs, and they are at least 60 % of them. A motor unit firing at random passes
this only by a rare chance (tested at 12/min). An event
coinciding (±``coincidence_ms``) with a heartbeat on another channel is a heartbeat too
when its family already holds heartbeats. Events of a heartbeat complex split into several
(Q, R, S: from ``-40`` to ``+90`` ms of a beat on any channel), or of a lead too small for
its own rhythm, are heartbeats when their family lands next to beats at least 3 times and
in ≥ 60 % of its members (a motor unit firing at random lands there ~15 % of the time); a
family's history counts the members labelled before each event in time, so the result does not
depend on the chunking.
Small events (SNR < ``small_snr``, 12: too noisy for a reliable shape) next to a beat, and no
later than ``small_reach_ms`` (50 ms; None: no bound) after the first event of its complex (beat
events on any channel < 0.1 s apart are one complex), are heartbeats on a channel where most events
(≥ 50 %, ≥ 20) land next to beats (the bound: a small discharge 80-140 ms after the R lies next to
the S piece, not inside the QRS). Lag-locked:
an event at the same delay (±``lag_tol_ms`` 12 ms, within -60..+90 ms) from the first event of
a heartbeat complex of its channel as ≥ 3 other events of similar size (factor ``lag_amp`` 3)
within ±12 s is part of the complex (12 ms: when the detector's dead time after the R cuts into
an S wave, its detected peak moves by up to ~10 ms and it looks smaller); a family next to beats only every few beats (too sparse
for ±12 s) is judged on its whole history (≥ 5 members and ≥ 60 % next to beats); a heartbeat
family (``family_beats``: ≥ 20 earlier members, ≥ 90 % of them next to beats) makes its event a
heartbeat even with no beat detected near it (the other leads inside a contraction, say: tuning
seeds 1000-1003, mixed false calls on ECG 37 → 33; no other change on 100-103/1000-1003). Satellites:
an event with SNR < ``satellite_snr`` (20) from 30 ms before to 60 ms after a heartbeat event on
the same channel at least ``satellite_parent`` (1) times its size is a piece of that complex
and no later than ``satellite_reach_ms`` (50 ms, as ``small_reach_ms``) after the first event of that complex is a
piece of it (Q and S waves are smaller than the R they flank and a QRS lasts < 100 ms; a small
heartbeat piece is no parent and the reach is bounded, so a complex does not reach further and
further through its own small pieces; a discharge there is lost: about 1 % of them at 70 beats
per minute, more for small ones). An event within 25 ms of a heartbeat on the same channel, of the same size (±20 %) and
the same waveform once aligned (correlation ≥ 0.9), is that beat found twice. **Template
subtraction**: the
family's mean waveform as it stood when the beat joined the family (its earlier members and
itself, so later beats - and hence chunk sizes - do not change it), scaled by least squares
(±5 ms), is subtracted from every
would-be heartbeat; a residual above ``max(residual_k × noise, residual_frac × its
peak-to-peak)`` (8 × noise, 20 %) means a discharge rides on the beat: it is a
fasciculation, and (``relocate``) it is placed at the residual's largest deflection, the
discharge's own peak (up to ±19 ms from the detected one, which was the R), with the residual's
peak-to-peak as its size (``rider_size``: the beat's would keep a doublet from forming); the beat's QRS keeps
its blanking window, so a rider inside the window is blanked like any discharge there.
(:func:`subtract_template` does the same on a signal.)

**ECG blanking**: a discharge inside a large QRS cannot be told apart by surface EMG, nor
found next to it: the detector drops a smaller event in the shadow of a larger one, before
it (a split-off leading phase) and after it (the filters' tail), with the shadow
``shadow`` (60 % of the larger peak, decaying with 20 ms: :class:`emg.detect.Detector`).
Around every heartbeat event with SNR ≥ ``blank_snr`` (20) a window of at least
``-blank_ms[0]..+blank_ms[1]`` (15, 25 ms) is blanked, widened on each side (up to
``blind_max_ms``, 60 ms: the detector's backward look-ahead) for as long as the beat's shadow
hides a discharge whose peak is ``blind_k`` (4) × noise, the peak of the smallest discharge
that is counted (peak-to-peak ``min_snr`` 8 × noise, about twice its peak). Would-be
fasciculations there are not listed (``counts["blanked"]``), nor (``blank_groups``) the rest of
a doublet or multiplet whose first discharge is blanked (a group counts at its first
discharge, as the rate's valid time does), and the windows
(:meth:`EventClassifier.blanked_intervals`) leave valid rest time, so the rate is the count
outside them over the time outside them: the time the detector is blind is not observed
time (at 65-80/min on a simulated chest lead about 14 % of the time, 9 % with the fixed
window alone: ``blind_k=None``; ``blank_snr=None`` turns blanking off).

**Artifact**: peak-to-peak above ``artifact_uv`` (2500 µV, larger than surface
fasciculations); inside an artefact segment (movement, electrode pop, saturation: see
:mod:`emg.segments`); or common mode: on ≥ ``common_fraction`` (75 %) of the other channels
at once, with at least three channels, and not a heartbeat (heartbeat events on the other
channels do not count: a discharge under or beside a beat is not common mode); or a small event (SNR
``min_snr``-``common_snr``, 8-15) with such an event on another channel within ±20 ms (mostly a faint
heartbeat detected too rarely for a rhythm; on several channels over one muscle this also
drops small discharges seen twice); or mains-shaped: ≥ ``mains_fraction`` (85 %) of the
waveform's energy (±25 ms, mean removed) is one sinusoid at the mains frequency - a burst
the mains canceller left behind (e.g. after the mains pick-up jumped with an electrode's
contact); a motor unit potential of 2-4 phases in 5-20 ms is never that narrow-band
(simulated scenarios: at most 0.76, 99 % below 0.51).

**Echoes**: a would-be fasciculation less than ``echo_s`` (60 ms) after a larger event (not a
heartbeat) on the same channel and smaller than ``echo_ratio`` (50 %) of it is a ring of the filters or a
late phase of the same potential, not a new discharge; it is not listed (late phases of a
polyphasic potential, detected 15-20 ms after its main peak, reach 40-50 % of it). (The segmenter's
burst rule gets its events through :class:`EchoFilter`, the same rule.) A real second
discharge of the same unit (a doublet) has about the same size.

**Faint**: a would-be fasciculation with SNR (peak-to-peak over noise RMS) below ``min_snr``
(8; the analysis detects at 4.5 x noise, see :data:`emg.pipeline.DETECTOR_DEFAULTS`) is a crossing at noise level, most often the peak of a faint heartbeat too small for
any rhythm: it is not listed (counted in ``counts["faint"]``). On simulations this drops
about 1 % of true discharges and nearly all faint-ECG false ones. Optionally (``wide_snr``, off by
default) an event down to ``wide_snr`` is kept when its support lasts ≥ ``wide_ms`` (4 ms, and
≥ 2 samples): a motor unit potential is wider than a noise crossing (1-2 samples). Tuning
seeds, 15 x 10 min x 4 ch: ``wide_snr=6`` takes low-snr F1 0.901 -> 0.907 and its rate error
-15.6 -> -14.1 %, but quiet rest 0.3 -> 1.1 false per hour, so it stays off. With ``rescue_snr``
(off by default) a faint would-be fasciculation of SNR ``rescue_snr``-``min_snr`` with no other
event of SNR ≥ ``min_snr`` (not a heartbeat) within ``multiplet_s[1]`` on its channel, outside the
ECG blanking, is listed with the label :data:`FAINT_CANDIDATE` (``"faint"``) for a second look
(:class:`emg.pipeline.Analyzer` keeps it when it repeats a known motor unit's shape, else drops it).

**Excluded**: events inside voluntary, cramp, myokymia, noisy or gap segments are dropped;
those segments carry them.

**Multiplets**: a fasciculation followed on the same channel by another within
``multiplet_s`` (10-110 ms) of similar size (factor ``multiplet_amp`` 2) is the same
discharge group: one row, the first, with ``multiplicity`` 2, 3, ... Events closer than
``min_separation_ms`` (8 ms) are one discharge.

**Hidden first discharge**: of two potentials of a doublet 13-21 ms apart the detector may list
only the second. A would-be fasciculation whose waveform holds, ``hidden_ms`` (13-21 ms) before
its peak, a copy of the potential at its peak (the cores, ±``hidden_core_ms`` 4 ms, correlate
≥ ``hidden_corr`` 0.8, peak-to-peak within a factor ``hidden_amp`` 1.4) is moved to that copy,
so the group is counted at its first discharge (not when the detector listed an event of the
channel there, within ``min_separation_ms``: that is the first discharge, a row of its own;
not done below 750 Hz, where a core has < 7 samples; ``hidden_corr=None`` turns it off). Tuning seeds (cached detector, 15 x 10 min x 4 ch
chest-ecg, 5 for the others): false calls chest-ecg 52 -> 34, clean 8 -> 2, mixed 48 -> 39.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

from .types import Events

#: the classifier's per-event arrays, kept aligned with its buffer of events
_PER_EVENT = ("_fam", "_prior", "_has_prior", "_anchor", "_locked", "_ecg", "_carried", "_shift", "_size")

__all__ = ["FAINT_CANDIDATE", "EchoFilter", "EventClassifier", "ShapeFamilies", "mains_share", "regular_run", "regular_triple", "subtract_template"]

RR_MIN_S, RR_MAX_S = 60.0 / 180.0, 60.0 / 40.0
#: label of a faint would-be fasciculation listed for a second look (``rescue_snr``)
FAINT_CANDIDATE = "faint"
#: how far (s) a discharge riding on a heartbeat can be moved from the detected peak (the
#: detector's waveform reaches ±25 ms)
RELOCATE_MAX_S = 0.030
#: how far (s) past the rows being labelled the per-event heartbeat decisions are made first:
#: the beat-locked flags (the satellite rule looks 30 ms ahead of a row for a beat) and the
#: final heartbeat flags (blanking windows reach up to 60 ms back from a beat, common mode 20 ms)
STAGE_LOCKED_S, STAGE_FINAL_S = 0.15, 0.10


def _merge_windows(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Union of intervals ``[start, end]`` as sorted, disjoint (start, end) arrays."""
    order = np.argsort(start, kind="stable")
    a, b = start[order], np.maximum.accumulate(end[order])
    first = np.flatnonzero(np.r_[True, a[1:] > b[:-1]])
    last = np.r_[first[1:], len(a)] - 1
    return a[first], b[last]


def regular_run(intervals_s, tol: float = 0.10) -> bool:
    """Whether successive intervals (s) fit one beat period of 40-180/min.

    Each interval must be one period, or two (one missed beat) for at most one of them; every
    interval must match its multiple of the period within ``tol`` of one period. The period is
    taken from each single interval in turn.

    Examples
    --------
    >>> regular_run([0.8, 0.82, 0.79]), regular_run([0.8, 1.62, 0.81]), regular_run([0.8, 1.1, 0.8])
    (True, True, False)
    """
    d = np.asarray(intervals_s, dtype=float)
    for p in d:
        if not RR_MIN_S <= p <= RR_MAX_S:
            continue
        m = np.rint(d / p)
        if np.any((m < 1) | (m > 2)) or np.count_nonzero(m == 2) > 1:
            continue
        if np.all(np.abs(d - m * p) <= tol * p):
            return True
    return False


def _regular_runs(intervals_s: np.ndarray, tol: float) -> np.ndarray:
    """:func:`regular_run` of every window of 3 successive intervals (vectorised)."""
    d = np.asarray(intervals_s, float)
    if len(d) < 3:
        return np.zeros(0, bool)
    D = np.lib.stride_tricks.sliding_window_view(d, 3)
    out = np.zeros(len(D), bool)
    for j in range(3):
        p = D[:, j : j + 1]
        m = np.rint(D / p)
        good = ((p[:, 0] >= RR_MIN_S) & (p[:, 0] <= RR_MAX_S) & np.all((m >= 1) & (m <= 2), axis=1)
                & (np.count_nonzero(m == 2, axis=1) <= 1) & np.all(np.abs(D - m * p) <= tol * p, axis=1))
        out |= good
    return out


def regular_triple(d1: float, d2: float, tol: float = 0.12) -> bool:
    """Two successive single beat periods of 40-180/min, equal within ``tol``."""
    return bool(RR_MIN_S <= d1 <= RR_MAX_S and RR_MIN_S <= d2 <= RR_MAX_S and abs(d1 - d2) <= tol * max(d1, d2))


class ShapeFamilies:
    """Per-channel on-line grouping of events by waveform (leader clustering, no lag search).

    Parameters
    ----------
    n_channels : int
    min_corr : float
        Normalised correlation needed to join a family.
    max_amp_ratio : float
        Peak-to-peak ratio (either way) allowed to join.
    max_families : int
        Per channel; when full, the least recently used family is replaced.
    """

    def __init__(self, n_channels: int, *, min_corr: float = 0.85, max_amp_ratio: float = 1.6,
                 max_families: int = 40):
        self.min_corr = min_corr
        self.max_amp_ratio = max_amp_ratio
        self.max_families = max_families
        self.n_channels = n_channels
        self._tpl: np.ndarray | None = None  # (n_channels, K, n_wave) unit-norm, allocated on first use
        self._amp = np.zeros((n_channels, max_families))
        self._ids = np.full((n_channels, max_families), -1, np.int64)
        self._used = np.zeros((n_channels, max_families), np.int64)
        self._count = np.zeros((n_channels, max_families), np.int64)
        self._next_id = 0
        self._tick = 0

    @staticmethod
    def _norm(w: np.ndarray) -> np.ndarray:
        w = np.asarray(w, np.float64)
        w = w - w.mean()
        n = math.sqrt(float(np.dot(w, w)))
        return w / n if n > 0 else w

    def template(self, channel: int, family: int) -> np.ndarray | None:
        """The unit-norm mean waveform of a family still held, else None."""
        k = np.flatnonzero(self._ids[channel] == family)
        return None if not len(k) or self._tpl is None else self._tpl[channel, int(k[0])].copy()

    def assign_many(self, channels: np.ndarray, waveforms: np.ndarray, amplitudes_uv: np.ndarray,
                    prior: np.ndarray | None = None, has_prior: np.ndarray | None = None) -> np.ndarray:
        """Family ids of a batch of events, in order (the compiled kernel; same result as :meth:`assign`).

        With ``prior`` (n, n_wave) and ``has_prior`` (n,): filled with the template of the
        family each event joined as it stood once the event joined (False: it started a family).
        """
        from ._classify_numba import assign_families

        n = len(channels)
        out = np.empty(n, np.int64)
        if n == 0:
            return out
        if self._tpl is None:
            self._tpl = np.zeros((self.n_channels, self.max_families, waveforms.shape[1]))
        if prior is None:
            prior = np.empty((n, waveforms.shape[1]))
            has_prior = np.empty(n, np.bool_)
        state = np.array([self._next_id, self._tick], np.int64)
        assign_families(np.ascontiguousarray(channels, np.int64), np.ascontiguousarray(waveforms, np.float32),
                        np.ascontiguousarray(amplitudes_uv, np.float64), self._tpl, self._amp, self._ids,
                        self._used, self._count, state, float(self.min_corr), float(self.max_amp_ratio), out,
                        prior, has_prior)
        self._next_id, self._tick = int(state[0]), int(state[1])
        return out

    def assign(self, channel: int, waveform: np.ndarray, amplitude_uv: float) -> int:
        """Family id of one event (new families get new ids; ids are unique across channels).

        The plain-NumPy reference of :meth:`assign_many`."""
        self._tick += 1
        w = self._norm(waveform)
        if self._tpl is None:
            self._tpl = np.zeros((self.n_channels, self.max_families, len(w)))
        ids = self._ids[channel]
        live = ids >= 0
        if live.any():
            corr = self._tpl[channel] @ w
            ratio = amplitude_uv / np.maximum(self._amp[channel], 1e-9)
            ok = live & (corr >= self.min_corr) & (ratio <= self.max_amp_ratio) & (ratio >= 1 / self.max_amp_ratio)
            if ok.any():
                k = int(np.argmax(np.where(ok, corr, -2)))
                n = min(int(self._count[channel, k]) + 1, 30)
                self._tpl[channel, k] = self._norm((1 - 1 / n) * self._tpl[channel, k] + (1 / n) * w)
                self._amp[channel, k] += (amplitude_uv - self._amp[channel, k]) / n
                self._count[channel, k] += 1
                self._used[channel, k] = self._tick
                return int(ids[k])
        fid = self._next_id
        self._next_id += 1
        free = np.flatnonzero(~live)
        k = int(free[0]) if len(free) else int(np.argmin(self._used[channel]))
        self._tpl[channel, k] = w
        self._amp[channel, k] = amplitude_uv
        ids[k] = fid
        self._used[channel, k] = self._tick
        self._count[channel, k] = 1
        return fid


def subtract_template(signal_uv: np.ndarray, beats: np.ndarray, half_n: int) -> np.ndarray:
    """Subtract the mean beat (±``half_n`` samples around each index in ``beats``) from a 1-D signal.

    Returns a copy; beats too close to the ends are left alone.
    """
    x = np.asarray(signal_uv, np.float64).copy()
    beats = np.asarray(beats, np.int64)
    inner = beats[(beats >= half_n) & (beats + half_n < len(x))]
    if len(inner) == 0:
        return x
    idx = inner[:, None] + np.arange(-half_n, half_n + 1)[None, :]
    template = x[idx].mean(axis=0)
    for i in inner:
        x[i - half_n : i + half_n + 1] -= template
    return x


def mains_share(waveforms: np.ndarray, fs: float, mains_hz: float) -> np.ndarray:
    """Share of each waveform's energy (mean removed) in one sinusoid at ``mains_hz``: the
    squared norm of its projection on the cosine and sine at that frequency (orthonormalised
    over the waveform's samples) over its squared norm. A pure mains burst gives ~1."""
    w = np.asarray(waveforms, np.float64)
    if not w.size:
        return np.zeros(len(w))
    w = w - w.mean(axis=1, keepdims=True)
    proj = w @ _mains_basis(w.shape[1], float(fs), float(mains_hz))
    return np.einsum("ij,ij->i", proj, proj) / np.maximum(np.einsum("ij,ij->i", w, w), 1e-12)


@functools.lru_cache(maxsize=8)
def _mains_basis(n: int, fs: float, mains_hz: float) -> np.ndarray:
    """Orthonormal (n, 2) basis of the cosine and sine at ``mains_hz`` over ``n`` samples."""
    phase = 2 * np.pi * mains_hz * np.arange(n) / fs
    basis, _ = np.linalg.qr(np.stack([np.cos(phase), np.sin(phase)], axis=1))
    basis.setflags(write=False)
    return basis


def _pairs(t: np.ndarray, rows: np.ndarray, lo_s: float, hi_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Every pair ``(k, j)`` with ``t[rows[k]] + lo_s <= t[j] <= t[rows[k]] + hi_s`` for sorted
    ``t`` (a 1 ns margin: callers test their exact condition on the pairs)."""
    a = np.searchsorted(t, t[rows] + (lo_s - 1e-9), "left")
    b = np.searchsorted(t, t[rows] + (hi_s + 1e-9), "right")
    cnt = b - a
    k = np.repeat(np.arange(len(rows)), cnt)
    j = a[k] + np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    return k, j


def _complex_start(t: np.ndarray, ch: np.ndarray, beat: np.ndarray, n_channels: int) -> np.ndarray:
    """For every heartbeat event (``beat``), the time of the first event of its complex on its
    channel (heartbeat events less than 0.1 s apart are one complex); NaN elsewhere."""
    out = np.full(len(t), np.nan)
    for c in range(n_channels):
        idx = np.flatnonzero(beat & (ch == c))
        if not len(idx):
            continue
        tt = t[idx]
        start = np.diff(tt, prepend=-np.inf) > 0.1
        out[idx] = tt[np.flatnonzero(start)[np.cumsum(start) - 1]]
    return out


class EchoFilter:
    """Streaming removal of echoes (see the module docstring): small events right after big ones.

    Parameters
    ----------
    n_channels : int
    echo_s : float
        How long after an event smaller ones may be its echoes (s).
    echo_ratio : float
        An echo is smaller than this fraction of the event before it.
    """

    def __init__(self, n_channels: int, *, echo_s: float = 0.060, echo_ratio: float = 0.4):
        self.echo_s = echo_s
        self.echo_ratio = echo_ratio
        self._last_t = np.full(n_channels, -np.inf)  # time of the last kept big event
        self._last_amp = np.zeros(n_channels)
        self.removed = 0

    def __call__(self, events: Events) -> Events:
        if not len(events):
            return events
        keep = np.ones(len(events), bool)
        last_t, last_amp = self._last_t.tolist(), self._last_amp.tolist()  # Python floats: a fast loop
        for i, (ti, c, amp) in enumerate(zip(events.onset_s.tolist(), events.channel.tolist(),
                                             events.amplitude_uv.astype(np.float64).tolist())):
            if ti - last_t[c] <= self.echo_s and amp < self.echo_ratio * last_amp[c]:
                keep[i] = False
                continue
            if ti - last_t[c] > self.echo_s or amp > last_amp[c]:
                last_t[c], last_amp[c] = ti, amp
        self._last_t[:], self._last_amp[:] = last_t, last_amp
        self.removed += int(np.count_nonzero(~keep))
        return events if keep.all() else events.select(keep)


class EventClassifier:
    """Streaming event labeller (rules in the module docstring).

    Feed the detector's events with :meth:`push`, then take the final ones with
    :meth:`pop`, giving the time up to which the segments are final and a function telling
    for event times whether they are rest (0), artifact (1) or excluded (2). Rows come out
    ``delay_s`` (about 25.6 s) behind that time: a heartbeat decision waits for every beat it
    depends on (``beat_final_s``, 12.8 s) and the beat-locked rules count over ±2 contexts of
    such decisions, so any chunking gives the same labels.
    """

    def __init__(self, fs: float, n_channels: int, *, family_corr: float = 0.85, family_amp: float = 1.6,
                 rhythm_tol: float = 0.10, coincidence_ms: float = 20.0, artifact_uv: float = 2500.0,
                 common_fraction: float = 0.75, multiplet_s: tuple[float, float] = (0.010, 0.110),
                 multiplet_amp: float = 2.0, min_separation_ms: float = 8.0, residual_k: float = 8.0,
                 residual_frac: float = 0.2, small_snr: float = 12.0, satellite_snr: float = 20.0,
                 min_snr: float = 8.0, echo_s: float = 0.060, echo_ratio: float = 0.5,
                 common_snr: float = 15.0, lag_tol_ms: float = 12.0,
                 lag_anchor: bool = True, lag_amp: float = 3.0, blank_snr: float | None = 20.0,
                 blank_ms: tuple[float, float] = (15.0, 25.0), satellite_parent: float = 1.0,
                 relocate: bool = True, wide_snr: float | None = None, wide_ms: float = 4.0,
                 satellite_reach_ms: float | None = 50.0, blank_groups: bool = True,
                 blind_k: float | None = 4.0, shadow: tuple[float, float] = (0.6, 20.0),
                 blind_max_ms: tuple[float, float] = (60.0, 60.0), small_reach_ms: float | None = 50.0, rider_size: bool = True,
                 rescue_snr: float | None = None,
                 hidden_corr: float | None = 0.8, hidden_ms: tuple[float, float] = (13.0, 21.0),
                 hidden_amp: float = 1.4, hidden_core_ms: float = 4.0, mains_fraction: float | None = 0.85,
                 family_beats: tuple[int, float] | None = (20, 0.9)):
        self.fs = float(fs)
        self.n_channels = int(n_channels)
        self.rhythm_tol = rhythm_tol
        self.coincidence_s = coincidence_ms * 1e-3
        self.artifact_uv = artifact_uv
        self.common_fraction = common_fraction
        self.multiplet_s = multiplet_s
        self.multiplet_amp = multiplet_amp
        self.rescue_snr = rescue_snr
        self.mains_fraction = mains_fraction
        self.family_beats = family_beats
        #: the mains frequency (Hz) once known (set by :class:`emg.pipeline.Analyzer`); None: rule off
        self.mains_hz: float | None = None
        self.rider_size = rider_size
        self.hidden_corr, self.hidden_ms, self.hidden_amp = hidden_corr, hidden_ms, hidden_amp
        self.hidden_core_ms = hidden_core_ms
        self.min_sep_s = min_separation_ms * 1e-3
        self.residual_k, self.residual_frac = residual_k, residual_frac
        self.small_snr = small_snr
        self.small_reach_s = None if small_reach_ms is None else small_reach_ms * 1e-3
        self.satellite_snr = satellite_snr
        self.satellite_parent = satellite_parent
        self.relocate = relocate
        self.wide_snr, self.wide_ms = wide_snr, wide_ms
        self.satellite_reach_ms = satellite_reach_ms
        self.blank_groups = blank_groups
        self.min_snr = min_snr
        self.echo_s, self.echo_ratio = echo_s, echo_ratio
        self.common_snr = common_snr
        self.lag_tol_s = lag_tol_ms * 1e-3
        self.lag_anchor = lag_anchor
        self.lag_amp = lag_amp
        self.blank_snr = blank_snr
        self.blank_s = (blank_ms[0] * 1e-3, blank_ms[1] * 1e-3)
        self.blind_k = blind_k
        self.shadow_frac, self.shadow_s = shadow[0], shadow[1] * 1e-3
        self.blind_max_s = (blind_max_ms[0] * 1e-3, blind_max_ms[1] * 1e-3)
        # per channel, (start, end) s arrays of the blanking windows recorded so far
        self._blank: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(self.n_channels)]
        self.context_s = 4 * RR_MAX_S + 0.2  # look-ahead and look-back of the rhythm test
        # a heartbeat flag is final once every event it may depend on is in: the family's runs
        # within ±context_s, each reaching up to 4 periods further (one interval may be two)
        self.beat_final_s = self.context_s + 4 * RR_MAX_S * (1 + rhythm_tol) + 0.2
        # rows are labelled this far behind the segments: the beat-locked rules count over
        # ±2 contexts around an event, at final heartbeat flags, and are decided up to
        # STAGE_LOCKED_S past the rows (+ a complex, -90..+40 ms, and a lag of 90 ms: 0.3 s)
        self.delay_s = self.beat_final_s + 2 * self.context_s + 0.3
        self.families = ShapeFamilies(n_channels, min_corr=family_corr, max_amp_ratio=family_amp)
        self._buf: Events | None = None  # events not yet final (plus look-back context)
        self._fam = np.zeros(0, np.int64)
        self._prior = np.zeros((0, 0))  # per buffered event: its family's template when it joined (push)
        self._has_prior = np.zeros(0, np.bool_)
        self._done = 0  # rows of _buf already labelled and emitted
        # per buffered event: heartbeat by rhythm or by coincidence, decided once its context is
        # complete (the first _anchored rows), the anchors of the beat-locked rules
        self._anchor = np.zeros(0, np.bool_)
        self._anchored = 0
        # per buffered event, decided once, in time order, a little ahead of the labelling (the
        # first _staged_locked / _staged_final rows): heartbeat or beat-locked (_locked); then
        # the final heartbeat flag after the satellite, double-detection and template rules
        # (_ecg), whether a discharge rides on the beat (_carried), samples to move it
        # (_shift) and its listed size (_size). Every rule reads these for the events around a
        # row, never a decision that depends on where the stream was cut.
        self._locked = np.zeros(0, np.bool_)
        self._ecg = np.zeros(0, np.bool_)
        self._carried = np.zeros(0, np.bool_)
        self._shift = np.zeros(0, np.int64)
        self._size = np.zeros(0, np.float32)
        self._staged_locked = 0
        self._staged_final = 0
        self._first_beat = np.zeros(0)  # family id -> time of its first heartbeat (inf: none yet)
        self._near_hits = np.zeros(0, np.int64)  # family id -> labelled members next to a beat
        self._near_total = np.zeros(0, np.int64)  # family id -> labelled members
        self._rows: list[Events] = []  # labelled, waiting for multiplet merging
        self._pending: Events | None = None  # labelled rows of groups that may still change
        self.counts = {"fasciculation": 0, "ecg": 0, "artifact": 0, "excluded": 0, "faint": 0, "blanked": 0}

    # -- input --------------------------------------------------------------------------
    def push(self, events: Events) -> None:
        """Add detector events (in time order, after the ones already pushed)."""
        if not len(events):
            return
        prior = np.empty((len(events), events.waveforms.shape[1]))
        has_prior = np.empty(len(events), np.bool_)
        fam = self.families.assign_many(events.channel, events.waveforms, events.amplitude_uv, prior, has_prior)
        n = len(events)
        new = {"_fam": fam, "_prior": prior, "_has_prior": has_prior, "_anchor": np.zeros(n, np.bool_),
               "_locked": np.zeros(n, np.bool_), "_ecg": np.zeros(n, np.bool_), "_carried": np.zeros(n, np.bool_),
               "_shift": np.zeros(n, np.int64), "_size": events.amplitude_uv.astype(np.float32)}
        if self._buf is None or len(self._buf) == 0:
            self._buf = events
            for name, value in new.items():
                setattr(self, name, value)
            self._anchored = self._staged_locked = self._staged_final = 0
        else:
            old = self._buf
            order = np.lexsort((np.concatenate([old.channel, events.channel]),
                                np.concatenate([old.sample, events.sample])))
            self._buf = Events.concat([old, events])
            for name, value in new.items():
                setattr(self, name, np.concatenate([getattr(self, name), value])[order])

    # -- output -------------------------------------------------------------------------
    def pop(self, until_s: float, zone: Callable[[np.ndarray, np.ndarray], np.ndarray],
            *, final: bool = False) -> Events:
        """Label and return the events before ``until_s`` whose context is complete.

        Parameters
        ----------
        until_s : float
            Segments (and the detector) are final before this time.
        zone : callable
            ``zone(times_s, channels)`` -> int array: 0 rest, 1 artifact, 2 excluded.
        final : bool
            End of data: label everything.
        """
        if self._buf is None or len(self._buf) == 0:
            return self._emit_groups(until_s, final)
        buf = self._buf
        t = buf.onset_s
        # heartbeat flags are final beat_final_s before until_s; the beat-locked rules look
        # 2 contexts (+ a complex) around a row at those flags: rows wait delay_s
        limit = np.inf if final else until_s - self.delay_s
        new = np.flatnonzero((np.arange(len(buf)) >= self._done) & (t < limit))
        if len(new):
            beats_all = self._heartbeats(buf)
            self._fix_anchors(buf, beats_all, np.inf if final else until_s - self.beat_final_s)
            self._stage(buf, beats_all, limit)
            labels, shift, size = self._label(buf, new, zone)
            self._collect(buf, new, labels, shift, size)
            self._done = int(new[-1]) + 1
        # forget rows older than the look-back context
        look_back = max(2 * self.context_s, self.beat_final_s) + 0.5  # the rules' and the rhythm test's
        keep_from = np.searchsorted(t, (limit if np.isfinite(limit) else t[-1] + 1) - look_back)
        keep_from = min(int(keep_from), self._done)
        if keep_from > 0:
            self._buf = buf.select(np.arange(keep_from, len(buf)))
            for name in _PER_EVENT:
                setattr(self, name, getattr(self, name)[keep_from:])
            self._done -= keep_from
            self._anchored -= keep_from
            self._staged_locked -= keep_from
            self._staged_final -= keep_from
        return self._emit_groups(limit, final)

    def _fix_anchors(self, buf: Events, beats_all: np.ndarray, final_s: float) -> None:
        """Decide, once, which buffered events before ``final_s`` are heartbeats: by rhythm
        within their shape family, or by coincidence with a heartbeat elsewhere in a family that
        already beats (the time of each family's first heartbeat: the same whatever the chunking)."""
        t = buf.onset_s
        ch = buf.channel
        fam = self._fam
        rows = np.arange(self._anchored, int(np.searchsorted(t, final_s)))
        if not len(rows):
            return
        r_t = t[rows]
        is_ecg = beats_all[rows].copy()
        first = self._first_beat_of(int(fam.max()) + 1)
        np.minimum.at(first, fam[rows[is_ecg]], r_t[is_ecg])
        cand = np.flatnonzero(~is_ecg & (first[fam[rows]] <= r_t))
        if len(cand):
            k, j = _pairs(t, rows[cand], -self.coincidence_s, self.coincidence_s)
            i = rows[cand[k]]
            hit = (np.abs(t[j] - t[i]) <= self.coincidence_s) & (ch[j] != ch[i]) & (first[fam[j]] <= t[i])
            is_ecg[cand[k[hit]]] = True
        self._anchor[rows] = is_ecg
        self._anchored = int(rows[-1]) + 1

    def _stage(self, buf: Events, beats_all: np.ndarray, limit: float) -> None:
        """Decide the heartbeat flags of the events up to a little past ``limit`` (the rows about
        to be labelled), each event once and in time order (see ``_PER_EVENT``)."""
        t = buf.onset_s
        end = len(buf) if not np.isfinite(limit) else int(np.searchsorted(t, limit + STAGE_LOCKED_S))
        rows = np.arange(self._staged_locked, end)
        if len(rows):
            # ECG by rhythm or coincidence (_fix_anchors), or the rest of a heartbeat's complex:
            # families whose members keep landing next to beats
            anchor = self._anchor[rows]
            self._locked[rows] = anchor | self._beat_locked(buf, rows, anchor)
            self._staged_locked = end
        end = len(buf) if not np.isfinite(limit) else int(np.searchsorted(t, limit + STAGE_FINAL_S))
        rows = np.arange(self._staged_final, end)
        if len(rows):
            self._stage_final(buf, rows, beats_all)
            self._staged_final = end

    def _stage_final(self, buf: Events, rows: np.ndarray, beats_all: np.ndarray) -> None:
        """The final heartbeat flag of ``rows``: beat-locked, or a satellite of a beat, or a beat
        found twice; minus the beats that carry a discharge (template subtraction)."""
        t = buf.onset_s
        ch = buf.channel
        amp = buf.amplitude_uv
        snr = buf.snr
        is_ecg = self._locked[rows].copy()
        # small satellites of a beat on the same channel (Q or S waves split off the complex)
        beat_mask = self._locked
        cand = np.flatnonzero(~is_ecg & (snr[rows] < self.satellite_snr))
        if len(cand):
            k, j = _pairs(t, rows[cand], -0.060, 0.030)
            i = rows[cand[k]]
            hit = (beat_mask[j] & (ch[j] == ch[i]) & (t[j] >= t[i] - 0.060) & (t[j] <= t[i] + 0.030)
                   & (t[j] != t[i]) & (amp[j] >= self.satellite_parent * amp[i]))
            if self.satellite_reach_ms is not None:  # no further than this after the complex's first event
                first = _complex_start(t, ch, beat_mask, self.n_channels)
                hit &= t[i] - first[j] <= self.satellite_reach_ms * 1e-3
            is_ecg[cand[k[hit]]] = True
        # the same QRS found twice (peaks a few ms apart): same size, same waveform once aligned
        cand = np.flatnonzero(~is_ecg)
        if len(cand):
            k, j = _pairs(t, rows[cand], -0.025, 0.025)
            i = rows[cand[k]]
            hit = beats_all[j] & (ch[j] == ch[i]) & (j != i) & (np.abs(t[j] - t[i]) <= 0.025)
            for kk, ii, jj in zip(k[hit].tolist(), i[hit].tolist(), j[hit].tolist()):
                if not is_ecg[cand[kk]] and self._same_potential(buf, ii, jj):
                    is_ecg[cand[kk]] = True
        # template subtraction: a beat that does not fit its family's template carries a discharge
        cand = np.flatnonzero(is_ecg)
        if len(cand):
            carry, moved, resid = self._carry_discharge(buf, rows[cand])
            is_ecg[cand[carry]] = False
            self._carried[rows[cand[carry]]] = True
            if self.relocate:
                self._shift[rows[cand[carry]]] = moved[carry]
            if self.rider_size:
                self._size[rows[cand[carry]]] = resid[carry]
        self._ecg[rows] = is_ecg

    def _label(self, buf: Events, rows: np.ndarray, zone) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t = buf.onset_s
        ch = buf.channel
        amp = buf.amplitude_uv
        snr = buf.snr
        r_t, r_ch = t[rows], ch[rows]
        labels = np.full(len(rows), "fasciculation", dtype=object)
        zones = zone(r_t, r_ch)
        is_ecg = self._ecg[rows]  # decided by _stage
        carried = self._carried[rows]
        shift = self._shift[rows].copy()  # samples from the detected peak to the discharge's
        size = self._size[rows].copy()  # the listed peak-to-peak: a rider's own, the residual's
        labels[is_ecg] = "ecg"
        big = amp[rows] > self.artifact_uv
        beat_now = self._ecg
        common = np.zeros(len(rows), bool)
        if self.n_channels >= 3:
            need = max(2, int(np.ceil(self.common_fraction * (self.n_channels - 1))))
            common = buf.coincident[rows] >= need
            # a heartbeat on the other channels is not common mode of this event (a discharge
            # under or beside a beat): count only the other channels' non-heartbeat events
            cand = np.flatnonzero(common & ~is_ecg)
            if len(cand):
                k, j = _pairs(t, rows[cand], -self.coincidence_s, self.coincidence_s)
                i = rows[cand[k]]
                hit = (np.abs(t[j] - t[i]) <= self.coincidence_s) & (ch[j] != ch[i]) & ~beat_now[j]
                pairs = np.unique(k[hit] * self.n_channels + ch[j[hit]])
                common[cand] = np.bincount(pairs // self.n_channels, minlength=len(cand)) >= need
        # small events on two channels at once: common mode (most often a faint heartbeat whose
        # beats are too rarely detected for a rhythm)
        faint_common = np.zeros(len(rows), bool)
        if self.n_channels >= 2:
            small = (snr < self.common_snr) & (snr >= self.min_snr) & ~beat_now
            cand = np.flatnonzero(small[rows] & ~is_ecg)
            if len(cand):
                k, j = _pairs(t, rows[cand], -self.coincidence_s, self.coincidence_s)
                i = rows[cand[k]]
                hit = (np.abs(t[j] - t[i]) <= self.coincidence_s) & (ch[j] != ch[i]) & small[j]
                faint_common[cand[np.unique(k[hit])]] = True
        labels[(big | (zones == 1) | common | faint_common) & ~is_ecg] = "artifact"
        labels[big & (zones == 1)] = "artifact"
        if self.mains_fraction is not None and self.mains_hz:
            q = np.flatnonzero(labels == "fasciculation")
            share = mains_share(buf.waveforms[rows[q]], self.fs, self.mains_hz)
            labels[q[share >= self.mains_fraction]] = "artifact"
        ecg_mask = self._ecg  # a rhythm beat that carries a discharge is not a heartbeat any more
        fasc = labels == "fasciculation"
        faint = fasc & (snr[rows] < self.min_snr)
        if self.wide_snr is not None:  # wide enough to be a motor unit potential: kept down to wide_snr
            wide = (buf.duration_ms[rows] >= max(self.wide_ms, 2000.0 / self.fs)) & (snr[rows] >= self.wide_snr)
            faint &= ~wide
        faint[fasc & ~faint] = self._echoes(buf, rows[fasc & ~faint], ecg_mask)
        self.counts["faint"] += int(np.count_nonzero(faint & (zones != 2)))
        lone = np.zeros(len(rows), bool)
        if self.rescue_snr is not None:  # faint candidates for a second look (emg.pipeline: a known unit)
            q = np.flatnonzero(faint & (snr[rows] < self.min_snr) & (snr[rows] >= self.rescue_snr))
            if len(q):
                reach = self.multiplet_s[1]
                k, j = _pairs(t, rows[q], -reach, reach)
                i = rows[q[k]]
                hit = ((j != i) & (ch[j] == ch[i]) & (np.abs(t[j] - t[i]) <= reach) & (snr[j] >= self.min_snr)
                       & ~ecg_mask[j])
                alone = np.ones(len(q), bool)
                alone[np.unique(k[hit])] = False
                lone[q[alone]] = True
        labels[faint] = ""  # a crossing at noise level (often the peak of a faint heartbeat)
        labels[lone] = FAINT_CANDIDATE
        if self.hidden_corr is not None:  # the second of a doublet whose first one the detector hid
            q = np.flatnonzero((labels == "fasciculation") & ~carried)
            d = self._hidden_first(buf.waveforms[rows[q]])
            moved = np.flatnonzero(d > 0)
            if len(moved):  # not when the detector did list the first one (it is a row of its own)
                i = rows[q[moved]]
                target = t[i] - d[moved] / self.fs
                k, j = _pairs(t, i, -self.hidden_ms[1] * 1e-3 - self.min_sep_s, 0.0)
                listed = (j != i[k]) & (ch[j] == ch[i[k]]) & (np.abs(t[j] - target[k]) < self.min_sep_s)
                d[moved[np.unique(k[listed])]] = 0
            shift[q] -= d
        if self.blank_snr is not None:
            beat_mask = ecg_mask | self._carried if self.relocate else ecg_mask  # a beat carrying a discharge is still a QRS
            blanked = self._blank_windows(buf, rows, beat_mask, (labels == "ecg") | (carried & self.relocate),
                                          shift / self.fs)
            self.counts["blanked"] += int(np.count_nonzero(blanked & (labels == "fasciculation") & (zones != 2)))
            # inside a large QRS: not analysable; kept as a group head until the multiplets are
            # merged (a doublet whose first discharge is blanked is not counted either)
            labels[blanked & (labels == "fasciculation")] = "blanked" if self.blank_groups else ""
            labels[blanked & (labels == FAINT_CANDIDATE)] = ""
        labels[zones == 2] = ""  # excluded: inside a bout, noisy or gap segment
        return labels, shift, size

    def _hidden_first(self, waves: np.ndarray) -> np.ndarray:
        """For event waveforms centred on their peak: how many samples before the peak an earlier
        copy of the same potential lies (0: none), the first discharge of a doublet that the
        detector did not list. A copy: the core (±``hidden_core_ms``) ``hidden_ms`` before the
        peak correlates ≥ ``hidden_corr`` with the core at the peak and its peak-to-peak is
        within a factor ``hidden_amp``; the most correlated delay wins (the compiled
        :func:`emg._classify_numba.hidden_first`)."""
        from ._classify_numba import hidden_first

        n = waves.shape[1] if waves.ndim == 2 else 0
        out = np.zeros(len(waves), np.int64)
        m = n // 2
        h = round(self.hidden_core_ms * 1e-3 * self.fs)
        if h < 3:  # a core of < 7 samples (fs < 750 Hz at 4 ms) says nothing about a shape
            return out
        d_lo = round(self.hidden_ms[0] * 1e-3 * self.fs)
        d_hi = min(round(self.hidden_ms[1] * 1e-3 * self.fs), m - h)
        if not len(waves) or d_hi < d_lo:
            return out
        hidden_first(np.ascontiguousarray(waves, np.float32), h, d_lo, d_hi, float(self.hidden_corr),
                     float(self.hidden_amp), out)
        return out

    def _first_beat_of(self, n_families: int) -> np.ndarray:
        """Per family id, the time (s) of its first heartbeat labelled so far (inf: none)."""
        if len(self._first_beat) < n_families:
            grown = np.full(max(n_families, 2 * len(self._first_beat)), np.inf)
            grown[: len(self._first_beat)] = self._first_beat
            self._first_beat = grown
        return self._first_beat

    def _blank_windows(self, buf: Events, rows: np.ndarray, ecg_mask: np.ndarray, row_ecg: np.ndarray,
                       shift_s: np.ndarray | None = None) -> np.ndarray:
        """Record the ECG blanking windows of the heartbeat events among ``rows`` and tell which
        rows lie inside a window of their channel (from any heartbeat known so far, look-ahead
        included): ``-blank_ms[0]..+blank_ms[1]`` around every heartbeat event with SNR ≥
        ``blank_snr``."""
        t, ch = buf.onset_s, buf.channel
        big = ecg_mask & (buf.snr >= self.blank_snr)
        rec = rows[row_ecg & (buf.snr[rows] >= self.blank_snr)]
        for c in np.unique(ch[rec]).tolist():
            r = rec[ch[rec] == c]
            pre, post = self._blank_span(buf, r)
            self._blank[c].append((t[r] - pre, t[r] + post))
        out = np.zeros(len(rows), bool)
        for c in range(self.n_channels):
            b = np.flatnonzero(big & (ch == c))
            q = np.flatnonzero(ch[rows] == c)
            if not len(b) or not len(q):
                continue
            pre, post = self._blank_span(buf, b)
            lo, hi = _merge_windows(t[b] - pre, t[b] + post)
            tq = t[rows[q]] if shift_s is None else t[rows[q]] + shift_s[q]
            j = np.searchsorted(lo, tq, "right") - 1  # last window starting at or before t
            out[q] = (j >= 0) & (tq <= hi[np.maximum(j, 0)])
        return out

    def _blank_span(self, buf: Events, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Blanking before and after each heartbeat event (s): ``blank_ms``, or, with ``blind_k``,
        at least as long as the detector's shadows of the beat hide a discharge whose peak is
        ``blind_k`` x noise (``shadow``: a fraction of the beat's peak decaying with a time
        constant, forwards and backwards, see :class:`emg.detect.Detector`; at most
        ``blind_max_ms`` on each side)."""
        pre = np.full(len(rows), self.blank_s[0])
        post = np.full(len(rows), self.blank_s[1])
        if self.blind_k is None or not len(rows):
            return pre, post
        peak = np.abs(buf.waveforms[rows, buf.waveforms.shape[1] // 2]).astype(float)
        level = self.blind_k * np.maximum(buf.noise_uv[rows], 1e-9)
        blind = self.shadow_s * np.log(np.maximum(self.shadow_frac * peak / level, 1.0))
        return (np.maximum(pre, np.minimum(blind, self.blind_max_s[0])),
                np.maximum(post, np.minimum(blind, self.blind_max_s[1])))

    def blanked_intervals(self) -> list[list[tuple[float, float]]]:
        """Per channel, the merged ECG blanking windows (s from the start) recorded so far:
        time inside a large heartbeat complex, where a discharge cannot be told apart. They
        are not valid rest (see :func:`emg.rates.hourly_rates`)."""
        out = []
        for parts in self._blank:
            if not parts:
                out.append([])
                continue
            lo, hi = _merge_windows(np.concatenate([a for a, _ in parts]), np.concatenate([b for _, b in parts]))
            out.append(list(zip(lo.tolist(), hi.tolist())))
        return out

    def _same_potential(self, buf: Events, i: int, j: int) -> bool:
        """Events ``i`` and ``j`` are one potential seen twice: amplitude within 20 %, and the
        waveforms, aligned by their time difference (±1 sample), correlate ≥ 0.9."""
        ratio = float(buf.amplitude_uv[i]) / max(float(buf.amplitude_uv[j]), 1e-9)
        if not 0.8 <= ratio <= 1.25:
            return False
        wi, wj = np.asarray(buf.waveforms[i], float), np.asarray(buf.waveforms[j], float)
        n = len(wi)
        d = int(buf.sample[j] - buf.sample[i])  # wi[k] <-> wj[k - d]
        best = -1.0
        for e in (d - 1, d, d + 1):
            lo, hi = max(0, e), min(n, n + e)
            if hi - lo < n // 3:
                continue
            x, y = wi[lo:hi] - wi[lo:hi].mean(), wj[lo - e : hi - e] - wj[lo - e : hi - e].mean()
            den = float(np.sqrt(np.dot(x, x) * np.dot(y, y)))
            if den > 0:
                best = max(best, float(np.dot(x, y)) / den)
        return best >= 0.9

    def _echoes(self, buf: Events, rows: np.ndarray, ecg_mask: np.ndarray) -> np.ndarray:
        """Rows less than ``echo_s`` after a non-heartbeat event ≥ 1/``echo_ratio`` times larger
        on their channel (a heartbeat's complex is handled by the ECG rules)."""
        t, ch, amp = buf.onset_s, buf.channel, buf.amplitude_uv
        out = np.zeros(len(rows), bool)
        if not len(rows):
            return out
        k, j = _pairs(t, rows, -self.echo_s, 0.0)
        i = rows[k]
        hit = ((j < i) & (t[i] - t[j] <= self.echo_s) & (ch[j] == ch[i]) & ~ecg_mask[j]
               & (amp[j] * self.echo_ratio > amp[i]))
        out[k[hit]] = True
        return out

    def _carry_discharge(self, buf: Events, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For would-be heartbeats: subtract the family's template (least-squares scaled, best
        lag within ±5 ms); a residual above ``max(residual_k × noise, residual_frac ×
        peak-to-peak)`` is a discharge riding on the beat; also how many samples from the
        detected peak the residual's largest deflection lies (compiled:
        :func:`emg._classify_numba.carry_residuals`)."""
        from ._classify_numba import carry_residuals

        out = np.zeros(len(rows), bool)
        moved = np.zeros(len(rows), np.int64)
        resid = np.zeros(len(rows), np.float32)
        # the family's template as it stood once the beat joined (its past beats and itself):
        # the same whatever the chunking, unlike the template after every event pushed so far
        have = self._has_prior[rows]
        if not have.any():
            return out, moved, resid
        n = buf.waveforms.shape[1]
        m = max(2, round(0.005 * self.fs))
        if n <= 2 * m + 4:
            return out, moved, resid
        sel = rows[have]
        best = np.empty(len(sel))
        peak = np.empty(len(sel), np.int64)
        carry_residuals(np.ascontiguousarray(self._prior[sel]), np.ascontiguousarray(buf.waveforms[sel]), m, best, peak)
        limit = np.maximum(self.residual_k * buf.noise_uv[sel], self.residual_frac * buf.amplitude_uv[sel])
        out[np.flatnonzero(have)] = best > limit
        # the discharge's own peak: the residual's largest deflection
        moved[np.flatnonzero(have)] = peak - n // 2
        resid[np.flatnonzero(have)] = best
        return out, moved, resid

    def _beat_locked(self, buf: Events, rows: np.ndarray, is_ecg: np.ndarray) -> np.ndarray:
        """Events inside a heartbeat's complex (``-90..+40 ms`` around a beat on any channel) from
        families, or small events from channels, that keep landing next to beats (counted over
        ±2 × the context, past and future). The beats are the final heartbeat decisions
        (``_anchor``), so the answer does not depend on how the stream was cut."""
        from ._classify_numba import windowed_counts

        t = buf.onset_s
        ch = buf.channel
        amp = buf.amplitude_uv
        beat_mask = self._anchor
        b = t[beat_mask]  # sorted: the buffer is in time order
        out = np.zeros(len(rows), bool)
        if not len(b):
            return out
        lo = np.searchsorted(b, t - 0.090)
        near = (lo < len(b)) & (b[np.minimum(lo, len(b) - 1)] <= t + 0.040)
        span = 2 * self.context_s

        def windowed(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            hits = np.empty(len(buf), np.int64)
            total = np.empty(len(buf), np.int64)
            windowed_counts(np.lexsort((t, groups)), groups, t, near, span, hits, total)
            return hits, total

        fam_hits, fam_total = windowed(self._fam)
        ch_hits, ch_total = windowed(ch.astype(np.int64))
        r = rows
        locked = near[r] & (fam_hits[r] >= 3) & (fam_hits[r] >= 0.6 * fam_total[r])
        # a sparse family (a complex's part seen at every few beats only): its whole history
        # counts, i.e. its members labelled before this one (the same whatever the chunking)
        f = self._fam[r]
        nr = near[r]
        hits_before, total_before = self._history(f, nr)
        locked |= nr & (hits_before >= 5) & (hits_before >= 0.6 * total_before)
        if self.family_beats is not None:  # a heartbeat family: (almost) all its past members landed next to beats
            n_min, frac = self.family_beats
            locked |= (hits_before >= n_min) & (hits_before >= frac * total_before)
        near_small = nr
        if self.small_reach_s is not None:  # no further than small_reach after the complex's first event
            starts = b[np.diff(b, prepend=-np.inf) > 0.1]  # beats < 0.1 s apart (any channel) are one complex
            k = np.searchsorted(starts, t[r] + 0.040, "right") - 1
            near_small = nr & (k >= 0) & (t[r] - starts[np.maximum(k, 0)] <= self.small_reach_s)
        small = (near_small & (buf.snr[r] < self.small_snr) & (ch_hits[r] >= 20) & (ch_hits[r] >= 0.5 * ch_total[r]))
        # lag-locked: events at the same delay (±lag_tol) from the beats of their own channel,
        # of similar size, seen at >= 3 other beats nearby, are part of the complex
        lagged = np.zeros(len(r), bool)
        for c in range(self.n_channels):
            own = t[beat_mask & (ch == c)]
            if len(own) < 4:
                continue
            if self.lag_anchor:  # lags from the first event of each complex (beats < 0.1 s apart are one)
                own = own[np.diff(own, prepend=-np.inf) > 0.1]
                if len(own) < 4:
                    continue
            on_c = np.flatnonzero(ch == c)
            tc = t[on_c]
            k = np.clip(np.searchsorted(own, tc), 1, len(own) - 1)
            prev, nxt = own[k - 1], own[k]
            lag = np.where(np.abs(tc - prev) <= np.abs(tc - nxt), tc - prev, tc - nxt)
            q = np.flatnonzero((ch[r] == c) & ~is_ecg & ~locked & ~small)
            pos = np.searchsorted(on_c, r[q])
            li = lag[pos]
            inside = (li >= -0.060) & (li <= 0.090)
            q, pos, li = q[inside], pos[inside], li[inside]
            if not len(q):
                continue
            kk, jj = _pairs(tc, pos, -span, span)
            ratio = amp[on_c[jj]] / np.maximum(amp[r[q[kk]]], np.float32(1e-9))
            same = ((np.abs(lag[jj] - li[kk]) <= self.lag_tol_s) & (np.abs(tc[jj] - tc[pos[kk]]) <= span)
                    & (jj != pos[kk]) & (ratio >= 1 / self.lag_amp) & (ratio <= self.lag_amp))
            lagged[q] = np.bincount(kk[same], minlength=len(q)) >= 3
        return (locked | small | lagged) & ~is_ecg

    def _history(self, fam: np.ndarray, near: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For rows in time order: how many members of their family labelled before each one
        landed next to a beat, and how many there were; then record the rows."""
        n_fam = int(fam.max()) + 1 if len(fam) else 0
        if len(self._near_hits) < n_fam:
            size = max(n_fam, 2 * len(self._near_hits))
            self._near_hits = np.concatenate([self._near_hits, np.zeros(size - len(self._near_hits), np.int64)])
            self._near_total = np.concatenate([self._near_total, np.zeros(size - len(self._near_total), np.int64)])
        order = np.argsort(fam, kind="stable")
        fs, nr = fam[order], near[order].astype(np.int64)
        start = np.flatnonzero(np.r_[True, fs[1:] != fs[:-1]])
        size = np.diff(np.r_[start, len(fs)])
        excl = np.cumsum(nr) - nr
        rank = np.arange(len(fs))
        hits = np.empty(len(fam), np.int64)
        total = np.empty(len(fam), np.int64)
        hits[order] = self._near_hits[fs] + excl - np.repeat(excl[start], size)
        total[order] = self._near_total[fs] + rank - np.repeat(start, size)
        np.add.at(self._near_hits, fam, near.astype(np.int64))
        np.add.at(self._near_total, fam, 1)
        return hits, total

    def _heartbeats(self, buf: Events) -> np.ndarray:
        """Heartbeat flag of every buffered event (rules in the module docstring; the compiled
        :func:`emg._classify_numba.heartbeat_flags`)."""
        from ._classify_numba import heartbeat_flags

        t = buf.onset_s
        out = np.empty(len(buf), bool)
        heartbeat_flags(np.lexsort((t, self._fam)), self._fam, t, float(self.rhythm_tol), float(self.context_s),
                        0.1, RR_MIN_S, RR_MAX_S, 5.0, 0.6, out)
        return out

    # -- multiplets ---------------------------------------------------------------------
    def _collect(self, buf: Events, rows: np.ndarray, labels: np.ndarray, shift: np.ndarray,
                 size: np.ndarray) -> None:
        keep = labels != ""
        self.counts["excluded"] += int(np.count_nonzero(~keep))
        if not keep.any():
            return
        sel = buf.select(rows[keep])
        sel = sel.replace(label=labels[keep].astype(object), sample=sel.sample + shift[keep],
                          amplitude_uv=size[keep].astype(sel.amplitude_uv.dtype))
        self._rows.append(sel)

    def _emit_groups(self, limit: float, final: bool) -> Events:
        """Merge multiplets among labelled rows; return the rows whose group is closed.

        Rows of groups that may still change are kept back as they were labelled (not
        merged) and grouped again with the next rows, so every chunking groups the same rows
        the same way: a group is closed once its last member is more than a multiplet
        interval before the earliest time a later row can take (``limit`` less the largest
        backward relocation of a discharge).
        """
        rows = self._rows
        if self._pending is not None and len(self._pending):
            rows = [self._pending, *rows]
        self._rows, self._pending = [], None
        if not rows:
            return Events.empty(self.fs)
        ev = Events.concat(rows, fs=self.fs)
        order = np.lexsort((ev.channel, ev.sample))  # relocated discharges may have moved
        if np.any(np.diff(order) < 0):
            ev = ev.select(order)
        t = ev.onset_s
        keep = np.ones(len(ev), bool)
        mult = ev.multiplicity.copy()
        group = np.arange(len(ev))  # the head of each row's group
        group_last = t.copy()  # per head: its last member's time
        last_of_channel: dict[int, tuple[int, float, float]] = {}
        tl, chl, ampl = t.tolist(), ev.channel.tolist(), ev.amplitude_uv.tolist()
        for i in np.flatnonzero((ev.label == "fasciculation") | (ev.label == "blanked")).tolist():
            c = chl[i]
            prev = last_of_channel.get(c)
            if prev is not None:
                head, t_last, amp_head = prev
                dt = tl[i] - t_last
                ratio = ampl[i] / max(amp_head, 1e-9)
                if dt < self.min_sep_s:
                    keep[i] = False  # the same discharge seen twice
                    group[i] = head
                    continue
                if dt <= self.multiplet_s[1] and 1 / self.multiplet_amp <= ratio <= self.multiplet_amp:
                    keep[i] = False
                    mult[head] += 1
                    group[i] = head
                    group_last[head] = tl[i]
                    last_of_channel[c] = (head, tl[i], amp_head)
                    continue
            last_of_channel[c] = (i, tl[i], ampl[i])
        if final:
            hold = np.zeros(len(ev), bool)
        else:
            earliest_next = limit - RELOCATE_MAX_S  # no later row can lie before this
            open_group = group_last[group] > earliest_next - self.multiplet_s[1] - 1e-9
            hold = open_group | (t >= earliest_next)  # (other rows too: the output stays in time order)
        out = ev.select(keep & ~hold & (ev.label != "blanked"))
        out = out.replace(multiplicity=mult[keep & ~hold & (ev.label != "blanked")])
        if hold.any():
            self._pending = ev.select(hold)  # as labelled: multiplicity 1, grouped again next time
        for lab in ("fasciculation", "ecg", "artifact"):
            self.counts[lab] += int(np.count_nonzero(out.label == lab))
        return out
