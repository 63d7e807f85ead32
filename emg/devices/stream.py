"""Frames -> :class:`emg.types.Chunk` in real time slots, with loss accounting and gaps.

How a consumer (``emg stream``, ``emg demo``, a notebook) uses it::

    from emg.devices.stream import LiveSource

    with LiveSource("cyton-daisy", "/dev/ttyUSB0", seconds=60) as source:
        print(source.fs, source.channel_names, source.start)    # known once open
        for chunk in source:               # blocks; ends after `seconds` or source.stop()
            detector.process(chunk)        # chunk.data µV [ch, n]; chunk.valid False in gaps
            recorder.write(chunk.data)
        print(source.stats.packets_lost, source.stats.gaps)

Every slot of the board's sample clock appears exactly once, in order:
``chunk.first_sample`` continues from the previous chunk. Lost packets are never
interpolated: their slots hold 0 µV with ``valid`` False, and ``stats.gaps`` lists them as
``(start_s, duration_s)`` from ``source.start``. Each chunk also carries the gaps that
begin inside it in ``source.new_gaps`` (cleared on the next read) so a recorder can
annotate them as they happen. ``stop()`` may be called from any thread (a signal handler).

Loss is counted from the packet counter; a loss longer than one counter wrap (about 1 s
for the Cyton) is recovered from the host arrival time: of the candidate counts
``delta + k * modulo`` the one closest to the elapsed time is taken. Frames read together
get the read's time less the samples behind them, and when arrival time still says a
whole wrap was lost the frames are held for 0.25 s and re-timed by the frames behind them,
so a late backlog (a burst after the handshake, a reader or an emulator thread held up by
an import or a compile, delivered over several 4 kB reads) is never taken for a wrap. After a reconnection
the counter means nothing, so the gap is the elapsed host time.
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from ..errors import DeviceError
from ..types import Chunk
from . import BoardSpec, Frame, board_spec
from .serial import Protocol, SerialTransport, find_port

__all__ = ["LiveSource", "LiveStats", "SlotClock", "open_stream"]


@dataclass
class LiveStats:
    """Live counters of one acquisition (a snapshot: copy it with ``dataclasses.replace``)."""

    samples: int = 0  # time slots delivered, including gap slots
    packets_received: int = 0  # counter units (Cyton packets, Daisy pairs, MyoWare frames)
    packets_lost: int = 0
    gaps: list[tuple[float, float]] = field(default_factory=list)
    reconnects: int = 0
    stalls: int = 0
    bytes_received: int = 0
    bytes_discarded: int = 0
    frames_rejected: int = 0
    connected: bool = False
    identity: str = ""

    @property
    def loss_fraction(self) -> float:
        total = self.packets_received + self.packets_lost
        return self.packets_lost / total if total else 0.0


class SlotClock:
    """Assigns frames to sample slots: counter continuity, wraps from arrival time, resyncs.

    Parameters
    ----------
    fs : float
        Sample rate, Hz.
    samples_per_packet : int
        Samples per channel in one counter unit.
    """

    def __init__(self, fs: float, samples_per_packet: int):
        self.fs = float(fs)
        self.spp = int(samples_per_packet)
        self.next_slot = 0
        self._expected_counter: int | None = None
        self._offset: float | None = None  # host time of slot 0 (minimum-latency estimate)
        self._last_t = 0.0
        self._resync = True

    def resync(self) -> None:
        """The next frame starts a new session (after a reconnection): its counter means nothing."""
        self._resync = True

    @property
    def resyncing(self) -> bool:
        """Whether the next frame must be placed from arrival time alone (see :meth:`resync_missing`)."""
        return self._resync and self._offset is not None

    def resync_missing(self, items: list[tuple[Frame, float]]) -> int:
        """Packets missing before the first of ``items`` (frames after a reconnection, with arrival times).

        Each frame's arrival bounds where the session's first sample can be; the frame that
        arrived with the least delay gives the tightest bound, so a few frames are used
        rather than the first one alone.
        """
        best = float("inf")
        rel, end_counter = 0, None
        for frame, t_host in items:
            if end_counter is not None:
                rel += ((frame.counter - end_counter) % frame.counter_modulo) * self.spp
            rel += frame.n_samples
            end_counter = (frame.counter + frame.n_packets) % frame.counter_modulo
            best = min(best, (t_host - self._offset) * self.fs - self.next_slot - rel)
        return max(0, round(best / self.spp))

    def lost_wraps(self, frame: Frame, t_host: float) -> int:
        """Whole counter wraps that arrival time alone would add before ``frame`` (see :meth:`place`).

        0 while the counter decides (the usual case). More than 0 is either a real loss longer
        than a wrap or a frame that reached the host late (the device, or the host's reader,
        held up): :class:`LiveSource` then waits for the frames behind it before deciding.
        """
        if self._offset is None or self._resync or self._expected_counter is None:
            return 0
        by_time = (t_host - self._offset) * self.fs - self.next_slot - frame.n_samples
        m = frame.counter_modulo
        delta = (frame.counter - self._expected_counter) % m
        return max(0, int(round((by_time / self.spp - delta) / m)))

    def place(self, frame: Frame, t_host: float, missing: int | None = None) -> int | None:
        """Packets missing before ``frame`` (>= 0), or None to drop a duplicate/stale frame.

        ``missing`` forces the count (after a reconnection, from :meth:`resync_missing`).
        """
        n = frame.n_samples
        if missing is not None:
            pass
        elif self._offset is None:
            missing = 0
            self._offset = t_host - n / self.fs
        else:
            # slots the host clock says have passed by the end of this frame
            by_time = (t_host - self._offset) * self.fs - self.next_slot - n
            if self._resync or self._expected_counter is None:
                missing = max(0, int(round(by_time / self.spp)))
            else:
                m = frame.counter_modulo
                delta = (frame.counter - self._expected_counter) % m
                k = int(round((by_time / self.spp - delta) / m))
                missing = delta + max(k, 0) * m
                if delta > m // 2 and by_time / self.spp < delta - m // 4:
                    return None  # counter went backwards: a duplicate or stale frame
        if self._offset is None:
            self._offset = t_host - n / self.fs
        self._resync = False
        self._expected_counter = (frame.counter + frame.n_packets) % frame.counter_modulo
        self.next_slot += missing * self.spp + n
        # track the minimum latency, forgetting slowly (1 ms/s) so clock drift is followed
        leak = 1e-3 * max(0.0, t_host - self._last_t)
        self._offset = min(self._offset + leak, t_host - self.next_slot / self.fs)
        self._last_t = t_host
        return missing


class _QueueProtocol(Protocol):
    """Decodes on the reader thread and queues ``(kind, t_host, payload)`` for the consumer."""

    def __init__(self, q: queue.Queue):
        self.q = q
        self.transport: SerialTransport | None = None
        self.bytes_received = 0
        self._old_discarded = 0
        self._old_rejected = 0
        self._decoder = None

    def connection_made(self, transport, identity, t_host):
        if self._decoder is not None and self._decoder is not transport.decoder:
            self._old_discarded += self._decoder.bytes_discarded
            self._old_rejected += self._decoder.frames_rejected
        self.transport = transport
        self._decoder = transport.decoder
        self.q.put(("made", t_host, identity))

    def data_received(self, data, t_host):
        self.bytes_received += len(data)
        frames = self._decoder.feed(data)
        if frames:
            self.q.put(("frames", t_host, frames))

    def connection_lost(self, exc, t_host):
        self.q.put(("lost", t_host, exc))

    def stalled(self, silent_s, t_host):
        self.q.put(("stalled", t_host, silent_s))

    @property
    def bytes_discarded(self) -> int:
        return self._old_discarded + (self._decoder.bytes_discarded if self._decoder else 0)

    @property
    def frames_rejected(self) -> int:
        return self._old_rejected + (self._decoder.frames_rejected if self._decoder else 0)


class LiveSource:
    """A board on a serial port as a stream of :class:`~emg.types.Chunk` (see module docstring).

    Parameters
    ----------
    board : str
        'cyton', 'cyton-daisy' or 'myoware'.
    port : str
        Serial device path, or 'auto' to pick it by USB VID:PID.
    seconds : float or None
        Stop after this many seconds of slots (None: until :meth:`stop`).
    baudrate : int or None
        Override the board's baud rate.
    stall_s, reconnect_after_s, reconnect_timeout_s : float
        Watchdog settings of :class:`~emg.devices.serial.SerialTransport`.

    Notes
    -----
    After a reconnection, or when arrival time says a whole counter wrap was lost, frames
    are held for ``resync_window_s`` (0.25 s) so the gap can be sized from the least-delayed
    of them (a late backlog arrives within that window and shows itself as no loss): that
    much extra latency, once per such event.
    """

    resync_window_s = 0.25

    def __init__(self, board: str, port: str, *, seconds: float | None = None, baudrate: int | None = None,
                 stall_s: float = 1.0, reconnect_after_s: float = 3.0, reconnect_timeout_s: float | None = None):
        self.spec: BoardSpec = board_spec(board)
        self.port = find_port(self.spec) if port == "auto" else port
        self.seconds = seconds
        self.fs = self.spec.fs
        self.channel_names = self.spec.channel_names
        self.n_channels = self.spec.n_channels
        self.start: dt.datetime | None = None
        self.stats = LiveStats()
        self.new_gaps: list[tuple[float, float]] = []
        self._q: queue.Queue = queue.Queue()
        self._protocol = _QueueProtocol(self._q)
        self._clock = SlotClock(self.spec.fs, self.spec.samples_per_packet)
        self._transport = SerialTransport(
            self.spec, self.port, self._protocol, decoder_factory=self.spec.make_decoder, baudrate=baudrate,
            stall_s=stall_s, reconnect_after_s=reconnect_after_s, reconnect_timeout_s=reconnect_timeout_s,
        )
        self._held: list[tuple[Frame, float]] = []
        self._held_since = self._held_until = 0.0  # arrival times of the first and last held read
        self._stop = threading.Event()
        self._limit = None if seconds is None else int(round(seconds * self.fs))
        self._opened = False

    # -- lifecycle ----------------------------------------------------------------------------
    def open(self) -> LiveSource:
        """Handshake and start reading; DeviceError (one line naming the port) when the board fails."""
        self._transport.open()
        self._opened = True
        self.stats.connected = True
        self.stats.identity = self._transport.identity
        return self

    def close(self) -> None:
        """Stop the board and the reader thread; close the port. Idempotent."""
        self._stop.set()
        if self._opened:
            self._transport.close()
            self._opened = False

    def stop(self) -> None:
        """Make iteration end after the current read (thread- and signal-safe)."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set() or (self._limit is not None and self.stats.samples >= self._limit)

    def __enter__(self) -> LiveSource:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def transport(self) -> SerialTransport:
        return self._transport

    def write(self, command: bytes) -> None:
        """Send a board command while streaming (e.g. a Cyton ``x...X`` gain change)."""
        self._transport.write(command)

    # -- reading ------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Chunk]:
        while not self.stopped:
            chunk = self.read(timeout_s=0.1)
            if chunk is not None:
                yield chunk
            elif self._transport.error is not None:
                raise self._transport.error
            elif not self._transport.alive and self._q.empty():
                raise DeviceError(self.port, "the serial reader stopped")

    def read(self, timeout_s: float = 0.1) -> Chunk | None:
        """All samples that arrived (waiting up to ``timeout_s`` for the first), or None."""
        self.new_gaps = []
        try:
            items = [self._q.get(timeout=timeout_s)]
        except queue.Empty:
            items = []
        while items:
            try:
                items.append(self._q.get_nowait())
            except queue.Empty:
                break
        first = self.stats.samples
        parts: list[np.ndarray] = []
        valid: list[np.ndarray] = []
        for kind, t_host, payload in items:
            if kind == "frames":
                done_by = _completion_bounds(payload, t_host, self.fs, self.spec.samples_per_packet)
                for frame, t_done in zip(payload, done_by, strict=True):
                    if self._clock.resyncing or self._held or self._clock.lost_wraps(frame, t_done):
                        if not self._held:
                            self._held_since = t_host  # arrival of the read that started holding
                        self._held_until = t_host
                        self._held.append((frame, t_done))
                    else:
                        self._add_frame(frame, t_done, parts, valid)
            elif kind in ("made", "lost"):
                self._release_held(parts, valid)
                self.stats.connected = kind == "made"
                if kind == "made":
                    self.stats.identity = str(payload)
                    if self.start is not None:
                        self.stats.reconnects += 1
                        self._clock.resync()
            elif kind == "stalled":
                self.stats.stalls += 1
        now = max(self._held_until, time.monotonic())
        if self._held and (now - self._held_since >= self.resync_window_s or self._stop.is_set()):
            self._release_held(parts, valid)
        self.stats.bytes_received = self._protocol.bytes_received
        self.stats.bytes_discarded = self._protocol.bytes_discarded
        self.stats.frames_rejected = self._protocol.frames_rejected
        if not parts:
            return None
        data = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
        ok = np.concatenate(valid) if len(valid) > 1 else valid[0]
        return Chunk(data, first_sample=first, fs=self.fs, valid=ok)

    def _release_held(self, parts: list, valid: list) -> None:
        """Place the frames held after a reconnection: the gap from their best arrival time."""
        if not self._held:
            return
        held, self._held = _refine_bounds(self._held, self.fs, self.spec.samples_per_packet), []
        missing = self._clock.resync_missing(held) if self._clock.resyncing else None
        self._add_frame(*held[0], parts, valid, missing=missing)
        for frame, t_done in held[1:]:
            self._add_frame(frame, t_done, parts, valid)

    def _add_frame(self, frame: Frame, t_host: float, parts: list, valid: list, missing: int | None = None) -> None:
        if self.start is None:
            wall = time.time() - (time.monotonic() - t_host) - frame.n_samples / self.fs
            self.start = dt.datetime.fromtimestamp(wall, tz=dt.UTC).astimezone()
        missing = self._clock.place(frame, t_host, missing)
        if missing is None:
            return
        spp = self.spec.samples_per_packet
        room = None if self._limit is None else self._limit - self.stats.samples  # `seconds` reached?
        if missing:
            n_gap = missing * spp if room is None else min(missing * spp, room)
            if n_gap <= 0:
                return
            gap = (self.stats.samples / self.fs, n_gap / self.fs)
            self.stats.gaps.append(gap)
            self.new_gaps.append(gap)
            self.stats.packets_lost += -(-n_gap // spp)
            parts.append(np.zeros((self.n_channels, n_gap), np.float32))
            valid.append(np.zeros(n_gap, bool))
            self.stats.samples += n_gap
            room = None if room is None else room - n_gap
        samples = frame.samples_uv
        if room is not None and samples.shape[1] > room:
            samples = samples[:, : max(room, 0)]
        if samples.shape[1] == 0:
            return
        parts.append(samples)
        valid.append(np.ones(samples.shape[1], bool))
        self.stats.samples += samples.shape[1]
        self.stats.packets_received += -(-samples.shape[1] // spp)


def _completion_bounds(frames: list[Frame], t_host: float, fs: float, spp: int) -> list[float]:
    """Latest host time (s) by which each of ``frames``, read together at ``t_host``, was complete.

    All frames of one read share its arrival time, but the samples behind a frame (the
    frames after it in the same read, and the packets their counters say were lost between
    them) were all sampled by ``t_host`` too, so frame j ended at most that long before.
    Without this, a late read (the reader thread held up for longer than half a counter
    wrap) made its first frame look that late and the clock counted a whole wrap as lost.
    Counter steps inside a read count below one wrap each, and not at all when they look
    backwards (over half a wrap): a lower bound, so the result stays an upper bound.
    """
    times = [0.0] * len(frames)
    later = 0  # samples sampled after the end of frame j, within this read
    for j in range(len(frames) - 1, -1, -1):
        times[j] = t_host - later / fs
        if j:
            prev, frame = frames[j - 1], frames[j]
            step = (frame.counter - prev.counter - prev.n_packets) % frame.counter_modulo
            later += frame.n_samples + (step * spp if step < frame.counter_modulo // 2 else 0)  # not a backward step
    return times


def _refine_bounds(held: list[tuple[Frame, float]], fs: float, spp: int) -> list[tuple[Frame, float]]:
    """Completion bounds across reads: a frame ended at least the samples behind it before any later arrival.

    A device (or an emulator) held up, or a reader capped at 4 kB per read, delivers a
    backlog over several reads in quick succession; the last of them bounds them all.
    Counter steps count as in :func:`_completion_bounds`.
    """
    out = list(held)
    for j in range(len(out) - 2, -1, -1):
        frame, t_done = out[j]
        nxt, t_next = out[j + 1]
        step = (nxt.counter - frame.counter - frame.n_packets) % nxt.counter_modulo
        behind = nxt.n_samples + (step * spp if step < nxt.counter_modulo // 2 else 0)
        out[j] = (frame, min(t_done, t_next - behind / fs))
    return out


def open_stream(board: str, port: str, **kwargs) -> LiveSource:
    """Open a :class:`LiveSource` (handshake done); use it as a context manager or close it."""
    return LiveSource(board, port, **kwargs).open()
