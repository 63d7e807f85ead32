"""Scale-out of ``emg analyze``: many long files on local processes and on a Dask LocalCluster.

Simulated one-hour recordings are written to a temporary folder, then analysed

1. in this process, one file after another (the baseline: what ``emg analyze`` does);
2. on a pool of 1 and of 2 local worker processes (``concurrent.futures``, spawned like Dask's,
   one task per file);
3. on a 2-worker dask.distributed LocalCluster (``emg analyze --scheduler local:2``: one
   task per file);
4. on the same cluster with long files cut into pieces (``split=True``, not the default: one task per
   15-minute piece plus a stitching task per file), the path a few very long files take.

Every result is checked identical to the baseline (events with waveforms, labels, units;
segments; hourly rates; noise; motor units). Wall times are printed as ratios to the baseline.

    python benchmarks/bench_scale.py                # 20 files x 60 min, 1 channel
    python benchmarks/bench_scale.py --files 4 --minutes 20
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np


def _make(args) -> str:
    path, minutes, channels, seed = args
    import emg

    rec, _ = emg.simulate("clean", minutes=minutes, channels=channels, seed=seed)
    emg.write_bdf(rec, path)
    return path


def _analyze(path: str):
    from emg.pipeline import analyze

    return analyze(path)


def _same(a, b) -> bool:
    for col in list(a.events.columns) + ["label", "unit", "multiplicity", "waveforms"]:
        if not np.array_equal(getattr(a.events, col), getattr(b.events, col)):
            return False
    units = lambda r: {k: [u.to_dict() for u in v] for k, v in r.units.items()}
    return (a.segments == b.segments and a.rates == b.rates and a.noise_uv == b.noise_uv
            and a.fasciculations == b.fasciculations and units(a) == units(b))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    from emg import distributed

    tmp = Path(tempfile.mkdtemp(prefix="emg-bench-scale-"))
    jobs = [(str(tmp / f"rec{i:02d}.bdf"), args.minutes, args.channels, 1000 + i) for i in range(args.files)]
    t = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        paths = list(pool.map(_make, jobs))
    size_mb = sum(os.path.getsize(p) for p in paths) / 1e6
    print(f"{args.files} files x {args.minutes:g} min x {args.channels} channel(s) at 1 kHz "
          f"({size_mb:.0f} MB BDF) simulated in {time.perf_counter() - t:.0f} s; {os.cpu_count()} CPU cores")

    _analyze(paths[0])  # compile/load the Numba kernels once before timing
    t = time.perf_counter()
    reference = {p: _analyze(p) for p in paths}
    base = time.perf_counter() - t
    print(f"baseline, one process, file after file: {base:.1f} s "
          f"({base / (args.files * args.minutes / 60):.1f} s per recorded hour)")

    rows = []
    for n in sorted({1, args.workers}):
        with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn")) as pool:  # like Dask
            list(pool.map(_analyze, paths[:n]))  # start the processes and load Numba's cache
            t = time.perf_counter()
            results = dict(zip(paths, pool.map(_analyze, paths)))
            rows.append((f"process pool, {n} worker(s)", time.perf_counter() - t, results, None))

    spec = f"local:{args.workers}"
    for split, label in ((False, "one task per file"), (True, "15-min pieces + stitching")):
        with distributed.connect(spec) as client:
            client.run(lambda: __import__("emg.pipeline"))  # workers import emg before timing
            list(distributed.analyze_files(paths[: args.workers], client, split=False))  # warm Numba
            t = time.perf_counter()
            got = list(distributed.analyze_files(paths, client, split=split))
            wall = time.perf_counter() - t
        stats = [s for _, _, s in got if s]
        rows.append((f"Dask LocalCluster {spec}, {label}", wall, {p: r for p, r, _ in got}, stats))

    print(f"\n{'run':52s} {'wall s':>8s} {'speed-up':>9s}  identical")
    print(f"{'baseline (one process)':52s} {base:8.1f} {1.0:9.2f}  -")
    ok_all = True
    for label, wall, results, stats in rows:
        bad = [p for p in paths if isinstance(results.get(p), str) or not _same(reference[p], results[p])]
        ok_all &= not bad
        extra = ""
        fallbacks = [s["fallback"] for s in stats or [] if "fallback" in s]
        if fallbacks:
            extra = f"  ({len(fallbacks)} files fell back to one task: {fallbacks[0]})"
        elif stats and any(s["pieces"] > 1 for s in stats):
            pieces = sum(s["pieces"] for s in stats)
            recomputed = sum(s["recomputed"] for s in stats)
            extra = f"  ({pieces} pieces, {recomputed} of {pieces - len(stats)} boundaries recomputed)"
        print(f"{label:52s} {wall:8.1f} {base / wall:9.2f}  {'yes' if not bad else f'NO ({len(bad)} differ)'}{extra}")
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
