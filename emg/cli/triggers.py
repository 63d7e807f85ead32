"""``emg triggers``: relate hourly rates to the diary."""

from __future__ import annotations

from pathlib import Path

from ..errors import EmgError
from ._common import add_command, print_error, progress


def register(subparsers) -> None:
    p = add_command(subparsers, "triggers", "relate hourly fasciculation rates to a diary of trigger factors", run)
    p.add_argument("--rates", nargs="+", required=True, metavar="RATES.csv")
    p.add_argument("--diary", required=True, metavar="DIARY.csv")
    p.add_argument("--out", default=".", metavar="DIR")
    p.add_argument("--body-mass-kg", type=float, default=None)
    p.add_argument("--kernels", default=None, metavar="FILE",
                   help="TOML or JSON file overriding the exposure kernels (see README)")
    p.add_argument("--channel", default=None, metavar="NAME",
                   help="use one channel of the rates files (default: sum all channels per hour)")


def run(args) -> int:
    from ..triggers.diary import read_diary
    from ..triggers.hourly import read_rates
    from ..triggers.kernels import load_kernels
    from ..triggers.model import analyse
    from ..triggers.output import summary_text, write_sensitivity_csv, write_triggers_csv

    diary = read_diary(args.diary, body_mass_kg=args.body_mass_kg)
    kernels = load_kernels(args.kernels)
    good, status = [], 0
    for path in args.rates:  # a bad rates file is reported and skipped, the others still run
        try:
            read_rates([path], min_valid_s=0.0)
            good.append(path)
        except EmgError as exc:
            print_error("triggers", exc, debug=args.debug)
            status = 1
    if not good:
        raise EmgError("no usable rates file")
    hours = read_rates(good, channel=args.channel)
    try:
        result = analyse(hours, diary, kernels, progress=progress)
    except EmgError as exc:
        if str(exc).startswith(str(diary.path)):
            raise
        raise EmgError(f"{', '.join(map(str, good))}: {exc}") from None

    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        write_triggers_csv(result, out / "triggers.csv")
        write_sensitivity_csv(result, out / "triggers_sensitivity.csv")
        text = summary_text(result)
        (out / "triggers.txt").write_text(text, encoding="utf-8")
    except OSError as exc:
        raise EmgError(f"{out}: cannot write the results ({exc.strerror or exc})") from None
    print(text, end="")
    try:
        from ..report.plots import save_trigger_plots
    except ImportError:  # the report module is optional for the statistics
        save_trigger_plots = None
    if save_trigger_plots is not None:
        try:
            save_trigger_plots(result, out)
        except Exception as exc:  # noqa: BLE001 - plots are extras; the tables are written
            print_error("triggers", EmgError(f"{out}: plots not written ({exc})"), debug=args.debug)
            status = 1
    print(f"Wrote {out / 'triggers.csv'}, triggers_sensitivity.csv, triggers.txt and plots.")
    return status
