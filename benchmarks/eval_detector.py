"""Detector accuracy: every simulator scenario over several seeds, plus MUAPs planted into
the rest periods of real recordings, for the detector and the plain SciPy baseline.

    python benchmarks/eval_detector.py [--seeds 3] [--minutes 10] [--channels 4] [--quick]

A call matches a planted discharge on the same channel within +-15 ms, one to one.
Scored on rest time only: calls inside a planted interval (voluntary bout, cramp,
artefact, ...) are left out, as analysis leaves those intervals out of valid time (the
classification work scores them separately). Printed per case group: precision, recall,
F1, false calls per channel-hour of rest, and the error of the hourly rate (calls per rest
hour against planted discharges per rest hour).

To add a method, register a function taking a :class:`Case` and returning
``(onset_s, channel)`` arrays in ``METHODS``. ``classified`` is the whole pipeline's
``fasciculation`` rows (multiplets once, scored against first discharges); its end-to-end
table, with false calls inside bouts, on heartbeats and on artefacts, is
``benchmarks/eval_classify.py``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baseline_scipy import scipy_detect  # noqa: E402

from emg.detect import detect  # noqa: E402
from emg.simulate import EVENT_DTYPE, SCENARIOS, Interval, Truth, simulate  # noqa: E402
from emg.simulate.shapes import Renderer, muap_shape  # noqa: E402
from emg.types import Recording  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TOLERANCE_S = 0.015
INTERVAL_MARGIN_S = 0.25


@dataclass
class Case:
    """One recording with its truth; ``group`` is the row of the printed table."""

    group: str
    name: str
    recording: Recording
    truth: Truth


# -- scoring ---------------------------------------------------------------------------------
def match_count(det_s: np.ndarray, true_s: np.ndarray, tol_s: float = TOLERANCE_S) -> int:
    """Number of one-to-one matches within ``tol_s`` (closest pairs first)."""
    det_s, true_s = np.sort(det_s), np.sort(true_s)
    if not len(det_s) or not len(true_s):
        return 0
    pairs = []
    for i, t in enumerate(det_s):
        lo, hi = np.searchsorted(true_s, t - tol_s), np.searchsorted(true_s, t + tol_s, "right")
        pairs.extend((abs(t - true_s[j]), i, j) for j in range(lo, hi))
    pairs.sort()
    used_d, used_t, n = set(), set(), 0
    for _, i, j in pairs:
        if i not in used_d and j not in used_t:
            used_d.add(i)
            used_t.add(j)
            n += 1
    return n


def in_intervals(times_s: np.ndarray, truth: Truth, channel: int, margin_s: float = INTERVAL_MARGIN_S) -> np.ndarray:
    """True where a time falls inside (or within ``margin_s`` of) a planted interval of ``channel``."""
    out = np.zeros(len(times_s), bool)
    for iv in truth.intervals_on(channel):
        out |= (times_s >= iv.start_s - margin_s) & (times_s <= iv.end_s + margin_s)
    return out


def evaluate(onset_s: np.ndarray, channel: np.ndarray, truth: Truth, *, first_only: bool = False) -> dict:
    """Counts for one case: tp, fp, fn, rest hours, planted and called per channel summed.

    ``first_only`` scores only the first discharge of each doublet/multiplet (for methods
    that count a multiplet once).
    """
    onset_s, channel = np.asarray(onset_s, float), np.asarray(channel)
    tp = fp = fn = 0
    rest_h = 0.0
    for c in range(truth.n_channels):
        calls = onset_s[channel == c]
        calls = calls[~in_intervals(calls, truth, c)]
        planted = truth.fasciculation_times(c, first_only=first_only)
        n = match_count(calls, planted)
        tp, fp, fn = tp + n, fp + len(calls) - n, fn + len(planted) - n
        rest_h += truth.valid_s(c) / 3600.0
    return {"tp": tp, "fp": fp, "fn": fn, "rest_h": rest_h}


def summarise(counts: list[dict]) -> dict:
    tp, fp, fn = (sum(c[k] for c in counts) for k in ("tp", "fp", "fn"))
    rest_h = sum(c["rest_h"] for c in counts)
    precision = tp / (tp + fp) if tp + fp else math.nan
    recall = tp / (tp + fn) if tp + fn else math.nan
    f1 = 2 * precision * recall / (precision + recall) if tp else (math.nan if tp + fn == 0 else 0.0)
    planted, called = tp + fn, tp + fp
    return {
        "n": planted,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "false_per_h": fp / rest_h if rest_h else math.nan,
        "rate_error": (called - planted) / planted if planted else math.nan,
    }


# -- methods ---------------------------------------------------------------------------------
def run_detector(case: Case):
    ev = detect(case.recording)
    return ev.onset_s, ev.channel


def run_scipy(case: Case):
    s, ch, _ = scipy_detect(case.recording.data, case.recording.fs, mains_hz=case.truth.mains_hz)
    return s / case.recording.fs, ch


def run_classified(case: Case):
    """Fasciculation rows of the whole pipeline (classification issue); a multiplet is one row."""
    from emg.pipeline import analyze

    ev = analyze(case.recording).events
    keep = ev.label == "fasciculation"
    return ev.onset_s[keep], ev.channel[keep]


METHODS: dict[str, Callable[[Case], tuple[np.ndarray, np.ndarray]]] = {
    "detector": run_detector,
    "scipy": run_scipy,
    "classified": run_classified,
}
#: methods that report a doublet/multiplet once: scored against first discharges only
FIRST_ONLY = {"classified"}


# -- cases -----------------------------------------------------------------------------------
def scenario_cases(scenarios, seeds, minutes: float, channels: int) -> Iterator[Case]:
    for name in scenarios:
        for seed in seeds:
            rec, truth = simulate(name, minutes=minutes, channels=channels, seed=seed)
            yield Case(name, f"{name}/seed{seed}", rec, truth)


def rest_mask(data: np.ndarray, fs: float, window_s: float = 0.25) -> np.ndarray:
    """Per-sample flag of truly quiet rest, found without the detector.

    20-450 Hz zero-phase band-pass; a window is quiet when its RMS is below 1.5x the median
    RMS of the quietest fifth of windows and its largest |value| below 5 x that RMS (no
    spike of any kind: real rest holds small unlabelled potentials that cannot be scored),
    and so are both neighbours.
    """
    from scipy import signal

    sos = signal.butter(4, [20.0, min(450.0, 0.45 * fs)], btype="bandpass", fs=fs, output="sos")
    y = signal.sosfiltfilt(sos, data.astype(float))
    w = int(window_s * fs)
    n = y.size // w
    win = y[: n * w].reshape(n, w)
    rms = np.sqrt((win**2).mean(axis=1))
    sigma = np.median(rms[rms <= np.percentile(rms, 20)])
    quiet = (rms < 1.5 * sigma) & (np.abs(win).max(axis=1) < 5.0 * sigma)
    quiet &= np.concatenate([[False], quiet[:-1]]) & np.concatenate([quiet[1:], [False]])
    mask = np.zeros(y.size, bool)
    mask[: n * w] = np.repeat(quiet, w)
    return mask


def planted_real_cases(seeds, rate_hz: float = 1.0) -> Iterator[Case]:
    """MUAP templates planted at known times into the rest periods of datasets/plux/*.h5."""
    from emg.io import read

    files = sorted((REPO / "datasets" / "plux").glob("*.h5"))
    for path in files:
        base = read(path)
        fs = base.fs
        rest = rest_mask(base.data[0], fs)
        r = Renderer(fs)
        for seed in seeds:
            rng = np.random.default_rng(1000 + seed)
            data = base.data.astype(np.float64).copy()
            units = []
            for _ in range(4):
                tpl = r.prepare(muap_shape(rng, r.fs_hi, rng.uniform(5, 20), int(rng.integers(2, 5))))
                units.append((tpl, float(np.exp(rng.uniform(np.log(60), np.log(600)))) / tpl.pp))
            rows, t = [], 1.0
            while t < base.duration_s - 1.0:
                t += rng.exponential(1.0 / rate_hz) + 0.15
                lo, hi = int((t - 0.3) * fs), int((t + 0.3) * fs)
                if hi >= base.n_samples or not rest[lo:hi].all():
                    continue
                u = int(rng.integers(len(units)))
                tpl, gain = units[u]
                r.add(data[0], tpl, t, gain)
                rows.append((r.peak_time(tpl, t), 0, u, "fasciculation", gain * tpl.pp, len(rows) + 1, 1, 1))
            # non-rest time is an interval, left out of scoring like a voluntary bout
            edges = np.flatnonzero(np.diff(np.concatenate([[1], rest.astype(int), [1]])))
            intervals = [Interval(a / fs, b / fs, "voluntary", None) for a, b in zip(edges[::2], edges[1::2])]
            truth = Truth("planted-real", seed, fs, 1, base.duration_s, 50.0, (float("nan"),),
                          np.array(rows, dtype=EVENT_DTYPE), tuple(intervals))
            rec = Recording(data.astype(np.float32), fs=fs, channel_names=base.channel_names, start=base.start)
            yield Case("planted-real", f"{path.name}/seed{seed}", rec, truth)


# -- table -----------------------------------------------------------------------------------
def _fmt(v: float, pct: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{100 * v:+.1f}%" if pct else f"{v:.3f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--channels", type=int, default=4)
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--quick", action="store_true", help="1 seed, 3 minutes, 2 channels")
    args = ap.parse_args(argv)
    if args.quick:
        args.seeds, args.minutes, args.channels = 1, 3.0, 2
    seeds = range(args.seeds)
    methods = args.methods.split(",")
    cases = list(scenario_cases(args.scenarios.split(","), seeds, args.minutes, args.channels))
    cases += list(planted_real_cases(range(10)))
    results: dict[tuple[str, str], list[dict]] = {}
    seconds = dict.fromkeys(methods, 0.0)
    for case in cases:
        for m in methods:
            t0 = time.perf_counter()
            onset_s, ch = METHODS[m](case)
            seconds[m] += time.perf_counter() - t0
            results.setdefault((case.group, m), []).append(
                evaluate(onset_s, ch, case.truth, first_only=m in FIRST_ONLY))
    groups = list(dict.fromkeys(c.group for c in cases))
    print(f"cases: {len(cases)} ({args.seeds} seed(s) x {args.minutes:g} min x {args.channels} ch per scenario; "
          f"planted-real: datasets/plux, 10 plantings per file); match +-15 ms on rest time")
    header = f"{'group':<14}{'planted':>8}" + "".join(
        f" | {m[:9]:>9} {'P':>6} {'R':>6} {'F1':>6} {'FP/h':>7} {'rate':>7}" for m in methods)
    print(header)
    print("-" * len(header))
    for g in groups:
        line = ""
        for m in methods:
            s = summarise(results[(g, m)])
            line += (f" | {'':>9} {_fmt(s['precision']):>6} {_fmt(s['recall']):>6} {_fmt(s['f1']):>6} "
                     f"{s['false_per_h']:>7.1f} {_fmt(s['rate_error'], pct=True):>7}")
        print(f"{g:<14}{summarise(results[(g, methods[0])])['n']:>8}" + line)
    print("time per method (s): " + ", ".join(f"{m} {seconds[m]:.1f}" for m in methods)
          + (f"; scipy/detector = {seconds['scipy'] / seconds['detector']:.2f}" if {"scipy", "detector"} <= set(methods) else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
