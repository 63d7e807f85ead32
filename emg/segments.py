"""Excluded intervals: voluntary contraction, cramp, myokymia, artefact, noisy and gap.

The segmenter is a streaming stage. It cuts the signal into 0.1 s windows on a fixed grid
(so chunk sizes never change the result) and computes per window and channel:

* from the detector's filtered signal (:meth:`emg.detect.Detector.filter`: 20-250 Hz
  band-pass, mains cancelled; one filter chain for the whole analysis): its RMS, and the
  fraction of its samples above ``active_k`` (3) and ``dense_k / 3`` times the channel's
  rest noise - only in windows whose RMS allows the smallest fraction any rule looks at
  (25 % of the samples above ``T`` need an RMS above 0.5 ``T``); elsewhere the fractions
  are stored as 0;
* from the raw signal: the window mean (a 10 Hz low-frequency trace for movement and
  pops), and whether it holds a saturated run (``saturation_min_ms`` of identical samples
  more than 1 mV from the median mean of the channel's last 10 s of unsaturated windows, or a
  whole flat window beyond 10 mV) or a gap.

Rest noise is the 20th percentile of window RMS over the trailing ``baseline_s`` (60 s),
refreshed every second, allowed to grow at most ×1.5 per second and never above the median
window RMS of the current second. Windows in a gap, saturated, or within the detector's
settling time after a filter restart (its ``usable`` mask) do not enter it.

Rules (thresholds are the keyword arguments of :class:`Segmenter`):

* **activity** (AVID-like: a raised *envelope*, not regularity alone): a window is active
  when at least ``active_fraction`` (25 %) of its samples exceed 3 × rest noise. A single
  potential fills ≤ 10 % of a window, so isolated fasciculations, doublets and a lone unit
  firing regularly at ~6 Hz never make a window active; interference of many units does.
  A large heartbeat (QRS, then the filter's ring) fills up to three windows, hence runs of
  ≥ ``min_bout_s`` (0.5 s) of active windows (or two windows, 0.2 s, each with an RMS ≥
  ``dense_k`` (30) × rest noise, on average ≥ ``dense_fraction`` (60 %) of samples above
  3 × and ≥ ``dense_fill`` (50 %) above 10 × rest noise: a brief strong contraction keeps
  half of the 0.2 s above 10 ×, the largest heartbeats of the chest-ECG simulations reach
  48 %. Set on the Plux thumb recording and simulations of the tuning seeds 100-103),
  padded by ``bout_pad_s`` and merged
  across pauses ≤ ``merge_s``, are bouts. A bout is labelled by its discharge pattern:
  ``myokymia`` when it is made of recurring bursts (below), ``cramp`` when it lasts ≥
  ``cramp_min_s`` (5 s) on one channel only with irregular intervals, else ``voluntary``.
* **myokymia** (event based, even when the envelope stays low): bursts of ≥ 3 events on
  one channel ≤ ``burst_isi_s`` (40 ms) apart, recurring ≥ 3 times with ≤ ``burst_gap_s``
  (0.5 s) between bursts (more than 2 per second); or a dense train of one unit:
  ≥ ``train_events`` (10) events of similar size within 1 s (:func:`find_trains`; a lone
  unit firing regularly at ~6 Hz stays below it). Myokymia is focal: an event seen at the
  same time (±``coincidence_ms``, 20 ms) on at least ``burst_common_fraction`` (half) of
  the other channels (and ≥ 2) is common mode - the pieces of a large heartbeat (Q, R, S
  make a "burst" every beat on chest leads), a movement - and takes no part in bursts or
  trains (a focal burst that coincides with a heartbeat is lost with it: an episode may
  then be cut in two). An episode mostly inside an envelope bout adds only what the bout
  leaves out (the envelope often rises after the first bursts).
* **artifact**: the low-frequency trace leaves its running median (±0.3 s) by more than
  ``max(lf_min_uv, lf_k × its 90th percentile over 30 s)`` (40 µV, 5×; half that on the
  other channels when one channel passes), or a saturated run; padded by
  ``artifact_pad_s`` (saturation by ``saturation_pad_s``: filters ring after a rail). When
  at least ``common_fraction`` of the channels (and ≥ 2) have an artefact in the same
  window, it is marked on every channel (common mode). Activity next to an artefact is part
  of it (a movement starts before its low-frequency swing peaks), up to
  ``artifact_reach_s`` (1 s) on either side; the rest of a longer bout keeps its own label
  (a cramp with a movement in it stays a cramp before and after the movement).
* **noisy**: rest noise above ``noisy_uv`` (30 µV RMS) for ≥ ``noisy_min_s`` (2 s).
* **gap**: samples marked invalid (lost packets), to the sample.

Decisions are final ``latency_s`` after the data arrived (about 1.5 s).
"""

from __future__ import annotations

import collections
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .types import Chunk, Segment

__all__ = ["Segmenter", "find_bursts", "find_trains", "segment_recording"]

# window codes, in priority order (a higher code wins when several apply)
_REST, _BOUT, _NOISY, _ARTIFACT, _GAP = 0, 1, 2, 3, 4
_SAT_REF_W = 100  # windows (10 s) whose median mean a rail is compared with
_CODE_LABEL = {_NOISY: "noisy", _ARTIFACT: "artifact", _GAP: "gap"}


def _dilate(x: np.ndarray, before: int, after: int) -> np.ndarray:
    """Boolean dilation along the last axis: True spreads ``before`` back and ``after`` forward."""
    from ._segments_numba import dilate_rows

    rows = np.ascontiguousarray(x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x, dtype=bool)
    out = np.empty_like(rows)
    dilate_rows(rows, before, after, out)
    return out.reshape(x.shape)


def _erode(x: np.ndarray, before: int, after: int) -> np.ndarray:
    return ~_dilate(~x, after, before)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) index pairs of the True runs of a 1-D boolean array."""
    d = np.diff(np.concatenate(([False], mask, [False])).astype(np.int8))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    """1-D parts joined (the part itself when there is one)."""
    parts = [p for p in parts if len(p)]
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.zeros(0, bool)


def _edges(parts: list[np.ndarray], win: int, stop: int) -> list[int]:
    """Where the parts (along their last axis) meet, rounded down to whole windows, below ``stop``."""
    ends = np.cumsum([p.shape[1] for p in parts[:-1]], dtype=np.int64) // win * win
    return [e for e in ends.tolist() if 0 < e < stop]


def _span(parts: list[np.ndarray], n_ch: int, lo: int, hi: int, *, copy: bool = False,
          view: bool = False) -> np.ndarray:
    """Columns ``[lo, hi)`` of the (``n_ch``, n) float32 parts laid end to end, C-contiguous:
    a part itself when the span is exactly that part (and ``copy`` is False), else a new
    array. ``view``: a span within one part may be a view of it (rows contiguous, not the
    whole array)."""
    out, at = [], 0
    for p in parts:
        a, b = max(lo - at, 0), min(hi - at, p.shape[1])
        if a < b:
            out.append(p if (a, b) == (0, p.shape[1]) else p[:, a:b])
        at += p.shape[1]
    if not out:
        return np.zeros((n_ch, 0), np.float32)
    if len(out) == 1:
        if view and out[0].dtype == np.float32 and (out[0].strides[1] == 4 or out[0].shape[1] < 2):
            return out[0]
        x = np.ascontiguousarray(out[0], dtype=np.float32)
        return x.copy() if copy and np.may_share_memory(x, out[0]) else x
    return np.concatenate(out, axis=1, dtype=np.float32)


#: the window of a dense train (s, :func:`find_trains`)
TRAIN_WINDOW_S = 1.0


def find_bursts(times_s: np.ndarray, *, burst_isi_s: float = 0.040, burst_gap_s: float = 0.5,
                min_bursts: int = 3, min_size: int = 3) -> list[tuple[float, float]]:
    """Myokymic episodes in one channel's event times: recurring bursts of discharges.

    A burst is ≥ ``min_size`` events with successive intervals ≤ ``burst_isi_s``; an episode is
    ≥ ``min_bursts`` bursts, each starting ≤ ``burst_gap_s`` after the previous one ends.

    Returns
    -------
    list of (start_s, end_s)
        From the first event of the first burst to the last event of the last burst.
    """
    t = np.sort(np.asarray(times_s, dtype=np.float64))
    if len(t) < 2 * min_bursts:
        return []
    close = np.diff(t) <= burst_isi_s
    bursts = [(t[a], t[b]) for a, b in _runs(close) if b - a + 1 >= min_size]  # intervals a..b-1 -> events a..b
    episodes, current = [], []
    for lo, hi in bursts:
        if current and lo - current[-1][1] <= burst_gap_s:
            current.append((lo, hi))
        else:
            if len(current) >= min_bursts:
                episodes.append((current[0][0], current[-1][1]))
            current = [(lo, hi)]
    if len(current) >= min_bursts:
        episodes.append((current[0][0], current[-1][1]))
    return episodes


def _merge_spans(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for lo, hi in sorted(spans):
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(lo, hi) for lo, hi in out]


def find_trains(times_s: np.ndarray, amplitudes_uv: np.ndarray, *, min_events: int = 10, window_s: float = TRAIN_WINDOW_S,
                merge_s: float = 0.5, max_amp_ratio: float = 1.5, same_fraction: float = 0.7) -> list[tuple[float, float]]:
    """Dense trains of one unit on one channel: ≥ ``min_events`` events within ``window_s``
    whose successive sizes stay within ``max_amp_ratio`` for ≥ ``same_fraction`` of the pairs.

    Fasciculations come at most about once a second per channel, and a lone unit firing
    regularly at ~6 Hz stays below 10 per second; a myokymic unit firing bursts does not. The
    unequal pieces of a heartbeat complex fail the size rule.

    Returns
    -------
    list of (start_s, end_s)
        Dense stretches (merged across pauses ≤ ``merge_s``), first to last event.
    """
    t = np.asarray(times_s, dtype=np.float64)
    if len(t) < min_events:
        return []
    order = np.argsort(t, kind="stable")
    t = t[order]
    a = np.log(np.maximum(np.asarray(amplitudes_uv, dtype=np.float64)[order], 1e-9))
    same = np.concatenate([[0], np.cumsum(np.abs(np.diff(a)) <= np.log(max_amp_ratio))])
    end = np.searchsorted(t, t + window_s, side="left")  # events i..end-1 within the window
    n = end - np.arange(len(t))
    pairs = np.maximum(n - 1, 1)
    similar = same[np.maximum(end - 1, 0)] - same[np.arange(len(t))]
    dense = (n >= min_events) & (similar >= same_fraction * pairs)
    spans = [(t[i], t[end[i] - 1]) for i in np.flatnonzero(dense)]
    out: list[list[float]] = []
    for lo, hi in spans:
        if out and lo <= out[-1][1] + merge_s:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(lo, hi) for lo, hi in out]


@dataclass
class _OpenRun:
    code: int
    start_w: int
    channels_seen: set = field(default_factory=set)


class Segmenter:
    """Streaming detection of excluded intervals (see the module docstring for the rules).

    Parameters
    ----------
    fs : float
        Sample rate in Hz.
    n_channels : int
        Number of channels.

    Notes
    -----
    Feed chunks in order with :meth:`process`, each with the detector's filtered samples
    that came out of it (``filtered``) and the detector's events of that chunk (used for
    burst patterns), then call :meth:`flush`. ``committed_s`` tells up to where
    the labels are final; :meth:`excluded` answers for event times before it.
    """

    def __init__(
        self,
        fs: float,
        n_channels: int,
        *,
        window_s: float = 0.1,
        active_k: float = 3.0,
        active_fraction: float = 0.25,
        min_bout_s: float = 0.5,
        bout_pad_s: float = 0.1,
        merge_s: float = 0.3,
        cramp_min_s: float = 5.0,
        dense_fraction: float = 0.6,
        dense_k: float = 30.0,
        dense_fill: float = 0.5,
        burst_isi_s: float = 0.040,
        burst_gap_s: float = 0.5,
        train_events: int = 10,
        lf_min_uv: float = 40.0,
        lf_k: float = 5.0,
        artifact_pad_s: tuple[float, float] = (0.2, 0.4),
        artifact_reach_s: float = 1.0,
        saturation_min_ms: float = 4.0,
        saturation_pad_s: tuple[float, float] = (0.3, 1.0),
        common_fraction: float = 0.5,
        coincidence_ms: float = 20.0,
        burst_common_fraction: float | None = 0.5,
        noisy_uv: float = 30.0,
        noisy_min_s: float = 2.0,
        baseline_s: float = 60.0,
    ):
        self.fs = float(fs)
        self.n_channels = int(n_channels)
        self.win = max(4, int(round(window_s * self.fs)))
        self.window_s = self.win / self.fs
        self.block = max(1, int(round(1.0 / self.window_s)))  # windows per baseline update
        self.active_k, self.active_fraction = active_k, active_fraction
        w = self.window_s
        self.min_bout_w = max(1, int(round(min_bout_s / w)))
        self.bout_pad_w = int(round(bout_pad_s / w))
        self.merge_w = int(round(merge_s / w))
        self.cramp_min_s = cramp_min_s
        self.dense_fraction, self.dense_k, self.dense_fill = dense_fraction, dense_k, dense_fill
        if dense_k * dense_k < min(active_fraction, dense_fraction) * active_k * active_k:
            raise ValueError(f"Invalid value for 'dense_k': must be >= sqrt(min(active_fraction, dense_fraction)) "
                             f"x active_k (the shares of quieter windows are not computed), got {dense_k!r}.")
        self.burst_isi_s, self.burst_gap_s = burst_isi_s, burst_gap_s
        self.train_events = train_events
        self.lf_min_uv, self.lf_k = lf_min_uv, lf_k
        self.art_pad_w = (int(math.ceil(artifact_pad_s[0] / w)), int(math.ceil(artifact_pad_s[1] / w)))
        self.art_reach_w = int(round(artifact_reach_s / w))
        self.sat_pad_w = (int(math.ceil(saturation_pad_s[0] / w)), int(math.ceil(saturation_pad_s[1] / w)))
        self.sat_min = max(3, int(round(saturation_min_ms * 1e-3 * self.fs)))
        self.common_fraction = common_fraction
        self.coincidence_s = coincidence_ms * 1e-3
        self.burst_common_fraction = burst_common_fraction
        self.noisy_uv = noisy_uv
        self.noisy_min_w = int(round(noisy_min_s / w))
        self.baseline_w = int(round(baseline_s / w))
        self.lf_half = max(1, int(round(0.3 / w)))
        # context needed on each side of a window before its code is final
        self.context_w = max(
            self.min_bout_w + self.bout_pad_w + self.merge_w,
            self.lf_half + max(self.art_pad_w + self.sat_pad_w),
            self.noisy_min_w,
            self.art_reach_w,  # (a window's code may depend on an artefact this far on)
        ) + 1
        # baseline of each 1 s block in the LF history: block numbers (increasing) and values
        self._lf_base_ids = np.zeros(0, np.int64)
        self._lf_base = np.zeros((self.n_channels, 0))
        self._last_valid: np.ndarray | None = None
        # per channel, the means of the last SAT_REF_W windows that were not saturated: the level
        # a rail is compared with (past windows only, on the window grid: any chunking agrees)
        self._sat_ref = [collections.deque(maxlen=_SAT_REF_W) for _ in range(self.n_channels)]
        # streaming state: raw and filtered samples not yet in a whole block (both start at
        # the same sample; the filtered ones may lag while the detector decides the mains)
        self._carry = np.zeros((self.n_channels, 0), np.float32)
        self._carry_valid = np.zeros(0, bool)
        self._fcarry = np.zeros((self.n_channels, 0), np.float32)
        self._fcarry_usable = np.zeros(0, bool)
        self._n_windows = 0  # windows computed so far
        self._committed_w = 0  # windows whose code is final
        self._sigma = np.full(self.n_channels, np.nan)
        self._hist_rms = np.zeros((self.n_channels, 0))
        self._hist_lfdev = np.zeros((self.n_channels, 0))
        # feature buffers from window index self._buf0 on
        self._buf0 = 0
        self._rms = np.zeros((self.n_channels, 0))
        self._frac = np.zeros((self.n_channels, 0))
        self._frac_hi = np.zeros((self.n_channels, 0))
        self._mean = np.zeros((self.n_channels, 0))
        self._sat = np.zeros((self.n_channels, 0), bool)
        self._gapw = np.zeros(0, bool)
        self._sigma_w = np.zeros((self.n_channels, 0))
        self._lfdev = np.zeros((self.n_channels, 0))
        self._lfbase = np.zeros((self.n_channels, 0))
        self._events: list[tuple[np.ndarray, np.ndarray]] = []  # (times_s, channels) pending
        self._ev_t = np.zeros(0)
        self._ev_c = np.zeros(0, np.int32)
        self._ev_a = np.zeros(0)
        # per buffered event: common mode (decided once its neighbours are all in, _ev_known)
        self._ev_common = np.zeros(0, bool)
        self._ev_known = np.zeros(0, bool)
        self._bev_t = np.zeros(0)  # events kept for labelling bouts still open
        self._bev_c = np.zeros(0, np.int32)
        self._open: list[_OpenRun | None] = [None] * self.n_channels
        # per channel, (start_w, end_w) of closed bouts that a bout still open elsewhere may overlap
        self._bout_runs: list[list[tuple[int, int]]] = [[] for _ in range(self.n_channels)]
        self._bouts_to_label: list[tuple[int, int, int]] = []  # (channel, start_w, end_w)
        self._segments: list[Segment] = []
        self._excl: list[list[tuple[float, float, int]]] = [[] for _ in range(self.n_channels)]
        self._gap_open: float | None = None
        self._samples = 0
        self.noise_uv = np.full(self.n_channels, np.nan)

    # -- public ---------------------------------------------------------------------------
    @property
    def committed_s(self) -> float:
        """Labels before this time (s from recording start) are final."""
        return self._committed_w * self.window_s

    def process(self, chunk: Chunk | Sequence[Chunk], event_times_s: np.ndarray | None = None,
                event_channels: np.ndarray | None = None,
                event_amplitudes_uv: np.ndarray | None = None, *, filtered=()) -> list[Segment]:
        """Take one chunk (and the detector's events in it); return segments now final.

        Parameters
        ----------
        chunk : Chunk or sequence of Chunk
            The next raw samples (consecutive chunks are taken as one, without joining
            their samples into a new array).
        event_times_s, event_channels, event_amplitudes_uv : ndarray | None
            The detector's events (onset s, channel, peak-to-peak µV), for burst patterns.
        filtered : sequence of (ndarray, ndarray, ...)
            The detector's filtered samples that follow those given before
            (:attr:`emg.detect.Filtered.parts`: float32 µV (n_channels, n) and the usable
            mask (n,) per segment). They may lag the raw chunks (the detector holds the
            first ``mains_probe_s`` until it has decided the mains): a window is computed
            once both its raw and filtered samples are there.
        """
        chunks = [chunk] if isinstance(chunk, Chunk) else list(chunk)
        for c in chunks:
            if c.data.shape[0] != self.n_channels:
                raise ValueError(f"Invalid chunk: expected {self.n_channels} channels, got {c.data.shape[0]}.")
        for c in chunks:
            self._gaps_exact(c)
        if chunks:
            self._samples = chunks[-1].first_sample + chunks[-1].n_samples
        if event_times_s is not None and len(event_times_s):
            self._ev_t = np.concatenate([self._ev_t, np.asarray(event_times_s, float)])
            self._ev_c = np.concatenate([self._ev_c, np.asarray(event_channels, np.int32)])
            amps = np.full(len(event_times_s), np.nan) if event_amplitudes_uv is None else event_amplitudes_uv
            self._ev_a = np.concatenate([self._ev_a, np.asarray(amps, float)])
            self._ev_common = np.concatenate([self._ev_common, np.zeros(len(event_times_s), bool)])
            self._ev_known = np.concatenate([self._ev_known, np.zeros(len(event_times_s), bool)])
            self._bev_t = np.concatenate([self._bev_t, np.asarray(event_times_s, float)])
            self._bev_c = np.concatenate([self._bev_c, np.asarray(event_channels, np.int32)])
        # raw and filtered samples as lists of parts, both from the carried ones on
        xs = [a for a in [self._carry, *(c.data for c in chunks)] if a.shape[1]]
        valid = _joined([self._carry_valid, *(c.valid for c in chunks)])
        ys, usable = self._take_filtered(filtered)
        n, m = sum(a.shape[1] for a in xs), sum(a.shape[1] for a in ys)
        used = min(n, m) // (self.win * self.block) * (self.win * self.block)
        if used:
            cuts = sorted({0, used, *(_edges(xs, self.win, used)), *(_edges(ys, self.win, used))})
            spans = list(zip(cuts[:-1], cuts[1:]))
            n_ch = self.n_channels
            self._features([_span(xs, n_ch, a, b, view=True) for a, b in spans], valid[:used],
                           [_span(ys, n_ch, a, b) for a, b in spans], usable[:used])
        self._carry, self._carry_valid = _span(xs, self.n_channels, used, n, copy=True), valid[used:].copy()
        self._fcarry, self._fcarry_usable = _span(ys, self.n_channels, used, m, copy=True), usable[used:].copy()
        return self._decide(final=False)

    def _take_filtered(self, filtered) -> tuple[list[np.ndarray], np.ndarray]:
        """The carried filtered samples followed by the new parts (a list: no copy) and their usable flags."""
        ys = [self._fcarry] if self._fcarry.shape[1] else []
        us = [self._fcarry_usable] if self._fcarry.shape[1] else []
        for part in filtered:
            y, u = part[0], part[1]
            if y.shape[0] != self.n_channels or y.shape[1] != len(u):
                raise ValueError(f"Invalid filtered part: expected ({self.n_channels}, n) samples and n usable "
                                 f"flags, got {y.shape} and {np.shape(u)}.")
            if y.shape[1]:
                ys.append(y)
                us.append(np.asarray(u, bool))
        return ys, _joined(us)

    def flush(self) -> list[Segment]:
        """End of data: decide everything left (partial windows at the end included)."""
        if self._carry.shape[1] != self._fcarry.shape[1]:
            raise ValueError(f"Segmenter.flush: {self._carry.shape[1]} raw samples are waiting but "
                             f"{self._fcarry.shape[1]} filtered ones: pass the detector's filtered samples "
                             "of every chunk (process(..., filtered=...)).")
        if self._carry.shape[1] >= self.win:
            n = (self._carry.shape[1] // self.win) * self.win
            self._features([_span([self._carry], self.n_channels, 0, n)], self._carry_valid[:n],
                           [_span([self._fcarry], self.n_channels, 0, n)], self._fcarry_usable[:n])
        self._carry, self._carry_valid = self._carry[:, :0], self._carry_valid[:0]
        self._fcarry, self._fcarry_usable = self._fcarry[:, :0], self._fcarry_usable[:0]
        out = self._decide(final=True)
        self._myokymia(final=True)
        out += self._pop_segments()
        if self._gap_open is not None:
            out.append(Segment(self._gap_open, self._samples / self.fs, "gap", None))
            self._gap_open = None
        return out

    def excluded(self, times_s: np.ndarray, channels: np.ndarray) -> np.ndarray:
        """For final times: 0 valid rest, 1 artifact, 2 excluded otherwise (bout, noisy, gap)."""
        out = np.zeros(len(times_s), np.int8)
        for ch in range(self.n_channels):
            sel = np.flatnonzero(channels == ch)
            for lo, hi, code in self._excl[ch]:
                inside = sel[(times_s[sel] >= lo) & (times_s[sel] < hi)]
                out[inside] = np.maximum(out[inside], 1 if code == _ARTIFACT else 2)
            run = self._open[ch]
            if run is not None and run.code != _REST:
                inside = sel[times_s[sel] >= run.start_w * self.window_s]
                out[inside] = np.maximum(out[inside], 1 if run.code == _ARTIFACT else 2)
        return out

    def forget_before(self, t_s: float) -> None:
        """Drop exclusion intervals that end before ``t_s`` (memory bound for long streams)."""
        self._excl = [[iv for iv in lst if iv[1] >= t_s] for lst in self._excl]

    # -- features -------------------------------------------------------------------------
    def _features(self, xs: list[np.ndarray], valid: np.ndarray, ys: list[np.ndarray], usable: np.ndarray) -> None:
        """Window features of whole windows of raw and the detector's filtered samples.

        ``xs`` and ``ys`` are consecutive spans of them (float32, the same widths, each whole
        windows; ``ys`` C-contiguous, ``xs`` may be views with contiguous rows, e.g. of a
        recording held in memory: they are not copied); ``valid`` and ``usable`` their flags,
        end to end.
        """
        from ._segments_numba import noise_levels, raw_window_stats, trailing_percentile, window_rms

        n_ch = self.n_channels
        win = self.win
        bounds = np.cumsum([0] + [x.shape[1] for x in xs]).tolist()
        if not valid.all():  # gap samples hold the last valid value: no step in the LF trace
            xs = list(xs)
            for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
                v = valid[a:b]
                if not v.all():
                    idx = np.maximum.accumulate(np.where(v, np.arange(b - a), -1))
                    first = self._last_valid if self._last_valid is not None else np.zeros(n_ch, np.float32)
                    xs[k] = np.where(idx[None, :] >= 0, xs[k][:, np.clip(idx, 0, None)], first[:, None]).astype(np.float32)
                if v.any():
                    self._last_valid = xs[k][:, np.flatnonzero(v)[-1]].copy()
        elif bounds[-1]:
            self._last_valid = xs[-1][:, -1].copy()
        nw = bounds[-1] // win
        # raw: the window mean and the longest run of identical samples; filtered: the RMS
        means, flats, rmss = [], [], []
        for x, y in zip(xs, ys):
            k = x.shape[1] // win
            means.append(np.empty((n_ch, k)))
            flats.append(np.empty((n_ch, k), np.int64))
            if x.flags.c_contiguous:
                raw_window_stats(x, means[-1], flats[-1])
            else:  # a view of a longer array: row by row (each row, shape (1, n), is contiguous)
                for c in range(n_ch):
                    raw_window_stats(x[c : c + 1], means[-1][c : c + 1], flats[-1][c : c + 1])
            rmss.append(np.empty((n_ch, k)))
            window_rms(y, rmss[-1])
        mean, flat, rms = (p[0] if len(p) == 1 else np.concatenate(p, axis=1) for p in (means, flats, rmss))
        # saturation: a run of identical samples far (> 1 mV) from the median mean of the
        # preceding unsaturated windows (or a flat window far from zero)
        sat = flat >= self.sat_min - 1
        if sat.any():  # each window's first sample (µV)
            x0 = np.abs(np.concatenate([x[:, ::win] for x in xs], axis=1).astype(np.float64))
        for c in range(n_ch):
            ref = self._sat_ref[c]
            if not sat[c].any():
                ref.extend(mean[c, -_SAT_REF_W:].tolist())
                continue
            for w in range(nw):
                if sat[c, w]:
                    far = len(ref) >= 10 and abs(mean[c, w] - np.median(ref)) > 1000.0
                    sat[c, w] = far or (flat[c, w] == win - 1 and x0[c, w] > 1e4)
                if not sat[c, w]:
                    ref.append(float(mean[c, w]))
        gapw = ~valid[: nw * win].reshape(nw, win).all(axis=1)
        settled = usable[: nw * win].reshape(nw, win).all(axis=1)  # no gap, no filter restart just before
        # rest noise per 1 s block from the trailing history (never from the future)
        ok_w = settled & ~gapw & ~sat.any(axis=0) & (rms.min(axis=0) > 0)
        starts = np.arange(0, nw, self.block)
        hist = self._hist_rms
        allv = np.concatenate([hist, rms[:, ok_w]], axis=1)
        okc = np.concatenate([[0], np.cumsum(ok_w)])
        cnt = (hist.shape[1] + okc[starts]).astype(np.int64)  # usable windows before each block
        p20 = np.full((n_ch, len(starts)), np.nan)
        known = cnt >= self.block
        if known.any():
            out = np.empty((n_ch, int(known.sum())))
            trailing_percentile(allv, np.argsort(allv, axis=1), cnt[known], self.baseline_w, 0.2, out)
            p20[:, known] = out
        sigma = np.array(self._sigma, dtype=np.float64)
        sigma_b = np.empty((n_ch, len(starts)))
        noise_levels(rms, ok_w, p20, cnt, self.block, sigma, sigma_b)
        self._sigma = sigma
        sigma_w = np.repeat(sigma_b, self.block, axis=1)[:, :nw]
        frac, frac_hi = self._fractions(ys, rms, sigma_w)
        self._hist_rms = allv[:, -self.baseline_w :]
        self.noise_uv = self._sigma.copy()
        self._rms = np.concatenate([self._rms, rms], axis=1)
        self._frac = np.concatenate([self._frac, frac], axis=1)
        self._frac_hi = np.concatenate([self._frac_hi, frac_hi], axis=1)
        self._mean = np.concatenate([self._mean, mean], axis=1)
        self._sat = np.concatenate([self._sat, sat], axis=1)
        self._gapw = np.concatenate([self._gapw, gapw])
        self._sigma_w = np.concatenate([self._sigma_w, sigma_w], axis=1)
        self._n_windows += nw

    def _fractions(self, ys: list[np.ndarray], rms: np.ndarray, sigma_w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Share of each window's filtered samples above ``active_k`` and ``dense_k / 3`` × noise.

        ``ys``: consecutive spans of whole windows. Only windows whose RMS allows
        ``min(active_fraction, dense_fraction)`` of their samples above ``active_k`` × noise
        are counted (see :func:`emg._segments_numba.window_fractions`); the others get 0,
        which the activity rule reads the same way, and the dense rule never reads (it needs
        an RMS of ``dense_k`` × noise, far above that bound).
        """
        from ._segments_numba import window_fractions

        frac = np.empty_like(rms)
        frac_hi = np.empty_like(rms)
        thr_a, thr_b = self.active_k * sigma_w, self.dense_k / 3 * sigma_w
        f_min = min(self.active_fraction, self.dense_fraction)
        if len(ys) == 1:
            window_fractions(ys[0], rms, thr_a, thr_b, f_min, frac, frac_hi)
            return frac, frac_hi
        w0 = 0
        for y in ys:
            w = slice(w0, w0 + y.shape[1] // self.win)
            a, b = np.empty_like(rms[:, w]), np.empty_like(rms[:, w])
            window_fractions(y, np.ascontiguousarray(rms[:, w]), np.ascontiguousarray(thr_a[:, w]),
                             np.ascontiguousarray(thr_b[:, w]), f_min, a, b)
            frac[:, w], frac_hi[:, w] = a, b
            w0 = w.stop
        return frac, frac_hi

    def _gaps_exact(self, chunk: Chunk) -> None:
        """Gap segments to the sample, from the chunk's valid mask."""
        v = chunk.valid
        if self._gap_open is None and v.all():
            return
        t0 = chunk.first_sample / self.fs
        d = np.diff(np.concatenate(([1], v.astype(np.int8), [1])))
        starts = np.flatnonzero(d == -1)
        stops = np.flatnonzero(d == 1)
        if len(v) and v[0] and self._gap_open is not None:
            self._segments.append(Segment(self._gap_open, t0, "gap", None))
            self._gap_open = None
        s0 = chunk.first_sample
        for a, b in zip(starts, stops):
            lo = (s0 + a) / self.fs  # from the absolute sample: the same whatever the chunking
            if a == 0 and self._gap_open is not None:
                lo = self._gap_open
            if b == len(v):
                self._gap_open = lo
            else:
                self._segments.append(Segment(lo, (s0 + b) / self.fs, "gap", None))
                self._gap_open = None

    # -- decisions ------------------------------------------------------------------------
    def _lf_deviation(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """|window mean - its running median (±0.3 s)| and the 90th-percentile baseline."""
        m = self._mean[:, lo - self._buf0 : hi - self._buf0]
        if np.isnan(m).any():  # NaN data: SciPy's rank order for NaN
            from scipy.ndimage import median_filter

            med = median_filter(m, size=(1, 2 * self.lf_half + 1), mode="nearest")
        else:
            from ._segments_numba import running_median

            med = np.empty_like(m)
            running_median(np.ascontiguousarray(m), self.lf_half, med)
        return np.abs(m - med), med

    def _decide(self, final: bool) -> list[Segment]:
        n = self._n_windows
        C = self.context_w
        commit_to = n if final else max(self._committed_w, n - 2 * C)
        if commit_to <= self._committed_w:
            return self._take_segments()
        lo = max(self._buf0, self._committed_w - 2 * C)
        hi = n
        idx = slice(lo - self._buf0, hi - self._buf0)
        frac, rms, sat, gapw = self._frac[:, idx], self._rms[:, idx], self._sat[:, idx], self._gapw[idx]
        sigma = self._sigma_w[:, idx]
        # activity bouts
        act = (frac >= self.active_fraction) & ~gapw
        opened = _dilate(_erode(act, 0, self.min_bout_w - 1), 0, self.min_bout_w - 1)
        # brief strong contractions: >= 0.2 s filled with activity far above the noise
        frac_hi = self._frac_hi[:, idx]
        strong = (rms >= self.dense_k * sigma) & ~gapw  # never a window whose shares were skipped
        pair = (strong[:, :-1] & strong[:, 1:] & ((frac[:, :-1] + frac[:, 1:]) >= 2 * self.dense_fraction)
                & ((frac_hi[:, :-1] + frac_hi[:, 1:]) >= 2 * self.dense_fill))
        pair = np.concatenate([pair, np.zeros((pair.shape[0], 1), bool)], axis=1)
        opened |= _dilate(pair, 0, 1)
        bout = _dilate(opened, self.bout_pad_w, self.bout_pad_w)
        half = (self.merge_w + 1) // 2
        bout = _erode(_dilate(bout, half, half), half, half)
        # artefacts: low-frequency excursions (relative to a 90th-percentile baseline) and saturation
        dev, _ = self._lf_deviation(lo, hi)
        base = self._lf_baseline(dev, lo, gapw, hi if final else hi - self.lf_half)
        thr = np.maximum(self.lf_min_uv, self.lf_k * base)
        lf = (dev > thr) & ~gapw
        if self.n_channels >= 2:  # a movement seen on one channel needs half the swing on the others
            lf |= (dev > 0.5 * thr) & lf.any(axis=0)[None, :] & ~gapw
        art = _dilate(lf, *self.art_pad_w) | _dilate(sat, *self.sat_pad_w)
        if self.n_channels >= 2:
            common = art.sum(axis=0) >= max(2, math.ceil(self.common_fraction * self.n_channels))
            art |= common[None, :]
        else:
            common = np.zeros(art.shape[1], bool)
        # noisy: rest noise above the limit for long enough
        loud = sigma > self.noisy_uv
        noisy = _dilate(_erode(loud, 0, self.noisy_min_w - 1), 0, self.noisy_min_w - 1)
        # activity next to an artefact is part of it (a movement starts before its LF swing
        # peaks), up to art_reach_w windows away: a bounded look, so streaming decides the same
        from ._segments_numba import mark_near_runs

        art = np.ascontiguousarray(art)
        mark_near_runs(np.ascontiguousarray(bout), art.copy(), self.art_reach_w, art)
        code = np.zeros(act.shape, np.int8)
        code[bout] = _BOUT
        code[noisy] = _NOISY
        code[art] = _ARTIFACT
        code[:, gapw] = _GAP
        # commit windows [committed, commit_to)
        c0 = self._committed_w - lo
        c1 = commit_to - lo
        self._commit(code[:, c0:c1], common[c0:c1], self._committed_w)
        self._committed_w = commit_to
        # keep what later decisions need
        keep_from = max(0, self._committed_w - 2 * C - 1)
        keep_from = min([keep_from] + [r.start_w for r in self._open if r is not None])
        self._bout_runs = [[(s, e) for s, e in runs if e > keep_from] for runs in self._bout_runs]
        drop = keep_from - self._buf0
        if drop > 0:
            for name in ("_rms", "_frac", "_frac_hi", "_mean", "_sat", "_sigma_w"):
                setattr(self, name, getattr(self, name)[:, drop:])
            self._gapw = self._gapw[drop:]
            self._buf0 = keep_from
        keep_ev = self._bev_t >= keep_from * self.window_s - 1.0
        self._bev_t, self._bev_c = self._bev_t[keep_ev], self._bev_c[keep_ev]
        if final:
            self._close_all(commit_to)
        return self._take_segments()

    def _lf_baseline(self, dev: np.ndarray, lo: int, gapw: np.ndarray, final_to: int) -> np.ndarray:
        """90th percentile of the LF deviation over the trailing 30 s (gaps left out), per 1 s block.

        Blocks lie on the absolute grid of ``block`` windows (``dev[:, 0]`` is window ``lo``;
        the first block may be partial). Each whole block at or after ``self._lf_hist_w`` (the
        windows not yet in the history) whose deviations are final (it ends by ``final_to``:
        the running median needs ``lf_half`` windows after) adds its gap-free values to the
        history; a block's baseline is the percentile over the last ``win`` history values
        before it (once there are at least ``block``), else over its own values, fixed when
        the block joins the history. So the history, and every committed window's baseline,
        are the same whatever the chunking.
        """
        from ._segments_numba import trailing_percentile

        n_ch, n = dev.shape
        win = int(round(30.0 / self.window_s))
        hist = self._hist_lfdev
        start_hist = getattr(self, "_lf_hist_w", 0)
        first_edge = -(-lo // self.block) * self.block  # the first grid edge at or after lo
        starts = np.unique(np.concatenate([[0], np.arange(first_edge - lo, n, self.block)])).astype(np.int64)
        starts = starts[starts < n] if n else np.zeros(0, np.int64)
        stops = np.append(starts[1:], n).astype(np.int64)
        ok = ~gapw
        n_ok = np.add.reduceat(ok.astype(np.int64), starts) if n else np.zeros(0, np.int64)
        whole = (stops - starts == self.block) & ((lo + starts) % self.block == 0)
        adds = whole & (lo + starts >= start_hist) & (lo + stops <= final_to)
        if adds.any():  # a contiguous run of blocks from the history's end
            last = int(np.flatnonzero(adds)[-1])
            adds[: last + 1] = whole[: last + 1] & (lo + starts[: last + 1] >= start_hist)
        total = hist.shape[1] + np.concatenate([[0], np.cumsum(np.where(adds, n_ok, 0))[:-1]])
        cum = np.concatenate([hist, dev[:, ok & np.repeat(adds, stops - starts)]], axis=1)
        base = np.zeros((n_ch, len(starts)))
        from_hist = np.minimum(total, win) >= self.block
        if from_hist.any():
            p90 = np.empty((n_ch, int(from_hist.sum())))
            trailing_percentile(cum, np.argsort(cum, axis=1), total[from_hist].astype(np.int64), win, 0.9, p90)
            base[:, from_hist] = p90
        for j in np.flatnonzero(~from_hist & (n_ok > 0)):  # the start of the recording: the block itself
            b0, b1 = starts[j], stops[j]
            base[:, j] = np.percentile(dev[:, b0:b1][:, ok[b0:b1]], 90, axis=1)
        # a block already in the history keeps the baseline it had when it was added (the
        # history has grown past it since); blocks added now record theirs
        ids, known = self._lf_base_ids, self._lf_base
        block_id = (lo + starts) // self.block
        at = np.minimum(np.searchsorted(ids, block_id), len(ids) - 1)
        found = ids[at] == block_id if len(ids) else np.zeros(len(block_id), bool)
        base[:, found] = known[:, at[found]]
        # blocks added now lie past every known one (the history grows forward)
        ids, known = np.concatenate([ids, block_id[adds]]), np.concatenate([known, base[:, adds]], axis=1)
        keep = ids >= lo // self.block
        self._lf_base_ids, self._lf_base = ids[keep], known[:, keep]
        out = np.repeat(base, stops - starts, axis=1)
        self._hist_lfdev = cum[:, -win:] if win else cum[:, :0]
        if adds.any():
            self._lf_hist_w = lo + int(starts[adds][-1]) + self.block
        else:
            self._lf_hist_w = start_hist
        return out

    def _commit(self, code: np.ndarray, common: np.ndarray, w0: int) -> None:
        w = self.window_s
        rows, cols = np.nonzero(code[:, 1:] != code[:, :-1])  # code changes (row-major order)
        first = np.searchsorted(rows, np.arange(self.n_channels + 1)).tolist()
        cols = (cols + 1).tolist()
        for ch in range(self.n_channels):
            row = code[ch]
            cur = self._open[ch]
            bounds = [0, *cols[first[ch] : first[ch + 1]], len(row)]
            for a, b in zip(bounds[:-1], bounds[1:]):
                value = int(row[a])
                if cur is not None and cur.code == value:
                    continue
                if cur is not None:
                    self._close(ch, cur, w0 + a)
                    cur = None
                if value != _REST:
                    cur = _OpenRun(value, w0 + a)
            self._open[ch] = cur
        self._label_bouts()  # once every channel's runs are committed: the same in any chunking
        del w, common

    def _close(self, ch: int, run: _OpenRun, end_w: int) -> None:
        lo, hi = run.start_w * self.window_s, end_w * self.window_s
        self._excl[ch].append((lo, hi, run.code))
        if run.code == _GAP:
            return  # gap segments come from the valid mask, to the sample
        if run.code == _BOUT:  # labelled by _label_bouts, when the other channels are committed too
            self._bout_runs[ch].append((run.start_w, end_w))
            self._bouts_to_label.append((ch, run.start_w, end_w))
            return
        self._segments.append(Segment(lo, hi, _CODE_LABEL[run.code], ch))

    def _close_all(self, end_w: int) -> None:
        for ch in range(self.n_channels):
            if self._open[ch] is not None:
                self._close(ch, self._open[ch], end_w)
                self._open[ch] = None
        self._label_bouts()

    def _label_bouts(self) -> None:
        """Label the bouts closed since the last call (every channel committed as far)."""
        for ch, a, b in self._bouts_to_label:
            lo, hi = a * self.window_s, b * self.window_s
            self._segments.append(Segment(lo, hi, self._bout_label(ch, lo, hi, a, b), ch))
        self._bouts_to_label = []

    def _bout_elsewhere(self, ch: int, a: int, b: int) -> bool:
        """Whether another channel has bout windows within windows ``[a, b)``."""
        for c in range(self.n_channels):
            if c == ch:
                continue
            run = self._open[c]
            if run is not None and run.code == _BOUT and run.start_w < b:
                return True
            if any(s < b and e > a for s, e in self._bout_runs[c]):
                return True
        return False

    def _bout_label(self, ch: int, lo: float, hi: float, a: int, b: int) -> str:
        sel = (self._bev_c == ch) & (self._bev_t >= lo) & (self._bev_t < hi)
        t = np.sort(self._bev_t[sel])
        if len(t) >= 6:
            close = np.diff(t) <= self.burst_isi_s
            bursts = [(a, b) for a, b in _runs(close)]
            in_bursts = sum(b - a + 1 for a, b in bursts)
            sizes = [b - a + 1 for a, b in bursts]
            if (len(bursts) >= 3 and in_bursts >= 0.7 * len(t) and np.median(sizes) <= 10
                    and self._quiet_fraction(ch, lo, hi) >= 0.3):
                return "myokymia"
        if hi - lo >= self.cramp_min_s and not self._bout_elsewhere(ch, a, b):
            return "cramp"  # long and on one channel only: a voluntary contraction recruits more
        return "voluntary"

    def _quiet_fraction(self, ch: int, lo: float, hi: float) -> float:
        a = int(lo / self.window_s) - self._buf0
        b = int(hi / self.window_s) - self._buf0
        f = self._frac[ch, max(a, 0) : max(b, 0)]
        return float(np.mean(f < self.active_fraction)) if len(f) else 0.0

    def _take_segments(self) -> list[Segment]:
        self._myokymia(final=False)
        return self._pop_segments()

    def _pop_segments(self) -> list[Segment]:
        out = sorted(self._segments, key=lambda s: (s.start_s, -1 if s.channel is None else s.channel))
        self._segments = []
        return out

    @property
    def final_s(self) -> float:
        """Event times before this are final for :meth:`excluded` (myokymia needs more look-ahead)."""
        return self.committed_s - self._episode_lag_s - 0.1

    @property
    def _episode_lag_s(self) -> float:
        """How far behind the committed time an episode's end must lie to be final: nothing
        later can extend it (a burst within ``burst_gap_s``, or a dense train whose 1 s window
        starts within ``burst_gap_s``)."""
        return self.burst_gap_s + TRAIN_WINDOW_S + 0.2

    def _myokymia(self, final: bool) -> None:
        """Event-based myokymic episodes that ended before the committed time."""
        horizon = math.inf if final else self.committed_s - self._episode_lag_s
        if not len(self._ev_t):
            return
        keep = np.ones(len(self._ev_t), bool)
        ongoing = np.full(self.n_channels, math.inf)  # start of an episode still open, per channel
        order = np.lexsort((self._ev_t, self._ev_c))  # by channel, then time (stable)
        bounds = np.searchsorted(self._ev_c[order], np.arange(self.n_channels + 1), side="left")
        # common mode is decided once per event, once the detector's events around it are all
        # in (the committed time is seconds behind them), long before anything near it is
        # dropped (behind the horizon): later, its partners on other channels may be forgotten
        # (old, or inside an episode) while its own channel still holds it
        decide = ~self._ev_known & (self._ev_t < (math.inf if final else self.committed_s))
        if decide.any():
            self._ev_common[decide] = self._common_mode(order, bounds)[decide]
            self._ev_known |= decide
        common = self._ev_common
        for ch in range(self.n_channels):
            sel = order[bounds[ch] : bounds[ch + 1]]
            own = sel[~common[sel]]  # the channel's own events: common-mode ones take no part
            t = self._ev_t[own]
            if not self._may_hold_episode(t):
                continue
            episodes = find_bursts(t, burst_isi_s=self.burst_isi_s, burst_gap_s=self.burst_gap_s)
            a = self._ev_a[own]
            if np.isfinite(a).all():
                episodes = _merge_spans(episodes + find_trains(t, a, min_events=self.train_events,
                                                               merge_s=self.burst_gap_s))
            for lo, hi in episodes:
                if hi < horizon:
                    a, b = max(lo - self.window_s, 0.0), hi + 2 * self.window_s
                    # inside a bout, only what the bout leaves out (its envelope often rises
                    # after the episode's first bursts)
                    parts = self._uncovered(ch, a, b) if self._inside_bout(ch, lo, hi) else [(a, b)]
                    for x, y in parts:
                        self._excl[ch].append((x, y, _BOUT))
                        self._segments.append(Segment(x, y, "myokymia", ch))
                    t_all = self._ev_t[sel]
                    keep[sel[(t_all >= lo) & (t_all <= hi)]] = False
                else:
                    ongoing[ch] = min(ongoing[ch], lo)
        c = self._ev_c
        inside = (c >= 0) & (c < self.n_channels)
        limit = np.where(inside, ongoing[np.clip(c, 0, self.n_channels - 1)], np.inf)
        old = inside & (self._ev_t < horizon - 2 * self.burst_gap_s - 0.1) & (self._ev_t < limit)
        keep &= ~old
        self._ev_t, self._ev_c, self._ev_a = self._ev_t[keep], self._ev_c[keep], self._ev_a[keep]
        self._ev_common, self._ev_known = self._ev_common[keep], self._ev_known[keep]

    def _common_mode(self, order: np.ndarray, bounds: np.ndarray) -> np.ndarray:
        """Per buffered event: seen within ±``coincidence_s`` on ≥ ``burst_common_fraction`` of
        the other channels (and ≥ 2). ``order``/``bounds``: the events by channel, then time."""
        n_other = self.n_channels - 1
        common = np.zeros(len(self._ev_t), bool)
        if self.burst_common_fraction is None or n_other < 2:
            return common
        need = max(2, math.ceil(self.burst_common_fraction * n_other))
        t = self._ev_t
        hits = np.zeros(len(t), np.int64)
        for ch in range(self.n_channels):
            tc = t[order[bounds[ch] : bounds[ch + 1]]]  # sorted
            if not len(tc):
                continue
            near = np.searchsorted(tc, t + self.coincidence_s, side="right") - np.searchsorted(
                tc, t - self.coincidence_s, side="left")
            hits += (near > 0) & (self._ev_c != ch)
        common[:] = hits >= need
        return common

    def _may_hold_episode(self, t: np.ndarray) -> bool:
        """False when the sorted times ``t`` can hold neither bursts nor a dense train (a
        necessary condition of :func:`find_bursts` and :func:`find_trains`, checked cheaply)."""
        if len(t) >= 6 and np.count_nonzero(np.diff(t) <= self.burst_isi_s) >= 6:  # 3 bursts of >= 3
            return True
        n = max(self.train_events, 1)  # n events within 1 s
        return len(t) >= n and bool(np.any(t[n - 1 :] < t[: len(t) - n + 1] + 1.0))

    def _bout_spans(self, ch: int) -> list[tuple[float, float]]:
        """The channel's bouts (s), closed or open (to infinity), and its myokymia episodes."""
        spans = [(a, b) for a, b, code in self._excl[ch] if code == _BOUT]
        run = self._open[ch]
        if run is not None and run.code == _BOUT:
            spans.append((run.start_w * self.window_s, math.inf))
        return spans

    def _inside_bout(self, ch: int, lo: float, hi: float) -> bool:
        """True when an envelope bout already covers most of [lo, hi]."""
        covered = sum(max(0.0, min(b, hi) - max(a, lo)) for a, b in self._bout_spans(ch))
        return covered >= 0.5 * (hi - lo)

    def _uncovered(self, ch: int, lo: float, hi: float) -> list[tuple[float, float]]:
        """The parts of [lo, hi] that no bout of the channel covers."""
        out, at = [], lo
        for a, b in _merge_spans(self._bout_spans(ch)):
            if b <= at or a >= hi:
                continue
            if a > at:
                out.append((at, a))
            at = max(at, b)
        if at < hi:
            out.append((at, hi))
        return out


def segment_recording(data: np.ndarray, fs: float, *, valid: np.ndarray | None = None,
                      event_times_s: np.ndarray | None = None, event_channels: np.ndarray | None = None,
                      chunk_s: float = 60.0, mains: str | float | None = "auto", **kwargs) -> list[Segment]:
    """Segments of a whole array (channels × samples, µV), through the streaming stage.

    The filtered samples come from the filter side of a :class:`emg.detect.Detector`
    (``mains``: "auto", 50, 60 or None), as in :class:`emg.pipeline.Analyzer`; ``kwargs``
    go to :class:`Segmenter`.
    """
    from .detect import Detector

    detector = Detector(fs, data.shape[0], mains=mains)
    seg = Segmenter(fs, data.shape[0], **kwargs)
    out: list[Segment] = []
    step = max(1, int(round(chunk_s * fs)))
    valid = np.ones(data.shape[1], bool) if valid is None else valid
    ev_t = np.zeros(0) if event_times_s is None else np.asarray(event_times_s)
    ev_c = np.zeros(0, np.int32) if event_channels is None else np.asarray(event_channels)
    for first in range(0, data.shape[1], step):
        chunk = Chunk(data[:, first : first + step], first, fs, valid[first : first + step])
        sel = (ev_t >= first / fs) & (ev_t < (first + step) / fs)
        out += seg.process(chunk, ev_t[sel], ev_c[sel], filtered=detector.filter(chunk).parts)
    end = Chunk(np.zeros((data.shape[0], 0), np.float32), data.shape[1], fs)
    out += seg.process(end, filtered=detector.end_filter().parts)  # a recording shorter than the mains probe
    out += seg.flush()
    return sorted(out, key=lambda s: (s.start_s, -1 if s.channel is None else s.channel))
