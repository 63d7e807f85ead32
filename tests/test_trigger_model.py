"""The N-of-1 model: solver against statsmodels, BH, permutation test, verdicts, wording."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from emg.triggers.diary import parse_diary_rows
from emg.triggers.hourly import HourlyCounts
from emg.triggers.kernels import load_kernels
from emg.triggers.model import (
    MIN_DAYS,
    _Grid,
    analyse,
    benjamini_hochberg,
    design_base,
    nb_fit_fixed_alpha,
)
from emg.triggers.synth import NULL_FACTORS, PLANTED, simulate_weeks

KERNELS = load_kernels(None)


@pytest.fixture(scope="module")
def strong():
    """Four simulated weeks with a strong caffeine effect and no training effect."""
    sim = simulate_weeks(7, weeks=4, caffeine_rr=1.6, training_rr=1.0)
    return sim, analyse(sim.hours, sim.diary, KERNELS, max_shifts=12, sensitivity=True)


def test_fixed_alpha_solver_matches_statsmodels():
    from statsmodels.discrete.discrete_model import NegativeBinomial

    rng = np.random.default_rng(0)
    n = 400
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.random(n) < 0.3])
    valid_h = rng.uniform(0.1, 1.0, n)
    mu = np.exp(X @ np.array([3.0, 0.2, -0.3])) * valid_h
    y = rng.negative_binomial(1 / 0.2, 1 / (1 + 0.2 * mu))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = NegativeBinomial(y, X, exposure=valid_h).fit(method="newton", disp=0, maxiter=100)
    alpha = res.params[-1]
    ours = nb_fit_fixed_alpha(y.astype(float), X, np.log(valid_h), alpha)
    np.testing.assert_allclose(ours, res.params[:-1], atol=1e-5)
    assert 0.1 < alpha < 0.3  # the planted dispersion 0.2 is recovered


def test_benjamini_hochberg_matches_statsmodels():
    from statsmodels.stats.multitest import multipletests

    p = np.array([0.001, 0.04, 0.03, 0.2, 0.5, 0.012])
    np.testing.assert_allclose(benjamini_hochberg(p), multipletests(p, method="fdr_bh")[1])
    q = benjamini_hochberg(np.array([np.nan, 0.02, 0.04]))
    assert math.isnan(q[0]) and q[1:].tolist() == [0.04, 0.04]


def test_design_uses_local_time_of_day():
    # 07:00 local in winter (+01:00) and in summer (+02:00) get the same harmonics
    winter = 1772431200.0  # 2026-03-02T07:00+01:00
    summer = 1775797200.0  # 2026-04-10T07:00+02:00
    X, names = design_base(np.array([winter, summer]), np.array([3600.0, 7200.0]))
    assert names[:5] == ["const", "sin24", "cos24", "sin12", "cos12"]
    np.testing.assert_allclose(X[0, 1:5], X[1, 1:5], atol=1e-12)
    np.testing.assert_allclose(X[:, 5], [-1.0, 1.0])


def test_grid_over_a_dst_change_keeps_hours_distinct():
    sim = simulate_weeks(1, weeks=6)  # crosses 2026-03-29 (Europe/Berlin)
    grid = _Grid.cover(sim.hours)
    idx = grid.index(sim.hours.hour_start_s)
    assert np.unique(idx).size == idx.size and idx.min() >= 0 and idx.max() < grid.t_s.size
    assert grid.t_s.size == 24 * grid.n_days and grid.n_days == 42


def test_strong_effect_is_found_and_null_factors_mostly_not(strong):
    _sim, res = strong
    caf = res.factor("caffeine")
    assert caf.verdict == "associated" and caf.q_value < 0.05
    assert caf.ci_low < 1.6 < caf.ci_high
    assert abs(math.log(caf.rate_ratio) - math.log(1.6)) < 0.2
    train = res.factor("strength_training")
    assert train.verdict == "insufficient data" or train.ci_low < 1.0 < train.ci_high
    assert all(res.factor(f).verdict != "associated" for f in NULL_FACTORS
               if f in {r.factor for r in res.factors})
    assert res.n_shifts == 12 and res.n_days >= 18
    assert 0 < res.alpha < 1


def test_result_tables_are_consistent(strong):
    _sim, res = strong
    for f in res.factors:
        assert f.exposed_days + f.unexposed_days == res.n_days
        if f.verdict != "insufficient data":
            assert f.ci_low < f.rate_ratio < f.ci_high
            assert 0 < f.p_value <= 1 and f.p_value <= f.q_value <= 1
            assert f.ci_low > 1 or f.ci_high < 1 or f.p_value >= 0.05  # interval and p agree
            assert 1 / 13 <= f.p_rank <= 1
    h = res.hourly
    n = len(h.time)
    assert h.counts.shape == h.valid_h.shape == h.fitted_rate_per_h.shape == (n,)
    np.testing.assert_allclose(h.observed_rate_per_h, h.counts / h.valid_h)
    assert set(h.exposures) == {f.factor for f in res.factors}
    # the fitted rates reproduce the total count (intercept score equation)
    assert np.sum(h.fitted_rate_per_h * h.valid_h) == pytest.approx(h.counts.sum(), rel=0.05)
    assert res.residual_acf[0] == pytest.approx(1.0) and res.residual_acf.size == 73
    caf_rows = [r for r in res.sensitivity if r.factor == "caffeine"]
    assert [r.value for r in caf_rows] == [3.0, 5.0, 7.0]
    default = next(r for r in caf_rows if r.is_default)
    assert default.rate_ratio == pytest.approx(res.factor("caffeine").rate_ratio)


def test_sentences_say_association_not_cause(strong):
    _, res = strong
    caf = res.factor("caffeine").sentence
    assert caf.startswith("Hours with more caffeine load had ")
    assert "% more fasciculations (95 % CI" in caf and "not proof" in caf
    for f in res.factors:
        low = f.sentence.lower()
        assert "risk" not in low and "diagnos" not in low and "als" not in low.split()


def _tiny_diary(days_with: int):
    rows = [["start", "end", "factor", "value", "unit", "note"]]
    for d in range(days_with):
        rows.append([f"2026-03-{2 + d:02d}T09:00+01:00", "", "sauna", "", "", ""])
    rows.append(["2026-03-02T08:00+01:00", "", "caffeine", "100", "mg", ""])
    rows.append(["2026-03-21T08:00+01:00", "", "caffeine", "100", "mg", ""])
    return parse_diary_rows(rows)


def _flat_hours(days: int, seed: int = 0) -> HourlyCounts:
    rng = np.random.default_rng(seed)
    start = 1772406000.0 + 3600.0 * np.arange(24 * days)
    valid = np.full(start.size, 1800.0)
    return HourlyCounts.from_arrays(start, np.full(start.size, 3600.0),
                                    rng.poisson(10.0, start.size), valid)


def test_fewer_than_five_days_is_insufficient_data():
    res = analyse(_flat_hours(20), _tiny_diary(4), KERNELS, max_shifts=5, sensitivity=False)
    sauna = res.factor("sauna")
    assert sauna.verdict == "insufficient data" and (sauna.exposed_days, sauna.unexposed_days) == (4, 16)
    assert math.isnan(sauna.rate_ratio) and math.isnan(sauna.p_value)
    assert f"at least {MIN_DAYS} of each" in sauna.sentence
    assert res.factor("caffeine").verdict == "insufficient data"  # 2 days with caffeine
    assert "magnesium" in res.not_logged
    assert "magnesium" not in {f.factor for f in res.factors}  # never logged: no row, no zeros
    five = analyse(_flat_hours(20), _tiny_diary(5), KERNELS, max_shifts=5, sensitivity=False)
    assert five.factor("sauna").verdict in ("associated", "no evidence")


def test_hours_outside_the_diary_are_left_out():
    hours = _flat_hours(40)
    res = analyse(hours, _tiny_diary(6), KERNELS, max_shifts=5, sensitivity=False)
    assert res.n_days == 20 and len(res.hourly.time) == 20 * 24
    assert any("outside the diary's days" in n for n in res.notes)


def test_no_planted_effect_gives_calibrated_p_values():
    """Across a few null datasets the permutation p-values are not too small."""
    ps = []
    for seed in range(6):
        sim = simulate_weeks(100 + seed, weeks=3, caffeine_rr=1.0, training_rr=1.0)
        res = analyse(sim.hours, sim.diary, KERNELS, max_shifts=10, sensitivity=False)
        ps += [f.p_value for f in res.factors if f.verdict != "insufficient data"]
    ps = np.array(ps)
    assert ps.size >= 30
    assert np.mean(ps < 0.05) <= 0.15 and 0.35 < np.median(ps) < 0.7
    assert set(PLANTED) <= {"caffeine", "strength_training"}


def test_too_few_fasciculations_is_a_clear_error():
    from emg.errors import EmgError

    hours = _flat_hours(20)
    silent = HourlyCounts.from_arrays(hours.hour_start_s, hours.utc_offset_s,
                                      np.zeros(len(hours), int), hours.valid_s)
    with pytest.raises(EmgError, match=r"^only 0 fasciculations in 480 analysed hours: too few"):
        analyse(silent, _tiny_diary(6), KERNELS, max_shifts=5)
