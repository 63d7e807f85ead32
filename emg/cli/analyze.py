"""``emg analyze``: batch analysis of recordings into events, segments, rates and a summary."""

from __future__ import annotations

from ._common import add_command


def register(subparsers) -> None:
    p = add_command(subparsers, "analyze", "detect and count fasciculations in recordings", run)
    p.add_argument("inputs", nargs="+", metavar="INPUT")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--format", default="auto", choices=["auto", "bdf", "edf", "openbci", "brainflow", "csv", "plux"])
    p.add_argument("--fs", type=float, default=None, help="sample rate in Hz for CSV files without a time column")
    p.add_argument("--mains", default="auto", choices=["auto", "50", "60"])
    p.add_argument("--scheduler", default=None, metavar="local:N|tcp://HOST:PORT")
    p.add_argument("--annotate", action="store_true", help="also write a BDF+ copy with events and segments")


def run(args) -> int:
    raise NotImplementedError("emg analyze")
