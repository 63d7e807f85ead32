import numpy as np
import pytest

from emg.classify import EchoFilter, EventClassifier, mains_share, regular_run, regular_triple, subtract_template
from emg.types import Events

FS = 1000.0
T = np.linspace(-1, 1, 41)
QRS = (1 - 10 * T * T) * np.exp(-8 * T * T)  # a heartbeat shape
MU = np.sin(np.pi * T) * np.exp(-3 * T * T)  # a motor-unit shape


def make_events(rows):
    """rows: (time_s, channel, amplitude_uv, shape, coincident)."""
    rows = sorted(rows, key=lambda r: (r[0], r[1]))
    n = len(rows)
    cols = {name: np.zeros(n, dtype) for name, dtype in Events.columns.items()}
    cols["sample"] = np.array([round(r[0] * FS) for r in rows], np.int64)
    cols["channel"] = np.array([r[1] for r in rows], np.int32)
    cols["amplitude_uv"] = np.array([r[2] for r in rows], np.float32)
    cols["coincident"] = np.array([r[4] for r in rows], np.int32)
    cols["noise_uv"] = np.full(n, 2.0, np.float32)  # the waveforms below carry 2 µV noise
    cols["snr"] = cols["amplitude_uv"] / 2.0
    rng = np.random.default_rng(0)
    waves = np.array([r[2] * r[3] / np.ptp(r[3]) + rng.normal(0, 2.0, len(T)) for r in rows])  # 2 µV noise
    return Events(fs=FS, waveforms=waves, **cols)


def run(classifier, events, zone=None, chunk_s=5.0):
    zone = zone or (lambda t, c: np.zeros(len(t), np.int8))
    out = []
    end = events.onset_s.max() + 1 if len(events) else 0
    for lo in np.arange(0, end, chunk_s):
        sel = (events.onset_s >= lo) & (events.onset_s < lo + chunk_s)
        classifier.push(events.select(sel))
        out.append(classifier.pop(lo + chunk_s, zone))
    out.append(classifier.pop(np.inf, zone, final=True))
    return Events.concat(out, fs=FS)


def test_regular_run():
    assert regular_run([0.8, 0.85, 0.82])
    assert regular_run([0.8, 1.6, 0.8])  # one missed beat
    assert not regular_run([0.8, 1.6, 1.6])  # two missed beats: not enough evidence
    assert not regular_run([0.8, 1.1, 0.8])
    assert not regular_run([0.2, 0.2, 0.2])  # 300 per minute is no heartbeat
    assert not regular_run([2.0, 2.0, 2.0])  # 30 per minute neither
    assert regular_triple(0.8, 0.85) and not regular_triple(0.8, 1.6)


def heart_and_units(seed=1, minutes=3.0):
    rng = np.random.default_rng(seed)
    rows, beats, fasc = [], [], []
    t = 0.3
    while t < minutes * 60:
        beats.append(t)
        rows.append((t, 0, 800.0 * (1 + 0.03 * rng.standard_normal()), QRS, 0))
        t += 0.85 * (1 + 0.03 * rng.standard_normal())
    for t in np.sort(rng.uniform(1, minutes * 60 - 1, 40)):
        if min(abs(np.array(beats) - t)) > 0.05 and (not fasc or t - fasc[-1] > 0.2):  # no chance doublets
            fasc.append(t)
            rows.append((t, 0, 300.0, MU, 0))
    return make_events(rows), np.array(beats), np.array(fasc)


def test_heartbeats_are_ecg_and_irregular_units_are_fasciculations():
    events, beats, fasc = heart_and_units()
    out = run(EventClassifier(FS, 1, blind_k=None), events)  # beats 50 ms from a discharge: fixed windows
    ecg_t = out.onset_s[out.label == "ecg"]
    fasc_t = out.onset_s[out.label == "fasciculation"]
    assert len(ecg_t) >= 0.98 * len(beats)  # the first/last beats lack a full triple at most
    assert np.allclose(np.sort(fasc_t), fasc, atol=1e-3)


def test_missed_beats_still_make_a_rhythm():
    events, beats, fasc = heart_and_units(seed=2)
    drop = np.zeros(len(events), bool)
    is_beat = np.isin(events.onset_s.round(3), beats.round(3))
    drop[np.flatnonzero(is_beat)[::4]] = True  # every fourth beat below threshold
    out = run(EventClassifier(FS, 1, blind_k=None), events.select(~drop))
    found = out.onset_s[out.label == "fasciculation"]
    assert all(np.any(np.abs(found - t) < 1e-3) for t in fasc)
    assert len(found) <= len(fasc) + 1  # at most the first beat, with a single run to judge it


def test_same_shape_at_random_times_is_not_ecg():
    rng = np.random.default_rng(5)
    times = np.sort(rng.uniform(0, 600, 120))  # one unit, 12/min, Poisson
    out = run(EventClassifier(FS, 1), make_events([(t, 0, 300.0, MU, 0) for t in times]))
    assert np.count_nonzero(out.label == "ecg") == 0


def test_doublets_are_one_row_with_multiplicity():
    rows = [(1.0, 0, 300.0, MU, 0), (1.035, 0, 290.0, MU, 0),  # doublet
            (5.0, 0, 300.0, MU, 0), (5.03, 0, 310.0, MU, 0), (5.07, 0, 300.0, MU, 0),  # triplet
            (9.0, 0, 300.0, MU, 0), (9.08, 0, 60.0, -MU, 0),  # a different, small unit: not merged
            (12.0, 0, 300.0, MU, 0), (12.5, 0, 300.0, MU, 0)]  # 500 ms apart: two discharges
    out = run(EventClassifier(FS, 1), make_events(rows), chunk_s=1.01)
    assert out.onset_s.round(3).tolist() == [1.0, 5.0, 9.0, 9.08, 12.0, 12.5]
    assert out.multiplicity.tolist() == [2, 3, 1, 1, 1, 1]


def test_artifacts_big_or_in_artifact_zone_and_excluded_dropped():
    rows = [(1.0, 0, 5000.0, MU, 0), (3.0, 0, 300.0, MU, 0), (6.0, 0, 300.0, MU, 0), (9.0, 0, 300.0, MU, 0)]

    def zone(t, c):
        return np.where((t > 2.5) & (t < 3.5), 1, np.where((t > 5.5) & (t < 6.5), 2, 0)).astype(np.int8)

    out = run(EventClassifier(FS, 1), make_events(rows), zone=zone)
    assert list(zip(out.onset_s.round(3), out.label)) == [(1.0, "artifact"), (3.0, "artifact"), (9.0, "fasciculation")]


def test_common_mode_is_artifact_with_three_channels():
    rows = [(2.0, c, 300.0, MU, 2) for c in range(3)] + [(4.0, 1, 300.0, MU, 0)]
    out = run(EventClassifier(FS, 3), make_events(rows))
    assert out.label.tolist() == ["artifact", "artifact", "artifact", "fasciculation"]


def test_a_mains_shaped_burst_is_an_artifact():
    # a canceller residual: 3 cycles of 60 Hz across the +-20 ms window; a motor unit potential
    # of the same size beside it; the rule needs the mains frequency (set by the Analyzer)
    burst = np.cos(2 * np.pi * 60.0 * T * 0.020)
    rows = [(1.0, 0, 300.0, burst, 0), (3.0, 0, 300.0, MU, 0)]
    clf = EventClassifier(FS, 1)
    clf.mains_hz = 60.0
    assert run(clf, make_events(rows)).label.tolist() == ["artifact", "fasciculation"]
    clf = EventClassifier(FS, 1)  # mains not known (or the rule off): nothing to compare with
    assert run(clf, make_events(rows)).label.tolist() == ["fasciculation", "fasciculation"]
    assert mains_share(make_events(rows).waveforms, FS, 60.0)[0] > 0.95
    assert mains_share(make_events(rows).waveforms, FS, 60.0)[1] < 0.5
    assert mains_share(make_events(rows).waveforms, FS, 50.0)[0] < 0.85  # 50 Hz mains: not this one


def test_small_followers_of_a_discharge_are_echoes():
    rows = [(1.0, 0, 500.0, MU, 0), (1.03, 0, 100.0, -MU, 0), (2.0, 0, 500.0, MU, 0), (2.09, 0, 100.0, -MU, 0)]
    out = run(EventClassifier(FS, 1), make_events(rows))
    assert out.onset_s.round(3).tolist() == [1.0, 2.0, 2.09]  # 30 ms after: a ring; 90 ms: a discharge


def test_echo_filter_drops_small_followers_only():
    rows = [(1.0, 0, 500.0, MU, 0), (1.02, 0, 100.0, MU, 0), (1.04, 0, 480.0, MU, 0), (1.3, 0, 100.0, MU, 0),
            (1.01, 1, 50.0, MU, 0)]
    kept = EchoFilter(2)(make_events(rows))
    assert list(zip(kept.onset_s.round(3), kept.channel)) == [(1.0, 0), (1.01, 1), (1.04, 0), (1.3, 0)]


def test_chunking_does_not_change_labels():
    events, _, _ = heart_and_units(seed=3, minutes=2.0)
    a = run(EventClassifier(FS, 1), events, chunk_s=60.0)
    b = run(EventClassifier(FS, 1), events, chunk_s=0.7)
    assert a.sample.tolist() == b.sample.tolist() and a.label.tolist() == b.label.tolist()


def test_subtract_template_removes_a_repeated_beat():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1.0, 5000)
    beats = np.arange(200, 4800, 700)
    for b in beats:
        x[b - 20 : b + 21] += 500 * QRS
    y = subtract_template(x, beats, 20)
    assert np.abs(y[beats]).max() < 5.0
    assert np.abs(x[beats]).min() > 400.0


def test_family_kernel_matches_the_numpy_reference():
    from emg.classify import ShapeFamilies

    rng = np.random.default_rng(11)
    shapes = [QRS, MU, -MU, np.roll(QRS, 5)]
    n = 600
    ch = rng.integers(0, 2, n)
    kind = rng.integers(0, 4, n)
    amps = rng.choice([50.0, 300.0, 310.0, 900.0], n)
    waves = np.array([a * shapes[k] / np.ptp(shapes[k]) + rng.normal(0, 8.0, len(T)) for a, k in zip(amps, kind)])
    waves = waves.astype(np.float32)
    ptp = np.ptp(waves, axis=1)
    ref = ShapeFamilies(2, max_families=3)  # small: the least recently used family gets replaced
    expect = [ref.assign(int(c), w, float(a)) for c, w, a in zip(ch, waves, ptp)]
    fast = ShapeFamilies(2, max_families=3)
    got = np.concatenate([fast.assign_many(ch[i : i + 97], waves[i : i + 97], ptp[i : i + 97]) for i in range(0, n, 97)])
    assert got.tolist() == expect
    assert np.allclose(fast._tpl, ref._tpl) and fast._ids.tolist() == ref._ids.tolist()


def test_small_events_on_two_channels_at_once_are_common_mode():
    # SNR 10 (20 µV over 2 µV noise) on both channels within 20 ms: a faint heartbeat, not counted
    rows = [(2.0, 0, 20.0, MU, 1), (2.004, 1, 20.0, MU, 1), (5.0, 0, 300.0, MU, 1), (5.003, 1, 300.0, -MU, 1),
            (8.0, 0, 20.0, MU, 0)]
    out = run(EventClassifier(FS, 2), make_events(rows))
    assert list(zip(out.onset_s.round(3), out.label)) == [
        (2.0, "artifact"), (2.004, "artifact"), (5.0, "fasciculation"), (5.003, "fasciculation"),
        (8.0, "fasciculation")]


def test_large_heartbeats_make_blanking_windows():
    events, beats, fasc = heart_and_units()
    clf = EventClassifier(FS, 1, blind_k=None)
    out = run(clf, events)
    spans = clf.blanked_intervals()[0]
    # one window -15..+25 ms per labelled beat (SNR 400 >= 20), none around the discharges
    ecg_t = out.onset_s[out.label == "ecg"]
    assert len(spans) == len(ecg_t)
    assert np.allclose([b - a for a, b in spans], 0.040)
    assert np.allclose([a for a, _ in spans], ecg_t - 0.015, atol=1e-6)
    assert not any(a <= t <= b for t in fasc for a, b in spans)
    # a discharge 20 ms after a beat is inside its window: not listed, counted as blanked
    k = len(beats) // 2
    extra = make_events([(beats[k] + 0.020, 0, 300.0, MU, 0)])
    clf2 = EventClassifier(FS, 1, blind_k=None)
    out2 = run(clf2, Events.concat([events, extra]).select(np.argsort(np.concatenate([events.onset_s, extra.onset_s]), kind="stable")))
    assert not np.any(np.abs(out2.onset_s[out2.label == "fasciculation"] - (beats[k] + 0.020)) < 1e-3)
    assert clf2.counts["blanked"] >= 1
    # without blanking the windows are not kept
    clf3 = EventClassifier(FS, 1, blank_snr=None)
    run(clf3, events)
    assert clf3.blanked_intervals() == [[]]


def test_blanked_time_leaves_valid_time_in_the_summary():
    from emg.outputs import summary_dict
    from emg.pipeline import analyze
    from emg.simulate import simulate

    rec, _ = simulate("chest-ecg", minutes=1.5, channels=2, seed=7)
    res = analyze(rec)
    summary = summary_dict(res)
    for name in rec.channel_names:
        spans = res.ecg_blanked[name]
        blanked = summary["ecg_blanked_s"][name]
        # a chest lead at 40-180/min: several windows of >= 40 ms each, a few % of the time
        assert len(spans) >= 20 and 0.02 * rec.duration_s < blanked < 0.25 * rec.duration_s
        assert res.ecg_blanked_s[name] <= sum(b - a for a, b in spans) + 1e-6
        fasc = res.events.onset_s[(res.events.label == "fasciculation") & (res.events.channel == rec.channel_names.index(name))]
        per_hour = [r for r in res.rates if r.channel == name]
        assert sum(r.valid_s for r in per_hour) == pytest.approx(res.valid_s_per_channel[name], abs=0.01)
        counted = sum(r.fasciculations for r in per_hour)
        inside = sum(any(a <= t < b for a, b in spans) for t in fasc)
        assert counted == len(fasc) - inside


def test_blanking_widens_to_where_the_detectors_shadow_hides_a_counted_discharge():
    events, beats, fasc = heart_and_units(seed=3)
    clf = EventClassifier(FS, 1)  # blind_k 4: the peak of the smallest counted discharge (8 x noise p-p)
    out = run(clf, events)
    ecg = out.label == "ecg"
    beat_rows = np.flatnonzero(np.isin(events.sample, out.sample[ecg]))
    peak = np.abs(events.waveforms[beat_rows, len(T) // 2])
    # the shadow (60 % of the peak, 20 ms decay) hides a 4 x noise (2 µV) peak for this long, at most 60 ms
    blind = np.clip(0.020 * np.log(0.6 * peak / (4 * 2.0)), 0.0, 0.060)
    spans = clf.blanked_intervals()[0]
    assert len(spans) == ecg.sum()
    np.testing.assert_allclose([a for a, _ in spans], out.onset_s[ecg] - np.maximum(blind, 0.015), atol=1e-6)
    np.testing.assert_allclose([b for _, b in spans], out.onset_s[ecg] + np.maximum(blind, 0.025), atol=1e-6)
    assert 0.050 < blind.min() and blind.max() <= 0.060  # 800 µV beats over 2 µV noise: blind ~55-60 ms
    # discharges 40 ms before or after a large beat fall in that time: not listed, and not valid time
    k = len(beats) // 2
    extra = make_events([(beats[k] - 0.040, 0, 300.0, MU, 0), (beats[k + 5] + 0.045, 0, 300.0, MU, 0)])
    both = Events.concat([events, extra])
    clf2 = EventClassifier(FS, 1)
    out2 = run(clf2, both.select(np.lexsort((both.channel, both.sample))))
    found = out2.onset_s[out2.label == "fasciculation"]
    assert not np.any(np.abs(found - (beats[k] - 0.040)) < 1e-3)
    assert not np.any(np.abs(found - (beats[k + 5] + 0.045)) < 1e-3)
    # the fixed windows alone (blind_k=None) list them
    out3 = run(EventClassifier(FS, 1, blind_k=None), both.select(np.lexsort((both.channel, both.sample))))
    found3 = out3.onset_s[out3.label == "fasciculation"]
    assert np.any(np.abs(found3 - (beats[k] - 0.040)) < 1e-3)
    assert np.any(np.abs(found3 - (beats[k + 5] + 0.045)) < 1e-3)


def test_the_hidden_first_discharge_of_a_doublet_is_where_the_group_is_counted():
    short = -T * np.exp(-((T / 0.1) ** 2))  # a short biphasic potential (~5 ms)
    twice = short + 0.95 * np.roll(short, -15)  # the same potential again 15 ms before the peak
    rows = [(1.0, 0, 200.0, short, 0), (2.0, 0, 200.0, twice, 0), (3.0, 0, 200.0, short + 0.9 * np.roll(MU, -15), 0)]
    out = run(EventClassifier(FS, 1), make_events(rows))
    assert out.onset_s[out.label == "fasciculation"].round(3).tolist() == [1.0, 1.985, 3.0]  # a different shape: not moved
    for chunk_s in (0.5, 0.99):  # moved back over a chunk boundary: the same rows, in time order
        out = run(EventClassifier(FS, 1), make_events(rows), chunk_s=chunk_s)
        assert out.onset_s[out.label == "fasciculation"].round(3).tolist() == [1.0, 1.985, 3.0]
    out = run(EventClassifier(FS, 1, hidden_corr=None), make_events(rows))
    assert out.onset_s[out.label == "fasciculation"].round(3).tolist() == [1.0, 2.0, 3.0]
    out = run(EventClassifier(250.0, 1), make_events(rows).replace(fs=250.0))  # < 750 Hz: too few samples, off
    assert len(out) == 3 and np.all(out.sample == make_events(rows).sample)


def test_lone_faint_events_are_listed_as_candidates_only_when_asked():
    from emg.classify import FAINT_CANDIDATE

    rows = [(1.0, 0, 12.0, MU, 0),  # SNR 6, alone: a candidate
            (2.0, 0, 100.0, MU, 0), (2.05, 0, 12.0, MU, 0),  # SNR 6 next to a discharge: dropped
            (3.0, 0, 8.0, MU, 0),  # SNR 4, below rescue_snr
            (4.0, 0, 12.0, MU, 0)]  # SNR 6 inside an excluded segment
    zone = lambda t, c: np.where(np.abs(t - 4.0) < 0.5, 2, 0).astype(np.int8)  # noqa: E731
    out = run(EventClassifier(FS, 1, rescue_snr=5.0), make_events(rows), zone=zone)
    assert list(zip(out.onset_s.round(3).tolist(), out.label.tolist())) == [
        (1.0, FAINT_CANDIDATE), (2.0, "fasciculation")]
    out = run(EventClassifier(FS, 1), make_events(rows), zone=zone)  # off by default
    assert list(zip(out.onset_s.round(3).tolist(), out.label.tolist())) == [(2.0, "fasciculation")]


@pytest.mark.parametrize("family_beats", [(20, 0.9), None])
def test_a_heartbeat_family_stays_ecg_where_no_beat_is_detected_near_it(family_beats):
    # lead B carries the rhythm; lead A sees a small piece of every other beat or so (too
    # sparse for its own rhythm), next to B's beats - until B goes quiet (50-60 s: inside a
    # contraction, say). A's pieces there are still heartbeats by their family's history.
    rng = np.random.default_rng(12)
    beats = np.arange(1.0, 80.0, 0.9)
    rows = [(t, 1, 800.0, QRS, 1) for t in beats if not 50.0 <= t < 60.0]
    seen = beats[rng.random(len(beats)) < 0.45]
    rows += [(t + 0.012, 0, 120.0, -QRS, 1) for t in seen]
    units = np.sort(rng.uniform(1, 80, 25))  # a motor unit on A at random times
    units = units[[np.min(np.abs(beats - u)) > 0.15 for u in units]]
    rows += [(u, 0, 300.0, MU, 0) for u in units]
    out = run(EventClassifier(FS, 2, family_beats=family_beats), make_events(rows))
    on_a = out.channel == 0
    quiet = on_a & (out.onset_s >= 50.0) & (out.onset_s < 60.0) & (out.label != "fasciculation")
    pieces = np.count_nonzero((seen >= 50.0) & (seen < 60.0))
    assert pieces >= 3
    if family_beats is None:  # what the rule is for: the pieces counted as fasciculations
        assert np.count_nonzero(quiet) < pieces
    else:
        assert np.count_nonzero(quiet & (out.label == "ecg")) == pieces
    # the unit's discharges stay fasciculations either way
    fasc = out.onset_s[on_a & (out.label == "fasciculation")]
    assert all(np.any(np.abs(fasc - u) < 1e-3) for u in units)
