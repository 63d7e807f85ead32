"""The ``emg`` command line: argument parsing and printing only, no algorithms.

Each sub-module registers its commands; this module owns the exit codes and the rule that
errors are one line on stderr (a traceback only with ``--debug``).

Exit codes: 0 success, 1 some input was bad (the rest was done), 2 bad usage, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .._version import __version__
from ..errors import EmgError

# Sub-modules of emg.cli, each with ``register(subparsers)``; listed in help order.
_COMMAND_MODULES = ("demo", "files", "simulate", "analyze", "live", "triggers", "report")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emg",
        description="An honest fasciculation monitor for wearable surface EMG. "
        "Personal insight, not diagnosis.",
    )
    parser.add_argument("--version", action="version", version=f"emg {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    debug = getattr(args, "debug", False)
    try:
        return int(args.func(args) or 0)
    except EmgError as exc:
        if debug:
            raise
        print(f"emg {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"emg {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - last line of defence: one line, no traceback
        if debug:
            raise
        print(
            f"emg {args.command}: error: {type(exc).__name__}: {exc} (run with --debug for details)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
