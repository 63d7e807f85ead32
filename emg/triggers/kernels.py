"""Exposure kernels: how a diary entry turns into an exposure at each hour.

Each factor has a :class:`Kernel`; the defaults (``DEFAULT_KERNELS``) say where they come
from or that they are assumptions. A TOML or JSON file (``emg triggers --kernels FILE``)
overrides them per factor, e.g.::

    [caffeine]
    half_life_h = 4.0

    [generic]          # every factor the diary names that is not a known one
    hours = 12

    [alcohol]          # one generic factor by name
    kind = "decay"
    half_life_h = 4
    per = 1

Kinds (``t`` = the hour's midpoint; amounts in the factor's canonical unit):

- ``decay``: ``sum_i value_i * 2**(-(t - start_i) / half_life_h)`` for ``t >= start_i``.
- ``linear``: ``sum_i max(0, 1 - (t - end_i) / window_h)`` for ``t >= end_i`` (one per session).
- ``sleep_deficit``: ``max(0, target_h - hours)`` of the last main sleep, from waking until
  the next main sleep ends; unknown (NaN) before the first logged sleep and more than
  ``hold_h`` after a wake-up with no next sleep logged.
- ``carry``: the last logged value, held ``hold_h`` hours after it, then 0.
- ``window_overlap``: minutes of the logged intervals inside ``[t - window_h, t]``.
- ``window_sum``: sum of the amounts logged in ``(t - window_h, t]``.
- ``daily``: 1 on local days with an entry, else 0.
- ``indicator``: 1 from an entry's start until ``hours`` after its end, else 0.

The model sees ``exposure / per``: one contrast unit is ``per`` of the exposure.
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np

from ..errors import InputError
from .diary import DiaryEntry

__all__ = [
    "DEFAULT_KERNELS",
    "GENERIC_KERNEL",
    "KINDS",
    "Kernel",
    "exposed_days",
    "exposure",
    "kernel_for",
    "load_kernels",
    "sensitivity_settings",
]

KINDS = ("decay", "linear", "sleep_deficit", "carry", "window_overlap", "window_sum", "daily",
         "indicator")
_PARAMS = {"decay": "half_life_h", "linear": "window_h", "sleep_deficit": "target_h",
           "carry": "hold_h", "window_overlap": "window_h", "window_sum": "window_h",
           "daily": None, "indicator": "hours"}


@dataclass(frozen=True)
class Kernel:
    """How one factor's entries become an hourly exposure.

    Attributes
    ----------
    kind : str
        One of ``KINDS``.
    per : float
        Size of one contrast unit, in the exposure's unit (100 for "per 100 mg").
    unit : str
        The exposure's unit in words ("mg", "min", "session", "h", "point").
    half_life_h, window_h, target_h, hold_h, hours : float
        Shape parameters (hours) used by the kinds above.
    source : str
        Where the default comes from, or "assumption: ...".
    """

    kind: str
    per: float = 1.0
    unit: str = ""
    half_life_h: float = 5.0
    window_h: float = 48.0
    target_h: float = 7.0
    hold_h: float = 6.0
    hours: float = 6.0
    source: str = "assumption"

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Invalid value for 'kind': allowed are "
                             f"{', '.join(repr(k) for k in KINDS)}, got {self.kind!r}")
        for name in ("per", "half_life_h", "window_h", "target_h", "hold_h", "hours"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"Invalid value for '{name}': must be a number > 0, got {value!r}")

    @property
    def parameter(self) -> str | None:
        """Name of the kernel's shape parameter (what the sensitivity table varies)."""
        return _PARAMS[self.kind]

    def subject(self, factor: str) -> str:
        """The hours this exposure describes, for a sentence ("Hours with more caffeine load")."""
        name = factor.replace("_", " ")
        return {
            "decay": f"hours with more {name} load",
            "linear": f"hours after {name}",
            "sleep_deficit": "hours after a short night",
            "carry": f"hours with higher {name}",
            "window_overlap": f"hours with more {name} in the {_h(self.window_h)} before",
            "window_sum": f"hours with more {name} in the {_h(self.window_h)} before",
            "daily": f"days with {name}",
            "indicator": f"hours within {_h(self.hours)} after {name}",
        }[self.kind]

    def contrast(self, factor: str) -> str:
        """What one unit of the exposure means, in words (``triggers.csv`` ``contrast``)."""
        name = factor.replace("_", " ")
        per = f"{self.per:g} {self.unit}".strip()
        return {
            "decay": f"per {per} of {name} load (half-life {self.half_life_h:g} h)",
            "linear": f"per {per} of {name} just finished, fading linearly over "
                      f"{self.window_h:g} h",
            "sleep_deficit": f"per {per} of sleep below {self.target_h:g} h the night before",
            "carry": f"per {per} of {name} (held {self.hold_h:g} h after logging)",
            "window_overlap": f"per {per} of {name} in the past {self.window_h:g} h",
            "window_sum": f"per {per} of {name} in the past {self.window_h:g} h",
            "daily": f"days with {name} vs days without",
            "indicator": f"within {self.hours:g} h after {name} vs other hours",
        }[self.kind]


def _h(hours: float) -> str:
    return f"{hours:g} h"


#: Defaults per known factor, with their source.
DEFAULT_KERNELS: dict[str, Kernel] = {
    "caffeine": Kernel("decay", per=100.0, unit="mg", half_life_h=5.0,
                       source="literature: caffeine plasma half-life in healthy adults about "
                              "5 h (reported range 1.5-9.5 h); the load is an amount, not a "
                              "concentration"),
    "strength_training": Kernel("linear", per=1.0, unit="session", window_h=48.0,
                                source="assumption: the common belief that training makes "
                                       "twitching worse for up to 48 h"),
    "sleep": Kernel("sleep_deficit", per=1.0, unit="h", target_h=7.0, hold_h=36.0,
                    source="adults are advised at least 7 h of sleep (AASM/SRS consensus, "
                           "Watson et al. 2015); the deficit kernel itself is an assumption"),
    "stress": Kernel("carry", per=1.0, unit="point", hold_h=6.0,
                     source="assumption: a 0-10 rating describes about the next 6 h"),
    "magnesium": Kernel("daily", per=1.0, unit="day",
                        source="assumption: a supplement taken on a day acts that day"),
    "fluid": Kernel("window_sum", per=1000.0, unit="mL", window_h=24.0,
                    source="assumption: intake over the past 24 h"),
    "sitting": Kernel("window_overlap", per=60.0, unit="min", window_h=2.0,
                      source="assumption: sitting matters for about 2 h"),
    "cold": Kernel("window_overlap", per=30.0, unit="min", window_h=6.0,
                   source="assumption: cold exposure matters for about 6 h"),
    "meal": Kernel("indicator", hours=2.0, source="assumption: 2 h after a meal"),
}

#: Kernel of a factor the diary names that is not a known one.
GENERIC_KERNEL = Kernel("indicator", hours=6.0,
                        source="assumption: a generic event matters for 6 h after it ends")


def load_kernels(path: str | Path | None) -> dict[str, Kernel]:
    """Kernels per factor: the defaults, overridden by a TOML or JSON file.

    Parameters
    ----------
    path : str, Path or None
        ``.toml`` or ``.json`` file with one table per factor (``generic`` for all
        unknown factors); None gives the defaults.

    Returns
    -------
    dict of str to Kernel
        Includes the key ``"generic"``.

    Raises
    ------
    InputError
        Unreadable file, unknown key or invalid value, naming the factor.
    """
    kernels = dict(DEFAULT_KERNELS)
    kernels["generic"] = GENERIC_KERNEL
    if path is None:
        return kernels
    path = Path(path)
    try:
        if path.suffix.lower() == ".json":
            config = json.loads(path.read_text(encoding="utf-8"))
        else:
            config = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(path, f"cannot read the kernel settings ({exc})") from None
    if not isinstance(config, dict):
        raise InputError(path, "expected one table per factor")
    allowed = [f.name for f in fields(Kernel)]
    for factor, settings in config.items():
        if not isinstance(settings, dict):
            raise InputError(path, f"kernel {factor!r}: expected a table of settings")
        unknown = [k for k in settings if k not in allowed]
        if unknown:
            raise InputError(path, f"kernel {factor!r}: unknown key {unknown[0]!r}; allowed are "
                             + ", ".join(repr(a) for a in allowed))
        base = kernels.get(factor.lower(), kernels["generic"])
        try:
            kernels[factor.lower()] = replace(base, **settings)
        except (TypeError, ValueError) as exc:
            raise InputError(path, f"kernel {factor!r}: {exc}") from None
    return kernels


def kernel_for(factor: str, kernels: dict[str, Kernel]) -> Kernel:
    """The kernel of ``factor``: its own, else the generic one."""
    if factor in kernels:
        return kernels[factor]
    return kernels.get("generic", GENERIC_KERNEL)


def exposure(kernel: Kernel, entries: tuple[DiaryEntry, ...] | list[DiaryEntry],
             t_s: np.ndarray, utc_offset_s: np.ndarray | None = None) -> np.ndarray:
    """Exposure of one factor at the times ``t_s``, in contrast units (``/ kernel.per``).

    Parameters
    ----------
    kernel : Kernel
    entries : sequence of DiaryEntry
        The factor's entries (any order).
    t_s : ndarray of float, shape (n,)
        Evaluation times, POSIX seconds (hour midpoints).
    utc_offset_s : ndarray of float, shape (n,) or None
        Local UTC offset at each time (for ``daily``); None means UTC.

    Returns
    -------
    ndarray of float, shape (n,)
        NaN where the exposure is unknown (sleep before the first logged night).
    """
    t_s = np.asarray(t_s, dtype=float)
    entries = sorted(entries, key=lambda e: e.start_s)
    out = np.zeros_like(t_s)
    if not entries:
        return out
    start = np.array([e.start_s for e in entries])
    end = np.array([e.end_s for e in entries])
    amount = np.array([1.0 if e.value is None else e.value for e in entries])
    kind = kernel.kind
    if kind == "decay":
        hl_s = kernel.half_life_h * 3600.0
        for s, a in zip(start, amount):
            after = t_s >= s
            out[after] += a * np.exp2(-(t_s[after] - s) / hl_s)
    elif kind == "linear":
        w_s = kernel.window_h * 3600.0
        for e in end:
            dt_s = t_s - e
            out += np.where(dt_s >= 0, np.clip(1.0 - dt_s / w_s, 0.0, None), 0.0)
    elif kind == "sleep_deficit":
        out[:] = np.nan
        wake = end  # the main sleep ends at `end` (or `start` when no end was logged)
        order = np.argsort(wake)
        wake, amount = wake[order], amount[order]
        hold_s = kernel.hold_h * 3600.0
        for i, (w, hours) in enumerate(zip(wake, amount)):
            until = min(wake[i + 1] if i + 1 < len(wake) else np.inf, w + hold_s)
            sel = (t_s >= w) & (t_s < until)
            out[sel] = max(0.0, kernel.target_h - hours)
    elif kind == "carry":
        hold_s = kernel.hold_h * 3600.0
        idx = np.searchsorted(start, t_s, side="right") - 1
        ok = idx >= 0
        last = np.where(ok, start[np.clip(idx, 0, None)], -np.inf)
        out = np.where(ok & (t_s - last <= hold_s), amount[np.clip(idx, 0, None)], 0.0)
    elif kind == "window_overlap":
        w_s = kernel.window_h * 3600.0
        for s, e in zip(start, end):
            lo = np.maximum(s, t_s - w_s)
            hi = np.minimum(e, t_s)
            out += np.clip(hi - lo, 0.0, None) / 60.0
    elif kind == "window_sum":
        w_s = kernel.window_h * 3600.0
        for s, a in zip(start, amount):
            out += np.where((t_s >= s) & (t_s - s < w_s), a, 0.0)
    elif kind == "daily":
        off = np.zeros_like(t_s) if utc_offset_s is None else np.asarray(utc_offset_s, float)
        days = np.floor((t_s + off) / 86400.0)
        logged = {e.local_day for e in entries if e.value is None or e.value > 0}
        out = np.isin(days, list(logged)).astype(float)
    elif kind == "indicator":
        h_s = kernel.hours * 3600.0
        for s, e in zip(start, end):
            out[(t_s >= s) & (t_s < e + h_s)] = 1.0
    return out / kernel.per


def exposed_days(kernel: Kernel, entries, days: np.ndarray) -> set[int]:
    """Local days (from ``days``) on which the factor was logged with a nonzero amount.

    For sleep, the days after a night shorter than the target.
    """
    wanted = {int(d) for d in np.unique(days)}
    out = set()
    for e in entries:
        if kernel.kind == "sleep_deficit":
            if e.value is not None and e.value < kernel.target_h:
                out.add(math.floor((e.end_s + e.utc_offset_s) / 86400.0))
        elif e.value is None or e.value > 0:
            out.add(e.local_day)
    return out & wanted


def sensitivity_settings(kernel: Kernel) -> tuple[str, tuple[float, ...]] | None:
    """The setting the sensitivity table varies and its values (default included).

    Half-lives 3/5/7 h, windows 24/48/72 h for ``linear``, target 6/7/8 h for sleep,
    and half / default / double of the parameter otherwise; None for ``daily``.
    """
    name = kernel.parameter
    if name is None:
        return None
    default = float(getattr(kernel, name))
    grids = {"decay": (3.0, 5.0, 7.0), "linear": (24.0, 48.0, 72.0),
             "sleep_deficit": (6.0, 7.0, 8.0)}
    values = set(grids.get(kernel.kind, (default / 2, default * 2)))
    values.add(default)
    return name, tuple(sorted(values))
