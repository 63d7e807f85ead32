"""``emg report``: one self-contained HTML page for an analysed folder."""

from __future__ import annotations

import sys

from ._common import add_command, print_error


def register(subparsers) -> None:
    p = add_command(
        subparsers, "report", "write a self-contained HTML report of an analysed folder", run
    )
    p.add_argument("folder", metavar="DIR", help="output folder of 'emg analyze'")
    p.add_argument(
        "--diary", default=None, metavar="DIARY.csv", help="add the trigger-factor section"
    )
    p.add_argument(
        "-o", "--output", default=None, metavar="REPORT.html", help="default: DIR/report.html"
    )


def run(args) -> int:
    from ..report import write_report

    outcome = write_report(args.folder, diary=args.diary, output=args.output)
    for exc in outcome.errors:
        print_error("report", exc, debug=args.debug)
    n = len(outcome.inputs)
    print(f"wrote {outcome.path} ({n} recording{'s' if n != 1 else ''})", file=sys.stdout)
    return 1 if outcome.errors else 0
