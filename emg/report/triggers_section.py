"""The report's trigger-factor section: runs :mod:`emg.triggers` and renders its result."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import EmgError
from . import html as H

__all__ = ["render", "render_result", "run_triggers"]


def run_triggers(
    rates_paths: Sequence[Path], diary: Path, *, body_mass_kg: float | None = None
) -> Any:
    """Relate the hourly rates of ``rates_paths`` to ``diary`` with the default kernels.

    Returns the ``emg.triggers`` ``TriggerResult``; raises :class:`EmgError` (one line) on a bad
    diary or rates file, or when the model cannot be fitted.
    """
    from ..triggers.diary import read_diary
    from ..triggers.hourly import read_rates
    from ..triggers.kernels import load_kernels
    from ..triggers.model import analyse

    hours = read_rates(list(rates_paths))
    entries = read_diary(diary, body_mass_kg=body_mass_kg)
    return analyse(hours, entries, load_kernels(None))


def _p(x: float) -> str:
    if x is None or not math.isfinite(x):
        return "–"
    return "< 0.001" if x < 0.001 else f"{x:.3f}"


def _rr(f: Any) -> str:
    if not math.isfinite(f.rate_ratio):
        return "–"
    return f"{f.rate_ratio:.2f} ({f.ci_low:.2f}–{f.ci_high:.2f})"


def render_result(result: Any) -> str:
    """HTML body of the trigger section for a ``TriggerResult``."""
    from .plots import setting_label, to_png, trigger_figures

    factors = list(result.factors)
    rows = []
    for f in factors:
        tag = f'<span class="tag {f.verdict.replace(" ", "-")}">{H.esc(f.verdict)}</span>'
        rows.append(
            [
                H.esc(f.factor),
                H.esc(f.contrast),
                _rr(f),
                _p(f.p_value),
                _p(f.q_value),
                str(f.exposed_days),
                str(f.unexposed_days),
                tag,
            ]
        )
    body = (
        H.table(
            [
                "Factor",
                "One unit means",
                "Rate ratio (95 % interval)",
                "p",
                "q",
                "Days with",
                "Days without",
                "Verdict",
            ],
            rows,
            numeric=(2, 3, 4, 5, 6),
            caption="Rate ratio: how many times the hourly rate changes per unit of the factor (1 = no change). "
            "p comes from shifting each factor by whole days; q corrects p for testing several factors. "
            "A factor needs 5 days with and 5 without it for an estimate.",
        )
        if rows
        else '<p class="note">The diary has no factor that could be analysed.</p>'
    )
    sentences = [f.sentence for f in factors if f.sentence]
    if sentences:
        body += (
            '<h3>In words</h3><ul class="sentences">'
            + "".join(f"<li>{H.esc(s)}</li>" for s in sentences)
            + "</ul>"
        )
    if result.not_logged:
        body += (
            f'<p class="lead">Not logged in the diary (unknown, which is not the same as none): '
            f"{H.esc(', '.join(result.not_logged))}.</p>"
        )
    figs = trigger_figures(result)
    captions = {
        "forest": (
            "Rate ratio of each factor with its 95 % interval on a log scale.",
            (
                "Each factor's rate ratio with its 95 % interval. An interval that crosses the line at 1 "
                "is compatible with no effect. Factors without enough days are listed in grey, not drawn."
            ),
        ),
        "fitted": (
            "Observed and model-expected hourly rate over time, with each factor's exposure beneath.",
            (
                "Grey dots: observed rate in each hour; blue line: what the model expects from time of day, "
                "slow trend and the factors. The strips below show each factor's exposure over the same "
                "hours (caffeine as a decaying load, training as a fading effect, and so on)."
            ),
        ),
        "sensitivity": (
            "Rate ratio of each factor across kernel settings.",
            (
                "The same rate ratios when the assumed time course changes (caffeine half-life, "
                "training window, ...). A finding that holds across settings is more trustworthy."
            ),
        ),
        "acf": (
            "Autocorrelation of the model's residuals by lag in hours.",
            (
                "How much neighbouring hours still resemble each other after the model. Bars outside the "
                "shaded band are why p-values come from day shifts rather than from the model alone."
            ),
        ),
    }
    for key, fig in figs.items():
        alt, caption = captions[key]
        body += H.figure(to_png(fig), alt, caption)
    if result.sensitivity:
        srows = [
            [
                H.esc(r.factor),
                H.esc(setting_label(r.setting, r.value, r.is_default)),
                "–"
                if not math.isfinite(r.rate_ratio)
                else f"{r.rate_ratio:.2f} ({r.ci_low:.2f}–{r.ci_high:.2f})",
                _p(r.p_value),
            ]
            for r in result.sensitivity
        ]
        body += H.table(
            ["Factor", "Kernel setting", "Rate ratio (95 % interval)", "p"],
            srows,
            numeric=(2, 3),
            caption="Sensitivity of each estimate to the kernel settings (the others at their defaults).",
        )
    for note in getattr(result, "notes", ()):
        body += f'<p class="note">{H.esc(note)}</p>'
    body += (
        f'<p class="lead">Model: negative binomial on {len(result.hourly.time)} hours over {result.n_days} days, '
        f"with time-of-day and slow trend; p-values from {result.n_shifts} day shifts.</p>"
    )
    return body


_LEAD = (
    "How your hourly rate went along with the factors in your diary, allowing for the time of day and "
    "slow trends. These are associations in your own data, not causes, and they are uncertain: "
    "read the intervals, not just the verdicts."
)


def render(rates_paths: Sequence[Path], diary: Path, errors: list[EmgError]) -> str:
    """The whole trigger section; a bad diary or failed model becomes a note (and an entry in ``errors``)."""
    try:
        body = render_result(run_triggers(rates_paths, diary))
    except EmgError as exc:
        errors.append(exc)
        body = f'<p class="note">The trigger analysis could not be run: {H.esc(exc)}</p>'
    return H.section("triggers", "Trigger factors", _LEAD, body)
