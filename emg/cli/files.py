"""``emg info`` and ``emg convert``."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from ..errors import EmgError, InputError
from ._common import add_command, print_error

_FORMATS = ("auto", "bdf", "edf", "openbci", "brainflow", "csv", "plux")


def _add_read_options(p) -> None:
    p.add_argument("--format", default="auto", choices=_FORMATS, help="input format (default: from the content)")
    p.add_argument("--fs", type=float, default=None, help="sample rate in Hz for CSV files without a time column")
    p.add_argument("--scale-uv", type=float, default=None, help="µV per ADC count for CSV logs of raw counts")


def register(subparsers) -> None:
    p = add_command(subparsers, "info", "show format, sample rate, channels, start, duration and gaps", run_info)
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="print a JSON list, one object per file")
    _add_read_options(p)

    p = add_command(subparsers, "convert", "convert any readable recording to BDF+", run_convert)
    p.add_argument("input", metavar="INPUT")
    p.add_argument("output", metavar="OUT.bdf")
    _add_read_options(p)


def _hms(seconds: float) -> str:
    hours, rest = divmod(seconds, 3600.0)
    minutes, secs = divmod(rest, 60.0)
    return f"{int(hours):02d}:{int(minutes):02d}:{secs:06.3f}"


def info_dict(info) -> dict:
    """The ``emg info --json`` object of one recording (CONTRACT keys, plus ``n_samples``)."""
    return {
        "path": info.path,
        "format": info.format,
        "fs": info.fs,
        "channels": list(info.channel_names),
        "start": info.start.isoformat(),
        "duration_s": info.duration_s,
        "gaps": [[g.start_s, g.duration_s] for g in info.gaps],
        "n_samples": info.n_samples,
        "annotations": len(info.annotations),
    }


def _print_info(info) -> None:
    gap_s = sum(g.duration_s for g in info.gaps)
    names = ", ".join(info.channel_names)
    print(info.path)
    print(f"  format:    {info.format}")
    print(f"  fs:        {info.fs:g} Hz")
    print(f"  channels:  {info.n_channels} ({names})")
    print(f"  start:     {info.start.isoformat()}")
    print(f"  duration:  {info.duration_s:.3f} s ({_hms(info.duration_s)})")
    print(f"  gaps:      {len(info.gaps)} ({gap_s:.3f} s)")
    if info.annotations:
        print(f"  annotations: {len(info.annotations)}")


def run_info(args) -> int:
    from ..io import read_info

    status, objects = 0, []
    for path in args.files:
        try:
            info = read_info(path, format=args.format, fs=args.fs, scale_uv=args.scale_uv)
        except (EmgError, ValueError, OSError) as exc:
            if not isinstance(exc, EmgError):
                exc = InputError(path, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            print_error("info", exc, debug=args.debug)
            status = 1
            continue
        if args.json:
            objects.append(info_dict(info))
        else:
            _print_info(info)
        sys.stdout.flush()
    if args.json:
        print(json.dumps(objects, indent=1, ensure_ascii=False))
    return status


def run_convert(args) -> int:
    from .. import io as emg_io
    from ..io.bdf import can_stream, write_bdf_streaming

    out = Path(args.output)
    if out.exists() and out.is_dir():
        raise InputError(out, "is a directory; give the output file name")
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(out, f"output folder {str(folder)!r} does not exist")
    reader = emg_io.open_reader(args.input, format=args.format, fs=args.fs, scale_uv=args.scale_uv)
    stream = can_stream(reader)  # a large BDF/EDF goes chunk by chunk, in bounded memory
    recording = None if stream else reader.read()
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=folder)
    os.close(fd)
    try:
        if stream:
            write_bdf_streaming(reader, tmp)
        else:
            emg_io.write_bdf(recording, tmp)
        os.replace(tmp, out)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise InputError(out, f"cannot write: {exc.strerror or exc}") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    info = reader.info if stream else recording.info
    print(
        f"wrote {out}: {info.n_channels} channels, {info.fs:g} Hz, {info.duration_s:.3f} s, "
        f"{len(info.gaps)} gaps, {len(info.annotations)} annotations"
    )
    return 0
