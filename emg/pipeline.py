"""The stages every path runs: source → Detector → Segmenter + EventClassifier → units → rates.

:class:`Analyzer` chains the stage objects over chunks. The live path (``emg demo``,
``emg stream``) feeds it chunks as they arrive; the batch path (:func:`analyze`,
``emg analyze``) feeds it the same way with big chunks, so the two cannot disagree.

>>> from emg.simulate import simulate
>>> rec, truth = simulate("clean", minutes=1, seed=5)
>>> result = analyze(rec)                      # doctest: +SKIP
>>> result.fasciculations, result.rate_per_hour  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from .classify import FAINT_CANDIDATE, EchoFilter, EventClassifier
from .rates import HourRate, hourly_rates, invalid_intervals, overall_rate, valid_seconds
from .segments import Segmenter
from .types import Chunk, Events, Recording, RecordingInfo, Segment, chunk_step
from .units import UnitTemplate, UnitTracker

if TYPE_CHECKING:
    from .detect import Filtered

__all__ = ["ACCEPT_CHUNKS", "BATCH_CHUNK_S", "AnalysisResult", "Analyzer", "Detected", "analyze", "run_ahead",
           "run_chunks"]

#: chunk length of the batch path (s): streaming with big chunks. Results do not depend on it
#: (tests check 0.25-3.7 s chunks against it); larger chunks cost less per hour (fewer calls):
#: on 1 h x 8 ch x 1 kHz, 120 s chunks took the whole analysis from 0.48 to 0.43-0.45 s (wall,
#: best of 6, with ACCEPT_CHUNKS 2-3), at ~70-100 MB more peak memory on 16 ch x 2 kHz.
BATCH_CHUNK_S = 120.0
#: The batch path segments and classifies this many consecutive chunks at once
#: (:meth:`Analyzer.accept_many`): those stages cost ~2-3 ms per call whatever its length,
#: while reading, filtering and detection keep the chunk grid. On 1 h x 8 ch x 1 kHz (60 s
#: chunks), 3 instead of 1 took the segment+classify thread from 0.31 to 0.25 s of CPU.
ACCEPT_CHUNKS = 3


@dataclass
class AnalysisResult:
    """Everything one analysis produced (what ``emg analyze`` writes)."""

    input: str
    info: RecordingInfo
    events: Events
    segments: tuple[Segment, ...]
    rates: list[HourRate]
    noise_uv: dict[str, float]
    mains_hz: float | None
    units: dict[str, list[UnitTemplate]]
    valid_s_per_channel: dict[str, float]
    fasciculations: dict[str, int]
    rate_per_hour: dict[str, tuple[float | None, float | None, float | None]]
    packets_lost: int = 0
    notes: list[str] = field(default_factory=list)
    #: per channel, ECG blanking windows (s from the start) left out of valid time, and their seconds
    ecg_blanked: dict[str, tuple[tuple[float, float], ...]] = field(default_factory=dict)
    ecg_blanked_s: dict[str, float] = field(default_factory=dict)
    #: per channel, the smallest potential counted (µV peak-to-peak): the classifier's SNR floor
    #: times the channel's noise; smaller fasciculations are not in the count
    counted_from_uv: dict[str, float] = field(default_factory=dict)

    @property
    def valid_s(self) -> float:
        """Valid rest seconds, averaged over channels."""
        v = list(self.valid_s_per_channel.values())
        return float(np.mean(v)) if v else 0.0

    def segment_seconds(self) -> dict[str, float]:
        """Seconds per segment label, summed over channels (a segment on all channels counts once per channel)."""
        n = len(self.info.channel_names)
        out: dict[str, float] = {}
        for s in self.segments:
            out[s.label] = out.get(s.label, 0.0) + (s.end_s - s.start_s) * (n if s.channel is None else 1)
        return {k: round(v, 1) for k, v in sorted(out.items())}

    def write(self, out_dir: str | os.PathLike, stem: str | None = None) -> dict[str, Path]:
        """Write the contract's files (and ``<stem>.units.json``) into ``out_dir``."""
        from .outputs import write_outputs

        if stem is None:
            stem = Path(self.input).stem if self.input else "recording"
        return write_outputs(self, out_dir, stem)


class Detected(NamedTuple):
    """What :meth:`Analyzer.detect` hands to :meth:`Analyzer.accept` for one chunk."""

    events: Events
    #: the detector's noise RMS (µV) of each block it searched in the chunk (n_channels, blocks)
    block_noise_uv: np.ndarray
    #: the detector filters (its mains frequency is decided)
    filtering: bool
    #: the detector's filtered samples of the chunk (:attr:`emg.detect.Filtered.parts`), for the segmenter
    parts: tuple = ()


#: Detector settings of the whole analysis (over :class:`emg.detect.Detector`'s own): a lower
#: threshold (4.5 x noise instead of 5), because the classifier's ``min_snr`` (8: peak-to-peak
#: over noise RMS) then drops the noise-level crossings; set on simulator seeds 100-102.
DETECTOR_DEFAULTS: dict = {"threshold": 4.5}

#: A faint would-be fasciculation (SNR ``rescue_snr``-``min_snr`` of the classifier, no other
#: discharge within a multiplet's reach on its channel) is counted when it repeats an
#: established putative motor unit of its channel (:meth:`emg.units.UnitTracker.match`):
#: normalised correlation >= ``min_corr`` with a unit of >= ``min_count`` clear members, silent
#: for >= ``min_gap_s`` before, and a size within the unit's ``max_amp_ratio``. Set on
#: simulator seeds 100-103, 1000 and the Plux thumb recording (see README).
UNIT_RESCUE: dict = {"min_corr": 0.75, "min_count": 3, "min_gap_s": 1.0}

#: Classifier settings of the whole analysis (over :class:`emg.classify.EventClassifier`'s own):
#: faint candidates from SNR 5 (:data:`UNIT_RESCUE`).
CLASSIFIER_DEFAULTS: dict = {"rescue_snr": 5.0}


class Analyzer:
    """Run the stage objects over consecutive chunks.

    Parameters
    ----------
    fs : float
        Sample rate in Hz.
    channel_names : sequence of str
    mains : "auto" | 50 | 60
        Mains frequency for the detector (whose filtered signal the segmenter reads too).
    detector_kw, segmenter_kw, classifier_kw : dict
        Settings passed to :class:`emg.detect.Detector` (over :data:`DETECTOR_DEFAULTS`), :class:`emg.segments.Segmenter`
        and :class:`emg.classify.EventClassifier` (over :data:`CLASSIFIER_DEFAULTS`).
    unit_rescue : dict | None
        How a faint candidate repeats a known unit (:data:`UNIT_RESCUE`); None counts none.
    """

    def __init__(self, fs: float, channel_names, *, mains="auto", detector_kw: dict | None = None,
                 segmenter_kw: dict | None = None, classifier_kw: dict | None = None,
                 unit_rescue: dict | None = UNIT_RESCUE):
        from .detect import Detector

        self.fs = float(fs)
        self.channel_names = tuple(channel_names)
        n = len(self.channel_names)
        mains = int(mains) if isinstance(mains, str) and mains.isdigit() else mains
        self.detector = Detector(self.fs, n, mains=mains, **{**DETECTOR_DEFAULTS, **(detector_kw or {})})
        self._segmenter_kw = dict(segmenter_kw or {})
        self.segmenter: Segmenter | None = None
        self.classifier = EventClassifier(self.fs, n, **{**CLASSIFIER_DEFAULTS, **(classifier_kw or {})})
        self.units = UnitTracker(self.fs, n)
        self.unit_rescue = None if unit_rescue is None else dict(unit_rescue)
        self.echoes = EchoFilter(n)
        self._held: list[tuple[Chunk, Detected]] = []  # chunks waiting for the mains decision
        self._events: list[Events] = []
        self._segments: list[Segment] = []
        self._noise: list[np.ndarray] = []
        self.samples = 0

    # -- streaming ----------------------------------------------------------------------
    def process(self, chunk: Chunk) -> tuple[Events, list[Segment]]:
        """Feed one chunk; return the events and segments that became final."""
        return self.accept(chunk, self.detect(self.detector.filter(chunk)))

    def detect(self, filtered: Filtered) -> Detected:
        """The detector's search on a chunk its :meth:`~emg.detect.Detector.filter` has filtered.

        Filtering and detection depend on the input only, so the batch path runs them one and
        two chunks ahead on worker threads (:func:`run_chunks`); every stage takes its
        chunks in order.
        """
        events = self.detector.search(filtered)
        return Detected(events, self.detector.block_noise_uv.copy(), filtered.filtering, tuple(filtered.parts))

    def accept(self, chunk: Chunk, stage: Detected) -> tuple[Events, list[Segment]]:
        """Second stage: segments, labels and units for a chunk :meth:`detect` has seen."""
        self.samples = chunk.first_sample + chunk.n_samples
        self._add_noise(stage.block_noise_uv)
        if self.segmenter is None:
            self._held.append((chunk, stage))
            if not stage.filtering:  # mains not decided yet (first 2 s)
                return Events.empty(self.fs), []
            self._start_segmenter()
            held, self._held = self._held, []
            events, segments = [], []
            for c, d in held:  # the filtered samples of the held chunks come with the last one
                e, s = self._step(c, d)
                events.append(e)
                segments += s
            return Events.concat(events, fs=self.fs), segments
        return self._step(chunk, stage)

    def accept_many(self, pairs: list[tuple[Chunk, Detected]]) -> tuple[Events, list[Segment]]:
        """:meth:`accept` for consecutive chunks at once: one call of the segmenter and classifier.

        Their results do not depend on the chunking (by design; the tests check it), so this
        equals accepting the chunks one by one.
        """
        if len(pairs) == 1:
            return self.accept(*pairs[0])
        chunks = [c for c, _ in pairs]
        stages = [d for _, d in pairs]
        for d in stages[:-1]:
            self._add_noise(d.block_noise_uv)
        found = [d.events for d in stages if len(d.events)]
        events = Events.concat(found, fs=self.fs) if len(found) > 1 else found[0] if found else stages[-1].events
        parts = tuple(p for d in stages for p in d.parts)
        stage = Detected(events, stages[-1].block_noise_uv, stages[-1].filtering, parts)
        if self.segmenter is None:  # the first chunks, held until the mains is decided
            chunk = Chunk(np.concatenate([c.data for c in chunks], axis=1), chunks[0].first_sample, self.fs,
                          np.concatenate([c.valid for c in chunks]))
            return self.accept(chunk, stage)
        # as accept() does, without joining the chunks' samples (the segmenter takes them as parts)
        self.samples = chunks[-1].first_sample + chunks[-1].n_samples
        self._add_noise(stage.block_noise_uv)
        return self._step(chunks, stage)

    def finish(self) -> tuple[Events, list[Segment]]:
        """End of data: flush every stage; return the last events and segments."""
        n_ch = len(self.channel_names)
        # a recording shorter than the mains probe: its samples are filtered only now
        rest = self.detect(self.detector.end_filter())
        parts, segs = [], []
        if rest.parts or self.segmenter is None:
            e, segs = self.accept(Chunk(np.zeros((n_ch, 0), np.float32), self.samples, self.fs), rest)
            parts.append(e)
        tail = self.detector.flush()
        self._add_noise(self.detector.block_noise_uv)
        self.classifier.mains_hz = self.detector.mains_hz
        self.classifier.push(tail)
        quiet = self.echoes(tail)
        last = self.segmenter.process(Chunk(np.zeros((n_ch, 0), np.float32), self.samples, self.fs),
                                      quiet.onset_s, quiet.channel, quiet.amplitude_uv)
        last += self.segmenter.flush()
        self._segments += last
        segs += last
        out = self.classifier.pop(np.inf, self.segmenter.excluded, final=True)
        parts.append(self._finish_events(out))
        return Events.concat(parts, fs=self.fs), segs

    def _start_segmenter(self) -> None:
        self.segmenter = Segmenter(self.fs, len(self.channel_names), **self._segmenter_kw)

    def _step(self, chunk: Chunk | list[Chunk], stage: Detected) -> tuple[Events, list[Segment]]:
        detected = stage.events
        quiet = self.echoes(detected)  # filter rings would look like bursts to the segmenter
        segs = self.segmenter.process(chunk, quiet.onset_s, quiet.channel, quiet.amplitude_uv, filtered=stage.parts)
        self._segments += segs
        self.classifier.mains_hz = self.detector.mains_hz
        self.classifier.push(detected)
        out = self.classifier.pop(self.segmenter.final_s, self.segmenter.excluded)
        # exclusion intervals the classifier can no longer ask about (bounded memory on long runs)
        self.segmenter.forget_before(self.segmenter.final_s - self.classifier.delay_s - 10.0)
        return self._finish_events(out), segs

    def _finish_events(self, ev: Events) -> Events:
        """Units for the fasciculations; faint candidates kept when they repeat a known unit.

        Events come in time order; a candidate is compared with the units as they stand after
        every earlier fasciculation (the same whatever the chunking).
        """
        if not len(ev):
            return ev
        unit, label = ev.unit.copy(), ev.label.copy()
        cand = label == FAINT_CANDIDATE
        if self.unit_rescue is None:
            cand[:] = False
        rows = np.flatnonzero((label == "fasciculation") | cand)  # in time order
        unit[rows] = self.units.assign_many(ev.channel[rows], ev.waveforms[rows], ev.amplitude_uv[rows],
                                            ev.sample[rows] / self.fs, match_only=cand[rows],
                                            **(self.unit_rescue or {}))
        label[cand & (unit > 0)] = "fasciculation"
        ev = ev.replace(unit=unit, label=label)
        if np.any(label == FAINT_CANDIDATE):
            ev = ev.select(label != FAINT_CANDIDATE)
        self._events.append(ev)
        return ev

    # -- results ------------------------------------------------------------------------
    def _add_noise(self, blocks_uv: np.ndarray) -> None:
        if np.shape(blocks_uv)[1]:
            self._noise.append(np.array(blocks_uv, dtype=np.float64))
        if len(self._noise) > 256:  # a live stream hands over a block or none per call
            self._noise = [np.concatenate(self._noise, axis=1)]

    def noise_summary_uv(self) -> np.ndarray:
        """Per channel, the median noise RMS (µV) over every block the detector searched (each
        block once, so any chunking gives the same value); the current estimate where none."""
        if not self._noise:
            return self.detector.noise_uv
        blocks = np.concatenate(self._noise, axis=1)
        ok = np.isfinite(blocks)
        med = np.array([np.median(b[k]) if k.any() else np.nan for b, k in zip(blocks, ok)])
        return np.where(np.isfinite(med), med, self.detector.noise_uv)

    def result(self, info: RecordingInfo, *, input: str = "", packets_lost: int | None = None) -> AnalysisResult:
        """Aggregate everything seen so far into an :class:`AnalysisResult` (call after :meth:`finish`)."""
        names = self.channel_names
        events = Events.concat(self._events, fs=self.fs) if self._events else Events.empty(self.fs)
        segments = tuple(sorted(self._segments, key=lambda s: (s.start_s, -1 if s.channel is None else s.channel)))
        duration_s = info.duration_s
        blank = self.classifier.blanked_intervals()
        rates = hourly_rates(events, segments, info.gaps, start=info.start, duration_s=duration_s,
                             channel_names=names, blanked=blank)
        valid = {}
        blanked_s = {}
        fasc = {}
        rate = {}
        for ch, name in enumerate(names):
            inv = invalid_intervals(segments, info.gaps, ch, blank[ch])
            valid[name] = valid_seconds(duration_s, inv)
            blanked_s[name] = valid_seconds(duration_s, invalid_intervals(segments, info.gaps, ch)) - valid[name]
            fasc[name] = int(sum(r.fasciculations for r in rates if r.channel == name))
            rate[name] = overall_rate(fasc[name], valid[name])
        noise = self.noise_summary_uv()
        notes = []
        if self.fs < 1000:
            notes.append(f"Sample rate {self.fs:g} Hz: potentials are only a few samples wide; "
                         "detection works, shape features (duration, phases, units) are coarse.")
        if min(valid.values(), default=0.0) < 300:
            notes.append("Less than 5 minutes of valid rest on some channel: no rate given there.")
        return AnalysisResult(
            input=input,
            info=info,
            events=events,
            segments=segments,
            rates=rates,
            noise_uv={n: float(noise[i]) for i, n in enumerate(names)},
            mains_hz=self.detector.mains_hz,
            units={n: self.units.units_of(i) for i, n in enumerate(names)},
            valid_s_per_channel=valid,
            fasciculations=fasc,
            rate_per_hour=rate,
            packets_lost=info.packets_lost if packets_lost is None else packets_lost,
            notes=notes,
            ecg_blanked={n: tuple(blank[i]) for i, n in enumerate(names)},
            ecg_blanked_s=blanked_s,
            counted_from_uv={n: float(self.classifier.min_snr * noise[i]) for i, n in enumerate(names)},
        )


def run_chunks(chunks: Iterable[Chunk], info: RecordingInfo, *, input: str = "", mains="auto",
               progress=None, threads: bool = True, n_chunks: int | None = None, **kwargs) -> AnalysisResult:
    """Run an :class:`Analyzer` over chunks of a recording described by ``info``.

    With ``threads`` (default) the stages overlap like an assembly line: a worker thread reads
    and filters (:meth:`emg.detect.Detector.filter`), a second one detects
    (:meth:`Analyzer.detect`), and this thread segments and classifies
    (:meth:`Analyzer.accept_many`, :data:`ACCEPT_CHUNKS` chunks at a time), each a chunk
    behind the one before; the compiled kernels release the GIL, so all cores work at once.
    Every stage object still sees the same calls in the same order: the result does not
    depend on it. ``n_chunks``, the number of chunks if known, only shapes the last groups.
    """
    analyzer = Analyzer(info.fs, info.channel_names, mains=mains, **kwargs)
    chunks = chunks if progress is None else progress(chunks)
    if threads:
        filtered = run_ahead(chunks, analyzer.detector.filter)
        with closing(run_ahead(filtered, lambda item: analyzer.detect(item[1]))) as detected:
            for group in _groups(((chunk, stage) for (chunk, _), stage in detected), ACCEPT_CHUNKS, n_chunks):
                analyzer.accept_many(group)
    else:
        for group in _groups(chunks, ACCEPT_CHUNKS):
            analyzer.accept_many([(c, analyzer.detect(analyzer.detector.filter(c))) for c in group])
    analyzer.finish()
    return analyzer.result(info, input=input)


def _groups(items: Iterable, n: int, total: int | None = None):
    """Lists of consecutive items: 1, 2, ... up to ``n`` items, then ``n`` each, and, when the
    ``total`` number of items is known, down to ..., 3, 2, 1 at the end (a wrong ``total``
    only changes the grouping). Short first and last groups let the last stage of the
    assembly line start early and finish soon after the others."""
    group, size, left = [], 1, total
    for item in items:
        group.append(item)
        if len(group) == size:
            yield group
            if left is not None:
                left -= size
            group, size = [], min(size + 1, n)
            while left is not None and size > 1 and size * (size + 1) // 2 > left:  # room for size, ..., 2, 1
                size -= 1
    if group:
        yield group


def run_ahead(items: Iterable, fn, depth: int = 2):
    """Yield ``(item, fn(item))`` for each item, computed on a worker thread up to ``depth`` items ahead.

    Exceptions of the iterator or of ``fn`` are raised here, in order; closing the generator
    (e.g. an exception in the consumer) stops the worker and closes ``items`` (so chained
    calls stop every worker).
    """
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(x) -> bool:
        while not stop.is_set():
            try:
                q.put(x, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put((item, fn(item))):
                    return
            put(done)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            put(exc)
        finally:
            close = getattr(items, "close", None)
            if close is not None:  # e.g. an upstream run_ahead: stops its worker too
                close()

    worker = threading.Thread(target=work, name="emg-detect-ahead", daemon=True)
    worker.start()
    try:
        while True:
            x = q.get()
            if x is done:
                return
            if isinstance(x, BaseException):
                raise x
            yield x
    finally:
        stop.set()
        worker.join()


def analyze(recording_or_path: Recording | str | os.PathLike, *, format: str = "auto", fs: float | None = None,
            mains="auto", chunk_s: float = BATCH_CHUNK_S, progress=None, **kwargs) -> AnalysisResult:
    """Detect, classify and count fasciculations in a recording or a file.

    Parameters
    ----------
    recording_or_path : Recording, mne.io.Raw or path
        A recording in memory (an MNE Raw is converted with :meth:`Recording.from_mne`), or a
        file readable by :func:`emg.io.open_reader`.
    format, fs : str, float
        Passed to the reader for files (``fs`` only for CSV files without a time column).
    mains : "auto" | 50 | 60
        Mains frequency.
    chunk_s : float
        Chunk length in seconds (the batch path is the streaming path with big chunks).
    progress : callable or None
        Wraps the chunk iterator (e.g. a progress bar).
    **kwargs
        ``threads`` (see :func:`run_chunks`), ``detector_kw``, ``segmenter_kw``,
        ``classifier_kw``, ``unit_rescue`` (see :class:`Analyzer`).

    Returns
    -------
    AnalysisResult
        Write it with :meth:`AnalysisResult.write`.
    """
    if not isinstance(recording_or_path, (Recording, str, os.PathLike)) and hasattr(recording_or_path, "get_data"):
        recording_or_path = Recording.from_mne(recording_or_path)  # an MNE Raw
    if isinstance(recording_or_path, Recording):
        rec = recording_or_path
        info = rec.info
        chunks = rec.iter_chunks(chunk_s)
        name = rec.path or ""
    else:
        from .io import open_reader

        reader = open_reader(recording_or_path, format=format, fs=fs)
        info = reader.info
        chunks = reader.iter_chunks(chunk_s)
        name = str(recording_or_path)
    total = int(np.ceil(round(info.duration_s * info.fs) / chunk_step(chunk_s, info.fs))) if info.duration_s else None
    if progress is not None:
        chunks = progress(chunks, total)
    return run_chunks(chunks, info, input=name, mains=mains, n_chunks=total, **kwargs)


def _utc(start: dt.datetime) -> dt.datetime:  # pragma: no cover - helper for callers
    return start.astimezone(dt.UTC)
