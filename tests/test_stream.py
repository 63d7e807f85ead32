"""Reliability of the live path against the emulator on pseudo-terminals.

Channel 0 (and the first Daisy channel) carries a ramp: sample i of the emulator is
i ADC counts, so every received value says which emulator time slot it came from. A
recording keeps real time slots exactly when ``ramp value - slot index`` is constant.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emg.devices import Frame
from emg.devices.cyton import uv_per_count
from emg.devices.emulator import Emulator
from emg.devices.stream import LiveSource, SlotClock

SCALE = uv_per_count(24)


def _ramp(n_channels: int, n: int = 100_000) -> np.ndarray:
    sig = np.zeros((n_channels, n), np.float64)
    sig[0] = np.arange(n) * SCALE
    if n_channels == 16:
        sig[8] = np.arange(n) * SCALE
    return sig


def _collect(source) -> tuple[np.ndarray, np.ndarray]:
    data, valid, first = [], [], 0
    for chunk in source:
        assert chunk.first_sample == first  # every slot exactly once, in order
        first += chunk.n_samples
        data.append(chunk.data)
        valid.append(chunk.valid)
    return np.concatenate(data, axis=1), np.concatenate(valid)


def _slot_offsets(data: np.ndarray, valid: np.ndarray, channel: int = 0) -> np.ndarray:
    """Emulator sample index minus slot index for each valid slot."""
    idx = np.rint(data[channel] / SCALE).astype(np.int64)
    return idx[valid] - np.flatnonzero(valid)


@pytest.mark.parametrize("board, drop_every, spacing", [("cyton", 10, {10}), ("cyton-daisy", 7, {3, 4})])
def test_injected_drops_are_counted_exactly_in_real_time_slots(tmp_path, board, drop_every, spacing):
    n_ch = 16 if board == "cyton-daisy" else 8
    with Emulator(board, link=str(tmp_path / "t"), signal=_ramp(n_ch), drop_every=drop_every) as emu:
        with LiveSource(board, emu.port, seconds=2.0) as src:
            data, valid = _collect(src)
    fs = src.fs
    assert data.shape == (n_ch, int(2.0 * fs))
    # every valid slot holds the emulator sample of that time slot
    for ch in ([0, 8] if n_ch == 16 else [0]):
        assert np.unique(_slot_offsets(data, valid, ch)).size == 1
    lost = np.flatnonzero(~valid)
    assert set(np.diff(lost).tolist()) == spacing  # exactly the dropped packets, nothing else
    assert src.stats.packets_lost == len(lost) > 10
    assert (data[:, ~valid] == 0).all()  # never interpolated
    # one gap annotation per lost packet, at its slot
    assert src.stats.gaps == [(pytest.approx(i / fs), pytest.approx(1 / fs)) for i in lost]


def test_garbage_loses_nothing(tmp_path):
    with Emulator("cyton", link=str(tmp_path / "t"), signal=_ramp(8), garbage_every=5) as emu:
        with LiveSource("cyton", emu.port, seconds=1.5) as src:
            data, valid = _collect(src)
    assert valid.all() and src.stats.packets_lost == 0
    assert np.unique(_slot_offsets(data, valid)).size == 1
    assert src.stats.bytes_discarded > 100


@pytest.mark.parametrize("board", ["cyton", "cyton-daisy"])
def test_stall_longer_than_a_counter_wrap_keeps_time_slots(tmp_path, board):
    n_ch = 16 if board == "cyton-daisy" else 8
    with Emulator(board, link=str(tmp_path / "t"), signal=_ramp(n_ch)) as emu:
        with LiveSource(board, emu.port, seconds=4.0) as src:
            threading.Timer(0.5, emu.stall, args=(2.3,)).start()
            data, valid = _collect(src)
    fs = src.fs
    # 2.3 s is more than two wraps of the sample counter: recovered from arrival time
    assert np.unique(_slot_offsets(data, valid)).size == 1
    assert len(src.stats.gaps) == 1
    _start_s, duration_s = src.stats.gaps[0]
    assert duration_s == pytest.approx(emu.stats.samples_skipped / fs)
    assert duration_s == pytest.approx(2.3, abs=0.2)  # the emulator thread ticks late under load
    assert src.stats.reconnects == 0


def test_unplug_replug_resumes_within_2_s_and_loses_nothing_before(tmp_path):
    marks = {}
    with Emulator("cyton", link=str(tmp_path / "ttyUSB0"), signal=_ramp(8)) as emu:
        src = LiveSource("cyton", emu.port).open()

        def faults():
            time.sleep(1.0)
            emu.unplug()
            marks["sent_before"] = emu.stats.samples_sent
            time.sleep(1.0)
            marks["replug"] = time.monotonic()
            emu.replug()
            time.sleep(2.0)
            src.stop()

        threading.Thread(target=faults, daemon=True).start()
        data, valid, first_after = [], [], None
        try:
            for chunk in src:
                data.append(chunk.data)
                valid.append(chunk.valid)
                if "replug" in marks and first_after is None and src.stats.reconnects and chunk.valid.any():
                    first_after = time.monotonic()
        finally:
            src.close()
    data, valid = np.concatenate(data, axis=1), np.concatenate(valid)
    assert src.stats.reconnects == 1
    assert first_after is not None and first_after - marks["replug"] < 2.0
    assert len(src.stats.gaps) == 1
    start_s, duration_s = src.stats.gaps[0]
    gap_start = round(start_s * src.fs)
    # nothing before the gap is lost: every sample sent before the unplug is there, in order
    assert valid[:gap_start].all() and gap_start == marks["sent_before"]
    offsets = _slot_offsets(data, valid)
    before, after = offsets[:gap_start], offsets[gap_start:]
    assert np.unique(before).size == 1 and np.unique(after).size == 1
    # after reconnection the slots come from host arrival times (the least delayed of the
    # first 0.25 s): within 2 slots (8 ms); measured 0 here
    assert abs(int(after[0]) - int(before[0])) <= 2
    assert duration_s == pytest.approx(1.0, abs=0.6)


def _emg(*args: str, **kwargs) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-c", "import sys; from emg.cli import main; sys.exit(main())", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, **kwargs)


def _wait_for(path, timeout_s: float = 15.0, min_size: int = 1) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if os.path.exists(path) and os.path.getsize(path) >= min_size:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} did not appear")


def test_sigkill_of_stream_record_keeps_all_but_the_last_second(tmp_path):
    mne = pytest.importorskip("mne")
    bdf = tmp_path / "rec.bdf"
    with Emulator("cyton", link=str(tmp_path / "t"), signal=_ramp(8)) as emu:
        proc = _emg("stream", "--board", "cyton", "--port", emu.port, "--record", str(bdf))
        try:
            _wait_for(bdf, min_size=256 * 10 + 1)  # header (8 channels + annotations) and a record
            t0 = time.monotonic()
            time.sleep(3.2)
            elapsed = time.monotonic() - t0
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=5)
        finally:
            if proc.poll() is None:
                proc.kill()
    raw = mne.io.read_raw_bdf(bdf, preload=True, verbose="error")
    n = raw.n_times
    # all but the last second (records are 1 s): the first record plus what came in the
    # `elapsed` seconds after it, less the last partial second and 0.5 s of scheduling slack
    # on this shared machine
    assert n >= (1 + elapsed - 1.0 - 0.5) * 250 and n % 250 == 0
    idx = np.rint(raw.get_data()[0] * 1e6 / SCALE).astype(np.int64)
    assert (np.diff(idx) == 1).all()  # contiguous, exact counts
    sidecar = json.loads((tmp_path / "rec.json").read_text())
    assert sidecar["board"] == "cyton" and sidecar["fs"] == 250.0


def test_sigterm_stops_cleanly_and_closes_the_file(tmp_path):
    mne = pytest.importorskip("mne")
    bdf = tmp_path / "rec.bdf"
    with Emulator("cyton", link=str(tmp_path / "t"), signal=_ramp(8), drop_every=50) as emu:
        proc = _emg("stream", "--board", "cyton", "--port", emu.port, "--record", str(bdf))
        _wait_for(bdf)
        time.sleep(1.5)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "packets lost" in out and err == ""
    sidecar = json.loads((tmp_path / "rec.json").read_text())
    raw = mne.io.read_raw_bdf(bdf, verbose="error")
    assert sidecar["samples"] == raw.n_times or raw.n_times - sidecar["samples"] < 250
    # one 4 ms gap per lost packet (close() may add one for the zero padding of the last record)
    lost = [g for g in sidecar["gaps"] if g[1] == pytest.approx(0.004)]
    assert sidecar["packets_lost"] >= 5 and len(lost) == sidecar["packets_lost"]
    gaps = [a for a in raw.annotations if a["description"] == "gap"]
    assert len(gaps) == len(sidecar["gaps"])


def test_cli_wrong_board_is_one_line_exit_1(tmp_path):
    with Emulator("cyton", link=str(tmp_path / "t"), signal=_ramp(8)) as emu:
        proc = _emg("stream", "--board", "cyton-daisy", "--port", emu.port, "--seconds", "1")
        _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 1
    assert err.strip().count("\n") == 0
    assert err.startswith(f"emg stream: error: {emu.port}: --board cyton-daisy, but the board reports no Daisy")


def test_emulate_command_prints_its_port_and_stops(tmp_path):
    link = tmp_path / "ttyEMU"
    proc = _emg("emulate", "--board", "cyton", "--link", str(link), "--seconds", "1")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.splitlines()[0].startswith(f"emg emulate: cyton on {link} (250 Hz x 8 ch, 115200 baud)")
    assert not link.exists()


def _frame(counter: int, modulo: int = 256, n: int = 1) -> Frame:
    return Frame(counter=counter, counter_modulo=modulo, samples_uv=np.zeros((1, n), np.float32), n_packets=n)


def test_slot_clock_counter_loss_and_wrap_from_arrival_time():
    clock = SlotClock(fs=250.0, samples_per_packet=1)
    t = 100.0
    assert clock.place(_frame(0), t) == 0
    assert clock.place(_frame(1), t + 0.004) == 0
    assert clock.place(_frame(5), t + 0.020) == 3  # counter jump
    # 300 packets later (more than one wrap of 256): the counter says 43, time says 300
    assert clock.place(_frame((5 + 301) % 256), t + 0.020 + 301 / 250) == 300
    # a duplicate (counter went back) is dropped
    assert clock.place(_frame((5 + 301) % 256), t + 0.020 + 301 / 250 + 0.001) is None
    clock.resync()  # after a reconnection only time counts
    assert clock.place(_frame(77), t + 0.020 + 301 / 250 + 0.5) == 124


@settings(max_examples=100, deadline=None)
@given(
    losses=st.lists(st.one_of(st.just(0), st.integers(1, 5), st.integers(200, 900)), min_size=5, max_size=40),
    jitter_ms=st.lists(st.floats(0, 30), min_size=40, max_size=40),
    modulo=st.sampled_from([256, 128]),
)
def test_property_slot_clock_recovers_real_slots(losses, jitter_ms, modulo):
    """Frames after random losses (some longer than 3 counter wraps) and 0-30 ms of arrival
    jitter land in their true slots."""
    fs = 250.0
    clock = SlotClock(fs=fs, samples_per_packet=1)
    slot = 0
    for i, lost in enumerate(losses):
        slot += lost
        t = 1000.0 + (slot + 1) / fs + jitter_ms[i] / 1e3
        missing = clock.place(_frame(slot % modulo, modulo), t)
        assert missing == (lost if i else 0)
        slot += 1
    assert clock.next_slot == slot - losses[0]


@pytest.mark.parametrize("argv, message", [
    (["--port", "{tmp}/nope"], "{tmp}/nope: cannot open serial port: no such device"),
    (["--port", "/dev/null"], "/dev/null: cannot open serial port"),
    (["--port", "{tmp}/nope", "--record", "{tmp}/no/dir/x.bdf"], "{tmp}/no/dir/x.bdf: cannot record here: no such directory"),
    (["--port", "{tmp}/nope", "--record", "{tmp}/x.edf"], "{tmp}/x.edf: --record writes BDF+: give a file name ending in .bdf"),
    (["--port", "{tmp}/nope", "--seconds", "0"], "--seconds: must be > 0, got 0"),
])
def test_stream_usage_errors_are_one_line(tmp_path, capsys, argv, message):
    from emg.cli import main

    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(["stream", "--board", "cyton", *argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith("emg stream: error: " + message.replace("{tmp}", str(tmp_path)))
    assert err.count("\n") == 1


def test_gain_change_while_streaming_keeps_the_scale_right(tmp_path):
    with Emulator("cyton", link=str(tmp_path / "t"), signal=_ramp(8)) as emu:
        with LiveSource("cyton", emu.port, seconds=1.5) as src:
            threading.Timer(0.5, src.write, args=(b"x1030110X",)).start()  # channel 1: gain 6
            data, valid = _collect(src)
    assert valid.all()
    idx = data[0] / SCALE  # the ramp in gain-24 counts: exact before, 4-count steps after
    slots = np.arange(len(idx))
    err = idx - slots - np.rint(idx[0])
    assert np.abs(err).max() <= 2.01  # a packet decoded with the wrong gain would be off by 4x
    assert src.transport.decoder.gains[0] == 6
