"""emg: an honest fasciculation monitor for cheap wearable surface-EMG sensors.

Importing ``emg`` is cheap: it loads neither Numba, MNE nor Matplotlib. The public
functions below are imported on first use.
"""

from __future__ import annotations

import importlib

from ._version import __version__
from .errors import DeviceError, EmgError, InputError
from .types import Annotation, Chunk, Events, Gap, Recording, RecordingInfo, Segment

__all__ = [
    "__version__",
    "Annotation",
    "Chunk",
    "DeviceError",
    "EmgError",
    "Events",
    "Gap",
    "InputError",
    "Recording",
    "RecordingInfo",
    "Segment",
    "read",
    "read_info",
    "open_reader",
    "write_bdf",
    "analyze",
    "simulate",
    "to_mne",
]

# public name -> module that defines it (imported lazily on first access)
_LAZY = {
    "read": "emg.io",
    "read_info": "emg.io",
    "open_reader": "emg.io",
    "write_bdf": "emg.io",
    "analyze": "emg.pipeline",
    "simulate": "emg.simulate",
    "to_mne": "emg.annotate",
}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'emg' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
