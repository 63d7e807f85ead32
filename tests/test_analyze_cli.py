import csv
import json
from pathlib import Path

import pytest

from emg.cli import main
from emg.io import write_bdf
from emg.simulate import simulate

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bdf(tmp_path_factory):
    rec, truth = simulate("clean", minutes=1.5, channels=2, seed=1007)
    path = tmp_path_factory.mktemp("in") / "night one.bdf"
    write_bdf(rec, path)
    return path


def test_analyze_writes_files_and_skips_a_bad_input(bdf, tmp_path, capsys):
    bad = tmp_path / "broken.bdf"
    bad.write_bytes(b"0       this is not a BDF header")
    out = tmp_path / "out"
    rc = main(["analyze", str(bad), str(bdf), str(tmp_path / "missing.edf"), "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 1
    errors = [line for line in captured.err.splitlines() if "error" in line]
    assert len(errors) == 2 and "broken.bdf" in errors[0] and "missing.edf" in errors[1]
    assert "Traceback" not in captured.err
    assert "night one.bdf" in captured.out
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"night one.{k}" for k in ("events.csv", "rates.csv", "segments.csv", "summary.json", "units.json")]
    with open(out / "night one.events.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and list(rows[0])[:10] == ["onset_s", "time", "channel", "label", "amplitude_uv", "duration_ms",
                                           "phases", "snr", "unit", "multiplicity"]
    assert {r["label"] for r in rows} <= {"fasciculation", "ecg", "artifact"}
    onsets = [float(r["onset_s"]) for r in rows]
    assert onsets == sorted(onsets)
    summary = json.loads((out / "night one.summary.json").read_text(encoding="utf-8"))
    assert summary["format"] == "bdf" and summary["fs"] == 1000.0 and summary["channels"] == ["EMG1", "EMG2"]
    assert summary["duration_s"] == pytest.approx(90.0)
    assert summary["mains_hz"] == 50.0
    assert summary["rate_per_hour"] == {"EMG1": None, "EMG2": None}  # 90 s < 5 min valid
    assert sum(summary["fasciculations"].values()) == sum(r["label"] == "fasciculation" for r in rows)


def test_analyze_all_good_exits_zero_and_real_recordings_are_mostly_excluded(tmp_path, capsys):
    plux = REPO / "datasets" / "plux" / "emg_bursts.h5"
    if not plux.exists():
        pytest.skip("datasets/plux not in this checkout")
    rc = main(["analyze", str(plux), "--out", str(tmp_path)])
    assert rc == 0
    summary = json.loads((tmp_path / "emg_bursts.summary.json").read_text(encoding="utf-8"))
    # cyclic biceps contractions: about half the time is excluded, not counted as fasciculations
    assert summary["valid_s"] < 0.7 * summary["duration_s"]
    assert sum(summary["fasciculations"].values()) <= 15
    with open(tmp_path / "emg_bursts.segments.csv", encoding="utf-8") as fh:
        labels = {r["label"] for r in csv.DictReader(fh)}
    assert labels <= {"voluntary", "cramp", "myokymia", "artifact", "noisy"} and labels


def test_bad_usage_exits_two(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["analyze", "x.bdf"])  # --out is required
    assert exc.value.code == 2
