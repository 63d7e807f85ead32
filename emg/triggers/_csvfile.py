"""Reading the small CSV files of the trigger analysis (diary, rates) with one-line errors."""

from __future__ import annotations

import csv
from pathlib import Path

from ..errors import InputError


def read_csv_rows(path: Path, what: str) -> list[list[str]]:
    """All rows of a UTF-8 CSV file (a BOM is allowed); :class:`InputError` names the file and
    the cause when it is missing or unreadable (``what``: e.g. "the diary")."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            return list(csv.reader(fh))
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(path, f"cannot read {what} ({exc})") from None
