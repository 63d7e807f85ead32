"""BDF reading speed against MNE, and peak memory of chunked reading over 24 hours.

Run: ``python benchmarks/bench_io.py [--hours-long 24]``

1. Writes a 1-hour, 8-channel, 1 kHz BDF+ (temporary folder) and reads it whole with
   ``emg.io.read`` and with ``mne.io.read_raw_bdf(preload=True)``, alternating, best of 3 each;
   prints the speed ratio (MNE time / ours: above 1 means ours is faster) and checks that both
   give the same samples.
2. Writes a 24-hour, 8-channel, 1 kHz BDF+ (2 GB) in one-minute blocks and iterates it in
   10-second chunks in a fresh process; prints that process's peak resident memory
   (``VmHWM``, else ``ru_maxrss``) against the same process before reading (the baseline) and the 500 MB budget.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FS = 1000
N_CH = 8
START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def write_long(path: Path, hours: float, seed: int = 0) -> None:
    """A long recording written block by block (bounded memory), one gap per hour."""
    from emg.io.bdf import BdfRecorder

    rng = np.random.default_rng(seed)
    block_s = 60
    template = rng.normal(0, 20, (N_CH, block_s * FS)).astype(np.float32)
    with BdfRecorder(path, fs=FS, channel_names=[f"ch{i + 1}" for i in range(N_CH)], start=START,
                     sidecar=False, fsync=False) as rec:
        for minute in range(int(hours * 60)):
            rec.write(template + np.float32(minute))
            if minute % 60 == 30:
                rec.add_gap(minute * 60.0 + 1.0, 0.5)


def best_of(fn, repeats: int = 3) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


_CHILD = """
import resource, sys, time
import emg.io

def peak_kb():
    # VmHWM belongs to this process image; ru_maxrss can carry the parent's peak over exec
    try:
        with open("/proc/self/status") as fid:
            for line in fid:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

base = peak_kb()
reader = emg.io.open_reader(sys.argv[1])
t0 = time.perf_counter()
total, checksum = 0, 0.0
for chunk in reader.iter_chunks(chunk_s=10.0):
    total += chunk.n_samples
    checksum += float(chunk.data[:, ::997].sum())
elapsed = time.perf_counter() - t0
peak = peak_kb()
print(base, peak, total, elapsed, len(reader.info.gaps))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours-long", type=float, default=24.0, help="length of the long file (h)")
    args = parser.parse_args()

    import mne

    import emg.io

    with tempfile.TemporaryDirectory() as tmp:
        one_hour = Path(tmp) / "one_hour.bdf"
        t0 = time.perf_counter()
        write_long(one_hour, 1.0)
        print(f"wrote 1 h x {N_CH} ch x {FS} Hz BDF+ ({one_hour.stat().st_size / 1e6:.0f} MB) "
              f"in {time.perf_counter() - t0:.1f} s")
        ours_s = mne_s = float("inf")
        ours = raw = None
        for _ in range(3):  # alternate so both see the same page-cache state
            t, ours = best_of(lambda: emg.io.read(one_hour), 1)
            ours_s = min(ours_s, t)
            t, raw = best_of(lambda: mne.io.read_raw_bdf(one_hour, preload=True, verbose="error"), 1)
            mne_s = min(mne_s, t)
        diff = np.abs(raw.get_data()[:, :: 101] * 1e6 - ours.data[:, :: 101]).max()
        print(f"read 1 h: emg.io.read {ours_s:.2f} s, mne.io.read_raw_bdf(preload=True) {mne_s:.2f} s")
        print(f"speed ratio (MNE time / ours): {mne_s / ours_s:.2f}x  "
              f"[{'OK' if mne_s >= ours_s else 'SLOWER THAN MNE'}: must be >= 1]; "
              f"max |difference| {diff:.2e} µV")
        del ours, raw
        one_hour.unlink()

        long_path = Path(tmp) / "long.bdf"
        t0 = time.perf_counter()
        write_long(long_path, args.hours_long)
        print(f"wrote {args.hours_long:g} h BDF+ ({long_path.stat().st_size / 1e9:.2f} GB) in "
              f"{time.perf_counter() - t0:.0f} s")
        out = subprocess.run([sys.executable, "-c", _CHILD, str(long_path)], capture_output=True, text=True,
                             check=True).stdout.split()
        base_kb, peak_kb, total, elapsed, n_gaps = int(out[0]), int(out[1]), int(out[2]), float(out[3]), int(out[4])
        expected = int(args.hours_long * 3600 * FS)
        print(f"iterate {args.hours_long:g} h in 10 s chunks: {total} samples/channel "
              f"({'all' if total == expected else f'EXPECTED {expected}'}), {n_gaps} gaps, {elapsed:.1f} s "
              f"({total / FS / elapsed:.0f}x real time)")
        print(f"peak memory: {peak_kb / 1024:.0f} MB (process baseline after imports {base_kb / 1024:.0f} MB; "
              f"ratio to baseline {peak_kb / base_kb:.2f}x) "
              f"[{'OK' if peak_kb / 1024 < 500 else 'OVER'}: budget 500 MB]")


if __name__ == "__main__":
    main()
