"""The simulator: seeded, the truth matches what is in the signal, the CLI writes both files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emg.simulate import SCENARIOS, Truth, simulate
from emg.simulate.core import RAIL_UV
from emg.simulate.shapes import Renderer, muap_shape


def test_scenarios_listed_with_descriptions():
    for name in ("clean", "cyton-250", "mains-60", "chest-ecg", "voluntary", "motion", "low-snr", "quiet",
                 "mixed", "cramp", "myokymia"):
        assert isinstance(SCENARIOS[name], str) and len(SCENARIOS[name]) > 10


def test_same_seed_same_output_other_seed_differs():
    a, ta = simulate("mixed", minutes=0.5, channels=2, seed=7)
    b, tb = simulate("mixed", minutes=0.5, channels=2, seed=7)
    c, _ = simulate("mixed", minutes=0.5, channels=2, seed=8)
    assert np.array_equal(a.data, b.data)
    assert np.array_equal(ta.events, tb.events)
    assert not np.array_equal(a.data, c.data)


def test_shape_rate_names_and_default_rates():
    rec, truth = simulate("clean", minutes=0.25, channels=3, seed=0)
    assert rec.data.shape == (3, 15000) and rec.data.dtype == np.float32
    assert rec.fs == 1000.0 and rec.channel_names == ("EMG1", "EMG2", "EMG3")
    assert truth.duration_s == pytest.approx(15.0)
    rec250, _ = simulate("cyton-250", minutes=0.1, seed=0)
    assert rec250.fs == 250.0
    rec2k, _ = simulate("cyton-250", minutes=0.1, fs=2000.0, seed=0)
    assert rec2k.fs == 2000.0


def test_invalid_arguments_name_the_parameter():
    with pytest.raises(ValueError, match="Invalid value for 'scenario': allowed are 'clean'.*got 'clen'"):
        simulate("clen")
    with pytest.raises(ValueError, match="Invalid value for 'minutes'"):
        simulate("clean", minutes=-1)
    with pytest.raises(ValueError, match="Invalid value for 'fs'"):
        simulate("clean", fs=50)


def test_fasciculation_count_and_rate_match_scenario():
    # 8 discharges (groups) per minute per channel, Poisson: 4 ch x 5 min -> 160 expected
    _, truth = simulate("clean", minutes=5, channels=4, seed=3)
    groups = sum(len(truth.fasciculation_times(c, first_only=True)) for c in range(4))
    assert 160 - 4 * np.sqrt(160) < groups < 160 + 4 * np.sqrt(160)
    assert truth.rate_per_hour(0) == pytest.approx(len(truth.fasciculation_times(0, first_only=True)) * 12, rel=1e-9)
    # doublets share a group, have order 1 and 2 and intervals of 10-110 ms
    ev = truth.events_of("fasciculation")
    for g in np.unique(ev["group"][ev["multiplicity"] > 1]):
        rows = ev[ev["group"] == g]
        assert sorted(rows["order"]) == list(range(1, len(rows) + 1))
        gaps = np.diff(np.sort(rows["time_s"]))
        assert np.all((gaps > 0.009) & (gaps < 0.112))


def test_truth_times_and_amplitudes_are_in_the_signal():
    # quiet background: each planted potential's largest deflection sits at its truth time
    rec, truth = simulate("clean", minutes=1, channels=1, seed=11, fs=2000.0)
    x = rec.data[0].astype(float)
    for row in truth.events_of("fasciculation", 0)[:20]:
        i = int(round(row["time_s"] * rec.fs))
        win = x[i - 40 : i + 41] - np.median(x[i - 200 : i + 200])
        if row["amplitude_uv"] > 150:
            # largest |deflection| within 1 ms of the truth time, p-p within 25 % (noise, mains, overlap)
            assert abs(int(np.argmax(np.abs(win))) - 40) <= 2
            assert win.max() - win.min() == pytest.approx(row["amplitude_uv"], rel=0.25)


def test_muap_shapes_have_zero_area_and_requested_phases():
    rng = np.random.default_rng(0)
    for phases in (2, 3, 4):
        x = muap_shape(rng, 8000.0, 12.0, phases)
        assert x.max() - x.min() == pytest.approx(1.0)
        assert abs(x.sum()) / 8000.0 < 1e-9
        signs = np.sign(x[np.abs(x) > 0.1 * np.abs(x).max()])
        assert 1 + np.count_nonzero(np.diff(signs)) >= phases - 1


def test_anti_alias_filter_keeps_band_and_stops_above_nyquist():
    r = Renderer(250.0)
    assert r.fs_hi >= 8000.0 and r.decimation >= 4
    assert r.gain(50.0) == pytest.approx(1.0, abs=0.01)
    assert r.gain(180.0) < 0.01  # the 3rd harmonic of 60 Hz would alias to 70 Hz
    # 60 Hz mains with a strong 3rd harmonic at 250 Hz: a clear 60 Hz line, no alias at 70 Hz
    rec, _ = simulate("mains-60", minutes=0.5, fs=250.0, seed=2)
    x = rec.data[0] - rec.data[0].mean()
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    f = np.fft.rfftfreq(len(x), 1 / 250.0)
    floor = np.median(spec[(f > 72) & (f < 90)])
    assert spec[np.abs(f - 60.0) < 0.3].max() > 1000 * floor
    assert spec[np.abs(f - 70.0) < 0.3].max() < 30 * floor


def test_confounder_intervals_and_saturation():
    rec, truth = simulate("motion", minutes=5, channels=2, seed=4)
    labels = {iv.label for iv in truth.intervals}
    assert {"artifact", "saturation"} <= labels
    sat = [iv for iv in truth.intervals if iv.label == "saturation"][0]
    ch = 0 if sat.channel is None else sat.channel
    mid = int((sat.start_s + sat.end_s) / 2 * rec.fs)
    assert abs(rec.data[ch, mid]) == pytest.approx(RAIL_UV)
    # no fasciculation is planted inside an interval of its channel
    for c in range(2):
        t = truth.fasciculation_times(c)
        for iv in truth.intervals_on(c):
            assert not np.any((t >= iv.start_s) & (t <= iv.end_s))
    _, tv = simulate("voluntary", minutes=5, channels=1, seed=1)
    assert any(iv.label == "voluntary" for iv in tv.intervals)
    assert tv.valid_s(0) < tv.duration_s


def test_ecg_on_every_channel_at_the_same_beats():
    _, truth = simulate("chest-ecg", minutes=1, channels=3, seed=5)
    beats = [truth.events_of("ecg", c)["time_s"] for c in range(3)]
    assert len(beats[0]) > 40  # >= 50 bpm
    assert np.allclose(beats[0], beats[1], atol=0.002) and np.allclose(beats[0], beats[2], atol=0.002)
    assert np.all(truth.events_of("ecg", 0)["amplitude_uv"] > 250)


def test_truth_json_round_trip(tmp_path):
    _, truth = simulate("mixed", minutes=1, channels=2, seed=9)
    path = tmp_path / "t.truth.json"
    truth.to_json(path)
    back = Truth.from_json(path)
    assert back.scenario == "mixed" and back.n_channels == 2 and back.fs == truth.fs
    assert np.allclose(back.events["time_s"], truth.events["time_s"], atol=1e-6)
    assert list(back.events["kind"]) == list(truth.events["kind"])
    assert back.intervals == truth.intervals
    assert json.loads(path.read_text())["events"]["kind"][0] in ("fasciculation", "ecg")


def test_cli_simulate_writes_bdf_and_truth(tmp_path, capsys):
    from emg.cli import main
    from emg.io import read

    out = tmp_path / "sim.bdf"
    assert main(["simulate", str(out), "--minutes", "0.2", "--channels", "2", "--seed", "3"]) == 0
    rec = read(out)
    assert rec.n_channels == 2 and rec.fs == 1000.0 and rec.n_samples == 12000
    truth = Truth.from_json(tmp_path / "sim.truth.json")
    mem, _ = simulate("clean", minutes=0.2, channels=2, seed=3)
    assert np.allclose(rec.data, mem.data, atol=0.05)  # 24-bit BDF resolution
    assert truth.n_channels == 2
    assert main(["simulate", str(out), "--scenario", "nope"]) == 2
    assert "Invalid value for 'scenario'" in capsys.readouterr().err


def test_very_short_recordings_work():
    rec, truth = simulate("mixed", minutes=0.005, channels=2, seed=1)  # 0.3 s
    assert rec.n_samples == 300 and len(truth.events_of("fasciculation")) == 0
