import datetime as dt

import numpy as np
import pytest

from emg import Annotation, Gap, Recording

UTC = dt.timezone.utc
START = dt.datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def make(data=None, **kw):
    args = dict(fs=1000.0, channel_names=["a", "b"], start=START)
    args.update(kw)
    return Recording(np.zeros((2, 100)) if data is None else data, **args)


def test_recording_stores_float32_and_shape():
    rec = make(np.arange(200, dtype=np.int32).reshape(2, 100))
    assert rec.data.dtype == np.float32
    assert (rec.n_channels, rec.n_samples, rec.duration_s) == (2, 100, 0.1)


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(fs=0), "Invalid value for 'fs'"),
        (dict(fs=float("nan")), "Invalid value for 'fs'"),
        (dict(channel_names=["a", "a"]), "must be unique"),
        (dict(channel_names=["a"]), "data has 2 channels, got 1 names"),
        (dict(channel_names=[]), "at least one channel"),
        (dict(start=dt.datetime(2026, 1, 1)), "timezone-aware"),
        (dict(data=np.zeros(10)), "must be 2-D"),
        (dict(data=np.array([[0.0, np.nan], [0, 0]])), "must be finite, got 1 NaN"),
    ],
)
def test_recording_rejects_bad_values(kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make(**kw)


def test_iter_chunks_covers_all_samples_with_gap_mask():
    data = np.arange(2 * 2500, dtype=np.float32).reshape(2, 2500)
    rec = make(data, gaps=[(1.2, 0.3)])
    chunks = list(rec.iter_chunks(chunk_s=1.0))
    assert [c.first_sample for c in chunks] == [0, 1000, 2000]
    np.testing.assert_array_equal(np.concatenate([c.data for c in chunks], axis=1), data)
    valid = np.concatenate([c.valid for c in chunks])
    assert np.flatnonzero(~valid).tolist() == list(range(1200, 1500))


def test_mne_round_trip_keeps_volts_gaps_and_annotations():
    rng = np.random.default_rng(0)
    data = rng.normal(0, 50, (2, 3000)).astype(np.float32)
    rec = make(data, gaps=[Gap(1.0, 0.5)], annotations=[Annotation(0.2, 0.1, "twitch")])
    raw = rec.to_mne()
    assert raw.get_data().max() == pytest.approx(data.max() * 1e-6, rel=1e-6)
    back = Recording.from_mne(raw)
    np.testing.assert_allclose(back.data, data, rtol=1e-6)
    assert back.gaps == (Gap(1.0, 0.5),)
    assert back.annotations == (Annotation(0.2, 0.1, "twitch"),)
    assert back.start == START
