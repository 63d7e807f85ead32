"""The MyoWare bridge firmware: its shared C code under gcc, and the sketch built for the Uno.

The host test (firmware_bridge/tests/test_emgframe.c) checks the C framing, CRC and command
code against test_vectors.txt, the file tests/test_myoware.py checks the Python side against.
The Uno build needs Debian's gcc-avr, avr-libc, arduino-core-avr and arduino-mk, which .ci/run
installs; on a machine without avr-gcc that test is skipped with the reason.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

FIRMWARE = Path(__file__).resolve().parents[1] / "firmware_bridge"
ARDUINO_MK = Path("/usr/share/arduino/Arduino.mk")


def _make(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-C", str(FIRMWARE), *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def host_test(tmp_path_factory) -> Path:
    """The host test program, built with gcc (with ASan/UBSan when the toolchain has them)."""
    if shutil.which("gcc") is None or shutil.which("make") is None:
        pytest.skip("gcc or make not installed (.ci/run installs both)")
    build = tmp_path_factory.mktemp("host")
    probe = subprocess.run(
        ["gcc", "-fsanitize=address,undefined", "-x", "c", "-", "-o", str(build / "probe")],
        input="int main(void){return 0;}", capture_output=True, text=True,
    )
    sanitize = [] if probe.returncode == 0 else ["HOST_SANITIZE="]
    result = _make(f"HOST_BUILD={build}", *sanitize, f"{build}/test_emgframe")
    assert result.returncode == 0, result.stdout + result.stderr
    return build / "test_emgframe"


def test_c_code_agrees_with_the_shared_vectors(host_test):
    result = subprocess.run([str(host_test), str(FIRMWARE / "test_vectors.txt"), "1000000"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    checks, failures = map(int, re.search(r"(\d+) checks, (\d+) failures", result.stdout).groups())
    assert failures == 0 and checks > 4000
    # 1e6 random bytes through the C receiver: nothing accepted
    assert re.search(r"random: 1000000 bytes, \d+ pieces rejected, 0 accepted", result.stdout)


def test_c_test_fails_on_a_wrong_vector(host_test, tmp_path):
    lines = (FIRMWARE / "test_vectors.txt").read_text().splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith("data\t"))
    fields = lines[i].split("\t")
    fields[-1] = fields[-1][:-4] + ("01" if fields[-1][-4:-2] != "01" else "02") + fields[-1][-2:]  # a CRC byte
    lines[i] = "\t".join(fields)
    j = next(k for k, line in enumerate(lines) if line.startswith("cmd\t"))
    lines[j] = lines[j].replace("fs=1000", "fs=999")
    bad = tmp_path / "vectors.txt"
    bad.write_text("\n".join(lines) + "\n")
    result = subprocess.run([str(host_test), str(bad), "1000"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert int(re.search(r"(\d+) failures", result.stdout).group(1)) >= 2
    assert "data wire differs" in result.stderr and "fs=999" in result.stderr


def test_sketch_builds_for_the_uno(tmp_path):
    if shutil.which("avr-gcc") is None or not ARDUINO_MK.exists():
        pytest.skip("avr-gcc or arduino-mk missing: apt-get install gcc-avr avr-libc arduino-core-avr "
                    "arduino-mk (.ci/run installs them)")
    result = _make(f"OBJDIR={tmp_path}")
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    elf = tmp_path / "firmware_bridge_.elf"
    hex_file = tmp_path / "firmware_bridge_.hex"
    assert hex_file.stat().st_size > 1000 and hex_file.read_text().startswith(":")
    # no warnings from our own code (the Arduino core's are not ours)
    ours = [line for line in result.stderr.splitlines()
            if re.match(r"(firmware_bridge\.ino|src/emg\w+\.c):\d+", line) and "warning" in line]
    assert ours == []
    size = subprocess.run(["avr-size", "-C", "--mcu=atmega328p", str(elf)], capture_output=True, text=True)
    program = int(re.search(r"Program:\s+(\d+) bytes", size.stdout).group(1))
    data = int(re.search(r"Data:\s+(\d+) bytes", size.stdout).group(1))
    assert program < 32256  # flash minus the Optiboot bootloader
    assert data < 1536, f"static RAM {data} B leaves under 512 B of the Uno's 2 KB for the stack"
    # the sampling is interrupt-driven: Timer1 compare A (vector 11) and ADC complete (vector 21)
    nm = subprocess.run(["avr-nm", str(elf)], capture_output=True, text=True).stdout
    assert re.search(r" T __vector_11\b", nm) and re.search(r" T __vector_21\b", nm)
