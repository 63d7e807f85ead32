"""OpenBCI Cyton / Cyton+Daisy decoder, emulated board and handshake (no I/O)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emg.devices import Frame, board_spec
from emg.devices.cyton import (
    BANNER,
    BANNER_DAISY,
    PACKET_SIZE,
    CytonDecoder,
    CytonDevice,
    handshake,
    uv_per_count,
)
from emg.errors import DeviceError

FOOTERS = set(range(0xC0, 0xC7))


def _packet(counter: int, counts, footer: int = 0xC0, aux: bytes = bytes(6)) -> bytes:
    payload = b"".join((int(c) & 0xFFFFFF).to_bytes(3, "big") for c in counts)
    return bytes([0xA0, counter]) + payload + aux + bytes([footer])


def _stream(n: int, *, daisy: bool = False, seed: int = 0) -> tuple[bytes, np.ndarray]:
    """Wire bytes for ``n`` samples of random counts and the µV they decode to."""
    rng = np.random.default_rng(seed)
    dev = CytonDevice(daisy=daisy)
    scale = uv_per_count(24)
    counts = rng.integers(-(2**23), 2**23, size=(dev.n_channels, n))
    return b"".join(dev.encode(counts * scale)), (counts * scale).astype(np.float32)


def _decode_all(decoder, data: bytes, step: int | None = None) -> list[Frame]:
    if step is None:
        return decoder.feed(data)
    frames = []
    for i in range(0, len(data), step):
        frames += decoder.feed(data[i : i + step])
    return frames


def _samples(frames) -> np.ndarray:
    return np.concatenate([f.samples_uv for f in frames], axis=1) if frames else np.zeros((0, 0))


def test_scale_at_gain_24():
    assert uv_per_count(24) == pytest.approx(0.02235, rel=1e-3)
    assert uv_per_count(1) == pytest.approx(4.5e6 / (2**23 - 1), rel=1e-12)


def test_hand_built_packets_decode_to_known_values():
    counts = [0x7FFFFF, -0x800000, -1, 1, 0, 1000, -1000, 12345]
    board_ms = 0x01020304
    aux = bytes([0, 0]) + board_ms.to_bytes(4, "big")
    data = _packet(7, counts) + _packet(8, counts, footer=0xC3, aux=aux) + _packet(9, counts)
    frames = CytonDecoder().feed(data)
    # the first packet waits for confirmation, then the run of three comes as one frame
    assert [(f.counter, f.n_packets) for f in frames] == [(7, 3)]
    expected = np.array(counts) * uv_per_count(24)
    np.testing.assert_allclose(frames[0].samples_uv[:, 1], expected, rtol=1e-6)
    # board time of a C3 packet: a frame starting there carries it
    frames = CytonDecoder().feed(_packet(8, counts, footer=0xC3, aux=aux) + _packet(9, counts))
    assert frames[0].board_time_ms == board_ms
    assert frames[0].aux[0, -1] == 0xC3


@pytest.mark.parametrize("daisy", [False, True])
@pytest.mark.parametrize("step", [None, 1, 7, 33, 34, 1000])
def test_round_trip_any_split(daisy, step):
    data, expected = _stream(600, daisy=daisy)
    dec = CytonDecoder(daisy=daisy)
    frames = _decode_all(dec, data, step)
    got = _samples(frames)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-6 * np.abs(expected).max())
    assert dec.bytes_discarded == 0 and dec.frames_rejected == 0
    # counters advance one per packet (Daisy: per pair), modulo 256 (Daisy 128)
    modulo = 128 if daisy else 256
    for a, b in zip(frames, frames[1:]):
        assert b.counter == (a.counter + a.n_packets) % modulo


def test_daisy_pairs_odd_board_even_daisy():
    board = list(range(1, 9))
    daisy = list(range(101, 109))
    data = _packet(1, board) + _packet(2, daisy) + _packet(3, board) + _packet(4, daisy)
    frames = CytonDecoder(daisy=True).feed(data)
    got = _samples(frames) / uv_per_count(24)
    np.testing.assert_allclose(got[:, 0], board + daisy, atol=1e-3)
    assert frames[0].counter == 0 and frames[0].counter_modulo == 128  # pair index 1 // 2


def test_daisy_lost_half_loses_the_pair_only():
    dev = CytonDevice(daisy=True)
    packets = dev.encode(np.ones((16, 10)) * 50.0)
    del packets[6]  # board half of pair 3
    dec = CytonDecoder(daisy=True)
    frames = dec.feed(b"".join(packets))
    assert sum(f.n_samples for f in frames) == 9
    assert dec.unpaired_packets == 1
    # the pair counters show exactly one missing pair
    assert [(f.counter, f.n_packets) for f in frames] == [(0, 3), (4, 6)]


def test_gain_changes_follow_channel_commands():
    dec = CytonDecoder(daisy=True)
    dec.host_sent(b"x1040")  # split across writes
    dec.host_sent(b"110X")
    dec.host_sent(b"xQ000000X")  # channel 9 (Daisy 1) gain code 0 -> 1
    gains = dec.gains
    assert gains[0] == 8 and gains[8] == 1 and gains[1] == 24
    counts = [1000] * 8
    frames = dec.feed(_packet(1, counts) + _packet(2, counts) + _packet(3, counts) + _packet(4, counts))
    x = frames[0].samples_uv[:, 0]
    assert x[0] == pytest.approx(1000 * uv_per_count(8), rel=1e-6)
    assert x[8] == pytest.approx(1000 * uv_per_count(1), rel=1e-6)
    assert x[1] == pytest.approx(1000 * uv_per_count(24), rel=1e-6)
    # while streaming, a change takes effect where the board's reply sits in the stream
    dec.host_sent(b"d")
    assert dec.gains[0] == 8  # packets in flight still have the old gains
    in_flight = _packet(5, counts) + _packet(6, counts)
    after = _packet(7, counts) + _packet(8, counts)
    frames = dec.feed(in_flight + b"updating channel settings to default$$$" + after)
    x = _samples(frames)
    assert x[0, 0] == pytest.approx(1000 * uv_per_count(8), rel=1e-6)
    assert x[0, 1] == pytest.approx(1000 * uv_per_count(24), rel=1e-6)
    assert (dec.gains == 24).all()


def test_gain_change_in_flight_split_reply():
    dev = CytonDevice()
    dec = CytonDecoder()
    stream = b"".join(dev.encode(np.full((8, 4), 100.0)))
    dec.feed(stream)
    in_flight = b"".join(dev.encode(np.full((8, 4), 100.0)))  # sent before the board saw the command
    dec.host_sent(b"x1000000X")  # channel 1 to gain 1
    reply = dev.on_host_bytes(b"x1000000X")
    assert reply == b"Success: Channel set for 1$$$"
    data = in_flight + reply + b"".join(dev.encode(np.full((8, 4), 100.0)))
    frames = _decode_all(dec, data, step=5)  # the "$$$" arrives split across reads
    x = _samples(frames)
    assert x.shape[1] == 8
    # gain 1 quantises 100 µV to a whole number of 0.536 µV steps; gain 24 to 0.022 µV steps
    np.testing.assert_allclose(x[0], 100.0, atol=uv_per_count(1) / 2)
    assert abs(x[0, 3] - 100.0) < uv_per_count(24) and abs(x[0, 4] - 100.0) > uv_per_count(24)


def test_a0_inside_payload_does_not_fool_the_resync():
    # payloads full of 0xA0 and 0xC0 bytes: many false headers with a "valid" footer 32 bytes on
    counts = [0xA0C0A0, 0xC0A0C0, 0xA0A0A0, 0xC0C0C0, 0xA0C0C0, 0xC0A0A0, 0xA000C0, 0x00A0C0]
    counts = [c - (1 << 24) if c & 0x800000 else c for c in counts]
    good = b"".join(_packet(i % 256, counts) for i in range(40))
    for cut in range(1, PACKET_SIZE):  # start mid-packet at every offset
        dec = CytonDecoder()
        frames = dec.feed(bytes([0xA0, 0x05, 0xC0]) + good[cut:])
        got = _samples(frames)
        assert got.shape[1] >= 38  # all whole packets after the cut, maybe not the last
        np.testing.assert_allclose(got / uv_per_count(24), np.array(counts)[:, None] * np.ones(got.shape[1]),
                                   atol=1e-3)
        seq = [f.counter for f in frames]
        assert seq[0] in (1, 2)


def test_garbage_between_packets_is_discarded_exactly():
    rng = np.random.default_rng(3)
    dev = CytonDevice()
    packets = dev.encode(rng.normal(0, 50, (8, 300)))
    junk_total = 0
    parts = []
    for i, p in enumerate(packets):
        if i % 5 == 4:
            junk = rng.integers(0, 256, int(rng.integers(1, 40)), dtype=np.uint8)
            junk[rng.random(len(junk)) < 0.2] = 0xA0
            junk[rng.random(len(junk)) < 0.2] = 0xC0
            parts.append(junk.tobytes())
            junk_total += len(junk)
        parts.append(p)
    dec = CytonDecoder()
    frames = _decode_all(dec, b"".join(parts), 64)
    assert sum(f.n_samples for f in frames) == 300
    assert dec.bytes_discarded == junk_total


def test_one_million_random_bytes_never_raise_and_footers_are_valid():
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, 1_000_000, dtype=np.uint8).tobytes()
    for daisy in (False, True):
        dec = CytonDecoder(daisy=daisy)
        frames = []
        for i in range(0, len(data), 4096):
            frames += dec.feed(data[i : i + 4096])
        for f in frames:
            assert set(f.aux[:, -1].tolist()) <= FOOTERS
            assert f.samples_uv.dtype == np.float32 and np.isfinite(f.samples_uv).all()
        assert dec.bytes_discarded > 900_000


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400), st.integers(0, 1))
def test_property_any_bytes_any_board(data, daisy):
    dec = CytonDecoder(daisy=bool(daisy))
    for f in dec.feed(data) + dec.feed(data[::-1]):
        assert set(f.aux[:, -1].tolist()) <= FOOTERS
        assert f.samples_uv.shape == (16 if daisy else 8, f.n_packets)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_property_valid_stream_with_insertions(data):
    stream, expected = _stream(12, seed=1)
    at_boundary = data.draw(st.booleans())
    cut = data.draw(st.integers(0, 12)) * PACKET_SIZE if at_boundary else data.draw(st.integers(0, len(stream)))
    junk = data.draw(st.binary(max_size=80))
    dec = CytonDecoder()
    frames = dec.feed(stream[:cut] + junk + stream[cut:])
    got = _samples(frames)
    for f in frames:
        assert set(f.aux[:, -1].tolist()) <= FOOTERS
    if not got.size:
        return
    # match each decoded sample to the true one it equals, if any
    cols = [int(np.argmin(np.abs(expected - got[:, [j]]).sum(axis=0))) for j in range(got.shape[1])]
    right = [c for j, c in enumerate(cols) if np.allclose(got[:, j], expected[:, c], atol=1e-3)]
    wrong = got.shape[1] - len(right)
    assert right == sorted(set(right))  # in order, never duplicated
    if at_boundary:
        assert wrong == 0  # junk between packets never becomes data
    else:
        # junk inside a payload can put a footer byte where the footer belongs: without a
        # CRC the Cyton protocol cannot tell, so at most that one packet is wrong
        assert wrong <= 1


@pytest.mark.parametrize("daisy", [False, True])
def test_every_truncation_of_a_valid_stream(daisy):
    data, expected = _stream(20, daisy=daisy, seed=2)
    for i in range(len(data) + 1):
        dec = CytonDecoder(daisy=daisy)
        head = _samples(dec.feed(data[:i]))
        tail = _samples(dec.feed(data[i:]))
        parts = [p for p in (head, tail) if p.size]
        both = np.concatenate(parts, axis=1)
        np.testing.assert_allclose(both, expected, atol=1e-3)  # a split never loses or invents data
        if head.size:  # what a truncated stream gives is a prefix of the truth
            np.testing.assert_allclose(head, expected[:, : head.shape[1]], atol=1e-3)


def test_device_replies_like_the_firmware():
    dev = CytonDevice()
    assert dev.on_host_bytes(b"v").decode() == BANNER
    assert BANNER.endswith("$$$") and "Daisy" not in BANNER
    assert "On Daisy ADS1299" in CytonDevice(daisy=True).on_host_bytes(b"v").decode()
    assert not dev.streaming
    dev.on_host_bytes(b"b")
    assert dev.streaming
    assert dev.on_host_bytes(b"x3060110X") == b"Success: Channel set for 3$$$"
    dev.on_host_bytes(b"s")
    assert not dev.streaming
    assert BANNER_DAISY.count("\n") == BANNER.count("\n") + 1


class _FakeLink:
    def __init__(self, replies: dict[bytes, bytes]):
        self.replies = replies
        self.sent: list[bytes] = []
        self._out = b""

    def write(self, data: bytes) -> None:
        self.sent.append(data)
        self._out += self.replies.get(data, b"")

    def read_until(self, terminator: bytes, timeout_s: float) -> bytes:
        i = self._out.find(terminator)
        out, self._out = (self._out, b"") if i < 0 else (self._out[: i + len(terminator)], self._out[i + len(terminator):])
        return out

    def drain(self, quiet_s: float = 0.05, timeout_s: float = 1.0) -> bytes:
        out, self._out = self._out, b""
        return out


def test_handshake_sequence_and_errors():
    link = _FakeLink({b"v": BANNER.encode(), b"d": b"updating channel settings to default$$$"})
    identity = handshake(link, "/dev/ttyUSB0")
    assert link.sent == [b"s", b"v", b"d", b"b"]
    assert identity.startswith("OpenBCI V3") and "v3.1.2" in identity
    with pytest.raises(DeviceError, match=r"^/dev/ttyUSB0: no OpenBCI banner within 3 s: wrong board, port or baud"):
        handshake(_FakeLink({}), "/dev/ttyUSB0")
    with pytest.raises(DeviceError, match="no Daisy module"):
        handshake(_FakeLink({b"v": BANNER.encode()}), "/dev/ttyUSB0", daisy=True)
    with pytest.raises(DeviceError, match="not an OpenBCI banner"):
        handshake(_FakeLink({b"v": b"MyoWare bridge$$$"}), "/dev/ttyUSB0")
    # a Daisy board asked for as a plain Cyton is switched to 8 channels
    link = _FakeLink({b"v": BANNER_DAISY.encode(), b"c": b"daisy removed$$$"})
    handshake(link, "p")
    assert b"c" in link.sent


def test_board_specs():
    cyton, daisy = board_spec("cyton"), board_spec("cyton-daisy")
    assert (cyton.fs, cyton.n_channels, cyton.packet_rate, cyton.counter_modulo) == (250.0, 8, 250.0, 256)
    assert (daisy.fs, daisy.n_channels, daisy.counter_modulo) == (125.0, 16, 128)
    assert (0x0403, 0x6015) in cyton.usb_ids
    with pytest.raises(ValueError, match="Invalid value for 'board': allowed are 'cyton', 'cyton-daisy', 'myoware', got 'cyto'"):
        board_spec("cyto")
