"""Detector speed and memory on 1 hour x 8 channels x 1 kHz, against baselines measured in
the same run.

    python benchmarks/bench_detect.py [--minutes 60] [--channels 8] [--hours-stream 24] [--repeat 5]

Prints:
- each Numba kernel's throughput on one core (samples/s over all channels);
- the whole detection (``emg.detect.detect``: filters, noise, events, features) on one
  thread and with the default worker threads, against the plain SciPy baseline
  (``baseline_scipy.py``) on the same array: the ratio is what counts. These lines and the
  next are timed in rounds (``--repeat``, 5), each round running every one of them once in
  turn, best of the rounds: the VM's speed drifts, and this way it affects all of them alike;
- the whole ``emg analyze`` analysis (``emg.pipeline.analyze``: detector, segmenter,
  classifier, units, rates, in ``BATCH_CHUNK_S`` (120 s) chunks, segmented and classified ``ACCEPT_CHUNKS`` at a
  time, as the CLI runs it; no files written) against the same SciPy baseline: on one
  thread, and as the CLI runs it (read+filter, detect and segment+classify overlapped on
  three threads, see ``emg.pipeline.run_chunks``);
- the CPU time of each stage of that line, each measured on its own thread;
- a plain NumPy pass over the same array (``np.abs(x).max()``) as the memory-bandwidth floor;
- peak memory (RSS) of a separate process streaming a 24-hour, 8-channel, 1 kHz recording
  through one Detector in 10 s chunks, as ``emg stream`` or a chunked file reader does.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baseline_scipy import scipy_detect

from emg import _detect_numba as K
from emg.detect import Detector, detect
from emg.filters import DetectionFilter
from emg.pipeline import ACCEPT_CHUNKS, BATCH_CHUNK_S, Analyzer, _groups, analyze, run_ahead
from emg.simulate import simulate
from emg.types import Chunk, Recording


def best_of(fn, repeat: int = 3) -> float:
    """Fastest of ``repeat`` runs in seconds (the machine is shared; the minimum is the signal)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def interleaved_best(fns: dict, repeat: int) -> dict:
    """Fastest time of each function over ``repeat`` rounds, each round calling every function
    once in turn: a ratio of two of them is then measured under the same machine speed."""
    best = {name: np.inf for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def make_recording(minutes: float, channels: int) -> Recording:
    """``minutes`` of the 'clean' scenario, built from 10-minute simulations (seeded)."""
    parts, truths = [], 0
    for i in range(int(np.ceil(minutes / 10))):
        rec, truth = simulate("clean", minutes=min(10.0, minutes - 10 * i), channels=channels, seed=i)
        parts.append(rec.data)
        truths += len(truth.events_of("fasciculation"))
    data = np.concatenate(parts, axis=1)
    return Recording(data, fs=rec.fs, channel_names=rec.channel_names, start=rec.start)


def _vm_hwm_mb() -> float:
    """Peak resident memory of this process (VmHWM; reset by exec, unlike ru_maxrss)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stream_24h(hours: float, channels: int) -> dict:
    """Run in a child process: stream ``hours`` through one Detector; report peak RSS."""
    base, _ = simulate("clean", minutes=10, channels=channels, seed=0)
    before = _vm_hwm_mb()
    det = Detector(base.fs, channels)
    step = int(10 * base.fs)
    n_total = int(hours * 3600 * base.fs)
    n_events, first = 0, 0
    t0 = time.perf_counter()
    while first < n_total:
        lo = first % base.n_samples
        n = min(step, base.n_samples - lo, n_total - first)
        n_events += len(det.process(Chunk(base.data[:, lo : lo + n], first, base.fs)))
        first += n
    n_events += len(det.flush())
    seconds = time.perf_counter() - t0
    return {"hours": hours, "events": n_events, "seconds": seconds, "peak_rss_mb": _vm_hwm_mb(),
            "rss_before_mb": before}


def stage_cpu(rec: Recording, repeat: int = 3) -> dict:
    """CPU time of each stage of ``emg.pipeline.run_chunks``' assembly line (read+filter,
    detect, segment+classify), measured on its own thread; the smallest of ``repeat`` runs."""
    best: dict[str, float] = {}
    for _ in range(repeat):
        best = {k: min(v, best.get(k, np.inf)) for k, v in _stage_cpu_once(rec).items()}
    return best


def _stage_cpu_once(rec: Recording) -> dict:
    a = Analyzer(rec.fs, rec.channel_names)
    cpu = {"read+filter": 0.0, "detect": 0.0, "segment+classify": 0.0}

    def timed(name, fn, *args):
        t0 = time.thread_time()
        out = fn(*args)
        cpu[name] += time.thread_time() - t0
        return out

    filtered = run_ahead(rec.iter_chunks(BATCH_CHUNK_S), lambda c: timed("read+filter", a.detector.filter, c))
    detected = run_ahead(filtered, lambda item: timed("detect", a.detect, item[1]))
    for group in _groups(((chunk, stage) for (chunk, _), stage in detected), ACCEPT_CHUNKS):
        timed("segment+classify", a.accept_many, group)
    timed("segment+classify", a.finish)
    return cpu


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--channels", type=int, default=8)
    ap.add_argument("--hours-stream", type=float, default=24.0)
    ap.add_argument("--repeat", type=int, default=5, help="rounds of the whole-analysis comparison")
    ap.add_argument("--child-stream", type=float, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child_stream is not None:
        print(json.dumps(stream_24h(args.child_stream, args.channels)))
        return 0

    rec = make_recording(args.minutes, args.channels)
    x, fs = rec.data, rec.fs
    n = x.size
    print(f"data: {args.minutes:g} min x {args.channels} ch x {fs:g} Hz = {n / 1e6:.1f} M samples (float32)")
    detect(Recording(x[:, :60000], fs=fs, channel_names=rec.channel_names, start=rec.start))  # compile

    # -- kernels, one core ----------------------------------------------------------------
    valid = np.ones(x.shape[1], bool)
    f = DetectionFilter(fs, args.channels, 50.0)
    f.warm_up(x[:, :2000])
    rows = []
    rows.append(("band-pass alone, 2 biquads (sos_filter)", best_of(lambda: f.band.process(x, valid))))
    rows.append(("band-pass + mains canceller (mains_cancel)", best_of(lambda: f.process(x, valid), 2)))
    y = f.process(x, valid)
    bn = int(fs)
    n_full = (x.shape[1] // bn) * bn
    yy = np.ascontiguousarray(y[:, :n_full])
    rows.append(("block noise (block_mad)", best_of(lambda: K.block_mad(yy, valid[:n_full], bn, 0.25, max(1, bn // 250)))))
    mads = K.block_mad(yy, valid[:n_full], bn, 0.25, max(1, bn // 250))
    thr = np.ascontiguousarray(np.repeat(np.nanmedian(mads, axis=1, keepdims=True), mads.shape[1], axis=1) * 5)
    cap = args.channels * n_full // 3

    def run_thr():
        st = np.zeros((args.channels, 5), np.int64)
        st[:, 3:] = -(1 << 40)
        return K.threshold_events(yy, valid[:n_full], thr, bn, 0, 4, 30, 3, 0.1, 0.6, 20.0, st,
                                  np.zeros((args.channels, 2)), np.empty(cap, np.int64), np.empty(cap, np.int64),
                                  np.empty(cap))

    rows.append(("threshold + peaks (threshold_events)", best_of(run_thr)))
    floor = best_of(lambda: np.abs(x).max(axis=1))
    print(f"\n{'kernel (one core)':<40}{'M samples/s':>12}{'x NumPy floor':>15}")
    for name, sec in rows:
        print(f"{name:<40}{n / sec / 1e6:>12.1f}{floor / sec:>15.2f}")
    print(f"{'NumPy floor: np.abs(x).max(axis=1)':<40}{n / floor / 1e6:>12.1f}{1.0:>15.2f}")

    # -- whole detection and analysis vs SciPy baseline ----------------------------------
    analyze(Recording(x[:, :120000], fs=fs, channel_names=rec.channel_names, start=rec.start))  # compile
    t = interleaved_best({
        "one": lambda: detect(rec, workers=1),
        "par": lambda: detect(rec, workers=2),
        "scipy": lambda: scipy_detect(x, fs, 50.0),
        "an1": lambda: analyze(rec, threads=False),
        "an": lambda: analyze(rec),
    }, args.repeat)
    t_one, t_par, t_scipy, t_an1, t_an = t["one"], t["par"], t["scipy"], t["an1"], t["an"]
    print(f"\n(best of {args.repeat} rounds; each round runs every line below once, in turn, so the "
          f"VM's drifting speed affects all alike)")
    print(f"{'whole detection':<40}{'seconds':>10}{'M samples/s':>13}{'vs SciPy':>10}")
    for name, sec in (("emg.detect.detect, 1 thread", t_one), ("emg.detect.detect, 2 threads", t_par),
                      ("SciPy baseline (filtfilt+find_peaks)", t_scipy)):
        print(f"{name:<40}{sec:>10.2f}{n / sec / 1e6:>13.1f}{t_scipy / sec:>9.1f}x")
    print(f"{'emg analyze, one thread':<40}{t_an1:>10.2f}{n / t_an1 / 1e6:>13.1f}{t_scipy / t_an1:>9.1f}x")
    print(f"{'emg analyze (default: 3-stage line)':<40}{t_an:>10.2f}{n / t_an / 1e6:>13.1f}{t_scipy / t_an:>9.1f}x")
    lanes = stage_cpu(rec)
    print("CPU seconds per stage of the 3-stage line (thread time, best of 3): "
          + ", ".join(f"{k} {v:.2f}" for k, v in lanes.items()) + f" (sum {sum(lanes.values()):.2f} on 2 cores)")
    hour_equiv = args.minutes / 60.0
    print(f"one hour of {args.channels} channels: {t_one / hour_equiv:.2f} s on one thread "
          f"({3600 * hour_equiv / t_one:.0f}x real time)")

    # -- memory on a 24-hour stream (child process) ---------------------------------------
    out = subprocess.run([sys.executable, __file__, "--child-stream", str(args.hours_stream),
                          "--channels", str(args.channels)], capture_output=True, text=True, check=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"\n{res['hours']:g} h x {args.channels} ch streamed in 10 s chunks: {res['seconds']:.0f} s, "
          f"{res['events']} events, peak RSS {res['peak_rss_mb']:.0f} MB "
          f"(of which {res['rss_before_mb']:.0f} MB before the detector started: Python, NumPy, SciPy, "
          f"Numba and the 10-minute source array)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
