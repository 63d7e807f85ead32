"""Diary reading: times with offsets and zones, DST, units, generic factors, clear errors."""

from __future__ import annotations

import pytest

from emg.errors import InputError
from emg.triggers.diary import KNOWN_FACTORS, parse_time, read_diary

HEADER = "start,end,factor,value,unit,note\n"


def _diary(tmp_path, body: str, name: str = "diary.csv"):
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_offsets_zones_and_utc_agree():
    a = parse_time("2026-03-02T08:00:00+01:00")
    b = parse_time("2026-03-02T07:00Z")
    c = parse_time("2026-03-02T08:00 Europe/Berlin")
    d = parse_time("2026-03-02T08:00[Europe/Berlin]")
    assert a[0] == b[0] == c[0] == d[0] == 1772434800.0
    assert a[1] == c[1] == 3600 and b[1] == 0


def test_dst_change_in_a_zone():
    # Europe/Berlin, 2026-03-29: 02:00 CET -> 03:00 CEST
    before, off_before = parse_time("2026-03-29T01:30 Europe/Berlin")
    after, off_after = parse_time("2026-03-29T03:30 Europe/Berlin")
    assert (off_before, off_after) == (3600, 7200)
    assert after - before == 3600.0  # one real hour between 01:30 and 03:30 local
    with pytest.raises(ValueError, match="does not exist in Europe/Berlin"):
        parse_time("2026-03-29T02:30 Europe/Berlin")
    with pytest.raises(ValueError, match="happens twice"):
        parse_time("2026-10-25T02:30 Europe/Berlin")
    first, _ = parse_time("2026-10-25T02:30+02:00[Europe/Berlin]")
    second, _ = parse_time("2026-10-25T02:30+01:00[Europe/Berlin]")
    assert second - first == 3600.0
    with pytest.raises(ValueError, match="not used by Europe/Berlin"):
        parse_time("2026-10-25T02:30+05:00[Europe/Berlin]")


def test_times_without_offset_or_with_unknown_zone_are_rejected():
    with pytest.raises(ValueError, match="no UTC offset or time zone"):
        parse_time("2026-03-02T08:00")
    assert parse_time("2026-03-02T08:00", tz="UTC")[0] == parse_time("2026-03-02T08:00Z")[0]
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Base'"):
        parse_time("2026-03-02T08:00 Mars/Base")


def test_units_are_converted_once(tmp_path):
    path = _diary(tmp_path, (
        "2026-03-02T08:00+01:00,,caffeine,0.095,g,\n"
        "2026-03-02T09:00+01:00,,caffeine,2,mg/kg,\n"
        "2026-03-02T10:00+01:00,,fluid,0.5,L,\n"
        "2026-03-02T11:00+01:00,,sitting,1.5,h,\n"
        "2026-03-02T07:00+01:00,,sleep,390,min,\n"
        "2026-03-02T18:00+01:00,2026-03-02T18:45+01:00,strength_training,,,RPE 8\n"
        "2026-03-02T21:00+01:00,,magnesium,400,,\n"
    ))
    diary = read_diary(path, body_mass_kg=70.0)
    by = {(e.factor, e.line): e for e in diary.entries}
    assert by[("caffeine", 2)].value == pytest.approx(95.0)
    assert by[("caffeine", 3)].value == pytest.approx(140.0)
    assert by[("fluid", 4)].value == pytest.approx(500.0) and by[("fluid", 4)].unit == "mL"
    sitting = by[("sitting", 5)]
    assert sitting.value == pytest.approx(90.0) and sitting.end_s - sitting.start_s == 5400.0
    assert by[("sleep", 6)].value == pytest.approx(6.5)
    training = by[("strength_training", 7)]
    assert training.value == pytest.approx(45.0) and training.rpe == 8.0
    assert by[("magnesium", 8)].value == 400.0 and by[("magnesium", 8)].unit == "mg"
    assert [e.line for e in diary.entries] == [6, 2, 3, 4, 5, 7, 8]  # time order


def test_unknown_unit_is_one_line_naming_file_line_and_cause(tmp_path):
    path = _diary(tmp_path, "2026-03-02T08:00+01:00,,caffeine,1,mg,\n"
                            "2026-03-02T09:00+01:00,,caffeine,2,cups,\n")
    with pytest.raises(InputError) as info:
        read_diary(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: line 3: unknown unit 'cups' for 'caffeine': allowed are 'mg'")
    assert "\n" not in msg


def test_per_kg_needs_body_mass(tmp_path):
    path = _diary(tmp_path, "2026-03-02T08:00+01:00,,caffeine,3,mg/kg,\n")
    with pytest.raises(InputError, match=r"line 2: unit 'mg/kg' needs the body mass \(--body-mass-kg\)"):
        read_diary(path)
    with pytest.raises(InputError, match="Invalid value for 'body_mass_kg'"):
        read_diary(path, body_mass_kg=2.0)


@pytest.mark.parametrize("row, cause", [
    ("2026-03-02T08:00+01:00,,stress,11,,", "'stress' value 11 0-10 is outside 0-10"),
    ("2026-03-02T08:00+01:00,,caffeine,-5,mg,", "value '-5' is negative"),
    ("2026-03-02T08:00+01:00,,caffeine,lots,mg,", "value 'lots' is not a number"),
    ("2026-03-02T08:00+01:00,2026-03-02T07:00+01:00,sitting,,,", "'end' is before 'start'"),
    ("2026-03-02T08:00+01:00,,sitting,,min,", "'sitting' needs a value or an end time"),
    ("2026-03-02T08:00+01:00,,caffeine,,mg,", "'caffeine' needs a value"),
    ("2026-03-02 08:00,,caffeine,80,mg,", "has no UTC offset"),
    ("2026-03-02T18:00+01:00,,strength_training,40,min,RPE 12", "RPE 12 in 'note' is outside 1-10"),
    (",,caffeine,80,mg,", "empty 'start'"),
])
def test_bad_rows(tmp_path, row, cause):
    path = _diary(tmp_path, row + "\n")
    with pytest.raises(InputError) as info:
        read_diary(path)
    assert str(info.value).startswith(f"{path}: line 2: ")
    assert cause in str(info.value)


def test_generic_factors_and_not_logged(tmp_path):
    path = _diary(tmp_path, (
        "2026-03-02T20:00+01:00,,Alcohol,2,drinks,\n"
        "2026-03-02T21:00+01:00,,sauna,,,\n"
        "2026-03-02T08:00+01:00,,caffeine,80,mg,\n"
    ))
    diary = read_diary(path)
    alcohol = diary.entries_for("alcohol")[0]
    assert (alcohol.value, alcohol.unit, alcohol.is_known) == (2.0, "drinks", False)
    assert diary.entries_for("sauna")[0].value is None
    assert diary.factors == ("caffeine", "alcohol", "sauna")
    assert "magnesium" in diary.not_logged and "caffeine" not in diary.not_logged
    assert set(diary.not_logged) | {"caffeine"} == set(KNOWN_FACTORS)
    assert diary.entries_for("magnesium") == ()  # never logged: absent, no zero rows


def test_file_level_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_diary(tmp_path / "missing.csv")
    bad = tmp_path / "cols.csv"
    bad.write_text("start,factor,value\n2026-03-02T08:00Z,caffeine,80\n")
    with pytest.raises(InputError, match="line 1: missing column 'unit'"):
        read_diary(bad)
    empty = tmp_path / "empty.csv"
    empty.write_text(HEADER)
    with pytest.raises(InputError, match="the diary has no entries"):
        read_diary(empty)


def test_blank_and_comment_lines_and_bom(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_text("\ufeff" + HEADER + "\n# a comment\n2026-03-02T08:00Z,,caffeine,80,mg,\n",
                    encoding="utf-8")
    diary = read_diary(path)
    assert len(diary.entries) == 1 and diary.entries[0].line == 4
