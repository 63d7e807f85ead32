"""Which reader a file needs, decided from its first bytes (the extension only sharpens errors)."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError
from .edf_header import BDF_MAGIC, EDF_MAGIC

__all__ = ["FORMATS", "detect_format"]

FORMATS = ("bdf", "edf", "openbci", "brainflow", "csv", "plux")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_BINARY_EXT = {".bdf": "BDF", ".edf": "EDF", ".h5": "HDF5", ".hdf5": "HDF5"}


def _check_path(path) -> Path:
    p = Path(path)
    if not p.exists():
        raise InputError(path, "no such file")
    if p.is_dir():
        raise InputError(path, "is a directory, not a recording")
    if not os.access(p, os.R_OK):
        raise InputError(path, "permission denied")
    return p


def detect_format(path: str | os.PathLike) -> str:
    """One of :data:`FORMATS` for ``path``, from its content.

    * ``bdf``: starts with ``0xFF "BIOSEMI"``; ``edf``: starts with ``"0       "``;
    * ``plux``: an HDF5 file with an OpenSignals device group;
    * ``openbci``: text starting with ``%`` header lines (``%OpenBCI Raw EXG/EEG Data``);
    * ``brainflow``: tab-separated numbers, no header, 24 (Cyton) or 32 (Cyton+Daisy) columns;
    * ``csv``: other text.

    Raises
    ------
    InputError
        Missing path, a directory, an empty file, or binary content no reader knows.
    """
    p = _check_path(path)
    with open(p, "rb") as fid:
        head = fid.read(4096)
    if not head:
        raise InputError(path, "empty file")
    if head.startswith(BDF_MAGIC):
        return "bdf"
    if head.startswith(EDF_MAGIC):
        return "edf"
    if head.startswith(_HDF5_MAGIC):
        from .plux import is_plux

        if is_plux(p):
            return "plux"
        raise InputError(path, "HDF5 file is not an OpenSignals (Plux) recording")
    kind = _BINARY_EXT.get(p.suffix.lower())
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a multi-byte character cut at the end
            text = None
        else:
            text = head[: exc.start].decode("utf-8")
    if text is None or "\x00" in text:
        if kind:
            raise InputError(path, f"not a valid {kind} file (unrecognised header bytes {head[:8]!r})")
        raise InputError(path, "unrecognised binary content (not BDF, EDF, HDF5 or text)")
    if kind:
        raise InputError(path, f"not a valid {kind} file: it holds text")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise InputError(path, "empty file (only blank lines)")
    first = lines[0].lstrip("\ufeff")
    if first.startswith("%"):
        return "openbci"
    if "\t" in first:
        tokens = first.strip().split("\t")
        if len(tokens) in (24, 32) and all(_is_number(t) for t in tokens):
            return "brainflow"
    return "csv"


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True
