"""The emulated MyoWare bridge produces plausible rest EMG at 24.4 µV per count."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from emg.devices.myoware import MyowareDecoder, MyowareDevice

UV_PER_COUNT_UNO = 5000e3 / 1024 / 200  # 24.414 µV


def _through_bridge(x_uv: np.ndarray, step: int, **device_kw) -> np.ndarray:
    dev = MyowareDevice(clock=lambda: 0.0, **device_kw)
    dev.on_host_bytes(b"start\n")
    dec = MyowareDecoder()
    frames = []
    for i in range(0, x_uv.shape[1], step):
        frames += dec.feed(b"".join(dev.encode(x_uv[:, i : i + step])))
    return np.concatenate([f.samples_uv for f in frames], axis=1)


def test_adc_noise_dithers_a_steady_input_and_does_not_depend_on_chunking():
    x = np.full((4, 20_000), 3.0)  # a steady input a fraction of a count off a step
    y = _through_bridge(x, 10, highpass_hz=None)
    np.testing.assert_array_equal(y, _through_bridge(x, 20_000, highpass_hz=None))
    # 0.5 count RMS of noise, rounded: sqrt(0.5**2 + 1/12) counts (dither makes rounding noise uniform)
    expected = UV_PER_COUNT_UNO * np.sqrt(0.25 + 1 / 12)
    np.testing.assert_allclose(y.std(axis=1), expected, rtol=0.05)
    np.testing.assert_allclose(y.mean(axis=1), 3.0, atol=0.5)  # dithered: the mean survives rounding
    assert np.ptp(_through_bridge(x, 100, highpass_hz=None, adc_noise_lsb=0.0)) == 0.0


def test_adc_noise_must_be_non_negative():
    with pytest.raises(ValueError, match="Invalid value for 'adc_noise_lsb'"):
        MyowareDevice(adc_noise_lsb=-1.0)


def test_quiet_rest_through_the_emulated_bridge_gives_no_stream_of_false_events():
    """Simulated rest without fasciculations (with ±20 mV electrode offsets) through the bridge:
    no sample on the rails, rest-like noise, and the detector finds (almost) nothing. Without
    the ADC noise, channels whose signal stays within one 24.4 µV step read as isolated steps
    and the detector reported ~2 false events per second on such a channel."""
    from emg.detect import detect
    from emg.simulate import simulate

    rec, truth = simulate("quiet", minutes=1.0, fs=1000.0, channels=4, seed=0)
    assert not len(truth.events_of("fasciculation"))
    y = _through_bridge(rec.data.astype(np.float64), 1000)
    assert y.shape == rec.data.shape
    assert np.abs(y).max() < 100 * UV_PER_COUNT_UNO  # far from the ±512-count rails
    rms = y[:, 1000:].std(axis=1)
    assert np.all((rms > 10.0) & (rms < 60.0))  # µV: noise + mains, a few counts
    events = detect(dataclasses.replace(rec, data=y.astype(np.float32)))
    assert len(events.sample) <= 2  # over 4 channel-minutes (before: 140-290)
