"""``emg analyze --scheduler``: the batch analysis on a dask.distributed cluster.

Dask is optional (the ``dask`` extra) and imported only here, on first use.

Tasks
-----
* **One task per file** runs exactly what a local run does (:func:`emg.pipeline.analyze`),
  so its result is identical by construction.
* **A long BDF/EDF file is also cut into pieces** (``piece_s``, 15 min by default), one task
  each. A piece task runs the stages with bounded memory - the detector, the echo filter and
  the segmenter - from ``warmup_s`` (3 min) before its piece, and records what they hand to
  the later stages chunk by chunk (same 60-s chunk grid as a local run). A last task per file
  stitches the pieces and runs the stages with unbounded memory (shape families, ECG rhythm,
  multiplets, motor units, hourly rates) sequentially over the recorded stream, exactly as
  :class:`emg.pipeline.Analyzer` does.

Why the result is identical, not just close
-------------------------------------------
The detector and segmenter forget: filters and the mains canceller converge, noise
estimates and baselines look back at most 60 s. After the warm-up, the piece task's stage
objects are normally *bit for bit* in the same state as those of a run from the start. The
stitching task checks exactly that at every boundary: it compares the complete state of
the previous piece's stages at the boundary with the warmed-up stages of the next piece
(all arrays compared bitwise; only fields that can no longer influence any output, such as
an echo window that closed long ago, are normalised). When any difference is found - a
long artefact or noisy stretch still open across the boundary, a channel whose state has
not settled - the piece is recomputed from the previous piece's exact state, sequentially.
So the fast path is taken only when it is provably equal, and the result is always that of
a local run.

The shape-family clustering of the classifier and the motor-unit tracker keep templates for
the whole recording: no warm-up can reproduce them, which is why they run in the stitching
task. That task does about a third of the work of a file, which bounds the speed-up of a
single long file.

Measured limit (see the README): the mains canceller's frequency-locked loop integrates phase
corrections; on a channel with little mains its loop gain is small and its state keeps a
trace of the distant past (after a 5-minute warm-up its frequency estimate still differed
in the 11th digit). Boundary states then differ, the pieces are recomputed, and splitting
gives no speed-up - so it is off by default (``split=False``); the results are identical
either way. A detector whose state forgets within a bounded time would make it pay off.
"""

from __future__ import annotations

import copy
import math
import pickle
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from .errors import EmgError
from .types import Chunk, Events, RecordingInfo, Segment

__all__ = ["PIECE_S", "WARMUP_S", "analyze_files", "connect", "parse_scheduler", "plan_pieces"]

#: default piece length (s) of a long file: one task each
PIECE_S = 900.0
#: default warm-up (s) run before each piece but the first
WARMUP_S = 300.0

_LOCAL = re.compile(r"^local:(\d+)$")
_TCP = re.compile(r"^tcp://[^\s:/]+:\d+/?$")


def _distributed():
    """Import dask.distributed or raise a one-line error naming the extra."""
    try:
        import distributed
    except ImportError:
        raise EmgError("--scheduler needs Dask, which is not installed: pip install 'emg[dask]'") from None
    return distributed


def parse_scheduler(spec: str) -> tuple[str, int | str]:
    """``"local:N"`` -> ``("local", N)``; ``"tcp://host:port"`` -> ``("tcp", spec)``.

    >>> parse_scheduler("local:2"), parse_scheduler("tcp://10.0.0.5:8786")
    (('local', 2), ('tcp', 'tcp://10.0.0.5:8786'))
    """
    m = _LOCAL.match(spec)
    if m and int(m.group(1)) >= 1:
        return "local", int(m.group(1))
    if _TCP.match(spec):
        return "tcp", spec.rstrip("/")
    raise ValueError(f"Invalid value for '--scheduler': allowed are 'local:N' (N >= 1) or "
                     f"'tcp://HOST:PORT', got {spec!r}.")


class connect:
    """Context manager giving a ``distributed.Client``: a loopback LocalCluster or an existing scheduler.

    Parameters
    ----------
    spec : str
        ``"local:N"`` (N worker processes, one thread each, on 127.0.0.1) or
        ``"tcp://HOST:PORT"`` (a running ``dask scheduler``).
    processes : bool
        For ``local:N``: worker processes (True, the command line) or threads (False).
    """

    def __init__(self, spec: str, *, processes: bool = True):
        self.kind, self.target = parse_scheduler(spec)
        self.processes = processes
        self.cluster = None
        self.client = None

    def __enter__(self):
        distributed = _distributed()
        if self.kind == "local":
            where = {"host": "127.0.0.1"} if self.processes else {}  # threads talk in-process
            self.cluster = distributed.LocalCluster(
                n_workers=int(self.target), threads_per_worker=1, processes=self.processes,
                dashboard_address=None, scheduler_kwargs={"dashboard": False}, silence_logs=50, **where,
            )
            self.client = distributed.Client(self.cluster)
        else:
            try:
                self.client = distributed.Client(self.target, timeout="10s")
            except OSError as exc:
                raise EmgError(f"{self.target}: cannot reach the Dask scheduler ({exc})") from None
        return self.client

    def __exit__(self, *exc):
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        return False


# -- planning ---------------------------------------------------------------------------------

def _lcm(*values: int) -> int:
    out = 1
    for v in values:
        out = out * v // math.gcd(out, v)
    return out


def _grid_samples(fs: float, chunk_s: float) -> int | None:
    """Samples between possible piece boundaries: whole chunks, noise blocks, segmenter seconds
    and mains periods (50 and 60 Hz), so every stage sees its usual grid; None if none fits."""
    from .filters import _period_samples

    if abs(fs - round(fs)) > 1e-9:
        return None
    fs_i = int(round(fs))
    chunk_n = max(1, int(round(chunk_s * fs)))
    win = max(4, int(round(0.1 * fs)))
    block = max(1, int(round(1.0 / (win / fs))))
    units = [chunk_n, max(1, fs_i), win * block, _period_samples(fs, 50.0), _period_samples(fs, 60.0)]
    return _lcm(*units)


def plan_pieces(info: RecordingInfo, *, chunk_s: float, piece_s: float = PIECE_S,
                warmup_s: float = WARMUP_S) -> list[tuple[int, int, int]] | None:
    """Piece boundaries of a long recording: ``[(warm_first, first, stop), ...]`` in samples.

    None when the file is shorter than two pieces or its sample rate gives no common grid
    (then it is one task).
    """
    grid = _grid_samples(info.fs, chunk_s)
    if grid is None or info.n_samples < 2 * piece_s * info.fs:
        return None
    piece_n = max(grid, int(round(piece_s * info.fs)) // grid * grid)
    warm_n = int(math.ceil(warmup_s * info.fs / grid)) * grid
    if piece_n > 10 * 3600 * info.fs:
        return None
    firsts = list(range(0, info.n_samples, piece_n))
    if info.n_samples - firsts[-1] < piece_n // 2 and len(firsts) > 1:  # fold a short tail into the last piece
        firsts.pop()
    bounds = firsts + [info.n_samples]
    return [(max(0, a - warm_n) if i else 0, a, b) for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))]


# -- piece tasks ------------------------------------------------------------------------------

@dataclass
class _Step:
    """What the memory-bounded stages handed on for one chunk (or for the end of data)."""

    first: int
    n: int
    events: Events  # after the echo filter
    noise_uv: np.ndarray
    segments: list[Segment]
    final_s: float
    excl_new: list[list[tuple]]  # exclusion intervals appended per channel
    open_runs: list  # the segmenter's open runs after the step


@dataclass
class _Piece:
    records: list[_Step]
    finish: list[_Step] = field(default_factory=list)  # end of data: (process empty chunk, flush)
    start_state: dict | None = None  # canonical state at ``first`` (fresh stages, after warm-up)
    end_blob: bytes | None = None  # pickled stages at ``stop`` (for the next piece's check/recompute)
    end_state: dict | None = None


class _Stages:
    """The detector, echo filter and segmenter of an :class:`~emg.pipeline.Analyzer`, run alone."""

    def __init__(self, fs, channel_names, mains, first_sample: int, kwargs: dict):
        from .pipeline import Analyzer

        a = Analyzer(fs, channel_names, mains=mains, **kwargs)
        self.fs = a.fs
        self.n_channels = len(a.channel_names)
        self.detector, self.echoes = a.detector, a.echoes
        self._segmenter_kw = dict(kwargs.get("segmenter_kw") or {})
        self.segmenter = None
        self.first_sample = first_sample
        if first_sample:  # start mid-recording: absolute sample numbers, grids kept (see plan_pieces)
            d = self.detector
            d._next = d._y_start = d._det_pos = d._last_reset = first_sample

    def _make_segmenter(self):
        from .segments import Segmenter

        seg = Segmenter(self.fs, self.n_channels, mains_hz=self.detector.mains_hz, **self._segmenter_kw)
        if self.first_sample:
            w = self.first_sample // seg.win
            seg._n_windows = seg._committed_w = seg._buf0 = seg._lf_hist_w = w
            seg._samples = self.first_sample
        self.segmenter = seg

    def _excl_counts(self):
        return [len(x) for x in self.segmenter._excl] if self.segmenter is not None else None

    def _record(self, chunk, events, noise, segs, before) -> _Step:
        seg = self.segmenter
        new = [list(x[n:]) for x, n in zip(seg._excl, before)]
        return _Step(chunk.first_sample, chunk.n_samples, events, noise, segs, seg.final_s, new,
                     copy.deepcopy(seg._open))

    def step(self, chunk: Chunk) -> _Step:
        detected = self.echoes(self.detector.process(chunk))
        noise = self.detector.noise_uv.copy()
        if self.segmenter is None:
            if self.detector._filter is None:
                raise RuntimeError("a piece chunk is shorter than the mains probe")
            self._make_segmenter()
        before = self._excl_counts()
        segs = self.segmenter.process(chunk, detected.onset_s, detected.channel)
        return self._record(chunk, detected, noise, segs, before)

    def finish(self, samples: int) -> list[_Step]:
        tail = self.echoes(self.detector.flush())
        empty = Chunk(np.zeros((self.n_channels, 0), np.float32), samples, self.fs)
        before = self._excl_counts()
        segs = self.segmenter.process(empty, tail.onset_s, tail.channel)
        first = self._record(empty, tail, self.detector.noise_uv.copy(), segs, before)
        before = self._excl_counts()
        segs = self.segmenter.flush()
        second = self._record(empty, Events.empty(self.fs), self.detector.noise_uv.copy(), segs, before)
        return [first, second]


def _reader_chunks(reader, info: RecordingInfo, first: int, stop: int, chunk_n: int) -> Iterator[Chunk]:
    """Chunks of ``[first, stop)`` exactly as ``reader.iter_chunks`` gives them on the same grid."""
    from .types import gap_mask

    for lo in range(first, stop, chunk_n):
        n = min(chunk_n, stop - lo)
        yield Chunk(reader.read_samples(lo, n), first_sample=lo, fs=info.fs, valid=gap_mask(info.gaps, info.fs, lo, n))


def _run_piece(path: str, format: str, fs_arg, mains, warm_first: int, first: int, stop: int, last: bool,
               chunk_s: float, kwargs: dict, blob: bytes | None = None) -> _Piece:
    """One piece: fresh stages from ``warm_first`` (or the pickled stages ``blob`` at ``first``)."""
    from .io import open_reader

    reader = open_reader(path, format=format, fs=fs_arg)
    info = reader.info
    chunk_n = max(1, int(round(chunk_s * info.fs)))
    if blob is not None:
        stages = pickle.loads(blob)
        start_state = None
    else:
        stages = _Stages(info.fs, info.channel_names, mains, warm_first, kwargs)
        for chunk in _reader_chunks(reader, info, warm_first, first, chunk_n):
            stages.step(chunk)
        start_state = copy.deepcopy(canonical_state(stages, first)) if first else None
    records = [stages.step(chunk) for chunk in _reader_chunks(reader, info, first, stop, chunk_n)]
    piece = _Piece(records, start_state=start_state)
    if last:
        piece.finish = stages.finish(stop)
    else:
        piece.end_blob = pickle.dumps(stages, protocol=pickle.HIGHEST_PROTOCOL)
        piece.end_state = canonical_state(stages, stop)
    return piece


# -- state comparison -------------------------------------------------------------------------

def canonical_state(stages: _Stages, at: int) -> dict:
    """Everything in the stages that can still influence an output after sample ``at``.

    Fields that can no longer matter are normalised (an event window closed long ago, a
    restart far in the past, history older than anything still looked back at).
    """
    det, seg, echo = stages.detector, stages.segmenter, stages.echoes
    fs = det.fs
    d = {k: v for k, v in vars(det).items() if k not in ("_auto", "_probe", "_probe_len", "_filter", "_state",
                                                        "_peak_val", "_sigma_by_block", "_last_reset")}
    state = det._state.copy()
    peak_val = det._peak_val.copy()
    for c in range(det.n_channels):
        if state[c, 0] == 0:  # closed: start, peak, last and the open peak value are rewritten on opening
            state[c, 1:4] = 0
            peak_val[c, 0] = 0.0
            shadow = det.shadow_frac * peak_val[c, 1] * np.exp(-(at - state[c, 4]) / det.shadow_n)
            if at - state[c, 4] > det.dead_n and shadow == 0.0:
                state[c, 4], peak_val[c, 1] = -(1 << 40), 0.0
    d["_state"], d["_peak_val"] = state, peak_val
    pend = det._pend_peak.min() if len(det._pend_peak) else det._det_pos
    k_min = min(int(pend), det._det_pos - det.max_n) // det.block_n - 1
    d["_sigma_by_block"] = {k: v for k, v in det._sigma_by_block.items() if k >= k_min}
    d["_last_reset"] = det._last_reset if at - det._last_reset < det.settle_n else None
    flt = det._filter
    if flt is not None:
        d["_filter"] = {
            "highpass": vars(flt.highpass),
            "lowpass": vars(flt.lowpass) if flt.lowpass is not None else None,
            "canceller": ({k: v for k, v in vars(flt.canceller).items()} if flt.canceller is not None else None),
            "phase": flt._next % (flt.canceller.cos_t.shape[1] if flt.canceller is not None else 1),
        }
    t_at = at / fs
    last_t = np.where(echo._last_t < t_at - echo.echo_s - 1.0, -np.inf, echo._last_t)
    last_amp = np.where(np.isinf(last_t), 0.0, echo._last_amp)
    e = {"_last_t": last_t, "_last_amp": last_amp, "echo_s": echo.echo_s, "echo_ratio": echo.echo_ratio}
    s = None
    if seg is not None:
        s = {k: v for k, v in vars(seg).items() if k not in ("_excl", "_open")}
        held = [t for t in (seg._ev_t, seg._bev_t) if len(t)]
        horizon = min([t_at - 10.0] + [float(t.min()) - 1.0 for t in held])
        s["_excl"] = [[iv for iv in lst if iv[1] >= horizon] for lst in seg._excl]
        s["_open"] = [None if r is None else (r.code, r.start_w, sorted(r.channels_seen)) for r in seg._open]
    return {"detector": d, "echo": e, "segmenter": s}


def same_state(a, b) -> bool:
    """Deep equality; arrays bitwise (NaN equal to NaN), same dtype and shape."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_state(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same_state(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return False
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        if a.dtype.kind in "fc":
            return bool(np.array_equal(a, b, equal_nan=True))
        return bool(np.array_equal(a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if hasattr(a, "__dict__") and type(a) is type(b) and not isinstance(a, type):
        return same_state(vars(a), vars(b))
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


# -- stitching --------------------------------------------------------------------------------

class _ReplayDetector:
    """Stands in for the detector inside an Analyzer: hands out the recorded events."""

    _filter = True  # the mains is decided: the Analyzer steps every chunk at once

    def __init__(self, mains_hz):
        self.mains_hz = mains_hz
        self.noise_uv = None
        self.step: _Step | None = None
        self.tail: _Step | None = None

    def process(self, chunk):
        self.noise_uv = self.step.noise_uv
        return self.step.events

    def flush(self):
        self.noise_uv = self.tail.noise_uv
        return self.tail.events


class _ReplaySegmenter:
    """Stands in for the segmenter: recorded segments; ``excluded`` from the recorded intervals."""

    def __init__(self, n_channels: int, window_s: float):
        self.n_channels = n_channels
        self.window_s = window_s
        self._excl: list[list[tuple]] = [[] for _ in range(n_channels)]
        self._open = [None] * n_channels
        self.final_s = 0.0
        self.steps: list[_Step] = []

    def _apply(self, step: _Step) -> list[Segment]:
        for lst, new in zip(self._excl, step.excl_new):
            lst.extend(new)
        self._open = step.open_runs
        self.final_s = step.final_s
        return list(step.segments)

    def process(self, chunk, times_s=None, channels=None):
        return self._apply(self.steps.pop(0))

    def flush(self):
        return self._apply(self.steps.pop(0))

    def excluded(self, times_s, channels):
        from .segments import Segmenter

        return Segmenter.excluded(self, times_s, channels)


def _stitch(path: str, format: str, fs_arg, mains, kwargs: dict, chunk_s: float, plan, *pieces: _Piece):
    """Check each boundary, recompute pieces that differ, run the unbounded stages; -> (result, stats)."""
    from .io import read_info
    from .pipeline import Analyzer

    info = read_info(path, format=format, fs=fs_arg)
    pieces = list(pieces)
    recomputed = 0
    for i in range(1, len(pieces)):
        prev = pieces[i - 1]
        if not same_state(prev.end_state, pieces[i].start_state):
            warm_first, first, stop = plan[i]
            pieces[i] = _run_piece(path, format, fs_arg, mains, warm_first, first, stop, i == len(pieces) - 1,
                                   chunk_s, kwargs, blob=prev.end_blob)
            recomputed += 1
    a = Analyzer(info.fs, info.channel_names, mains=mains, **kwargs)
    replay = _ReplayDetector(_piece_mains(path, format, fs_arg, mains, chunk_s, kwargs))
    seg = _ReplaySegmenter(len(info.channel_names), _window_s(info.fs, kwargs))
    a.detector, a.echoes, a.segmenter = replay, (lambda ev: ev), seg
    n_ch = len(info.channel_names)
    for piece in pieces:
        for step in piece.records:
            replay.step = step
            seg.steps.append(step)
            a.process(Chunk(np.zeros((n_ch, step.n), np.float32), step.first, info.fs))
    replay.tail = pieces[-1].finish[0]
    seg.steps.extend(pieces[-1].finish)
    a.finish()
    result = a.result(info, input=str(path))
    return result, {"pieces": len(pieces), "recomputed": recomputed}


def _window_s(fs: float, kwargs: dict) -> float:
    from .segments import Segmenter

    return Segmenter(fs, 1, **(kwargs.get("segmenter_kw") or {})).window_s


def _piece_mains(path, format, fs_arg, mains, chunk_s, kwargs):
    """The mains frequency a local run decides: its detector over the first chunk."""
    from .io import open_reader
    from .pipeline import Analyzer

    reader = open_reader(path, format=format, fs=fs_arg)
    a = Analyzer(reader.info.fs, reader.info.channel_names, mains=mains, **kwargs)
    if a.detector.mains_hz is not None and not a.detector._auto:
        return a.detector.mains_hz
    for chunk in reader.iter_chunks(chunk_s):
        a.detector.process(chunk)
        if a.detector._filter is not None:
            break
    if a.detector._filter is None:
        a.detector.flush()
    return a.detector.mains_hz


# -- per-file task ----------------------------------------------------------------------------

def _analyze_whole(path: str, format: str, fs_arg, mains, chunk_s: float, kwargs: dict):
    from .pipeline import analyze

    return analyze(path, format=format, fs=fs_arg, mains=mains, chunk_s=chunk_s, **kwargs), {"pieces": 1,
                                                                                              "recomputed": 0}


def _guard(func, path, *args):
    """Run a task; return ("ok", value) or ("error", one-line message) - exceptions need not unpickle."""
    try:
        return "ok", func(path, *args)
    except EmgError as exc:
        return "error", str(exc)
    except Exception as exc:  # noqa: BLE001 - reported per input, the others go on
        text = str(exc).splitlines()[0] if str(exc) else ""
        return "error", f"{path}: {type(exc).__name__}: {text}" if text else f"{path}: {type(exc).__name__}"


def _piece_task(path, *args):
    return _run_piece(path, *args)


def _stitch_task(path, format, fs_arg, mains, kwargs, chunk_s, plan, *pieces):
    bad = [p for p in pieces if p[0] == "error"]
    if bad:
        return bad[0]
    return _guard(_stitch, path, format, fs_arg, mains, kwargs, chunk_s, plan, *[p[1] for p in pieces])


def analyze_files(paths, client, *, format: str = "auto", fs: float | None = None, mains="auto",
                  chunk_s: float | None = None, piece_s: float = PIECE_S, warmup_s: float = WARMUP_S,
                  split: bool = False, progress=None, **kwargs) -> Iterator[tuple[str, object, dict | None]]:
    """Analyse files on a dask.distributed ``client``; yield ``(path, result_or_message, stats)``.

    Results come in completion order; ``result_or_message`` is an
    :class:`~emg.pipeline.AnalysisResult`, or a one-line error message (str) for a bad input.
    ``stats`` tells how many pieces the file was cut into and how many had to be recomputed.
    Keyword arguments go to :class:`~emg.pipeline.Analyzer`, as with :func:`emg.analyze`.

    Parameters
    ----------
    paths : sequence of path-like
        Inputs; they must be readable by the workers at the same path (shared file system).
    client : distributed.Client
    piece_s, warmup_s : float
        Piece length and warm-up (s) of long BDF/EDF files (see the module docstring).
    split : bool
        Also cut long BDF/EDF files into pieces (one task each). Off by default: with the
        current detector the boundary states rarely match bit for bit (see the module
        docstring), so the pieces are mostly recomputed in the stitching task - identical
        results, but slower than one task per file.
    progress : callable or None
        ``progress(iterable, total=...)`` wrapping the completed tasks (a progress bar).
    """
    from .io import open_reader
    from .pipeline import BATCH_CHUNK_S

    chunk_s = BATCH_CHUNK_S if chunk_s is None else chunk_s
    distributed = _distributed()
    paths = [str(p) for p in paths]
    finals = {}
    every = []
    for path in paths:
        plan = None
        if split:
            try:
                reader = open_reader(path, format=format, fs=fs)
                if hasattr(reader, "read_samples"):
                    plan = plan_pieces(reader.info, chunk_s=chunk_s, piece_s=piece_s, warmup_s=warmup_s)
            except Exception:  # noqa: BLE001 - the whole-file task reports it
                plan = None
        if plan is None:
            fut = client.submit(_guard, _analyze_whole, path, format, fs, mains, chunk_s, kwargs, pure=False)
        else:
            piece_mains = _piece_mains(path, format, fs, mains, chunk_s, kwargs)
            parts = []
            for i, (warm_first, first, stop) in enumerate(plan):
                m = mains if i == 0 else piece_mains
                parts.append(client.submit(_guard, _piece_task, path, format, fs, m, warm_first, first, stop,
                                           i == len(plan) - 1, chunk_s, kwargs, pure=False))
            every += parts
            fut = client.submit(_stitch_task, path, format, fs, mains, kwargs, chunk_s, plan, *parts, pure=False)
        finals[fut.key] = path
        every.append(fut)
    done = distributed.as_completed(every)
    iterator = done if progress is None else progress(done, total=len(every))
    for fut in iterator:
        if fut.key not in finals:
            continue
        status, value = fut.result()
        if status == "error":
            yield finals[fut.key], value, None
        else:
            result, stats = value
            yield finals[fut.key], result, stats


def run_cli(args, write_one) -> int:
    """``emg analyze --scheduler``: run every input on the cluster; ``write_one(path, result)`` writes."""
    import sys

    from .cli._common import progress

    try:
        parse_scheduler(args.scheduler)
    except ValueError as exc:
        print(f"emg analyze: error: {exc}", file=sys.stderr)
        return 2
    mains = "auto" if args.mains == "auto" else int(args.mains)
    bad = 0
    with connect(args.scheduler) as client:
        for path, result, _stats in analyze_files(args.inputs, client, format=args.format, fs=args.fs, mains=mains,
                                                  progress=lambda it, total: progress(it, total=total, desc="dask")):
            if isinstance(result, str):
                print(f"emg analyze: error: {result}", file=sys.stderr)
                bad += 1
                continue
            if not write_one(path, result):
                bad += 1
    if bad:
        print(f"emg analyze: {bad} of {len(args.inputs)} inputs failed; the others were written to {args.out}",
              file=sys.stderr)
    return 1 if bad else 0
