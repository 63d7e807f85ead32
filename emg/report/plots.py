"""Figures for the report and for ``emg triggers``: each function returns a Matplotlib Figure.

The only module of ``emg`` that imports Matplotlib, and only inside the functions (``import
emg.report.plots`` stays cheap). Figures are built with the object-oriented API on an Agg
canvas: no pyplot, no global state, nothing is ever shown; :func:`to_png` turns a figure into
PNG bytes. Colours are the Okabe-Ito palette (distinguishable with colour-vision deficiency)
and every meaning carried by colour is also written as text (legend, labels).

Recording figures take the tables of :mod:`emg.report.load`; trigger figures take the arrays
of a trigger result (see :func:`forest_plot` ...) or the ``emg.triggers`` ``TriggerResult`` itself
(:func:`trigger_figures`, :func:`save_trigger_plots`).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..types import EVENT_LABELS, SEGMENT_LABELS

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from .load import Analysis, RateTable, UnitTemplate
    from .snippets import Snippets

__all__ = [
    "CHANNEL_COLOURS",
    "LABEL_COLOURS",
    "SEGMENT_COLOURS",
    "acf_plot",
    "fitted_plot",
    "forest_plot",
    "quality_timeline",
    "rate_plot",
    "save_trigger_plots",
    "sensitivity_plot",
    "setting_label",
    "to_png",
    "trigger_figures",
    "unit_template_plot",
    "waveform_gallery",
]

# Okabe & Ito (2008) colour-blind-safe palette
_OI = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
LABEL_COLOURS = {"fasciculation": _OI["blue"], "ecg": _OI["vermillion"], "artifact": "#666666"}
SEGMENT_COLOURS = {
    "voluntary": _OI["orange"],
    "cramp": _OI["purple"],
    "myokymia": _OI["green"],
    "artifact": "#666666",
    "noisy": _OI["yellow"],
    "gap": _OI["black"],
}
CHANNEL_COLOURS = (
    _OI["blue"],
    _OI["vermillion"],
    _OI["green"],
    _OI["purple"],
    _OI["orange"],
    _OI["sky"],
    _OI["black"],
    "#999999",
)
_GREY = "#9a9a9a"
_LABEL_NAMES = {
    "fasciculation": "Fasciculations",
    "ecg": "Heartbeats (ECG)",
    "artifact": "Artefacts",
}

_STYLE = {
    "text.parse_math": False,  # channel, file and factor names may hold "$": never mathtext
    "font.size": 10,
    "axes.titlesize": 10.5,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 9.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e3e3e3",
    "grid.linewidth": 0.7,
    "axes.axisbelow": True,
    "legend.frameon": False,
    "legend.fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "figure.dpi": 100,
    "savefig.dpi": 110,
}


def _styled(func):
    """Run a figure function inside the report's rc settings."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context(_STYLE):
            return func(*args, **kwargs)

    return wrapper


def _figure(width_in: float, height_in: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def to_png(fig: Figure, dpi: float = 110) -> bytes:
    """The figure as PNG bytes (Agg renderer)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()


def _time_axis(ax, tz: dt.tzinfo | None) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(tz=tz, minticks=3, maxticks=9)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=tz))


def _nice(x: float) -> float:
    """The largest 1, 2 or 5 times a power of ten not above ``x`` (for scale bars)."""
    if not x > 0:
        return 1.0
    p = 10.0 ** math.floor(math.log10(x))
    return max(m * p for m in (1.0, 2.0, 5.0) if m * p <= x)


def _note(ax, text: str) -> None:
    ax.text(
        0.5,
        0.5,
        text,
        transform=ax.transAxes,
        ha="center",
        va="center",
        color="#555555",
        fontsize=10,
    )
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)


# --------------------------------------------------------------------------------------------
# Recording figures
# --------------------------------------------------------------------------------------------


def _runs(starts: np.ndarray, step: dt.timedelta) -> list[tuple[dt.datetime, dt.datetime]]:
    """Merge hour starts into (begin, end) runs of consecutive hours."""
    out: list[list[dt.datetime]] = []
    for s in sorted(starts):
        if out and s <= out[-1][1]:
            out[-1][1] = s + step
        else:
            out.append([s, s + step])
    return [(a, b) for a, b in out]


@_styled
def rate_plot(
    rates: RateTable, channels: Sequence[str] | None = None, *, min_valid_s: float = 300.0
) -> Figure:
    """Fasciculations per hour of valid rest over time, with 95 % intervals, and the valid time.

    Parameters
    ----------
    rates : RateTable
        Rows of one or more ``rates.csv`` files.
    channels : sequence of str, optional
        Channels to show (default: all, in order of appearance).
    min_valid_s : float
        Hours with less valid rest get no rate; they are marked on the axis instead.

    Returns
    -------
    Figure
        One panel per channel (rate with interval bars), and a last panel with the minutes of
        valid rest in each hour; shared time axis.
    """
    names = list(channels) if channels is not None else list(dict.fromkeys(rates.channel.tolist()))
    n = len(names)
    fig = _figure(10.0, 1.0 + (1.9 if n <= 4 else 1.3) * max(n, 1) + 1.5)
    if n == 0 or len(rates) == 0:
        _note(fig.add_subplot(), "No hourly rates in this folder.")
        return fig
    axes = fig.subplots(n + 1, 1, sharex=True, height_ratios=[1.0] * n + [0.7])
    tz = rates.hour_start[0].tzinfo
    hour = dt.timedelta(hours=1)
    width_days = 1.0 / 24.0 / (n + 1)
    for i, (ax, name) in enumerate(zip(axes[:-1], names)):
        colour = CHANNEL_COLOURS[i % len(CHANNEL_COLOURS)]
        m = rates.channel == name
        starts = rates.hour_start[m]
        centres = np.array([s + hour / 2 for s in starts], dtype=object)
        ok = (rates.valid_s[m] >= min_valid_s) & np.isfinite(rates.rate_per_hour[m])
        r = rates.rate_per_hour[m]
        lo = np.where(np.isfinite(rates.ci_low[m]), rates.ci_low[m], r)
        hi = np.where(np.isfinite(rates.ci_high[m]), rates.ci_high[m], r)
        dense = len(starts) > 96  # weeks of hours: thin bars, and the daily rate on top
        if ok.any():
            ax.errorbar(
                list(centres[ok]),
                r[ok],
                yerr=[r[ok] - lo[ok], hi[ok] - r[ok]],
                fmt="o",
                ms=2.5 if dense else 4.5,
                color=colour,
                ecolor=colour,
                elinewidth=0.7 if dense else 1.2,
                capsize=0 if dense else 2.5,
                alpha=0.55 if dense else 0.95,
                label="hourly rate, 95 % interval",
            )
            top = float(np.nanmax(hi[ok]))
        else:
            top = 1.0
        for a, b in _runs(starts[~ok], hour):
            ax.axvspan(a, b, color="#e9e9e9", lw=0, zorder=0)
        if (~ok).any():
            ax.fill_between(
                [],
                [],
                color="#e9e9e9",
                label=f"no rate (under {min_valid_s / 60:.0f} min valid rest)",
            )
        if dense:
            from .summarize import daily_rates

            days, d_rate, _, _ = daily_rates(rates, name, min_valid_s=min_valid_s)
            edges = [d + dt.timedelta(days=1) for d in days]
            good = np.isfinite(d_rate)
            for k in np.flatnonzero(good):
                ax.plot(
                    [days[k], edges[k]],
                    [d_rate[k]] * 2,
                    color="black",
                    lw=2.2,
                    solid_capstyle="butt",
                    label="daily rate" if k == np.flatnonzero(good)[0] else None,
                )
        ax.set_ylim(0, max(top * 1.1, 1.0))
        ax.set_ylabel("per hour")
        ax.set_title(f"{name}: fasciculations per hour of valid rest", color="#222222")
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 0.98), ncols=3, fontsize=8.5)
    ax = axes[-1]
    for i, name in enumerate(names):
        m = rates.channel == name
        offset = (i - (n - 1) / 2) * width_days
        x = [s + hour / 2 + dt.timedelta(days=offset) for s in rates.hour_start[m]]
        ax.bar(
            x,
            rates.valid_s[m] / 60.0,
            width=width_days,
            color=CHANNEL_COLOURS[i % len(CHANNEL_COLOURS)],
            label=name,
            alpha=0.85,
        )
    ax.axhline(min_valid_s / 60.0, color=_GREY, lw=1, ls="--")
    ax.set_ylim(0, 62)
    ax.set_yticks([0, 15, 30, 45, 60])
    ax.set_ylabel("valid min")
    ax.set_title(
        "Minutes of valid rest in each hour (dashed: 5 min, the least that gets a rate)",
        color="#222222",
    )
    if n > 1:
        ax.legend(loc="upper right", ncols=min(n, 6))
    first = min(rates.hour_start)
    last = max(rates.hour_start) + hour
    ax.set_xlim(first, last)
    _time_axis(ax, tz)
    return fig


@_styled
def quality_timeline(analysis: Analysis, *, max_events: int = 20000) -> Figure:
    """What each stretch of one recording was: excluded segments by label, and counted events.

    One row per channel over the recording's clock time: coloured bars for excluded intervals
    (voluntary, cramp, myokymia, artefact, noisy, gap) and a tick for every fasciculation.
    """
    s = analysis.summary
    names = list(s.channels)
    fig = _figure(10.0, 1.1 + 0.45 * len(names) + 0.6)
    ax = fig.add_subplot()
    start = s.start
    to_time = np.vectorize(lambda t: start + dt.timedelta(seconds=float(t)), otypes=[object])
    seen = set()
    for row, name in enumerate(names):
        y = len(names) - 1 - row
        seg = analysis.segments
        m = seg.channel == name
        all_ch = np.array([c.lower() in ("", "all", "*") for c in seg.channel], dtype=bool)
        m = m | all_ch
        for label in SEGMENT_LABELS:
            k = m & (seg.label == label)
            if not k.any():
                continue
            bars = [
                (start + dt.timedelta(seconds=float(a)), dt.timedelta(seconds=float(b - a)))
                for a, b in zip(seg.start_s[k], seg.end_s[k])
            ]
            import matplotlib.dates as mdates

            xs = [(mdates.date2num(a), b.total_seconds() / 86400.0) for a, b in bars]
            ax.broken_barh(
                xs,
                (y - 0.38, 0.76),
                color=SEGMENT_COLOURS[label],
                label=None if label in seen else label,
                alpha=0.9 if label != "noisy" else 1.0,
            )
            seen.add(label)
        ev = analysis.events
        k = np.flatnonzero((ev.channel == name) & (ev.label == "fasciculation"))[:max_events]
        if k.size:
            ax.vlines(
                list(to_time(ev.onset_s[k])),
                y - 0.3,
                y + 0.3,
                color=LABEL_COLOURS["fasciculation"],
                lw=0.8,
                label=None if "fasc" in seen else "fasciculation (one tick each)",
            )
            seen.add("fasc")
    ax.set_yticks(range(len(names)), names[::-1])
    ax.set_ylim(-0.6, len(names) - 0.4)
    ax.set_xlim(start, start + dt.timedelta(seconds=s.duration_s))
    ax.grid(axis="y", visible=False)
    _time_axis(ax, start.tzinfo)
    ax.set_title(f"{analysis.stem}: what each stretch of the recording was", color="#222222")
    if seen:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncols=4)
    else:
        ax.text(
            0.5,
            0.5,
            "no excluded stretches and no fasciculations",
            transform=ax.transAxes,
            ha="center",
            va="center",
            color="#555555",
        )
    return fig


@_styled
def waveform_gallery(
    snippets: Snippets, labels: Sequence[str], titles: Sequence[str], *, columns: int = 5
) -> Figure:
    """Example waveforms, one row per event label side by side, each trace with its own µV scale bar.

    Parameters
    ----------
    snippets : Snippets
        Filtered waveforms (µV), time 0 at the largest deflection.
    labels : sequence of str
        Event label of each snippet row (``fasciculation``, ``ecg``, ``artifact``).
    titles : sequence of str
        A short caption per snippet (channel, clock time, amplitude).
    columns : int
        Examples per row at most.
    """
    labels = np.asarray(labels, dtype=object)
    present = [name for name in EVENT_LABELS if np.any(labels == name)]
    fig = _figure(10.0, 0.3 + 1.9 * max(len(present), 1))
    if not present:
        _note(fig.add_subplot(), "No events to show.")
        return fig
    # one axes per label, the examples side by side on it (far cheaper to draw than a grid)
    axes = fig.subplots(len(present), 1, squeeze=False)[:, 0]
    t = snippets.times_ms
    width = float(t[-1] - t[0])
    step = width * 1.25
    for ax, name in zip(axes, present):
        rows = np.flatnonzero(labels == name)[:columns]
        colour = LABEL_COLOURS.get(name, "black")
        for k, i in enumerate(rows):
            # each trace on its own scale (sizes differ 100-fold), with a vertical µV scale bar
            x0 = k * step
            wave = snippets.waveforms_uv[i]
            half = float(np.max(np.abs(wave))) or 1.0
            bar_uv = _nice(0.5 * half)
            ax.axvline(x0, color="#d5d5d5", lw=0.8, zorder=0)
            ax.plot(t + x0, wave / half, color=colour, lw=1.4)
            ax.text(x0, 1.12, titles[i], ha="center", va="bottom", fontsize=8, color="#333333")
            xb = x0 + t[-1] + 0.04 * width
            ax.plot(
                [xb, xb],
                [-bar_uv / half / 2, bar_uv / half / 2],
                color="black",
                lw=1.6,
                solid_capstyle="butt",
            )
            ax.text(
                xb + 0.03 * width,
                0,
                f"{bar_uv:g} µV",
                rotation=90,
                ha="left",
                va="center",
                fontsize=7,
            )
        ax.set_ylim(-1.4, 1.45)
        ax.set_xlim(t[0] - 0.1 * width, (columns - 1) * step + t[-1] + 0.2 * width)
        ax.set_ylabel(_LABEL_NAMES.get(name, name), fontsize=9.5)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        for side in ("left", "bottom"):
            ax.spines[side].set_visible(False)
        # a 10 ms scale bar under the first example
        ax.plot([t[0], t[0] + 10.0], [-1.25] * 2, color="black", lw=2, solid_capstyle="butt")
        ax.text(t[0] + 12.0, -1.25, "10 ms", ha="left", va="center", fontsize=8)
    axes[-1].set_xlabel(
        "each trace: 50 ms around the event's largest deflection (grey line), on its own scale"
    )
    return fig


@_styled
def unit_template_plot(templates: Sequence[UnitTemplate], *, max_units: int = 8) -> Figure:
    """Mean waveform of each putative motor unit, one panel per channel.

    The legend gives each unit's id, how many fasciculations it fired and its rate per hour
    (when known). At most ``max_units`` units per channel, the most active first.
    """
    channels = list(dict.fromkeys(t.channel for t in templates))
    ncols = min(3, max(len(channels), 1))
    nrows = max(1, math.ceil(len(channels) / ncols))
    most = max((sum(t.channel == c for t in templates) for c in channels), default=0)
    fig = _figure(10.0, 0.5 + (2.6 + 0.2 * math.ceil(min(most, max_units) / 2)) * nrows)
    if not channels:
        _note(fig.add_subplot(), "No motor-unit templates.")
        return fig
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, name in zip(axes, channels):
        units = [t for t in templates if t.channel == name]
        units.sort(key=lambda t: -(t.count or 0))
        for k, unit in enumerate(units[:max_units]):
            t_ms = (np.arange(unit.template_uv.size) - unit.peak_index) / unit.fs * 1e3
            parts = [f"unit {unit.unit}"]
            if unit.count is not None:
                parts.append(f"{unit.count}×")
            if unit.rate_per_hour is not None and math.isfinite(unit.rate_per_hour):
                parts.append(f"{unit.rate_per_hour:.1f}/h")
            ax.plot(
                t_ms,
                unit.template_uv,
                color=CHANNEL_COLOURS[k % len(CHANNEL_COLOURS)],
                lw=1.6,
                ls="-" if k < 4 else "--",
                label=" · ".join(parts),
            )
        ax.axvline(0, color="#cccccc", lw=0.8)
        ax.set_title(name, color="#222222")
        ax.set_xlabel("ms from peak")
        ax.set_ylabel("µV")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncols=2, fontsize=8)
    for ax in axes[len(channels) :]:
        ax.set_axis_off()
    return fig


# --------------------------------------------------------------------------------------------
# Trigger figures
# --------------------------------------------------------------------------------------------

_RATIO_TICKS = (0.1, 0.2, 0.25, 0.33, 0.5, 0.67, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 10.0)


def _ratio_axis(axis, low: float, high: float) -> None:
    """A log-scaled rate-ratio axis from ``low`` to ``high`` with plain-number ticks."""
    import matplotlib.ticker as mticker

    is_x = axis is axis.axes.xaxis
    if is_x:
        axis.axes.set_xscale("log")
    else:
        axis.axes.set_yscale("log")
    ticks = [t for t in _RATIO_TICKS if low <= t <= high]
    if len(ticks) < 4:
        ticks = [t for t in sorted(_RATIO_TICKS + (0.9, 1.1)) if low <= t <= high]
    if len(ticks) < 3:  # a narrow range: add ticks at round steps of 0.05
        ticks = sorted(set(ticks) | {round(v, 2) for v in np.geomspace(low, high, 5)[1:-1]})
    axis.set_major_locator(mticker.FixedLocator(ticks))
    axis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_locator(mticker.NullLocator())
    if is_x:
        axis.axes.set_xlim(low, high)
    else:
        axis.axes.set_ylim(low, high)


_VERDICT_COLOURS = {
    "associated": _OI["vermillion"],
    "no evidence": _OI["blue"],
    "insufficient data": _GREY,
}


@_styled
def forest_plot(
    factors: Sequence[str],
    rate_ratio: Sequence[float],
    ci_low: Sequence[float],
    ci_high: Sequence[float],
    verdict: Sequence[str],
    contrast: Sequence[str] | None = None,
) -> Figure:
    """Rate ratio per factor with its 95 % interval on a log axis.

    Factors with an estimate are drawn as points with interval bars, coloured by verdict
    (associated / no evidence); factors with ``insufficient data`` (or no estimate) are
    listed in grey under the axis, never drawn as an estimate.
    """
    rr = np.asarray(rate_ratio, dtype=float)
    lo = np.asarray(ci_low, dtype=float)
    hi = np.asarray(ci_high, dtype=float)
    verdict = [str(v) for v in verdict]
    contrast = list(contrast) if contrast is not None else [""] * len(factors)
    drawn = [
        i
        for i in range(len(factors))
        if verdict[i] != "insufficient data" and np.isfinite(rr[i]) and rr[i] > 0
    ]
    left_out = [factors[i] for i in range(len(factors)) if i not in drawn]
    fig = _figure(9.0, 1.3 + 0.42 * max(len(drawn), 1) + (0.35 if left_out else 0))
    ax = fig.add_subplot()
    if not drawn:
        _note(ax, "No factor has enough exposed and unexposed days for an estimate.")
    else:
        ys = np.arange(len(drawn))[::-1]
        for y, i in zip(ys, drawn):
            colour = _VERDICT_COLOURS.get(verdict[i], "black")
            ax.plot([lo[i], hi[i]], [y, y], color=colour, lw=2.2, solid_capstyle="butt")
            ax.plot(rr[i], y, "s" if verdict[i] == "associated" else "o", color=colour, ms=7)
        labels = [f"{factors[i]}\n{contrast[i]}" if contrast[i] else factors[i] for i in drawn]
        ax.set_yticks(ys, labels, fontsize=8.5)
        ax.axvline(1.0, color="#444444", lw=1)
        finite = np.concatenate([lo[drawn], hi[drawn], rr[drawn]])
        finite = finite[np.isfinite(finite) & (finite > 0)]
        span = max(float(np.max(np.abs(np.log(finite)))) * 1.15, math.log(1.5))
        _ratio_axis(ax.xaxis, math.exp(-span), math.exp(span))
        ax.set_ylim(-0.7, len(drawn) - 0.3)
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("rate ratio (log scale): below 1 fewer, above 1 more fasciculations")
        from matplotlib.lines import Line2D

        handles = [
            Line2D(
                [], [], color=_VERDICT_COLOURS["associated"], marker="s", lw=2.2, label="associated"
            ),
            Line2D(
                [],
                [],
                color=_VERDICT_COLOURS["no evidence"],
                marker="o",
                lw=2.2,
                label="no evidence",
            ),
        ]
        fig.legend(handles=handles, loc="outside upper right", ncols=2)
    ax.set_title("Rate ratio per factor, 95 % interval", color="#222222")
    if left_out:
        fig.text(
            0.01,
            0.005,
            "Insufficient data (no estimate): " + ", ".join(left_out),
            color="#666666",
            fontsize=8.5,
            ha="left",
            va="bottom",
        )
    return fig


@_styled
def fitted_plot(
    hour_start: Sequence[dt.datetime],
    observed_per_hour: Sequence[float],
    fitted_per_hour: Sequence[float],
    exposures: Mapping[str, Sequence[float]],
    *,
    units: Mapping[str, str] | None = None,
) -> Figure:
    """Observed and fitted hourly rate over time, with each factor's exposure drawn beneath.

    Parameters
    ----------
    hour_start : sequence of tz-aware datetime
        Start of each hour in the model.
    observed_per_hour, fitted_per_hour : sequence of float
        Fasciculations per hour of valid rest (NaN where an hour had no valid time).
    exposures : mapping of factor name to sequence of float
        Each factor's exposure per hour (after its kernel), one strip each; NaN = not logged.
    units : mapping of factor name to str, optional
        Unit of each exposure for the strip's label.
    """
    hours = list(hour_start)
    n_fac = len(exposures)
    fig = _figure(10.0, 2.8 + 0.7 * n_fac)
    if not hours:
        _note(fig.add_subplot(), "No hours to show.")
        return fig
    axes = fig.subplots(
        1 + n_fac, 1, sharex=True, height_ratios=[3.0] + [0.9] * n_fac, squeeze=False
    )[:, 0]
    ax = axes[0]
    obs = np.asarray(observed_per_hour, dtype=float)
    fit = np.asarray(fitted_per_hour, dtype=float)
    centre = [h + dt.timedelta(minutes=30) for h in hours]
    ax.plot(centre, obs, "o", ms=2.8, color=_GREY, label="observed")
    ax.plot(centre, fit, "-", lw=1.5, color=_OI["blue"], label="model")
    ax.set_ylabel("per hour")
    ax.set_ylim(bottom=0)
    ax.set_title("Fasciculations per hour: observed and what the model expects", color="#222222")
    ax.legend(loc="upper right", ncols=2)
    for k, (ax, (name, values)) in enumerate(zip(axes[1:], exposures.items())):
        v = np.asarray(values, dtype=float)
        colour = CHANNEL_COLOURS[(k + 1) % len(CHANNEL_COLOURS)]
        ax.fill_between(centre, 0, np.nan_to_num(v), step="mid", color=colour, alpha=0.55, lw=0)
        top = float(np.nanmax(v)) if np.isfinite(v).any() else 0.0
        ax.set_ylim(0, top * 1.1 if top > 0 else 1.0)
        ax.set_yticks([])
        unit = (units or {}).get(name, "")
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8.5)
        ax.text(
            1.0,
            0.95,
            f"max {top:.3g} {unit}".rstrip(),
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=7.5,
            color="#555555",
        )
        ax.grid(axis="y", visible=False)
    axes[-1].set_xlim(hours[0], hours[-1] + dt.timedelta(hours=1))
    _time_axis(axes[-1], hours[0].tzinfo)
    return fig


@_styled
def sensitivity_plot(
    factor: Sequence[str],
    setting: Sequence[str],
    rate_ratio: Sequence[float],
    ci_low: Sequence[float],
    ci_high: Sequence[float],
) -> Figure:
    """Rate ratio of each factor across kernel settings (one panel per factor, log axis).

    A finding that holds across half-lives and windows is more trustworthy than one that
    appears only at one setting. Rows with no estimate are left out.
    """
    factor = [str(f) for f in factor]
    setting = [str(s) for s in setting]
    rr = np.asarray(rate_ratio, dtype=float)
    lo = np.asarray(ci_low, dtype=float)
    hi = np.asarray(ci_high, dtype=float)
    names = list(dict.fromkeys(f for f, r in zip(factor, rr) if np.isfinite(r) and r > 0))
    ncols = min(3, max(len(names), 1))
    nrows = max(1, math.ceil(len(names) / ncols))
    fig = _figure(10.0, 0.6 + 2.2 * nrows)
    if not names:
        _note(fig.add_subplot(), "No sensitivity estimates.")
        return fig
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, name in zip(axes, names):
        idx = [i for i, f in enumerate(factor) if f == name and np.isfinite(rr[i]) and rr[i] > 0]
        xs = np.arange(len(idx))
        ax.errorbar(
            xs,
            rr[idx],
            yerr=[
                rr[idx] - np.where(np.isfinite(lo[idx]), lo[idx], rr[idx]),
                np.where(np.isfinite(hi[idx]), hi[idx], rr[idx]) - rr[idx],
            ],
            fmt="o",
            color=_OI["blue"],
            capsize=3,
            ms=5,
        )
        ax.axhline(1.0, color="#444444", lw=1)
        vals = np.concatenate([rr[idx], lo[idx], hi[idx], [1.0]])
        vals = vals[np.isfinite(vals) & (vals > 0)]
        _ratio_axis(ax.yaxis, float(vals.min()) / 1.08, float(vals.max()) * 1.08)
        ax.set_xticks(xs, [setting[i] for i in idx], fontsize=8, rotation=20)
        ax.set_xlim(-0.6, len(idx) - 0.4)
        ax.set_title(name, color="#222222")
        ax.set_ylabel("rate ratio")
    for ax in axes[len(names) :]:
        ax.set_axis_off()
    return fig


@_styled
def acf_plot(lags: Sequence[float], acf: Sequence[float], n_hours: int) -> Figure:
    """Autocorrelation of the model's residuals by lag, with the 95 % band of white noise.

    Bars outside the band mean neighbouring hours are still related after the model, which is
    why the p-values come from a day-shift permutation test rather than from the model alone.
    """
    lags = np.asarray(lags, dtype=float)
    acf = np.asarray(acf, dtype=float)
    fig = _figure(9.0, 3.0)
    ax = fig.add_subplot()
    band = 1.96 / math.sqrt(max(n_hours, 1))
    ax.axhspan(
        -band, band, color=_OI["sky"], alpha=0.25, lw=0, label="95 % band if hours were independent"
    )
    ok = np.isfinite(acf)
    ax.vlines(lags[ok], 0, acf[ok], color=_OI["blue"], lw=2)
    ax.plot(lags[ok], acf[ok], "o", color=_OI["blue"], ms=3.5)
    ax.axhline(0, color="#444444", lw=0.8)
    lim = max(float(np.nanmax(np.abs(acf))) if ok.any() else 0.0, band) * 1.2
    ax.set_ylim(-lim, lim)
    ax.set_xlabel("lag (hours)")
    ax.set_ylabel("autocorrelation")
    ax.set_title("Residual autocorrelation", color="#222222")
    ax.legend(loc="upper right")
    return fig


_SETTING_NAMES = {
    "half_life_h": "half-life",
    "window_h": "window",
    "target_h": "target",
    "hold_h": "hold",
    "hours": "hours",
}


def setting_label(setting: str, value: float, is_default: bool) -> str:
    """A kernel setting in words: ``half-life 5 h (default)``."""
    name = _SETTING_NAMES.get(setting, setting.replace("_", " "))
    unit = " h" if setting.endswith("_h") or setting == "hours" else ""
    return f"{name} {value:g}{unit}" + (" (default)" if is_default else "")


def trigger_figures(result: Any) -> dict[str, Figure]:
    """The trigger figures of an :class:`emg.triggers.result.TriggerResult`.

    Returns
    -------
    dict of str to Figure
        Keys ``forest``, ``fitted``, ``sensitivity``, ``acf``, in that order; a figure whose
        data the result lacks (no hours, no sensitivity rows, no residuals) is left out.
    """
    figs: dict[str, Figure] = {}
    factors = list(result.factors)
    figs["forest"] = forest_plot(
        [f.factor for f in factors],
        [f.rate_ratio for f in factors],
        [f.ci_low for f in factors],
        [f.ci_high for f in factors],
        [f.verdict for f in factors],
        [f.contrast for f in factors],
    )
    hourly = result.hourly
    if len(hourly.time):
        figs["fitted"] = fitted_plot(
            hourly.time,
            hourly.observed_rate_per_h,
            hourly.fitted_rate_per_h,
            dict(hourly.exposures),
        )
    rows = list(result.sensitivity)
    if rows:
        figs["sensitivity"] = sensitivity_plot(
            [r.factor for r in rows],
            [setting_label(r.setting, r.value, r.is_default) for r in rows],
            [r.rate_ratio for r in rows],
            [r.ci_low for r in rows],
            [r.ci_high for r in rows],
        )
    acf = np.asarray(result.residual_acf, dtype=float)
    if acf.size > 1 and np.isfinite(acf[1:]).any():
        figs["acf"] = acf_plot(np.arange(1, acf.size), acf[1:], n_hours=len(hourly.time))
    return figs


def save_trigger_plots(result: Any, out_dir: str | Path, *, dpi: float = 110) -> list[Path]:
    """Write the trigger figures of ``result`` (a ``TriggerResult``) as PNG files into ``out_dir``.

    Returns
    -------
    list of Path
        ``triggers_forest.png``, ``triggers_fitted.png``, ``triggers_sensitivity.png`` and
        ``triggers_acf.png`` (those the result has data for), in that order.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for key, fig in trigger_figures(result).items():
        path = out / f"triggers_{key}.png"
        path.write_bytes(to_png(fig, dpi=dpi))
        paths.append(path)
    return paths
