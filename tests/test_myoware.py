"""MyoWare bridge protocol on the host: shared vectors, decoder robustness, device model, handshake."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emg.devices import Decoder, DeviceModel, board_spec
from emg.devices.cyton import CytonDevice
from emg.devices.myoware import (
    BridgeCommands,
    MyowareDecoder,
    MyowareDevice,
    PacketError,
    build_data_packet,
    build_text_packet,
    cobs_decode,
    cobs_encode,
    crc16,
    handshake,
    parse_packet,
    to_wire,
    uv_per_count,
)
from emg.errors import DeviceError

VECTORS = Path(__file__).resolve().parents[1] / "firmware_bridge" / "test_vectors.txt"
UV_PER_COUNT_UNO = 5000e3 / 1024 / 200  # 24.414 µV


def _vectors(kind: str) -> list[list[str]]:
    rows = [
        line.split("\t")
        for line in VECTORS.read_text().splitlines()
        if line and not line.startswith("#")
    ]
    return [row[1:] for row in rows if row[0] == kind]


def _unhex(text: str) -> bytes:
    return b"" if text == "-" else bytes.fromhex(text)


def crc16_bitwise(data: bytes) -> int:
    """Independent reference: CRC-16/CCITT-FALSE bit by bit."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def _stream(n_packets: int, seed: int = 0, n_channels: int = 4) -> tuple[bytes, np.ndarray]:
    """Wire bytes of ``n_packets`` consecutive data packets and their counts ``[n_ch, 10 n]``."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 1024, (n_channels, 10 * n_packets)).astype(np.uint16)
    counts[:, ::7] = 0  # zero bytes inside payloads exercise COBS
    wire = b"".join(
        to_wire(
            build_data_packet(
                counts[:, 10 * k : 10 * k + 10], seq=k, t_us=10_000 * k, adc_bits=10, vref_mv=5000
            )
        )
        for k in range(n_packets)
    )
    return wire, counts


def _all_counts(frames) -> np.ndarray:
    if not frames:
        return np.zeros((4, 0))
    return np.concatenate([np.rint(f.samples_uv / UV_PER_COUNT_UNO + 512) for f in frames], axis=1)


# -- shared vectors (the C host test checks the same file) ---------------------------------
def test_crc_check_value_and_vectors():
    assert crc16(b"123456789") == 0x29B1  # CRC-16/CCITT-FALSE check value
    rows = _vectors("crc")
    assert len(rows) >= 5
    for data, want in rows:
        assert crc16(_unhex(data)) == int(want, 16) == crc16_bitwise(_unhex(data))


def test_cobs_vectors():
    rows = _vectors("cobs")
    assert ["11220033", "0311220233"] in rows  # the textbook example
    for raw, enc in rows:
        assert cobs_encode(_unhex(raw)) == _unhex(enc)
        assert cobs_decode(_unhex(enc)) == _unhex(raw)


def test_data_vectors_encode_and_decode():
    rows = _vectors("data")
    assert len(rows) >= 8
    for n_ch, n, bits, status, vref, seq, t_us, flat, wire_hex in rows:
        n_ch, n = int(n_ch), int(n)
        counts = np.array([int(v) for v in flat.split(",")], dtype=np.uint16).reshape(n, n_ch).T
        wire = to_wire(
            build_data_packet(
                counts,
                seq=int(seq),
                t_us=int(t_us),
                adc_bits=int(bits),
                vref_mv=int(vref),
                status=int(status),
            )
        )
        assert wire.hex() == wire_hex
        packet = parse_packet(cobs_decode(wire[:-1]))
        assert (packet.seq, packet.t_us, packet.status, packet.adc_bits, packet.vref_mv) == (
            int(seq),
            int(t_us),
            int(status),
            int(bits),
            int(vref),
        )
        np.testing.assert_array_equal(packet.counts, counts)


def test_text_vectors():
    for text, wire_hex in _vectors("text"):
        wire = to_wire(build_text_packet(text))
        assert wire.hex() == wire_hex
        assert parse_packet(cobs_decode(wire[:-1])) == text


def test_bad_vectors_rejected_for_the_stated_reason():
    rows = _vectors("bad")
    assert {reason for _, reason in rows} == {"cobs", "length", "crc", "version", "type", "field"}
    for wire_hex, reason in rows:
        wire = bytes.fromhex(wire_hex)
        packet = cobs_decode(wire[:-1])
        if reason == "cobs":
            assert packet is None
            continue
        with pytest.raises(PacketError) as info:
            parse_packet(packet)
        assert info.value.reason == reason
        dec = MyowareDecoder()
        assert (
            dec.feed(wire) == [] and dec.frames_rejected == 1 and dec.bytes_discarded == len(wire)
        )
        assert dec.rejected_by_reason == {reason: 1}


def test_command_transcripts_match_the_firmware_vectors():
    bridge = None
    n = 0
    for row in (line.split("\t") for line in VECTORS.read_text().splitlines()):
        if row[0] == "reset":
            bridge = BridgeCommands(row[1])
        elif row[0] == "cmd":
            line, action, reply = _unhex(row[1]), int(row[2]), row[3]
            out = bridge.feed(line + b"\n")
            assert out == ([] if reply == "-" else [(action, reply)]), line
            n += 1
    assert n >= 40


def test_vectors_file_is_up_to_date():
    import runpy

    mod = runpy.run_path(str(VECTORS.parent / "make_vectors.py"))
    assert "\n".join(mod["lines"]()) + "\n" == VECTORS.read_text(), (
        "run python firmware_bridge/make_vectors.py"
    )


# -- framing properties ----------------------------------------------------------------------
@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.binary(max_size=700))
def test_cobs_round_trip_and_no_zero(data):
    enc = cobs_encode(data)
    assert 0 not in enc
    assert len(enc) <= len(data) + len(data) // 254 + 1
    assert cobs_decode(enc) == data


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.binary(max_size=300))
def test_crc_matches_bitwise_reference(data):
    assert crc16(data) == crc16_bitwise(data)
    assert crc16(data + crc16(data).to_bytes(2, "big")) == 0  # residue 0: CRC sent MSB first


# -- decoder robustness ------------------------------------------------------------------------
def test_one_million_random_bytes_never_raise_nor_yield_frames():
    rng = np.random.default_rng(1)
    data = rng.integers(0, 256, 1_000_000, dtype=np.uint8).tobytes()
    dec = MyowareDecoder()
    frames = []
    for i in range(0, len(data), 4096):
        frames += dec.feed(data[i : i + 4096])
    assert frames == []
    assert dec.frames_rejected > 3000  # one per 0x00-delimited piece (about 1 in 256 bytes)
    assert dec.bytes_discarded + len(dec._buf) == len(data)


def test_random_bytes_between_valid_packets():
    wire, counts = _stream(50, seed=2)
    rng = np.random.default_rng(3)
    pieces = wire.split(b"\x00")[:-1]
    mixed = b"".join(
        rng.integers(0, 256, 30, dtype=np.uint8).tobytes() + b"\x00" + p + b"\x00" for p in pieces
    )
    dec = MyowareDecoder()
    frames = dec.feed(mixed)
    np.testing.assert_array_equal(_all_counts(frames), counts)
    assert [f.counter for f in frames] == [0] and frames[0].n_packets == 50  # one run, bundled


def test_every_truncation_of_a_valid_stream():
    wire, counts = _stream(12, seed=4)
    for k in range(len(wire) + 1):
        dec = MyowareDecoder()
        frames = dec.feed(wire[:k])
        complete = wire[:k].count(0)
        got = _all_counts(frames)
        assert got.shape[1] == 10 * complete
        np.testing.assert_array_equal(got, counts[:, : 10 * complete])
        assert dec.frames_rejected == 0
        # starting mid-stream: at most the first piece is lost, every later packet is exact
        dec = MyowareDecoder()
        frames = dec.feed(wire[k:])
        assert dec.frames_rejected <= 1
        if frames:
            first = frames[0].counter
            np.testing.assert_array_equal(_all_counts(frames), counts[:, 10 * first :])


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.lists(st.integers(0, 2000), max_size=20))
def test_any_split_of_the_stream_gives_the_same_samples(cuts):
    wire, counts = _stream(15, seed=5)
    dec = MyowareDecoder()
    frames = []
    edges = sorted({min(c, len(wire)) for c in cuts} | {0, len(wire)})
    for a, b in itertools.pairwise(edges):
        frames += dec.feed(wire[a:b])
    np.testing.assert_array_equal(_all_counts(frames), counts)
    assert dec.frames_rejected == 0 and dec.bytes_discarded == 0


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.integers(0, 10**6), st.integers(1, 255))
def test_a_corrupted_byte_never_yields_wrong_samples(pos, xor):
    wire, counts = _stream(6, seed=6)
    pos %= len(wire)
    bad = bytearray(wire)
    bad[pos] ^= xor
    dec = MyowareDecoder()
    frames = dec.feed(bytes(bad))
    for f in frames:
        k, n = f.counter, f.n_packets
        np.testing.assert_array_equal(_all_counts([f]), counts[:, 10 * k : 10 * (k + n)])
    assert sum(f.n_packets for f in frames) >= 4  # at most two packets lost to one bad byte
    assert dec.frames_rejected >= 1


def test_garbage_without_delimiter_does_not_grow_the_buffer():
    dec = MyowareDecoder()
    for _ in range(100):
        dec.feed(b"\x55" * 1000)
    assert len(dec._buf) <= 512
    assert dec.bytes_discarded + len(dec._buf) == 100_000
    wire, counts = _stream(3)
    frames = dec.feed(b"\x00" + wire)  # resynchronises at the next delimiter
    np.testing.assert_array_equal(_all_counts(frames), counts)


def test_frames_fields_units_and_gaps():
    counts = np.array([[512, 513, 511, 0, 1023, 512, 512, 512, 512, 512]] * 2, dtype=np.uint16)
    wire = b"".join(
        to_wire(build_data_packet(counts, seq=s, t_us=t, adc_bits=10, vref_mv=5000, status=st_))
        for s, t, st_ in [
            (65534, 2**32 - 15_000, 0),
            (65535, 2**32 - 5_000, 0),
            (0, 5_000, 0),
            (2, 20_000, 1),
        ]  # seq wraps, t_us wraps; seq 1 was dropped on the device
    )
    dec = MyowareDecoder()
    frames = dec.feed(wire)
    assert [(f.counter, f.n_packets) for f in frames] == [(65534, 3), (2, 1)]
    f = frames[0]
    assert (
        f.counter_modulo == 65536
        and f.samples_uv.dtype == np.float32
        and f.samples_uv.shape == (2, 30)
    )
    np.testing.assert_allclose(
        f.samples_uv[0, :5], [0.0, 24.414, -24.414, -12500.0, 12475.586], atol=1e-3
    )
    assert f.board_time_ms == (2**32 - 15_000) // 1000
    np.testing.assert_array_equal(f.aux[:, 0], [2**32 - 15_000, 2**32 - 5_000, 5_000])
    np.testing.assert_array_equal(frames[1].aux, [[20_000, 1]])
    assert dec.overruns == 1 and dec.packets_decoded == 4


def test_uv_per_count():
    assert uv_per_count(10, 5000) == pytest.approx(24.4140625)
    assert uv_per_count(12, 3300) == pytest.approx(4.0283203)


# -- device model, handshake --------------------------------------------------------------------
class PipeLink:
    """A CommandLink wired straight to a device model (replies are immediate)."""

    def __init__(self, device):
        self.device = device
        self.pending = bytearray()
        self.written = bytearray()

    def write(self, data: bytes) -> None:
        self.written += data
        self.pending += self.device.on_host_bytes(data)

    def read_until(self, terminator: bytes, timeout_s: float) -> bytes:
        i = self.pending.find(terminator)
        if i < 0:
            time.sleep(min(timeout_s, 0.01))
            out, self.pending = bytes(self.pending), bytearray()
            return out
        out = bytes(self.pending[: i + len(terminator)])
        del self.pending[: i + len(terminator)]
        return out

    def drain(self, quiet_s: float = 0.05, timeout_s: float = 1.0) -> bytes:
        out, self.pending = bytes(self.pending), bytearray()
        return out


def test_protocols_and_board_spec():
    spec = board_spec("myoware")
    assert (
        spec.fs,
        spec.n_channels,
        spec.baudrate,
        spec.samples_per_packet,
        spec.counter_modulo,
    ) == (1000.0, 4, 500_000, 10, 65536)
    assert isinstance(spec.make_decoder(), Decoder)
    assert isinstance(spec.make_device(), DeviceModel)
    assert spec.stop_command == b"stop\n"
    assert (0x2341, 0x0043) in spec.usb_ids


def test_handshake_round_trip_through_the_device_model():
    t = [1000.0]
    dev = MyowareDevice(clock=lambda: t[0], highpass_hz=None, adc_noise_lsb=0.0)
    t[0] += 12.5  # the board has been up for 12.5 s
    dev.commands.fs_hz, dev.commands.n_channels = 250, 2  # left over from an earlier session
    dev.commands.streaming = True
    link = PipeLink(dev)
    identity = handshake(link, "/dev/fake")
    assert identity == "MyoWare bridge fw=1.0.0 mcu=atmega328p 4 ch x 1000 Hz"
    assert bytes(link.written) == b"stop\nid\nrate 1000\nchannels 4\nstart\n"
    assert dev.streaming and dev.fs == 1000.0 and dev.n_channels == 4
    dec = MyowareDecoder()
    assert dec.feed(bytes(link.pending)) == [] and list(dec.replies) == ["OK start"]
    frames = dec.feed(b"".join(dev.encode(np.zeros((4, 20)))))
    assert frames[0].counter == 0 and frames[0].n_packets == 2
    np.testing.assert_array_equal(
        frames[0].aux[:, 0], [12_500_000, 12_510_000]
    )  # micros() at start, +10 ms


def test_handshake_errors_name_the_port():
    class Silent(PipeLink):
        def write(self, data):
            pass

    t0 = time.monotonic()
    with pytest.raises(DeviceError, match=r"^/dev/x: no MyoWare bridge reply within 0.5 s"):
        handshake(Silent(None), "/dev/x", timeout_s=0.5)
    assert time.monotonic() - t0 < 3.0

    class Garbage(PipeLink):
        def write(self, data):
            self.pending += bytes(range(1, 200)) + b"\x00"

    with pytest.raises(
        DeviceError, match=r"bytes arrived in 0.5 s but no valid MyoWare bridge packet"
    ):
        handshake(Garbage(None), "/dev/x", timeout_s=0.5)

    class Cyton(PipeLink):  # a Cyton answers text, never a framed reply
        pass

    with pytest.raises(DeviceError, match=r"^/dev/x: "):
        handshake(Cyton(CytonDevice()), "/dev/x", timeout_s=0.5)

    class Refusing(PipeLink):
        def write(self, data):
            self.pending += to_wire(
                build_text_packet(
                    "OK id board=myoware fw=1.0.0 proto=1"
                    if data == b"id\n"
                    else "ERR range rate must be 100-8000 Hz"
                )
            )

    with pytest.raises(DeviceError, match=r"refused 'rate 1000': ERR range"):
        handshake(Refusing(None), "/dev/x", timeout_s=0.5)

    class Other(PipeLink):
        def write(self, data):
            self.pending += to_wire(build_text_packet("OK id board=other proto=1"))

    with pytest.raises(DeviceError, match=r"not a MyoWare bridge of protocol 1"):
        handshake(Other(None), "/dev/x", timeout_s=0.5)


def test_device_model_behaves_like_the_firmware():
    t = [100.0]
    dev = MyowareDevice(clock=lambda: t[0], highpass_hz=None, adc_noise_lsb=0.0)
    dec = MyowareDecoder()
    dec.feed(dev.boot())
    assert dec.replies.pop().startswith(
        "READY board=myoware fw=1.0.0 proto=1 mcu=atmega328p fs=1000 channels=4"
    )
    dec.feed(dev.on_host_bytes(b"rate 2000\nchannels 2\nstart\nrate 500\n"))
    assert list(dec.replies) == ["OK rate 2000", "OK channels 2", "OK start", "ERR busy stop first"]
    assert dev.fs == 2000.0 and dev.n_channels == 2 and dev.streaming
    # quantisation to 24.4 µV steps and clipping at the ADC rails
    x = np.array([np.linspace(-300, 300, 25), np.r_[np.full(12, -20_000.0), np.full(13, 20_000.0)]])
    packets = dev.encode(x)
    assert len(packets) == 2 and dev._pending.shape == (2, 5)  # 5 samples wait for the next packet
    frames = dec.feed(b"".join(packets))
    got = frames[0].samples_uv
    np.testing.assert_allclose(got[0], x[0, :20], atol=UV_PER_COUNT_UNO / 2 + 1e-3)
    np.testing.assert_allclose(got[1, :12], -12_500.0)
    np.testing.assert_allclose(got[1, 12:], 511 * UV_PER_COUNT_UNO, rtol=1e-6)
    np.testing.assert_array_equal(frames[0].aux[:, 0], [0, 5000])  # 10 samples at 2 kHz = 5000 µs
    # stop drops the partial packet; a new start counts from 0 with the clock's time
    dec.feed(dev.on_host_bytes(b"stop\n"))
    assert dec.replies[-1] == "OK stop" and not dev.streaming
    t[0] = 103.0
    dec.feed(dev.on_host_bytes(b"start\n"))
    frames = dec.feed(b"".join(dev.encode(np.zeros((2, 10)))))
    assert frames[0].counter == 0 and frames[0].aux[0, 0] == 3_000_000
    assert not (frames[0].samples_uv != 0).any()


def test_emulator_to_live_source_end_to_end():
    pytest.importorskip("serial")
    from emg.devices.emulator import Emulator
    from emg.devices.stream import LiveSource

    n = 60_000
    ramp = np.tile((np.arange(n) % 1000 - 500) * UV_PER_COUNT_UNO, (4, 1))  # exact counts 12..1011
    ramp[1] *= -1
    with (
        Emulator(
            "myoware", signal=ramp, seconds=10.0, device=MyowareDevice(highpass_hz=None, adc_noise_lsb=0.0)
        ) as emu,
        LiveSource("myoware", emu.port, seconds=1.0) as src,
    ):
        chunks = list(src)
        stats = src.stats
    data = np.concatenate([c.data for c in chunks], axis=1)
    assert data.shape == (4, 1000)
    counts = np.rint(data / UV_PER_COUNT_UNO).astype(int)
    # consecutive samples of the ramp: +1 count per sample (mod 1000), channel 1 mirrored
    steps = np.diff(counts[0]) % 1000
    assert (steps == 1).all()
    np.testing.assert_array_equal(counts[1], -counts[0])
    assert stats.packets_lost == 0


def test_device_model_high_pass_removes_electrode_offsets():
    fs = 1000.0
    t = np.arange(4000) / fs
    x = np.vstack(
        [
            20_000.0 + 200 * np.sin(2 * np.pi * 150 * t),  # a 20 mV offset would sit on the rail
            -50_000.0 + 0 * t,
            200 * np.sin(2 * np.pi * 2 * t),  # far below the band
            200 * np.sin(2 * np.pi * 150 * t),
        ]
    )

    def run(step: int) -> np.ndarray:
        dev = MyowareDevice(clock=lambda: 0.0, adc_noise_lsb=0.0)
        dev.on_host_bytes(b"start\n")
        dec = MyowareDecoder()
        frames = []
        for i in range(0, x.shape[1], step):
            frames += dec.feed(b"".join(dev.encode(x[:, i : i + step])))
        return np.concatenate([f.samples_uv for f in frames], axis=1)

    y = run(10)
    np.testing.assert_array_equal(y, run(4000))  # the filter state carries across calls
    rms = y[:, 500:].std(axis=1)
    assert abs(y[:, 500:].mean(axis=1)).max() < 15.0  # µV: offsets gone, no rail
    assert rms[1] == 0.0
    assert rms[2] < 0.15 * 200 / np.sqrt(
        2
    )  # 2 Hz: first order at 20 Hz passes ~10 %, plus quantisation
    np.testing.assert_allclose(
        rms[[0, 3]], 200 / np.sqrt(2) * 0.991, rtol=0.03
    )  # |H(150 Hz)| = 0.991


# -- the live path with the emulated bridge (pseudo-terminal, real serial reader) ------------
def _myoware_ramp(n: int = 120_000) -> np.ndarray:
    """Channel 0: sample i is count 12 + i mod 1000, so a value names its emulator time slot."""
    sig = np.zeros((4, n))
    sig[0] = (np.arange(n) % 1000 + 12 - 512) * UV_PER_COUNT_UNO
    return sig


def _collect_slots(source) -> tuple[np.ndarray, np.ndarray]:
    data, valid, first = [], [], 0
    for chunk in source:
        assert chunk.first_sample == first
        first += chunk.n_samples
        data.append(chunk.data)
        valid.append(chunk.valid)
    return np.concatenate(data, axis=1), np.concatenate(valid)


def test_live_injected_drops_are_counted_exactly_in_real_time_slots(tmp_path):
    from emg.devices.emulator import Emulator
    from emg.devices.stream import LiveSource

    device = MyowareDevice(highpass_hz=None, adc_noise_lsb=0.0)
    emu = Emulator(
        "myoware", link=str(tmp_path / "t"), signal=_myoware_ramp(), drop_every=7, device=device
    )
    with emu, LiveSource("myoware", emu.port, seconds=2.0) as src:
        data, valid = _collect_slots(src)
    assert data.shape == (4, 2000)
    counts = np.rint(data[0] / UV_PER_COUNT_UNO + 512).astype(np.int64) - 12
    offsets = (counts[valid] - np.flatnonzero(valid)) % 1000
    assert np.unique(offsets).size == 1  # every valid slot holds the sample of its time slot
    lost = np.flatnonzero(~valid)
    runs = np.split(lost, np.flatnonzero(np.diff(lost) != 1) + 1)
    assert {len(r) for r in runs} == {10}  # whole 10-sample packets, nothing else
    assert src.stats.packets_lost == len(runs) >= 20
    assert (data[:, ~valid] == 0).all()  # never interpolated


def test_live_garbage_loses_nothing(tmp_path):
    from emg.devices.emulator import Emulator
    from emg.devices.stream import LiveSource

    device = MyowareDevice(highpass_hz=None, adc_noise_lsb=0.0)
    emu = Emulator(
        "myoware", link=str(tmp_path / "t"), signal=_myoware_ramp(), garbage_every=3, device=device
    )
    with emu, LiveSource("myoware", emu.port, seconds=1.5) as src:
        data, valid = _collect_slots(src)
    assert valid.all() and src.stats.packets_lost == 0
    counts = np.rint(data[0] / UV_PER_COUNT_UNO + 512).astype(np.int64) - 12
    assert np.unique((counts - np.arange(counts.size)) % 1000).size == 1
    assert src.stats.bytes_discarded > 100


def test_live_wrong_baud_rate_or_board_fails_clearly_within_5_s(tmp_path):
    from emg.devices.emulator import Emulator
    from emg.devices.stream import LiveSource

    with Emulator("myoware", link=str(tmp_path / "m"), signal=np.zeros((4, 500))) as emu:
        t0 = time.monotonic()
        with pytest.raises(
            DeviceError, match=r"/m: .*(wrong board or baud rate|wrong board, port or baud rate)"
        ):
            LiveSource("myoware", emu.port, baudrate=115200).open()
        assert time.monotonic() - t0 < 5.0
    with Emulator("cyton", link=str(tmp_path / "c"), signal=np.zeros((8, 500))) as emu:
        t0 = time.monotonic()
        with pytest.raises(DeviceError, match=r"/c: "):
            LiveSource("myoware", emu.port).open()
        assert time.monotonic() - t0 < 5.0


def test_garbage_glued_in_front_of_a_packet_costs_only_the_garbage():
    wire, counts = _stream(3, seed=8)
    pieces = [p + b"\x00" for p in wire.split(b"\x00")[:-1]]
    junk = bytes([0x13, 0x01, 0x01, 0x07, 0xFF, 0x01, 0x02, 0x41])  # fake markers too
    dec = MyowareDecoder()
    frames = dec.feed(pieces[0] + junk + pieces[1] + junk[:3] + pieces[2])
    np.testing.assert_array_equal(_all_counts(frames), counts)
    assert dec.frames_rejected == 2 and dec.bytes_discarded == len(junk) + 3
    assert dec.rejected_by_reason == {"garbage": 2}
