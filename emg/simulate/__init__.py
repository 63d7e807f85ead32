"""Synthetic resting surface EMG with ground truth (``emg simulate``).

>>> from emg.simulate import simulate, SCENARIOS
>>> rec, truth = simulate("clean", minutes=1, channels=2, seed=0)

Potentials, ECG beats and artefacts are synthesised at 8 kHz or more and decimated to the
device rate through an anti-alias FIR, as a real amplifier does; see ``emg.simulate.shapes``.
"""

import sys as _sys
import types as _types

from .core import RAIL_UV, simulate
from .scenarios import SCENARIOS, Scenario, get_scenario
from .truth import EVENT_DTYPE, EVENT_KINDS, INTERVAL_LABELS, Interval, Truth

__all__ = [
    "EVENT_DTYPE",
    "EVENT_KINDS",
    "INTERVAL_LABELS",
    "RAIL_UV",
    "SCENARIOS",
    "Interval",
    "Scenario",
    "Truth",
    "get_scenario",
    "simulate",
]


class _CallableModule(_types.ModuleType):
    """``emg.simulate`` is both this package and the function: importing the package (which
    rebinds the attribute ``emg.simulate`` to it) must not break ``emg.simulate("clean", ...)``."""

    def __call__(self, *args, **kwargs):
        return simulate(*args, **kwargs)


_sys.modules[__name__].__class__ = _CallableModule
