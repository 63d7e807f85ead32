"""MyoWare 2.0 sensors through the ``firmware_bridge`` Arduino firmware: decoder, device, handshake.

The wire protocol is specified in ``firmware_bridge/PROTOCOL.md`` (version 1): 500 000 baud;
device -> host packets are COBS-encoded and end in ``0x00``; each packet is ``version``,
``type`` (data or text reply), a body and a CRC-16/CCITT-FALSE sent MSB first. A data packet
carries ``n_samples`` (10) samples of up to 4 channels as ``uint16`` ADC counts, a packet
sequence number (wraps at 65 536) and the device's µs clock at its first sample. Host ->
device traffic is ASCII command lines (``id``, ``start``, ``stop``, ``rate <hz>``,
``channels <n>``), each answered by one text reply packet.

This module mirrors the shared C code of the firmware byte for byte (``src/emgframe.c`` for
the framing, ``src/emgbridge.c`` for the commands); ``firmware_bridge/test_vectors.txt``
checks both against the same vectors.

Counts become µV here, once: ``(count - 2**(bits-1)) * vref / 2**bits / 200`` (MyoWare RAW
gain 200, centred on REF = half the ADC reference): 24.41 µV per count on a 5 V Uno.
"""

from __future__ import annotations

import binascii
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import DeviceError
from . import BoardSpec, CommandLink, Frame

__all__ = [
    "BAUDRATE",
    "BOARD_SPECS",
    "GAIN",
    "SAMPLES_PER_PACKET",
    "SEQ_MODULO",
    "VERSION",
    "BridgeCommands",
    "DataPacket",
    "MyowareDecoder",
    "MyowareDevice",
    "PacketError",
    "build_data_packet",
    "build_text_packet",
    "cobs_decode",
    "cobs_encode",
    "crc16",
    "handshake",
    "parse_packet",
    "to_wire",
    "uv_per_count",
]

VERSION = 1
TYPE_DATA = 0x01
TYPE_TEXT = 0x02
HEADER_SIZE = 14
MAX_CHANNELS = 4
MAX_SAMPLES = 50
MAX_TEXT = 200
STATUS_OVERRUN = 0x01
STATUS_LATE = 0x02
#: Longest valid encoded packet is 418 bytes; a longer run without a delimiter is garbage.
MAX_PIECE = 512
SEQ_MODULO = 65536

FIRMWARE = "1.0.0"
BAUDRATE = 500_000
SAMPLES_PER_PACKET = 10
DEFAULT_FS = 1000
DEFAULT_CHANNELS = 4
MIN_FS, MAX_FS = 100, 8000
MAX_CONVERSIONS = 8000
GAIN = 200
MAX_LINE = 31
#: (adc_bits, vref_mv) of each firmware target.
MCU_ADC = {"atmega328p": (10, 5000), "esp32": (12, 3300)}


class PacketError(ValueError):
    """A decoded packet failed a check; ``reason`` is 'length', 'crc', 'version', 'type' or 'field'."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


# -- framing --------------------------------------------------------------------------------
def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, unreflected, xorout 0); b"123456789" -> 0x29B1."""
    return binascii.crc_hqx(data, crc)


def cobs_encode(data: bytes) -> bytes:
    """Consistent Overhead Byte Stuffing (254-byte blocks), without the ``0x00`` delimiter.

    >>> cobs_encode(bytes([0x11, 0x22, 0x00, 0x33])).hex(" ")
    '03 11 22 02 33'
    """
    out = bytearray()
    segments = bytes(data).split(b"\x00")
    last = len(segments) - 1
    for i, seg in enumerate(segments):
        # a zero follows every segment but the last; a full 254-byte block implies no zero
        while len(seg) > 254 or (len(seg) == 254 and i < last):
            out.append(0xFF)
            out += seg[:254]
            seg = seg[254:]
        out.append(0xFF if len(seg) == 254 else len(seg) + 1)
        out += seg
    return bytes(out)


def cobs_decode(piece: bytes) -> bytes | None:
    """Decode one COBS piece (no delimiter); None when it is malformed."""
    out = bytearray()
    i, n = 0, len(piece)
    while i < n:
        code = piece[i]
        j = i + code
        if code == 0 or j > n:
            return None
        out += piece[i + 1 : j]
        if code != 0xFF and j < n:
            out.append(0)
        i = j
    if 0 in piece:
        return None
    return bytes(out)


def _finish(body: bytes) -> bytes:
    return body + crc16(body).to_bytes(2, "big")


def build_data_packet(
    counts: np.ndarray, *, seq: int, t_us: int, adc_bits: int, vref_mv: int, status: int = 0
) -> bytes:
    """A decoded data packet (header, samples, CRC) for ``counts`` uint16 ``[n_channels, n_samples]``."""
    counts = np.asarray(counts)
    n_channels, n_samples = counts.shape
    header = bytes([VERSION, TYPE_DATA, n_channels, n_samples, adc_bits, status])
    header += int(vref_mv).to_bytes(2, "little") + int(seq % SEQ_MODULO).to_bytes(2, "little")
    header += int(t_us % 2**32).to_bytes(4, "little")
    return _finish(header + np.ascontiguousarray(counts.T, dtype="<u2").tobytes())


def build_text_packet(text: str) -> bytes:
    """A decoded text-reply packet (cut to 200 characters)."""
    return _finish(bytes([VERSION, TYPE_TEXT]) + text.encode("ascii", "replace")[:MAX_TEXT])


def to_wire(packet: bytes) -> bytes:
    """COBS-encode ``packet`` and append the ``0x00`` delimiter."""
    return cobs_encode(packet) + b"\x00"


@dataclass(frozen=True, eq=False)
class DataPacket:
    """One checked data packet: ``counts`` uint16 ``[n_channels, n_samples]``, ``t_us`` in µs."""

    seq: int
    t_us: int
    status: int
    adc_bits: int
    vref_mv: int
    counts: np.ndarray


def parse_packet(packet: bytes) -> DataPacket | str:
    """Check a decoded packet: a :class:`DataPacket`, or the text of a reply.

    Raises
    ------
    PacketError
        With ``reason`` 'length', 'crc', 'version', 'type' or 'field', in the order the
        firmware's ``emgframe_parse`` checks them.
    """
    n = len(packet)
    if n < 4:
        raise PacketError("length")
    if crc16(packet) != 0:  # the CRC travels MSB first, so the residue is 0
        raise PacketError("crc")
    if packet[0] != VERSION:
        raise PacketError("version")
    kind = packet[1]
    if kind == TYPE_TEXT:
        body = packet[2:-2]
        if not 1 <= len(body) <= MAX_TEXT:
            raise PacketError("length")
        if any(c < 0x20 or c > 0x7E for c in body):
            raise PacketError("field")
        return body.decode("ascii")
    if kind != TYPE_DATA:
        raise PacketError("type")
    if n < HEADER_SIZE + 2:
        raise PacketError("length")
    n_channels, n_samples, adc_bits, status = packet[2], packet[3], packet[4], packet[5]
    if (
        not (
            1 <= n_channels <= MAX_CHANNELS
            and 1 <= n_samples <= MAX_SAMPLES
            and 8 <= adc_bits <= 16
        )
        or status & 0xFC
    ):
        raise PacketError("field")
    if n != HEADER_SIZE + 2 * n_channels * n_samples + 2:
        raise PacketError("length")
    values = np.frombuffer(packet, dtype="<u2", count=n_channels * n_samples, offset=HEADER_SIZE)
    if int(values.max()) >= 1 << adc_bits:
        raise PacketError("field")
    return DataPacket(
        seq=int.from_bytes(packet[8:10], "little"),
        t_us=int.from_bytes(packet[10:14], "little"),
        status=status,
        adc_bits=adc_bits,
        vref_mv=int.from_bytes(packet[6:8], "little"),
        counts=values.reshape(n_samples, n_channels).T.astype(np.uint16),
    )


def uv_per_count(adc_bits: int, vref_mv: float, gain: float = GAIN) -> float:
    """µV at the electrodes per ADC count: vref / 2**bits / gain (24.41 for a 5 V, 10-bit Uno)."""
    return vref_mv * 1e3 / 2**adc_bits / gain


# -- decoder --------------------------------------------------------------------------------
class MyowareDecoder:
    """Bytes from the MyoWare bridge -> :class:`~emg.devices.Frame` (µV).

    Parameters
    ----------
    gain : float
        Gain of the sensor output wired to the inputs (MyoWare 2.0 RAW: 200).

    Notes
    -----
    ``feed`` never raises. The stream is cut at ``0x00``; each piece that fails COBS, the
    CRC, the version or a field check counts once in ``frames_rejected`` and its bytes in
    ``bytes_discarded``, unless a valid packet ends it (garbage glued in front of a packet:
    then only the garbage is discarded and the packet is kept, also behind a run of
    garbage longer than any packet, of which only the last 512 bytes are kept). Consecutive data packets (``seq`` +1, same layout) of one ``feed``
    are bundled into one frame: ``counter`` is the first packet's ``seq`` (modulo 65 536),
    ``n_packets`` how many, ``board_time_ms`` the first packet's ``t_us // 1000``, and
    ``aux`` uint32 ``[n_packets, 2]`` holds each packet's ``t_us`` and ``status`` (bit 0
    OVERRUN, bit 1 LATE). Text replies go to ``replies`` (the last 64).

    Examples
    --------
    >>> dev = MyowareDevice(clock=lambda: 0.0)
    >>> _ = dev.on_host_bytes(b"start\\n")
    >>> dec = MyowareDecoder()
    >>> frames = dec.feed(b"".join(dev.encode(np.zeros((4, 30)))))
    >>> frames[0].samples_uv.shape, frames[0].n_packets
    ((4, 30), 3)
    """

    counter_modulo = SEQ_MODULO

    def __init__(self, *, gain: float = GAIN):
        self.gain = float(gain)
        self.bytes_discarded = 0
        self.frames_rejected = 0
        self.packets_decoded = 0
        self.overruns = 0  # packets flagged OVERRUN by the device
        self.late = 0  # packets flagged LATE
        self.replies: deque[str] = deque(maxlen=64)
        self.rejected_by_reason: dict[str, int] = {}
        self._buf = bytearray()
        self._overlong = False  # the piece in progress already ran past MAX_PIECE

    def host_sent(self, data: bytes) -> None:
        """Commands carry nothing the decoder needs (packets describe themselves)."""

    def _reject(self, n_bytes: int, reason: str) -> None:
        self.frames_rejected += 1
        self.bytes_discarded += n_bytes
        self.rejected_by_reason[reason] = self.rejected_by_reason.get(reason, 0) + 1

    @staticmethod
    def _check(piece: bytes) -> DataPacket | str:
        """A packet or reply from one piece; PacketError('cobs', ...) when it is not one."""
        packet = cobs_decode(piece)
        if packet is None:
            raise PacketError("cobs")
        return parse_packet(packet)

    @classmethod
    def _salvage(cls, piece: bytes) -> tuple[int, DataPacket | str] | None:
        """A valid packet at the end of a failed piece (garbage glued in front of a packet).

        A packet's encoding starts with its code byte, then version 1 and type 1 or 2, so
        only positions followed by ``01 01`` or ``01 02`` are tried.
        """
        starts = set()
        for marker in (b"\x01\x01", b"\x01\x02"):
            i = piece.find(marker, 2)
            while i >= 0:
                starts.add(i - 1)
                i = piece.find(marker, i + 1)
        for k in sorted(starts):
            try:
                return k, cls._check(piece[k:])
            except PacketError:
                continue
        return None

    def _drop_overlong(self, n_bytes: int) -> None:
        """Drop the first ``n_bytes`` of a run with no delimiter for longer than any packet.

        Only the last :data:`MAX_PIECE` bytes of such a run can still be (the start of) a
        packet, so they are kept; the run counts as one rejection however long it grows.
        """
        self.bytes_discarded += n_bytes
        if not self._overlong:
            self._overlong = True
            self.frames_rejected += 1
            self.rejected_by_reason["length"] = self.rejected_by_reason.get("length", 0) + 1

    def _piece(self, piece: bytes) -> DataPacket | None:
        if len(piece) > MAX_PIECE:
            self._drop_overlong(len(piece) - MAX_PIECE)
            piece = piece[-MAX_PIECE:]
        overlong, self._overlong = self._overlong, False
        if not piece:
            self.bytes_discarded += 1  # two delimiters in a row
            return None
        try:
            parsed = self._check(piece)
        except PacketError as exc:
            salvaged = self._salvage(piece)
            if salvaged is None:
                if overlong:  # already counted as one rejection
                    self.bytes_discarded += len(piece) + 1
                else:
                    self._reject(len(piece) + 1, exc.reason)
                return None
            k, parsed = salvaged
            if overlong:
                self.bytes_discarded += k
            else:
                self._reject(k, "garbage")
        if isinstance(parsed, str):
            self.replies.append(parsed)
            return None
        self.packets_decoded += 1
        self.overruns += bool(parsed.status & STATUS_OVERRUN)
        self.late += bool(parsed.status & STATUS_LATE)
        return parsed

    def feed(self, data: bytes) -> list[Frame]:
        """Decode ``data`` (any bytes, any split) into frames; never raises."""
        try:
            return self._feed(bytes(data))
        except Exception:  # noqa: BLE001 - defensive: a decoder bug must not stop acquisition
            self._buf.clear()
            self.frames_rejected += 1
            return []

    def _feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        end = self._buf.rfind(0)
        packets: list[DataPacket] = []
        if end >= 0:
            pieces = bytes(self._buf[:end]).split(b"\x00")
            del self._buf[: end + 1]
            for piece in pieces:
                parsed = self._piece(piece)
                if parsed is not None:
                    packets.append(parsed)
        if len(self._buf) > MAX_PIECE:  # no delimiter for too long: garbage, but its tail may be a packet
            cut = len(self._buf) - MAX_PIECE
            self._drop_overlong(cut)
            del self._buf[:cut]
        return self._frames(packets)

    def _frames(self, packets: list[DataPacket]) -> list[Frame]:
        frames: list[Frame] = []
        run: list[DataPacket] = []

        def flush() -> None:
            if not run:
                return
            first = run[0]
            counts = (
                np.concatenate([p.counts for p in run], axis=1) if len(run) > 1 else first.counts
            )
            mid = 1 << (first.adc_bits - 1)
            scale = uv_per_count(first.adc_bits, first.vref_mv, self.gain)
            samples = ((counts.astype(np.float64) - mid) * scale).astype(np.float32)
            aux = np.array([[p.t_us, p.status] for p in run], dtype=np.uint32)
            frames.append(
                Frame(
                    counter=first.seq,
                    counter_modulo=SEQ_MODULO,
                    samples_uv=samples,
                    n_packets=len(run),
                    board_time_ms=first.t_us // 1000,
                    aux=aux,
                )
            )
            run.clear()

        for p in packets:
            if run:
                prev = run[-1]
                same = (
                    p.seq == (prev.seq + 1) % SEQ_MODULO
                    and p.counts.shape == prev.counts.shape
                    and p.adc_bits == prev.adc_bits
                    and p.vref_mv == prev.vref_mv
                )
                if not same:
                    flush()
            run.append(p)
        flush()
        return frames


# -- command handling (mirror of src/emgbridge.c) -----------------------------------------
ACTION_REPLY, ACTION_START, ACTION_STOP = 0x01, 0x02, 0x04


class BridgeCommands:
    """The firmware's command interpreter (``src/emgbridge.c``), byte for byte.

    Parameters
    ----------
    mcu : str
        'atmega328p' (Uno: 10 bits, 5000 mV) or 'esp32' (12 bits, 3300 mV).
    """

    def __init__(self, mcu: str = "atmega328p"):
        if mcu not in MCU_ADC:
            raise ValueError(
                f"Invalid value for 'mcu': allowed are {', '.join(map(repr, MCU_ADC))}, got {mcu!r}."
            )
        self.mcu = mcu
        self.adc_bits, self.vref_mv = MCU_ADC[mcu]
        self.fs_hz = DEFAULT_FS
        self.n_channels = DEFAULT_CHANNELS
        self.streaming = False
        self._line = bytearray()
        self._too_long = False

    def info(self) -> str:
        return (
            f"board=myoware fw={FIRMWARE} proto={VERSION} mcu={self.mcu} fs={self.fs_hz} "
            f"channels={self.n_channels} spf={SAMPLES_PER_PACKET} bits={self.adc_bits} "
            f"vref_mv={self.vref_mv} gain={GAIN} baud={BAUDRATE}"
        )

    def banner(self) -> str:
        return f"READY {self.info()}"

    def feed(self, data: bytes) -> list[tuple[int, str]]:
        """Bytes from the host -> ``[(action bits, reply text), ...]``, one per completed line."""
        out = []
        for c in bytes(data):
            if c in (0x0D, 0x00):
                continue
            if c != 0x0A:
                if len(self._line) < MAX_LINE:
                    self._line.append(c)
                else:
                    self._too_long = True
                continue
            if self._too_long:
                out.append((ACTION_REPLY, "ERR toolong"))
            else:
                action, reply = self._handle(bytes(self._line))
                if action:
                    out.append((action, reply))
            self._line.clear()
            self._too_long = False
        return out

    @staticmethod
    def _number(arg: bytes) -> int:
        if not 1 <= len(arg) <= 5 or any(not 0x30 <= c <= 0x39 for c in arg):
            return -1
        return int(arg)

    def _handle(self, line: bytes) -> tuple[int, str]:
        line = line.strip(b" ")
        if not line:
            return 0, ""
        word, _, arg = line.partition(b" ")
        arg = arg.lstrip(b" ")
        name = word.decode("latin-1")
        if word in (b"id", b"start", b"stop"):
            if arg:
                return ACTION_REPLY, f"ERR syntax {name} takes no argument"
            if word == b"id":
                return ACTION_REPLY, f"OK id {self.info()}"
            if word == b"stop":
                self.streaming = False
                return ACTION_REPLY | ACTION_STOP, "OK stop"
            if self.streaming:
                return ACTION_REPLY, "ERR busy stop first"
            self.streaming = True
            return ACTION_REPLY | ACTION_START, "OK start"
        if word in (b"rate", b"channels"):
            value = self._number(arg)
            if value < 0:
                return (
                    ACTION_REPLY,
                    "ERR syntax rate <hz>" if word == b"rate" else "ERR syntax channels <1-4>",
                )
            if self.streaming:
                return ACTION_REPLY, "ERR busy stop first"
            if word == b"rate":
                if not MIN_FS <= value <= MAX_FS:
                    return ACTION_REPLY, "ERR range rate must be 100-8000 Hz"
                if 1_000_000 % value:
                    return ACTION_REPLY, "ERR range rate must divide 1000000"
                if value * self.n_channels > MAX_CONVERSIONS:
                    return ACTION_REPLY, "ERR range rate x channels must be <= 8000"
                self.fs_hz = value
                return ACTION_REPLY, f"OK rate {value}"
            if not 1 <= value <= MAX_CHANNELS:
                return ACTION_REPLY, "ERR range channels must be 1-4"
            if value * self.fs_hz > MAX_CONVERSIONS:
                return ACTION_REPLY, "ERR range rate x channels must be <= 8000"
            self.n_channels = value
            return ACTION_REPLY, f"OK channels {value}"
        shown = "".join(chr(c) if 0x20 <= c <= 0x7E else "?" for c in word[:16])
        return ACTION_REPLY, f"ERR unknown {shown}"


# -- emulated device ----------------------------------------------------------------------
class MyowareDevice:
    """The bridge firmware as the emulator plays it: MyoWare RAW outputs on A0-A3 of an Uno.

    Parameters
    ----------
    mcu : str
        'atmega328p' (Uno, 10-bit ADC at 5 V) or 'esp32' (12 bits, 3.3 V).
    clock : callable
        Monotonic seconds; the device's ``micros()`` counts from when it was created. Tests
        pass a fixed clock for reproducible time stamps.
    highpass_hz : float or None
        Corner of a first-order high-pass applied to the electrode signal before the ADC, for
        the sensor's AC-coupled RAW output (its band starts near 20 Hz, est.): electrode DC
        offsets in a simulated signal would otherwise push the output into the ADC's rails.
        None feeds the signal through unchanged (tests that check exact counts).
    adc_noise_lsb : float
        RMS noise (ADC counts) added before rounding: the ADC's transition noise and ripple on
        its 5 V USB reference, plus the sensor's own output noise (0.5 count, est.: a real Uno
        reading a MyoWare at rest flickers by a count or two). It dithers the 24.4 µV steps;
        without it a channel whose signal stays within one step reads as a few isolated
        steps, which no real chain produces (and which the detector takes for events).
        0 for exact counts.
    seed : int
        Seed of that noise.

    Notes
    -----
    Like the firmware: replies are text packets, ``start`` resets ``seq`` to 0 and takes the
    first sample's time stamp from the clock, later samples advance it by exactly
    ``1e6 / fs`` µs; ``stop`` drops samples of a packet not yet complete. ``encode`` quantises
    µV to ADC counts (24.41 µV steps on the Uno) and clips to the ADC range, as the real
    chain does. :meth:`boot` gives the banner the firmware sends after a reset.
    """

    board = "myoware"
    baudrate = BAUDRATE
    samples_per_packet = SAMPLES_PER_PACKET

    def __init__(
        self,
        *,
        mcu: str = "atmega328p",
        clock: Callable[[], float] = time.monotonic,
        highpass_hz: float | None = 20.0,
        adc_noise_lsb: float = 0.5,
        seed: int = 0,
    ):
        if not adc_noise_lsb >= 0:
            raise ValueError(f"Invalid value for 'adc_noise_lsb': must be >= 0 counts, got {adc_noise_lsb!r}.")
        self.commands = BridgeCommands(mcu)
        self.highpass_hz = highpass_hz
        self.adc_noise_lsb = float(adc_noise_lsb)
        self._rng = np.random.default_rng(seed)
        if highpass_hz is not None:
            import scipy.signal  # noqa: F401 - import now, not while streaming (it takes seconds cold)
        self._hp_state: tuple[float, np.ndarray, np.ndarray] | None = None  # fs, last x, last y
        self._clock = clock
        self._boot_s = clock()
        self.seq = 0
        self._t_us = 0
        self._pending = np.zeros((self.n_channels, 0), dtype=np.uint16)

    @property
    def fs(self) -> float:
        return float(self.commands.fs_hz)

    @property
    def n_channels(self) -> int:
        return self.commands.n_channels

    @property
    def streaming(self) -> bool:
        return self.commands.streaming

    @property
    def uv_per_count(self) -> float:
        return uv_per_count(self.commands.adc_bits, self.commands.vref_mv)

    def micros(self) -> int:
        """The device clock, µs since boot, wrapping at 2**32 like ``micros()``."""
        return int((self._clock() - self._boot_s) * 1e6) % 2**32

    def boot(self) -> bytes:
        """Wire bytes the firmware sends after a reset (the ``READY`` banner)."""
        return to_wire(build_text_packet(self.commands.banner()))

    def on_host_bytes(self, data: bytes) -> bytes:
        """Answer command lines like the firmware (one text packet per line)."""
        out = bytearray()
        for action, reply in self.commands.feed(data):
            if action & ACTION_STOP:
                self._pending = np.zeros((self.n_channels, 0), dtype=np.uint16)
            if action & ACTION_REPLY:
                out += to_wire(build_text_packet(reply))
            if action & ACTION_START:
                self.seq = 0
                self._t_us = self.micros()
                self._pending = np.zeros((self.n_channels, 0), dtype=np.uint16)
        return bytes(out)

    def _highpass(self, x: np.ndarray) -> np.ndarray:
        """First-order high-pass (bilinear), state carried across calls; starts settled on x[:, 0]."""
        from scipy.signal import lfilter

        fs = self.fs
        k = np.tan(np.pi * self.highpass_hz / fs)
        b = np.array([1.0, -1.0]) / (1.0 + k)
        a = np.array([1.0, (k - 1.0) / (1.0 + k)])
        if (
            self._hp_state is None
            or self._hp_state[0] != fs
            or self._hp_state[1].shape != (x.shape[0],)
        ):
            x_prev, y_prev = (
                x[:, 0].copy(),
                np.zeros(x.shape[0]),
            )  # as if x[:, 0] had always been there
        else:
            x_prev, y_prev = self._hp_state[1], self._hp_state[2]
        zi = (b[1] * x_prev - a[1] * y_prev)[:, None]  # direct form II transposed state
        y, _ = lfilter(b, a, x, axis=1, zi=zi)
        self._hp_state = (fs, x[:, -1].copy(), y[:, -1].copy())
        return y

    def encode(self, samples_uv: np.ndarray) -> list[bytes]:
        """Wire packets for ``samples_uv`` µV ``[n_channels, n]``; a partial packet waits for more."""
        x = np.asarray(samples_uv, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] != self.n_channels:
            raise ValueError(
                f"Invalid value for 'samples_uv': must have shape ({self.n_channels}, n), got {x.shape}."
            )
        if self.highpass_hz is not None and x.shape[1]:
            x = self._highpass(x)
        bits, vref_mv = self.commands.adc_bits, self.commands.vref_mv
        counts = x / self.uv_per_count + (1 << (bits - 1))
        if self.adc_noise_lsb:
            # drawn sample-major, so the noise does not depend on how the signal is chunked
            counts = counts + self.adc_noise_lsb * self._rng.standard_normal(counts.shape[::-1]).T
        counts = np.rint(counts)
        counts = np.clip(counts, 0, (1 << bits) - 1).astype(np.uint16)
        pending = np.concatenate([self._pending, counts], axis=1)
        period_us = 1_000_000 // self.commands.fs_hz
        spf = SAMPLES_PER_PACKET
        packets = []
        n_full = pending.shape[1] // spf
        for k in range(n_full):
            block = pending[:, k * spf : (k + 1) * spf]
            packets.append(
                to_wire(
                    build_data_packet(
                        block, seq=self.seq, t_us=self._t_us, adc_bits=bits, vref_mv=vref_mv
                    )
                )
            )
            self.seq = (self.seq + 1) % SEQ_MODULO
            self._t_us = (self._t_us + spf * period_us) % 2**32
        self._pending = pending[:, n_full * spf :]
        return packets


# -- host handshake -------------------------------------------------------------------------
def _await_reply(link: CommandLink, timeout_s: float, stats: dict[str, int]) -> str | None:
    """The next ``OK``/``ERR`` text reply within ``timeout_s`` (data packets and banners skipped)."""
    decoder = MyowareDecoder()
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        chunk = link.read_until(b"\x00", timeout_s=remaining)
        stats["bytes"] += len(chunk)
        decoder.feed(chunk)
        stats["packets"] += decoder.packets_decoded + len(decoder.replies)
        decoder.packets_decoded = 0
        while decoder.replies:
            reply = decoder.replies.popleft()
            if reply.startswith(("OK ", "ERR ")):
                return reply


def _command(link: CommandLink, port: str, line: str, expect: str, stats: dict[str, int]) -> None:
    link.write(line.encode("ascii") + b"\n")
    reply = _await_reply(link, 1.0, stats)
    if reply is None:
        raise DeviceError(port, f"no reply to '{line}' from the MyoWare bridge within 1 s")
    if reply != expect:
        raise DeviceError(port, f"the MyoWare bridge refused '{line}': {reply}")


def parse_info(text: str) -> dict[str, str]:
    """``key=value`` pairs of an ``OK id ...`` or ``READY ...`` reply."""
    return dict(item.split("=", 1) for item in text.split() if "=" in item)


def handshake(
    link: CommandLink,
    port: str,
    *,
    fs: int = DEFAULT_FS,
    n_channels: int = DEFAULT_CHANNELS,
    timeout_s: float = 4.0,
) -> str:
    """Stop, identify (``id`` repeated until ``OK id`` or ``timeout_s``), set rate and channels, start.

    Raises
    ------
    DeviceError
        Naming ``port``, when no reply comes within ``timeout_s`` (the Uno's bootloader needs
        up to about 1 s after the port opens), the reply is not from a MyoWare bridge of
        protocol 1, or the bridge refuses the settings.
    """
    stats = {"bytes": 0, "packets": 0}
    link.write(b"stop\n")
    stats["bytes"] += len(link.drain(quiet_s=0.05, timeout_s=0.3))
    deadline = time.monotonic() + timeout_s
    reply = None
    while reply is None or not reply.startswith("OK id"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            if stats["bytes"] and not stats["packets"]:
                raise DeviceError(
                    port,
                    f"{stats['bytes']} bytes arrived in {timeout_s:g} s but no valid "
                    "MyoWare bridge packet: wrong board or baud rate (needs 500000)?",
                )
            if reply is not None:
                raise DeviceError(port, f"the MyoWare bridge did not identify itself: {reply}")
            raise DeviceError(
                port,
                f"no MyoWare bridge reply within {timeout_s:g} s: wrong board, port or baud rate?",
            )
        link.write(b"id\n")
        reply = _await_reply(link, min(0.6, remaining), stats)
    info = parse_info(reply)
    if info.get("board") != "myoware" or info.get("proto") != str(VERSION):
        raise DeviceError(port, f"not a MyoWare bridge of protocol {VERSION}: {reply[:80]!r}")
    _command(link, port, f"rate {fs}", f"OK rate {fs}", stats)
    _command(link, port, f"channels {n_channels}", f"OK channels {n_channels}", stats)
    link.write(b"start\n")
    return f"MyoWare bridge fw={info.get('fw', '?')} mcu={info.get('mcu', '?')} {n_channels} ch x {fs} Hz"


# Arduino Uno (genuine, Genuino, clones' 16U2), CH340 and CP210x USB-serial bridges.
_USB_IDS = (
    (0x2341, 0x0043),
    (0x2341, 0x0001),
    (0x2341, 0x0243),
    (0x2A03, 0x0043),
    (0x1A86, 0x7523),
    (0x10C4, 0xEA60),
)

BOARD_SPECS = {
    "myoware": BoardSpec(
        name="myoware",
        fs=float(DEFAULT_FS),
        channel_names=tuple(f"A{i}" for i in range(DEFAULT_CHANNELS)),
        baudrate=BAUDRATE,
        samples_per_packet=SAMPLES_PER_PACKET,
        counter_modulo=SEQ_MODULO,
        usb_ids=_USB_IDS,
        make_decoder=MyowareDecoder,
        make_device=MyowareDevice,
        handshake=handshake,
        stop_command=b"stop\n",
    ),
}
