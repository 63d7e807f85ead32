"""emg analyze --annotate (BDF+ copy read by MNE and by emg), emg.to_mne, emg.analyze(raw)."""

from __future__ import annotations

import json
from collections import Counter

import mne
import numpy as np
import pytest

import emg
from emg.annotate import result_annotations
from emg.cli import main
from emg.io import write_bdf


@pytest.fixture(scope="module")
def recording():
    rec, _ = emg.simulate("mixed", minutes=2, channels=2, seed=21)
    return rec


@pytest.fixture(scope="module")
def result(recording):
    return emg.analyze(recording)


def test_annotations_of_result(recording, result):
    anns = result_annotations(result)
    events = [a for a in anns if a.duration_s == 0]
    assert len(events) == len(result.events) > 0
    assert Counter(a.description.split()[0] for a in events) == Counter(result.events.label)
    np.testing.assert_allclose(sorted(a.onset_s for a in events), np.sort(result.events.onset_s), atol=0)
    segs = [s for s in result.segments if s.label != "gap"]
    assert len(anns) - len(events) == len(segs)


def test_cli_annotate_opens_in_mne(tmp_path, recording, result):
    src = tmp_path / "rec.bdf"
    write_bdf(recording, src)
    assert main(["analyze", str(src), "--out", str(tmp_path / "out"), "--annotate"]) == 0
    copy = tmp_path / "out" / "rec.annotated.bdf"
    raw = mne.io.read_raw_bdf(copy, preload=True, verbose="error")
    assert raw.ch_names == list(recording.channel_names)
    # the samples survive (24-bit steps of 0.0224 µV)
    np.testing.assert_allclose(raw.get_data() * 1e6, recording.data, atol=0.02)
    n_events = len((tmp_path / "out" / "rec.events.csv").read_text(encoding="utf-8").splitlines()) - 1
    desc = list(raw.annotations.description)
    fasc = [d for d in desc if d.startswith("fasciculation ")]
    summary = json.loads((tmp_path / "out" / "rec.summary.json").read_text())
    assert len(fasc) == summary["events"]["fasciculation"]
    points = [a["description"] for a in raw.annotations if a["duration"] == 0]
    assert sum(d.split()[0] in ("fasciculation", "ecg", "artifact") for d in points) == n_events
    # onsets within one sample (EDF+ TAL timing) of the events file
    onsets = np.sort([a["onset"] for a in raw.annotations if a["description"].startswith("fasciculation ")])
    import csv

    with open(tmp_path / "out" / "rec.events.csv", encoding="utf-8") as fh:
        expected = np.sort([float(r["onset_s"]) for r in csv.DictReader(fh) if r["label"] == "fasciculation"])
    np.testing.assert_allclose(onsets, expected, atol=1.0 / recording.fs)
    # our reader sees the same annotations
    back = emg.read(copy)
    assert Counter(a.description for a in back.annotations) == Counter(desc)


def test_to_mne_and_analyze_raw(recording, result):
    raw = emg.to_mne(recording, result)
    assert isinstance(raw, mne.io.BaseRaw)
    assert len(raw.annotations) == len(result_annotations(result))
    again = emg.analyze(recording.to_mne())  # an MNE Raw as input
    assert again.fasciculations == result.fasciculations
    assert np.array_equal(again.events.sample, result.events.sample)
    assert again.segments == result.segments


def test_to_mne_rejects_other_channels(recording, result):
    other, _ = emg.simulate("clean", minutes=0.2, channels=1, seed=1)
    with pytest.raises(ValueError, match="Invalid value for 'result'"):
        emg.to_mne(other, result)


def test_emg_simulate_callable_after_importing_the_package():
    import emg.simulate.truth

    rec, _ = emg.simulate("clean", minutes=0.05, seed=0)
    assert rec.n_samples == 3000 and rec.fs == 1000.0
