"""The serial transport: a reader thread that owns the port, separate from the protocol object.

As in pyserial's ``threaded`` module, the transport only moves bytes: it opens the port,
runs the board's handshake, reads with host time stamps and hands each block to a
:class:`Protocol` (``connection_made``, ``data_received``, ``connection_lost``). It also
watches the line: no bytes for ``stall_s`` is reported as a stall; no bytes for
``reconnect_after_s``, or a read error (an unplugged device), closes the port and reopens
the *same path* until the device is back (the handshake runs again).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Sequence

from ..errors import DeviceError
from . import BoardSpec, Decoder

__all__ = ["Protocol", "SerialLink", "SerialTransport", "find_port", "latency_hint", "open_serial"]


class Protocol:
    """Receives what the transport reads; override the methods you need (all run on its thread)."""

    def connection_made(self, transport: SerialTransport, identity: str, t_host: float) -> None:
        """The port is open and the handshake succeeded (again, after a reconnect)."""

    def data_received(self, data: bytes, t_host: float) -> None:
        """``data`` was read at ``t_host`` (``time.monotonic()``, s)."""

    def connection_lost(self, exc: BaseException | None, t_host: float) -> None:
        """The port failed or went silent; the transport will try to reopen it."""

    def stalled(self, silent_s: float, t_host: float) -> None:
        """No bytes for ``silent_s`` seconds (called once per stall)."""


def find_port(board: str | BoardSpec, ports: Sequence | None = None) -> str:
    """The one serial port whose USB VID:PID matches ``board`` (for ``--port auto``).

    Raises
    ------
    DeviceError
        When no port or several match.
    """
    from . import board_spec

    spec = board if isinstance(board, BoardSpec) else board_spec(board)
    if ports is None:
        from serial.tools import list_ports

        ports = list(list_ports.comports())
    wanted = set(spec.usb_ids)
    found = [p for p in ports if (getattr(p, "vid", None), getattr(p, "pid", None)) in wanted]
    ids = ", ".join(f"{v:04X}:{p:04X}" for v, p in spec.usb_ids)
    if not found:
        raise DeviceError("auto", f"no serial port with USB id {ids} for board '{spec.name}': plug it in or pass --port")
    if len(found) > 1:
        names = ", ".join(sorted(p.device for p in found))
        raise DeviceError("auto", f"several ports could be a '{spec.name}' ({names}): pass one with --port")
    return found[0].device


def latency_hint(port: str, *, sysfs: str = "/sys/bus/usb-serial/devices") -> str | None:
    """On Linux, advice when the FTDI latency timer of ``port`` is 16 ms (bursty data)."""
    if not sys.platform.startswith("linux"):
        return None
    name = os.path.basename(os.path.realpath(port))
    path = f"{sysfs}/{name}/latency_timer"
    try:
        with open(path) as fh:
            value = int(fh.read().strip())
    except (OSError, ValueError):
        return None
    if value >= 16:
        return (f"{port}: FTDI latency timer is {value} ms, data arrive in bursts; "
                f"for lower latency run: echo 1 | sudo tee {path}")
    return None


def open_serial(port: str, baudrate: int):
    """Open ``port`` at ``baudrate`` 8-N-1 with short read time-outs; DeviceError on failure."""
    import serial

    try:
        return serial.Serial(port, baudrate=baudrate, timeout=0.02, write_timeout=1.0)
    except (serial.SerialException, OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        if isinstance(exc, FileNotFoundError) or "No such file" in str(exc):
            reason = "no such device (unplugged, or the wrong port?)"
        raise DeviceError(port, f"cannot open serial port: {reason}") from None


class SerialLink:
    """A :class:`~emg.devices.CommandLink` over an open pyserial port (used by handshakes)."""

    def __init__(self, ser, decoder: Decoder | None = None):
        self.ser = ser
        self.decoder = decoder

    def write(self, data: bytes) -> None:
        self.ser.write(data)
        self.ser.flush()
        if self.decoder is not None:
            self.decoder.host_sent(data)

    def read_until(self, terminator: bytes, timeout_s: float) -> bytes:
        deadline = time.monotonic() + timeout_s
        buf = bytearray()
        while time.monotonic() < deadline:
            chunk = self.ser.read(max(1, self.ser.in_waiting))
            if chunk:
                buf += chunk
                i = buf.find(terminator)
                if i >= 0:
                    return bytes(buf[: i + len(terminator)])
        return bytes(buf)

    def drain(self, quiet_s: float = 0.05, timeout_s: float = 1.0) -> bytes:
        deadline = time.monotonic() + timeout_s
        buf = bytearray()
        last = time.monotonic()
        while time.monotonic() < deadline:
            chunk = self.ser.read(max(1, self.ser.in_waiting))
            now = time.monotonic()
            if chunk:
                buf += chunk
                last = now
            elif now - last >= quiet_s:
                break
        return bytes(buf)


class SerialTransport:
    """Owns the serial port of one board: handshake, reader thread, watchdog, reconnection.

    Parameters
    ----------
    spec : BoardSpec
        The board (its baud rate, handshake and stop command).
    port : str
        Device path; reconnection reopens this same path (a stable symlink such as
        ``/dev/serial/by-id/...`` survives re-enumeration).
    protocol : Protocol
        Receives bytes and connection events.
    decoder_factory : callable or None
        ``decoder_factory() -> Decoder`` whose ``host_sent`` the handshake feeds; called on
        every (re)connection, result available as ``transport.decoder``.
    baudrate : int or None
        Override the board's baud rate (for testing a wrong one).
    stall_s, reconnect_after_s : float
        Silence (s) reported as a stall, and silence after which the port is reopened.
    reconnect_timeout_s : float or None
        Give up reconnecting after this long (None: keep trying until stopped).
    read_interval_s : float
        After a read that returned data, wait this long before the next one so bytes arrive
        in blocks (like the FTDI latency timer): fewer wake-ups, at most this much latency.
    """

    def __init__(self, spec: BoardSpec, port: str, protocol: Protocol, *, decoder_factory=None,
                 baudrate: int | None = None, stall_s: float = 1.0, reconnect_after_s: float = 3.0,
                 reconnect_timeout_s: float | None = None, read_interval_s: float = 0.02):
        self.spec = spec
        self.read_interval_s = float(read_interval_s)
        self.port = port
        self.protocol = protocol
        self.decoder_factory = decoder_factory
        self.baudrate = int(baudrate or spec.baudrate)
        self.stall_s = stall_s
        self.reconnect_after_s = reconnect_after_s
        self.reconnect_timeout_s = reconnect_timeout_s
        self.decoder: Decoder | None = None
        self.identity = ""
        self.reconnects = 0
        self.error: BaseException | None = None
        self._ser = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- connection ---------------------------------------------------------------------------
    def _connect(self) -> None:
        """Open the port and run the handshake; DeviceError (one line, naming the port) on failure."""
        ser = open_serial(self.port, self.baudrate)
        try:
            ser.reset_input_buffer()
            self.decoder = self.decoder_factory() if self.decoder_factory else None
            identity = self.spec.handshake(SerialLink(ser, self.decoder), self.port)
        except DeviceError:
            ser.close()
            raise
        except Exception as exc:  # noqa: BLE001 - pyserial raises several types on a dying port
            ser.close()
            raise DeviceError(self.port, f"handshake failed: {exc}") from None
        self._ser = ser
        self.identity = identity
        self.protocol.connection_made(self, identity, time.monotonic())

    def open(self) -> SerialTransport:
        """Connect (in the calling thread, so errors reach the caller) and start reading."""
        self._connect()
        self._thread = threading.Thread(target=self._run, name=f"emg-serial-{self.spec.name}", daemon=True)
        self._thread.start()
        return self

    def _close_port(self) -> None:
        ser, self._ser = self._ser, None
        if ser is not None:
            try:
                ser.close()
            except Exception:  # noqa: BLE001, S110 - closing a dead port may fail
                pass

    def close(self) -> None:
        """Stop streaming (best effort), stop the thread and close the port."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        ser = self._ser
        if ser is not None and self.spec.stop_command:
            try:
                ser.write(self.spec.stop_command)
                ser.flush()
            except Exception:  # noqa: BLE001, S110 - the port may already be gone
                pass
        self._close_port()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def write(self, data: bytes) -> None:
        """Send a command while streaming (the decoder is told, e.g. for gain changes)."""
        ser = self._ser
        if ser is None:
            raise DeviceError(self.port, "not connected")
        ser.write(data)
        if self.decoder is not None:
            self.decoder.host_sent(data)

    # -- reader thread --------------------------------------------------------------------------
    def _reconnect(self, exc: BaseException | None) -> bool:
        self._close_port()
        self.protocol.connection_lost(exc, time.monotonic())
        started = time.monotonic()
        while not self._stop.is_set():
            if self.reconnect_timeout_s is not None and time.monotonic() - started > self.reconnect_timeout_s:
                self.error = DeviceError(self.port, f"gone for more than {self.reconnect_timeout_s:g} s, gave up")
                return False
            try:
                self._connect()
            except DeviceError:
                self._stop.wait(0.1)
                continue
            self.reconnects += 1
            return True
        return False

    def _run(self) -> None:
        try:
            self._read_loop()
        except Exception as exc:  # noqa: BLE001 - report, never die silently
            self.error = DeviceError(self.port, f"serial reader stopped: {type(exc).__name__}: {exc}")

    def _read_loop(self) -> None:
        last_data = time.monotonic()
        stalled = False
        while not self._stop.is_set():
            ser = self._ser
            try:
                data = ser.read(max(1, ser.in_waiting))
            except Exception as exc:  # noqa: BLE001 - SerialException, OSError, TypeError on close
                if self._stop.is_set():
                    break
                if not self._reconnect(exc):
                    break
                last_data, stalled = time.monotonic(), False
                continue
            now = time.monotonic()
            if data:
                last_data, stalled = now, False
                self.protocol.data_received(data, now)
                if self.read_interval_s > 0:
                    self._stop.wait(self.read_interval_s)
                continue
            silent = now - last_data
            if silent >= self.stall_s and not stalled:
                stalled = True
                self.protocol.stalled(silent, now)
            if silent >= self.reconnect_after_s:
                if not self._reconnect(None):
                    break
                last_data, stalled = time.monotonic(), False
