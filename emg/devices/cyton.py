"""OpenBCI Cyton and Cyton+Daisy over the FTDI dongle: decoder, emulated board, handshake.

Wire format (docs.openbci.com, Cyton Data Format): 115200 baud 8-N-1; each packet is 33
bytes: ``0xA0``, sample number (0-255, wraps), 8 channels × 24-bit signed big-endian, 6 aux
bytes, footer ``0xC0``-``0xC6`` (``C0``: accelerometer in the aux bytes; ``C3``-``C6``: a 32-bit
board time in ms in aux bytes 2-5). With a Daisy module packets alternate: odd sample
numbers carry the board's channels 1-8, the next (even) one the Daisy's 9-16; a pair is one
16-channel sample at 125 Hz.

There is no CRC: the decoder resynchronises by scanning for ``0xA0`` with a valid footer 32
bytes later. A ``0xA0`` inside a payload must not fool it, so after any discontinuity a
candidate packet is only accepted when its sample number continues the last one or the next
packet's header and footer line up too.
"""

from __future__ import annotations

import numpy as np

from ..errors import DeviceError
from . import BoardSpec, CommandLink, Frame

__all__ = [
    "BANNER",
    "BANNER_DAISY",
    "BOARD_SPECS",
    "GAINS",
    "PACKET_SIZE",
    "CytonDecoder",
    "CytonDevice",
    "handshake",
    "uv_per_count",
]

PACKET_SIZE = 33
HEADER = 0xA0
FOOTERS = frozenset(range(0xC0, 0xC7))
#: ADS1299 PGA gains by command code 0-6.
GAINS = (1, 2, 4, 6, 8, 12, 24)
DEFAULT_GAIN = 24
VREF_V = 4.5
#: Characters naming channels 1-16 in ``x CH ... X`` commands.
CHANNEL_CHARS = b"12345678QWERTYUI"

BANNER = (
    "OpenBCI V3 8-16 channel\nOn Board ADS1299 Device ID: 0x3E\n"
    "LIS3DH Device ID: 0x33\nFirmware: v3.1.2\n$$$"
)
BANNER_DAISY = (
    "OpenBCI V3 8-16 channel\nOn Board ADS1299 Device ID: 0x3E\n"
    "On Daisy ADS1299 Device ID: 0x3E\nLIS3DH Device ID: 0x33\nFirmware: v3.1.2\n$$$"
)
_FOOTER_LUT = np.zeros(256, dtype=bool)
_FOOTER_LUT[0xC0:0xC7] = True


def uv_per_count(gain: int) -> float:
    """µV per ADC count at PGA ``gain``: 4.5 V / gain / (2**23 - 1) × 1e6 (0.02235 at 24)."""
    return VREF_V / gain / (2**23 - 1) * 1e6


class _GainTracker:
    """Per-channel gains, updated from the ``x CH PWR GAIN INPUT BIAS SRB2 SRB1 X`` commands."""

    def __init__(self, n_channels: int):
        self.gains = np.full(n_channels, DEFAULT_GAIN, dtype=np.int64)
        self._pending = b""
        self.scale_uv = self._scale()

    def observe(self, data: bytes) -> None:
        buf = self._pending + bytes(data)
        i = 0
        while i < len(buf):
            ch = buf[i]
            if ch == ord("d"):  # all channels back to defaults
                self.gains[:] = DEFAULT_GAIN
                i += 1
            elif ch == ord("x"):
                if len(buf) - i < 9:
                    break  # wait for the rest of the command
                cmd = buf[i : i + 9]
                if cmd[8] == ord("X"):
                    idx = CHANNEL_CHARS.find(cmd[1:2])
                    code = cmd[3] - ord("0")
                    if 0 <= idx < len(self.gains) and 0 <= code < len(GAINS):
                        self.gains[idx] = GAINS[code]
                    i += 9
                else:
                    i += 1
            else:
                i += 1
        self._pending = buf[i:]
        self.scale_uv = self._scale()

    def _scale(self) -> np.ndarray:
        return VREF_V / self.gains.astype(np.float64) / (2**23 - 1) * 1e6


def _int24(block: np.ndarray) -> np.ndarray:
    """Big-endian signed 24-bit integers from uint8 ``[..., 3*k]`` -> int32 ``[..., k]``."""
    k = block.shape[-1] // 3
    b = block.reshape(-1, 3)
    wide = np.empty((b.shape[0], 4), dtype=np.uint8)
    wide[:, 1:] = b
    wide[:, 0] = (b[:, 0] >= 0x80) * 0xFF  # sign extension
    return wide.view(">i4").reshape(*block.shape[:-1], k)


class _PacketScanner:
    """Cuts a byte stream into validated 33-byte Cyton packets (the part both boards share)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._locked = False  # the buffer starts right after an accepted packet
        self._last_counter: int | None = None
        self.bytes_discarded = 0
        self.frames_rejected = 0

    def _discard(self, n: int) -> None:
        del self._buf[:n]
        self.bytes_discarded += n
        self._locked = False

    def feed(self, data: bytes) -> np.ndarray:
        """Append ``data``; return the accepted packets as uint8 ``[k, 33]``."""
        self._buf += data
        out: list[np.ndarray] = []
        buf = self._buf
        while True:
            n = len(buf)
            if n < PACKET_SIZE:
                if not self._locked:
                    i = buf.find(HEADER)
                    if i < 0:
                        self._discard(n)
                    elif i > 0:
                        self._discard(i)
                break
            if buf[0] != HEADER:
                i = buf.find(HEADER, 1)
                self._discard(i if i > 0 else n)
                continue
            if buf[PACKET_SIZE - 1] not in FOOTERS:
                self.frames_rejected += 1
                self._discard(1)
                continue
            counter = buf[1]
            step = None if self._last_counter is None else (counter - self._last_counter) % 256
            if not ((self._locked and step == 1) or (step is not None and 1 <= step <= 3)):
                # after a discontinuity, a 0xA0 with a 0xC? 32 bytes on is not enough: the
                # candidate needs a valid packet right behind it (and, when it follows
                # garbage, a plausible sample number there)
                if n < 2 * PACKET_SIZE:
                    break  # wait for the next packet to confirm
                nxt_ok = buf[PACKET_SIZE] == HEADER and buf[2 * PACKET_SIZE - 1] in FOOTERS
                near = 1 <= (buf[PACKET_SIZE + 1] - counter) % 256 <= 3
                if not (nxt_ok and (self._locked or near)):
                    self.frames_rejected += 1
                    self._discard(1)
                    continue
            # accepted: take the whole run of aligned, consecutive packets at once
            k = n // PACKET_SIZE
            run, prev = 1, counter
            while run < k:
                o = run * PACKET_SIZE
                if buf[o] != HEADER or buf[o + PACKET_SIZE - 1] not in FOOTERS or buf[o + 1] != (prev + 1) % 256:
                    break
                prev = buf[o + 1]
                run += 1
            block = np.frombuffer(bytes(buf[: run * PACKET_SIZE]), dtype=np.uint8).reshape(run, PACKET_SIZE)
            out.append(block)
            self._last_counter = prev
            del buf[: run * PACKET_SIZE]
            self._locked = True
        if not out:
            return np.zeros((0, PACKET_SIZE), np.uint8)
        return out[0] if len(out) == 1 else np.concatenate(out)


def _board_time_ms(packet: np.ndarray) -> int | None:
    if 0xC3 <= packet[-1] <= 0xC6:
        b = packet[28:32]
        return int(b[0]) << 24 | int(b[1]) << 16 | int(b[2]) << 8 | int(b[3])
    return None


def _split_runs(counters: list[int], modulo: int) -> list[tuple[int, int]]:
    """Index ranges ``[a, b)`` over which ``counters`` increase by one (mod ``modulo``)."""
    runs, a = [], 0
    for i in range(1, len(counters)):
        if (counters[i] - counters[i - 1]) % modulo != 1:
            runs.append((a, i))
            a = i
    if counters:
        runs.append((a, len(counters)))
    return runs


class CytonDecoder:
    """Bytes from a Cyton (or Cyton+Daisy) dongle -> :class:`~emg.devices.Frame` (µV).

    Parameters
    ----------
    daisy : bool
        Pair odd/even packets into 16-channel samples at 125 Hz.

    Notes
    -----
    ``feed`` never raises. Frames bundle runs of consecutive packets (``n_packets``);
    ``counter`` is the sample number (Cyton, modulo 256) or the pair index ``odd // 2``
    (Daisy, modulo 128). ``aux`` holds the raw 6 aux bytes and the footer per packet,
    uint8 ``[n_packets, 7]`` (Daisy: of the board packet). Gains follow the ``x...X`` and
    ``d`` commands passed to :meth:`host_sent`: at once before streaming, and while streaming
    from the board's reply (ending ``$$$``) in the byte stream on, so packets still in flight
    when the command was sent keep the old scale.

    Examples
    --------
    >>> dev = CytonDevice()
    >>> dec = CytonDecoder()
    >>> frames = dec.feed(b"".join(dev.encode(np.full((8, 3), 100.0))))
    >>> frames[0].samples_uv.shape, frames[0].n_packets
    ((8, 3), 3)
    """

    def __init__(self, *, daisy: bool = False):
        self.daisy = daisy
        self.n_channels = 16 if daisy else 8
        self.counter_modulo = 128 if daisy else 256
        self._scanner = _PacketScanner()
        self._gains = _GainTracker(self.n_channels)  # as commanded by the host
        self._scale_uv = self._gains.scale_uv  # in force for the packets being decoded
        self._gains_in_force = self._gains.gains.copy()
        self._change_pending = False  # a gain command waits for the board's "$$$"
        self._tail = b""
        self._seen_packets = False
        self._pending: np.ndarray | None = None  # a board packet waiting for its Daisy partner
        self.unpaired_packets = 0

    @property
    def bytes_discarded(self) -> int:
        return self._scanner.bytes_discarded

    @property
    def frames_rejected(self) -> int:
        return self._scanner.frames_rejected

    @property
    def gains(self) -> np.ndarray:
        """PGA gain per channel in force for decoding."""
        return self._gains_in_force.copy()

    def _apply_gains(self) -> None:
        self._scale_uv = self._gains.scale_uv
        self._gains_in_force = self._gains.gains.copy()
        self._change_pending = False

    def host_sent(self, data: bytes) -> None:
        """Track gain changes in commands the host wrote."""
        try:
            before = self._gains.gains.copy()
            self._gains.observe(data)
            if not np.array_equal(before, self._gains.gains) or self._change_pending:
                if self._seen_packets:
                    self._change_pending = True
                else:
                    self._apply_gains()
        except Exception:  # noqa: BLE001, S110 - a malformed command must not break decoding
            pass

    def feed(self, data: bytes) -> list[Frame]:
        """Decode ``data`` (any bytes, any split) into frames; never raises."""
        data = bytes(data)
        if self._change_pending:
            # the board's reply marks where the new gains start in the stream
            buf = self._tail + data
            i = buf.find(b"$$$")
            if i >= 0:
                cut = max(0, i + 3 - len(self._tail))
                frames = self._feed(data[:cut])
                self._apply_gains()
                self._tail = b""
                return frames + self.feed(data[cut:])
            self._tail = buf[-2:]
        return self._feed(data)

    def _feed(self, data: bytes) -> list[Frame]:
        try:
            packets = self._scanner.feed(data)
            if len(packets) == 0:
                return []
            self._seen_packets = True
            return self._pair(packets) if self.daisy else self._frames(packets)
        except Exception:  # noqa: BLE001 - defensive: a decoder bug must not stop acquisition
            self._scanner.frames_rejected += 1
            return []

    def _frames(self, packets: np.ndarray) -> list[Frame]:
        counts = _int24(packets[:, 2:26])  # [k, 8]
        samples = (counts * self._scale_uv).astype(np.float32).T
        frames = []
        for a, b in _split_runs(packets[:, 1].tolist(), 256):
            frames.append(Frame(
                counter=int(packets[a, 1]), counter_modulo=256,
                samples_uv=np.ascontiguousarray(samples[:, a:b]), n_packets=b - a,
                board_time_ms=_board_time_ms(packets[a]), aux=packets[a:b, 26:33].copy(),
            ))
        return frames

    def _pair(self, packets: np.ndarray) -> list[Frame]:
        if self._pending is not None:
            packets = np.concatenate([self._pending[None, :], packets])
            self._pending = None
        c = packets[:, 1].tolist()
        # a pair is an odd (board) packet followed by the next sample number (Daisy)
        first = [i for i in range(len(c) - 1) if c[i] & 1 and (c[i + 1] - c[i]) % 256 == 1]
        if c[-1] & 1:
            self._pending = packets[-1].copy()
        self.unpaired_packets += len(c) - 2 * len(first) - (c[-1] & 1)
        if not first:
            return []
        idx = np.array(first)
        counts = _int24(packets[np.stack([idx, idx + 1], axis=1), 2:26]).reshape(len(first), 16)
        samples = (counts * self._scale_uv).astype(np.float32).T
        pair_index = [c[i] // 2 for i in first]
        frames = []
        for a, b in _split_runs(pair_index, 128):
            frames.append(Frame(
                counter=pair_index[a], counter_modulo=128,
                samples_uv=np.ascontiguousarray(samples[:, a:b]), n_packets=b - a,
                board_time_ms=_board_time_ms(packets[first[a]]), aux=packets[idx[a:b], 26:33].copy(),
            ))
        return frames


class CytonDevice:
    """The Cyton board as the emulator plays it (firmware v3 replies, 250 Hz or 125 Hz × 16).

    Parameters
    ----------
    daisy : bool
        A Daisy module is attached: 16 channels at 125 Hz, two wire packets per sample.
    footer : int
        Footer byte of streamed packets (0xC0 accelerometer, 0xC3-0xC6 board time).
    """

    baudrate = 115200
    samples_per_packet = 1

    def __init__(self, *, daisy: bool = False, footer: int = 0xC0):
        self.daisy = daisy
        self.board = "cyton-daisy" if daisy else "cyton"
        self.n_channels = 16 if daisy else 8
        self.fs = 125.0 if daisy else 250.0
        self.footer = footer
        self.sample_number = 0  # next wire sample number
        self._streaming = False
        self._gains = _GainTracker(self.n_channels)
        self._time_ms = 0
        self._cmd = b""

    @property
    def streaming(self) -> bool:
        return self._streaming

    def on_host_bytes(self, data: bytes) -> bytes:
        """Answer host commands like firmware v3.1.2."""
        reply = bytearray()
        self._gains.observe(data)
        buf = self._cmd + bytes(data)
        i = 0
        while i < len(buf):
            c = chr(buf[i])
            if c == "x":
                if len(buf) - i < 9:
                    break
                cmd = buf[i : i + 9]
                ch = CHANNEL_CHARS.find(cmd[1:2])
                if cmd[8] == ord("X") and 0 <= ch < self.n_channels:
                    reply += f"Success: Channel set for {ch + 1}$$$".encode()
                else:
                    reply += b"Failure: too few chars$$$"
                i += 9
                continue
            if c == "v":
                self._streaming = False
                self.sample_number = 0
                reply += (BANNER_DAISY if self.daisy else BANNER).encode()
            elif c == "s":
                self._streaming = False
            elif c == "b":
                self._streaming = True
            elif c == "d":
                reply += b"updating channel settings to default$$$"
            elif c == "c":
                if self.daisy:
                    reply += b"daisy removed$$$"
            elif c == "C":
                reply += (b"16$$$" if self.daisy else b"no daisy to attach!8$$$")
            elif c == "?":
                reply += b"Board ADS Registers\nADS_ID, 00, 3E, 0, 0, 1, 1, 1, 1, 1, 0\n$$$"
            i += 1
        self._cmd = buf[i:]
        return bytes(reply)

    def _packet(self, counts8: np.ndarray) -> bytes:
        values = np.asarray(counts8, dtype=np.int64) & 0xFFFFFF
        payload = np.empty((8, 3), dtype=np.uint8)
        payload[:, 0] = values >> 16
        payload[:, 1] = (values >> 8) & 0xFF
        payload[:, 2] = values & 0xFF
        if 0xC3 <= self.footer <= 0xC6:
            t = self._time_ms & 0xFFFFFFFF
            aux = bytes([0, 0, t >> 24 & 0xFF, t >> 16 & 0xFF, t >> 8 & 0xFF, t & 0xFF])
        else:
            aux = bytes(6)
        packet = bytes([HEADER, self.sample_number]) + payload.tobytes() + aux + bytes([self.footer])
        self.sample_number = (self.sample_number + 1) % 256
        return packet

    def encode(self, samples_uv: np.ndarray) -> list[bytes]:
        """Wire packets for ``samples_uv`` [n_channels, n] (Daisy: 2 packets per sample)."""
        samples_uv = np.asarray(samples_uv, dtype=np.float64)
        counts = np.rint(samples_uv / self._gains.scale_uv[:, None])
        counts = np.clip(counts, -(2**23), 2**23 - 1).astype(np.int64)
        packets = []
        for j in range(counts.shape[1]):
            if self.daisy:
                if self.sample_number % 2 == 0:  # a pair starts at an odd sample number
                    self.sample_number = (self.sample_number + 1) % 256
                packets.append(self._packet(counts[:8, j]))
                packets.append(self._packet(counts[8:, j]))
                self._time_ms += 8
            else:
                packets.append(self._packet(counts[:, j]))
                self._time_ms += 4
        return packets


def handshake(link: CommandLink, port: str, *, daisy: bool = False, settings: bytes = b"") -> str:
    """Stop, identify (``v`` -> banner ending ``$$$``), apply ``settings``, start (``b``).

    Raises
    ------
    DeviceError
        When no banner arrives within 3 s, the reply is not an OpenBCI banner, or a Daisy
        is asked for and absent.
    """
    link.write(b"s")
    link.drain(quiet_s=0.05, timeout_s=0.5)  # leftovers of an earlier stream
    link.write(b"v")
    reply = link.read_until(b"$$$", timeout_s=3.0)
    if not reply.endswith(b"$$$"):
        raise DeviceError(port, "no OpenBCI banner within 3 s: wrong board, port or baud rate?")
    text = reply.decode("ascii", "replace")
    if "OpenBCI" not in text:
        raise DeviceError(port, f"the reply to 'v' is not an OpenBCI banner: {text[:60]!r}")
    has_daisy = "Daisy" in text
    if daisy and not has_daisy:
        raise DeviceError(port, "--board cyton-daisy, but the board reports no Daisy module (use --board cyton)")
    if has_daisy and not daisy:
        link.write(b"c")  # 8 channels at 250 Hz
        link.read_until(b"$$$", timeout_s=1.0)
    link.write(b"d")
    link.read_until(b"$$$", timeout_s=1.0)
    if settings:
        link.write(settings)
        link.drain(quiet_s=0.1, timeout_s=1.0)
    link.write(b"b")
    firmware = next((line for line in text.splitlines() if line.startswith("Firmware")), "")
    return f"{text.splitlines()[0].strip()} {firmware}".strip()


_FTDI = ((0x0403, 0x6015),)


def _spec(daisy: bool) -> BoardSpec:
    n = 16 if daisy else 8
    return BoardSpec(
        name="cyton-daisy" if daisy else "cyton",
        fs=125.0 if daisy else 250.0,
        channel_names=tuple(f"EXG{i + 1}" for i in range(n)),
        baudrate=115200,
        samples_per_packet=1,
        counter_modulo=128 if daisy else 256,
        usb_ids=_FTDI,
        make_decoder=lambda: CytonDecoder(daisy=daisy),
        make_device=lambda: CytonDevice(daisy=daisy),
        handshake=lambda link, port: handshake(link, port, daisy=daisy),
        stop_command=b"s",
    )


BOARD_SPECS = {"cyton": _spec(False), "cyton-daisy": _spec(True)}
