"""Tests of emg.report: loading analysis folders, the numbers, the figures, the HTML page, the
CLI, and the page in a real headless browser (Debian's chromium).

Fixture folders are written in the CONTRACT formats from a small simulated recording
(emg.simulate + emg.io.write_bdf): events, segments and rates come from the simulation's
truth, so the expected numbers are known exactly.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emg.errors import InputError

TZ = dt.timezone(dt.timedelta(hours=1))
START = dt.datetime(2026, 3, 2, 21, 51, tzinfo=TZ)  # crosses a clock hour after 9 min
MINUTES = 10.0
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


# ---------------------------------------------------------------------------------------------
# fixture folders in CONTRACT format
# ---------------------------------------------------------------------------------------------


def _write_csv(path: Path, header, rows) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def _iso(start: dt.datetime, s: float) -> str:
    return (start + dt.timedelta(seconds=float(s))).isoformat(timespec="milliseconds")


def _union_in(intervals, lo: float, hi: float) -> float:
    """Length of the union of (a, b) intervals clipped to [lo, hi)."""
    clipped = sorted((max(a, lo), min(b, hi)) for a, b in intervals if b > lo and a < hi)
    total, cur = 0.0, None
    for a, b in clipped:
        if cur is None or a > cur[1]:
            if cur is not None:
                total += cur[1] - cur[0]
            cur = [a, b]
        else:
            cur[1] = max(cur[1], b)
    return total + (cur[1] - cur[0] if cur else 0.0)


def _poisson_ci(n: int, hours: float) -> tuple[float, float, float]:
    from scipy.stats import chi2

    lo = 0.0 if n == 0 else chi2.ppf(0.025, 2 * n) / 2
    return n / hours, lo / hours, chi2.ppf(0.975, 2 * n + 2) / 2 / hours


def write_simulated_folder(folder: Path, *, stem: str = "calf", seed: int = 3, units_json: bool = False) -> dict:
    """Simulate a short 2-channel recording, write it as BDF and its analysis files from the truth.

    Returns what the report should show (per-channel counts, valid seconds, ...).
    """
    from emg.io import write_bdf
    from emg.simulate import simulate

    folder.mkdir(parents=True, exist_ok=True)
    rec, truth = simulate("mixed", minutes=MINUTES, channels=2, seed=seed, start=START)
    bdf = folder / f"{stem}.bdf"
    write_bdf(rec, bdf)
    names = rec.channel_names
    gap = (150.0, 158.0)  # a gap on every channel, written as segments like a real analysis would
    segs = [(iv.start_s, iv.end_s, c, "artifact" if iv.label == "saturation" else iv.label)
            for iv in truth.intervals for c in ([iv.channel] if iv.channel is not None else range(len(names)))]
    segs += [(gap[0], gap[1], c, "gap") for c in range(len(names))]
    ev = truth.events
    rows = []
    for e in ev:
        if e["kind"] == "fasciculation" and e["order"] != 1:
            continue  # a multiplet counts once
        inside = any(a <= e["time_s"] < b for a, b, c, _ in segs if c == e["channel"])
        if e["kind"] == "fasciculation" and inside:
            continue
        rows.append((float(e["time_s"]), names[e["channel"]], str(e["kind"]), float(e["amplitude_uv"]),
                     "" if e["unit"] < 0 else str(int(e["unit"])), int(e["multiplicity"])))
    for a, b, c, label in segs:  # one artefact event in the middle of each artefact stretch
        if label == "artifact":
            rows.append(((a + b) / 2, names[c], "artifact", 1500.0, "", 1))
    rows.sort()
    _write_csv(
        folder / f"{stem}.events.csv",
        ("onset_s", "time", "channel", "label", "amplitude_uv", "duration_ms", "phases", "snr", "unit", "multiplicity"),
        [(f"{t:.4f}", _iso(START, t), ch, lab, f"{amp:.1f}", "9.50", 3, "12.00", unit, m)
         for t, ch, lab, amp, unit, m in rows],
    )
    _write_csv(folder / f"{stem}.segments.csv", ("start_s", "end_s", "channel", "label"),
               [(f"{a:.3f}", f"{b:.3f}", names[c], lab) for a, b, c, lab in sorted(segs)])
    duration = rec.duration_s
    first_hour = START.replace(minute=0, second=0, microsecond=0)
    expected = {"fasciculations": {}, "valid_s": {}, "units": {}, "bdf": bdf, "names": names}
    rate_rows = []
    for name_i, name in enumerate(names):
        bad = [(a, b) for a, b, c, _ in segs if c == name_i]
        fasc = [t for t, ch, lab, *_ in rows if ch == name and lab == "fasciculation"]
        expected["fasciculations"][name] = len(fasc)
        expected["valid_s"][name] = duration - _union_in(bad, 0, duration)
        expected["units"][name] = sorted({u for t, ch, lab, a, u, m in rows if ch == name and lab == "fasciculation"})
        h = first_hour
        while h < START + dt.timedelta(seconds=duration):
            lo = max(0.0, (h - START).total_seconds())
            hi = min(duration, (h - START).total_seconds() + 3600)
            valid = (hi - lo) - _union_in(bad, lo, hi)
            n = sum(lo <= t < hi for t in fasc)
            r = _poisson_ci(n, valid / 3600) if valid >= 300 else ("", "", "")
            rate_rows.append((h.isoformat(), name, n, f"{valid:.1f}",
                              *(f"{x:.2f}" if x != "" else "" for x in r)))
            h += dt.timedelta(hours=1)
    _write_csv(folder / f"{stem}.rates.csv",
               ("hour_start", "channel", "fasciculations", "valid_s", "rate_per_hour", "ci_low", "ci_high"), rate_rows)
    summary = {
        "input": str(bdf), "format": "bdf", "fs": rec.fs, "channels": list(names), "start": START.isoformat(),
        "duration_s": duration, "valid_s": float(np.mean(list(expected["valid_s"].values()))), "mains_hz": 50.0,
        "noise_uv": {n: v for n, v in zip(names, (3.2, 14.5))},
        "fasciculations": expected["fasciculations"],
        "rate_per_hour": {n: expected["fasciculations"][n] / (expected["valid_s"][n] / 3600) for n in names},
        "packets_lost": 0, "software": {"name": "emg", "version": "test"},
    }
    (folder / f"{stem}.summary.json").write_text(json.dumps(summary), encoding="utf-8")
    if units_json:
        t = np.linspace(-1, 1, 41)
        units = {"fs": rec.fs, "channels": {n: [{"unit": int(u), "count": 5 + int(u), "amplitude_uv": 100.0,
                                                 "waveform_uv": list(np.round(100 * (k + 1) * -t * np.exp(-8 * t**2), 2))}
                                                for k, u in enumerate(expected["units"][n])] for n in names}}
        (folder / f"{stem}.units.json").write_text(json.dumps(units), encoding="utf-8")
    return expected


def write_weeks_folder(folder: Path, *, days: int = 21, seed: int = 0) -> Path:
    """Hourly rates over ``days`` days (no recording kept) and a diary with a planted caffeine effect.

    Returns the diary path.
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    start = dt.datetime(2026, 2, 1, 0, 0, tzinfo=TZ)
    hours = days * 24
    caffeine_load = np.zeros(hours)
    diary = []
    for d in range(days):
        if rng.random() < 0.6:  # coffee on 60 % of days at 08:00 and sometimes 14:00
            for hh in (8, 14) if rng.random() < 0.5 else (8,):
                t0 = d * 24 + hh
                diary.append((start + dt.timedelta(hours=t0), "caffeine", 100))
                k = np.arange(hours - t0)
                caffeine_load[t0:] += 100 * 0.5 ** (k / 5.0)
        if rng.random() < 0.4:
            diary.append((start + dt.timedelta(hours=d * 24 + 18), "strength_training", 45))
    valid = np.where((np.arange(hours) % 24 >= 7) & (np.arange(hours) % 24 < 23), 3000.0, 0.0)
    valid *= rng.uniform(0.3, 1.2, hours).clip(0, 1.2)
    valid = np.minimum(valid, 3600.0)
    mu = 20.0 * np.exp(0.003 * caffeine_load) * valid / 3600.0
    counts = rng.poisson(rng.gamma(5.0, mu / 5.0))
    rows = []
    for i in range(hours):
        h = start + dt.timedelta(hours=i)
        if valid[i] >= 300:
            r = _poisson_ci(int(counts[i]), valid[i] / 3600)
            rate = [f"{x:.2f}" for x in r]
        else:
            rate = ["", "", ""]
        rows.append((h.isoformat(), "EMG1", int(counts[i]), f"{valid[i]:.1f}", *rate))
    _write_csv(folder / "weeks.rates.csv",
               ("hour_start", "channel", "fasciculations", "valid_s", "rate_per_hour", "ci_low", "ci_high"), rows)
    _write_csv(folder / "weeks.events.csv", ("onset_s", "time", "channel", "label", "amplitude_uv", "duration_ms",
                                             "phases", "snr", "unit", "multiplicity"), [])
    _write_csv(folder / "weeks.segments.csv", ("start_s", "end_s", "channel", "label"), [])
    summary = {"input": "gone/weeks.bdf", "format": "bdf", "fs": 250.0, "channels": ["EMG1"], "start": start.isoformat(),
               "duration_s": hours * 3600.0, "valid_s": float(valid.sum()), "mains_hz": 50, "noise_uv": {"EMG1": 4.0},
               "fasciculations": {"EMG1": int(counts.sum())}, "rate_per_hour": {"EMG1": None}, "packets_lost": 12,
               "software": {"name": "emg", "version": "test"}}
    (folder / "weeks.summary.json").write_text(json.dumps(summary), encoding="utf-8")
    diary_path = folder.parent / "diary.csv"
    _write_csv(diary_path, ("start", "end", "factor", "value", "unit", "note"),
               [(t.isoformat(), "", f, v, "mg" if f == "caffeine" else "min", "") for t, f, v in diary])
    return diary_path


@pytest.fixture(scope="module")
def sim_folder(tmp_path_factory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("analysed")
    expected = write_simulated_folder(folder)
    return folder, expected
