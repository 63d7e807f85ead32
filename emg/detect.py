"""The spike detector: isolated motor-unit potentials in resting surface EMG.

One :class:`Detector` serves the live stream and the batch path (:func:`detect` is one
detector over one big chunk), and its output does not depend on how the data is chunked.

Pipeline per channel, all causal:

1. mains frequency: 50 or 60 Hz from the first ``mains_probe_s`` seconds (Goertzel power),
   unless given;
2. filter (:class:`emg.filters.DetectionFilter`): 20 Hz high-pass, adaptive mains
   canceller frozen during spikes (no notch ringing), 250 Hz low-pass (if ``fs`` allows);
   restarted after each gap and at the start, and no detection for ``settle_s`` seconds
   after a restart;
3. noise: robust RMS (median |x| / 0.6745) per block of ``block_s`` seconds aligned on
   absolute sample numbers, then the median of the last ``noise_blocks`` blocks: the
   median ignores the few samples inside events and whole blocks with bursts;
4. events: |x| above ``threshold`` x noise; crossings (above 10 % of the event's peak)
   closer than ``merge_ms`` join one event (at most ``max_event_ms`` long) reported at
   its largest |x|; a new event needs ``dead_ms`` after the previous peak and must rise
   above the previous peak's decaying shadow (60 % x exp(-dt / 20 ms), at least 5 samples), so the filter's
   tail after a large potential is not a second event while a doublet's second discharge
   is; the same rule backwards drops a small leading phase split off a larger potential;
5. features (:data:`emg.types.Events`): peak-to-peak, duration and phases of the support
   (samples above max(3 x noise, 10 % of the peak) with gaps under 3 ms, within 15 ms of
   the peak), energy, spectral centroid of the Hann-windowed snippet, SNR =
   peak-to-peak / noise RMS, and ``coincident``: the number of other channels with an
   event peak within ``coincidence_ms`` (default 5 ms).

At 250 Hz (OpenBCI Cyton default) a 10 ms potential is 2-3 samples wide: it is still
detected, but duration, phases and centroid are coarse there.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np

from ._detect_numba import block_mad, event_features, railed_runs, threshold_events
from .filters import DetectionFilter, detect_mains
from .types import Chunk, Events, Recording

__all__ = ["Detector", "Filtered", "detect"]

_MAD_MIN_FRACTION = 0.25  # a block needs this share of usable samples for a noise estimate
_SEGMENT_BLOCKS = 64  # blocks filtered and searched per kernel call (bounds memory)
_FLAT_MS = 4.0  # identical raw samples for this long: a saturated (railed) input
_FLAT_BLOCK_FRACTION = 0.1  # a block this much saturated ...
_FLAT_NOISE_RATIO = 0.5  # ... whose noise falls below this share of the running one is ignored


def _samples(value_s: float, fs: float, minimum: int = 0) -> int:
    return max(minimum, int(round(value_s * fs)))


class Detector:
    """Streaming, stateful spike detector.

    Parameters
    ----------
    fs : float
        Sample rate in Hz.
    n_channels : int
        Channels per chunk.
    mains : "auto" | 50 | 60 | None
        Mains frequency to notch; "auto" finds it from the first ``mains_probe_s`` s;
        None notches nothing.
    threshold : float
        Detection threshold in multiples of the robust noise RMS.
    highpass_hz, lowpass_hz : float
        Filter band edges (see :class:`emg.filters.DetectionFilter`).
    block_s, noise_blocks : float, int
        Noise estimate: block length in s and how many recent blocks the median takes.
    merge_ms, max_event_ms, dead_ms, extend_frac, shadow_frac, shadow_ms : float
        Event grouping (see module docstring and ``_detect_numba.threshold_events``).
    wave_ms : float
        Half-length of the waveform snippet kept per event.
    coincidence_ms : float
        Window for ``Events.coincident``.
    settle_s : float
        No detection this long after the start and after each gap (filter settling).
    mains_probe_s : float
        Data used to find the mains frequency.
    workers : int | None
        Threads filtering groups of channels side by side (the kernels release the GIL).
        None: 1, because the kernels already run the channels side by side in vector
        instructions and a second thread measured slower on a shared 2-core machine.
        Results do not depend on it.

    Attributes
    ----------
    mains_hz : float | None
        50.0 or 60.0 once known (after ``mains_probe_s`` of data, or as given); None before,
        and None after the probe when mains was None or the probe held under 0.25 s of data.
    noise_uv : ndarray (n_channels,)
        The current robust noise RMS per channel in µV (NaN until a block is complete).
    block_noise_uv : ndarray (n_channels, blocks)
        The noise RMS (µV) of each block the last :meth:`search` or :meth:`flush` call searched
        (each block once, on the absolute block grid: the same blocks whatever the chunking).
    n_wave : int
        Samples per waveform snippet.

    Notes
    -----
    Latency: an event is returned once its block of ``block_s`` is complete, its +-25 ms
    window is filtered and 60 ms more have passed (the backward shadow and coincidence
    look-ahead): about 1.1 s at most, plus the first ``mains_probe_s`` at the start.

    Examples
    --------
    >>> from emg.simulate import simulate
    >>> rec, truth = simulate("clean", minutes=0.5, seed=3)
    >>> det = Detector(rec.fs, rec.n_channels)
    >>> events = [det.process(chunk) for chunk in rec.iter_chunks(0.1)] + [det.flush()]
    """

    def __init__(
        self,
        fs: float,
        n_channels: int,
        *,
        mains: str | float | None = "auto",
        threshold: float = 5.0,
        highpass_hz: float = 20.0,
        lowpass_hz: float = 250.0,
        block_s: float = 1.0,
        noise_blocks: int = 10,
        merge_ms: float = 8.0,
        max_event_ms: float = 30.0,
        dead_ms: float = 3.0,
        extend_frac: float = 0.1,
        shadow_frac: float = 0.6,
        shadow_ms: float = 20.0,
        wave_ms: float = 25.0,
        coincidence_ms: float = 5.0,
        settle_s: float = 0.5,
        mains_probe_s: float = 2.0,
        workers: int | None = None,
    ):
        if not (isinstance(fs, (int, float)) and math.isfinite(fs) and fs > 0):
            raise ValueError(f"Invalid value for 'fs': must be a positive sample rate in Hz, got {fs!r}.")
        if not (isinstance(n_channels, (int, np.integer)) and n_channels >= 1):
            raise ValueError(f"Invalid value for 'n_channels': must be an integer >= 1, got {n_channels!r}.")
        if mains not in ("auto", None) and mains not in (50, 60):
            raise ValueError(f"Invalid value for 'mains': allowed are 'auto', 50, 60, None, got {mains!r}.")
        if not threshold > 0:
            raise ValueError(f"Invalid value for 'threshold': must be > 0 (x noise RMS), got {threshold!r}.")
        if not (isinstance(noise_blocks, (int, np.integer)) and noise_blocks >= 1):
            raise ValueError(f"Invalid value for 'noise_blocks': must be an integer >= 1, got {noise_blocks!r}.")
        self.fs = float(fs)
        self.n_channels = int(n_channels)
        self.threshold = float(threshold)
        self._filter_kw = {"highpass_hz": highpass_hz, "lowpass_hz": lowpass_hz}
        self.block_n = _samples(block_s, fs, 1)
        self.noise_blocks = int(noise_blocks)
        self.merge_n = _samples(merge_ms / 1000, fs, 2)
        self.max_n = _samples(max_event_ms / 1000, fs, 12)  # >= 12 samples (48 ms at 250 Hz)
        self.dead_n = _samples(dead_ms / 1000, fs, 0)
        self.extend_frac = float(extend_frac)
        self.shadow_frac = float(shadow_frac)
        self.shadow_n = max(5.0, shadow_ms / 1000 * fs)  # at least 5 samples (250 Hz: 20 ms)
        self.shadow_span_n = int(math.ceil(3 * self.shadow_n))  # backward shadow look-ahead
        self.half_n = _samples(wave_ms / 1000, fs, 2)
        self.coinc_n = _samples(coincidence_ms / 1000, fs, 0)
        self.settle_n = _samples(settle_s, fs, 0)
        self.probe_n = _samples(mains_probe_s, fs, 1)
        self._search_n = _samples(0.015, fs, 2)
        self._gap_n = _samples(0.003, fs, 2)
        if self.max_n >= self.block_n:
            raise ValueError(f"Invalid value for 'max_event_ms': must be shorter than block_s, got {max_event_ms!r}.")
        self.mains_hz: float | None = float(mains) if mains not in ("auto", None) else None
        self._auto = mains == "auto"
        self._filter: _ChannelGroups | None = None
        self._workers = 1 if workers is None else max(1, int(workers))
        self._probe: list[tuple[np.ndarray, np.ndarray]] = []  # raw chunks held until mains is known
        self._probe_len = 0
        self._next = 0  # absolute index of the next expected input sample
        self._front_pos = 0  # absolute index of the next sample to filter
        self._finished = False
        # filtered samples not yet dropped, from absolute sample self._y_start
        self._y = np.zeros((self.n_channels, 0), np.float32)
        self._u = np.zeros(0, np.bool_)
        # filtered samples just before self._y_start, all searched: kept for waveforms only
        self._hist = np.zeros((self.n_channels, 0), np.float32)
        # raw samples railed (in a run of identical values) per channel and block, from block _flat_b0
        self._flat = np.zeros((self.n_channels, 0), np.int64)
        self._flat_b0 = 0
        self._flat_n = _samples(_FLAT_MS / 1000, fs, 3)
        self._run_val = np.full(self.n_channels, np.nan)  # last raw sample and its run length
        self._run_len = np.zeros(self.n_channels, np.int64)
        self._y_start = 0
        self._det_pos = 0  # samples before this went through the state machine
        self._prev_valid = False
        self._last_reset = 0
        self._mads = np.zeros((self.n_channels, 0))  # the last noise_blocks - 1 block estimates
        # the noise RMS of each searched block (n_channels, blocks), from absolute block _sigma_b0 on
        self._sigma_blocks = np.zeros((self.n_channels, 0))
        self._sigma_b0 = 0
        self.noise_uv = np.full(self.n_channels, np.nan)
        self.block_noise_uv = np.zeros((self.n_channels, 0))
        self._state = np.zeros((self.n_channels, 5), np.int64)
        self._state[:, 3:] = -(1 << 40)
        self._peak_val = np.zeros((self.n_channels, 2))
        self._pend_ch = np.zeros(0, np.int64)  # closed events awaiting their waveform/coincidence
        self._pend_peak = np.zeros(0, np.int64)
        self._pend_val = np.zeros(0)
        self._recent_ch = np.zeros(0, np.int64)  # emitted events still inside a coincidence window
        self._recent_peak = np.zeros(0, np.int64)

    # -- public -------------------------------------------------------------------------
    @property
    def n_wave(self) -> int:
        """Samples per waveform snippet (the peak at ``n_wave // 2``)."""
        return 2 * self.half_n + 1

    def process(self, chunk: Chunk) -> Events:
        """Feed the next chunk; return the events whose waveform window is now complete."""
        return self.search(self.filter(chunk))

    def filter(self, chunk: Chunk) -> Filtered:
        """First half of :meth:`process`: check the chunk, find the mains, filter.

        It touches only the filter side of the state, so a caller may run it one chunk
        ahead on another thread; :meth:`search` must then take its results in order.
        """
        if self._finished:
            raise RuntimeError("Detector.process called after flush(); make a new Detector.")
        if abs(chunk.fs - self.fs) > 1e-9 * self.fs:
            raise ValueError(f"Invalid chunk: fs is {chunk.fs:g} Hz, the detector runs at {self.fs:g} Hz.")
        if chunk.data.shape[0] != self.n_channels:
            raise ValueError(f"Invalid chunk: {chunk.data.shape[0]} channels, the detector has {self.n_channels}.")
        if chunk.first_sample != self._next:
            raise ValueError(
                f"Invalid chunk: first_sample must be {self._next} (chunks are consecutive), got {chunk.first_sample}."
            )
        self._next += chunk.n_samples
        if chunk.n_samples == 0:
            return Filtered((), self._filter is not None)
        if self._filter is None:
            self._probe.append((chunk.data, chunk.valid))
            self._probe_len += chunk.n_samples
            if self._probe_len < self.probe_n:
                return Filtered((), False)
            return Filtered(self._decide_mains(), True)
        return Filtered(self._front(chunk.data, chunk.valid), True)

    def end_filter(self) -> Filtered:
        """End of data for the filter side: the samples still held for the mains decision.

        A recording shorter than ``mains_probe_s`` never reached the decision; it is taken
        now on what there is, and every held sample is filtered (hand the result to
        :meth:`search` before :meth:`flush`). Empty once the filters run.
        """
        if self._finished or self._filter is not None:
            return Filtered((), self._filter is not None)
        return Filtered(self._decide_mains(), True)

    def search(self, filtered: Filtered) -> Events:
        """Second half of :meth:`process`: noise, thresholds, events and their features."""
        self.block_noise_uv = np.zeros((self.n_channels, 0))
        if not filtered.parts:
            return Events.empty(self.fs, self.n_wave)
        self._out: list[Events] = []
        for part in filtered.parts:
            self._absorb(*part)
        self._out.append(self._emit(final=False))
        return self._joined()

    def flush(self) -> Events:
        """End of data: finish the last partial block and return every remaining event."""
        self.block_noise_uv = np.zeros((self.n_channels, 0))
        if self._finished:
            return Events.empty(self.fs, self.n_wave)
        self._out = []
        if self._filter is None:
            for part in self._decide_mains():
                self._absorb(*part)
        self._finished = True
        end = self._y_start + self._y.shape[1]
        if end > self._det_pos:
            lo = self._det_pos - self._y_start
            self._search(self._y[:, lo:], self._u[lo:], partial=True)
        open_ch = np.flatnonzero(self._state[:, 0] == 1)
        if len(open_ch):  # events still open at the end are complete as far as data goes
            self._pend_ch = np.concatenate([self._pend_ch, open_ch.astype(np.int64)])
            self._pend_peak = np.concatenate([self._pend_peak, self._state[open_ch, 2]])
            self._pend_val = np.concatenate([self._pend_val, self._peak_val[open_ch, 0]])
            self._state[open_ch, 0] = 0
        self._out.append(self._emit(final=True))
        return self._joined()

    # -- stages ---------------------------------------------------------------------------
    def _decide_mains(self) -> None:
        """With the first ``probe_n`` samples: find the mains, warm the canceller, start filtering."""
        if len(self._probe) == 1:  # typically the batch path: one big chunk, no copy
            data, valid = self._probe[0]
        elif self._probe:
            data = np.concatenate([d for d, _ in self._probe], axis=1)
            valid = np.concatenate([v for _, v in self._probe])
        else:
            data, valid = np.zeros((self.n_channels, 0), np.float32), np.zeros(0, bool)
        probe, probe_valid = data[:, : self.probe_n], valid[: self.probe_n]
        if self._auto:
            self.mains_hz = detect_mains(probe, self.fs, probe_valid)
        self._filter = _ChannelGroups(self.fs, self.n_channels, self.mains_hz, self._workers, self._filter_kw)
        self._filter.warm_up(probe, probe_valid)
        self._probe = []
        return self._front(data, valid)

    def _front(self, data: np.ndarray, valid: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Filter new raw samples in bounded segments: (filtered, usable, raw) per segment (the
        raw samples go on to :meth:`search`, which finds railed runs in them)."""
        seg = _SEGMENT_BLOCKS * self.block_n
        parts = []
        for lo in range(0, data.shape[1], seg):
            x, v = data[:, lo : lo + seg], valid[lo : lo + seg]
            parts.append((self._filter.process(x, v), self._usable(v), x))
        return parts

    def _absorb(self, y: np.ndarray, u: np.ndarray, x: np.ndarray) -> None:
        """Take one filtered segment (with its raw samples); search every block it completes."""
        start = self._y_start + self._y.shape[1]
        self._railed(x, start)  # here, not in filter(): the search side has the lighter load
        if self._det_pos == start:  # all held samples searched: they become history, y is searched uncopied
            if self._y.shape[1]:
                self._hist = np.concatenate([self._hist, self._y], axis=1) if self._hist.shape[1] else self._y
            self._y, self._u, self._y_start = y, u, start
        else:
            self._y = np.concatenate([self._y, y], axis=1) if self._y.shape[1] else y
            self._u = np.concatenate([self._u, u]) if self._u.size else u
        end = self._y_start + self._y.shape[1]
        n_full = (end // self.block_n) * self.block_n - self._det_pos
        if n_full > 0:
            a = self._det_pos - self._y_start
            self._search(self._y[:, a : a + n_full], self._u[a : a + n_full], partial=False)
            self._out.append(self._emit(final=False))  # lets _trim drop what is done
            self._trim()

    def _usable(self, valid: np.ndarray) -> np.ndarray:
        """Valid and not within ``settle_n`` samples of a filter restart."""
        n = len(valid)
        first = self._front_pos
        self._front_pos += n
        if n and valid.all():  # no restart inside: unusable only up to settle_n after the last one
            if not self._prev_valid:
                self._last_reset = first
            self._prev_valid = True
            usable = np.ones(n, bool)
            usable[: max(0, min(n, self._last_reset + self.settle_n - first))] = False
            return usable
        idx = np.arange(first, first + n)
        prev = np.concatenate([[self._prev_valid], valid[:-1]])
        restart = valid & ~prev
        last = np.where(restart, idx, -1)
        last = np.maximum.accumulate(np.maximum(last, self._last_reset if n else 0))
        if n:
            self._last_reset = int(last[-1])
            self._prev_valid = bool(valid[-1])
        return valid & (idx - last >= self.settle_n)

    def _railed(self, x: np.ndarray, first: int) -> None:
        """Count per block the raw samples from absolute sample ``first`` at least ``_FLAT_MS``
        into a run of identical values (a railed input; the run carries over chunk borders)."""
        n = x.shape[1]
        if not n:
            return
        if not self._flat.shape[1]:
            self._flat_b0 = first // self.block_n
        new = (first + n - 1) // self.block_n + 1 - self._flat_b0 - self._flat.shape[1]
        if new > 0:
            self._flat = np.concatenate([self._flat, np.zeros((self.n_channels, new), np.int64)], axis=1)
        counts = self._flat[:, first // self.block_n - self._flat_b0 :]
        railed_runs(np.asarray(x, dtype=np.float32), self._run_val, self._run_len, self._flat_n, first, self.block_n,
                    counts)

    def _search(self, y: np.ndarray, u: np.ndarray, *, partial: bool) -> None:
        """Noise per block, thresholds, and the crossing state machine over blocks of ``y``."""
        first = self._det_pos
        n = y.shape[1]
        stride = max(1, self.block_n // 250)  # ~250 samples per block for the median
        if partial:
            mads = block_mad(y, u, n, _MAD_MIN_FRACTION, stride)
            block_n = n
        else:
            mads = block_mad(y, u, self.block_n, _MAD_MIN_FRACTION, stride)
            block_n = self.block_n
        # a railed block whose noise collapses is no noise measurement: ignored (NaN), so the
        # running estimate holds its value through saturation instead of falling to ~0
        nb = mads.shape[1]
        b = first // self.block_n - self._flat_b0  # (first is on the block grid)
        railed = self._flat[:, b : b + nb] / block_n >= _FLAT_BLOCK_FRACTION
        self._flat = self._flat[:, b + nb :]
        self._flat_b0 += b + nb
        if railed.any():
            hist = self._mads
            for b in range(nb):
                col = mads[:, b].copy()
                if railed[:, b].any() and hist.shape[1]:
                    ref = _nanmedian_last(hist)
                    col[railed[:, b] & (col < _FLAT_NOISE_RATIO * ref)] = np.nan
                    mads[:, b] = col
                hist = np.concatenate([hist, col[:, None]], axis=1)[:, -max(1, self.noise_blocks - 1):]
        # running median over the last ``noise_blocks`` block estimates (NaN blocks ignored)
        window = np.concatenate([self._mads, mads], axis=1)
        self._mads = window[:, -(self.noise_blocks - 1):] if self.noise_blocks > 1 else window[:, :0]
        pad = self.noise_blocks - 1 - (window.shape[1] - nb)
        if pad > 0:
            window = np.concatenate([np.full((self.n_channels, pad), np.nan), window], axis=1)
        sigma = _nanmedian_last(window[:, np.arange(nb)[:, None] + np.arange(self.noise_blocks)[None, :]])
        if not self._sigma_blocks.shape[1]:
            self._sigma_b0 = first // self.block_n
        self._sigma_blocks = np.concatenate([self._sigma_blocks, sigma], axis=1)  # blocks follow each other
        self.block_noise_uv = np.concatenate([self.block_noise_uv, sigma], axis=1)
        last_ok = np.isfinite(sigma)
        if last_ok.any():
            idx = np.where(last_ok, np.arange(nb)[None, :], -1).max(axis=1)
            self.noise_uv = np.where(idx >= 0, sigma[np.arange(self.n_channels), np.maximum(idx, 0)], self.noise_uv)
        thr = np.ascontiguousarray(sigma * self.threshold)
        cap = self.n_channels * (n // (self.merge_n + 1) + 2)
        out_ch = np.empty(cap, np.int64)
        out_peak = np.empty(cap, np.int64)
        out_val = np.empty(cap)
        k = threshold_events(y, u, thr, block_n, first,
                             self.merge_n, self.max_n, self.dead_n, self.extend_frac, self.shadow_frac,
                             self.shadow_n, self._state, self._peak_val, out_ch, out_peak, out_val)
        self._pend_ch = np.concatenate([self._pend_ch, out_ch[:k]])
        self._pend_peak = np.concatenate([self._pend_peak, out_peak[:k]])
        self._pend_val = np.concatenate([self._pend_val, out_val[:k]])
        self._det_pos = first + n

    def _trim(self) -> None:
        """Drop filtered samples no pending or future event can need."""
        keep = self._det_pos - self.max_n
        if len(self._pend_peak):
            keep = min(keep, int(self._pend_peak.min()))
        keep -= self.half_n + 1
        if keep > self._y_start - self._hist.shape[1]:
            self._hist = self._hist[:, max(0, keep - self._y_start + self._hist.shape[1]) :]
        cut = keep - self._y_start
        if cut > 0:
            self._y = self._y[:, cut:]
            self._u = self._u[cut:]
            self._y_start += cut
        old = (keep // self.block_n) - 2
        if old > self._sigma_b0:
            self._sigma_blocks = self._sigma_blocks[:, old - self._sigma_b0 :]
            self._sigma_b0 = old

    # -- output ---------------------------------------------------------------------------
    def _joined(self) -> Events:
        """The events emitted during one call, in (sample, channel) order."""
        full = [e for e in self._out if len(e)]
        if len(full) == 1:  # in order already (each emit sorts its events); concat would copy it
            return full[0]
        return Events.concat(self._out, fs=self.fs) if len(self._out) > 1 else self._out[0]

    def _emit(self, *, final: bool) -> Events:
        if not len(self._pend_peak):
            return Events.empty(self.fs, self.n_wave)
        y_end = self._y_start + self._y.shape[1]
        open_starts = np.where(self._state[:, 0] == 1, self._state[:, 1], self._det_pos)
        horizon = np.inf if final else int(open_starts.min())
        self._backward_shadow(horizon)
        if final:
            ready = np.ones(len(self._pend_peak), bool)
        else:
            wait = max(self.coinc_n, self.shadow_span_n)
            ready = (self._pend_peak + wait < horizon) & (self._pend_peak + self.half_n < y_end)
        if not ready.any():
            return Events.empty(self.fs, self.n_wave)
        ch, peak = self._pend_ch[ready], self._pend_peak[ready]
        order = np.lexsort((ch, peak))
        ch, peak = ch[order], peak[order]
        coincident = self._coincidence(ch, peak)
        self._recent_ch = np.concatenate([self._recent_ch, ch])
        self._recent_peak = np.concatenate([self._recent_peak, peak])
        keep_recent = self._recent_peak >= peak.max() - 2 * self.coinc_n - 1
        self._recent_ch, self._recent_peak = self._recent_ch[keep_recent], self._recent_peak[keep_recent]
        self._pend_ch, self._pend_peak, self._pend_val = (
            self._pend_ch[~ready], self._pend_peak[~ready], self._pend_val[~ready])

        waves = self._waves(ch, peak)
        noise = self._sigma_blocks[ch, peak // self.block_n - self._sigma_b0]
        pp, dur, phases, energy, centroid = event_features(waves, noise, self.fs, self._search_n, self._gap_n,
                                                           3.0, 0.1)
        return Events(fs=self.fs, sample=peak, channel=ch, amplitude_uv=pp, duration_ms=dur, phases=phases,
                      energy_uv2s=energy, centroid_hz=centroid, snr=pp / noise, noise_uv=noise,
                      coincident=coincident, waveforms=waves)

    def _waves(self, ch: np.ndarray, peak: np.ndarray) -> np.ndarray:
        """Filtered snippets (len(peak), n_wave) float32 around each peak; zero outside the
        held samples (history, then the held segment)."""
        idx = peak[:, None] + np.arange(-self.half_n, self.half_n + 1)[None, :]
        waves = np.zeros(idx.shape, np.float32)
        lo = self._y_start - self._hist.shape[1]
        for part in (self._hist, self._y):
            n = part.shape[1]
            if n:
                at = idx - lo
                inside = (at >= 0) & (at < n)
                waves = np.where(inside, part[ch[:, None], np.clip(at, 0, n - 1)], waves)
            lo += n
        return waves

    def _backward_shadow(self, horizon: float) -> None:
        """Drop pending events lying in the shadow of a larger event that follows them.

        The forward shadow is applied while detecting; this is its mirror image, for a small
        leading phase split from its potential (mostly at 250 Hz). Only events whose whole
        look-ahead lies before ``horizon`` (all later events known) are judged, so the
        result does not depend on chunking.
        """
        if len(self._pend_peak) < 2:
            return
        # pending events in (channel, peak) order, stable; pairs (a, b) of a channel with b
        # after a within the span; a is judged only when its whole span is before the horizon
        order = np.lexsort((self._pend_peak, self._pend_ch))
        ch, p, v = self._pend_ch[order], self._pend_peak[order], self._pend_val[order]
        key = ch * (int(p.max()) + self.shadow_span_n + 2) + p  # increasing: one search for all channels
        a = np.flatnonzero(p + self.shadow_span_n < horizon)
        end = np.searchsorted(key, key[a] + self.shadow_span_n, side="right")
        size = end - a - 1
        a_of = np.repeat(a, size)
        b = a_of + 1 + (np.arange(size.sum()) - np.repeat(np.cumsum(size) - size, size))
        dt = p[b] - p[a_of]
        shadowed = v[a_of] < self.shadow_frac * v[b] * np.exp(-dt / self.shadow_n)
        keep = np.ones(len(p), bool)
        keep[order[a_of[shadowed]]] = False
        if not keep.all():
            self._pend_ch, self._pend_peak, self._pend_val = (
                self._pend_ch[keep], self._pend_peak[keep], self._pend_val[keep])

    def _coincidence(self, ch: np.ndarray, peak: np.ndarray) -> np.ndarray:
        """Other channels with an event peak within ``coinc_n`` samples of each event."""
        all_ch = np.concatenate([self._recent_ch, self._pend_ch, ch])
        all_peak = np.concatenate([self._recent_peak, self._pend_peak, peak])
        if self.n_channels <= 64:  # one bit per channel: OR the bits of the events in each window
            order = np.argsort(all_peak, kind="stable")
            p = all_peak[order]
            bits = np.left_shift(np.uint64(1), all_ch[order].astype(np.uint64))
            bits = np.append(bits, np.uint64(0))  # reduceat's end index may be len(p)
            lo = np.searchsorted(p, peak - self.coinc_n, "left")
            hi = np.searchsorted(p, peak + self.coinc_n, "right")  # > lo: each event is in its own window
            near = np.bitwise_or.reduceat(bits, np.stack([lo, hi], axis=1).ravel())[::2]
            near = near & ~np.left_shift(np.uint64(1), ch.astype(np.uint64))  # other channels (a new array)
            return np.unpackbits(near.view(np.uint8)).reshape(len(ch), 64).sum(axis=1, dtype=np.int32)
        count = np.zeros(len(ch), np.int32)
        for other in range(self.n_channels):
            p = np.sort(all_peak[all_ch == other])
            if not len(p):
                continue
            hit = np.searchsorted(p, peak - self.coinc_n, "left") < np.searchsorted(p, peak + self.coinc_n, "right")
            count += (hit & (ch != other)).astype(np.int32)
        return count


class Filtered(NamedTuple):
    """Filtered samples handed from :meth:`Detector.filter` to :meth:`Detector.search`."""

    #: per consecutive segment: filtered µV (n_channels, n) float32, usable (n,) bool, raw µV (n_channels, n)
    parts: tuple | list
    #: the mains frequency is decided and the filters run (False during the first ``mains_probe_s``)
    filtering: bool


def _nanmedian_last(a: np.ndarray) -> np.ndarray:
    """Median over the last axis ignoring NaN (NaN where all are NaN); ``np.nanmedian``
    without its masked-array overhead on many short rows."""
    srt = np.sort(a, axis=-1)  # NaN sort last
    if np.isfinite(a).all():  # (mostly) the middle of every row is at the same place
        return 0.5 * (srt[..., (a.shape[-1] - 1) // 2] + srt[..., a.shape[-1] // 2])
    k = np.isfinite(a).sum(axis=-1)
    lo = np.take_along_axis(srt, np.maximum((k - 1) // 2, 0)[..., None], axis=-1)[..., 0]
    hi = np.take_along_axis(srt, np.maximum(k // 2, 0)[..., None], axis=-1)[..., 0]
    return np.where(k > 0, 0.5 * (lo + hi), np.nan)


def _default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=_default_workers(), thread_name_prefix="emg-detect")
    return _POOL


class _ChannelGroups:
    """One :class:`DetectionFilter` per group of channels, run on threads side by side."""

    def __init__(self, fs, n_channels, mains_hz, workers, filter_kw):
        n_groups = max(1, min(workers, n_channels))
        self.groups = [g for g in np.array_split(np.arange(n_channels), n_groups) if len(g)]
        self.filters = [DetectionFilter(fs, len(g), mains_hz, **filter_kw) for g in self.groups]

    def warm_up(self, data, valid) -> None:
        for g, f in zip(self.groups, self.filters):
            f.warm_up(data[g[0] : g[-1] + 1], valid)

    def process(self, data, valid) -> np.ndarray:
        parts = [data[g[0] : g[-1] + 1] for g in self.groups]
        if len(self.filters) == 1:
            return self.filters[0].process(parts[0], valid)
        futures = [_pool().submit(f.process, x, valid) for f, x in zip(self.filters, parts)]
        return np.concatenate([fu.result() for fu in futures], axis=0)


def detect(recording: Recording, **kwargs) -> Events:
    """All events of a recording: one :class:`Detector` over the whole recording as one chunk.

    Keyword arguments go to :class:`Detector`. Gaps of the recording produce no events.
    """
    det = Detector(recording.fs, recording.n_channels, **kwargs)
    chunk = Chunk(recording.data, first_sample=0, fs=recording.fs, valid=recording.valid_mask())
    return Events.concat([det.process(chunk), det.flush()], fs=recording.fs)
