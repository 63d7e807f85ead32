"""The pseudo-terminal emulator: commands, streaming, faults (host side with plain pyserial)."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import serial

from emg.devices.cyton import BANNER, CytonDecoder
from emg.devices.emulator import Emulator


def _read_for(ser, seconds: float) -> bytes:
    end = time.monotonic() + seconds
    buf = bytearray()
    while time.monotonic() < end:
        buf += ser.read(max(1, ser.in_waiting))
    return bytes(buf)


def _signal(n_channels: int) -> np.ndarray:
    return np.zeros((n_channels, 1000), np.float32)


def test_banner_and_streaming_on_a_pty(tmp_path):
    link = str(tmp_path / "ttyEMU")
    with Emulator("cyton", link=link, signal=_signal(8)) as emu:
        assert emu.port == link and os.path.islink(link)
        with serial.Serial(link, 115200, timeout=0.05) as ser:
            ser.write(b"v")
            reply = _read_for(ser, 0.3)
            assert reply.decode() == BANNER
            ser.write(b"b")
            data = _read_for(ser, 0.5)
            ser.write(b"s")
        dec = CytonDecoder()
        frames = dec.feed(data)
        n = sum(f.n_samples for f in frames)
        assert 50 < n < 250  # ~0.5 s at 250 Hz, loosely: this is not a timing test
        assert dec.bytes_discarded == 0
        assert emu.stats.packets_sent >= n


def test_drops_and_garbage_are_counted(tmp_path):
    with Emulator("cyton", link=str(tmp_path / "t"), signal=_signal(8), drop_every=4, garbage_every=3) as emu:
        with serial.Serial(emu.port, 115200, timeout=0.05) as ser:
            ser.write(b"b")
            data = _read_for(ser, 0.5)
            ser.write(b"s")
            time.sleep(0.05)
            data += _read_for(ser, 0.1)
        s = emu.stats
        dec = CytonDecoder()
        frames = dec.feed(data)
        counters = [(f.counter + i) % 256 for f in frames for i in range(f.n_packets)]
        assert s.packets_dropped > 10 and s.garbage_bytes > 0
        assert s.packets_dropped == s.units_dropped
        # every 4th packet never reached the host: the counter shows exactly those holes
        sent_packets = len(counters)
        assert sent_packets == pytest.approx(s.packets_sent, abs=1)
        assert dec.bytes_discarded == s.garbage_bytes
        # packets 4, 8, ... (sample numbers 3, 7, ...) are the dropped ones, and only those
        assert all(c % 4 != 3 for c in counters)
        assert set(np.diff(counters) % 256) == {1, 2}


def test_unplug_closes_and_replug_reappears_at_the_same_path(tmp_path):
    link = str(tmp_path / "dev")
    with Emulator("cyton", link=link, signal=_signal(8)) as emu:
        ser = serial.Serial(link, 115200, timeout=0.05)
        ser.write(b"b")
        assert _read_for(ser, 0.2)
        emu.unplug()
        assert not os.path.lexists(link)
        with pytest.raises((serial.SerialException, OSError)):
            _read_for(ser, 0.3)
        ser.close()
        emu.replug()
        assert os.path.islink(link)
        with serial.Serial(link, 115200, timeout=0.05) as ser2:
            ser2.write(b"v")
            assert _read_for(ser2, 0.3).endswith(b"$$$")
        assert emu.stats.unplugs == 1


def test_wrong_baud_rate_gives_garbage(tmp_path):
    with Emulator("cyton", link=str(tmp_path / "t"), signal=_signal(8)) as emu:
        with serial.Serial(emu.port, 9600, timeout=0.05) as ser:
            ser.write(b"v")
            reply = _read_for(ser, 0.3)
        assert len(reply) == len(BANNER) and b"$$$" not in reply


def test_stall_skips_samples(tmp_path):
    with Emulator("cyton", link=str(tmp_path / "t"), signal=_signal(8)) as emu:
        with serial.Serial(emu.port, 115200, timeout=0.05) as ser:
            ser.write(b"b")
            _read_for(ser, 0.1)
            emu.stall(0.4)
            _read_for(ser, 0.6)
        assert emu.stats.samples_skipped == pytest.approx(100, abs=15)  # 0.4 s at 250 Hz


def test_invalid_arguments(tmp_path):
    with pytest.raises(ValueError, match="Invalid value for 'drop_every'"):
        Emulator("cyton", link=str(tmp_path / "a"), drop_every=-1, signal=_signal(8))
    with pytest.raises(ValueError, match="Invalid value for 'signal'"):
        Emulator("cyton", link=str(tmp_path / "b"), signal=np.zeros((3, 10)))
    with pytest.raises(ValueError, match="Invalid value for 'board'"):
        Emulator("ganglion")
