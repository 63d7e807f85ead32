"""``emg triggers``: relate hourly rates to the diary."""

from __future__ import annotations

from ._common import add_command


def register(subparsers) -> None:
    p = add_command(subparsers, "triggers", "relate hourly fasciculation rates to a diary of trigger factors", run)
    p.add_argument("--rates", nargs="+", required=True, metavar="RATES.csv")
    p.add_argument("--diary", required=True, metavar="DIARY.csv")
    p.add_argument("--out", default=".", metavar="DIR")
    p.add_argument("--body-mass-kg", type=float, default=None)


def run(args) -> int:
    raise NotImplementedError("emg triggers")
