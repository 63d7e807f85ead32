"""Slot clock: a burst of frames read at once (a late reader) is never counted as a wrap loss."""

from __future__ import annotations

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
