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


def write_simulated_folder(folder: Path, *, stem: str = "calf", seed: int = 3) -> dict:
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
    segs = [
        (iv.start_s, iv.end_s, c, "artifact" if iv.label == "saturation" else iv.label)
        for iv in truth.intervals
        for c in ([iv.channel] if iv.channel is not None else range(len(names)))
    ]
    segs += [(gap[0], gap[1], c, "gap") for c in range(len(names))]
    ev = truth.events
    rows = []
    for e in ev:
        if e["kind"] == "fasciculation" and e["order"] != 1:
            continue  # a multiplet counts once
        inside = any(a <= e["time_s"] < b for a, b, c, _ in segs if c == e["channel"])
        if e["kind"] == "fasciculation" and inside:
            continue
        rows.append(
            (
                float(e["time_s"]),
                names[e["channel"]],
                str(e["kind"]),
                float(e["amplitude_uv"]),
                "" if e["unit"] < 0 else str(int(e["unit"])),
                int(e["multiplicity"]),
            )
        )
    for a, b, c, label in segs:  # one artefact event in the middle of each artefact stretch
        if label == "artifact":
            rows.append(((a + b) / 2, names[c], "artifact", 1500.0, "", 1))
    rows.sort()
    _write_csv(
        folder / f"{stem}.events.csv",
        (
            "onset_s",
            "time",
            "channel",
            "label",
            "amplitude_uv",
            "duration_ms",
            "phases",
            "snr",
            "unit",
            "multiplicity",
        ),
        [
            (f"{t:.4f}", _iso(START, t), ch, lab, f"{amp:.1f}", "9.50", 3, "12.00", unit, m)
            for t, ch, lab, amp, unit, m in rows
        ],
    )
    _write_csv(
        folder / f"{stem}.segments.csv",
        ("start_s", "end_s", "channel", "label"),
        [(f"{a:.3f}", f"{b:.3f}", names[c], lab) for a, b, c, lab in sorted(segs)],
    )
    duration = rec.duration_s
    first_hour = START.replace(minute=0, second=0, microsecond=0)
    expected = {
        "fasciculations": {},
        "valid_s": {},
        "units": {},
        "hours_with_rate": {},
        "bdf": bdf,
        "names": names,
    }
    rate_rows = []
    for name_i, name in enumerate(names):
        bad = [(a, b) for a, b, c, _ in segs if c == name_i]
        fasc = [t for t, ch, lab, *_ in rows if ch == name and lab == "fasciculation"]
        expected["fasciculations"][name] = len(fasc)
        expected["valid_s"][name] = duration - _union_in(bad, 0, duration)
        expected["units"][name] = sorted(
            {u for t, ch, lab, a, u, m in rows if ch == name and lab == "fasciculation"}
        )
        expected["hours_with_rate"][name] = 0
        h = first_hour
        while h < START + dt.timedelta(seconds=duration):
            lo = max(0.0, (h - START).total_seconds())
            hi = min(duration, (h - START).total_seconds() + 3600)
            valid = (hi - lo) - _union_in(bad, lo, hi)
            n = sum(lo <= t < hi for t in fasc)
            r = _poisson_ci(n, valid / 3600) if valid >= 300 else ("", "", "")
            expected["hours_with_rate"][name] += valid >= 300
            rate_rows.append(
                (
                    h.isoformat(),
                    name,
                    n,
                    f"{valid:.1f}",
                    *(f"{x:.2f}" if x != "" else "" for x in r),
                )
            )
            h += dt.timedelta(hours=1)
    _write_csv(
        folder / f"{stem}.rates.csv",
        (
            "hour_start",
            "channel",
            "fasciculations",
            "valid_s",
            "rate_per_hour",
            "ci_low",
            "ci_high",
        ),
        rate_rows,
    )
    summary = {
        "input": str(bdf),
        "format": "bdf",
        "fs": rec.fs,
        "channels": list(names),
        "start": START.isoformat(),
        "duration_s": duration,
        "valid_s": float(np.mean(list(expected["valid_s"].values()))),
        "mains_hz": 50.0,
        "noise_uv": {n: v for n, v in zip(names, (3.2, 14.5))},
        "counted_from_uv": {n: v for n, v in zip(names, (25.6, 116.0))},
        "fasciculations": expected["fasciculations"],
        "rate_per_hour": {
            n: expected["fasciculations"][n] / (expected["valid_s"][n] / 3600) for n in names
        },
        "packets_lost": 0,
        "software": {"name": "emg", "version": "test"},
    }
    (folder / f"{stem}.summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return expected


def write_units_json(path: Path, events_csv: Path, *, fs: float) -> None:
    """A ``units.json`` in the layout emg.outputs writes: one made-up template per unit in the events."""
    with open(events_csv, encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["label"] == "fasciculation" and r["unit"]]
    t = np.linspace(-1, 1, 41)
    channels: dict[str, list] = {}
    for ch, unit in sorted({(r["channel"], r["unit"]) for r in rows}):
        n = sum(r["channel"] == ch and r["unit"] == unit for r in rows)
        channels.setdefault(ch, []).append(
            {
                "unit": int(unit),
                "count": n,
                "amplitude_uv": 100.0,
                "waveform_uv": list(np.round(-100 * (int(unit) + 1) * t * np.exp(-8 * t**2), 2)),
            }
        )
    path.write_text(json.dumps({"fs": fs, "channels": channels}), encoding="utf-8")


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
    _write_csv(
        folder / "weeks.rates.csv",
        (
            "hour_start",
            "channel",
            "fasciculations",
            "valid_s",
            "rate_per_hour",
            "ci_low",
            "ci_high",
        ),
        rows,
    )
    _write_csv(
        folder / "weeks.events.csv",
        (
            "onset_s",
            "time",
            "channel",
            "label",
            "amplitude_uv",
            "duration_ms",
            "phases",
            "snr",
            "unit",
            "multiplicity",
        ),
        [],
    )
    _write_csv(folder / "weeks.segments.csv", ("start_s", "end_s", "channel", "label"), [])
    summary = {
        "input": "gone/weeks.bdf",
        "format": "bdf",
        "fs": 250.0,
        "channels": ["EMG1"],
        "start": start.isoformat(),
        "duration_s": hours * 3600.0,
        "valid_s": float(valid.sum()),
        "mains_hz": 50,
        "noise_uv": {"EMG1": 4.0},
        "fasciculations": {"EMG1": int(counts.sum())},
        "rate_per_hour": {"EMG1": None},
        "packets_lost": 12,
        "software": {"name": "emg", "version": "test"},
    }
    (folder / "weeks.summary.json").write_text(json.dumps(summary), encoding="utf-8")
    diary_path = folder.parent / "diary.csv"
    _write_csv(
        diary_path,
        ("start", "end", "factor", "value", "unit", "note"),
        [(t.isoformat(), "", f, v, "mg" if f == "caffeine" else "min", "") for t, f, v in diary],
    )
    return diary_path


@pytest.fixture(scope="module")
def sim_folder(tmp_path_factory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("analysed")
    expected = write_simulated_folder(folder)
    return folder, expected


@pytest.fixture(scope="module")
def weeks(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("weeks")
    diary = write_weeks_folder(root / "out")
    return root / "out", diary


@pytest.fixture(scope="module")
def sim_report(sim_folder) -> tuple[str, Path]:
    from emg.report import write_report

    folder, _ = sim_folder
    outcome = write_report(folder)
    assert outcome.path == folder / "report.html"
    assert outcome.errors == []
    return outcome.path.read_text(encoding="utf-8"), outcome.path


# ---------------------------------------------------------------------------------------------
# numbers
# ---------------------------------------------------------------------------------------------


def test_load_folder_reads_contract_files(sim_folder):
    from emg.report.load import load_folder

    folder, expected = sim_folder
    analyses, errors = load_folder(folder)
    assert errors == [] and [a.stem for a in analyses] == ["calf"]
    a = analyses[0]
    assert a.summary.channels == expected["names"]
    assert a.summary.start == START and a.summary.fs == 1000.0
    assert a.input_path() == expected["bdf"]
    fasc = a.events.label == "fasciculation"
    for name in expected["names"]:
        assert (
            int(np.count_nonzero(fasc & (a.events.channel == name)))
            == expected["fasciculations"][name]
        )
    assert len(a.rates) == 2 * len(expected["names"])  # two clock hours per channel
    assert a.units is None


def test_load_folder_errors_name_the_file(tmp_path):
    from emg.report.load import load_folder

    with pytest.raises(InputError, match="not a folder"):
        load_folder(tmp_path / "missing")
    with pytest.raises(InputError, match=r"holds no analysis outputs \(no \*\.summary\.json\)"):
        load_folder(tmp_path)
    write_simulated_folder(tmp_path / "ok", stem="a")
    for name in ("b.summary.json", "b.events.csv", "b.segments.csv", "b.rates.csv"):
        shutil.copy(tmp_path / "ok" / ("a" + name[1:]), tmp_path / "ok" / name)
    (tmp_path / "ok" / "b.rates.csv").write_text(
        "hour_start,channel\n2026-01-01T00:00:00+00:00,EMG1\n"
    )
    analyses, errors = load_folder(tmp_path / "ok")
    assert [a.stem for a in analyses] == ["a"]
    assert len(errors) == 1
    assert str(errors[0]).startswith(
        str(tmp_path / "ok" / "b.rates.csv") + ": missing column(s) fasciculations"
    )
    (tmp_path / "ok" / "b.rates.csv").write_text(
        "hour_start,channel,fasciculations,valid_s,rate_per_hour\n2026-01-01T00:00:00+00:00,EMG1,x,1,\n"
    )
    _, errors = load_folder(tmp_path / "ok")
    assert "line 2: column 'fasciculations' must be a number, got 'x'" in str(errors[0])
    (tmp_path / "ok" / "b.rates.csv").write_text(
        "hour_start,channel,fasciculations,valid_s,rate_per_hour\n2026-01-01T00:00:00,EMG1,1,1,\n"
    )
    _, errors = load_folder(tmp_path / "ok")
    assert "must carry a UTC offset" in str(errors[0])


def test_channel_rates_and_quality(sim_folder):
    from emg.report.load import load_folder
    from emg.report.summarize import channel_quality, channel_rates

    folder, expected = sim_folder
    a = load_folder(folder)[0][0]
    for r in channel_rates(a.rates, a.summary.channels):
        assert r.fasciculations == expected["fasciculations"][r.channel]
        assert r.valid_s == pytest.approx(
            expected["valid_s"][r.channel], abs=0.2
        )  # CSV keeps 0.1 s
        e = _poisson_ci(r.fasciculations, r.valid_s / 3600)
        assert (r.rate_per_hour, r.ci_low, r.ci_high) == pytest.approx(e, rel=1e-9)
        assert r.hours == 2  # the recording crosses a clock hour
        assert r.hours_with_rate == expected["hours_with_rate"][r.channel] >= 1
    q = {c.channel: c for c in channel_quality(a)}
    assert [q[n].noisy for n in expected["names"]] == [False, True]  # 3.2 and 14.5 µV
    assert [q[n].counted_from_uv for n in expected["names"]] == [25.6, 116.0]
    for c in q.values():
        assert (c.gaps, c.gap_s) == (1, pytest.approx(8.0))
        assert c.recorded_s == pytest.approx(MINUTES * 60)
        assert c.valid_fraction == pytest.approx(
            expected["valid_s"][c.channel] / (MINUTES * 60), abs=1e-3
        )


def test_union_length_counts_overlaps_once():
    from emg.report.summarize import union_length_s

    assert union_length_s(np.array([0.0, 1.0, 5.0]), np.array([2.0, 3.0, 6.0])) == pytest.approx(
        4.0
    )
    assert union_length_s(np.array([]), np.array([])) == 0.0


def test_unit_rows_count_each_unit(sim_folder):
    from emg.report.load import load_folder
    from emg.report.summarize import unit_rows

    folder, expected = sim_folder
    a = load_folder(folder)[0][0]
    rows = unit_rows([a])
    for name in expected["names"]:
        mine = [r for r in rows if r.channel == name]
        assert [r.unit for r in mine] == sorted(expected["units"][name], key=int)
        assert sum(r.count for r in mine) == expected["fasciculations"][name]
        for r in mine:
            assert r.rate_per_hour == pytest.approx(r.count / (a.valid_s(name) / 3600))


def test_pick_examples_spread_over_amplitudes():
    from emg.report.summarize import pick_examples

    amp = np.arange(1.0, 101.0)
    label = np.array(["fasciculation"] * 100, dtype=object)
    label[::10] = "ecg"
    picks = pick_examples(amp, label, n_per_label=5)
    assert set(picks) == {"fasciculation", "ecg"}
    f = amp[picks["fasciculation"]]
    assert len(f) == 5 and np.all(np.diff(f) > 0)
    assert (
        f.min() > amp[label == "fasciculation"].min()
        and f.max() < amp[label == "fasciculation"].max()
    )
    assert (
        len(
            pick_examples(np.array([5.0, 7.0]), np.array(["artifact"] * 2, dtype=object))[
                "artifact"
            ]
        )
        == 2
    )


def test_cut_snippets_keep_peak_and_amplitude(tmp_path):
    from emg.io import write_bdf
    from emg.report.snippets import cut_snippets, open_source
    from emg.simulate import simulate

    rec, truth = simulate("clean", minutes=2, channels=1, seed=5, start=START)
    write_bdf(rec, tmp_path / "clean.bdf")
    ev = truth.events[truth.events["kind"] == "fasciculation"]
    t = ev["time_s"]
    isolated = np.array([np.all(np.abs(np.delete(t, i) - t[i]) > 0.05) for i in range(len(t))])
    ev = ev[isolated]
    assert len(ev) >= 5
    sn = cut_snippets(
        open_source(tmp_path / "clean.bdf"),
        ev["time_s"],
        ["EMG1"] * len(ev),
        mains_hz=truth.mains_hz,
    )
    assert sn.waveforms_uv.shape == (len(ev), 51) and sn.pre == 25
    # band-pass 20-450 Hz keeps most of a MUAP: 80-105 % of the planted peak-to-peak
    ratio = np.ptp(sn.waveforms_uv, axis=1) / ev["amplitude_uv"]
    assert np.all((ratio > 0.8) & (ratio < 1.05)), ratio
    # the largest deflection stays near time 0 (a high-pass can make a neighbouring phase larger)
    assert np.all(np.abs(np.argmax(np.abs(sn.waveforms_uv), axis=1) - sn.pre) <= 8)
    with pytest.raises(
        ValueError, match="Invalid value for 'channel': allowed are 'EMG1', got 'EMG9'"
    ):
        cut_snippets(open_source(tmp_path / "clean.bdf"), [1.0], ["EMG9"])


# ---------------------------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------------------------


def _is_png(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return width, height


def test_rate_plot_draws_each_hour(sim_folder):
    from matplotlib.figure import Figure

    from emg.report.load import load_folder
    from emg.report.plots import rate_plot, to_png

    folder, expected = sim_folder
    a = load_folder(folder)[0][0]
    fig = rate_plot(a.rates, a.summary.channels)
    assert isinstance(fig, Figure)
    axes = fig.get_axes()
    assert len(axes) == len(expected["names"]) + 1
    for ax, name in zip(axes, expected["names"]):
        m = (a.rates.channel == name) & np.isfinite(a.rates.rate_per_hour)
        drawn = [line for line in ax.get_lines() if line.get_marker() == "o"]
        assert len(drawn) == 1
        assert np.allclose(drawn[0].get_ydata(), a.rates.rate_per_hour[m])
    bars = [p.get_height() for p in axes[-1].patches]
    assert sorted(bars) == pytest.approx(sorted(a.rates.valid_s / 60.0))
    w, h = _is_png(to_png(fig))
    assert w > 800 and h > 300


def test_forest_plot_greys_out_insufficient_factors():
    from emg.report.plots import forest_plot, to_png

    fig = forest_plot(
        ["caffeine", "sleep", "cold"],
        [1.3, 0.9, math.nan],
        [1.1, 0.7, math.nan],
        [1.6, 1.2, math.nan],
        ["associated", "no evidence", "insufficient data"],
        ["per 100 mg", "per hour short", ""],
    )
    ax = fig.get_axes()[0]
    assert ax.get_xscale() == "log"
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["caffeine\nper 100 mg", "sleep\nper hour short"]
    assert any("Insufficient data (no estimate): cold" in t.get_text() for t in fig.texts)
    lo, hi = ax.get_xlim()
    assert (
        lo < 0.7 and hi > 1.6 and lo * hi == pytest.approx(1.0)
    )  # symmetric around 1 on the log axis
    # names are drawn as plain text: a "$" (from a file or factor name) is not mathtext
    _is_png(to_png(forest_plot(["x$_$"], [1.2], [1.0], [1.5], ["associated"], ["cost $^$"])))
    empty = forest_plot(["cold"], [math.nan], [math.nan], [math.nan], ["insufficient data"])
    assert "No factor has enough" in empty.get_axes()[0].texts[0].get_text()


def test_acf_plot_band_is_white_noise_limit():
    from emg.report.plots import acf_plot

    fig = acf_plot(np.arange(1, 25), np.linspace(0.3, 0.0, 24), n_hours=400)
    ax = fig.get_axes()[0]
    band = ax.patches[0]
    assert band.get_y() == pytest.approx(-1.96 / 20.0, rel=1e-6)
    assert band.get_y() + band.get_height() == pytest.approx(1.96 / 20.0, rel=1e-6)
    stems = ax.collections[0].get_segments()
    assert [s[1][1] for s in stems] == pytest.approx(np.linspace(0.3, 0.0, 24)[: len(stems)])


def test_trigger_figures_from_a_real_trigger_result(weeks, tmp_path):
    from emg.report.plots import save_trigger_plots
    from emg.report.triggers_section import run_triggers

    folder, diary = weeks
    result = run_triggers([folder / "weeks.rates.csv"], diary)
    assert {f.factor for f in result.factors} == {"caffeine", "strength_training"}
    paths = save_trigger_plots(result, tmp_path / "plots")
    assert [p.name for p in paths] == [
        "triggers_forest.png",
        "triggers_fitted.png",
        "triggers_sensitivity.png",
        "triggers_acf.png",
    ]
    for p in paths:
        w, h = _is_png(p.read_bytes())
        assert w > 500 and h > 200


def test_importing_the_report_does_not_load_matplotlib():
    code = "import sys, emg.report, emg.report.plots; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------------------------------------
# the page
# ---------------------------------------------------------------------------------------------


def _images(page: str) -> list[str]:
    return re.findall(r"<img\b[^>]*>", page)


def _assert_self_contained(page: str) -> int:
    """Every image embedded as PNG, no external resource of any kind; returns the image count."""
    imgs = _images(page)
    for tag in imgs:
        m = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', tag)
        assert m, tag[:80]
        _is_png(base64.b64decode(m.group(1)))
        assert re.search(r'alt="[^"]{20,}"', tag), "every image needs a real alt text"
    for attr in re.findall(r'\b(?:src|href|action|poster)\s*=\s*"([^"]*)"', page):
        assert attr.startswith(("data:image/png;base64,", "#")), attr[:80]
    assert not re.search(r"url\(|@import|<link\b|<iframe\b|<script\b[^>]*\bsrc=", page)
    return len(imgs)


def test_report_page_shows_the_analysis(sim_folder, sim_report):
    page, _ = sim_report
    _, expected = sim_folder
    n_images = _assert_self_contained(page)
    assert n_images == 4  # rate, timeline, waveform gallery, unit templates
    for anchor in ("rate", "quality", "waveforms", "units", "doctor-title"):
        assert f'id="{anchor}"' in page
    for name in expected["names"]:
        n = expected["fasciculations"][name]
        rate, lo, hi = _poisson_ci(n, round(expected["valid_s"][name], 1) / 3600)
        d = 1 if rate < 100 else 0  # one decimal below 100 per hour
        assert f"{rate:.{d}f} <small>per hour</small>" in page.replace("\u202f", "")
        assert f"95 % interval {lo:.{d}f} to {hi:.{d}f}" in page.replace("\u202f", "")
        from emg.report.html import fmt_duration

        assert (
            f"{n} fasciculations in {fmt_duration(round(expected['valid_s'][name], 1))} of valid rest"
            in page
        )
    assert "14.5 ⚠" in page and "3.2 ⚠" not in page  # the noisy channel is flagged
    assert "Counted from (µV p-p)" in page and "<td class=num>116</td>" in page
    assert (
        "See a doctor when" in page and "more than two weeks" in page and "muscle wasting" in page
    )
    assert "spreads to more places" in page and "not a diagnosis" in page
    assert not re.search(r"\bALS\b|risk", page)
    assert 'id="triggers"' not in page  # no diary given


def test_report_degrades_without_the_recording(sim_folder, tmp_path):
    from emg.report import write_report

    folder, _ = sim_folder
    for p in folder.glob("calf.*"):
        if p.suffix != ".bdf":
            shutil.copy(p, tmp_path / p.name)
    summary = json.loads((tmp_path / "calf.summary.json").read_text())
    summary["input"] = "/nowhere/calf.bdf"
    (tmp_path / "calf.summary.json").write_text(json.dumps(summary))
    outcome = write_report(tmp_path, output=tmp_path / "r.html")
    page = outcome.path.read_text(encoding="utf-8")
    assert outcome.errors == []
    assert (
        "the recording &#x27;/nowhere/calf.bdf&#x27; was not found, so its waveforms are not shown"
        in page
    )
    assert "neither unit templates (units.json) nor the recording are available" in page
    assert _assert_self_contained(page) == 2  # rate and timeline only
    # unit templates written by the analysis are used without the recording
    write_units_json(tmp_path / "calf.units.json", folder / "calf.events.csv", fs=1000.0)
    page = write_report(tmp_path, output=tmp_path / "r.html").path.read_text(encoding="utf-8")
    assert _assert_self_contained(page) == 3
    assert "Typical waveform of each putative motor unit" in page
    assert "neither unit templates" not in page


def test_report_with_too_little_rest_shows_counts_not_rates(sim_folder, tmp_path):
    from emg.report import write_report

    folder, expected = sim_folder
    for p in folder.glob("calf.*"):
        if p.suffix in (".csv", ".json"):
            shutil.copy(p, tmp_path / p.name)
    with open(folder / "calf.rates.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:  # as after a 2-minute recording: under 5 min of rest, so no rate anywhere
        row.update(valid_s="100.0", rate_per_hour="", ci_low="", ci_high="")
    _write_csv(tmp_path / "calf.rates.csv", list(rows[0]), [list(r.values()) for r in rows])
    page = write_report(tmp_path).path.read_text(encoding="utf-8")
    assert "no hourly rate to plot" in page
    assert "<small>per hour</small>" not in page
    n = expected["fasciculations"]["EMG1"]
    assert f"{n} <small>fasciculations</small>" in page
    assert "in 3 min of valid rest: too little for a rate" in page  # two hours of 100 s
    assert _assert_self_contained(page) == 4 - 1  # no rate figure; timeline, gallery, units stay


def test_report_with_diary_adds_the_trigger_section(weeks, tmp_path):
    from emg.report import write_report

    folder, diary = weeks
    outcome = write_report(folder, diary=diary, output=tmp_path / "r.html")
    page = outcome.path.read_text(encoding="utf-8")
    assert outcome.errors == []
    assert _assert_self_contained(page) == 2 + 4  # rate, timeline + four trigger figures
    assert 'id="triggers"' in page and "caffeine" in page and "strength_training" in page
    assert "Not logged in the diary" in page and "sleep" in page
    assert "Sampled at 250 Hz" in page  # the low-rate warning
    assert re.search(r'<span class="tag (no-evidence|associated)">', page)


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------


def test_cli_report(weeks, tmp_path, capsys):
    from emg.cli import main

    wfolder, _ = weeks
    folder = tmp_path / "out"
    shutil.copytree(wfolder, folder)
    assert main(["report", str(folder)]) == 0
    out = capsys.readouterr()
    assert out.out.strip() == f"wrote {folder / 'report.html'} (1 recording)" and out.err == ""
    assert (folder / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert not list(folder.glob("*.part"))

    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", str(empty)]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"emg report: error: {empty}: holds no analysis outputs (no *.summary.json); "
        "run 'emg analyze INPUT --out DIR' first\n"
    )

    bad_diary = tmp_path / "diary.csv"
    bad_diary.write_text("start,factor,value,unit\nnot-a-time,caffeine,100,mg\n")
    assert (
        main(["report", str(folder), "--diary", str(bad_diary), "-o", str(tmp_path / "y.html")])
        == 1
    )
    captured = capsys.readouterr()
    err = captured.err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"emg report: error: {bad_diary}: line 2")
    assert (
        captured.out.strip() == f"wrote {tmp_path / 'y.html'} (1 recording)"
    )  # the rest was still done
    page = (tmp_path / "y.html").read_text(encoding="utf-8")
    assert "The trigger analysis could not be run" in page


# ---------------------------------------------------------------------------------------------
# a real browser
# ---------------------------------------------------------------------------------------------

_CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, *_CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif(
    CHROMIUM is None, reason="needs Debian's chromium (installed by .ci/run: APT_PACKAGES)"
)
def test_report_in_headless_chromium(sim_report, tmp_path):
    page, path = sim_report
    n_images = len(_images(page))
    url = path.resolve().as_uri()
    dom = _chromium(["--virtual-time-budget=10000", "--dump-dom", url], tmp_path / "profile")
    assert dom.returncode == 0, dom.stderr[-2000:]
    m = re.search(r'<html[^>]*\bdata-images-loaded="(\d+)"', dom.stdout)
    assert m, "the page's load check did not run: " + dom.stdout[:300]
    assert int(m.group(1)) == n_images == 4
    assert re.search(r'<html[^>]*\bdata-images-broken="0"', dom.stdout)
    # the check does fail: a page with one good and one corrupt image reports the corrupt one
    from emg.report import html as H
    from emg.report.plots import forest_plot, to_png

    good = H.img(to_png(forest_plot(["a"], [1.2], [1.0], [1.5], ["associated"])), "a good image")
    bad = good.replace("base64,", "base64,AAAA", 1)
    broken = tmp_path / "broken.html"
    broken.write_text(H.page("t", "<h1>t</h1>", [good, bad], ""), encoding="utf-8")
    dom = _chromium(
        ["--virtual-time-budget=10000", "--dump-dom", broken.as_uri()], tmp_path / "profile"
    )
    assert re.search(r'<html[^>]*\bdata-images-broken="1"', dom.stdout)
    assert re.search(r'<html[^>]*\bdata-images-loaded="1"', dom.stdout)


def _screenshot_checks(shot: Path) -> None:
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert img.shape == (4000, 1280)
    content = img[:, 100:1180]  # inside the page column
    assert content.std() > 20  # not a blank page
    dark = content < 128  # text and plot lines
    assert np.count_nonzero(dark.any(axis=1)) > 1500  # text and figures down most of the page


@pytest.mark.skipif(
    CHROMIUM is None, reason="needs Debian's chromium (installed by .ci/run: APT_PACKAGES)"
)
def test_end_to_end_simulate_analyze_report_in_chromium(tmp_path, capsys):
    """emg simulate -> emg analyze -> emg report -> the page in a real browser, every image loaded."""
    from emg.cli import main
    from emg.report.load import load_folder
    from emg.report.summarize import channel_rates

    bdf = tmp_path / "sim.bdf"
    assert (
        main(
            [
                "simulate",
                str(bdf),
                "--minutes",
                "6",
                "--channels",
                "2",
                "--seed",
                "11",
                "--scenario",
                "mixed",
            ]
        )
        == 0
    )
    assert main(["analyze", str(bdf), "--out", str(tmp_path / "out")]) == 0
    assert main(["report", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    path = tmp_path / "out" / "report.html"
    page = path.read_text(encoding="utf-8")
    analysis = load_folder(tmp_path / "out")[0][0]
    n_images = _assert_self_contained(page)
    ev = analysis.events
    has_rate = bool(np.any(np.isfinite(analysis.rates.rate_per_hour)))
    has_units = bool(np.any((ev.label == "fasciculation") & (ev.unit != "")))
    assert len(ev) > 0
    # rate plot (if an hour has a rate), timeline, waveform gallery, unit templates (if units)
    assert n_images == has_rate + 1 + 1 + has_units
    # the headline agrees with what emg analyze wrote in summary.json
    for r in channel_rates(analysis.rates, analysis.summary.channels):
        assert r.fasciculations == analysis.summary.fasciculations[r.channel]
        expected = analysis.summary.rate_per_hour[r.channel]
        if expected is None:
            assert math.isnan(r.rate_per_hour)
        else:
            assert r.rate_per_hour == pytest.approx(expected, abs=0.01 + 0.002 * expected)
    assert "was not found" not in page  # the recording was found and cut for waveforms

    url = path.resolve().as_uri()
    dom = _chromium(["--virtual-time-budget=10000", "--dump-dom", url], tmp_path / "profile")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert re.search(rf'<html[^>]*\bdata-images-loaded="{n_images}"', dom.stdout)
    assert re.search(r'<html[^>]*\bdata-images-broken="0"', dom.stdout)
    shot = tmp_path / "report.png"
    run = _chromium(
        [f"--screenshot={shot}", "--window-size=1280,4000", "--hide-scrollbars", url],
        tmp_path / "profile",
    )
    assert run.returncode == 0 and shot.is_file(), run.stderr[-2000:]
    _screenshot_checks(shot)
