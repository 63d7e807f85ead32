"""``emg simulate``: synthetic rest sEMG with a truth file."""

from __future__ import annotations

from ._common import add_command


def register(subparsers) -> None:
    p = add_command(subparsers, "simulate", "write synthetic rest sEMG (BDF+) and its ground truth", run)
    p.add_argument("output", metavar="OUT.bdf")
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--fs", type=float, default=1000.0, help="device sample rate in Hz")
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scenario", default="clean")


def run(args) -> int:
    raise NotImplementedError("emg simulate")
