"""``emg stream`` and ``emg emulate``."""

from __future__ import annotations

from ._common import add_command

BOARDS = ("cyton", "cyton-daisy", "myoware")


def register(subparsers) -> None:
    p = add_command(subparsers, "stream", "live ingestion with on-line detection", run_stream)
    p.add_argument("--board", required=True, choices=BOARDS)
    p.add_argument("--port", required=True, metavar="PORT|auto")
    p.add_argument("--seconds", type=float, default=None)
    p.add_argument("--record", default=None, metavar="FILE.bdf")
    p.add_argument("--lsl", action="store_true", help="publish an LSL stream (needs the 'lsl' extra)")

    p = add_command(subparsers, "emulate", "a virtual sensor on a pseudo-terminal", run_emulate)
    p.add_argument("--board", required=True, choices=BOARDS)
    p.add_argument("--link", default=None, metavar="PATH", help="symlink to the pseudo-terminal")
    p.add_argument("--seconds", type=float, default=None)
    p.add_argument("--drop-every", type=int, default=0, metavar="N")
    p.add_argument("--garbage-every", type=int, default=0, metavar="N")


def run_stream(args) -> int:
    raise NotImplementedError("emg stream")


def run_emulate(args) -> int:
    raise NotImplementedError("emg emulate")
