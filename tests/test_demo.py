import csv
import json

from emg.cli import main


def test_demo_streams_through_the_serial_reader_and_writes_the_analyze_files(tmp_path, capsys):
    out = tmp_path / "demo-out"
    rc = main(["demo", "--seconds", "6", "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    lines = captured.out.splitlines()
    assert any("packets lost 0" in line for line in lines)
    rows = [line for line in lines if line.startswith("EXG")]
    assert len(rows) == 8  # one line per Cyton channel
    assert all("n/a (needs 5 min valid rest)" in r for r in rows)  # honest: 6 s is no rate
    assert "note: Sample rate 250 Hz" in captured.out
    summary = json.loads((out / "demo.summary.json").read_text(encoding="utf-8"))
    assert summary["fs"] == 250.0 and summary["packets_lost"] == 0
    assert 5.5 <= summary["duration_s"] <= 6.5
    assert summary["mains_hz"] in (50.0, 60.0)
    assert all(1.0 < v < 20.0 for v in summary["noise_uv"].values())  # simulated rest noise, µV
    # the smallest potential counted: the classifier's SNR floor (8) times the channel's noise
    for name, v in summary["counted_from_uv"].items():
        assert abs(v - 8 * summary["noise_uv"][name]) <= 0.2
    with open(out / "demo.events.csv", encoding="utf-8") as fh:
        events = list(csv.DictReader(fh))
    assert sum(summary["fasciculations"].values()) == sum(e["label"] == "fasciculation" for e in events)
    for name in ("segments.csv", "rates.csv", "units.json"):
        assert (out / f"demo.{name}").exists()


def test_demo_rejects_non_positive_seconds(tmp_path, capsys):
    assert main(["demo", "--seconds", "0", "--out", str(tmp_path)]) == 2
    assert "Invalid value for '--seconds'" in capsys.readouterr().err


def test_demo_board_myoware_streams_the_emulated_bridge(tmp_path, capsys):
    out = tmp_path / "demo-myo"
    rc = main(["demo", "--board", "myoware", "--seconds", "5", "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "emulated myoware sensor" in captured.out
    rows = [line for line in captured.out.splitlines() if line.startswith("A")]
    assert [r.split()[0] for r in rows] == ["A0", "A1", "A2", "A3"]  # the bridge's 4 inputs
    summary = json.loads((out / "demo.summary.json").read_text(encoding="utf-8"))
    assert summary["fs"] == 1000.0 and summary["packets_lost"] == 0
    assert 4.5 <= summary["duration_s"] <= 5.5
    # 24.4 µV ADC steps with 0.5 count of ADC noise read as ~10 µV in the detection band
    assert all(5.0 < v < 20.0 for v in summary["noise_uv"].values())
    # a handful of planted potentials in 4 x 5 s, not a stream of quantisation events
    assert sum(summary["fasciculations"].values()) <= 12


def test_demo_rejects_an_unknown_board(tmp_path, capsys):
    import pytest

    with pytest.raises(SystemExit) as exc:
        main(["demo", "--board", "cyto", "--out", str(tmp_path)])
    assert exc.value.code == 2
    assert "invalid choice: 'cyto'" in capsys.readouterr().err
