"""What ``emg triggers`` finds, as plain frozen dataclasses (the data the report plots).

The report helper's plotting functions (``emg.report``) take a :class:`TriggerResult`:

- forest plot: ``result.factors`` (rate ratio and 95 % interval per factor, log axis;
  factors with ``verdict == "insufficient data"`` have NaN estimates),
- observed vs fitted over time: ``result.hourly`` (``time``, ``observed_rate_per_h``,
  ``fitted_rate_per_h``) with ``result.hourly.exposures`` drawn beneath,
- kernel sensitivity: ``result.sensitivity``,
- residual autocorrelation: ``result.residual_acf`` (lag ``k`` hours at index ``k``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

__all__ = ["VERDICTS", "FactorResult", "HourlyFit", "SensitivityRow", "TriggerResult"]

VERDICTS = ("associated", "no evidence", "insufficient data")


@dataclass(frozen=True)
class FactorResult:
    """One factor's row of ``triggers.csv`` plus what the plots and sentences need.

    Attributes
    ----------
    factor : str
        Diary factor name (``caffeine``, ``sleep``, ... or a generic event name).
    contrast : str
        What one unit of the exposure means, in words ("per 100 mg of caffeine load ...").
    rate_ratio, ci_low, ci_high : float
        Multiplicative change of the hourly rate per contrast unit and its 95 % interval
        (from the day-shift permutation distribution); NaN for insufficient data.
    p_value : float
        Two-sided p-value of record (circular day-shift permutation test); NaN if not tested.
    q_value : float
        Benjamini-Hochberg q-value across the tested factors; NaN if not tested.
    exposed_days, unexposed_days : int
        Analysed days with and without the factor.
    verdict : str
        One of ``VERDICTS``.
    sentence : str
        A plain sentence for the user (association, not cause).
    p_rank : float
        Exact rank p-value of the same permutation, ``(1 + #{|b_k| >= |b|}) / (1 + K)``.
    rate_ratio_hac_low, rate_ratio_hac_high, p_hac : float
        Wald interval and p-value with HAC (Newey-West) standard errors, for comparison.
    """

    factor: str
    contrast: str
    rate_ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    q_value: float
    exposed_days: int
    unexposed_days: int
    verdict: str
    sentence: str
    p_rank: float = float("nan")
    rate_ratio_hac_low: float = float("nan")
    rate_ratio_hac_high: float = float("nan")
    p_hac: float = float("nan")


@dataclass(frozen=True)
class HourlyFit:
    """The analysed hours (one row per clock hour with valid rest, time order).

    Attributes
    ----------
    time : tuple of datetime.datetime
        Start of each hour, timezone-aware, in the rates file's own offset.
    counts : ndarray of int, shape (n_hours,)
        Fasciculations in the hour (summed over the channels used).
    valid_h : ndarray of float, shape (n_hours,)
        Valid rest in the hour in channel-hours (the model's exposure).
    observed_rate_per_h, fitted_rate_per_h : ndarray of float, shape (n_hours,)
        ``counts / valid_h`` and the model's fitted rate per channel-hour.
    pearson_residual : ndarray of float, shape (n_hours,)
        ``(counts - mu) / sqrt(mu + alpha mu^2)``.
    exposures : dict of str to ndarray
        Each factor's exposure in its contrast units (what the model saw), per hour.
    """

    time: tuple[dt.datetime, ...]
    counts: np.ndarray
    valid_h: np.ndarray
    observed_rate_per_h: np.ndarray
    fitted_rate_per_h: np.ndarray
    pearson_residual: np.ndarray
    exposures: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class SensitivityRow:
    """The rate ratio of one factor when one kernel setting changes (others at default)."""

    factor: str
    setting: str  # e.g. "half_life_h"
    value: float
    is_default: bool
    rate_ratio: float
    ci_low: float
    ci_high: float
    p_value: float


@dataclass(frozen=True)
class TriggerResult:
    """Everything ``emg triggers`` computed.

    Attributes
    ----------
    factors : tuple of FactorResult
        One per logged factor, in diary order of known factors then generic ones.
    not_logged : tuple of str
        Known factors never logged in the diary (absent, not zero).
    hourly : HourlyFit
        The hours the model used.
    sensitivity : tuple of SensitivityRow
        Rate ratios over kernel settings.
    residual_acf : ndarray of float
        Autocorrelation of the Pearson residuals at lags 0, 1, ... hours (real clock lags).
    alpha : float
        Estimated negative-binomial dispersion (variance ``mu + alpha mu^2``).
    n_days : int
        Analysed days.
    n_shifts : int
        Number of day shifts in the permutation test.
    notes : tuple of str
        Messages for the user (hours dropped, factors skipped and why).
    """

    factors: tuple[FactorResult, ...]
    not_logged: tuple[str, ...]
    hourly: HourlyFit
    sensitivity: tuple[SensitivityRow, ...]
    residual_acf: np.ndarray
    alpha: float
    n_days: int
    n_shifts: int
    notes: tuple[str, ...] = ()

    def factor(self, name: str) -> FactorResult:
        """The result of one factor by name (KeyError if it was not analysed)."""
        for f in self.factors:
            if f.factor == name:
                return f
        raise KeyError(name)
