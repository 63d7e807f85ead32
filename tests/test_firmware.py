"""The MyoWare bridge firmware: its shared C code under gcc, and the sketch built for the Uno.

The host test (firmware_bridge/tests/test_emgframe.c) checks the C framing, CRC and command
code against test_vectors.txt, the file tests/test_myoware.py checks the Python side against.
The Uno build needs Debian's gcc-avr, avr-libc, arduino-core-avr and arduino-mk, which .ci/run
installs; on a machine without avr-gcc that test is skipped with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

FIRMWARE = Path(__file__).resolve().parents[1] / "firmware_bridge"
ARDUINO_MK = Path("/usr/share/arduino/Arduino.mk")
SIMAVR_H = Path("/usr/include/simavr/sim_avr.h")


# nothing in the C code allocates; LeakSanitizer can fail in some containers, so leave it out
SANITIZER_ENV = {**os.environ, "ASAN_OPTIONS": "detect_leaks=0"}


def _make(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "-C", str(FIRMWARE), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def host_test(tmp_path_factory) -> Path:
    """The host test program, built with gcc (with ASan/UBSan when the toolchain has them)."""
    if shutil.which("gcc") is None or shutil.which("make") is None:
        pytest.skip("gcc or make not installed (.ci/run installs both)")
    build = tmp_path_factory.mktemp("host")
    probe = subprocess.run(
        ["gcc", "-fsanitize=address,undefined", "-x", "c", "-", "-o", str(build / "probe")],
        input="int main(void){return 0;}",
        capture_output=True,
        text=True,
        check=False,
    )
    sanitize = [] if probe.returncode == 0 else ["HOST_SANITIZE="]
    result = _make(f"HOST_BUILD={build}", *sanitize, f"{build}/test_emgframe")
    assert result.returncode == 0, result.stdout + result.stderr
    return build / "test_emgframe"


def test_c_code_agrees_with_the_shared_vectors(host_test):
    result = subprocess.run(
        [str(host_test), str(FIRMWARE / "test_vectors.txt"), "1000000"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=SANITIZER_ENV,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    checks, failures = map(int, re.search(r"(\d+) checks, (\d+) failures", result.stdout).groups())
    assert failures == 0 and checks > 4000
    # 1e6 random bytes through the C receiver: nothing accepted
    assert re.search(r"random: 1000000 bytes, \d+ pieces rejected, 0 accepted", result.stdout)


def test_c_test_fails_on_a_wrong_vector(host_test, tmp_path):
    lines = (FIRMWARE / "test_vectors.txt").read_text().splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith("data\t"))
    fields = lines[i].split("\t")
    fields[-1] = (
        fields[-1][:-4] + ("01" if fields[-1][-4:-2] != "01" else "02") + fields[-1][-2:]
    )  # a CRC byte
    lines[i] = "\t".join(fields)
    j = next(k for k, line in enumerate(lines) if line.startswith("cmd\t"))
    lines[j] = lines[j].replace("fs=1000", "fs=999")
    bad = tmp_path / "vectors.txt"
    bad.write_text("\n".join(lines) + "\n")
    result = subprocess.run(
        [str(host_test), str(bad), "1000"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env=SANITIZER_ENV,
    )
    assert result.returncode == 1
    assert int(re.search(r"(\d+) failures", result.stdout).group(1)) >= 2
    assert "data wire differs" in result.stderr and "fs=999" in result.stderr


@pytest.fixture(scope="module")
def uno_build(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """The sketch built for the Uno with arduino-mk: (build directory, make's result)."""
    if shutil.which("avr-gcc") is None or not ARDUINO_MK.exists():
        pytest.skip(
            "avr-gcc or arduino-mk missing: apt-get install gcc-avr avr-libc arduino-core-avr "
            "arduino-mk (.ci/run installs them)"
        )
    build = tmp_path_factory.mktemp("uno")
    return build, _make(f"OBJDIR={build}")


def test_sketch_builds_for_the_uno(uno_build):
    build, result = uno_build
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    elf = build / "firmware_bridge_.elf"
    hex_file = build / "firmware_bridge_.hex"
    assert hex_file.stat().st_size > 1000 and hex_file.read_text().startswith(":")
    # no warnings from our own code (the Arduino core's are not ours)
    ours = [
        line
        for line in result.stderr.splitlines()
        if re.match(r"(firmware_bridge\.ino|src/emg\w+\.c):\d+", line) and "warning" in line
    ]
    assert ours == []
    size = subprocess.run(
        ["avr-size", "-C", "--mcu=atmega328p", str(elf)],
        capture_output=True,
        text=True,
        check=False,
    )
    program = int(re.search(r"Program:\s+(\d+) bytes", size.stdout).group(1))
    data = int(re.search(r"Data:\s+(\d+) bytes", size.stdout).group(1))
    assert program < 32256  # flash minus the Optiboot bootloader
    assert data < 1536, f"static RAM {data} B leaves under 512 B of the Uno's 2 KB for the stack"
    # the sampling is interrupt-driven: Timer1 compare A (vector 11) and ADC complete (vector 21)
    nm = subprocess.run(["avr-nm", str(elf)], capture_output=True, text=True, check=False).stdout
    assert re.search(r" T __vector_11\b", nm) and re.search(r" T __vector_21\b", nm)


def test_firmware_image_in_simavr(uno_build, tmp_path):
    """The real Uno image in simavr: banner, replies, packets, timing and the ADC samples in order."""
    build, result = uno_build
    assert result.returncode == 0
    if not SIMAVR_H.exists():
        pytest.skip(
            "simavr headers missing: apt-get install simavr libsimavr-dev (.ci/run installs them)"
        )
    made = _make(f"HOST_BUILD={tmp_path}", "sim")
    assert made.returncode == 0, made.stdout[-2000:] + made.stderr
    uart, adc_log = tmp_path / "uart.bin", tmp_path / "adc.txt"
    script = [
        "20:id",
        "40:start",
        "140:stop",
        "150:channels 2",
        "160:rate 4000",
        "170:start",
        "230:stop",
        "240:rate 3000",
        "250:bogus",
    ]
    run = subprocess.run(
        [
            str(tmp_path / "sim_uno"),
            str(build / "firmware_bridge_.elf"),
            str(uart),
            str(adc_log),
            *script,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr

    from emg.devices.myoware import BridgeCommands, MyowareDecoder

    dec = MyowareDecoder()
    frames = dec.feed(uart.read_bytes())
    info = BridgeCommands().info()
    assert list(dec.replies) == [
        f"READY {info}",
        f"OK id {info}",
        "OK start",
        "OK stop",
        "OK channels 2",
        "OK rate 4000",
        "OK start",
        "OK stop",
        "ERR range rate must divide 1000000",
        "ERR unknown bogus",
    ]
    assert (
        dec.frames_rejected == 0
        and dec.bytes_discarded == 0
        and dec.overruns == 0
        and dec.late == 0
    )
    # every packet the firmware sent is byte for byte what the Python encoder makes of its content
    from emg.devices.myoware import (
        build_data_packet,
        build_text_packet,
        cobs_decode,
        parse_packet,
        to_wire,
    )

    pieces = uart.read_bytes().split(b"\x00")
    assert pieces[-1] == b"" and len(pieces) > 40
    for piece in pieces[:-1]:
        p = parse_packet(cobs_decode(piece))
        if isinstance(p, str):
            again = to_wire(build_text_packet(p))
        else:
            again = to_wire(
                build_data_packet(
                    p.counts,
                    seq=p.seq,
                    t_us=p.t_us,
                    adc_bits=p.adc_bits,
                    vref_mv=p.vref_mv,
                    status=p.status,
                )
            )
        assert again == piece + b"\x00"
    # session 1: 4 channels at 1 kHz for 100 ms; session 2: 2 channels at 4 kHz for 60 ms
    assert [(f.counter, f.samples_uv.shape[0]) for f in frames] == [(0, 4), (0, 2)]
    first, second = frames
    assert 9 <= first.n_packets <= 10 and 23 <= second.n_packets <= 24
    # packets 10 samples x 1000 µs and x 250 µs apart; micros() has 4 µs steps plus interrupt latency
    np.testing.assert_allclose(np.diff(first.aux[:, 0].astype(np.int64)), 10_000, atol=8)
    np.testing.assert_allclose(np.diff(second.aux[:, 0].astype(np.int64)), 2_500, atol=8)
    # each sample is the conversion the simulator fed, in order, none lost or repeated. simavr
    # converts floor(mV x 1023 / 5000), the datasheet says mV x 1024 / 5000: within 2.5 counts,
    # while a sample out of place would be 10 counts off (the input steps 50 mV per conversion).
    # Conversions not in a packet: the warm-up one at boot (A0) and those after the last
    # complete packet of session 1 (dropped by stop).
    log = np.loadtxt(adc_log, dtype=np.int64)
    uv_per_count = 5000e3 / 1024 / 200

    def offset(got: np.ndarray, fed: np.ndarray, start: int) -> int:
        found = [
            k
            for k in range(start, min(start + 12, fed.size - got.size + 1))
            if np.allclose(got, fed[k : k + got.size], atol=2.5)
        ]
        assert len(found) == 1, (found, got[:5], fed[start : start + 5])
        return found[0]

    for ch in range(4):
        fed = log[log[:, 0] == ch, 1] * 1024 / 5000
        got = np.rint(first.samples_uv[ch] / uv_per_count + 512)
        k1 = offset(got, fed, 0)
        assert k1 == (1 if ch == 0 else 0)
        if ch < 2:
            got2 = np.rint(second.samples_uv[ch] / uv_per_count + 512)
            k2 = offset(got2, fed, k1 + got.size)
            assert k2 - (k1 + got.size) < 10  # fewer than one packet dropped by stop


def test_firmware_keeps_up_at_8000_conversions_per_second(uno_build, tmp_path):
    """1 channel x 8000 Hz and 4 x 2000 Hz in simavr: no missed tick, no dropped packet."""
    build, result = uno_build
    assert result.returncode == 0
    if not SIMAVR_H.exists():
        pytest.skip(
            "simavr headers missing: apt-get install simavr libsimavr-dev (.ci/run installs them)"
        )
    assert _make(f"HOST_BUILD={tmp_path}", "sim").returncode == 0

    from emg.devices.myoware import MyowareDecoder

    for n_channels, fs in ((1, 8000), (4, 2000)):
        uart = tmp_path / f"uart{n_channels}.bin"
        script = [
            "20:channels 1",
            f"25:rate {fs}",
            f"30:channels {n_channels}",
            "40:start",
            "540:stop",
        ]
        command = [str(tmp_path / "sim_uno"), str(build / "firmware_bridge_.elf"), str(uart)]
        run = subprocess.run(
            [*command, str(tmp_path / "adc.txt"), *script],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        dec = MyowareDecoder()
        frames = dec.feed(uart.read_bytes())
        assert len(frames) == 1 and frames[0].samples_uv.shape[0] == n_channels
        # 0.5 s of packets; the partial one at stop is dropped
        assert fs // 20 - 1 <= frames[0].n_packets <= fs // 20
        assert dec.late == 0 and dec.overruns == 0 and dec.frames_rejected == 0
        spacing = np.diff(frames[0].aux[:, 0].astype(np.int64))
        np.testing.assert_allclose(spacing, 10 * 1e6 / fs, atol=8)


@pytest.mark.parametrize("core_major", [2, 3])
def test_esp32_branch_compiles_against_the_core_api(core_major):
    """The ESP32 branch, syntax- and type-checked against declarations of the Arduino-ESP32 API
    (core 2.x or 3.x signatures, tests/esp32_stub); CI has no ESP32 toolchain to build it for real."""
    compiler = shutil.which("g++") or shutil.which("avr-g++")
    if compiler is None:
        pytest.skip("no C++ compiler (g++ or avr-g++; .ci/run installs gcc-avr)")
    result = subprocess.run(
        [
            compiler,
            "-std=gnu++11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-fsyntax-only",
            "-DARDUINO_ARCH_ESP32",
            f"-DESP_ARDUINO_VERSION_MAJOR={core_major}",
            f"-I{FIRMWARE / 'tests' / 'esp32_stub'}",
            "-include",
            "Arduino.h",
            "-x",
            "c++",
            str(FIRMWARE / "firmware_bridge.ino"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
