"""Reading the trigger diary (CONTRACT: ``start, end, factor, value, unit, note``).

Times are ISO 8601 with a UTC offset (``2026-03-29T08:00:00+02:00``, ``...Z``) or a local time
followed by an IANA zone (``2026-03-29T08:00 Europe/Berlin`` or ``2026-03-29T08:00[Europe/Berlin]``).
A local time that does not exist (clocks jump forward) or exists twice (clocks go back) in
its zone is rejected with a request for the offset; an offset given with a zone wins but
must be one the zone uses at that instant.

Values are converted once, here, to each known factor's unit (``KNOWN_FACTORS``); an empty
unit means that unit. An unknown unit for a known factor is an error. Any other factor name
is kept as a generic event (value optional, unit kept as written). A factor that was never
logged is simply absent: nothing here invents zeros.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import InputError
from ._csvfile import read_csv_rows

__all__ = ["KNOWN_FACTORS", "Diary", "DiaryEntry", "parse_diary_rows", "parse_time", "read_diary"]

_MASS = {"mg": 1.0, "g": 1000.0, "mcg": 1e-3, "ug": 1e-3, "µg": 1e-3, "μg": 1e-3}
_MINUTES = {"min": 1.0, "mins": 1.0, "minute": 1.0, "minutes": 1.0, "h": 60.0, "hr": 60.0,
            "hour": 60.0, "hours": 60.0, "s": 1 / 60, "sec": 1 / 60}
_HOURS = {"h": 1.0, "hr": 1.0, "hour": 1.0, "hours": 1.0, "min": 1 / 60, "mins": 1 / 60,
          "minutes": 1 / 60}
_VOLUME = {"ml": 1.0, "l": 1000.0, "cl": 10.0, "dl": 100.0}


@dataclass(frozen=True)
class _Factor:
    unit: str                    # canonical unit ("" for none)
    units: dict[str, float]      # accepted unit (lower case) -> factor to the canonical unit
    needs_value: bool = True     # value required (or derivable from end - start)
    duration: bool = False       # value is a duration (may come from end - start)
    per_kg: bool = False         # accepts "<unit>/kg" with --body-mass-kg
    value_range: tuple[float, float] | None = None


#: Known factors: canonical unit and accepted units (CONTRACT.md).
KNOWN_FACTORS: dict[str, _Factor] = {
    "caffeine": _Factor("mg", _MASS, per_kg=True),
    "strength_training": _Factor("min", _MINUTES, duration=True),
    "sleep": _Factor("h", _HOURS, duration=True, value_range=(0.0, 24.0)),
    "stress": _Factor("0-10", {"0-10": 1.0, "score": 1.0, "/10": 1.0}, value_range=(0.0, 10.0)),
    "magnesium": _Factor("mg", _MASS, per_kg=True),
    "fluid": _Factor("mL", _VOLUME),
    "sitting": _Factor("min", _MINUTES, duration=True),
    "cold": _Factor("min", _MINUTES, duration=True),
    "meal": _Factor("", {"kcal": 1.0}, needs_value=False),
}

_REQUIRED = ("start", "factor", "value", "unit")
_OPTIONAL = ("end", "note")
_ZONE_RE = re.compile(r"^(?P<time>.+?)(?:\s+|\[)(?P<zone>UTC|[A-Za-z_]+(?:/[A-Za-z0-9_+\-]+)+)\]?$")
_RPE_RE = re.compile(r"\brpe\s*[:=]?\s*(-?\d+(?:\.\d+)?)", re.IGNORECASE)


@dataclass(frozen=True)
class DiaryEntry:
    """One diary row, validated and in canonical units.

    Attributes
    ----------
    line : int
        Line number in the file (header is line 1).
    factor : str
        Factor name, lower case.
    start_s, end_s : float
        Start and end as POSIX seconds (UTC); ``end_s`` equals ``start_s`` for a moment.
    value : float or None
        Amount in ``unit`` (None for a generic event or meal logged without a value).
    unit : str
        Canonical unit of a known factor, or the unit as written for a generic event.
    utc_offset_s : int
        UTC offset of the local clock at ``start`` in seconds (for local days).
    note : str
        Free text; for strength training an ``RPE n`` in it becomes ``rpe``.
    rpe : float or None
        Rating of perceived exertion 1-10 (strength training).
    """

    line: int
    factor: str
    start_s: float
    end_s: float
    value: float | None
    unit: str
    utc_offset_s: int
    note: str = ""
    rpe: float | None = None

    @property
    def is_known(self) -> bool:
        return self.factor in KNOWN_FACTORS

    @property
    def local_day(self) -> int:
        """Local calendar day number (days since 1970-01-01 on the local clock)."""
        return math.floor((self.start_s + self.utc_offset_s) / 86400.0)


@dataclass(frozen=True)
class Diary:
    """A validated diary: entries in time order."""

    path: str
    entries: tuple[DiaryEntry, ...]

    @property
    def factors(self) -> tuple[str, ...]:
        """Logged factors: known ones in ``KNOWN_FACTORS`` order, then generic ones A-Z."""
        logged = {e.factor for e in self.entries}
        known = [f for f in KNOWN_FACTORS if f in logged]
        return tuple(known + sorted(logged - set(known)))

    @property
    def not_logged(self) -> tuple[str, ...]:
        """Known factors never logged: absent, never zero."""
        logged = {e.factor for e in self.entries}
        return tuple(f for f in KNOWN_FACTORS if f not in logged)

    def entries_for(self, factor: str) -> tuple[DiaryEntry, ...]:
        return tuple(e for e in self.entries if e.factor == factor)

    @property
    def span_s(self) -> tuple[float, float]:
        """First start and last end (POSIX seconds)."""
        return (min(e.start_s for e in self.entries), max(e.end_s for e in self.entries))

    @property
    def local_days(self) -> tuple[int, int]:
        """First and last local day covered by the diary (inclusive)."""
        return (min(e.local_day for e in self.entries),
                max(math.floor((e.end_s + e.utc_offset_s) / 86400.0) for e in self.entries))


def parse_time(text: str, tz: str | None = None) -> tuple[float, int]:
    """Parse a diary time to POSIX seconds and the local UTC offset.

    Parameters
    ----------
    text : str
        ISO 8601 with an offset, or a local time followed by an IANA zone name.
    tz : str or None
        IANA zone used for a local time given without offset or zone (None: rejected).

    Returns
    -------
    posix_s : float
        Seconds since 1970-01-01 UTC.
    utc_offset_s : int
        Offset of the local clock in seconds.

    Raises
    ------
    ValueError
        With a one-line reason.

    Examples
    --------
    >>> parse_time("2026-03-29T03:30 Europe/Berlin")
    (1774747800.0, 7200)
    """
    text = text.strip()
    zone_name = None
    m = _ZONE_RE.match(text)
    if m and not text.endswith(("Z", "z")):
        text, zone_name = m.group("time").strip(), m.group("zone")
    zone_name = zone_name or tz
    try:
        local = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"invalid time {text!r}: expected ISO 8601 such as "
                         "2026-03-02T08:00:00+01:00 or 2026-03-02T08:00 Europe/Berlin") from None
    zone = None
    if zone_name is not None:
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {zone_name!r}") from None
    if local.tzinfo is not None:
        if zone is not None:
            offsets = {local.replace(tzinfo=None, fold=f).replace(tzinfo=zone).utcoffset()
                       for f in (0, 1)}
            if local.utcoffset() not in offsets:
                raise ValueError(f"offset {local.utcoffset()} of {text!r} is not used by "
                                 f"{zone_name} at that time")
        return local.timestamp(), int(local.utcoffset().total_seconds())
    if zone is None:
        raise ValueError(f"time {text!r} has no UTC offset or time zone "
                         "(write e.g. 2026-03-02T08:00:00+01:00)")
    first = local.replace(tzinfo=zone, fold=0)
    second = local.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        # fold 0 and 1 differ: the wall time is in a gap or repeated by a clock change
        back = first.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None)
        if back != local:
            raise ValueError(f"local time {text!r} does not exist in {zone_name} "
                             "(clocks jumped forward); give the UTC offset")
        raise ValueError(f"local time {text!r} happens twice in {zone_name} "
                         "(clocks went back); give the UTC offset")
    return first.timestamp(), int(first.utcoffset().total_seconds())


def _parse_value(text: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"value {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"value {text!r} is not a finite number")
    if value < 0:
        raise ValueError(f"value {text!r} is negative")
    return value


def _convert(factor: str, spec: _Factor, value: float | None, unit: str,
             start_s: float, end_s: float, body_mass_kg: float | None) -> float | None:
    """Value in the canonical unit of a known factor."""
    key = unit.strip().lower().replace(" ", "")
    if value is None:
        if spec.duration and end_s > start_s:
            seconds_per_unit = {"min": 60.0, "h": 3600.0}[spec.unit]
            return (end_s - start_s) / seconds_per_unit
        if spec.needs_value:
            extra = " or an end time" if spec.duration else ""
            raise ValueError(f"'{factor}' needs a value{extra}")
        if key and key not in spec.units:
            raise ValueError(_unit_message(factor, spec, unit))
        return None
    if key in ("", spec.unit.lower()):
        scale = 1.0
    elif key in spec.units:
        scale = spec.units[key]
    elif spec.per_kg and key.endswith("/kg") and key[:-3] in spec.units:
        if body_mass_kg is None:
            raise ValueError(f"unit {unit!r} needs the body mass (--body-mass-kg)")
        scale = spec.units[key[:-3]] * body_mass_kg
    else:
        raise ValueError(_unit_message(factor, spec, unit))
    value = value * scale
    if spec.value_range is not None and not spec.value_range[0] <= value <= spec.value_range[1]:
        lo, hi = spec.value_range
        raise ValueError(f"'{factor}' value {value:g} {spec.unit} is outside {lo:g}-{hi:g}")
    return value


def _unit_message(factor: str, spec: _Factor, unit: str) -> str:
    allowed = [spec.unit] if spec.unit else [""]
    allowed += [u for u in spec.units if u.lower() != spec.unit.lower()]
    if spec.per_kg:
        allowed.append(f"{spec.unit}/kg")
    listed = ", ".join(repr(u) for u in allowed)
    return f"unknown unit {unit!r} for '{factor}': allowed are {listed}"


def read_diary(path: str | Path, *, body_mass_kg: float | None = None,
               tz: str | None = None) -> Diary:
    """Read and validate a diary CSV.

    Parameters
    ----------
    path : str or Path
        The diary (UTF-8 CSV with a header row, CONTRACT columns).
    body_mass_kg : float or None
        Body mass in kg, needed for amounts given per kg (``mg/kg``).
    tz : str or None
        IANA zone for local times written without offset or zone (None: such times are errors).

    Returns
    -------
    Diary
        Entries sorted by start time.

    Raises
    ------
    InputError
        ``"<path>: line <n>: <cause>"`` for the first bad row, or a missing file/column.
    """
    path = Path(path)
    if body_mass_kg is not None and not 20.0 <= body_mass_kg <= 400.0:
        raise InputError(path, f"Invalid value for 'body_mass_kg': allowed are 20-400 kg, "
                         f"got {body_mass_kg!r}")
    rows = read_csv_rows(path, "the diary")
    return parse_diary_rows(rows, path, body_mass_kg=body_mass_kg, tz=tz)


def parse_diary_rows(rows: list[list[str]], path: str | Path = "<diary>", *,
                     body_mass_kg: float | None = None, tz: str | None = None) -> Diary:
    """Validate diary rows (the header first) already split into cells; see :func:`read_diary`."""
    if not rows:
        raise InputError(path, "empty file: expected a header row "
                         "start,end,factor,value,unit,note")
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise InputError(path, f"line 1: missing column {missing[0]!r} "
                         "(columns are start, end, factor, value, unit, note)")
    col = {name: header.index(name) for name in _REQUIRED + _OPTIONAL if name in header}
    entries = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        try:
            entries.append(_entry(row, col, line, body_mass_kg, tz))
        except ValueError as exc:
            raise InputError(path, f"line {line}: {exc}") from None
    if not entries:
        raise InputError(path, "the diary has no entries")
    entries.sort(key=lambda e: (e.start_s, e.line))
    return Diary(str(path), tuple(entries))


def _entry(row: list[str], col: dict[str, int], line: int, body_mass_kg: float | None,
           tz: str | None) -> DiaryEntry:
    def cell(name: str) -> str:
        i = col.get(name)
        return row[i].strip() if i is not None and i < len(row) else ""

    factor = cell("factor").lower().replace(" ", "_").replace("-", "_")
    if not factor:
        raise ValueError("empty 'factor'")
    if not cell("start"):
        raise ValueError("empty 'start'")
    start_s, offset_s = parse_time(cell("start"), tz)
    end_s = start_s
    if cell("end"):
        end_s, _ = parse_time(cell("end"), tz)
        if end_s < start_s:
            raise ValueError("'end' is before 'start'")
    value = _parse_value(cell("value"))
    unit = cell("unit")
    note = cell("note")
    rpe = None
    spec = KNOWN_FACTORS.get(factor)
    if spec is None:
        return DiaryEntry(line, factor, start_s, end_s, value, unit, offset_s, note)
    value = _convert(factor, spec, value, unit, start_s, end_s, body_mass_kg)
    if factor == "strength_training" and note:
        m = _RPE_RE.search(note) or re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*", note)
        if m:
            rpe = float(m.group(1))
            if not 1.0 <= rpe <= 10.0:
                raise ValueError(f"RPE {rpe:g} in 'note' is outside 1-10")
    if spec.duration and end_s == start_s and value is not None and factor != "sleep":
        end_s = start_s + value * 60.0  # an interval factor logged as start + minutes
    return DiaryEntry(line, factor, start_s, end_s, value, spec.unit, offset_s, note, rpe)
