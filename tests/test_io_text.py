"""OpenBCI GUI text, BrainFlow and CSV readers: the real OpenBCI file and generated layouts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

import emg.io
from emg.errors import InputError

DATASETS = Path(__file__).resolve().parents[1] / "datasets"
OPENBCI_REAL = DATASETS / "openbci_gui" / "OpenBCI_GUI-v6-blinks-jawClench-alpha.txt"


# -- OpenBCI GUI ---------------------------------------------------------------------------

def test_real_openbci_gui_v6_file_matches_its_text():
    rec = emg.io.read(OPENBCI_REAL)
    assert rec.format == "openbci" and rec.fs == 250.0
    assert rec.channel_names == tuple(f"ch{i}" for i in range(1, 9))
    assert rec.n_samples == 22490 and rec.gaps == ()
    lines = [ln for ln in OPENBCI_REAL.read_text().splitlines() if not ln.startswith("%")][1:]
    assert len(lines) == 22490
    for row in (0, 1, 4567, 22489):
        values = [float(v) for v in lines[row].split(",")[1:9]]
        np.testing.assert_allclose(rec.data[:, row], values, rtol=1e-7)  # float32 of the text
    # Timestamp column: UNIX milliseconds, first row 1557936053329
    assert rec.start == dt.datetime(2019, 5, 15, 16, 0, 53, 329000, tzinfo=dt.timezone.utc)
    info = emg.io.read_info(OPENBCI_REAL)
    assert info.n_samples == 22490 and info.duration_s == pytest.approx(89.96)


def _gui_v6(path: Path, n_ch: int, fs: int, rows: np.ndarray, index: np.ndarray, *, word="EXG",
            board="OpenBCI_GUI$BoardCytonSerial", analog: bool = False) -> None:
    cols = ["Sample Index"] + [f"{word} Channel {i}" for i in range(n_ch)]
    cols += ["Accel Channel 0", "Accel Channel 1", "Accel Channel 2", "Not Used"]
    cols += [f"Digital Channel {i}" for i in range(5)] + [f"Analog Channel {i}" for i in range(3)]
    cols += ["Timestamp", "Marker Channel", "Timestamp (Formatted)"]
    out = [f"%OpenBCI Raw {word} Data", f"%Number of channels = {n_ch}", f"%Sample Rate = {fs} Hz",
           f"%Board = {board}", ", ".join(cols)]
    t0 = 1700000000.0
    for k, (idx, row) in enumerate(zip(index, rows.T)):
        aux = "0.0, 0.0, 0.0, 0," + ("0,0,0,0,0, 512, 100, 1023" if analog else "1,0,1,0,0, 0, 0, 0")
        stamp = f"{t0 + k / fs:.3f}"
        out.append(f"{idx}, " + ", ".join(f"{v:.2f}" for v in row) + f", {aux}, {stamp}, 0, 2023-11-14 22:13:20.000")
    path.write_text("\n".join(out) + "\n")


@pytest.mark.parametrize("word", ["EXG", "EEG"])
@pytest.mark.parametrize("n_ch,fs,analog", [(8, 250, False), (16, 125, True)])
def test_openbci_gui_layouts(tmp_path, word, n_ch, fs, analog):
    rng = np.random.default_rng(n_ch)
    rows = np.round(rng.normal(0, 100, (n_ch, 600)), 2)
    board = "OpenBCI_GUI$BoardCytonSerialDaisy" if n_ch == 16 else "OpenBCI_GUI$BoardCytonSerial"
    path = tmp_path / "OpenBCI-RAW-x.txt"
    _gui_v6(path, n_ch, fs, rows, np.arange(600) % 256, word=word, board=board, analog=analog)
    rec = emg.io.read(path)
    assert rec.format == "openbci" and rec.fs == fs and rec.n_channels == n_ch
    np.testing.assert_allclose(rec.data, rows, rtol=1e-6)
    assert rec.start == dt.datetime.fromtimestamp(1700000000.0, dt.timezone.utc)


def test_openbci_lost_packets_become_zero_filled_gaps(tmp_path):
    rows = np.tile(np.arange(1.0, 301.0), (8, 1))
    index = np.arange(300) % 256
    keep = np.r_[0:100, 105:300]  # 5 packets lost after sample 99
    path = tmp_path / "loss.txt"
    _gui_v6(path, 8, 250, rows[:, keep], index[keep])
    rec = emg.io.read(path)
    assert rec.n_samples == 300 and rec.packets_lost == 5
    assert [(g.start_s, g.duration_s) for g in rec.gaps] == [(0.4, 0.02)]
    assert np.all(rec.data[:, 100:105] == 0)
    np.testing.assert_array_equal(rec.data[0, keep], rows[0, keep])


def test_openbci_gui_v4_without_column_header(tmp_path):
    lines = ["%OpenBCI Raw EEG Data", "%Number of channels = 8", "%Sample Rate = 250.0 Hz",
             "%First Column = SampleIndex", "%Last Column = Timestamp", "%Other = Accelerometer"]
    for k in range(50):
        chans = ", ".join(f"{k + c / 10:.2f}" for c in range(8))
        lines.append(f"{k}, {chans}, 0.00, 0.00, 0.00, 13:52:25.{k:03d}, {1536155545296 + 4 * k}")
    path = tmp_path / "OpenBCI-RAW-old.txt"
    path.write_text("\n".join(lines) + "\n")
    rec = emg.io.read(path)
    assert rec.fs == 250.0 and rec.n_channels == 8 and rec.n_samples == 50
    np.testing.assert_allclose(rec.data[3, :3], [0.3, 1.3, 2.3], rtol=1e-6)
    assert rec.start == dt.datetime(2018, 9, 5, 13, 52, 25, 296000, tzinfo=dt.timezone.utc)


# -- BrainFlow ----------------------------------------------------------------------------------

def _brainflow(path: Path, n_cols: int, exg: list[int], ts_col: int, fs: float, n: int, drop=()) -> np.ndarray:
    rng = np.random.default_rng(n_cols)
    table = np.zeros((n, n_cols))
    table[:, 0] = np.arange(n) % 256
    table[:, exg] = rng.normal(0, 50, (n, len(exg)))
    table[:, ts_col] = 1700000000.5 + np.arange(n) / fs + rng.uniform(0, 0.02, n)  # bursty PC clock
    keep = np.setdiff1d(np.arange(n), drop)
    np.savetxt(path, table[keep], delimiter="\t", fmt="%.6f")
    return table


@pytest.mark.parametrize("n_cols,n_exg,ts_col,fs", [(24, 8, 22, 250.0), (32, 16, 30, 125.0)])
def test_brainflow_cyton_and_daisy_layouts(tmp_path, n_cols, n_exg, ts_col, fs):
    path = tmp_path / "bf.csv"
    exg = list(range(1, n_exg + 1))
    table = _brainflow(path, n_cols, exg, ts_col, fs, 1000, drop=range(500, 510))
    assert emg.io.detect_format(path) == "brainflow"
    rec = emg.io.read(path)
    assert rec.format == "brainflow" and rec.fs == fs and rec.n_channels == n_exg
    assert rec.n_samples == 1000 and rec.packets_lost == 10
    assert [(g.start_s, g.duration_s) for g in rec.gaps] == [(500 / fs, 10 / fs)]
    keep = np.r_[0:500, 510:1000]
    np.testing.assert_allclose(rec.data[:, keep], table[keep][:, exg].T, atol=1e-5, rtol=1e-6)
    assert rec.start.timestamp() == pytest.approx(table[0, ts_col], abs=1e-3)


# -- CSV / MyoWare logs -------------------------------------------------------------------------

def test_csv_with_millis_column_and_adc_scale(tmp_path):
    path = tmp_path / "myoware.csv"
    adc = np.array([512, 530, 498, 505, 700, 300] * 50)
    millis = 1000 + np.arange(adc.size)  # 1 kHz
    millis[150:] += 10  # 10 ms lost
    path.write_text("millis,raw\n" + "".join(f"{t},{v}\n" for t, v in zip(millis, adc)))
    rec = emg.io.read(path, scale_uv=4.9)
    assert rec.format == "csv" and rec.fs == 1000.0 and rec.channel_names == ("raw",)
    assert rec.n_samples == 310 and [(g.start_s, g.duration_s) for g in rec.gaps] == [(0.15, 0.01)]
    np.testing.assert_allclose(rec.data[0, :150], adc[:150] * 4.9, rtol=1e-6)
    np.testing.assert_allclose(rec.data[0, 160:], adc[150:] * 4.9, rtol=1e-6)


def test_csv_iso_time_gives_start_and_rate(tmp_path):
    path = tmp_path / "iso.csv"
    t0 = dt.datetime(2026, 1, 1, 22, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    rows = [f"{(t0 + dt.timedelta(milliseconds=2 * k)).isoformat()};{k};{-k}" for k in range(100)]
    path.write_text("time;left;right\n" + "\n".join(rows) + "\n")
    rec = emg.io.read(path)
    assert rec.fs == 500.0 and rec.start == t0 and rec.channel_names == ("left", "right")
    np.testing.assert_array_equal(rec.data[1], -np.arange(100))


def test_csv_without_header_needs_fs(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("".join(f"{v} {-v}\n" for v in [5, 3, 7, 1, 2]))  # not increasing: no time column
    with pytest.raises(InputError, match=r"plain\.csv: no time column: give the sample rate \(--fs\)"):
        emg.io.read(path)
    rec = emg.io.read(path, fs=200)
    assert rec.fs == 200.0 and rec.channel_names == ("ch1", "ch2") and rec.n_samples == 5
    np.testing.assert_array_equal(rec.data[1], [-5, -3, -7, -1, -2])


@pytest.mark.parametrize(
    "content,message",
    [
        ("t,a\n0,1\n0.01,2\n0.005,3\n", r"line 4: timestamp goes backwards \(t column\)"),
        ("t,a\n0,1\n0.01,2\n0.01,3\n", r"line 4: duplicate timestamp \(t column\)"),
        ("t,a\n0,1\n0.01,x2\n", r"line 3: a is not a number \('x2'\)"),
        ("t,a\n0,1\n0.01,nan\n", r"line 3: a is nan \(NaN or infinite\)"),
        ("t\n0\n0.01\n", r"zero channels"),
    ],
)
def test_csv_errors_name_line_and_cause(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        emg.io.read(path)


def test_detect_format_from_content_not_extension(tmp_path):
    bdf_named_txt = tmp_path / "really_bdf.txt"
    from emg.io.bdf import write_bdf
    from emg.types import Recording

    rec = Recording(np.zeros((1, 100)), fs=100, channel_names=["a"],
                    start=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    write_bdf(rec, bdf_named_txt)
    assert emg.io.detect_format(bdf_named_txt) == "bdf"
    gui_named_csv = tmp_path / "gui.csv"
    gui_named_csv.write_bytes(OPENBCI_REAL.read_bytes()[:5000].rsplit(b"\n", 1)[0])
    assert emg.io.detect_format(gui_named_csv) == "openbci"
    with pytest.raises(ValueError, match="Invalid value for 'format': allowed are 'auto', 'bdf'"):
        emg.io.read(gui_named_csv, format="gdf")


def test_counter_with_another_period_is_not_taken_for_losses(tmp_path):
    # a board numbering samples 0..200 (not the Cyton's 0..255) must not produce false gaps
    rows = np.ones((8, 1000))
    path = tmp_path / "other.txt"
    _gui_v6(path, 8, 250, rows, np.arange(1000) % 201)
    rec = emg.io.read(path)
    assert rec.n_samples == 1000 and rec.gaps == () and rec.packets_lost == 0
