"""BDF/EDF reading and writing, with MNE's reader as the reference."""

from __future__ import annotations

import datetime as dt
import json

import mne
import numpy as np
import pytest

import emg.io
from emg.errors import InputError
from emg.io.bdf import EdfReader, decode_samples, encode_samples, write_edf
from emg.io.edf_header import decode_tals, encode_tal, parse_header
from emg.io.recorder import BdfRecorder
from emg.types import Annotation, Recording

LSB_UV = 187500.0 / (2**23 - 1)  # one 24-bit step at the default ±187500 µV range
TZ = dt.timezone(dt.timedelta(hours=2))


def _recording(n_ch=3, n=5000, fs=1000.0, seed=0, **kw) -> Recording:
    rng = np.random.default_rng(seed)
    data = rng.normal(0, 80, (n_ch, n)) + rng.uniform(-5e4, 5e4, (n_ch, 1))
    start = dt.datetime(2026, 3, 4, 5, 6, 7, 125000, tzinfo=TZ)
    return Recording(data, fs=fs, channel_names=[f"EMG{i}" for i in range(n_ch)], start=start, **kw)


def _mne_uv(path):
    raw = mne.io.read_raw_bdf(path, preload=True, verbose="error")
    return raw, raw.get_data() * 1e6


def test_decode_samples_matches_reference_on_edge_values():
    values = np.array([[0, 1, -1, 2**23 - 1, -(2**23), 123456, -654321, 255, 256, -256]], dtype=np.int32)
    raw = encode_samples(values, 24)
    assert raw.shape == (1, 30)
    # reference: byte by byte, little endian, two's complement
    ref = []
    for k in range(values.shape[1]):
        b0, b1, b2 = (int(x) for x in raw[0, 3 * k : 3 * k + 3])
        v = b0 | b1 << 8 | b2 << 16
        ref.append(v - (1 << 24) if v & 0x800000 else v)
    assert ref == values[0].tolist()
    np.testing.assert_array_equal(decode_samples(raw, 24), values)
    values16 = np.array([[0, 1, -1, 32767, -32768]], dtype=np.int32)
    np.testing.assert_array_equal(decode_samples(encode_samples(values16, 16), 16), values16)


def test_round_trip_exact_to_24_bit_resolution(tmp_path):
    rec = _recording(gaps=[(1.0, 0.25)], annotations=[Annotation(2.5, 0.1, "cramp start"), Annotation(4.0, 0, "x")])
    path = tmp_path / "a.bdf"
    emg.io.write_bdf(rec, path)
    back = emg.io.read(path)
    assert back.format == "bdf" and back.path == str(path)
    assert back.fs == 1000.0 and back.channel_names == rec.channel_names
    assert back.n_samples == rec.n_samples
    assert back.start == rec.start and back.start.utcoffset() == dt.timedelta(hours=2)
    # quantisation: at most half a step (plus float32 rounding of values up to 5e4 µV)
    err = np.abs(back.data.astype(np.float64) - rec.data)
    assert err.max() <= LSB_UV / 2 + 5e4 * 2**-23
    assert [(g.start_s, g.duration_s) for g in back.gaps] == [(1.0, 0.25)]
    assert [(a.onset_s, a.duration_s, a.description) for a in back.annotations] == [
        (2.5, 0.1, "cramp start"), (4.0, 0.0, "x")
    ]


def test_written_file_reads_the_same_in_mne(tmp_path):
    rec = _recording(gaps=[(0.5, 0.5)], annotations=[Annotation(3.25, 0.5, "voluntary")])
    path = tmp_path / "b.bdf"
    emg.io.write_bdf(rec, path)
    raw, data_uv = _mne_uv(path)
    ours = emg.io.read(path)
    assert raw.ch_names == list(rec.channel_names)
    assert raw.info["sfreq"] == 1000.0
    np.testing.assert_allclose(ours.data, data_uv, rtol=1.2e-7, atol=1e-6)  # float32 vs float64
    # MNE ignores the sub-second start (the header holds the UTC second) but takes annotation
    # onsets relative to the first record, as we do
    assert raw.info["meas_date"] == rec.start.astimezone(dt.timezone.utc).replace(microsecond=0)
    ann = {(d, round(o, 6), round(du, 6)) for o, du, d in zip(raw.annotations.onset,
           raw.annotations.duration, raw.annotations.description)}
    assert ann == {("gap", 0.5, 0.5), ("voluntary", 3.25, 0.5)}


def test_mne_reference_on_a_file_with_odd_ranges_and_units(tmp_path):
    """A hand-built BDF with asymmetric ranges, mV units and two sample rates (MNE as reference)."""
    from emg.io.edf_header import SignalHeader, build_header

    rng = np.random.default_rng(3)
    signals = [
        SignalHeader("A", "", "mV", -3.2, 5.7, -8388608, 8388607, "", 200),
        SignalHeader("B", "", "uV", -1000, 1000, -1000000, 2000000, "", 200),
        SignalHeader("slow", "", "uV", -1, 1, -100, 100, "", 10),
    ]
    n_rec = 6
    header = build_header(bits=24, start=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc), n_records=n_rec,
                          record_duration_s=0.5, signals=signals)
    path = tmp_path / "odd.bdf"
    with open(path, "wb") as fid:
        fid.write(header)
        for _ in range(n_rec):
            for sig in signals:
                dig = rng.integers(sig.digital_min, sig.digital_max + 1, sig.samples_per_record)
                fid.write(encode_samples(dig[None].astype(np.int32), 24).tobytes())
    _, data_uv = _mne_uv(path)
    ours = emg.io.read(path)
    assert ours.fs == 400.0 and ours.channel_names == ("A", "B")  # the slower signal is left out
    np.testing.assert_allclose(ours.data, data_uv[:2], rtol=1e-6, atol=1e-3)


def test_edf_16_bit_against_mne(tmp_path):
    rec = _recording(n_ch=2, n=3000, fs=500.0, annotations=[Annotation(1.0, 0.0, "mark")])
    path = tmp_path / "c.edf"
    write_edf(rec, path)
    assert emg.io.detect_format(path) == "edf"
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    ours = emg.io.read(path)
    assert ours.format == "edf" and ours.fs == 500.0
    np.testing.assert_allclose(ours.data, raw.get_data() * 1e6, rtol=1e-6, atol=1e-3)
    # 16 bits over the signal's own range: error at most half a step
    step = np.array([np.ceil(np.abs(r).max()) for r in rec.data]) / 32767
    assert np.all(np.abs(ours.data - rec.data).max(axis=1) <= step / 2 * 1.001)
    assert [a.description for a in ours.annotations] == ["mark"]


def test_chunks_equal_full_read_and_carry_gap_mask(tmp_path):
    rec = _recording(n=7300, fs=1000.0, gaps=[(2.9, 0.3)])
    path = tmp_path / "d.bdf"
    emg.io.write_bdf(rec, path)
    reader = emg.io.open_reader(path)
    assert isinstance(reader, EdfReader)
    chunks = list(reader.iter_chunks(chunk_s=1.7))
    full = emg.io.read(path)
    assert [c.first_sample for c in chunks] == list(range(0, 7300, 1700))
    np.testing.assert_array_equal(np.concatenate([c.data for c in chunks], axis=1), full.data)
    valid = np.concatenate([c.valid for c in chunks])
    np.testing.assert_array_equal(valid, full.valid_mask())
    assert valid.sum() == 7300 - 300
    np.testing.assert_array_equal(reader.read_samples(1234, 999), full.data[:, 1234:2233])


def test_length_that_is_not_whole_records(tmp_path):
    # 2501 samples at 1 kHz: no record length divides it -> 1 s records, padded tail marked as a gap
    rec = _recording(n=2501)
    path = tmp_path / "e.bdf"
    emg.io.write_bdf(rec, path)
    back = emg.io.read(path)
    assert back.n_samples == 3000
    np.testing.assert_allclose(back.data[:, :2501], rec.data, atol=LSB_UV)
    assert np.all(back.data[:, 2501:] == 0)
    assert [(g.start_s, round(g.duration_s, 6)) for g in back.gaps] == [(2.501, 0.499)]
    # 22490 samples at 250 Hz: records of 10 samples (40 ms) divide it exactly, no padding
    rec = _recording(n_ch=1, n=22490, fs=250.0)
    emg.io.write_bdf(rec, path)
    hdr = parse_header(path)
    assert hdr.record_duration_s == 0.04 and emg.io.read_info(path).n_samples == 22490


def test_crashed_header_minus_one_records_reads_from_size(tmp_path):
    rec = _recording(n=4000)
    path = tmp_path / "f.bdf"
    emg.io.write_bdf(rec, path)
    raw = bytearray(path.read_bytes())
    raw[236:244] = b"-1      "
    raw = raw[: len(raw) - 1000]  # a partial last record
    path.write_bytes(bytes(raw))
    back = emg.io.read(path)
    assert back.n_samples == 3000
    np.testing.assert_allclose(back.data, rec.data[:, :3000], atol=LSB_UV)
    with pytest.warns(RuntimeWarning, match="Number of records"):
        mraw = mne.io.read_raw_bdf(path, preload=True, verbose="warning")
    assert mraw.n_times == 3000


def test_truncated_data_with_a_record_count_is_an_error(tmp_path):
    path = tmp_path / "g.bdf"
    emg.io.write_bdf(_recording(n=4000), path)
    path.write_bytes(path.read_bytes()[:-5000])
    with pytest.raises(InputError, match=r"g\.bdf: truncated data: the header declares 4 data records, the file holds 3"):
        emg.io.read(path)


def test_tal_encoding_round_trip():
    raw = encode_tal(12.5) + encode_tal(3.25, 0.5, ("gap",)) + encode_tal(-0.5, None, ("a", "b"))
    assert raw.startswith(b"+12.5\x14\x14\x00")
    assert decode_tals(raw + b"\x00" * 7) == [(12.5, 0.0, []), (3.25, 0.5, ["gap"]), (-0.5, 0.0, ["a", "b"])]


def test_recorder_writes_records_gaps_sidecar_and_fixes_count(tmp_path):
    path = tmp_path / "live.bdf"
    start = dt.datetime(2026, 5, 6, 7, 8, 9, 500000, tzinfo=dt.timezone.utc)
    counter = np.arange(2600, dtype=np.float64)
    data = np.vstack([counter, -counter]) * LSB_UV  # exact digital values 0..2599
    with BdfRecorder(path, fs=250, channel_names=["c1", "c2"], start=start, sidecar={"board": "cyton"}) as rec:
        for lo in range(0, 2600, 37):  # odd block sizes cross record borders
            rec.write(data[:, lo : lo + 37])
            if lo == 0:
                header = parse_header(path)
                assert header.n_records_in_header == -1
        data[:, 500:625] = 0.0
        rec.add_gap(2.0, 0.5)
        rec.annotate(4.0, 1.0, "moved")
        rec.update_sidecar(port="/dev/ttyUSB0", packets_lost=125, reconnects=1)
        assert rec.samples_written == 2600
    hdr = parse_header(path)
    assert hdr.n_records_in_header == 11 and hdr.n_records == 11
    back = emg.io.read(path)
    assert back.n_samples == 2750 and back.start == start
    np.testing.assert_array_equal(np.rint(back.data[0, :2600] / LSB_UV), counter)
    np.testing.assert_array_equal(back.data[:, 2600:], 0)
    assert [(g.start_s, g.duration_s) for g in back.gaps] == [(2.0, 0.5), (10.4, 0.6)]
    assert [(a.onset_s, a.duration_s, a.description) for a in back.annotations] == [(4.0, 1.0, "moved")]
    side = json.loads(path.with_suffix(".json").read_text())
    assert side == {
        "board": "cyton", "port": "/dev/ttyUSB0", "fs": 250.0, "channels": ["c1", "c2"],
        "start": "2026-05-06T07:08:09.500000+00:00", "samples": 2600, "packets_lost": 125,
        "reconnects": 1, "gaps": [[2.0, 0.5], [10.4, 0.6]],
    }
    raw = mne.io.read_raw_bdf(path, preload=True, verbose="error")
    assert sorted(raw.annotations.description) == ["gap", "gap", "moved"]
    np.testing.assert_allclose(raw.get_data()[0, :2600] * 1e6, back.data[0, :2600], atol=1e-3)


def test_recorder_sidecar_every_10_s_and_many_gaps_carry_over(tmp_path):
    path = tmp_path / "many.bdf"
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    rec = BdfRecorder(path, fs=100, channel_names=["a"], start=start)
    rec.write(np.zeros((1, 100)))
    for k in range(60):  # far more gap annotations than one record's TAL room
        rec.add_gap(1.0 + k * 0.01, 0.005)
    rec.write(np.zeros((1, 1050)))
    side = json.loads(path.with_suffix(".json").read_text())
    assert side["samples"] == 1150 and len(side["gaps"]) == 60  # rewritten after 10 s of data
    rec.write(np.zeros((1, 1000)))
    rec.close()
    back = emg.io.read(path)
    assert len(back.gaps) == 61  # the 60 plus the padded tail
    with pytest.raises(ValueError, match="closed"):
        rec.write(np.zeros((1, 10)))


def test_recorder_rejects_bad_arguments(tmp_path):
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    with pytest.raises(ValueError, match="whole number of Hz"):
        BdfRecorder(tmp_path / "x.bdf", fs=250.5, channel_names=["a"], start=start)
    with BdfRecorder(tmp_path / "y.bdf", fs=250, channel_names=["a", "b"], start=start, sidecar=False) as rec:
        with pytest.raises(ValueError, match=r"expected shape \(2, n\)"):
            rec.write(np.zeros((3, 10)))
        with pytest.raises(ValueError, match="finite"):
            rec.write(np.full((2, 10), np.nan))
    assert not (tmp_path / "y.json").exists()


from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=25, deadline=None)
@given(
    n_ch=st.integers(1, 4),
    n=st.integers(1, 2600),
    fs=st.sampled_from([100.0, 125.0, 250.0, 512.0, 1000.0]),
    amplitude_uv=st.sampled_from([1.0, 300.0, 1e5, 4e5]),
    seed=st.integers(0, 2**16),
)
def test_round_trip_property(n_ch, n, fs, amplitude_uv, seed):
    import tempfile

    rng = np.random.default_rng(seed)
    data = (rng.uniform(-1, 1, (n_ch, n)) * amplitude_uv).astype(np.float32)
    rec = Recording(data, fs=fs, channel_names=[f"c{i}" for i in range(n_ch)],
                    start=dt.datetime(2025, 6, 1, 12, tzinfo=dt.timezone.utc))
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/p.bdf"
        emg.io.write_bdf(rec, path)
        back = emg.io.read(path)
    assert back.n_samples >= n and back.fs == fs
    physical = np.maximum(187500.0, np.ceil(np.abs(data).max(axis=1)))
    tol = physical / (2**23 - 1) / 2 + np.abs(data).max(axis=1) * 2**-23
    assert np.all(np.abs(back.data[:, :n] - data).max(axis=1) <= tol)
    assert np.all(back.data[:, n:] == 0)
    padded = back.n_samples - n
    assert [round(g.duration_s * fs) for g in back.gaps] == ([padded] if padded else [])
