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
import types
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
#
# A piece task runs a real Analyzer whose classifier is replaced by a recorder, with its
# detector and segmenter wrapped in recording proxies. The stitching task runs another real
# Analyzer whose detector and segmenter are replaced by stand-ins replaying those records, and
# whose classifier, motor-unit tracker and aggregation are real. Only the interfaces of the
# stage objects are assumed, never the Analyzer's internal flow.

@dataclass
class _Calls:
    """What the memory-bounded stages handed on, call by call, from a piece's first sample."""

    detector: list = field(default_factory=list)  # ("process" | "flush", events, noise_uv, block_noise_uv)
    segmenter: list = field(default_factory=list)  # (segments, final_s, excl, open runs)


@dataclass
class _Piece:
    calls: _Calls
    start_state: dict | None = None  # canonical state at ``first`` (fresh stages, after warm-up)
    end_blob: bytes | None = None  # pickled Analyzer at ``stop`` (to recompute the next piece exactly)
    end_state: dict | None = None


class _Recorder:
    """Forwards to a stage object; records what chosen methods return (see ``_Calls``)."""

    def __init__(self, target, calls: _Calls, kind: str):
        self._target, self._calls, self._kind = target, calls, kind

    def __getattr__(self, name):
        if name.startswith("__") or "_target" not in self.__dict__:  # pickling looks up dunders first
            raise AttributeError(name)
        return getattr(self._target, name)

    def process(self, *args, **kwargs):
        out = self._target.process(*args, **kwargs)
        self._note("process", out)
        return out

    def search(self, *args, **kwargs):  # the detector's second half (Analyzer.detect): one chunk's events
        out = self._target.search(*args, **kwargs)
        self._note("process", out)
        return out

    def flush(self, *args, **kwargs):
        out = self._target.flush(*args, **kwargs)
        self._note("flush", out)
        return out

    def _note(self, call: str, out) -> None:
        t = self._target
        if self._kind == "detector":
            self._calls.detector.append((call, out, np.array(t.noise_uv, copy=True),
                                         np.array(t.block_noise_uv, copy=True)))
        else:
            self._calls.segmenter.append((list(out), t.final_s, copy.deepcopy(t._excl), copy.deepcopy(t._open)))


class _NoClassifier:
    """The classifier's place in a piece task: takes events, labels nothing (the stitch does)."""

    def __init__(self, real):
        self.context_s = real.context_s
        self.delay_s = real.delay_s
        self.fs = real.fs

    def push(self, events) -> None:
        pass

    def pop(self, until_s, zone, *, final: bool = False):
        return Events.empty(self.fs)


def _piece_analyzer(info: RecordingInfo, mains, kwargs: dict, first_sample: int, calls: _Calls):
    """A real Analyzer whose stages start at absolute sample ``first_sample`` and record their output."""
    from .pipeline import Analyzer

    a = Analyzer(info.fs, info.channel_names, mains=mains, **kwargs)
    a.classifier = _NoClassifier(a.classifier)
    det = a.detector
    if first_sample:  # start mid-recording: absolute sample numbers, grids kept (see plan_pieces)
        for name in ("_next", "_front_pos", "_y_start", "_det_pos", "_last_reset"):
            if not hasattr(det, name):
                raise RuntimeError(f"the detector has no {name}: cannot start it mid-recording")
            setattr(det, name, first_sample)
    a.samples = first_sample
    a.detector = _Recorder(det, calls, "detector")
    start = a._start_segmenter

    def start_segmenter():
        start()
        seg = a.segmenter
        if first_sample:
            w = first_sample // seg.win
            for name in ("_n_windows", "_committed_w", "_buf0", "_lf_hist_w"):
                setattr(seg, name, w)
            seg._samples = first_sample
        a.segmenter = _Recorder(seg, calls, "segmenter")

    a._start_segmenter = start_segmenter
    return a


def _reader_chunks(reader, info: RecordingInfo, first: int, stop: int, chunk_n: int) -> Iterator[Chunk]:
    """Chunks of ``[first, stop)`` exactly as ``reader.iter_chunks`` gives them on the same grid."""
    from .types import chunk_grid

    yield from chunk_grid(reader.read_samples, info.fs, info.gaps, stop, chunk_n, first)


def _run_piece(path: str, format: str, fs_arg, mains, warm_first: int, first: int, stop: int, last: bool,
               chunk_s: float, kwargs: dict, grid: int, blob: bytes | None = None) -> _Piece:
    """One piece: fresh stages from ``warm_first`` (or the pickled analyzer ``blob`` at ``first``)."""
    from .io import open_reader

    reader = open_reader(path, format=format, fs=fs_arg)
    info = reader.info
    chunk_n = max(1, int(round(chunk_s * info.fs)))
    start_state = None
    if blob is not None:
        a = pickle.loads(blob)
        calls = a.detector._calls
        calls.detector.clear()
        calls.segmenter.clear()
    else:
        calls = _Calls()
        a = _piece_analyzer(info, mains, kwargs, warm_first, calls)
        for chunk in _reader_chunks(reader, info, warm_first, first, chunk_n):
            a.process(chunk)
        calls.detector.clear()  # the warm-up hands nothing on
        calls.segmenter.clear()
        if first:
            start_state = canonical_state(a, first, grid)
    for chunk in _reader_chunks(reader, info, first, stop, chunk_n):
        a.process(chunk)
    piece = _Piece(calls, start_state=start_state)
    if last:
        a.finish()
    else:
        piece.end_state = canonical_state(a, stop, grid)
        a.__dict__.pop("_start_segmenter", None)  # the segmenter exists by now; the hook is a closure
        piece.end_blob = pickle.dumps(a, protocol=pickle.HIGHEST_PROTOCOL)
    return piece


# -- state comparison -------------------------------------------------------------------------

def _plain(x):
    """A deep, comparable copy: objects become dicts of their attributes, arrays are copied."""
    if isinstance(x, np.ndarray):
        return x.copy()
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, (set, frozenset)):
        return sorted(x, key=repr)
    if isinstance(x, _Recorder):
        return _plain(x._target)
    if isinstance(x, (int, float, str, bool, complex, bytes, type(None), np.generic)):
        return x
    if hasattr(x, "__dict__") and not isinstance(x, (types.FunctionType, types.MethodType, type, types.ModuleType)):
        return {"__class__": type(x).__qualname__, **{k: _plain(v) for k, v in vars(x).items()}}
    return repr(type(x))


def _mod_next(tree, grid: int):
    """Sample counters of the filters only set phases: compare them modulo the piece grid."""
    if isinstance(tree, dict):
        return {k: (v % grid if k == "_next" and isinstance(v, int) else _mod_next(v, grid)) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_mod_next(v, grid) for v in tree]
    return tree


def canonical_state(analyzer, at: int, grid: int) -> dict:
    """Everything in the detector, echo filter and segmenter that can still influence an output.

    The objects are compared whole (so a field added to them later is compared too), except
    for fields that provably no longer matter after sample ``at``: the mains probe (used
    before the mains decision only), a filter restart more than ``settle`` samples ago, an
    echo window that closed long ago, and the filters' sample counters, compared modulo the
    piece grid (they only set the mains phase).
    """
    det = _plain(analyzer.detector)
    for name in ("_auto", "_probe", "_probe_len"):
        det.pop(name, None)
    settle = det.get("settle_n")
    if isinstance(det.get("_last_reset"), int) and isinstance(settle, int) and at - det["_last_reset"] >= settle:
        det["_last_reset"] = None
    if "_filter" in det:
        det["_filter"] = _mod_next(det["_filter"], grid)
    echo = _plain(analyzer.echoes)
    echo.pop("removed", None)
    try:
        t_at = at / analyzer.fs
        old = echo["_last_t"] < t_at - echo["echo_s"] - 1.0
        echo["_last_t"] = np.where(old, -np.inf, echo["_last_t"])
        echo["_last_amp"] = np.where(old, 0.0, echo["_last_amp"])
    except (KeyError, TypeError, ValueError):
        pass
    return {"detector": det, "echo": echo, "segmenter": _plain(analyzer.segmenter)}


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
    if type(a) is not type(b):
        return False
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


# -- stitching --------------------------------------------------------------------------------

class _ReplayDetector:
    """Stands in for the detector: hands out the recorded outputs, call by call."""

    _filter = True  # the mains is decided

    def __init__(self, mains_hz, calls: list):
        self.mains_hz = mains_hz
        self.noise_uv = np.full(1, np.nan)
        self.block_noise_uv = np.zeros((1, 0))
        self._calls = calls

    def _next_call(self, kind: str):
        call, events, noise, blocks = self._calls.pop(0)
        if call != kind:
            raise RuntimeError(f"replay out of step: the analyzer called {kind}, the record holds {call}")
        self.noise_uv, self.block_noise_uv = noise, blocks
        return events

    def process(self, chunk):
        return self._next_call("process")

    def filter(self, chunk):
        from .detect import Filtered

        return Filtered((), True)

    def search(self, filtered):
        return self._next_call("process")

    def end_filter(self):
        from .detect import Filtered

        return Filtered((), True)

    def flush(self):
        return self._next_call("flush")


class _ReplaySegmenter:
    """Stands in for the segmenter: recorded segments, ``final_s`` and exclusion state."""

    def __init__(self, n_channels: int, window_s: float, calls: list):
        self.n_channels = n_channels
        self.window_s = window_s
        self._excl: list[list[tuple]] = [[] for _ in range(n_channels)]
        self._open = [None] * n_channels
        self.final_s = 0.0
        self._calls = calls

    def _next_call(self) -> list[Segment]:
        segments, self.final_s, self._excl, self._open = self._calls.pop(0)
        return list(segments)

    def process(self, *args, **kwargs):
        return self._next_call()

    def flush(self):
        return self._next_call()

    def forget_before(self, t_s: float) -> None:
        pass  # the next record holds the exclusion state as the real segmenter had it

    def excluded(self, times_s, channels):
        from .segments import Segmenter

        return Segmenter.excluded(self, times_s, channels)


def _stitch(path: str, format: str, fs_arg, mains, kwargs: dict, chunk_s: float, plan, grid: int,
            *pieces: _Piece):
    """Check each boundary, recompute pieces that differ, run the unbounded stages; -> (result, stats)."""
    from .io import open_reader
    from .pipeline import Analyzer

    reader = open_reader(path, format=format, fs=fs_arg)
    info = reader.info
    pieces = list(pieces)
    recomputed = 0
    for i in range(1, len(pieces)):
        prev = pieces[i - 1]
        if not same_state(prev.end_state, pieces[i].start_state):
            warm_first, first, stop = plan[i]
            pieces[i] = _run_piece(path, format, fs_arg, mains, warm_first, first, stop, i == len(pieces) - 1,
                                   chunk_s, kwargs, grid, blob=prev.end_blob)
            recomputed += 1
    det_calls = [c for p in pieces for c in p.calls.detector]
    seg_calls = [c for p in pieces for c in p.calls.segmenter]
    a = Analyzer(info.fs, info.channel_names, mains=mains, **kwargs)
    a.detector = _ReplayDetector(_piece_mains(path, format, fs_arg, mains, chunk_s, kwargs), det_calls)
    replay_seg = _ReplaySegmenter(len(info.channel_names), _window_s(info.fs, kwargs), seg_calls)
    a._start_segmenter = lambda: setattr(a, "segmenter", replay_seg)
    chunk_n = max(1, int(round(chunk_s * info.fs)))
    n_ch = len(info.channel_names)
    for lo in range(0, info.n_samples, chunk_n):  # the chunk grid only: the replay holds the data's effects
        a.process(Chunk(np.zeros((n_ch, min(chunk_n, info.n_samples - lo)), np.float32), lo, info.fs))
    a.finish()
    if det_calls or seg_calls:
        raise RuntimeError("replay out of step: records left over")
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
    if a.detector.mains_hz is not None and mains != "auto":
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


def _stitch_task(path, format, fs_arg, mains, kwargs, chunk_s, plan, grid, *pieces):
    """Stitch the pieces; if any piece or the stitching failed, analyse the whole file here instead
    (a bad input then reports its own error; a piece path broken by a stage change costs time only)."""
    if all(p[0] == "ok" for p in pieces):
        status, value = _guard(_stitch, path, format, fs_arg, mains, kwargs, chunk_s, plan, grid,
                               *[p[1] for p in pieces])
        if status == "ok":
            return status, value
        why = value
    else:
        why = next(p[1] for p in pieces if p[0] == "error")
    status, value = _guard(_analyze_whole, path, format, fs_arg, mains, chunk_s, kwargs)
    if status == "ok":
        value[1]["fallback"] = why
    return status, value


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
                    grid = _grid_samples(reader.info.fs, chunk_s)
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
                                           i == len(plan) - 1, chunk_s, kwargs, grid, pure=False))
            every += parts
            fut = client.submit(_stitch_task, path, format, fs, mains, kwargs, chunk_s, plan, grid, *parts,
                                pure=False)
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
