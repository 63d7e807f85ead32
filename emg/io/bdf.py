"""BDF/EDF(+) reading in bounded memory, and BDF+ writing.

Reading decodes whole data records at once (a vectorised 24- or 16-bit decode); chunks are
read by seeking to the records they need, so a 24-hour file never sits in memory. A header
whose record count is -1 (a live recording that was killed) is read up to the last complete
record, as MNE does.

Writing produces BDF+C: 24-bit samples with a symmetric range (0 µV is digital 0, so gap
filler stays exactly 0), an EDF+ annotation signal ``BDF Annotations`` holding the time-keeping
TAL of each record, every annotation and every gap (described ``gap``, with its duration).
The live, crash-safe writer is :class:`BdfRecorder` (in ``recorder.py``, re-exported here).
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..types import Annotation, Chunk, Gap, Recording, RecordingInfo, chunk_grid, chunk_step
from .edf_header import (
    EdfHeader,
    SignalHeader,
    build_header,
    decode_tals,
    encode_tal,
    parse_header,
)
from .recorder import BdfRecorder

__all__ = ["DEFAULT_PHYSICAL_MAX_UV", "BdfRecorder", "EdfReader", "read_edf", "write_bdf", "write_edf"]

DEFAULT_PHYSICAL_MAX_UV = 187500.0  # Cyton full scale at gain 24: 4.5 V / 24, so one count is one LSB
_BLOCK_BYTES = 32 * 1024 * 1024  # raw bytes decoded at once when reading many records


def decode_words(buf: np.ndarray, n_words: int, bits: int) -> np.ndarray:
    """Little-endian two's-complement words from a contiguous byte buffer, vectorised.

    Parameters
    ----------
    buf : ndarray of uint8, 1-D, contiguous
        At least ``n_words * bits // 8`` bytes; for 24 bits one byte more (its value is unused).
    n_words : int
    bits : 16 or 24

    Returns
    -------
    ndarray of int32 (24 bits) or int16 (16 bits), shape (n_words,)

    Notes
    -----
    24-bit words are loaded as overlapping 4-byte integers with a 3-byte stride (one strided
    copy), then shifted left and arithmetically right by 8 bits to sign-extend.
    """
    if bits == 16:
        return np.frombuffer(buf, dtype="<i2", count=n_words)
    if buf.size < 3 * n_words + 1:
        raise ValueError("decode_words needs one spare byte after 24-bit data.")
    packed = np.ndarray((n_words,), dtype="<i4", buffer=buf, offset=0, strides=(3,))
    words = np.left_shift(packed, 8)
    np.right_shift(words, 8, out=words)
    return words


def decode_samples(raw: np.ndarray, bits: int) -> np.ndarray:
    """Samples from bytes of shape (..., n * bits // 8) to int32 of shape (..., n)."""
    raw = np.asarray(raw, dtype=np.uint8)
    n = raw.shape[-1] // (bits // 8)
    buf = np.zeros(raw.size + 1, dtype=np.uint8)
    buf[: raw.size] = raw.reshape(-1)
    return decode_words(buf, raw.size // (bits // 8), bits).astype(np.int32).reshape(raw.shape[:-1] + (n,))


def encode_samples(digital: np.ndarray, bits: int) -> np.ndarray:
    """Inverse of :func:`decode_samples`: int array (..., n) to uint8 (..., n * bits // 8)."""
    if bits == 16:
        return digital.astype("<i2").view(np.uint8)
    wide = np.ascontiguousarray(digital, dtype="<i4").view(np.uint8)
    wide = wide.reshape(digital.shape + (4,))[..., :3]
    return np.ascontiguousarray(wide).reshape(digital.shape[:-1] + (-1,))


class EdfReader:
    """Random and chunked access to the samples of an EDF/EDF+/BDF/BDF+ file.

    Only the data signals with the highest sample rate are read (annotation signals are
    parsed into gaps and annotations). Samples come out as float32 µV.

    Parameters
    ----------
    path : path-like
    format_name : str
        ``"bdf"`` or ``"edf"`` for :attr:`info`; taken from the header when None.
    """

    def __init__(self, path: str | os.PathLike, *, format_name: str | None = None):
        self.path = Path(path)
        hdr = parse_header(self.path)
        self.header: EdfHeader = hdr
        data_sigs = [i for i, s in enumerate(hdr.signals) if not s.is_annotation]
        spr = max(hdr.signals[i].samples_per_record for i in data_sigs)
        self._channels = [i for i in data_sigs if hdr.signals[i].samples_per_record == spr]
        self._annotation_sigs = [i for i, s in enumerate(hdr.signals) if s.is_annotation]
        self._offsets = hdr.signal_offsets()
        self.samples_per_record = spr
        fs = spr / hdr.record_duration_s
        self.fs = float(round(fs)) if abs(fs - round(fs)) < 1e-6 else fs
        bps = hdr.bytes_per_sample
        self._gain = np.array([hdr.signals[i].gain * hdr.signals[i].to_uv for i in self._channels])
        self._offset = np.array([hdr.signals[i].offset * hdr.signals[i].to_uv for i in self._channels])
        self._slices = [(self._offsets[i], self._offsets[i] + spr * bps) for i in self._channels]
        frac, gaps, annotations = self._read_annotations()
        start = hdr.start + dt.timedelta(seconds=frac)
        self.info = RecordingInfo(
            fs=self.fs,
            channel_names=_unique_names([hdr.signals[i].label for i in self._channels]),
            start=start,
            n_samples=hdr.n_records * spr,
            format=format_name or ("bdf" if hdr.bits == 24 else "edf"),
            path=str(self.path),
            gaps=gaps,
            annotations=annotations,
        )

    # -- annotations ---------------------------------------------------------------------
    def _read_annotations(self) -> tuple[float, list[Gap], list[Annotation]]:
        hdr = self.header
        if not self._annotation_sigs or hdr.n_records == 0:
            return 0.0, [], []
        bps = hdr.bytes_per_sample
        spans = [
            (self._offsets[i], hdr.signals[i].samples_per_record * bps) for i in self._annotation_sigs
        ]
        frac = None
        gaps: list[Gap] = []
        annotations: list[Annotation] = []
        record_onsets = []
        header_bytes, record_bytes = hdr.header_bytes, hdr.record_bytes
        with open(self.path, "rb") as fid:
            for rec in range(hdr.n_records):
                base = header_bytes + rec * record_bytes
                tals = []
                for offset, length in spans:
                    fid.seek(base + offset)
                    tals.extend(decode_tals(fid.read(length)))
                if tals and not tals[0][2]:
                    record_onsets.append(tals[0][0])
                    tals = tals[1:]
                for onset, duration, texts in tals:
                    for text in texts:
                        if text == "gap" and duration > 0:
                            gaps.append((onset, duration))
                        else:
                            annotations.append((onset, duration, text))
        if record_onsets:
            frac = record_onsets[0]
            if hdr.is_discontinuous:
                expected = frac + np.arange(len(record_onsets)) * hdr.record_duration_s
                if np.any(np.abs(np.asarray(record_onsets) - expected) > 0.5 / self.fs):
                    raise InputError(
                        self.path,
                        "EDF+D/BDF+D file with interrupted data records is not supported "
                        "(convert it to a continuous file first)",
                    )
        frac = frac or 0.0
        if not 0 <= frac < 1:  # a start later than the header by whole seconds: keep it as time
            frac = 0.0
        return (
            frac,
            [Gap(onset - frac, duration) for onset, duration in gaps],
            [Annotation(onset - frac, duration, text) for onset, duration, text in annotations],
        )

    # -- samples -------------------------------------------------------------------------
    @property
    def n_samples(self) -> int:
        return self.info.n_samples

    def read_samples(self, first: int, n: int) -> np.ndarray:
        """Samples ``[first, first + n)`` of every channel as float32 µV, shape (channels, n)."""
        if first < 0 or n < 0 or first + n > self.n_samples:
            raise ValueError(
                f"Invalid sample range [{first}, {first + n}) for a recording of {self.n_samples} samples."
            )
        spr = self.samples_per_record
        out = np.empty((len(self._channels), n), dtype=np.float32)
        if n == 0:
            return out
        hdr = self.header
        rec_bytes = hdr.record_bytes
        bps = hdr.bytes_per_sample
        per_block = max(1, _BLOCK_BYTES // rec_bytes)
        r0, r1 = first // spr, -(-(first + n) // spr)
        buf = np.empty(min(per_block, r1 - r0) * rec_bytes + 1, dtype=np.uint8)
        with open(self.path, "rb") as fid:
            for b0 in range(r0, r1, per_block):
                b1 = min(r1, b0 + per_block)
                n_bytes = (b1 - b0) * rec_bytes
                fid.seek(hdr.header_bytes + b0 * rec_bytes)
                if fid.readinto(memoryview(buf)[:n_bytes]) < n_bytes:
                    raise InputError(self.path, "truncated data: the file shrank while it was read")
                words = decode_words(buf, n_bytes // bps, hdr.bits).reshape(b1 - b0, rec_bytes // bps)
                lo, hi = max(first, b0 * spr), min(first + n, b1 * spr)  # samples this block gives
                for row, (start_byte, _) in enumerate(self._slices):
                    col = start_byte // bps
                    seg = words[:, col : col + spr]
                    dst = out[row, lo - first : hi - first]
                    if lo == b0 * spr and hi == b1 * spr:
                        np.multiply(seg, self._gain[row], out=dst.reshape(b1 - b0, spr), casting="unsafe")
                    else:
                        part = seg.reshape(-1)[lo - b0 * spr : hi - b0 * spr]
                        np.multiply(part, self._gain[row], out=dst, casting="unsafe")
                    if self._offset[row] != 0:
                        dst += np.float32(self._offset[row])
        return out

    def iter_chunks(self, chunk_s: float = 10.0) -> Iterator[Chunk]:
        """Consecutive chunks of ``chunk_s`` seconds, read from disk one at a time."""
        yield from chunk_grid(self.read_samples, self.fs, self.info.gaps, self.n_samples, chunk_step(chunk_s, self.fs))

    def read(self) -> Recording:
        """The whole file as a :class:`Recording`."""
        info = self.info
        data = self.read_samples(0, self.n_samples)
        return Recording(  # checks that the samples are finite (absurd header ranges could overflow)
            data, fs=info.fs, channel_names=info.channel_names, start=info.start, gaps=info.gaps,
            annotations=info.annotations, format=info.format, path=info.path,
        )


def _unique_names(labels: list[str]) -> tuple[str, ...]:
    names, seen = [], set()
    for i, label in enumerate(labels):
        name = label.strip() or f"ch{i + 1}"
        base, k = name, 2
        while name in seen:
            name, k = f"{base}-{k}", k + 1
        seen.add(name)
        names.append(name)
    return tuple(names)


def read_edf(path: str | os.PathLike) -> Recording:
    """Read an EDF, EDF+, BDF or BDF+ file into memory (µV, float32)."""
    return EdfReader(path).read()


# -- writing ----------------------------------------------------------------------------------

def _record_layout(fs: float, n_samples: int) -> tuple[int, float]:
    """Samples per record and record duration (s) for a file of ``n_samples`` at ``fs``.

    One-second records when they divide the data; otherwise the largest record that does
    (not shorter than 40 ms) so no padding is needed; otherwise one-second records, padded.
    """
    fs_int = int(round(fs))
    if abs(fs - fs_int) < 1e-9 and fs_int > 0:
        if n_samples % fs_int == 0 or n_samples == 0:
            return fs_int, 1.0
        common = math.gcd(n_samples, fs_int)
        if common * 25 >= fs_int:
            return common, common / fs_int
        return fs_int, 1.0
    for duration in (2.0, 4.0, 5.0, 10.0, 20.0, 0.5, 0.25, 0.2, 0.1):
        spr = fs * duration
        if abs(spr - round(spr)) < 1e-6 * duration:
            return int(round(spr)), duration
    raise ValueError(
        f"Invalid value for 'fs': {fs!r} Hz does not give a whole number of samples per data record "
        "of 0.1 to 20 s, which EDF/BDF needs."
    )


def _physical_max(data_uv: np.ndarray, bits: int) -> float:
    peak = float(np.max(np.abs(data_uv))) if data_uv.size else 0.0
    if bits == 16:  # few steps: spend them on the signal's own range
        return float(max(1, math.ceil(peak)))
    if peak <= DEFAULT_PHYSICAL_MAX_UV:
        return DEFAULT_PHYSICAL_MAX_UV
    if peak >= 1e8:
        raise ValueError(f"Invalid recording: samples of {peak:g} µV do not fit a BDF physical range.")
    return float(math.ceil(peak))


def _write_edf_family(recording: Recording, path: str | os.PathLike, bits: int) -> None:
    fs, n = recording.fs, recording.n_samples
    spr, duration = _record_layout(fs, n)
    n_records = max(1, -(-n // spr))
    pad = n_records * spr - n
    digital_max = 2 ** (bits - 1) - 1
    frac = recording.start.microsecond / 1e6
    gaps = list(recording.gaps)
    if pad:
        gaps.append(Gap(n / fs, pad / fs))  # padded tail: time slots without data
    # annotations go into the record that holds their onset
    tals: list[list[bytes]] = [[encode_tal(r * duration + frac)] for r in range(n_records)]
    items = [(g.start_s, g.duration_s, "gap") for g in gaps]
    items += [(a.onset_s, a.duration_s, a.description) for a in recording.annotations]
    for onset, dur, text in sorted(items):
        rec = min(max(int(onset // duration), 0), n_records - 1)
        tals[rec].append(encode_tal(onset + frac, dur, (text,)))
    tal_bytes = [b"".join(t) for t in tals]
    ann_len = max(len(t) for t in tal_bytes)
    bps = bits // 8
    ann_spr = max(-(-ann_len // bps), 1)
    ann_spr += ann_spr % 2 if bits == 16 else 0
    ann_total = ann_spr * bps

    phys = [_physical_max(row, bits) for row in recording.data]
    signals = [
        SignalHeader(
            label=name[:16], transducer="surface EMG electrode", unit="uV", physical_min=-p,
            physical_max=p, digital_min=-digital_max, digital_max=digital_max, prefilter="",
            samples_per_record=spr,
        )
        for name, p in zip(recording.channel_names, phys)
    ]
    if len({s.label for s in signals}) != len(signals):
        raise ValueError("Invalid value for 'channel_names': names must stay unique when cut to 16 characters.")
    signals.append(
        SignalHeader(
            label="BDF Annotations" if bits == 24 else "EDF Annotations", transducer="", unit="",
            physical_min=-1, physical_max=1, digital_min=-(2 ** (bits - 1)), digital_max=digital_max,
            prefilter="", samples_per_record=ann_spr,
        )
    )
    header = build_header(
        bits=bits, start=recording.start.replace(microsecond=0), n_records=n_records,
        record_duration_s=duration, signals=signals,
    )
    gains = np.array([p / digital_max for p in phys])
    n_ch = recording.n_channels
    rec_bytes = n_ch * spr * bps + ann_total
    per_block = max(1, _BLOCK_BYTES // rec_bytes)
    with open(path, "wb") as fid:
        fid.write(header)
        for r0 in range(0, n_records, per_block):
            r1 = min(n_records, r0 + per_block)
            lo, hi = r0 * spr, min(r1 * spr, n)
            digital = np.zeros((n_ch, (r1 - r0) * spr), dtype=np.int32)
            scaled = recording.data[:, lo:hi] / gains[:, None]
            digital[:, : hi - lo] = np.clip(np.rint(scaled), -digital_max, digital_max)
            block = np.zeros((r1 - r0, rec_bytes), dtype=np.uint8)
            per_rec = digital.reshape(n_ch, r1 - r0, spr).transpose(1, 0, 2)
            block[:, : n_ch * spr * bps] = encode_samples(np.ascontiguousarray(per_rec), bits).reshape(r1 - r0, -1)
            for r in range(r0, r1):
                t = tal_bytes[r]
                block[r - r0, n_ch * spr * bps : n_ch * spr * bps + len(t)] = np.frombuffer(t, np.uint8)
            block.tofile(fid)


def write_bdf(recording: Recording, path: str | os.PathLike) -> None:
    """Write ``recording`` as BDF+ (24-bit, annotation signal ``BDF Annotations``, BDF+C).

    Samples are stored with a symmetric range of ±187500 µV (one step 0.0224 µV, the Cyton's
    count at gain 24) or, for larger signals, ±(peak rounded up to 1 µV). Gaps are written as
    annotations ``gap`` with their duration; other annotations are kept. A recording whose
    length is not a whole number of data records is padded with zeros marked as a ``gap``.

    Parameters
    ----------
    recording : Recording
    path : path-like
        Output file (overwritten).
    """
    _write_edf_family(recording, path, 24)


def write_edf(recording: Recording, path: str | os.PathLike) -> None:
    """Write ``recording`` as EDF+ (16-bit): same layout as :func:`write_bdf`, 65535 steps per range.

    16 bits keep only about 4.5 significant digits over the range: use BDF for EMG.
    """
    _write_edf_family(recording, path, 16)


STREAM_CONVERT_BYTES = 256 * 1024 * 1024  # float32 data larger than this is converted chunk by chunk


def can_stream(reader) -> bool:
    """True when ``reader`` is an :class:`EdfReader` big enough to be converted chunk by chunk."""
    if not isinstance(reader, EdfReader):
        return False
    info = reader.info
    return abs(info.fs - round(info.fs)) < 1e-9 and info.n_samples * info.n_channels * 4 > STREAM_CONVERT_BYTES


def write_bdf_streaming(reader: EdfReader, path: str | os.PathLike, *, chunk_s: float = 60.0) -> None:
    """Copy a large EDF/BDF file to BDF+ in bounded memory (1-second records, not fsync'd).

    The range is the wider of ±187500 µV and the source's physical range; gaps and annotations
    are kept; a tail shorter than one second is padded and marked ``gap``.
    """
    info = reader.info
    hdr = reader.header
    span_uv = max(
        max(abs(hdr.signals[i].physical_min), abs(hdr.signals[i].physical_max)) * hdr.signals[i].to_uv
        for i in reader._channels
    )
    physical = max(DEFAULT_PHYSICAL_MAX_UV, float(math.ceil(span_uv)))
    with BdfRecorder(path, fs=info.fs, channel_names=info.channel_names, start=info.start,
                     physical_max_uv=physical, sidecar=False, fsync=False) as rec:
        for gap in info.gaps:
            rec.add_gap(gap.start_s, gap.duration_s)
        for ann in info.annotations:
            rec.annotate(ann.onset_s, ann.duration_s, ann.description)
        for chunk in reader.iter_chunks(chunk_s):
            rec.write(chunk.data)
