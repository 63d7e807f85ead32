"""``emg analyze``: batch analysis of recordings into events, segments, rates and a summary."""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import EmgError, InputError
from ._common import add_command, print_error, progress


def register(subparsers) -> None:
    p = add_command(subparsers, "analyze", "detect and count fasciculations in recordings", run)
    p.add_argument("inputs", nargs="+", metavar="INPUT")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--format", default="auto", choices=["auto", "bdf", "edf", "openbci", "brainflow", "csv", "plux"])
    p.add_argument("--fs", type=float, default=None, help="sample rate in Hz for CSV files without a time column")
    p.add_argument("--mains", default="auto", choices=["auto", "50", "60"])
    p.add_argument("--scheduler", default=None, metavar="local:N|tcp://HOST:PORT")
    p.add_argument("--annotate", action="store_true", help="also write a BDF+ copy with events and segments")


def _unique_stem(path: str, used: set[str]) -> str:
    stem = Path(path).stem or "recording"
    candidate, k = stem, 2
    while candidate in used:
        candidate = f"{stem}-{k}"
        k += 1
    used.add(candidate)
    return candidate


def _summary_line(path: str, result) -> str:
    parts = []
    for name in result.info.channel_names:
        rate, low, high = result.rate_per_hour[name]
        rate_txt = "n/a (needs 5 min valid)" if rate is None else f"{rate:.1f}/h [{low:.1f}-{high:.1f}]"
        parts.append(f"{name} {result.fasciculations[name]} ({rate_txt})")
    return f"{path}: valid {result.valid_s / 60:.1f} min; fasciculations " + ", ".join(parts)


def run(args) -> int:
    from ..pipeline import analyze

    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"emg analyze: error: {out}: cannot create the output folder ({exc.strerror or exc})", file=sys.stderr)
        return 1
    mains = "auto" if args.mains == "auto" else int(args.mains)
    used: set[str] = set()
    stems = {path: _unique_stem(path, used) for path in dict.fromkeys(args.inputs)}
    if args.scheduler is not None:  # the same files, computed on a Dask cluster (emg.distributed)
        from ..distributed import run_cli

        def write_one(path, result) -> bool:
            try:
                result.write(out, stems[path])
                if args.annotate:
                    from ..annotate import write_annotated

                    write_annotated(result, out / f"{stems[path]}.annotated.bdf", format=args.format, fs=args.fs)
            except Exception as exc:  # noqa: BLE001
                print_error("analyze", exc if isinstance(exc, EmgError) else InputError(path, _reason(exc)),
                            debug=args.debug)
                return False
            print(_summary_line(path, result))
            return True

        try:
            return run_cli(args, write_one)
        except EmgError as exc:
            print(f"emg analyze: error: {exc}", file=sys.stderr)
            return 1
    bad = 0
    for path in args.inputs:
        try:
            result = analyze(path, format=args.format, fs=args.fs, mains=mains,
                             progress=lambda chunks, total, _p=path: progress(chunks, total=total, desc=Path(_p).name))
            stem = stems[path]
            result.write(out, stem)
            if args.annotate:
                from ..annotate import write_annotated

                write_annotated(result, out / f"{stem}.annotated.bdf", format=args.format, fs=args.fs)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # noqa: BLE001 - one bad input must not stop the others
            print_error("analyze", exc if isinstance(exc, EmgError) else InputError(path, _reason(exc)),
                        debug=args.debug)
            bad += 1
            continue
        print(_summary_line(path, result))
    if bad:
        print(f"emg analyze: {bad} of {len(args.inputs)} inputs failed; the others were written to {out}",
              file=sys.stderr)
    return 1 if bad else 0


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
