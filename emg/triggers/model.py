"""The N-of-1 trigger model: negative binomial on hourly counts, tested by day shifts.

Model (one person, hours ``i`` with valid rest)::

    counts_i ~ NB2(mu_i, alpha),  log mu_i = log(valid_h_i) + b0
        + harmonics of the local time of day (24 h and 12 h) + slow trend (linear, quadratic)
        + sum_f beta_f * exposure_f(i)

fitted with statsmodels' discrete ``NegativeBinomial`` (which estimates ``alpha``), with HAC
(Newey-West, 24 lags) standard errors for reference.

Hours are autocorrelated (a good or bad day, a bad week), so Wald errors, even HAC ones,
are too small. The p-value and interval of record come from a permutation test that keeps
every series intact: each factor's exposure is shifted circularly by whole days
(``k = 1 .. D - 1`` over the ``D`` days analysed), the model is refitted (``alpha`` fixed at
its estimate) and the shifted coefficients form the null distribution. Their root mean
square ``s`` is the coefficient's standard error; ``p = 2 t_{K-1}(|b| / s)`` and the 95 %
interval is ``b +- t_{K-1, 0.975} s`` (``K`` shifts). The exact rank p-value
``(1 + #{|b_k| >= |b|}) / (K + 1)`` is kept too, but with six weeks it cannot go below
1/42, too coarse for Benjamini-Hochberg across several factors.

A factor needs at least 5 analysed days with and 5 without it; otherwise it is left out of
the model and reported as "insufficient data".
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace

import numpy as np

from ..errors import EmgError
from .diary import Diary
from .hourly import HourlyCounts
from .kernels import Kernel, exposed_days, exposure, kernel_for, sensitivity_settings
from .result import FactorResult, HourlyFit, SensitivityRow, TriggerResult

__all__ = [
    "HAC_MAXLAGS",
    "MIN_DAYS",
    "Q_LEVEL",
    "analyse",
    "benjamini_hochberg",
    "design_base",
    "nb_fit_fixed_alpha",
]

MIN_DAYS = 5
MIN_EVENTS = 20
Q_LEVEL = 0.05
HAC_MAXLAGS = 24
ACF_MAX_LAG_H = 72


def _exp(x: float) -> float:
    """exp without OverflowError (a diverging estimate becomes inf, not a crash)."""
    return float(np.exp(np.clip(x, -700.0, 700.0)))


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values (NaN entries stay NaN and do not count).

    Examples
    --------
    >>> benjamini_hochberg(np.array([0.01, 0.04, 0.03, np.nan])).round(3).tolist()
    [0.03, 0.04, 0.04, nan]
    """
    p = np.asarray(p, float)
    q = np.full_like(p, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size == 0:
        return q
    order = ok[np.argsort(p[ok])]
    m = ok.size
    ranked = p[order] * m / np.arange(1, m + 1)
    q[order] = np.clip(np.minimum.accumulate(ranked[::-1])[::-1], p[order], 1.0)
    return q


def design_base(hour_start_s: np.ndarray, utc_offset_s: np.ndarray) -> tuple[np.ndarray, list]:
    """Columns every model has: intercept, 24 h and 12 h harmonics, slow trend.

    Returns
    -------
    X : ndarray, shape (n, 7)
    names : list of str
    """
    mid = hour_start_s + 1800.0
    hod = ((mid + utc_offset_s) % 86400.0) / 3600.0
    w = 2 * np.pi * hod / 24.0
    span = max(mid[-1] - mid[0], 3600.0)
    u = 2.0 * (mid - mid[0]) / span - 1.0
    X = np.column_stack([np.ones_like(mid), np.sin(w), np.cos(w), np.sin(2 * w), np.cos(2 * w),
                         u, u * u - 1.0 / 3.0])
    return X, ["const", "sin24", "cos24", "sin12", "cos12", "trend", "trend2"]


def nb_fit_fixed_alpha(y: np.ndarray, X: np.ndarray, log_exposure: np.ndarray, alpha: float,
                       beta0: np.ndarray | None = None, max_iter: int = 50,
                       tol: float = 1e-8) -> np.ndarray:
    """Maximum-likelihood NB2 coefficients for a fixed ``alpha`` (Fisher scoring).

    Used for the many refits of the permutation test; agrees with statsmodels'
    ``NegativeBinomial`` at the same ``alpha``.

    Parameters
    ----------
    y : ndarray, shape (n,)
    X : ndarray, shape (n, p)
    log_exposure : ndarray, shape (n,)
    alpha : float
        Dispersion, variance ``mu + alpha mu^2``.
    beta0 : ndarray, shape (p,) or None
        Start (None: intercept from the mean rate, zeros elsewhere).

    Returns
    -------
    ndarray, shape (p,)
    """
    if beta0 is None:
        beta = np.zeros(X.shape[1])
        beta[0] = math.log(max(y.sum(), 0.5) / np.exp(log_exposure).sum())
    else:
        beta = np.array(beta0, float)
    for _ in range(max_iter):
        eta = np.clip(X @ beta + log_exposure, -50, 50)
        mu = np.exp(eta)
        denom = 1.0 + alpha * mu
        score = X.T @ ((y - mu) / denom)
        info = (X * (mu / denom)[:, None]).T @ X
        try:
            step = np.linalg.solve(info, score)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(info, score, rcond=None)[0]
        beta += step
        if np.max(np.abs(step)) < tol:
            break
    return beta


@dataclass(frozen=True)
class _Grid:
    """A regular hourly grid over the analysed local days (for exposures and day shifts)."""

    start_s: float
    t_s: np.ndarray        # hour midpoints, POSIX s
    offset_s: np.ndarray   # local UTC offset per grid hour
    n_days: int

    @classmethod
    def cover(cls, hours: HourlyCounts) -> _Grid:
        off0 = hours.utc_offset_s[0]
        first_day = math.floor((hours.hour_start_s[0] + off0) / 86400.0)
        start_s = first_day * 86400.0 - off0
        n_h = math.ceil((hours.hour_start_s[-1] + 3600.0 - start_s) / 3600.0)
        n_days = max(1, math.ceil(n_h / 24.0))
        t_s = start_s + 3600.0 * np.arange(24 * n_days) + 1800.0
        near = np.clip(np.searchsorted(hours.hour_start_s, t_s - 1800.0), 0, len(hours) - 1)
        return cls(start_s, t_s, hours.utc_offset_s[near], n_days)

    def index(self, hour_start_s: np.ndarray) -> np.ndarray:
        return np.round((hour_start_s - self.start_s) / 3600.0).astype(int)


def _local_days(t_s: np.ndarray, offset_s: np.ndarray) -> np.ndarray:
    return np.floor((t_s + offset_s) / 86400.0).astype(int)


def _shift_betas(y, X, log_exposure, alpha, beta, col, grid_exposure, idx, shifts) -> np.ndarray:
    """Coefficient of column ``col`` with its exposure shifted by each number of days."""
    fill = np.nanmean(grid_exposure)
    out = np.empty(len(shifts))
    Xs = X.copy()
    start = beta.copy()
    start[col] = 0.0
    for k, days in enumerate(shifts):
        shifted = np.roll(grid_exposure, 24 * int(days))
        shifted = np.where(np.isfinite(shifted), shifted, fill)
        Xs[:, col] = shifted[idx]
        out[k] = nb_fit_fixed_alpha(y, Xs, log_exposure, alpha, start)[col]
    return out


def _permutation(beta_obs: float, null: np.ndarray) -> tuple[float, float, float, float]:
    """(p, ci_low_beta, ci_high_beta, p_rank) from the shifted coefficients."""
    from scipy import stats

    k = null.size
    s = float(np.sqrt(np.mean(null**2)))
    df = max(k - 1, 1)
    if s <= 0:
        return float("nan"), float("nan"), float("nan"), float("nan")
    p = float(2 * stats.t.sf(abs(beta_obs) / s, df))
    half = float(stats.t.ppf(0.975, df)) * s
    p_rank = (1 + np.sum(np.abs(null) >= abs(beta_obs))) / (k + 1)
    return p, beta_obs - half, beta_obs + half, float(p_rank)


def _shifts(n_days: int, max_shifts: int | None) -> np.ndarray:
    shifts = np.arange(1, n_days)
    if max_shifts is not None and max_shifts < shifts.size:
        shifts = np.unique(np.round(np.linspace(1, n_days - 1, max_shifts)).astype(int))
    return shifts


def _fit_nb(y, X, valid_h):
    """statsmodels NegativeBinomial with HAC errors; returns (params, bse, alpha)."""
    from statsmodels.discrete.discrete_model import NegativeBinomial
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, HessianInversionWarning

    model = NegativeBinomial(y, X, exposure=valid_h, loglike_method="nb2")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", HessianInversionWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        res = None
        for method in ("newton", "bfgs"):
            try:
                res = model.fit(method=method, maxiter=200, disp=0, cov_type="HAC",
                                cov_kwds={"maxlags": HAC_MAXLAGS})
            except (np.linalg.LinAlgError, ValueError):
                continue
            if np.all(np.isfinite(res.params)) and res.mle_retvals.get("converged", True):
                break
    if res is None or not np.all(np.isfinite(res.params)):
        raise EmgError("the negative-binomial model did not converge on these hours")
    params = np.asarray(res.params)
    bse = np.asarray(res.bse)
    return params[:-1], bse[:-1], float(max(params[-1], 1e-8))


def analyse(hours: HourlyCounts, diary: Diary, kernels: dict[str, Kernel], *,
            max_shifts: int | None = None, sensitivity: bool = True,
            progress=None) -> TriggerResult:
    """Relate hourly counts to the diary's factors.

    Parameters
    ----------
    hours : HourlyCounts
        Counts and valid time per clock hour.
    diary : Diary
    kernels : dict of str to Kernel
        From :func:`emg.triggers.kernels.load_kernels`.
    max_shifts : int or None
        Use at most this many day shifts (evenly spread) in the permutation test; None
        uses every shift (``D - 1`` for ``D`` days).
    sensitivity : bool
        Also compute the sensitivity table over kernel settings.
    progress : callable or None
        ``progress(items, total=, desc=)`` wrapping the loop over factors (a progress bar);
        None iterates plainly.

    Returns
    -------
    TriggerResult

    Raises
    ------
    EmgError
        No hour inside the diary's days, or the model cannot be fitted.
    """
    notes: list[str] = []
    d_first, d_last = diary.local_days
    hour_days = _local_days(hours.hour_start_s + 1800.0, hours.utc_offset_s)
    inside = (hour_days >= d_first) & (hour_days <= d_last)
    if not inside.any():
        raise EmgError(f"{diary.path}: the diary's days and the rates' hours do not overlap")
    if not inside.all():
        notes.append(f"{int((~inside).sum())} hours outside the diary's days were left out")
    hours = HourlyCounts.from_arrays(hours.hour_start_s[inside], hours.utc_offset_s[inside],
                                     hours.counts[inside], hours.valid_s[inside], hours.channels)
    grid = _Grid.cover(hours)
    idx = grid.index(hours.hour_start_s)
    factors = diary.factors
    grid_exp = {f: exposure(kernel_for(f, kernels), diary.entries_for(f), grid.t_s,
                            grid.offset_s) for f in factors}
    known = np.ones(len(hours), bool)
    for f in factors:
        missing = ~np.isfinite(grid_exp[f][idx])
        if missing.any():
            notes.append(f"{int(missing.sum())} hours without a known '{f}' exposure "
                         "were left out")
        known &= ~missing
    y = hours.counts[known].astype(float)
    valid_h = hours.valid_s[known] / 3600.0
    t0, off = hours.hour_start_s[known], hours.utc_offset_s[known]
    idx = idx[known]
    days = _local_days(t0 + 1800.0, off)
    analysed_days = np.unique(days)
    n_days = analysed_days.size

    tested, day_counts = [], {}
    for f in factors:
        k = kernel_for(f, kernels)
        n_exp = len(exposed_days(k, diary.entries_for(f), days))
        day_counts[f] = (n_exp, n_days - n_exp)
        x = grid_exp[f][idx]
        if min(day_counts[f]) >= MIN_DAYS and np.ptp(x) > 0:
            tested.append(f)

    if y.sum() < MIN_EVENTS or y.size < 48:
        raise EmgError(f"only {int(y.sum())} fasciculations in {y.size} analysed hours: too few "
                       f"to relate to the diary (at least {MIN_EVENTS} in 48 hours are needed)")
    X0, _ = design_base(t0, off)
    X = np.column_stack([X0] + [grid_exp[f][idx] for f in tested]) if tested else X0
    params, bse, alpha = _fit_nb(y, X, valid_h)
    log_exp = np.log(valid_h)
    beta = nb_fit_fixed_alpha(y, X, log_exp, alpha, params)
    shifts = _shifts(grid.n_days, max_shifts)
    from scipy import stats

    estimates: dict[str, tuple] = {}
    steps = enumerate(tested)
    if progress is not None:
        steps = progress(steps, total=len(tested), desc="day shifts")
    for j, f in steps:
        col = X0.shape[1] + j
        null = _shift_betas(y, X, log_exp, alpha, beta, col, grid_exp[f], idx, shifts)
        p, lo, hi, p_rank = _permutation(params[col], null)
        z = 1.959963984540054 * bse[col]
        p_hac = float(2 * stats.norm.sf(abs(params[col]) / bse[col])) if bse[col] > 0 else math.nan
        estimates[f] = (params[col], lo, hi, p, p_rank, params[col] - z, params[col] + z, p_hac)
    q = benjamini_hochberg(np.array([estimates[f][3] for f in tested]))
    qs = dict(zip(tested, q))

    results = []
    for f in factors:
        k = kernel_for(f, kernels)
        n_exp, n_unexp = day_counts[f]
        if f in estimates:
            b, lo, hi, p, p_rank, hlo, hhi, p_hac = estimates[f]
            verdict = "associated" if qs[f] < Q_LEVEL else "no evidence"
            rr, rlo, rhi = _exp(b), _exp(lo), _exp(hi)
            results.append(FactorResult(
                f, k.contrast(f), rr, rlo, rhi, p, float(qs[f]), n_exp, n_unexp, verdict,
                sentence(f, k, rr, rlo, rhi, float(qs[f]), verdict, n_exp, n_unexp),
                p_rank, _exp(hlo), _exp(hhi), p_hac))
        else:
            nan = float("nan")
            verdict = "insufficient data"
            results.append(FactorResult(
                f, k.contrast(f), nan, nan, nan, nan, nan, n_exp, n_unexp, verdict,
                sentence(f, k, nan, nan, nan, nan, verdict, n_exp, n_unexp)))

    mu = np.exp(X @ params + log_exp)
    resid = (y - mu) / np.sqrt(mu + alpha * mu * mu)
    grid_resid = np.full(grid.t_s.size, np.nan)
    grid_resid[idx] = resid
    hourly = HourlyFit(
        time=tuple(t for t, ok in zip(hours.times(), known) if ok),
        counts=y.astype(np.int64), valid_h=valid_h, observed_rate_per_h=y / valid_h,
        fitted_rate_per_h=mu / valid_h, pearson_residual=resid,
        exposures={f: grid_exp[f][idx] for f in factors})
    sens = (_sensitivity(y, X, X0.shape[1], log_exp, alpha, beta, tested, diary, kernels, grid,
                         idx, shifts, estimates) if sensitivity else ())
    return TriggerResult(tuple(results), diary.not_logged, hourly, tuple(sens),
                         _acf(grid_resid, ACF_MAX_LAG_H), alpha, int(n_days), int(shifts.size),
                         tuple(notes))


def _sensitivity(y, X, n_base, log_exp, alpha, beta, tested, diary, kernels, grid, idx, shifts,
                 estimates) -> list[SensitivityRow]:
    rows = []
    for j, f in enumerate(tested):
        k = kernel_for(f, kernels)
        setting = sensitivity_settings(k)
        if setting is None:
            continue
        name, values = setting
        col = n_base + j
        for value in values:
            if value == getattr(k, name):
                b, lo, hi, p = estimates[f][:4]
                rows.append(SensitivityRow(f, name, value, True, _exp(b), _exp(lo),
                                           _exp(hi), p))
                continue
            g = exposure(replace(k, **{name: value}), diary.entries_for(f), grid.t_s,
                         grid.offset_s)
            x = g[idx]
            if not np.all(np.isfinite(x)) or np.ptp(x) == 0:
                continue
            Xs = X.copy()
            Xs[:, col] = x
            bs = nb_fit_fixed_alpha(y, Xs, log_exp, alpha, beta)
            null = _shift_betas(y, Xs, log_exp, alpha, bs, col, g, idx, shifts)
            p, lo, hi, _ = _permutation(bs[col], null)
            rows.append(SensitivityRow(f, name, value, False, _exp(bs[col]), _exp(lo),
                                       _exp(hi), p))
    return rows


def _acf(x: np.ndarray, max_lag: int) -> np.ndarray:
    """Autocorrelation of a series with NaN gaps at lags 0..max_lag (pairs both present)."""
    ok = np.isfinite(x)
    z = np.where(ok, x - np.nanmean(x), 0.0)
    var = np.sum(z * z) / max(ok.sum(), 1)
    out = np.full(max_lag + 1, np.nan)
    for lag in range(min(max_lag, x.size - 1) + 1):
        both = ok[: x.size - lag] & ok[lag:]
        if both.sum() > 2 and var > 0:
            out[lag] = np.sum(z[: x.size - lag] * z[lag:] * both) / both.sum() / var
    return out


def _pct(rr: float) -> tuple[int, str]:
    pct = round((rr - 1.0) * 100.0)
    return abs(pct), ("more" if pct >= 0 else "fewer")


def sentence(factor: str, kernel: Kernel, rr: float, lo: float, hi: float, q: float,
             verdict: str, exposed: int, unexposed: int) -> str:
    """A plain sentence about one factor (association, never cause).

    Examples
    --------
    >>> from emg.triggers.kernels import DEFAULT_KERNELS
    >>> sentence("caffeine", DEFAULT_KERNELS["caffeine"], 1.18, 1.06, 1.31, 0.01,
    ...          "associated", 30, 12)[:77]
    'Hours with more caffeine load had 18 % more fasciculations (95 % CI 6 to 31 %'
    """
    name = factor.replace("_", " ")
    if verdict == "insufficient data":
        return (f"{name.capitalize()}: insufficient data ({exposed} days with it and "
                f"{unexposed} without; at least {MIN_DAYS} of each are needed).")
    size, word = _pct(rr)
    (a, wa), (b, wb) = _pct(lo), _pct(hi)
    if wa == wb:
        lo_hi = (a, b) if wa == "more" else (b, a)
        ci = f"{lo_hi[0]} to {lo_hi[1]} % {wa}"
    else:
        ci = f"{a} % {wa} to {b} % {wb}"
    text = (f"{kernel.subject(factor).capitalize()} had {size} % {word} fasciculations "
            f"(95 % CI {ci}; {kernel.contrast(factor)}; q = {q:.2g}).")
    if verdict == "associated":
        return text + f" An association in your data, not proof that {name} causes it."
    return text + " No clear association in your data (which does not rule one out)."
