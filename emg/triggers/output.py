"""Files written by ``emg triggers``: ``triggers.csv`` (CONTRACT), the sensitivity table, text."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from .result import TriggerResult

__all__ = [
    "DISCLAIMER",
    "SENSITIVITY_COLUMNS",
    "TRIGGERS_COLUMNS",
    "summary_text",
    "write_sensitivity_csv",
    "write_triggers_csv",
]

TRIGGERS_COLUMNS = ("factor", "contrast", "rate_ratio", "ci_low", "ci_high", "p_value",
                    "q_value", "exposed_days", "unexposed_days", "verdict")
SENSITIVITY_COLUMNS = ("factor", "setting", "value", "is_default", "rate_ratio", "ci_low",
                       "ci_high", "p_value")
DISCLAIMER = (
    "Personal insight, not a diagnosis: these are associations in your own data, not causes. "
    "See a doctor when twitching lasts more than two weeks, spreads to more places, or comes "
    "with weakness or muscle wasting."
)


def _num(x: float, digits: int = 4) -> str:
    return "" if x is None or not math.isfinite(x) else f"{x:.{digits}g}"


def write_triggers_csv(result: TriggerResult, path: str | Path) -> None:
    """One row per logged factor, columns ``TRIGGERS_COLUMNS`` (empty numbers when not tested)."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(TRIGGERS_COLUMNS)
        for f in result.factors:
            w.writerow([f.factor, f.contrast, _num(f.rate_ratio), _num(f.ci_low),
                        _num(f.ci_high), _num(f.p_value), _num(f.q_value), f.exposed_days,
                        f.unexposed_days, f.verdict])


def write_sensitivity_csv(result: TriggerResult, path: str | Path) -> None:
    """The kernel-sensitivity table, one row per factor and setting value."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(SENSITIVITY_COLUMNS)
        for r in result.sensitivity:
            w.writerow([r.factor, r.setting, f"{r.value:g}", str(r.is_default).lower(),
                        _num(r.rate_ratio), _num(r.ci_low), _num(r.ci_high), _num(r.p_value)])


def summary_text(result: TriggerResult) -> str:
    """The sentences, what was not logged, the notes and the disclaimer, as plain text."""
    lines = [(f"{len(result.hourly.time)} hours over {result.n_days} days; p-values from "
             f"{result.n_shifts} whole-day shifts of each factor."), ""]
    lines += [f.sentence for f in result.factors]
    if result.not_logged:
        lines += ["", "Not logged (unknown, not zero): " + ", ".join(result.not_logged) + "."]
    if result.notes:
        lines += [""] + [f"Note: {n}." for n in result.notes]
    lines += ["", DISCLAIMER]
    return "\n".join(lines) + "\n"
