"""``emg triggers`` end to end: CONTRACT files, sentences, exit codes and one-line errors."""

from __future__ import annotations

import csv
import filecmp
import json
import subprocess
import sys
from pathlib import Path

import pytest

from emg.cli import main
from emg.triggers.synth import simulate_weeks, write_diary_csv, write_rates_csv

DATA = Path(__file__).resolve().parents[1] / "datasets" / "synthetic_six_weeks"
COLUMNS = ["factor", "contrast", "rate_ratio", "ci_low", "ci_high", "p_value", "q_value",
           "exposed_days", "unexposed_days", "verdict"]


@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    out = tmp_path_factory.mktemp("triggers")
    code = main(["triggers", "--rates", str(DATA / "left_calf.rates.csv"),
                 "--diary", str(DATA / "diary.csv"), "--out", str(out)])
    return code, out


@pytest.fixture()
def small(tmp_path):
    sim = simulate_weeks(3, weeks=3, caffeine_rr=1.5)
    rates, diary = tmp_path / "a.rates.csv", tmp_path / "diary.csv"
    write_rates_csv(rates, sim.hours)
    write_diary_csv(diary, sim.diary_rows)
    return rates, diary


def test_bundled_dataset_contract_files(bundled, capsys):
    code, out = bundled
    assert code == 0
    with open(out / "triggers.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == COLUMNS
    table = {r[0]: dict(zip(COLUMNS, r)) for r in rows[1:]}
    assert list(table) == ["caffeine", "strength_training", "sleep", "stress", "magnesium",
                           "sitting", "alcohol"]  # fluid, cold, meal never logged: no rows
    truth = json.loads((DATA / "truth.json").read_text())["rate_ratio"]
    for name, row in table.items():
        assert row["verdict"] in ("associated", "no evidence", "insufficient data")
        lo, rr, hi = float(row["ci_low"]), float(row["rate_ratio"]), float(row["ci_high"])
        assert lo < rr < hi
        assert int(row["exposed_days"]) + int(row["unexposed_days"]) == 40
    # the planted effects are found; their intervals hold the truth; no null factor is flagged
    for name in ("caffeine", "strength_training"):
        row = table[name]
        assert row["verdict"] == "associated"
        assert float(row["ci_low"]) < truth[name] < float(row["ci_high"])
    assert all(table[f]["verdict"] == "no evidence" for f in ("sleep", "stress", "magnesium",
                                                                "sitting", "alcohol"))
    assert table["caffeine"]["contrast"] == "per 100 mg of caffeine load (half-life 5 h)"


def test_bundled_dataset_text_sensitivity_and_plots(bundled):
    _, out = bundled
    text = (out / "triggers.txt").read_text(encoding="utf-8")
    assert "Hours with more caffeine load had 32 % more fasciculations (95 % CI 8 to 60 % more" in text
    assert "not proof that caffeine causes it" in text
    assert "Not logged (unknown, not zero): fluid, cold, meal." in text
    assert "not a diagnosis" in text and "risk" not in text.lower()
    with open(out / "triggers_sensitivity.csv", newline="") as fh:
        sens = list(csv.DictReader(fh))
    caf = [(r["value"], r["is_default"]) for r in sens if r["factor"] == "caffeine"]
    assert caf == [("3", "false"), ("5", "true"), ("7", "false")]
    train = [r["value"] for r in sens if r["factor"] == "strength_training"]
    assert train == ["24", "48", "72"]
    try:
        import emg.report.plots  # noqa: F401 - the report helper's plotting module
    except ImportError:
        pytest.skip("emg.report.plots not available")
    for key in ("forest", "fitted", "sensitivity", "acf"):
        png = out / f"triggers_{key}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bundled_dataset_is_reproducible(tmp_path):
    subprocess.run([sys.executable, str(DATA / "make_dataset.py"), str(tmp_path)], check=True)
    for name in ("left_calf.rates.csv", "diary.csv", "truth.json"):
        assert filecmp.cmp(tmp_path / name, DATA / name, shallow=False), name


def test_bad_unit_is_one_line_with_file_and_line(tmp_path, capsys, small):
    rates, _ = small
    diary = tmp_path / "bad.csv"
    diary.write_text("start,end,factor,value,unit,note\n"
                     "2026-03-02T08:00+01:00,,caffeine,2,cups,\n")
    assert main(["triggers", "--rates", str(rates), "--diary", str(diary),
                 "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert err == (f"emg triggers: error: {diary}: line 2: unknown unit 'cups' for 'caffeine': "
                   "allowed are 'mg', 'g', 'mcg', 'ug', 'µg', 'μg', 'mg/kg'\n")


def test_mg_per_kg_needs_body_mass(tmp_path, capsys, small):
    rates, diary = small
    text = diary.read_text().replace(",caffeine,95,mg,", ",caffeine,1.5,mg/kg,", 1)
    assert text != diary.read_text()
    diary.write_text(text)
    assert main(["triggers", "--rates", str(rates), "--diary", str(diary),
                 "--out", str(tmp_path / "o")]) == 1
    assert "needs the body mass (--body-mass-kg)" in capsys.readouterr().err
    assert main(["triggers", "--rates", str(rates), "--diary", str(diary), "--out",
                 str(tmp_path / "o"), "--body-mass-kg", "63"]) == 0


def test_a_bad_rates_file_is_reported_and_the_rest_still_runs(tmp_path, capsys, small):
    rates, diary = small
    broken = tmp_path / "b.rates.csv"
    broken.write_text("hour_start,channel,fasciculations,valid_s,rate_per_hour,ci_low,ci_high\n"
                      "2026-03-02T08:00:00+01:00,left_calf,many,3600,,,\n")
    out = tmp_path / "o"
    code = main(["triggers", "--rates", str(rates), str(broken), "--diary", str(diary),
                 "--out", str(out), "--kernels", str(_kernels(tmp_path))])
    captured = capsys.readouterr()
    assert code == 1
    assert f"emg triggers: error: {broken}: line 2: fasciculations and valid_s must be numbers" \
        in captured.err
    assert (out / "triggers.csv").exists()
    assert "per 100 mg of caffeine load (half-life 3 h)" in (out / "triggers.csv").read_text()
    assert "had" in captured.out and "not a diagnosis" in captured.out


def _kernels(tmp_path: Path) -> Path:
    path = tmp_path / "kernels.toml"
    path.write_text("[caffeine]\nhalf_life_h = 3\n")
    return path


def test_bad_kernel_file_and_unknown_channel(tmp_path, capsys, small):
    rates, diary = small
    bad = tmp_path / "k.toml"
    bad.write_text("[caffeine]\nhalflife = 3\n")
    assert main(["triggers", "--rates", str(rates), "--diary", str(diary),
                 "--kernels", str(bad)]) == 1
    assert capsys.readouterr().err.startswith(f"emg triggers: error: {bad}: kernel 'caffeine': "
                                              "unknown key 'halflife'")
    assert main(["triggers", "--rates", str(rates), "--diary", str(diary),
                 "--channel", "right_arm"]) == 1
    assert ("Invalid value for 'channel': allowed are 'left_calf', got 'right_arm'"
            in capsys.readouterr().err)


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["triggers", "--diary", "d.csv"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["triggers", "--help"])
    assert info.value.code == 0
    assert "--kernels" in capsys.readouterr().out


RATES_HEADER = "hour_start,channel,fasciculations,valid_s,rate_per_hour,ci_low,ci_high\n"


def test_read_rates_sums_channels_and_files_across_a_dst_change(tmp_path):
    from emg.errors import InputError
    from emg.triggers.hourly import read_rates

    a = tmp_path / "a.rates.csv"
    a.write_text(RATES_HEADER
                 + "2026-03-29T01:00:00+01:00,calf,4,1800.0,8.000,2.180,20.483\n"
                 + "2026-03-29T01:00:00+01:00,thigh,6,1200.0,,,\n"
                 + "2026-03-29T03:00:00+02:00,calf,3,3600.0,3.000,0.619,8.767\n"
                 + "2026-03-29T04:00:00+02:00,calf,0,30.0,,,\n")
    b = tmp_path / "b.rates.csv"
    b.write_text(RATES_HEADER + "2026-03-29T03:00:00+02:00,calf,2,600.0,12.000,1.453,43.347\n")
    hours = read_rates([a, b])
    # 01:00+01:00 and 03:00+02:00 are consecutive real hours; 04:00 has < 60 s valid: dropped
    assert hours.hour_start_s[1] - hours.hour_start_s[0] == 3600.0
    assert hours.counts.tolist() == [10, 5] and hours.valid_s.tolist() == [3000.0, 4200.0]
    assert hours.utc_offset_s.tolist() == [3600.0, 7200.0]
    assert hours.channels == ("calf", "thigh")
    calf = read_rates([a], channel="calf")
    assert calf.counts.tolist() == [4, 3] and calf.channels == ("calf",)
    with pytest.raises(InputError, match="given twice"):
        read_rates([a, a])
    naive = tmp_path / "n.rates.csv"
    naive.write_text(RATES_HEADER + "2026-03-29T01:00:00,calf,4,1800,,,\n")
    with pytest.raises(InputError, match=r"line 2: hour_start '2026-03-29T01:00:00' has no UTC offset"):
        read_rates([naive])
    neg = tmp_path / "v.rates.csv"
    neg.write_text(RATES_HEADER + "2026-03-29T01:00:00Z,calf,4,4000,,,\n")
    with pytest.raises(InputError, match="line 2: valid_s must be 0-3600 s, got '4000'"):
        read_rates([neg])
