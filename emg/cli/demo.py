"""``emg demo``: emulated sensor -> serial reader -> detection -> classification -> rates."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from ._common import add_command
from .live import BOARDS


def register(subparsers) -> None:
    p = add_command(subparsers, "demo", "run the whole pipeline on an emulated sensor (no hardware needed)", run)
    p.add_argument("--seconds", type=float, default=60.0, help="how long to stream (default 60)")
    p.add_argument("--out", default="emg-demo", help="output folder (default ./emg-demo)")
    p.add_argument("--board", default=DEMO_BOARD, choices=BOARDS,
                   help="emulated board (default cyton: 8 ch x 250 Hz; myoware: 4 ch x 1 kHz at 24.4 µV per count)")


#: the default emulated board: the Cyton (250 Hz, 0.02 µV steps). The MyoWare bridge runs at 1 kHz
#: (better shapes) but its 10-bit ADC steps (24.4 µV) hide potentials below about 50 µV.
DEMO_BOARD = "cyton"
DEMO_SCENARIO = "clean"


def run(args) -> int:
    if not args.seconds > 0:
        print(f"emg demo: error: Invalid value for '--seconds': must be > 0, got {args.seconds!r}.", file=sys.stderr)
        return 2
    from ..devices.emulator import Emulator
    from ..devices.stream import LiveSource
    from ..pipeline import Analyzer
    from ..types import RecordingInfo

    out = Path(args.out)
    board = args.board
    print(f"emg demo: emulated {board} sensor on a pseudo-terminal, {args.seconds:g} s of simulated rest "
          f"EMG at real pace (scenario '{DEMO_SCENARIO}')", flush=True)
    with Emulator(board, scenario=DEMO_SCENARIO, seed=0) as emu:
        with LiveSource(board, emu.port, seconds=args.seconds) as source:
            analyzer = Analyzer(source.fs, source.channel_names, mains="auto")
            total = int(round(args.seconds * source.fs))
            bar = _Bar(total) if sys.stdout.isatty() else None
            for chunk in source:
                analyzer.process(chunk)
                if bar is not None:
                    bar.update(chunk.first_sample + chunk.n_samples)
            if bar is not None:
                bar.close()
            stats = source.stats
            start = source.start or dt.datetime.now(dt.UTC).astimezone()
            port = source.port
    analyzer.finish()
    info = RecordingInfo(fs=analyzer.fs, channel_names=analyzer.channel_names, start=start,
                         n_samples=max(analyzer.samples, 1), format=f"{board}-live", path=None,
                         gaps=tuple(stats.gaps), packets_lost=stats.packets_lost)
    result = analyzer.result(info, input=f"emulated {board} on {port}", packets_lost=stats.packets_lost)
    paths = result.write(out, "demo")
    _print_summary(result, stats)
    for note in result.notes:
        print(f"note: {note}")
    print(f"files: {', '.join(str(p) for k, p in paths.items())}")
    print("Personal insight, not diagnosis: see a doctor when twitching lasts more than two weeks, spreads, "
          "or comes with weakness or muscle wasting.")
    return 0


class _Bar:
    def __init__(self, total: int):
        from tqdm import tqdm

        self._bar = tqdm(total=total, unit="sample", unit_scale=True, leave=False, desc="streaming")
        self._n = 0

    def update(self, n: int) -> None:
        self._bar.update(max(0, min(n, self._bar.total) - self._n))
        self._n = min(n, self._bar.total)

    def close(self) -> None:
        self._bar.close()


def _print_summary(result, stats) -> None:
    print(f"{result.info.duration_s:.1f} s at {result.info.fs:g} Hz, mains {result.mains_hz or 'none'} Hz, "
          f"packets lost {stats.packets_lost}")
    print(f"{'channel':8s} {'noise µV':>8s} {'from µV':>7s} {'fasc.':>5s} {'valid':>8s}  rate per hour [95 % CI]")
    for name in result.info.channel_names:
        rate, low, high = result.rate_per_hour[name]
        valid = result.valid_s_per_channel[name]
        if rate is None:
            rate_txt = "n/a (needs 5 min valid rest)"
        else:
            rate_txt = f"{rate:.1f} [{low:.1f}-{high:.1f}]"
        print(f"{name:8s} {result.noise_uv[name]:8.1f} {result.counted_from_uv[name]:7.0f} "
              f"{result.fasciculations[name]:5d} {valid:7.1f}s  {rate_txt}")
