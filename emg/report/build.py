"""Assemble the report page of an analysed folder: read, summarise, plot, write one HTML file."""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..errors import EmgError, InputError
from ..types import EVENT_LABELS
from . import html as H
from .load import Analysis, RateTable, UnitTemplate, load_folder
from .summarize import (
    MIN_VALID_S,
    NOISE_LIMIT_UV,
    channel_quality,
    channel_rates,
    pick_examples,
    unit_rows,
)

__all__ = ["ReportOutcome", "build_report", "write_report"]

#: Quality timelines drawn at most (one figure per input); the table covers every input.
MAX_TIMELINES = 8
#: Units listed per channel in the table (the most active; the rest are summed in one row).
MAX_UNITS_LISTED = 6
#: Events per unit used to compute a template when the analysis wrote none.
MAX_EVENTS_PER_UNIT = 40
_TOC = [
    ("rate", "Rate"),
    ("quality", "Recording quality"),
    ("waveforms", "Waveforms"),
    ("units", "Motor units"),
]


@dataclass
class ReportOutcome:
    """What :func:`write_report` did."""

    path: Path
    inputs: list[str]
    errors: list[EmgError] = field(default_factory=list)  # inputs (or parts) that could not be used
    notes: list[str] = field(default_factory=list)


def _fmt_time(t: dt.datetime) -> str:
    return t.strftime("%a %d %b %Y %H:%M")


def _fmt_offset(t: dt.datetime) -> str:
    off = t.utcoffset() or dt.timedelta(0)
    sign = "+" if off >= dt.timedelta(0) else "−"
    minutes = abs(int(off.total_seconds() // 60))
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _period(analyses: Sequence[Analysis]) -> str:
    first = min(a.summary.start for a in analyses)
    last = max(a.summary.start + dt.timedelta(seconds=a.summary.duration_s) for a in analyses)
    last = last.astimezone(first.tzinfo)
    end = last.strftime("%H:%M") if last.date() == first.date() else _fmt_time(last)
    return f"{_fmt_time(first)} – {end} ({_fmt_offset(first)})"


def _channels(analyses: Sequence[Analysis]) -> list[str]:
    return list(dict.fromkeys(name for a in analyses for name in a.summary.channels))


# -- sections --------------------------------------------------------------------------------


_RATE_LEAD = (
    "Fasciculations counted per hour of <strong>valid rest</strong>: time when the muscle was at rest "
    "and the signal was clean enough to see them. The 95 % interval is the range the true rate most "
    "likely lies in; it narrows the longer you record."
)


def _rate_section(analyses: Sequence[Analysis], rates: RateTable) -> str:
    from .plots import rate_plot, to_png

    channels = _channels(analyses)
    cards = []
    for r in channel_rates(rates, channels):
        valid = H.fmt_duration(r.valid_s)
        if math.isfinite(r.rate_per_hour):
            digits = 1 if r.rate_per_hour < 100 else 0
            big = f"{H.fmt_num(r.rate_per_hour, digits)} <small>per hour</small>"
            ci = f"95 % interval {H.fmt_num(r.ci_low, digits)} to {H.fmt_num(r.ci_high, digits)}"
            detail = (
                f"{r.fasciculations:,} fasciculations in {valid} of valid rest; "
                f"{r.hours_with_rate} of {r.hours} clock hours have a rate"
            ).replace(",", "\u202f")
        else:  # too little rest for a rate: show the count, never a rate from seconds of data
            noun = "fasciculation" if r.fasciculations == 1 else "fasciculations"
            big = f"{r.fasciculations:,} <small>{noun}</small>".replace(",", "\u202f")
            ci = f"in {valid} of valid rest: too little for a rate"
            detail = (
                f"a rate needs at least {MIN_VALID_S / 60:.0f} min of valid rest; record longer"
            )
        cards.append(
            f'<div class="card"><div class="ch">{H.esc(r.channel)}</div><div class="big">{big}</div>'
            f'<div class="ci">{ci}</div><div class="detail">{detail}</div></div>'
        )
    notes = []
    slow = sorted({a.summary.fs for a in analyses if a.summary.fs < 1000})
    if slow:
        notes.append(
            f'<p class="note">Sampled at {", ".join(f"{fs:g}" for fs in slow)} Hz: a 10 ms fasciculation is only a '
            "few samples long there. It can still be counted, but its shape (and the motor-unit grouping) is "
            "coarse; 1000 Hz or more keeps the shape.</p>"
        )
    if not np.any(np.isfinite(rates.rate_per_hour) & (rates.valid_s >= MIN_VALID_S)):
        notes.append(
            f'<p class="note">No clock hour has {MIN_VALID_S / 60:.0f} minutes of valid rest yet, so there is no '
            "hourly rate to plot. Record for longer, at rest.</p>"
        )
        return H.section(
            "rate",
            "Fasciculations per hour",
            _RATE_LEAD,
            f'<div class="cards">{"".join(cards)}</div>' + "".join(notes),
        )
    fig = rate_plot(rates, channels, min_valid_s=MIN_VALID_S)
    body = (
        f'<div class="cards">{"".join(cards)}</div>'
        + "".join(notes)
        + H.figure(
            to_png(fig),
            "Fasciculations per hour of valid rest over time, one panel per channel, with 95 % intervals; "
            "below, the minutes of valid rest in each hour.",
            "Each dot is one clock hour: fasciculations divided by the hours of valid rest in it. The bar "
            "through it is the 95 % interval: with few minutes of rest the interval is wide and the dot means "
            "little. Hours with under 5 minutes of valid rest get no rate (grey background). Over many days a "
            "black line gives each day's rate. The bottom panel shows how much of each hour could be used.",
        )
    )
    return H.section("rate", "Fasciculations per hour", _RATE_LEAD, body)


def _quality_section(analyses: Sequence[Analysis]) -> str:
    from .plots import quality_timeline, to_png

    rows, classes = [], []
    for a in analyses:
        for q in channel_quality(a):
            excluded = (
                ", ".join(
                    f"{label} {H.fmt_duration(s)}"
                    for label, s in q.excluded_s.items()
                    if label != "gap"
                )
                or "none"
            )
            gaps = f"{q.gaps} ({H.fmt_duration(q.gap_s)})" if q.gaps else "none"
            noise = H.fmt_num(q.noise_uv, 1)
            if q.noisy:
                noise += " ⚠"
            rows.append(
                [
                    H.esc(a.stem),
                    H.esc(q.channel),
                    f"{q.fs:g}",
                    noise,
                    H.fmt_num(q.counted_from_uv, 0),
                    H.fmt_duration(q.recorded_s),
                    H.fmt_duration(q.valid_s),
                    H.fmt_num(100 * q.valid_fraction, 0) + " %",
                    gaps,
                    H.esc(excluded),
                    "–" if q.packets_lost is None else f"{q.packets_lost:,}".replace(",", "\u202f"),
                ]
            )
            classes.append("flag" if q.noisy else "")
    tbl = H.table(
        [
            "Recording",
            "Channel",
            "Rate (Hz)",
            "Noise (µV RMS)",
            "Counted from (µV p-p)",
            "Recorded",
            "Valid rest",
            "Valid",
            "Gaps",
            "Excluded stretches",
            "Packets lost",
        ],
        rows,
        numeric=(2, 3, 4, 5, 6, 7, 10),
        row_classes=classes,
        caption=f"Noise is the robust RMS level at rest. On good skin contact it is 1-10 µV; rows marked ⚠ "
        f"are above {NOISE_LIMIT_UV:g} µV, where small fasciculations drown: check the electrodes. "
        "Counted from: the smallest potential counted as a fasciculation (8 × the noise, peak-to-peak; "
        "a unit already seen several times is counted down to 5 ×); smaller ones are not in the rates, "
        "so compare rates only between recordings of similar noise.",
    )
    figs = []

    for a in analyses[:MAX_TIMELINES]:
        figs.append(
            H.figure(
                to_png(quality_timeline(a)),
                f"Timeline of recording {a.stem}: excluded stretches by kind and a tick per fasciculation, per channel.",
                "Coloured bars are stretches left out of valid rest (movement or contraction, cramp, myokymia, "
                "artefact, noisy signal, gap with no data); blue ticks are the counted fasciculations.",
            )
        )
    if len(analyses) > MAX_TIMELINES:
        figs.append(
            f'<p class="note">Timelines are shown for the first {MAX_TIMELINES} of {len(analyses)} '
            "recordings; the table covers all of them.</p>"
        )
    lead = (
        "How usable the recording was. Only valid rest counts: gaps, voluntary movement, cramps, "
        "artefacts and noisy stretches are taken out before counting."
    )
    return H.section("quality", "Recording quality", lead, tbl + "".join(figs))


def _event_totals(analyses: Sequence[Analysis]) -> str:
    header = ["Channel"] + ["Fasciculations", "Heartbeats (ECG)", "Artefacts"]
    rows = []
    for name in _channels(analyses):
        counts = [
            sum(
                int(np.count_nonzero((a.events.channel == name) & (a.events.label == lab)))
                for a in analyses
            )
            for lab in EVENT_LABELS
        ]
        rows.append([H.esc(name)] + [f"{c:,}".replace(",", "\u202f") for c in counts])
    return H.table(
        header,
        rows,
        numeric=(1, 2, 3),
        caption="Events found, by kind. Only fasciculations in valid rest are counted in the rate; "
        "multiplets (a unit firing twice within ~0.1 s) count once.",
    )


def _sources(
    analyses: Sequence[Analysis], notes: list[str], errors: list[EmgError]
) -> dict[str, Any]:
    """Open the analysed recordings that can be found; note the others."""
    from .snippets import open_source

    out = {}
    for a in analyses:
        path = a.input_path()
        if path is None:
            notes.append(
                f"{a.stem}: the recording {a.summary.input!r} was not found, so its waveforms are not shown."
            )
            continue
        try:
            out[a.stem] = open_source(path)
        except EmgError as exc:
            errors.append(exc)
            notes.append(
                f"{a.stem}: the recording could not be read ({exc}); its waveforms are not shown."
            )
        except (OSError, ValueError) as exc:
            errors.append(InputError(path, str(exc)))
            notes.append(
                f"{a.stem}: the recording could not be read ({exc}); its waveforms are not shown."
            )
    return out


def _gallery_section(
    analyses: Sequence[Analysis], sources: dict[str, Any], notes: Sequence[str]
) -> str:
    from .plots import to_png, waveform_gallery
    from .snippets import Snippets, cut_snippets

    usable = [a for a in analyses if a.stem in sources]
    body = _event_totals(analyses)
    if usable:
        which = np.concatenate([np.full(len(a.events), k) for k, a in enumerate(usable)])
        index = np.concatenate([np.arange(len(a.events)) for a in usable])
        amp = np.concatenate([a.events.amplitude_uv for a in usable])
        label = np.concatenate([a.events.label for a in usable])
        picks = pick_examples(amp, label, n_per_label=5)
    else:
        picks = {}
    if picks:
        waves, labels, titles, fs, pre = [], [], [], None, None
        for name, rows in picks.items():
            for row in rows:
                a = usable[int(which[row])]
                i = int(index[row])
                sn = cut_snippets(
                    sources[a.stem],
                    a.events.onset_s[i : i + 1],
                    [a.events.channel[i]],
                    mains_hz=a.summary.mains_hz,
                )
                if fs is not None and sn.fs != fs:
                    continue  # one gallery per sample rate would be needed; keep the first
                fs, pre = sn.fs, sn.pre
                waves.append(sn.waveforms_uv[0])
                labels.append(name)
                when = a.summary.start + dt.timedelta(seconds=float(a.events.onset_s[i]))
                titles.append(
                    f"{a.events.channel[i]} · {when:%H:%M:%S} · {a.events.amplitude_uv[i]:.0f} µV"
                )
        snippets = Snippets(np.vstack(waves), fs, pre)
        body += H.figure(
            to_png(waveform_gallery(snippets, labels, titles)),
            "Example waveforms of each kind of event: fasciculations, heartbeats and artefacts.",
            "Examples picked across the size range of each kind (not just the largest), cut from the recording "
            "and filtered as the detector sees them (20 Hz high-pass, mains removed). Each trace has its own "
            "scale: read its size from the title (peak-to-peak) or its µV bar. A fasciculation is a short spike of 2-4 phases lasting 5-20 ms; heartbeats repeat "
            "with the pulse and look alike; artefacts are large and slow.",
        )
    elif not any(len(a.events) for a in analyses):
        body += '<p class="note">No events were found, so there is nothing to show here.</p>'
    for text in notes:
        body += f'<p class="note">{H.esc(text)}</p>'
    lead = "What the detected events look like, so you can judge for yourself what was counted."
    return H.section("waveforms", "What the events look like", lead, body)


def _templates_from_recording(a: Analysis, source: Any) -> list[UnitTemplate]:
    """Median waveform per unit from up to ``MAX_EVENTS_PER_UNIT`` of its events, evenly spread."""
    from .snippets import cut_snippets, unit_templates_from_snippets

    ev = a.events
    fasc = (ev.label == "fasciculation") & (ev.unit != "")
    picked: list[int] = []
    for ch, unit in dict.fromkeys(zip(ev.channel[fasc].tolist(), ev.unit[fasc].tolist())):
        idx = np.flatnonzero(fasc & (ev.channel == ch) & (ev.unit == unit))
        picked.extend(
            idx[:: max(1, idx.size // MAX_EVENTS_PER_UNIT)][:MAX_EVENTS_PER_UNIT].tolist()
        )
    if not picked:
        return []
    rows = np.asarray(sorted(picked), dtype=int)
    sn = cut_snippets(source, ev.onset_s[rows], ev.channel[rows], mains_hz=a.summary.mains_hz)
    return unit_templates_from_snippets(sn, ev.channel[rows], ev.unit[rows], {})


def _unit_templates(
    analyses: Sequence[Analysis], sources: dict[str, Any], rows: Sequence[Any]
) -> tuple[list[UnitTemplate], list[str]]:
    """Templates of every input (from units.json, else from the recording) with counts and rates
    from the events; and the inputs with units but no way to show their waveforms."""
    counts = {(r.channel, r.unit): r for r in rows}
    templates: list[UnitTemplate] = []
    missing = []
    for a in analyses:
        prefix = f"{a.stem}: " if len(analyses) > 1 else ""
        if a.units:
            found = a.units
        elif a.stem in sources:
            found = _templates_from_recording(a, sources[a.stem])
        else:
            if np.any((a.events.label == "fasciculation") & (a.events.unit != "")):
                missing.append(a.stem)
            continue
        for t in found:
            row = counts.get((prefix + t.channel, t.unit))
            count = t.count if t.count is not None else (row.count if row else None)
            rate = (
                t.rate_per_hour
                if t.rate_per_hour is not None
                else (row.rate_per_hour if row else None)
            )
            templates.append(
                UnitTemplate(
                    prefix + t.channel, t.unit, t.template_uv, t.fs, t.peak_index, count, rate
                )
            )
    order = {name: i for i, name in enumerate(r.channel for r in rows)}
    templates.sort(key=lambda t: order.get(t.channel, len(order)))
    return templates, missing


def _unit_table(rows: Sequence[Any]) -> str:
    """The most active units per channel; the rest summed in one row."""
    table_rows = []
    for channel in dict.fromkeys(r.channel for r in rows):
        mine = sorted((r for r in rows if r.channel == channel), key=lambda r: -r.count)
        for r in mine[:MAX_UNITS_LISTED]:
            table_rows.append(
                [H.esc(r.channel), H.esc(r.unit), _int(r.count), H.fmt_num(r.rate_per_hour, 1)]
            )
        rest = mine[MAX_UNITS_LISTED:]
        if rest:
            table_rows.append(
                [H.esc(channel), f"{len(rest)} more units", _int(sum(r.count for r in rest)), "–"]
            )
    return H.table(
        ["Channel", "Unit", "Fasciculations", "Per hour"],
        table_rows,
        numeric=(2, 3),
        caption="Fasciculations per putative motor unit (the most active first) and per hour of that "
        "channel's valid rest.",
    )


def _int(n: int) -> str:
    return f"{n:,}".replace(",", "\u202f")


def _units_section(analyses: Sequence[Analysis], sources: dict[str, Any]) -> str:
    from .plots import to_png, unit_template_plot

    rows = unit_rows(analyses)
    lead = (
        "Fasciculations on one channel that share a shape probably come from the same motor unit (one nerve "
        "fibre and the muscle fibres it drives). The line is each unit's typical waveform."
    )
    if not rows:
        note = '<p class="note">No fasciculations were grouped into motor units.</p>'
        return H.section("units", "Motor units", lead, note)
    templates, missing = _unit_templates(analyses, sources, rows)
    body = ""
    if templates:
        body += H.figure(
            to_png(unit_template_plot(templates)),
            "Typical waveform of each putative motor unit, one panel per channel.",
            "Each line is the typical (median or mean) waveform of one unit; the legend gives how many "
            "fasciculations it fired and its rate per hour of valid rest.",
        )
    if missing:
        body += (
            f'<p class="note">No waveforms for {H.esc(", ".join(missing))}: neither unit templates '
            "(units.json) nor the recording are available; counts are still in the table.</p>"
        )
    return H.section("units", "Motor units", lead, body + _unit_table(rows))


def _triggers_section(analyses: Sequence[Analysis], diary: Path, errors: list[EmgError]) -> str:
    from . import triggers_section

    rates_paths = [a.path(".rates.csv") for a in analyses]
    return triggers_section.render(rates_paths, diary, errors)


# -- page -------------------------------------------------------------------------------------


def build_report(
    folder: str | os.PathLike, diary: str | os.PathLike | None = None
) -> tuple[str, ReportOutcome]:
    """Build the report page of an analysed folder.

    Parameters
    ----------
    folder : path-like
        Output folder of ``emg analyze`` (``*.summary.json`` with their CSV files).
    diary : path-like, optional
        A diary CSV (CONTRACT.md); adds the trigger-factor section.

    Returns
    -------
    html : str
        The self-contained page.
    outcome : ReportOutcome
        Inputs used, and errors for those (or parts) that could not be used; ``path`` is unset.

    Raises
    ------
    InputError
        If the folder holds no analysis outputs or none of them can be read.
    """
    folder = Path(folder)
    analyses, load_errors = load_folder(folder)
    if not analyses:
        raise (
            load_errors[0]
            if len(load_errors) == 1
            else InputError(
                folder,
                f"none of the {len(load_errors)} analysis outputs could be read (first: {load_errors[0]})",
            )
        )
    errors: list[EmgError] = list(load_errors)
    notes: list[str] = []
    rates = RateTable.concat([a.rates for a in analyses])
    sources = _sources(analyses, notes, errors)
    sections = [
        _rate_section(analyses, rates),
        _quality_section(analyses),
        _gallery_section(analyses, sources, notes),
        _units_section(analyses, sources),
    ]
    toc = list(_TOC)
    if diary is not None:
        sections.append(_triggers_section(analyses, Path(diary), errors))
        toc.append(("triggers", "Trigger factors"))
    sections.append(H.DOCTOR_BOX)
    toc.append(("doctor-title", "When to see a doctor"))
    names = ", ".join(a.stem for a in analyses)
    channels = _channels(analyses)
    header = (
        "<h1>Fasciculation report</h1>"
        f'<p class="sub">{len(analyses)} recording{"s" if len(analyses) != 1 else ""} ({H.esc(names)}) · '
        f"{H.esc(_period(analyses))} · {len(channels)} channel{'s' if len(channels) != 1 else ''}</p>"
        '<p class="notice"><strong>Personal insight, not a diagnosis.</strong> The page counts events that look '
        'like fasciculations on a surface sensor. <a href="#doctor-title">When to see a doctor</a> is at the end.</p>'
    )
    if load_errors:
        header += "".join(f'<p class="note">Not included: {H.esc(e)}</p>' for e in load_errors)
    software = sorted(
        {
            f"{a.summary.software.get('name', 'emg')} {a.summary.software.get('version', '?')}"
            for a in analyses
        }
    )
    generated = dt.datetime.now(dt.UTC).astimezone().strftime("%Y-%m-%d %H:%M %Z")
    footer = (
        f"Made by emg {H.esc(__version__)} on {H.esc(generated)} from {H.esc(folder.resolve())}. "
        f"Analysed with {H.esc(', '.join(software))}. Personal insight, not a diagnosis."
    )
    page = H.page("Fasciculation report", header, sections, footer, toc=toc)
    return page, ReportOutcome(
        path=Path(), inputs=[a.stem for a in analyses], errors=errors, notes=notes
    )


def write_report(
    folder: str | os.PathLike,
    diary: str | os.PathLike | None = None,
    output: str | os.PathLike | None = None,
) -> ReportOutcome:
    """Build the report page of ``folder`` and write it (default ``folder/report.html``).

    See :func:`build_report`; the file is written atomically (a ``.part`` file renamed).
    """
    page, outcome = build_report(folder, diary)
    path = Path(output) if output is not None else Path(folder) / "report.html"
    tmp = path.with_name(path.name + ".part")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise InputError(path, f"cannot write the report ({exc.strerror or exc})") from None
    outcome.path = path
    return outcome
