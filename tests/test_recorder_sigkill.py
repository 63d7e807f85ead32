"""A live recording killed with SIGKILL opens in MNE and in emg with all but the last second, exact.

A child process records a counter signal with BdfRecorder at twice real pace and reports, after
every write() returns, how many samples it has handed over. The parent kills it with SIGKILL
mid-way. Every write() fsyncs the full records, so the file must hold at least the reported
samples rounded down to whole seconds, and every sample must be exactly the counter.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import mne
import numpy as np
import pytest

import emg.io
from emg.io.edf_header import parse_header

FS = 500
N_CH = 4
LSB_UV = 187500.0 / (2**23 - 1)

CHILD = textwrap.dedent(
    """
    import datetime as dt, sys, time
    import numpy as np
    from emg.io.bdf import BdfRecorder

    fs, n_ch, lsb = {fs}, {n_ch}, {lsb!r}
    start = dt.datetime(2026, 2, 3, 4, 5, 6, tzinfo=dt.timezone.utc)
    rec = BdfRecorder(sys.argv[1], fs=fs, channel_names=[f"ch{{i}}" for i in range(n_ch)], start=start,
                      sidecar={{"board": "cyton", "port": "/dev/null"}})
    block, written = 23, 0  # blocks that do not divide a record
    while True:
        idx = np.arange(written, written + block)
        if written <= 2 * fs < written + block:
            rec.add_gap(2.0, 0.1)
        data = np.vstack([((idx * (c + 1)) % 1000003 - 500000) * lsb for c in range(n_ch)])
        rec.write(data)
        written += block
        print(written, flush=True)
        time.sleep(block / fs / 2)  # twice real pace
    """
).format(fs=FS, n_ch=N_CH, lsb=LSB_UV)


def _expected(n: int) -> np.ndarray:
    idx = np.arange(n)
    return np.vstack([(idx * (c + 1)) % 1000003 - 500000 for c in range(N_CH)])


@pytest.mark.timeout(120)
def test_sigkill_mid_recording_keeps_all_but_the_last_second(tmp_path):
    path = tmp_path / "live.bdf"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
    )
    reported = 0
    try:
        deadline = time.monotonic() + 60
        while reported < 4.3 * FS:  # a few seconds of data, then kill mid-record
            line = child.stdout.readline()
            if not line:
                pytest.fail(f"recorder child died: {child.stderr.read()}")
            reported = int(line)
            assert time.monotonic() < deadline, "recorder child too slow"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        for line in child.stdout.read().split():  # lines it printed before the kill landed
            reported = max(reported, int(line))
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL

    assert parse_header(path).n_records_in_header == -1  # never closed
    ours = emg.io.read(path)
    n = ours.n_samples
    assert reported - FS < n <= reported + FS  # all but at most the last second
    assert n % FS == 0
    expected = _expected(n)
    np.testing.assert_array_equal(np.rint(ours.data / LSB_UV).astype(np.int64), expected)
    assert [(g.start_s, g.duration_s) for g in ours.gaps] == [(2.0, 0.1)]

    with pytest.warns(RuntimeWarning, match="Number of records"):
        raw = mne.io.read_raw_bdf(path, preload=True, verbose="warning")
    assert raw.n_times == n and raw.ch_names == [f"ch{i}" for i in range(N_CH)]
    np.testing.assert_array_equal(np.rint(raw.get_data() * 1e6 / LSB_UV).astype(np.int64), expected)
    assert list(raw.annotations.description) == ["gap"]
    np.testing.assert_allclose(raw.annotations.onset, [2.0])

    side = json.loads(path.with_suffix(".json").read_text())
    assert side["board"] == "cyton" and side["fs"] == FS and side["gaps"] == [[2.0, 0.1]]
    assert 0 < side["samples"] <= reported
