"""``emg report``: one self-contained HTML page for an analysed folder."""

from __future__ import annotations

from ._common import add_command


def register(subparsers) -> None:
    p = add_command(subparsers, "report", "write a self-contained HTML report of an analysed folder", run)
    p.add_argument("folder", metavar="DIR")
    p.add_argument("--diary", default=None, metavar="DIARY.csv")
    p.add_argument("-o", "--output", default=None, metavar="REPORT.html")


def run(args) -> int:
    raise NotImplementedError("emg report")
