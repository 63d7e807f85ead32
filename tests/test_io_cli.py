"""``emg info`` and ``emg convert`` on real files, and the Plux reader."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import h5py
import mne
import numpy as np
import pytest

import emg.io
from emg.cli import main
from emg.types import Annotation, Recording

DATASETS = Path(__file__).resolve().parents[1] / "datasets"
OPENBCI = DATASETS / "openbci_gui" / "OpenBCI_GUI-v6-blinks-jawClench-alpha.txt"
PLUX_SOLO = DATASETS / "plux" / "emg_1000_hz_16_bits_solo.h5"
PLUX_BURSTS = DATASETS / "plux" / "emg_bursts.h5"
LSB_UV = 187500.0 / (2**23 - 1)


@pytest.mark.parametrize(
    "path,key,n,start",
    [
        (PLUX_SOLO, "channel_1", 87600, dt.datetime(2019, 10, 14, 16, 52, 39, 448000, tzinfo=dt.timezone.utc)),
        (PLUX_BURSTS, "channel_3", 28519, dt.datetime(2017, 1, 23, 10, 28, 51, 690000, tzinfo=dt.timezone.utc)),
    ],
)
def test_plux_real_files(path, key, n, start):
    rec = emg.io.read(path)
    assert emg.io.detect_format(path) == "plux"
    assert rec.format == "plux" and rec.fs == 1000.0 and rec.n_channels == 1 and rec.n_samples == n
    assert rec.start == start and rec.gaps == ()
    with h5py.File(path) as h5:
        mac = next(iter(h5))
        adc = h5[mac]["raw"][key][:, 0].astype(np.float64)
    # (ADC / 2**16 - 0.5) x 3 V / gain 1000, in µV: one count is 3e6 / 65536 / 1000 = 0.0458 µV
    np.testing.assert_allclose(rec.data[0], (adc / 65536 - 0.5) * 3000.0, rtol=1e-6, atol=1e-4)
    assert rec.data[0, 0] == pytest.approx((adc[0] / 65536 - 0.5) * 3000.0)
    info = emg.io.read_info(path)
    assert info.n_samples == n and info.fs == 1000.0


def test_info_json_keys_and_values(capsys):
    code = main(["info", "--json", str(OPENBCI), str(PLUX_BURSTS)])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    objects = json.loads(out)
    assert len(objects) == 2
    first = objects[0]
    assert {"path", "format", "fs", "channels", "start", "duration_s", "gaps"} <= set(first)
    assert first["format"] == "openbci" and first["fs"] == 250.0
    assert first["channels"] == [f"ch{i}" for i in range(1, 9)]
    assert first["start"] == "2019-05-15T16:00:53.329000+00:00"
    assert first["duration_s"] == pytest.approx(89.96) and first["gaps"] == []
    assert dt.datetime.fromisoformat(objects[1]["start"]).utcoffset() == dt.timedelta(0)


def test_convert_keeps_data_gaps_and_annotations(tmp_path, capsys):
    out = tmp_path / "gui.bdf"
    assert main(["convert", str(OPENBCI), str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    src, back = emg.io.read(OPENBCI), emg.io.read(out)
    assert back.fs == 250.0 and back.n_samples == src.n_samples and back.start == src.start
    assert np.abs(back.data - src.data).max() <= LSB_UV / 2 + 62000 * 2**-23
    raw = mne.io.read_raw_bdf(out, preload=True, verbose="error")
    assert raw.n_times == 22490 and raw.info["sfreq"] == 250.0

    rec = Recording(np.ones((2, 3000)), fs=1000, channel_names=["a", "b"],
                    start=dt.datetime(2026, 1, 1, 8, tzinfo=dt.timezone(dt.timedelta(hours=1))),
                    gaps=[(1.0, 0.5)], annotations=[Annotation(2.0, 0.25, "cramp")])
    emg.io.write_bdf(rec, tmp_path / "in.bdf")
    assert main(["convert", str(tmp_path / "in.bdf"), str(tmp_path / "out.bdf")]) == 0
    again = emg.io.read(tmp_path / "out.bdf")
    assert again.gaps == rec.gaps and again.annotations == rec.annotations and again.start == rec.start


def test_failed_convert_leaves_no_file(tmp_path, capsys, monkeypatch):
    out = tmp_path / "x.bdf"
    code = main(["convert", str(Path(__file__).parent / "bad_inputs" / "truncated_data.bdf"), str(out)])
    assert code == 1 and not out.exists()
    assert "truncated data" in capsys.readouterr().err

    def broken_write(recording, path):
        Path(path).write_bytes(b"half a file")
        raise OSError("No space left on device")

    monkeypatch.setattr(emg.io, "write_bdf", broken_write)
    code = main(["convert", str(OPENBCI), str(out)])
    assert code == 1 and not out.exists()
    assert list(tmp_path.iterdir()) == []  # the temporary file is gone too
    assert f"{out}: cannot write: No space left on device" in capsys.readouterr().err
    code = main(["convert", str(OPENBCI), str(tmp_path / "no" / "such" / "dir.bdf")])
    assert code == 1 and "does not exist" in capsys.readouterr().err


def test_large_bdf_converts_chunk_by_chunk(tmp_path, monkeypatch, capsys):
    import emg.io.bdf as bdf

    rng = np.random.default_rng(5)
    rec = Recording(rng.normal(0, 100, (3, 12500)), fs=500, channel_names=["a", "b", "c"],
                    start=dt.datetime(2026, 2, 1, 3, tzinfo=dt.timezone.utc), gaps=[(3.0, 1.0)],
                    annotations=[Annotation(7.5, 0.0, f"m{k}") for k in range(40)])
    src = tmp_path / "src.bdf"
    emg.io.write_bdf(rec, src)
    monkeypatch.setattr(bdf, "STREAM_CONVERT_BYTES", 1000)  # treat this file as "large"
    chunks = []
    original = bdf.EdfReader.iter_chunks
    monkeypatch.setattr(bdf.EdfReader, "iter_chunks", lambda self, chunk_s=10.0: chunks.append(chunk_s)
                        or original(self, chunk_s))
    assert main(["convert", str(src), str(tmp_path / "out.bdf")]) == 0
    assert chunks == [60.0]
    back = emg.io.read(tmp_path / "out.bdf")
    src_back = emg.io.read(src)
    assert back.n_samples == 12500 and back.start == rec.start
    np.testing.assert_array_equal(back.data, src_back.data)
    assert back.gaps == src_back.gaps
    assert sorted(a.description for a in back.annotations) == sorted(f"m{k}" for k in range(40))
    assert "wrote" in capsys.readouterr().out
