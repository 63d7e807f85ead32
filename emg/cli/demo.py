"""``emg demo``: emulated sensor -> serial reader -> detection -> classification -> rates."""

from __future__ import annotations

from ._common import add_command


def register(subparsers) -> None:
    p = add_command(subparsers, "demo", "run the whole pipeline on an emulated sensor (no hardware needed)", run)
    p.add_argument("--seconds", type=float, default=60.0, help="how long to stream (default 60)")
    p.add_argument("--out", default="emg-demo", help="output folder (default ./emg-demo)")


def run(args) -> int:
    raise NotImplementedError("emg demo")
