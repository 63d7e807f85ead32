"""Serial transport: port discovery, handshake errors, watchdog and reconnection events."""

from __future__ import annotations

import re
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from emg.devices import board_spec
from emg.devices.emulator import Emulator
from emg.devices.serial import Protocol, SerialTransport, find_port, latency_hint
from emg.devices.stream import LiveSource
from emg.errors import DeviceError


def _port(device, vid=None, pid=None):
    return SimpleNamespace(device=device, vid=vid, pid=pid)


def test_find_port_by_usb_id():
    ports = [_port("/dev/ttyS0"), _port("/dev/ttyUSB0", 0x0403, 0x6015), _port("/dev/ttyACM0", 0x2341, 0x0043)]
    assert find_port("cyton", ports) == "/dev/ttyUSB0"
    assert find_port("cyton-daisy", ports) == "/dev/ttyUSB0"
    with pytest.raises(DeviceError, match=r"^auto: no serial port with USB id 0403:6015 for board 'cyton'"):
        find_port("cyton", [_port("/dev/ttyS0")])
    two = ports + [_port("/dev/ttyUSB1", 0x0403, 0x6015)]
    with pytest.raises(DeviceError, match=r"several ports could be a 'cyton' \(/dev/ttyUSB0, /dev/ttyUSB1\)"):
        find_port("cyton", two)


def test_latency_hint_only_for_real_ftdi_ports(tmp_path):
    assert latency_hint(str(tmp_path / "ttyNOPE")) is None
    sysfs = tmp_path / "sys"
    (sysfs / "ttyUSB0").mkdir(parents=True)
    (sysfs / "ttyUSB0" / "latency_timer").write_text("16\n")
    hint = latency_hint("/dev/ttyUSB0", sysfs=str(sysfs))
    assert hint.startswith("/dev/ttyUSB0: FTDI latency timer is 16 ms") and "echo 1 | sudo tee" in hint
    (sysfs / "ttyUSB0" / "latency_timer").write_text("1\n")
    assert latency_hint("/dev/ttyUSB0", sysfs=str(sysfs)) is None


def test_missing_port_is_a_one_line_error(tmp_path):
    missing = str(tmp_path / "ttyUSB9")
    with pytest.raises(DeviceError, match=r"ttyUSB9: cannot open serial port: no such device") as info:
        LiveSource("cyton", missing).open()
    assert "\n" not in str(info.value)


def _signal(n: int) -> np.ndarray:
    return np.zeros((n, 500), np.float32)


def test_wrong_baud_rate_fails_clearly_within_5_s(tmp_path):
    with Emulator("cyton", link=str(tmp_path / "t"), signal=_signal(8)) as emu:
        t0 = time.monotonic()
        with pytest.raises(DeviceError, match=r"no OpenBCI banner within 3 s: wrong board, port or baud rate\?"):
            LiveSource("cyton", emu.port, baudrate=9600).open()
        assert time.monotonic() - t0 < 5.0


def test_wrong_board_type_fails_clearly_within_5_s(tmp_path):
    with Emulator("cyton", link=str(tmp_path / "t"), signal=_signal(8)) as emu:
        t0 = time.monotonic()
        with pytest.raises(DeviceError, match=r"^.*/t: --board cyton-daisy, but the board reports no Daisy"):
            LiveSource("cyton-daisy", emu.port).open()
        assert time.monotonic() - t0 < 5.0


class _Recorder(Protocol):
    def __init__(self):
        self.events = []
        self.bytes = 0
        self.lock = threading.Lock()

    def connection_made(self, transport, identity, t_host):
        self.events.append(("made", identity))

    def data_received(self, data, t_host):
        self.bytes += len(data)

    def connection_lost(self, exc, t_host):
        self.events.append(("lost", type(exc).__name__ if exc else None))

    def stalled(self, silent_s, t_host):
        self.events.append(("stalled", round(silent_s, 1)))


def test_transport_reports_stall_then_reconnects_on_silence(tmp_path):
    with Emulator("cyton", link=str(tmp_path / "t"), signal=_signal(8)) as emu:
        proto = _Recorder()
        tr = SerialTransport(board_spec("cyton"), emu.port, proto, stall_s=0.3, reconnect_after_s=0.8)
        tr.open()
        try:
            time.sleep(0.3)
            emu.stall(1.2)
            time.sleep(1.8)
            kinds = [e[0] for e in proto.events]
            assert kinds[:4] == ["made", "stalled", "lost", "made"]
            assert proto.events[0][1].startswith("OpenBCI V3")
            assert tr.reconnects == 1
        finally:
            tr.close()


def test_transport_survives_unplug_and_reports_it(tmp_path):
    with Emulator("cyton", link=str(tmp_path / "t"), signal=_signal(8)) as emu:
        proto = _Recorder()
        tr = SerialTransport(board_spec("cyton"), emu.port, proto)
        tr.open()
        try:
            time.sleep(0.2)
            emu.unplug()
            time.sleep(0.3)
            emu.replug()
            deadline = time.monotonic() + 3
            while tr.reconnects == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert [e[0] for e in proto.events] == ["made", "lost", "made"]
            assert proto.events[1][1] in ("SerialException", "OSError")  # read or in_waiting failed
            before = proto.bytes
            time.sleep(0.2)
            assert proto.bytes > before  # streaming again
        finally:
            tr.close()


def test_reconnect_gives_up_after_timeout(tmp_path):
    emu = Emulator("cyton", link=str(tmp_path / "t"), signal=_signal(8)).start()
    src = LiveSource("cyton", emu.port, reconnect_timeout_s=0.5).open()
    try:
        emu.unplug()
        with pytest.raises(DeviceError, match=r"gone for more than 0.5 s, gave up"):
            for _ in src:
                pass
    finally:
        src.close()
        emu.stop()


@pytest.mark.parametrize("device, host, message", [
    ("myoware", "cyton", "no OpenBCI banner within 3 s: wrong board, port or baud rate?"),
    ("cyton", "myoware", "no valid MyoWare bridge packet: wrong board or baud rate"),
])
def test_other_board_on_the_port_fails_clearly_within_5_s(tmp_path, device, host, message):
    pytest.importorskip("emg.devices.myoware")
    n_channels = 4 if device == "myoware" else 8
    with Emulator(device, link=str(tmp_path / "t"), signal=_signal(n_channels)) as emu:
        t0 = time.monotonic()
        with pytest.raises(DeviceError, match=re.escape(message)) as info:
            LiveSource(host, emu.port).open()
        assert time.monotonic() - t0 < 5.0
    assert str(info.value).startswith(emu.port)
