"""``emg simulate``: synthetic rest sEMG with a truth file."""

from __future__ import annotations

import sys
from pathlib import Path

from ._common import add_command


def register(subparsers) -> None:
    p = add_command(subparsers, "simulate", "write synthetic rest sEMG (BDF+) and its ground truth", run)
    p.add_argument("output", metavar="OUT.bdf")
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--fs", type=float, default=None,
                   help="device sample rate in Hz (default: the scenario's, 1000 or 250 for cyton-250)")
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scenario", default="clean",
                   help="clean, cyton-250, mains-60, chest-ecg, voluntary, motion, low-snr, quiet, mixed, "
                        "cramp, myokymia")


def truth_path(output: str | Path) -> Path:
    """``OUT.bdf`` -> ``OUT.truth.json`` beside it."""
    out = Path(output)
    stem = out.name[: -len(out.suffix)] if out.suffix else out.name
    return out.with_name(stem + ".truth.json")


def run(args) -> int:
    from ..io import write_bdf
    from ..simulate import simulate

    try:
        rec, truth = simulate(args.scenario, minutes=args.minutes, fs=args.fs, channels=args.channels,
                              seed=args.seed)
    except ValueError as exc:  # bad option values are bad usage
        print(f"emg simulate: error: {exc}", file=sys.stderr)
        return 2
    write_bdf(rec, args.output)
    tpath = truth_path(args.output)
    truth.to_json(tpath)
    n_fasc = int((truth.events["kind"] == "fasciculation").sum())
    print(f"{args.output}: {rec.n_channels} channel(s), {rec.fs:g} Hz, {rec.duration_s / 60:g} min, "
          f"scenario {args.scenario!r}, {n_fasc} fasciculations planted; truth in {tpath}")
    return 0
