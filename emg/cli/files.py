"""``emg info`` and ``emg convert``."""

from __future__ import annotations

from ._common import add_command


def register(subparsers) -> None:
    p = add_command(subparsers, "info", "show format, sample rate, channels, start, duration and gaps", run_info)
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="print a JSON list, one object per file")
    p.add_argument("--format", default="auto", help="auto|bdf|edf|openbci|brainflow|csv|plux")
    p.add_argument("--fs", type=float, default=None, help="sample rate in Hz for CSV files without a time column")

    p = add_command(subparsers, "convert", "convert any readable recording to BDF+", run_convert)
    p.add_argument("input", metavar="INPUT")
    p.add_argument("output", metavar="OUT.bdf")
    p.add_argument("--format", default="auto", help="auto|bdf|edf|openbci|brainflow|csv|plux")
    p.add_argument("--fs", type=float, default=None, help="sample rate in Hz for CSV files without a time column")


def run_info(args) -> int:
    raise NotImplementedError("emg info")


def run_convert(args) -> int:
    raise NotImplementedError("emg convert")
