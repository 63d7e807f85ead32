"""Segmenter speed on 1 hour x 8 channels x 1 kHz, fed exactly as ``emg analyze`` feeds it.

    python benchmarks/bench_segments.py [--minutes 60] [--channels 8] [--profile]

The recording is the one of ``bench_detect.py`` (the 'clean' scenario, seeded). The whole
analysis (:func:`emg.pipeline.analyze`, 60 s chunks) runs once and the arguments it hands to
``Segmenter.process`` (chunk, detector events and the detector's filtered samples) are recorded; then a fresh Segmenter
replays them (``process`` per chunk, ``forget_before`` as the analyzer calls it, then
``flush``), best of 3, on one thread. Prints the Segmenter's time scaled to one hour of 8
channels and, as the baseline measured in the same run, the plain SciPy detector of
``baseline_scipy.py`` on the same array (the whole analysis must beat that 5x, so the
Segmenter's share of that budget is what the ratio shows). ``--profile`` adds a cProfile of
one replay.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baseline_scipy import scipy_detect
from bench_detect import best_of, make_recording

from emg import pipeline
from emg.segments import Segmenter


def record_calls(rec) -> tuple[dict, list]:
    """Run the whole analysis once; return the Segmenter's keyword arguments and its calls."""
    calls: list = []
    made: dict = {}

    class Recording(Segmenter):
        def __init__(self, fs, n_channels, **kw):
            made.update(fs=fs, n_channels=n_channels, **kw)
            super().__init__(fs, n_channels, **kw)

        def process(self, chunk, t=None, c=None, a=None, *, filtered=()):
            calls.append(("process", (chunk, None if t is None else np.array(t), None if c is None else np.array(c),
                                      None if a is None else np.array(a)), {"filtered": tuple(filtered)}))
            return super().process(chunk, t, c, a, filtered=filtered)

        def forget_before(self, t_s):
            calls.append(("forget_before", (t_s,), {}))
            return super().forget_before(t_s)

    original = pipeline.Segmenter
    pipeline.Segmenter = Recording
    try:
        pipeline.analyze(rec)
    finally:
        pipeline.Segmenter = original
    return made, calls


def replay(kw: dict, calls: list, cls=Segmenter) -> list:
    """A fresh Segmenter fed the recorded calls; returns every segment it handed out."""
    kw = dict(kw)
    seg = cls(kw.pop("fs"), kw.pop("n_channels"), **kw)
    out = []
    for name, args, kwargs in calls:
        if name == "process":
            out += seg.process(*args, **kwargs)
        else:
            seg.forget_before(*args)
    out += seg.flush()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--channels", type=int, default=8)
    ap.add_argument("--profile", action="store_true", help="print a cProfile of one replay")
    args = ap.parse_args()
    rec = make_recording(args.minutes, args.channels)
    kw, calls = record_calls(rec)
    scale = (60.0 / args.minutes) * (8 / args.channels)
    segments = replay(kw, calls)  # warm (compiles the kernels)
    t_seg = best_of(lambda: replay(kw, calls), 3)
    x = rec.data.astype(np.float64)
    t_scipy = best_of(lambda: scipy_detect(x, rec.fs, 50.0), 3)
    print(f"{args.minutes:g} min x {args.channels} ch x {rec.fs:g} Hz, {len(calls)} calls, {len(segments)} segments")
    print(f"{'stage':<44}{'s':>8}{'s per h of 8 ch':>17}{'share of baseline':>19}")
    print(f"{'Segmenter (process + flush, one thread)':<44}{t_seg:>8.3f}{t_seg * scale:>17.3f}{t_seg / t_scipy:>18.1%}")
    print(f"{'SciPy baseline detector (baseline_scipy)':<44}{t_scipy:>8.3f}{t_scipy * scale:>17.3f}{1:>18.0%}")
    print(f"(the whole analysis must take <= 20% of the baseline; time.perf_counter, best of 3, {time.strftime('%H:%M')})")
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        replay(kw, calls)
        prof.disable()
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(25)
        print(s.getvalue())


if __name__ == "__main__":
    main()
