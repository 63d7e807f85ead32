"""Sensors on a serial port: wire protocols, the transport, the emulator and the live source.

Data flows one way::

    serial port --(transport: reader thread, emg.devices.serial)--> bytes
    bytes --(decoder: pure, no I/O, one per board)--> Frame
    Frame --(emg.devices.stream.LiveSource)--> emg.types.Chunk (µV, real time slots, gaps)

Three small protocols tie the boards to the shared machinery. A board module
(``emg.devices.cyton``, ``emg.devices.myoware``) implements all three and publishes a
``BOARD_SPECS: dict[str, BoardSpec]``; :func:`board_spec` finds it by board name.

**Decoder** (device bytes -> frames), see :class:`Decoder`:
    ``feed(data: bytes) -> list[Frame]`` never raises on any input; bytes it cannot use are
    counted in ``bytes_discarded``, candidate frames that fail a check (footer, CRC, length)
    in ``frames_rejected``. ``host_sent(data: bytes)`` is told every command the host wrote
    (the Cyton decoder tracks gain changes from ``x...X``; others may ignore it).

**Device model** (what the emulator drives), see :class:`DeviceModel`:
    ``board``, ``fs`` (Hz, the rate the host sees), ``n_channels``, ``baudrate``;
    ``on_host_bytes(data) -> bytes`` answers commands and tracks ``streaming``;
    ``encode(samples_uv[n_channels, n]) -> list[bytes]`` gives the wire packets for ``n``
    samples, advancing the sequence counter; ``samples_per_packet`` says how many samples
    (per channel) one packet carries, so the emulator paces ``fs / samples_per_packet``
    packets per second.

**Handshake** (host side, before streaming), see :class:`BoardSpec.handshake`:
    ``handshake(link: CommandLink, port: str) -> str`` stops any running stream, checks the
    board's identity (raising :class:`emg.errors.DeviceError` naming ``port`` with a one-line
    cause within a few seconds when nothing or the wrong thing answers), applies settings,
    starts streaming and returns the identity text. ``stop_command`` is written on close.

Frames carry the wire sequence counter so the live source can count lost packets:
``counter`` counts *packets* modulo ``counter_modulo`` and advances by one per packet; a
frame may bundle ``n_packets`` consecutive packets (the next frame then starts at
``counter + n_packets``). Each packet holds ``samples_per_packet`` samples per channel, so
``samples_uv.shape[1] == n_packets * spec.samples_per_packet``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = [
    "BOARDS",
    "BoardSpec",
    "CommandLink",
    "Decoder",
    "DeviceModel",
    "Frame",
    "board_spec",
]

#: Board names accepted by ``--board`` and :func:`board_spec`.
BOARDS = ("cyton", "cyton-daisy", "myoware")

# board name -> module that publishes its BoardSpec in ``BOARD_SPECS``
_BOARD_MODULES = {"cyton": "emg.devices.cyton", "cyton-daisy": "emg.devices.cyton", "myoware": "emg.devices.myoware"}


@dataclass(frozen=True, eq=False)
class Frame:
    """Samples decoded from one or more consecutive wire packets.

    Parameters
    ----------
    counter : int
        Sequence number of the first packet, as on the wire (Daisy: the pair index), in
        ``[0, counter_modulo)``.
    counter_modulo : int
        Where the counter wraps (256 for Cyton, 128 pairs for Cyton+Daisy).
    samples_uv : ndarray, float32, shape (n_channels, n_samples)
        Samples in µV, oldest first.
    n_packets : int
        How many consecutive packets (counter values) this frame covers.
    board_time_ms : int or None
        Board clock of the first packet in ms, when the wire carries one.
    aux : ndarray or None
        Board-specific extra data (Cyton: accelerometer counts ``[3, n_packets]``).
    """

    counter: int
    counter_modulo: int
    samples_uv: np.ndarray
    n_packets: int = 1
    board_time_ms: int | None = None
    aux: np.ndarray | None = field(default=None)

    @property
    def n_samples(self) -> int:
        return int(self.samples_uv.shape[1])


@runtime_checkable
class Decoder(Protocol):
    """Pure bytes -> frames decoder (no I/O). ``feed`` must never raise."""

    bytes_discarded: int
    frames_rejected: int

    def feed(self, data: bytes) -> list[Frame]: ...

    def host_sent(self, data: bytes) -> None: ...


@runtime_checkable
class DeviceModel(Protocol):
    """The board as the emulator plays it: answers commands, encodes samples to packets."""

    board: str
    fs: float
    n_channels: int
    baudrate: int
    samples_per_packet: int

    @property
    def streaming(self) -> bool: ...

    def on_host_bytes(self, data: bytes) -> bytes: ...

    def encode(self, samples_uv: np.ndarray) -> list[bytes]: ...


class CommandLink(Protocol):
    """What a handshake may do with the port (synchronous, before the reader thread runs)."""

    def write(self, data: bytes) -> None:
        """Send bytes to the board (and tell the decoder via ``host_sent``)."""

    def read_until(self, terminator: bytes, timeout_s: float) -> bytes:
        """Bytes up to and including ``terminator``, or all read when ``timeout_s`` ran out."""

    def drain(self, quiet_s: float = 0.05, timeout_s: float = 1.0) -> bytes:
        """Read and return whatever arrives until the line is quiet for ``quiet_s``."""


@dataclass(frozen=True)
class BoardSpec:
    """Everything the shared machinery needs to know about one board type.

    Parameters
    ----------
    name : str
        One of :data:`BOARDS`.
    fs : float
        Sample rate the host sees, Hz.
    channel_names : tuple of str
        One name per channel.
    baudrate : int
        Serial speed the board talks at.
    samples_per_packet : int
        Samples per channel in one wire packet.
    counter_modulo : int
        Where ``Frame.counter`` wraps.
    usb_ids : tuple of (vid, pid)
        USB ids that ``--port auto`` looks for.
    make_decoder : callable
        ``make_decoder() -> Decoder``.
    make_device : callable
        ``make_device() -> DeviceModel`` for the emulator.
    handshake : callable
        ``handshake(link: CommandLink, port: str) -> str`` (see module docstring).
    stop_command : bytes
        Written to stop streaming on close.
    """

    name: str
    fs: float
    channel_names: tuple[str, ...]
    baudrate: int
    samples_per_packet: int
    counter_modulo: int
    usb_ids: tuple[tuple[int, int], ...]
    make_decoder: Callable[[], Decoder]
    make_device: Callable[[], DeviceModel]
    handshake: Callable[[CommandLink, str], str]
    stop_command: bytes = b""

    @property
    def n_channels(self) -> int:
        return len(self.channel_names)

    @property
    def packet_rate(self) -> float:
        """Packets per second on the wire."""
        return self.fs / self.samples_per_packet


def board_spec(board: str) -> BoardSpec:
    """The :class:`BoardSpec` of ``board`` ('cyton', 'cyton-daisy' or 'myoware')."""
    if board not in _BOARD_MODULES:
        raise ValueError(f"Invalid value for 'board': allowed are {', '.join(map(repr, BOARDS))}, got {board!r}.")
    module = importlib.import_module(_BOARD_MODULES[board])
    return module.BOARD_SPECS[board]
