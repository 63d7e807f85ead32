"""Simulated weeks of hourly counts with a matching diary, for tests and the benchmark.

One person in ``Europe/Berlin`` (the six weeks from 2026-03-02 cross the change to summer
time on 2026-03-29). The log rate per hour of valid rest is

    log(base) + time-of-day rhythm + day-level AR(1) + hour-level AR(1)
    + log(caffeine_rr) * caffeine load / 100 mg (half-life 5 h)
    + log(training_rr) * strength-training kernel (linear over 48 h)

with the same default kernels the analysis uses, so the planted rate ratios are the
quantities the model estimates. Sleep, stress, magnesium, sitting and a generic ``alcohol``
factor are logged with realistic day-to-day structure but have no effect (null factors).
Counts are Poisson given the rate and the valid time; wear is partial: worn from waking to
bedtime (some nights too), a few days not at all, valid seconds varying within worn hours.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from .diary import Diary, parse_diary_rows
from .hourly import HourlyCounts
from .kernels import DEFAULT_KERNELS, exposure

__all__ = [
    "NULL_FACTORS",
    "PLANTED",
    "SimulatedWeeks",
    "simulate_weeks",
    "write_diary_csv",
    "write_rates_csv",
]

PLANTED = ("caffeine", "strength_training")
NULL_FACTORS = ("sleep", "stress", "magnesium", "sitting", "alcohol")
DIARY_HEADER = ["start", "end", "factor", "value", "unit", "note"]


@dataclass(frozen=True)
class SimulatedWeeks:
    """Simulated counts, diary and the truth.

    Attributes
    ----------
    hours : HourlyCounts
        Worn hours only (valid time > 0).
    diary_rows : list of list of str
        Diary CSV rows, header first.
    diary : Diary
        The same rows, parsed.
    truth : dict of str to float
        Rate ratio per contrast unit of each factor (1.0 for the null factors).
    """

    hours: HourlyCounts
    diary_rows: list[list[str]]
    diary: Diary
    truth: dict[str, float]


def _iso(t_s: float, zone: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(round(t_s / 60.0) * 60.0, zone).isoformat(timespec="minutes")


def simulate_weeks(seed: int, *, weeks: int = 6, caffeine_rr: float = 1.2,
                   training_rr: float = 1.3, base_rate_per_h: float = 30.0,
                   hour_sd: float = 0.25, hour_rho: float = 0.8, day_sd: float = 0.2,
                   day_rho: float = 0.6, tz: str = "Europe/Berlin",
                   start_date: str = "2026-03-02") -> SimulatedWeeks:
    """Simulate ``weeks`` of hourly counts and a matching diary.

    Parameters
    ----------
    seed : int
    weeks : int
    caffeine_rr : float
        Planted rate ratio per 100 mg of caffeine load.
    training_rr : float
        Planted rate ratio just after a strength-training session.
    base_rate_per_h : float
        Fasciculations per hour of valid rest at the mean of the noise.
    hour_sd, hour_rho : float
        Stationary SD and lag-1 correlation of the hourly AR(1) log-rate noise.
    day_sd, day_rho : float
        The same for the day-level AR(1) noise.
    tz : str
        IANA zone of the person's clock.
    start_date : str
        First local day (ISO date).

    Returns
    -------
    SimulatedWeeks
    """
    rng = np.random.default_rng(seed)
    zone = ZoneInfo(tz)
    n_days = 7 * weeks
    day0 = dt.date.fromisoformat(start_date)
    midnight = [dt.datetime.combine(day0 + dt.timedelta(days=d), dt.time(), zone).timestamp()
                for d in range(n_days + 1)]

    def at(day: int, hour: float) -> float:
        """POSIX seconds of a local clock time (hours after local midnight of ``day``)."""
        local = dt.datetime.combine(day0 + dt.timedelta(days=day), dt.time(), zone)
        naive = local.replace(tzinfo=None) + dt.timedelta(hours=hour)
        return naive.replace(tzinfo=zone).timestamp()

    rows: list[list[str]] = [list(DIARY_HEADER)]

    def log(start: float, factor: str, value: str, unit: str, end: float | None = None,
            note: str = "") -> None:
        rows.append([_iso(start, zone), "" if end is None else _iso(end, zone), factor, value,
                     unit, note])

    # sleep: the night before each day, bedtime ~23:00, 4.5-9.5 h
    wake = np.empty(n_days)
    bed = np.empty(n_days)
    for d in range(n_days):
        hours = float(np.clip(rng.normal(7.1, 0.9), 4.5, 9.5))
        bed_h = float(rng.normal(23.0, 0.6)) - 24.0  # before local midnight of day d
        bed[d] = at(d, bed_h)
        wake[d] = bed[d] + hours * 3600.0
        log(bed[d], "sleep", f"{hours:.1f}", "h", end=wake[d])
    # caffeine: 70 % of days, 1-3 drinks
    for d in range(n_days):
        if rng.random() < 0.7:
            n = rng.choice([1, 2, 3], p=[0.4, 0.4, 0.2])
            for clock in (7.8, 12.5, 15.5)[:n]:
                mg = float(rng.choice([60.0, 95.0, 130.0]))
                t = at(d, clock + rng.normal(0, 0.4))
                if rng.random() < 0.1:
                    log(t, "caffeine", f"{mg / 1000:g}", "g")
                else:
                    log(t, "caffeine", f"{mg:g}", "mg")
    # strength training: about 3 days a week, never two days running
    last = -2
    for d in range(n_days):
        if d - last > 1 and rng.random() < 0.5:
            last = d
            minutes = float(rng.integers(40, 80))
            t = at(d, 18.0 + rng.normal(0, 0.7))
            log(t, "strength_training", f"{minutes:g}", "min", end=t + minutes * 60.0,
                note=f"RPE {int(rng.integers(5, 10))}")
    # stress: logged on stressful days (day-level AR latent)
    latent = 0.0
    for d in range(n_days):
        latent = 0.7 * latent + rng.normal(0, 0.7)
        if latent > 0.0:
            for clock in (10.0, 16.0)[: 1 + int(latent > 0.8)]:
                score = int(np.clip(round(3 + 2 * latent + rng.normal(0, 1)), 1, 10))
                log(at(d, clock + rng.normal(0, 0.5)), "stress", str(score), "0-10")
    # magnesium: blocks of days
    on = set()
    first = int(rng.integers(3, 12))
    on.update(range(first, min(n_days, first + int(rng.integers(8, 15)))))
    second = first + int(rng.integers(18, 26))
    on.update(range(second, min(n_days, second + int(rng.integers(6, 12)))))
    for d in sorted(on):
        log(at(d, 21.0 + rng.normal(0, 0.3)), "magnesium", "400", "mg")
    # sitting: weekdays, blocks between 9 and 17
    for d in range(n_days):
        if (day0 + dt.timedelta(days=d)).weekday() < 5 and rng.random() < 0.9:
            for clock in sorted(rng.uniform(9.0, 16.0, size=int(rng.integers(2, 5)))):
                minutes = float(rng.integers(30, 120))
                t = at(d, clock)
                log(t, "sitting", f"{minutes:g}", "min", end=t + minutes * 60.0)
    # alcohol (a generic factor): some evenings
    for d in range(n_days):
        if rng.random() < 0.3:
            log(at(d, 20.0 + rng.normal(0, 0.8)), "alcohol", str(int(rng.integers(1, 4))),
                "drinks")
    header, body = rows[0], rows[1:]
    body.sort(key=lambda r: dt.datetime.fromisoformat(r[0]).timestamp())
    rows = [header] + body
    diary = parse_diary_rows(rows, "<simulated diary>")

    # hours of the whole period
    hour_start = np.arange(midnight[0], midnight[-1], 3600.0)
    mid = hour_start + 1800.0
    offset = np.array([dt.datetime.fromtimestamp(t, zone).utcoffset().total_seconds()
                       for t in hour_start])
    hod = ((mid + offset) % 86400.0) / 3600.0
    day = np.searchsorted(np.array(midnight), mid, side="right") - 1
    rhythm = 0.3 * np.cos(2 * np.pi * (hod - 16.0) / 24.0) + 0.1 * np.sin(4 * np.pi * hod / 24.0)
    day_noise = np.empty(n_days)
    e = rng.normal(0, day_sd)
    for d in range(n_days):
        day_noise[d] = e
        e = day_rho * e + rng.normal(0, day_sd * math.sqrt(1 - day_rho**2))
    hour_noise = np.empty(mid.size)
    e = rng.normal(0, hour_sd)
    for i in range(mid.size):
        hour_noise[i] = e
        e = hour_rho * e + rng.normal(0, hour_sd * math.sqrt(1 - hour_rho**2))
    caffeine = exposure(DEFAULT_KERNELS["caffeine"], diary.entries_for("caffeine"), mid)
    training = exposure(DEFAULT_KERNELS["strength_training"],
                        diary.entries_for("strength_training"), mid)
    log_rate = (math.log(base_rate_per_h) + rhythm + day_noise[day] + hour_noise
                + math.log(caffeine_rr) * caffeine + math.log(training_rr) * training)

    # wear: from waking to bedtime, 30 % of nights too, 3 days not at all
    worn = np.zeros(mid.size, bool)
    skip = set(rng.choice(n_days, size=3, replace=False).tolist())
    for d in range(n_days):
        if d in skip:
            continue
        bedtime = bed[d + 1] if d + 1 < n_days else midnight[-1]
        worn |= (mid > wake[d] + 1800.0) & (mid < bedtime)
        if rng.random() < 0.3:
            worn |= (mid > bed[d]) & (mid < wake[d])
    valid_s = np.where(worn, 3600.0 * rng.beta(5.0, 2.0, size=mid.size), 0.0)
    short = worn & (rng.random(mid.size) < 0.05)
    valid_s[short] = rng.uniform(30.0, 300.0, size=int(short.sum()))
    valid_s = np.round(valid_s, 1)
    counts = rng.poisson(np.exp(log_rate) * valid_s / 3600.0)
    keep = valid_s > 0
    hours = HourlyCounts.from_arrays(hour_start[keep], offset[keep], counts[keep],
                                     valid_s[keep], ("left_calf",))
    truth = {"caffeine": caffeine_rr, "strength_training": training_rr}
    truth.update({f: 1.0 for f in NULL_FACTORS})
    return SimulatedWeeks(hours, rows, diary, truth)


def write_rates_csv(path: str | Path, hours: HourlyCounts, channel: str = "left_calf") -> None:
    """Write hourly counts as a CONTRACT ``rates.csv`` (one channel)."""
    from ..rates import MIN_VALID_S, poisson_ci

    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["hour_start", "channel", "fasciculations", "valid_s", "rate_per_hour",
                    "ci_low", "ci_high"])
        for when, n, valid in zip(hours.times(), hours.counts, hours.valid_s):
            rate = lo = hi = ""
            if valid >= MIN_VALID_S:
                h = valid / 3600.0
                low, high = poisson_ci(int(n), h)
                rate, lo, hi = f"{n / h:.3f}", f"{low:.3f}", f"{high:.3f}"
            w.writerow([when.isoformat(), channel, int(n), f"{valid:.1f}", rate, lo, hi])


def write_diary_csv(path: str | Path, rows: list[list[str]]) -> None:
    """Write diary rows (header first) as CSV."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
