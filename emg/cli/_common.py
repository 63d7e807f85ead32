"""Helpers shared by the command modules: common options, per-input error reporting, progress."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from ..errors import EmgError

T = TypeVar("T")


def add_command(subparsers, name: str, help: str, func) -> argparse.ArgumentParser:
    """Add a sub-command with the options every command has (``--debug``)."""
    parser = subparsers.add_parser(name, help=help, description=help)
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.set_defaults(func=func)
    return parser


def print_error(command: str, exc: BaseException, *, debug: bool = False) -> None:
    """Print one line for an input that failed (the others go on)."""
    if debug:
        import traceback

        traceback.print_exception(exc)
    if isinstance(exc, EmgError):
        print(f"emg {command}: error: {exc}", file=sys.stderr)
    else:
        print(f"emg {command}: error: {type(exc).__name__}: {exc}", file=sys.stderr)


def progress(items: Iterable[T], *, total: int | None = None, desc: str = "") -> Iterator[T]:
    """Wrap ``items`` in a progress bar when stdout is a terminal; plain iteration otherwise."""
    if not sys.stdout.isatty():
        yield from items
        return
    from tqdm import tqdm

    yield from tqdm(items, total=total, desc=desc, leave=False)
