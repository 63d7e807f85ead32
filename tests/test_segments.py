import numpy as np
import pytest
from _live import analyze_live
from scipy import signal

from emg.segments import Segmenter, find_bursts, segment_recording

FS = 1000.0


def base(seconds=90.0, seed=0, noise_uv=3.0):
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    return rng.normal(0, noise_uv, n) + 5000.0, rng


def interference(rng, n, rms_uv):
    sos = signal.butter(4, [20, 250], btype="bandpass", fs=FS, output="sos")
    x = signal.sosfilt(sos, rng.normal(0, 1, n))
    return rms_uv * x / x.std()


def spike(amp_uv):
    t = np.arange(-5, 6) / FS
    w = np.sin(2 * np.pi * t / 0.010) * np.exp(-(t / 0.004) ** 2)
    return amp_uv * w / np.ptp(w)


def add_at(x, t_s, w):
    i = int(t_s * FS)
    x[i : i + len(w)] += w


def build():
    x, rng = base()
    x[int(20 * FS) : int(23 * FS)] += interference(rng, int(3 * FS), 60.0)  # voluntary bout
    for t in np.arange(30.0, 40.0, 1 / 6.0):  # one unit firing very regularly at 6 Hz, isolated
        add_at(x, t, spike(300.0))
    x[int(50 * FS) : int(51 * FS)] = 187500.0  # saturation
    x[int(70 * FS) : int(78 * FS)] += interference(rng, int(8 * FS), 80.0)  # long, one channel: cramp
    valid = np.ones(len(x), bool)
    valid[int(60 * FS) : int(61 * FS)] = False
    x[~valid] = 0.0
    return x[None, :].astype(np.float32), valid


def overlapping(segments, lo, hi):
    return [s for s in segments if s.start_s < hi and s.end_s > lo]


@pytest.fixture(scope="module")
def segments():
    data, valid = build()
    return segment_recording(data, FS, valid=valid, mains=50)


def test_voluntary_bout_is_found_to_a_window(segments):
    (bout,) = overlapping(segments, 19.0, 24.0)
    assert bout.label == "voluntary"
    assert bout.start_s == pytest.approx(20.0, abs=0.25) and bout.end_s == pytest.approx(23.0, abs=0.25)


def test_regular_single_discharges_are_not_thrown_away(segments):
    # a regularity rule alone would call this voluntary; the envelope stays at rest
    assert overlapping(segments, 29.5, 40.5) == []


def test_saturation_is_an_artifact_padded_for_filter_ringing(segments):
    (art,) = overlapping(segments, 49.0, 52.5)
    assert art.label == "artifact"
    assert art.start_s <= 50.0 and art.end_s >= 51.0 and art.end_s - art.start_s < 3.0


def test_gap_is_exact(segments):
    gaps = [s for s in segments if s.label == "gap"]
    assert [(g.start_s, g.end_s) for g in gaps] == [(60.0, 61.0)]


def test_long_single_channel_bout_is_a_cramp(segments):
    (cramp,) = overlapping(segments, 69.0, 79.0)
    assert cramp.label == "cramp" and cramp.end_s - cramp.start_s == pytest.approx(8.0, abs=0.5)


def test_nothing_else_is_excluded(segments):
    assert len(segments) == 4


def test_chunk_size_does_not_change_the_segments(segments):
    data, valid = build()
    small = segment_recording(data, FS, valid=valid, mains=50, chunk_s=0.37)
    assert [(round(s.start_s, 6), round(s.end_s, 6), s.label) for s in small] == [
        (round(s.start_s, 6), round(s.end_s, 6), s.label) for s in segments
    ]


def test_noisy_contact_is_marked_and_excluded():
    x, rng = base(200.0, seed=2)
    x[int(10 * FS) : int(150 * FS)] += rng.normal(0, 60.0, int(140 * FS))  # a loose electrode
    segs = segment_recording(x[None, :].astype(np.float32), FS, mains=50)
    # at first a sudden rise looks like activity; once it lasts, it is the noise level: noisy
    noisy = sum(s.end_s - s.start_s for s in segs if s.label == "noisy")
    excluded = sum(s.end_s - s.start_s for s in segs)
    assert noisy > 60.0
    assert excluded == pytest.approx(140.0, abs=3.0)


def test_common_mode_artifact_marks_every_channel():
    rows = []
    for seed in range(3):
        x, _ = base(30.0, seed=seed)
        t = np.arange(int(0.8 * FS)) / FS
        x[int(12 * FS) : int(12.8 * FS)] += 2000.0 * np.sin(2 * np.pi * 1.5 * t) * np.sin(np.pi * t / 0.8) ** 2
        rows.append(x)
    data = np.vstack(rows).astype(np.float32)
    data[2, int(12 * FS) : int(12.8 * FS)] -= data[2, int(12 * FS) : int(12.8 * FS)] - 5000.0  # not on ch 2
    segs = segment_recording(data, FS, mains=50)
    arts = [s for s in segs if s.label == "artifact"]
    assert {s.channel for s in arts} == {0, 1, 2}  # two of three channels: common mode
    assert all(s.start_s <= 12.3 and s.end_s >= 12.5 for s in arts)


def test_find_bursts_needs_recurring_groups():
    burst = np.array([0.0, 0.015, 0.03, 0.045])
    episode = np.concatenate([burst + k * 0.25 for k in range(6)]) + 10.0
    doublets = np.array([1.0, 1.035, 5.0, 5.03, 9.0, 9.02])
    assert find_bursts(np.concatenate([doublets, episode])) == [(pytest.approx(10.0), pytest.approx(11.295))]
    assert find_bursts(doublets) == []


def test_rejects_wrong_channel_count():
    seg = Segmenter(FS, 2)
    from emg.types import Chunk

    with pytest.raises(ValueError, match="expected 2 channels, got 1"):
        seg.process(Chunk(np.zeros((1, 100), np.float32), 0, FS))


def test_find_trains_catches_dense_single_unit_firing_only():
    from emg.segments import find_trains

    rng = np.random.default_rng(4)
    six_hz = np.arange(0, 20, 1 / 6.0)  # a lone unit firing regularly: kept
    assert find_trains(six_hz, np.full(len(six_hz), 300.0)) == []
    bursts = np.concatenate([k * 0.2 + np.array([0.0, 0.02, 0.045, 0.07]) for k in range(20)]) + 50.0
    (span,) = find_trains(bursts, 300.0 * (1 + 0.05 * rng.standard_normal(len(bursts))))
    assert span[0] == pytest.approx(50.0) and span[1] == pytest.approx(bursts[-1])
    # heartbeats at 110/min split into Q, R, S pieces of unequal size: not a train
    beats = np.arange(0, 20, 60 / 110)
    ecg_t = np.concatenate([beats - 0.01, beats + 0.01, beats + 0.04])
    ecg_a = np.concatenate([np.full(len(beats), 60.0), np.full(len(beats), 900.0), np.full(len(beats), 300.0)])
    assert find_trains(ecg_t, ecg_a) == []


def test_a_gap_at_the_start_leaves_the_rest_valid():
    # a live stream that lost its first second (as a reader starting late does)
    x, _ = base(40.0, seed=6)
    valid = np.ones(len(x), bool)
    valid[70:1100] = False
    x[~valid] = 0.0
    segs = segment_recording(x[None, :].astype(np.float32), FS, valid=valid, mains=50, chunk_s=0.5)
    assert [(s.label, round(s.start_s, 3), round(s.end_s, 3)) for s in segs] == [("gap", 0.07, 1.1)]


@pytest.mark.parametrize("chunk_s", [60.0, 0.7])
def test_bursts_seen_on_most_channels_at_once_are_not_myokymia(chunk_s):
    # Q, R, S pieces of large heartbeats at 120/min make a "burst" on every chest lead each beat;
    # with a beat or a discharge in between they chain like recurring bursts. Myokymia is focal.
    x, _ = base(30.0, seed=7)
    data = np.repeat(x[None, :], 4, axis=0).astype(np.float32)
    beats = np.arange(1.0, 29.0, 60 / 120)
    pieces = np.concatenate([beats - 0.012, beats, beats + 0.02, beats + 0.35])  # + a T-wave piece
    ev_t = np.concatenate([pieces + 0.002 * c for c in range(4)])
    ev_c = np.repeat(np.arange(4), len(pieces))
    # and one channel with true myokymia: bursts of one unit recurring 4 times a second
    myo = np.concatenate([k * 0.25 + np.array([0.0, 0.015, 0.03]) for k in range(16)]) + 12.0
    ev_t, ev_c = np.concatenate([ev_t, myo]), np.concatenate([ev_c, np.full(len(myo), 2)])
    order = np.argsort(ev_t, kind="stable")
    segs = segment_recording(data, FS, event_times_s=ev_t[order], event_channels=ev_c[order], mains=50,
                             chunk_s=chunk_s)
    myokymia = [(s.channel, s.start_s, s.end_s) for s in segs if s.label == "myokymia"]
    # one episode: every other burst coincides with a beat (12.0, 12.5, ...) and neither counts nor
    # breaks it, so it runs from the first burst clear of a beat (12.25, less a window) to the
    # last (15.75-15.78, plus two windows)
    assert myokymia == [(2, pytest.approx(12.15), pytest.approx(15.98, abs=0.01))]
    off = segment_recording(data, FS, event_times_s=ev_t[order], event_channels=ev_c[order], mains=50,
                            chunk_s=chunk_s, burst_common_fraction=None)
    assert {s.channel for s in off if s.label == "myokymia"} == {0, 1, 2, 3}  # what the rule prevents


@pytest.mark.parametrize(("scenario", "minutes", "channels", "seed"), [
    # the LF baseline's 1 s blocks started wherever a decision step started, and a block
    # already in the history was re-scored against history that had grown past it, so
    # live-sized chunks found artifact windows (8.2-9.0 s, 134.2-134.9 s here) that 60 s did not
    ("low-snr", 5, 3, 101),
    # a bout touching an artefact became an artefact whole, however long: a 20 s cramp with a
    # movement at its end was all artifact in batch, cramp then artifact live (channel 2)
    ("mixed", 3, 4, 1001),
    # a long bout was cramp unless another channel's bout closed - as voluntary - in the same
    # decision step, so the label depended on the chunking (channel 1, 108-114 s)
    ("voluntary", 2, 2, 2009),
    # an event's common mode (myokymia takes no part in it) was judged afresh at every call,
    # after the partners on other channels had been forgotten while the event's own channel
    # still held it for an open episode: a myokymia episode live only (channel 1, 141.9 s)
    ("mixed", 5, 4, 1015),
    # ... and it was decided only up to just past the episode horizon, so events within a
    # dense train's 1 s window after it were taken as the channel's own: a myokymia episode
    # ended 0.09 s earlier live (channel 3, 65.2 s)
    ("mixed", 5, 4, 1063),
], ids=["lf-baseline", "artifact-reach", "cramp-or-voluntary", "common-mode-once", "common-mode-ahead"])
def test_segments_are_the_same_whatever_the_chunking(scenario, minutes, channels, seed):
    from emg.pipeline import analyze
    from emg.simulate import simulate

    rec, _ = simulate(scenario, minutes=minutes, channels=channels, seed=seed)
    batch = analyze(rec, threads=False)
    for chunk_s in (0.37, 3.7):
        live = analyze_live(rec, chunk_s)
        assert [(s.start_s, s.end_s, s.label, s.channel) for s in live.segments] == [
            (s.start_s, s.end_s, s.label, s.channel) for s in batch.segments]


def test_activity_next_to_an_artifact_joins_it_only_nearby():
    from emg.pipeline import analyze
    from emg.simulate import simulate

    rec, _ = simulate("mixed", minutes=3, channels=4, seed=1001)  # a 20 s cramp (87-107.7 s) on
    segs = analyze(rec, threads=False).segments  # channel 2, a movement at 101.9-103 s on all
    on2 = [(s.start_s, s.end_s, s.label) for s in segs if s.channel == 2 and s.end_s > 85 and s.start_s < 108]
    cramp = [x for x in on2 if x[2] == "cramp"]
    art = [x for x in on2 if x[2] == "artifact"]
    assert len(cramp) == 1 and cramp[0][1] - cramp[0][0] >= 10  # the cramp before the movement
    assert len(art) == 1 and 100.5 <= art[0][0] <= 101.9 and 103.0 <= art[0][1] <= 104.5  # +- 1 s


def test_brief_strong_contraction_is_voluntary_but_large_heartbeats_are_not():
    # a 0.15 s burst off the window grid (a twitch of the thumb, as on the Plux recording) fills
    # half of two windows far above the noise; QRS complexes 150 times the noise do not
    x, rng = base(40.0, seed=8)
    x[int(20.05 * FS) : int(20.2 * FS)] += interference(rng, int(0.15 * FS), 400.0)
    t = np.arange(int(0.2 * FS)) / FS - 0.1
    beat = 1500.0 * (1 - (t / 0.008) ** 2) * np.exp(-0.5 * (t / 0.008) ** 2)  # Q, R (1500 µV), S; no net area
    # 75 beats/min, each centred on a window edge: both windows far above the noise (the dense
    # rule's hardest case); each half has no net area (no low-frequency swing, no artefact)
    for start in np.arange(23.9, 39.0, 0.8):
        i = int(start * FS)
        x[i : i + len(beat)] += beat
    segs = segment_recording(x[None, :].astype(np.float32), FS, mains=50)
    assert [(s.label, s.start_s, s.end_s) for s in segs] == [("voluntary", pytest.approx(19.9), pytest.approx(20.4))]


def test_flush_needs_the_filtered_samples_of_every_chunk():
    from emg.types import Chunk

    seg = Segmenter(FS, 1)
    seg.process(Chunk(np.zeros((1, 1500), np.float32), 0, FS))  # no filtered samples given
    with pytest.raises(ValueError, match="1500 raw samples are waiting but 0 filtered"):
        seg.flush()


def test_a_recording_shorter_than_the_mains_probe_is_segmented():
    # the detector decides the mains only at the end (Detector.end_filter): the segmenter still
    # gets every filtered sample, in the batch and the live path alike
    import datetime as dt

    from emg.pipeline import Analyzer, analyze
    from emg.types import Recording

    x, _ = base(1.5, seed=9)
    x[300:600] = 187500.0  # saturated
    rec = Recording(x[None, :].astype(np.float32), fs=FS, channel_names=["a"], start=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                    gaps=[(1.0, 0.2)])
    batch = analyze(rec)
    analyzer = Analyzer(FS, ["a"])
    for chunk in rec.iter_chunks(0.25):
        analyzer.process(chunk)
    analyzer.finish()
    live = analyzer.result(rec.info)
    labels = [(s.label, s.start_s, s.end_s) for s in batch.segments]
    assert ("gap", 1.0, 1.2) in labels and any(lab == "artifact" and lo <= 0.3 for lab, lo, _ in labels)
    assert [(s.label, s.start_s, s.end_s) for s in live.segments] == labels


def test_a_rail_is_judged_against_past_windows_whatever_the_chunking():
    # regression: a flat run was saturation when far from the median window mean of whatever
    # one call received (60 s in batch, ~1 s live): a channel stuck at 0 uV with a 12.7 mV
    # electrode offset was an artefact in batch but cramp live
    import dataclasses

    from emg.pipeline import analyze
    from emg.simulate import RAIL_UV, simulate

    rec, _ = simulate("mixed", minutes=1.5, channels=3, seed=2701)
    d = rec.data.copy()
    d[0, 40000:42500] = RAIL_UV
    d[1, 60000:60030] = -RAIL_UV
    d[2, 70000:75000] = 0.0
    rec = dataclasses.replace(rec, data=d)
    seg = lambda r: [(s.start_s, s.end_s, s.label, s.channel) for s in r.segments]
    batch = seg(analyze(rec, threads=False))
    assert any(lab == "artifact" and c == 2 and a <= 70.0 and b >= 75.0 for a, b, lab, c in batch)
    for chunk_s in (0.1, 0.37):
        assert seg(analyze_live(rec, chunk_s)) == batch


@pytest.mark.parametrize("chunk_s", [60.0, 0.7])
def test_myokymia_bursts_before_an_envelope_bout_are_excluded_too(chunk_s):
    # the envelope of a myokymic episode often rises only after its first bursts: the bout
    # covers most of the episode, and the bursts before it were counted as fasciculations
    x, rng = base(30.0, seed=11)
    x[int(13.5 * FS) : int(16.5 * FS)] += interference(rng, int(3 * FS), 60.0)
    ev_t = np.concatenate([k * 0.25 + np.array([0.0, 0.015, 0.03]) for k in range(16)]) + 12.0
    segs = segment_recording(x[None, :].astype(np.float32), FS, event_times_s=ev_t,
                             event_channels=np.zeros(len(ev_t), int), mains=50, chunk_s=chunk_s)
    spans = [(s.label, round(s.start_s, 2), round(s.end_s, 2)) for s in segs]
    bout = [s for s in segs if s.start_s >= 13.0]
    assert len(bout) == 1 and 13.3 <= bout[0].start_s <= 13.5, spans
    # the episode's part before the bout: from its first burst (12.0 s, less a window) on
    assert ("myokymia", 11.9, round(bout[0].start_s, 2)) in spans


def test_consecutive_chunks_given_at_once_equal_the_joined_chunk():
    """process() on a list of chunks (views of a longer array, gaps, window edges cut
    anywhere, the detector's filtered parts as they come) decides exactly as on their joined samples."""
    from emg.detect import Detector
    from emg.types import Chunk

    x, valid = build()
    data = np.repeat(x, 3, axis=0)
    data[1] *= 0.5
    data[2] = data[2, ::-1]  # the rail and the bout elsewhere on this channel
    valid[int(40.05 * FS) : int(40.0503 * FS)] = False  # a gap of 3 samples inside a window
    valid[12300:12320] = False  # from the start of a part (12345 samples cut at a window edge)
    data[:, ~valid] = 0.0

    def run(sizes, together):
        det = Detector(FS, 3, mains=50)
        seg = Segmenter(FS, 3)
        out, first = [], 0
        pending, parts = [], []
        for n in sizes:
            c = Chunk(data[:, first : first + n], first, FS, valid[first : first + n])
            first += n
            parts += det.filter(c).parts
            pending.append(c)
            if len(pending) == together:
                out += seg.process(pending, filtered=parts)
                pending, parts = [], []
        end = Chunk(np.zeros((3, 0), np.float32), first, FS)
        out += seg.process([*pending, end], filtered=[*parts, *det.end_filter().parts])
        out += seg.flush()
        return sorted((s.start_s, s.end_s, s.label, s.channel) for s in out), seg.noise_uv

    n = data.shape[1]
    sizes = [12345, 777, 50001] * (n // 63123) + [n - 63123 * (n // 63123)]
    joined, noise = run([n], 1)
    assert any(label == "artifact" for _, _, label, _ in joined)  # the rail
    for together in (1, 3, 4):
        parts, parts_noise = run(sizes, together)
        assert parts == joined
        np.testing.assert_array_equal(parts_noise, noise)
