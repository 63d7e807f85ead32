"""Slot clock: a burst of frames read at once (a late reader) is never counted as a wrap loss."""

from __future__ import annotations

import time

import numpy as np

from emg.devices import Frame
from emg.devices.stream import LiveSource


def _frames(first: int, n: int, modulo: int = 256) -> list[Frame]:
    return [Frame(counter=(first + i) % modulo, counter_modulo=modulo,
                  samples_uv=np.full((8, 1), first + i, np.float32)) for i in range(n)]


def _source() -> LiveSource:
    return LiveSource("cyton", "/nonexistent/tty")  # never opened: frames are queued by hand


def _drain(src: LiveSource) -> None:
    while src.read(timeout_s=0.0) is not None:
        pass


def test_late_burst_after_start_is_not_a_wrap_loss():
    """Frames flow at 250 Hz in 20 ms reads; then the reader is late by 0.7 s (GIL held by an
    import or a Numba compile) and reads 175 frames at once: 0.7 s > half a counter wrap
    (0.512 s), which the arrival time of the whole block used to turn into 256 lost packets."""
    src = _source()
    t, slot = 100.0, 0
    for _ in range(10):  # 0.2 s of regular 5-frame reads
        slot += 5
        src._q.put(("frames", t + slot / 250, _frames(slot - 5, 5)))
    slot += 175
    src._q.put(("frames", t + slot / 250 + 0.003, _frames(slot - 175, 175)))
    for _ in range(10):
        slot += 5
        src._q.put(("frames", t + slot / 250 + 0.001, _frames(slot - 5, 5)))
    _drain(src)
    assert src.stats.packets_lost == 0
    assert src.stats.samples == slot == 275
    assert src.stats.gaps == []


def test_first_read_burst_then_real_loss_longer_than_a_wrap_is_still_counted():
    """A start-up burst (the first read holds 0.8 s of frames), then a real loss of 300 packets
    (more than one wrap): the loss is counted exactly from arrival time."""
    src = _source()
    t, slot = 50.0, 200
    src._q.put(("frames", t + slot / 250, _frames(0, 200)))
    for _ in range(5):
        slot += 5
        src._q.put(("frames", t + slot / 250 + 0.002, _frames(slot - 5, 5)))
    slot += 300  # lost on the wire
    for _ in range(5):
        slot += 5
        src._q.put(("frames", t + slot / 250 + 0.002, _frames(slot - 5, 5)))
    _drain(src)
    assert src.stats.packets_lost == 300
    assert src.stats.samples == slot
    assert len(src.stats.gaps) == 1
    assert abs(src.stats.gaps[0][0] - 225 / 250) < 1e-9 and abs(src.stats.gaps[0][1] - 300 / 250) < 1e-9


def test_late_burst_containing_a_counter_jump_counts_only_the_jump():
    """A late 0.7 s burst with 3 packets lost inside it: 3 lost, not 3 + 256."""
    src = _source()
    t, slot = 10.0, 0
    for _ in range(5):
        slot += 5
        src._q.put(("frames", t + slot / 250, _frames(slot - 5, 5)))
    burst = _frames(slot, 80) + _frames(slot + 83, 92)
    slot += 175
    src._q.put(("frames", t + slot / 250, burst))
    _drain(src)
    assert src.stats.packets_lost == 3
    assert src.stats.samples == slot


def _fed_one_read_at_a_time(reads: list[tuple[float, list[Frame]]]) -> LiveSource:
    """The consumer keeps up: each read is processed before the next arrives (host times in the
    future of the monotonic clock, so only arrival times decide when held frames are released)."""
    src = _source()
    for t_host, frames in reads:
        src._q.put(("frames", t_host, frames))
        _drain(src)
    return src


def test_late_backlog_over_several_reads_is_not_a_wrap_loss():
    """A device (the emulator, its thread held up with the reader's) 0.9 s late: its backlog
    reaches the host over four reads (the first holding only 39 frames, the tty passing at most
    4 kB at a time) while the consumer keeps up; it used to count 256 lost packets."""
    t0, slot, reads = time.monotonic() + 1000.0, 0, []
    for _ in range(5):
        slot += 5
        reads.append((t0 + slot / 250, _frames(slot - 5, 5)))
    t = t0 + slot / 250 + 0.9
    for n, dt in ((39, 0.0), (66, 0.1), (124, 0.02), (34, 0.02)):  # 263 frames, caught up at +0.14 s
        reads.append((t + dt, _frames(slot, n)))
        slot, t = slot + n, t + dt
    for _ in range(20):
        slot += 5
        reads.append((t0 + slot / 250 + 0.002, _frames(slot - 5, 5)))
    src = _fed_one_read_at_a_time(reads)
    assert src.stats.packets_lost == 0
    assert src.stats.samples == slot


def test_real_loss_longer_than_a_wrap_is_counted_when_reads_come_one_at_a_time():
    t0, slot, reads = time.monotonic() + 1000.0, 0, []
    for _ in range(10):
        slot += 5
        reads.append((t0 + slot / 250, _frames(slot - 5, 5)))
    slot += 300  # lost on the wire
    for _ in range(30):  # 0.6 s of regular reads: longer than the 0.25 s look-ahead
        slot += 5
        reads.append((t0 + slot / 250 + 0.003, _frames(slot - 5, 5)))
    src = _fed_one_read_at_a_time(reads)
    assert src.stats.packets_lost == 300
    assert src.stats.samples == slot
    assert src.stats.gaps == [(50 / 250, 300 / 250)]
