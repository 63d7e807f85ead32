"""Exposure kernels: each kind against hand-computed values; config overrides and errors."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from emg.errors import InputError
from emg.triggers.diary import DiaryEntry
from emg.triggers.kernels import (
    DEFAULT_KERNELS,
    GENERIC_KERNEL,
    Kernel,
    exposed_days,
    exposure,
    kernel_for,
    load_kernels,
    sensitivity_settings,
)

H = 3600.0
T0 = 1772406000.0  # 2026-03-02T00:00+01:00 (a local midnight in Europe/Berlin)


def entry(factor, start_h, value=None, end_h=None, offset_s=3600):
    start = T0 + start_h * H
    end = start if end_h is None else T0 + end_h * H
    return DiaryEntry(1, factor, start, end, value, "", offset_s)


def at(*hours):
    return T0 + np.array(hours, float) * H


def test_caffeine_decays_with_half_life():
    k = DEFAULT_KERNELS["caffeine"]  # 5 h, per 100 mg
    x = exposure(k, [entry("caffeine", 8, 200.0)], at(7.9, 8, 13, 18))
    np.testing.assert_allclose(x, [0.0, 2.0, 1.0, 0.5], rtol=1e-12)
    two = exposure(k, [entry("caffeine", 8, 100.0), entry("caffeine", 13, 100.0)], at(13))
    np.testing.assert_allclose(two, [0.5 + 1.0])


def test_training_fades_linearly_from_the_end_of_the_session():
    k = DEFAULT_KERNELS["strength_training"]  # 48 h, per session
    x = exposure(k, [entry("strength_training", 18, 60.0, end_h=19)], at(18.5, 19, 43, 67, 80))
    np.testing.assert_allclose(x, [0.0, 1.0, 0.5, 0.0, 0.0], atol=1e-12)


def test_sleep_deficit_holds_until_the_next_sleep_and_is_unknown_before():
    k = DEFAULT_KERNELS["sleep"]  # target 7 h, hold at most 36 h
    nights = [entry("sleep", -1, 5.0, end_h=4), entry("sleep", 23, 8.0, end_h=31)]
    x = exposure(k, nights, at(3, 5, 20, 30, 32, 66, 68))
    assert np.isnan(x[0])                      # before the first logged wake-up: unknown
    np.testing.assert_allclose(x[1:5], [2.0, 2.0, 2.0, 0.0])  # 5 h night, then an 8 h night
    assert x[5] == 0.0 and np.isnan(x[6])      # no sleep logged 36 h after waking: unknown


def test_stress_is_carried_six_hours():
    k = DEFAULT_KERNELS["stress"]
    x = exposure(k, [entry("stress", 9, 7.0), entry("stress", 12, 3.0)], at(8, 10, 13, 17.9, 18.1))
    np.testing.assert_allclose(x, [0.0, 7.0, 3.0, 3.0, 0.0])


def test_sitting_minutes_in_the_past_two_hours():
    k = DEFAULT_KERNELS["sitting"]  # 2 h window, per 60 min
    x = exposure(k, [entry("sitting", 10, 60.0, end_h=11)], at(9.5, 10.5, 11.5, 12.5, 13.5))
    np.testing.assert_allclose(x, [0.0, 0.5, 1.0, 0.5, 0.0])


def test_fluid_sum_over_24_hours():
    k = DEFAULT_KERNELS["fluid"]
    x = exposure(k, [entry("fluid", 8, 500.0), entry("fluid", 12, 250.0)], at(7, 9, 13, 33, 37))
    np.testing.assert_allclose(x, [0.0, 0.5, 0.75, 0.25, 0.0])


def test_magnesium_marks_the_local_day():
    k = DEFAULT_KERNELS["magnesium"]
    # taken 2026-03-02T23:30+01:00 = 22:30 UTC: the local day is 2 March, not 3 March
    e = entry("magnesium", 23.5, 400.0)
    t = at(0.5, 23.75, 24.5)
    x = exposure(k, [e], t, np.full(3, 3600.0))
    np.testing.assert_array_equal(x, [1.0, 1.0, 0.0])
    utc = exposure(k, [e], t, None)  # counted in UTC the same instant is on 2 March as well
    assert utc[1] == 1.0


def test_meal_and_generic_indicators():
    meal = exposure(DEFAULT_KERNELS["meal"], [entry("meal", 12)], at(11.9, 12.5, 13.9, 14.1))
    np.testing.assert_array_equal(meal, [0, 1, 1, 0])
    sauna = exposure(GENERIC_KERNEL, [entry("sauna", 18, end_h=19)], at(18.5, 24.9, 25.1))
    np.testing.assert_array_equal(sauna, [1, 1, 0])


def test_no_entries_no_exposure():
    assert exposure(DEFAULT_KERNELS["caffeine"], [], at(1, 2)).tolist() == [0.0, 0.0]


def test_every_default_says_where_it_comes_from():
    for name, k in list(DEFAULT_KERNELS.items()) + [("generic", GENERIC_KERNEL)]:
        assert k.source.startswith(("literature", "assumption", "adults")), name
    assert "5 h" in DEFAULT_KERNELS["caffeine"].source and "1.5-9.5" in DEFAULT_KERNELS["caffeine"].source


def test_config_files_override_defaults(tmp_path):
    toml = tmp_path / "k.toml"
    toml.write_text('[caffeine]\nhalf_life_h = 3.0\n\n[generic]\nhours = 12\n\n'
                    '[alcohol]\nkind = "decay"\nhalf_life_h = 4\nper = 1\nunit = "drink"\n')
    k = load_kernels(toml)
    assert k["caffeine"].half_life_h == 3.0 and k["caffeine"].per == 100.0
    assert kernel_for("sauna", k).hours == 12.0
    assert k["alcohol"].kind == "decay" and "per 1 drink of alcohol load" in k["alcohol"].contrast("alcohol")
    js = tmp_path / "k.json"
    js.write_text(json.dumps({"strength_training": {"window_h": 72}}))
    assert load_kernels(js)["strength_training"].window_h == 72.0
    assert load_kernels(None)["strength_training"].window_h == 48.0


@pytest.mark.parametrize("text, cause", [
    ("[caffeine]\nhalflife = 3\n", "kernel 'caffeine': unknown key 'halflife'; allowed are 'kind'"),
    ("[caffeine]\nhalf_life_h = -1\n", "Invalid value for 'half_life_h': must be a number > 0"),
    ('[caffeine]\nkind = "bump"\n', "Invalid value for 'kind': allowed are 'decay'"),
    ("caffeine = 3\n", "kernel 'caffeine': expected a table"),
    ("[caffeine\n", "cannot read the kernel settings"),
])
def test_bad_config(tmp_path, text, cause):
    path = tmp_path / "k.toml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_kernels(path)
    assert str(info.value).startswith(f"{path}: ") and cause in str(info.value)


def test_sensitivity_grids():
    assert sensitivity_settings(DEFAULT_KERNELS["caffeine"]) == ("half_life_h", (3.0, 5.0, 7.0))
    assert sensitivity_settings(DEFAULT_KERNELS["strength_training"]) == ("window_h", (24.0, 48.0, 72.0))
    assert sensitivity_settings(DEFAULT_KERNELS["sleep"]) == ("target_h", (6.0, 7.0, 8.0))
    assert sensitivity_settings(DEFAULT_KERNELS["stress"]) == ("hold_h", (3.0, 6.0, 12.0))
    assert sensitivity_settings(replace(DEFAULT_KERNELS["caffeine"], half_life_h=4.0)) == (
        "half_life_h", (3.0, 4.0, 5.0, 7.0))
    assert sensitivity_settings(DEFAULT_KERNELS["magnesium"]) is None


def test_exposed_days():
    days = np.array([20514, 20515, 20516])  # local days 2, 3, 4 March 2026
    caf = [entry("caffeine", 8, 100.0), entry("caffeine", 9, 0.0), entry("caffeine", 56, 50.0)]
    assert exposed_days(DEFAULT_KERNELS["caffeine"], caf, days) == {20514, 20516}
    nights = [entry("sleep", -1, 5.0, end_h=4), entry("sleep", 23, 8.0, end_h=31)]
    assert exposed_days(DEFAULT_KERNELS["sleep"], nights, days) == {20514}


def test_kernel_rejects_bad_values():
    with pytest.raises(ValueError, match="Invalid value for 'per'"):
        Kernel("decay", per=0)
