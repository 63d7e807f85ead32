"""Regenerate the bad-input corpus in this folder: ``python tests/bad_inputs/make_corpus.py``.

Each file is broken in one way; ``CASES`` maps its name to the cause ``emg info`` must name.
The files are committed so the corpus is visible; the test checks they match this script.
A directory and a missing path are added by the test itself.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

# file name -> text the one-line error must contain
CASES = {
    "empty.bdf": "empty file",
    "random_bytes.bdf": "not a valid BDF file",
    "random_bytes.edf": "not a valid EDF file",
    "random_bytes.h5": "not a valid HDF5 file",
    "random_bytes.csv": "unrecognised binary content",
    "truncated_header.bdf": "truncated header",
    "truncated_data.bdf": "truncated data: the header declares 3 data records, the file holds 2",
    "sample_rate_zero.bdf": "sample rate is 0 Hz",
    "sample_rate_zero.txt": "sample rate is 0 Hz",
    "zero_channels.bdf": "zero channels",
    "zero_channels.csv": "zero channels",
    "text_in_numeric.csv": "line 4: emg is not a number ('12x')",
    "nan.csv": "line 3: emg is nan (NaN or infinite)",
    "nan_openbci.txt": "line 7: ch2 is nan (NaN or infinite)",
    "duplicate_timestamps.csv": "line 5: duplicate timestamp",
    "backwards_timestamps.csv": "line 4: timestamp goes backwards",
    "brainflow_wrong_columns.tsv": "line 2: 20 columns, the rows before have more",
}


def _valid_bdf_bytes() -> bytes:
    sys.path.insert(0, str(HERE.parents[1]))
    from emg.io.bdf import write_bdf
    from emg.types import Recording

    data = np.tile(np.arange(100.0), (2, 3))
    rec = Recording(data, fs=100, channel_names=["a", "b"], start=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    path = HERE / "_tmp_valid.bdf"
    write_bdf(rec, path)
    raw = path.read_bytes()
    path.unlink()
    return raw


def build() -> dict[str, bytes]:
    rng = np.random.default_rng(20260101)
    valid = _valid_bdf_bytes()  # 3 records of 1 s, 2 channels + annotations
    n_signals = 3
    header_len = 256 * (n_signals + 1)
    record_len = (len(valid) - header_len) // 3
    files: dict[str, bytes] = {}
    files["empty.bdf"] = b""
    for name in ("random_bytes.bdf", "random_bytes.edf", "random_bytes.h5", "random_bytes.csv"):
        files[name] = bytes(rng.integers(128, 256, 4096, dtype=np.uint8))
    files["truncated_header.bdf"] = valid[:600]
    files["truncated_data.bdf"] = valid[: header_len + 2 * record_len + record_len // 2]
    # samples per record of the first signal set to 0 (field at 256 + 216*ns)
    broken = bytearray(valid)
    pos = 256 + (16 + 80 + 8 + 8 + 8 + 8 + 8 + 80) * n_signals
    broken[pos : pos + 8] = b"0       "
    files["sample_rate_zero.bdf"] = bytes(broken)
    # header declaring only the annotation signal: number of signals 1, one signal block
    only_ann = bytearray(valid[:256])
    only_ann[184:192] = b"512     "
    only_ann[252:256] = b"1   "
    widths = (16, 80, 8, 8, 8, 8, 8, 80, 8, 32)
    block = valid[256:header_len]
    start = 0
    for width in widths:
        field = block[start : start + width * n_signals]
        only_ann += field[width * 2 : width * 3]  # the third signal: "BDF Annotations"
        start += width * n_signals
    files["zero_channels.bdf"] = bytes(only_ann)
    files["sample_rate_zero.txt"] = (
        b"%OpenBCI Raw EXG Data\n%Number of channels = 2\n%Sample Rate = 0 Hz\n"
        b"%Board = OpenBCI_GUI$BoardCytonSerial\nSample Index, EXG Channel 0, EXG Channel 1, Timestamp\n"
        b"0, 1.0, 2.0, 1700000000.0\n1, 1.5, 2.5, 1700000000.004\n"
    )
    files["zero_channels.csv"] = b"time_ms\n0\n1\n2\n"
    files["text_in_numeric.csv"] = b"time_ms,emg\n0,512\n1,515\n2,12x\n3,511\n"
    files["nan.csv"] = b"time_ms,emg\n0,512\n1,nan\n2,511\n"
    files["nan_openbci.txt"] = (
        b"%OpenBCI Raw EXG Data\n%Number of channels = 2\n%Sample Rate = 250 Hz\n"
        b"%Board = OpenBCI_GUI$BoardCytonSerial\nSample Index, EXG Channel 0, EXG Channel 1, Timestamp\n"
        b"0, 1.0, 2.0, 1700000000.0\n1, 1.5, NaN, 1700000000.004\n"
    )
    files["duplicate_timestamps.csv"] = b"time_ms,emg\n0,512\n1,515\n2,510\n2,511\n3,509\n"
    files["backwards_timestamps.csv"] = b"time_ms,emg\n0,512\n5,515\n3,510\n6,511\n"
    files["brainflow_wrong_columns.tsv"] = ("\t".join(["1.0"] * 24) + "\n" + "\t".join(["1.0"] * 20) + "\n").encode()
    return files


def main() -> None:
    for name, content in build().items():
        (HERE / name).write_bytes(content)


if __name__ == "__main__":
    main()
