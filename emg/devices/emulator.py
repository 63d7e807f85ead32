"""A virtual sensor on a pseudo-terminal: the real serial path, tested without hardware.

The :class:`Emulator` opens a pty pair, points a symlink (``port``) at the slave side and
plays a board's :class:`~emg.devices.DeviceModel` on the master side from a background
thread: it answers the host's commands and, while the board is streaming, writes packets
at the board's real rate, paced by the monotonic clock. Faults can be injected:

- ``drop_every=N``: every N-th wire packet is not sent (the board's counter still advances);
- ``garbage_every=N``: random bytes, with fake headers and footers, before every N-th packet;
- :meth:`Emulator.stall`: the board goes silent for a while (its packets are lost);
- :meth:`Emulator.unplug` / :meth:`Emulator.replug`: the pty is closed (the host's reads fail)
  and later a new one appears at the same ``port`` path;
- a host that opens the port at the wrong baud rate receives garbled bytes, as from a UART.

Examples
--------
>>> with Emulator("cyton", seconds=1.0) as emu:        # doctest: +SKIP
...     print(emu.port)                                 # e.g. /tmp/emg-emu-x1y2/cyton
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import tempfile
import termios
import threading
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import DeviceModel, board_spec

__all__ = ["Emulator", "EmulatorStats", "emulated_signal"]


@dataclass
class EmulatorStats:
    """What the emulator did (counts since start)."""

    packets_sent: int = 0
    packets_dropped: int = 0  # by ``drop_every``
    units_dropped: int = 0  # counter units (samples/packets the host counts) hit by a drop
    packets_overflowed: int = 0  # the host was not reading and the pty buffer was full
    garbage_bytes: int = 0
    samples_sent: int = 0
    samples_skipped: int = 0  # while stalled or unplugged
    unplugs: int = 0


def emulated_signal(board: str, *, scenario: str = "clean", seconds: float = 60.0, seed: int = 0,
                    fs: float | None = None, n_channels: int | None = None) -> np.ndarray:
    """Simulated rest sEMG (µV, float32 ``[n_channels, n]``) for ``board``, looped by the emulator.

    Uses :func:`emg.simulate.simulate` when it is available, otherwise Gaussian noise
    (5 µV RMS) with biphasic 10 ms spikes (100-400 µV) at 0.3/s per channel.
    """
    spec = board_spec(board)
    fs = spec.fs if fs is None else fs
    n_channels = spec.n_channels if n_channels is None else n_channels
    try:
        from emg.simulate import simulate
    except ImportError:  # pragma: no cover - the simulator ships with emg
        simulate = None
    if simulate is not None:
        recording, _truth = simulate(scenario, minutes=seconds / 60.0, fs=fs, channels=n_channels, seed=seed)
        return np.asarray(recording.data, dtype=np.float32)
    rng = np.random.default_rng(seed)
    n = int(round(seconds * fs))
    data = rng.normal(0.0, 5.0, size=(n_channels, n))
    t = np.arange(int(0.010 * fs) + 1) / fs
    shape = np.sin(2 * np.pi * t / 0.010) * np.hanning(len(t))
    for ch in range(n_channels):
        for onset in np.flatnonzero(rng.random(n) < 0.3 / fs):
            seg = data[ch, onset : onset + len(shape)]
            seg += rng.uniform(50, 200) * shape[: len(seg)]
    return data.astype(np.float32)


def _termios_speed(baudrate: int) -> int | None:
    return getattr(termios, f"B{baudrate}", None)


class Emulator:
    """A board on a pseudo-terminal, run by a background thread.

    Parameters
    ----------
    board : str
        'cyton', 'cyton-daisy' or 'myoware'.
    link : str or None
        Path of the symlink to the pty slave (the "device path"); a temporary one when None.
    seconds : float or None
        Stop streaming after this many seconds of emulation (None: until :meth:`stop`).
    drop_every, garbage_every : int
        Fault injection (0: off), counted in wire packets.
    scenario : str
        Simulator scenario for the signal.
    seed : int
        Seed of the signal and of the garbage bytes.
    signal : ndarray or None
        µV ``[n_channels, n]`` to loop instead of the simulated signal (tests use a ramp).
    loop_s : float
        Length of the simulated signal, looped (s).
    tick_s : float
        How often the thread wakes to write what is due (bigger: burstier, like the FTDI
        latency timer's 16 ms).
    device : DeviceModel or None
        A ready device model (default: the board spec's).
    on_write : callable or None
        ``on_write(first_sample, n_samples, t_monotonic)`` after each write, for latency tests.
    """

    def __init__(self, board: str, *, link: str | None = None, seconds: float | None = None,
                 drop_every: int = 0, garbage_every: int = 0, scenario: str = "clean", seed: int = 0,
                 signal: np.ndarray | None = None, loop_s: float = 30.0, tick_s: float = 0.004,
                 device: DeviceModel | None = None,
                 on_write: Callable[[int, int, float], None] | None = None):
        for name, value in (("drop_every", drop_every), ("garbage_every", garbage_every)):
            if value < 0:
                raise ValueError(f"Invalid value for '{name}': must be >= 0 packets, got {value!r}.")
        self.spec = board_spec(board)
        self.board = board
        self.device = device if device is not None else self.spec.make_device()
        self.seconds = seconds
        self.drop_every = int(drop_every)
        self.garbage_every = int(garbage_every)
        self.tick_s = float(tick_s)
        self.on_write = on_write
        self._rng = np.random.default_rng(seed + 1)
        if signal is None:
            signal = emulated_signal(board, scenario=scenario, seconds=loop_s, seed=seed,
                                     fs=self.device.fs, n_channels=self.device.n_channels)
        self.signal = np.asarray(signal, dtype=np.float64)
        if self.signal.ndim != 2 or self.signal.shape[0] != self.device.n_channels:
            raise ValueError(
                f"Invalid value for 'signal': must have shape ({self.device.n_channels}, n), got {self.signal.shape}."
            )
        self._tmpdir = None
        if link is None:
            self._tmpdir = tempfile.mkdtemp(prefix="emg-emu-")
            link = os.path.join(self._tmpdir, board)
        self.port = os.path.abspath(link)
        self.stats = EmulatorStats()
        self._lock = threading.Lock()
        self._master: int | None = None
        self._slave: int | None = None
        self._stall_until = 0.0
        self._unplugged = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._packet_count = 0
        self.started_at: float | None = None
        self.next_sample = 0  # index into the (looped) signal of the next sample to send
        self._open_pty()

    # -- pty ---------------------------------------------------------------------------------
    def _open_pty(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        attrs = termios.tcgetattr(slave)
        speed = _termios_speed(self.device.baudrate) or termios.B115200
        attrs[4] = attrs[5] = speed
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        flags = fcntl.fcntl(master, fcntl.F_GETFL)
        fcntl.fcntl(master, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        self._master, self._slave = master, slave
        tmp = f"{self.port}.{os.getpid()}.tmp"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(os.ttyname(slave), tmp)
        os.replace(tmp, self.port)  # atomic: the "same device" reappears at the same path

    def _close_pty(self) -> None:
        for fd in (self._master, self._slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = None
        try:
            if os.path.islink(self.port):
                os.unlink(self.port)
        except OSError:
            pass

    def _baud_ok(self) -> bool:
        """Whether the host set the line to the board's baud rate (else it would read garbage)."""
        try:
            ispeed = termios.tcgetattr(self._slave)[4]
        except (termios.error, TypeError):
            return True
        expected = _termios_speed(self.device.baudrate)
        return expected is None or ispeed == expected

    def _pending_for_host(self) -> int:
        try:
            raw = fcntl.ioctl(self._slave, termios.FIONREAD, b"\0\0\0\0")
            return int.from_bytes(raw, "little")
        except (OSError, TypeError):
            return 0

    # -- faults -------------------------------------------------------------------------------
    def stall(self, seconds: float) -> None:
        """Go silent for ``seconds`` (the board's packets in that time are lost)."""
        with self._lock:
            self._stall_until = time.monotonic() + float(seconds)

    def unplug(self) -> None:
        """Close the pty (after the host has read what was already sent): reads fail, the path goes."""
        with self._lock:  # hold the writer off first, or a packet sent while we wait dies in the pty
            deadline = time.monotonic() + 0.5
            while self._pending_for_host() > 0 and time.monotonic() < deadline:
                time.sleep(0.005)
            self._unplugged = True
            self.stats.unplugs += 1
            self._close_pty()

    def replug(self) -> None:
        """A new pty at the same ``port`` path; the board model keeps its state."""
        with self._lock:
            if self._unplugged:
                self._open_pty()
                self._unplugged = False

    # -- running ------------------------------------------------------------------------------
    def start(self) -> Emulator:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"emg-emulator-{self.board}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        with self._lock:
            self._close_pty()
        if self._tmpdir is not None:
            try:
                os.rmdir(self._tmpdir)
            except OSError:
                pass

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the emulator stops (``seconds`` elapsed or :meth:`stop`); True if it did."""
        if self._thread is None:
            return True
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _write(self, data: bytes) -> bool:
        """Write all of ``data`` or nothing (a full pty buffer loses the packet, like a UART)."""
        if self._master is None:
            return False
        if not self._baud_ok():
            data = self._rng.integers(0, 256, len(data), dtype=np.uint8).tobytes()
        try:
            written = os.write(self._master, data)
        except BlockingIOError:
            return False
        except OSError as exc:
            if exc.errno in (errno.EIO, errno.EBADF):
                return False
            raise
        if written < len(data):  # partial write: finish it (rare; the buffer is almost full)
            rest = data[written:]
            deadline = time.monotonic() + 0.05
            while rest and time.monotonic() < deadline:
                try:
                    rest = rest[os.write(self._master, rest):]
                except BlockingIOError:
                    time.sleep(0.001)
                except OSError:
                    return False
        return True

    def _garbage(self) -> bytes:
        n = int(self._rng.integers(1, 48))
        junk = self._rng.integers(0, 256, n, dtype=np.uint8)
        junk[self._rng.random(n) < 0.15] = 0xA0  # fake headers
        junk[self._rng.random(n) < 0.15] = 0xC0  # fake footers
        return junk.tobytes()

    def _send_samples(self, first: int, n: int) -> None:
        spp = getattr(self.device, "samples_per_packet", 1)
        n_total = self.signal.shape[1]
        idx = np.arange(first, first + n) % n_total
        samples = self.signal[:, idx]
        for u in range(0, n - n % spp, spp):
            packets = self.device.encode(samples[:, u : u + spp])
            unit_dropped = False
            for packet in packets:
                self._packet_count += 1
                if self.garbage_every and self._packet_count % self.garbage_every == 0:
                    junk = self._garbage()
                    if self._write(junk):
                        self.stats.garbage_bytes += len(junk)
                if self.drop_every and self._packet_count % self.drop_every == 0:
                    self.stats.packets_dropped += 1
                    unit_dropped = True
                    continue
                if self._write(packet):
                    self.stats.packets_sent += 1
                else:
                    self.stats.packets_overflowed += 1
            self.stats.units_dropped += unit_dropped
            self.stats.samples_sent += spp
        if self.on_write is not None:
            self.on_write(first, n, time.monotonic())

    def _run(self) -> None:
        fs = float(self.device.fs)
        spp = getattr(self.device, "samples_per_packet", 1)
        t0 = time.monotonic()
        self.started_at = t0
        streaming_since: int | None = None
        while not self._stop.is_set():
            now = time.monotonic()
            if self.seconds is not None and now - t0 >= self.seconds:
                break
            with self._lock:
                master = self._master
            if master is not None:
                try:
                    ready, _, _ = select.select([master], [], [], self.tick_s)
                except (OSError, ValueError):
                    ready = []
                if ready:
                    with self._lock:
                        try:
                            data = os.read(master, 4096) if self._master == master else b""
                        except OSError:
                            data = b""
                        if data:
                            reply = self.device.on_host_bytes(data)
                            if reply:
                                self._write(reply)
            else:
                time.sleep(self.tick_s)
            now = time.monotonic()
            due = int((now - t0) * fs)
            due -= (due - self.next_sample) % spp  # whole packets only
            with self._lock:
                if not self.device.streaming:
                    streaming_since = None
                    self.next_sample = due
                    continue
                if streaming_since is None:
                    streaming_since = due
                    self.next_sample = due
                n = due - self.next_sample
                if n <= 0:
                    continue
                if self._unplugged or now < self._stall_until:
                    self.stats.samples_skipped += n
                    # the board keeps counting while nobody hears it
                    self.device.encode(self.signal[:, np.arange(self.next_sample, due) % self.signal.shape[1]])
                else:
                    self._send_samples(self.next_sample, n)
                self.next_sample = due
        self._stop.set()

    def run_forever(self, *, on_tick: Callable[[Emulator], None] | None = None, interval_s: float = 1.0) -> None:
        """Run in the foreground until ``seconds`` elapsed or KeyboardInterrupt."""
        self.start()
        try:
            while not self.wait(interval_s):
                if on_tick is not None:
                    on_tick(self)
        finally:
            self.stop()
