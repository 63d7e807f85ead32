"""EDF/BDF(+) headers and time-stamped annotation lists (TALs), as bytes.

The layouts follow the EDF specification (Kemp et al. 1992), EDF+ (Kemp & Olivan 2003) and
BioSemi's 24-bit BDF. A header is 256 bytes plus 256 bytes per signal; every field is
left-aligned ASCII padded with spaces. BDF+ is BDF with an EDF+ annotation signal named
``BDF Annotations``.

Times: EDF stores a wall-clock start without a zone. We write it in UTC (MNE reads it as UTC)
and keep the original offset as a ``tz=+HH:MM`` subfield of the EDF+ recording field; the
sub-second part of the start is the onset of the first record's time-keeping TAL.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field

from ..errors import InputError

__all__ = ["EdfHeader", "SignalHeader", "build_header", "decode_tals", "encode_tal", "parse_header"]

BDF_MAGIC = b"\xffBIOSEMI"
EDF_MAGIC = b"0       "
ANNOTATION_LABELS = ("EDF Annotations", "BDF Annotations")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_UNIT_TO_UV = {"uv": 1.0, "µv": 1.0, "μv": 1.0, "mv": 1e3, "v": 1e6, "nv": 1e-3}


@dataclass(frozen=True)
class SignalHeader:
    """One signal's header fields (physical values in ``unit``)."""

    label: str
    transducer: str
    unit: str
    physical_min: float
    physical_max: float
    digital_min: int
    digital_max: int
    prefilter: str
    samples_per_record: int

    @property
    def is_annotation(self) -> bool:
        return self.label in ANNOTATION_LABELS

    @property
    def gain(self) -> float:
        """Physical units per digital step."""
        return (self.physical_max - self.physical_min) / (self.digital_max - self.digital_min)

    @property
    def offset(self) -> float:
        """Physical value at digital 0 (exactly 0 for symmetric ranges)."""
        pmin, pmax, dmin, dmax = self.physical_min, self.physical_max, self.digital_min, self.digital_max
        return (pmin * dmax - dmin * pmax) / (dmax - dmin)

    @property
    def to_uv(self) -> float:
        """Factor from this signal's physical unit to µV (1 for unknown units)."""
        return _UNIT_TO_UV.get(self.unit.strip().lower(), 1.0)


@dataclass(frozen=True)
class EdfHeader:
    """A parsed EDF/BDF header; ``n_records`` already corrected from the file size."""

    bits: int  # 16 (EDF) or 24 (BDF)
    patient: str
    recording: str
    start: dt.datetime  # whole seconds, tz-aware (UTC unless a tz= subfield says otherwise)
    header_bytes: int
    reserved: str
    n_records: int
    n_records_in_header: int
    record_duration_s: float
    signals: tuple[SignalHeader, ...] = field(default_factory=tuple)

    @property
    def bytes_per_sample(self) -> int:
        return self.bits // 8

    @property
    def record_bytes(self) -> int:
        return sum(s.samples_per_record for s in self.signals) * self.bytes_per_sample

    @property
    def is_plus(self) -> bool:
        return self.reserved.startswith(("EDF+", "BDF+"))

    @property
    def is_discontinuous(self) -> bool:
        return self.reserved.startswith(("EDF+D", "BDF+D"))

    def signal_offsets(self) -> list[int]:
        """Byte offset of each signal inside a data record."""
        offsets, pos = [], 0
        for sig in self.signals:
            offsets.append(pos)
            pos += sig.samples_per_record * self.bytes_per_sample
        return offsets


def _field(raw: bytes, pos: int, width: int) -> tuple[str, int]:
    return raw[pos : pos + width].decode("latin-1").strip(), pos + width


def _number(path, name: str, text: str, kind=float):
    try:
        value = kind(text) if kind is float else int(float(text))
    except ValueError:
        raise InputError(path, f"invalid EDF/BDF header: field '{name}' is not a number, got {text!r}") from None
    return value


def _parse_start(path, date_text: str, time_text: str, recording: str) -> dt.datetime:
    tz = dt.timezone.utc
    match = re.search(r"\btz=([+-])(\d\d):(\d\d)\b", recording)
    if match:
        sign = 1 if match.group(1) == "+" else -1
        tz = dt.timezone(sign * dt.timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))
    try:
        day, month, year = (int(x) for x in date_text.split("."))
        hour, minute, second = (int(x) for x in time_text.replace(":", ".").split("."))
        year += 2000 if year < 85 else 1900
        plus = re.match(r"Startdate (\d\d)-([A-Z]{3})-(\d{4})", recording)
        if plus and plus.group(2) in _MONTHS:
            year = int(plus.group(3))
        start_utc = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.timezone.utc)
    except ValueError:
        raise InputError(
            path, f"invalid EDF/BDF header: start date/time {date_text!r} {time_text!r} is not dd.mm.yy hh.mm.ss"
        ) from None
    return start_utc.astimezone(tz)


def parse_header(path: str | os.PathLike, *, file_size: int | None = None) -> EdfHeader:
    """Read and check the header of an EDF, EDF+, BDF or BDF+ file.

    A header whose record count is -1 (a recording that never closed) or larger than the
    data present is corrected from the file size; a trailing partial record is ignored.

    Raises
    ------
    InputError
        When the file is not EDF/BDF, the header is truncated or inconsistent, a signal has
        a sample rate of 0, or the file has no data channel.
    """
    with open(path, "rb") as fid:
        fixed = fid.read(256)
        if len(fixed) < 256:
            raise InputError(path, f"truncated header: {len(fixed)} bytes, an EDF/BDF header needs at least 256")
        magic = fixed[:8]
        if magic == BDF_MAGIC:
            bits = 24
        elif magic == EDF_MAGIC:
            bits = 16
        else:
            raise InputError(path, f"not an EDF/BDF file (version field {magic!r})")
        patient, pos = _field(fixed, 8, 80)
        recording, pos = _field(fixed, pos, 80)
        date_text, pos = _field(fixed, pos, 8)
        time_text, pos = _field(fixed, pos, 8)
        header_bytes = _number(path, "header bytes", _field(fixed, pos, 8)[0], int)
        reserved, pos = _field(fixed, pos + 8, 44)
        n_records = _number(path, "number of data records", _field(fixed, pos, 8)[0], int)
        duration = _number(path, "duration of a data record", _field(fixed, pos + 8, 8)[0])
        n_signals = _number(path, "number of signals", _field(fixed, pos + 16, 4)[0], int)
        if n_signals <= 0:
            raise InputError(path, f"zero channels: the header declares {n_signals} signals")
        if header_bytes != 256 * (n_signals + 1):
            raise InputError(
                path, f"invalid EDF/BDF header: {header_bytes} header bytes for {n_signals} signals "
                f"(expected {256 * (n_signals + 1)})"
            )
        rest = fid.read(256 * n_signals)
        if len(rest) < 256 * n_signals:
            raise InputError(
                path, f"truncated header: {256 + len(rest)} of {header_bytes} header bytes present"
            )
    start = _parse_start(path, date_text, time_text, recording)

    def column(index: int, width: int) -> list[str]:
        base = sum(w for w in _SIGNAL_WIDTHS[:index]) * n_signals
        return [rest[base + i * width : base + (i + 1) * width].decode("latin-1").strip() for i in range(n_signals)]

    cols = [column(i, w) for i, w in enumerate(_SIGNAL_WIDTHS)]
    signals = []
    for i in range(n_signals):
        label = cols[0][i]
        sig = SignalHeader(
            label=label,
            transducer=cols[1][i],
            unit=cols[2][i],
            physical_min=_number(path, f"physical minimum of '{label}'", cols[3][i]),
            physical_max=_number(path, f"physical maximum of '{label}'", cols[4][i]),
            digital_min=_number(path, f"digital minimum of '{label}'", cols[5][i], int),
            digital_max=_number(path, f"digital maximum of '{label}'", cols[6][i], int),
            prefilter=cols[7][i],
            samples_per_record=_number(path, f"samples per record of '{label}'", cols[8][i], int),
        )
        if sig.samples_per_record < 0:
            raise InputError(path, f"invalid EDF/BDF header: signal '{label}' has {sig.samples_per_record} samples per record")
        if not sig.is_annotation:
            if sig.samples_per_record == 0 or duration <= 0:
                raise InputError(path, f"sample rate is 0 Hz for signal '{label}'")
            if sig.digital_max <= sig.digital_min or sig.physical_max == sig.physical_min:
                raise InputError(
                    path, f"invalid EDF/BDF header: signal '{label}' has an empty digital or physical range"
                )
        signals.append(sig)
    if not any(not s.is_annotation for s in signals):
        raise InputError(path, "zero channels: the file holds only annotations")

    size = os.path.getsize(path) if file_size is None else file_size
    record_bytes = sum(s.samples_per_record for s in signals) * bits // 8
    in_file = max(0, (size - header_bytes) // record_bytes) if record_bytes else 0
    if n_records == -1:
        records = in_file
    elif n_records < 0:
        raise InputError(path, f"invalid EDF/BDF header: number of data records is {n_records}")
    elif n_records > in_file:
        raise InputError(
            path, f"truncated data: the header declares {n_records} data records, the file holds {in_file}"
        )
    else:
        records = n_records
    return EdfHeader(
        bits=bits, patient=patient, recording=recording, start=start, header_bytes=header_bytes,
        reserved=reserved, n_records=records, n_records_in_header=n_records,
        record_duration_s=duration, signals=tuple(signals),
    )


# label, transducer, unit, physical min, physical max, digital min, digital max, prefilter,
# samples per record, reserved
_SIGNAL_WIDTHS = (16, 80, 8, 8, 8, 8, 8, 80, 8, 32)


def _pad(text: str, width: int) -> bytes:
    raw = text.encode("latin-1", errors="replace")
    if len(raw) > width:
        raise ValueError(f"EDF header field {text!r} is longer than {width} characters.")
    return raw.ljust(width, b" ")


def format_number(value: float, width: int = 8) -> str:
    """The shortest decimal text of ``value`` that fits ``width`` characters (EDF fields)."""
    if float(value).is_integer() and len(str(int(value))) <= width:
        return str(int(value))
    for digits in range(width, 0, -1):
        text = f"{value:.{digits}g}"
        if "e" not in text and len(text) <= width:
            return text
    raise ValueError(f"{value!r} does not fit an EDF header field of {width} characters.")


def build_header(
    *,
    bits: int,
    start: dt.datetime,
    n_records: int,
    record_duration_s: float,
    signals: list[SignalHeader],
    patient: str = "X X X X",
    equipment: str = "emg",
) -> bytes:
    """Bytes of an EDF+/BDF+ continuous (``+C``) header; ``start`` is written in UTC, whole seconds."""
    utc = start.astimezone(dt.timezone.utc)
    offset = start.utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    tz_text = f"tz={sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    recording = (
        f"Startdate {utc.day:02d}-{_MONTHS[utc.month - 1]}-{utc.year:04d} X X {equipment} {tz_text}"
    )
    n = len(signals)
    out = [
        BDF_MAGIC if bits == 24 else EDF_MAGIC,
        _pad(patient, 80),
        _pad(recording, 80),
        _pad(f"{utc.day:02d}.{utc.month:02d}.{utc.year % 100:02d}", 8),
        _pad(f"{utc.hour:02d}.{utc.minute:02d}.{utc.second:02d}", 8),
        _pad(str(256 * (n + 1)), 8),
        _pad("BDF+C" if bits == 24 else "EDF+C", 44),
        _pad(str(n_records), 8),
        _pad(format_number(record_duration_s), 8),
        _pad(str(n), 4),
    ]
    per_field = [
        [s.label for s in signals],
        [s.transducer for s in signals],
        [s.unit for s in signals],
        [format_number(s.physical_min) for s in signals],
        [format_number(s.physical_max) for s in signals],
        [str(s.digital_min) for s in signals],
        [str(s.digital_max) for s in signals],
        [s.prefilter for s in signals],
        [str(s.samples_per_record) for s in signals],
        ["" for _ in signals],
    ]
    for values, width in zip(per_field, _SIGNAL_WIDTHS):
        out.extend(_pad(v, width) for v in values)
    header = b"".join(out)
    assert len(header) == 256 * (n + 1)
    return header


def n_records_field(n_records: int) -> bytes:
    """The 8 bytes of the record-count field (at offset 236)."""
    return _pad(str(n_records), 8)


N_RECORDS_OFFSET = 236


# -- annotations -------------------------------------------------------------------------

def _onset_text(onset_s: float) -> str:
    text = f"{onset_s:+.6f}".rstrip("0").rstrip(".")
    return "+0" if text in ("+", "-", "-0", "+0") else text


def encode_tal(onset_s: float, duration_s: float | None = None, texts: tuple[str, ...] = ()) -> bytes:
    """One TAL: ``+onset[\\x15duration]\\x14text\\x14...\\x00`` (a time-keeping TAL when no text)."""
    head = _onset_text(onset_s)
    if duration_s is not None and duration_s > 0:
        head += "\x15" + f"{duration_s:.6f}".rstrip("0").rstrip(".")
    body = "".join(t.replace("\x14", " ").replace("\x15", " ").replace("\x00", " ") + "\x14" for t in texts)
    return (head + "\x14" + (body if body else "\x14")).encode("utf-8") + b"\x00"


def decode_tals(raw: bytes) -> list[tuple[float, float, list[str]]]:
    """Parse the TALs of one record's annotation bytes into ``(onset_s, duration_s, texts)``.

    The first TAL of each record is the time-keeping one (empty text list). Malformed TALs
    are skipped.
    """
    out = []
    for tal in raw.rstrip(b"\x00").split(b"\x00"):
        if not tal or tal[:1] not in (b"+", b"-"):
            continue
        parts = tal.decode("utf-8", errors="replace").split("\x14")
        head = parts[0].split("\x15")
        try:
            onset = float(head[0])
            duration = float(head[1]) if len(head) > 1 and head[1] else 0.0
        except ValueError:
            continue
        texts = [p for p in parts[1:] if p]
        out.append((onset, duration, texts))
    return out
