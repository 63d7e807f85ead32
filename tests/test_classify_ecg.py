"""ECG rules added in issue 5: discharges riding on a beat moved to their own peak, satellites
only of larger beats, complex pieces at a jittered lag."""

import numpy as np
import pytest
from _live import analyze_live
from test_classify import FS, MU, T, heart_and_units, make_events, run

from emg.classify import EventClassifier
from emg.types import Events

BUMP = np.exp(-((T / 0.08) ** 2))  # a narrow one-sided deflection at the centre (sample 20 of 41)


def with_rider(shift_samples, rider_uv=300.0, seed=1):
    """Heartbeats (800 µV) and one beat carrying a bump ``shift_samples`` after its R peak."""
    events, beats, fasc = heart_and_units(seed=seed)
    k = len(beats) // 2
    i = int(np.argmin(np.abs(events.onset_s - beats[k])))
    beat_t = float(events.onset_s[i])
    waves = events.waveforms.copy()
    waves[i] = waves[i] + rider_uv * np.roll(BUMP, shift_samples)
    amp = events.amplitude_uv.copy()
    amp[i] = np.ptp(waves[i])
    return events.replace(waveforms=waves, amplitude_uv=amp, snr=amp / 2.0), beat_t, fasc


@pytest.mark.parametrize("chunk_s", [60.0, 0.3])
def test_a_discharge_riding_on_a_beat_is_listed_at_its_own_peak(chunk_s):
    events, beat_t, fasc = with_rider(-12)
    clf = EventClassifier(FS, 1, blank_ms=(5.0, 5.0), blind_k=None)  # narrow windows: a rider 12 ms away is outside
    out = run(clf, events, chunk_s=chunk_s)
    assert np.all(np.diff(out.sample) >= 0)  # still in time order
    found = out.onset_s[out.label == "fasciculation"]
    assert np.any(np.abs(found - (beat_t - 0.012)) <= 0.001)
    assert not np.any(np.abs(found - beat_t) <= 0.002)  # not at the R peak any more
    assert len(found) == len(fasc) + 1
    # listed with its own size (the residual's peak-to-peak, 300 µV), not the beat's (~800 µV)
    rider = np.argmin(np.abs(out.onset_s - (beat_t - 0.012)))
    assert abs(float(out.amplitude_uv[rider]) - 300.0) <= 30.0
    # the beat's QRS is still blanked
    assert any(a <= beat_t <= b for a, b in clf.blanked_intervals()[0])


def test_a_discharge_riding_inside_the_qrs_window_is_blanked():
    events, beat_t, fasc = with_rider(8)  # 8 ms after R: inside -15..+25 ms
    clf = EventClassifier(FS, 1, blind_k=None)
    out = run(clf, events)
    found = out.onset_s[out.label == "fasciculation"]
    assert np.allclose(np.sort(found), fasc, atol=1e-3)
    assert clf.counts["blanked"] == 1
    # without relocation the same event would be listed at the R peak
    old = run(EventClassifier(FS, 1, relocate=False, blind_k=None), events)
    assert np.any(np.abs(old.onset_s[old.label == "fasciculation"] - beat_t) < 1e-3)


def test_satellites_belong_to_larger_beats_only():
    events, beats, _ = heart_and_units(seed=4)
    k = len(beats) // 2
    # 38 µV (SNR 19 < satellite_snr 20) 20 ms after or 25 ms before an 800 µV beat: a piece of it;
    # with parents required 30 x its size (1140 µV) the beat is too small to be its parent
    extra = make_events([(beats[k] + 0.020, 0, 38.0, MU, 0), (beats[k + 5] - 0.025, 0, 38.0, -MU, 0)])
    both = Events.concat([events, extra])
    both = both.select(np.argsort(both.onset_s, kind="stable"))
    out = run(EventClassifier(FS, 1, blank_snr=None), both)
    lab = dict(zip(out.onset_s.round(3), out.label))
    assert lab[round(beats[k] + 0.020, 3)] == "ecg" and lab[round(beats[k + 5] - 0.025, 3)] == "ecg"
    out = run(EventClassifier(FS, 1, blank_snr=None, satellite_parent=30.0), both)  # parents 30 x larger only
    lab = dict(zip(out.onset_s.round(3), out.label))
    assert lab[round(beats[k] + 0.020, 3)] == "fasciculation"


def test_faint_but_wide_events_are_kept_only_when_asked():
    # SNR 7 (14 µV over 2 µV): under min_snr 8; one 6 ms wide, one 1 ms wide
    ev = make_events([(1.0, 0, 14.0, MU, 0), (3.0, 0, 14.0, MU, 0), (5.0, 0, 300.0, MU, 0)])
    ev = ev.replace(duration_ms=np.array([6.0, 1.0, 8.0], np.float32))
    default = run(EventClassifier(FS, 1), ev)
    assert default.onset_s.round(3).tolist() == [5.0]
    wide = run(EventClassifier(FS, 1, wide_snr=6.0), ev)
    assert wide.onset_s.round(3).tolist() == [1.0, 5.0]


def test_satellites_reach_no_further_than_50_ms_after_the_complex_start():
    events, beats, _ = heart_and_units(seed=6)
    s_waves = make_events([(b + 0.040, 0, 400.0, -MU, 0) for b in beats])  # an S piece 40 ms after each R
    k = len(beats) // 2
    small = make_events([(beats[k] + 0.085, 0, 38.0, MU, 0)])  # SNR 19, 45 ms after the S piece
    both = Events.concat([events, s_waves, small])
    both = both.select(np.lexsort((both.channel, both.sample)))
    key = round(beats[k] + 0.085, 3)
    out = run(EventClassifier(FS, 1), both)
    assert out.label[out.onset_s.round(3) == key].tolist() == ["fasciculation"]
    out = run(EventClassifier(FS, 1, satellite_reach_ms=None), both)  # unbounded: a piece of the complex
    assert out.label[out.onset_s.round(3) == key].tolist() == ["ecg"]


def test_a_doublet_whose_first_discharge_is_blanked_is_not_counted():
    events, beats, fasc = heart_and_units(seed=8)
    k = len(beats) // 2
    pair = make_events([(beats[k] + 0.020, 0, 300.0, MU, 0), (beats[k] + 0.060, 0, 290.0, MU, 0)])
    both = Events.concat([events, pair])
    both = both.select(np.lexsort((both.channel, both.sample)))
    out = run(EventClassifier(FS, 1, blind_k=None), both)
    found = out.onset_s[out.label == "fasciculation"]
    assert np.allclose(np.sort(found), fasc, atol=1e-3)  # the second one (outside the window) is not listed
    out = run(EventClassifier(FS, 1, blank_groups=False, blind_k=None), both)
    found = out.onset_s[out.label == "fasciculation"]
    assert np.any(np.abs(found - (beats[k] + 0.060)) < 1e-3)


def test_small_events_count_as_heartbeat_pieces_only_near_the_complex_start():
    events, beats, _ = heart_and_units(seed=6)
    s_waves = make_events([(b + 0.040, 0, 400.0, -MU, 0) for b in beats])  # an S piece 40 ms after each R
    k = len(beats) // 2
    small = make_events([(beats[k] + 0.110, 0, 20.0, MU, 0)])  # SNR 10, 70 ms after the S piece
    both = Events.concat([events, s_waves, small])
    both = both.select(np.lexsort((both.channel, both.sample)))
    key = round(beats[k] + 0.110, 3)
    out = run(EventClassifier(FS, 1, blind_k=None), both)  # 110 ms after the R: past small_reach_ms (50)
    assert out.label[out.onset_s.round(3) == key].tolist() == ["fasciculation"]
    out = run(EventClassifier(FS, 1, blind_k=None, small_reach_ms=None), both)  # next to the S piece: ecg
    assert out.label[out.onset_s.round(3) == key].tolist() == ["ecg"]
    out = run(EventClassifier(FS, 1, blind_k=None), both, chunk_s=0.7)  # the same whatever the chunks
    assert out.label[out.onset_s.round(3) == key].tolist() == ["fasciculation"]


@pytest.mark.parametrize(("channels", "seed", "listed"), [
    # the template subtraction used each family's template after every event pushed so far,
    # i.e. up to 60 s ahead in batch but 0.5 s live, so a beat "carried" a discharge on one
    # path only (riders)
    (3, 101, [(84067, 0, "ecg")]),
    # the beat-locked rules took as anchors the rhythm beats of the whole buffer (not yet final
    # 2 contexts ahead) plus the coincidence beats of the rows labelled in the same call only,
    # so small ECG rows were listed in batch but dropped live (anchors)
    (8, 100, [(202694, 4, "ecg"), (229278, 4, "ecg"), (241528, 4, "ecg"), (250536, 4, "ecg")]),
], ids=["riders", "anchors"])
@pytest.mark.parametrize("chunk_s", [0.5, 3.7])
def test_heartbeat_rules_give_the_same_rows_whatever_the_chunking(channels, seed, listed, chunk_s):
    from emg.pipeline import analyze
    from emg.simulate import simulate

    rec, _ = simulate("chest-ecg", minutes=5, channels=channels, seed=seed)
    batch = analyze(rec, threads=False)
    live = analyze_live(rec, chunk_s)
    rows = lambda r: list(zip(r.events.sample.tolist(), r.events.channel.tolist(), r.events.label.tolist(),
                              r.events.multiplicity.tolist()))
    assert rows(live) == rows(batch)
    assert set(listed) <= {r[:3] for r in rows(batch)}


def test_the_heartbeats_around_a_row_are_final_decisions_whatever_the_chunking():
    # regression: the satellite rule (and the common-mode, echo and blanking masks) took as
    # heartbeats the rhythm beats plus the decisions of the rows labelled in the same call,
    # so a faint satellite of a beat-locked event labelled in the next call was listed as ecg
    # in batch but dropped live (mixed 4 ch seed 1002, channel 1, 0.25 s chunks)
    from emg.pipeline import analyze
    from emg.simulate import simulate

    rec, _ = simulate("mixed", minutes=5, channels=4, seed=1002)
    batch = analyze(rec, threads=False)
    rows = lambda r: list(zip(r.events.sample.tolist(), r.events.channel.tolist(), r.events.label.tolist(),
                              r.events.multiplicity.tolist()))
    assert (206295, 1, "ecg", 1) in rows(batch)
    assert rows(analyze_live(rec, 0.25)) == rows(batch)


def test_a_doublet_whose_first_discharge_is_moved_across_a_pop_is_one_row():
    # regression: the hidden-first move placed a discharge labelled in one pop 12 ms before a
    # row held back from the previous pop as a group head; the head was not merged into it,
    # so 3.7 s chunks listed two single rows where batch listed a doublet (chest-ecg 8 ch
    # seed 101, channel 6, sample 98286)
    from emg.pipeline import analyze
    from emg.simulate import simulate

    rec, _ = simulate("chest-ecg", minutes=5, channels=8, seed=101)
    rows = lambda r: [(s, lab, m) for s, c, lab, m in zip(r.events.sample.tolist(), r.events.channel.tolist(),
                                                           r.events.label.tolist(), r.events.multiplicity.tolist())
                      if c == 6 and 98200 < s < 98400]
    batch = rows(analyze(rec, threads=False))
    assert (98286, "fasciculation", 2) in batch
    assert rows(analyze_live(rec, 3.7)) == batch


def test_a_heartbeat_flag_waits_for_every_beat_it_depends_on():
    # regression: a beat's flag depends on runs of its family within +-6.2 s, each reaching up
    # to 4 periods further (12.8 s in all); fixed 6.25 s behind the stream, the first beat of
    # this train was a heartbeat in batch but a fasciculation live (0.1 and 0.37 s chunks)
    import datetime as dt

    from emg.pipeline import analyze
    from emg.types import Recording

    fs, n = 1000.0, 90_000
    rng = np.random.default_rng(2601)
    data = rng.normal(0, 3.0, (2, n)).astype(np.float32)
    tt = np.arange(-20, 21) / fs
    for t in (30, 31, 32, 33, 36.18, 37.68, 39.18, 42.18):  # regular, then a gap, then two periods
        i = int(t * fs)
        data[0, i - 20 : i + 21] += 800 * np.exp(-0.5 * (tt / 0.003) ** 2)
    fill = np.cumsum(rng.uniform(0.4, 1.2, 200))
    for t in fill[(fill > 1) & (fill < 88)]:  # small discharges on the other channel
        i = int(t * fs)
        data[1, i - 20 : i + 21] += 120 * np.sin(2 * np.pi * tt / 0.012) * np.exp(-0.5 * (tt / 0.005) ** 2)
    rec = Recording(data, fs, ("A", "B"), dt.datetime(2026, 1, 5, 8, tzinfo=dt.UTC))
    rows = lambda r: list(zip(r.events.sample.tolist(), r.events.channel.tolist(), r.events.label.tolist()))
    batch = rows(analyze(rec))
    assert [lab for s, c, lab in batch if c == 0][:7] == ["ecg"] * 7
    for chunk_s in (0.1, 0.37):
        assert rows(analyze_live(rec, chunk_s)) == batch
