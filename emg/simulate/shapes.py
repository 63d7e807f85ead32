"""Waveform templates at the synthesis rate and their exact rendering at the device rate.

Every sparse waveform (MUAP, ECG beat, electrode pop, motion bump) is defined at the
synthesis rate ``fs_hi`` (8 kHz or more, at least 4x the device rate), passed through the
anti-alias FIR and then sampled every ``decimation``-th sample, exactly as a sigma-delta
amplifier's decimator does. Because the FIR is linear, this is done once per template
(polyphase): an event at any 1/fs_hi position adds the matching phase of the filtered
template. Sinusoids (mains) are handled analytically by :meth:`Renderer.gain`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal

__all__ = ["Renderer", "Template", "ecg_shape", "motion_shape", "muap_shape", "pop_shape"]

SYNTH_RATE_HZ = 8000.0


@dataclass(frozen=True, eq=False)
class Template:
    """A waveform after the anti-alias filter, at the synthesis rate."""

    filtered: np.ndarray  # float64, fs_hi samples, starting ``delay`` samples before the raw template
    peak_offset: int  # index of the largest |value| in ``filtered``
    pp: float  # peak-to-peak of ``filtered``


class Renderer:
    """Anti-alias filter and polyphase placement for one device rate.

    Parameters
    ----------
    fs : float
        Device sample rate in Hz.
    """

    def __init__(self, fs: float):
        self.fs = float(fs)
        self.decimation = max(4, math.ceil(SYNTH_RATE_HZ / self.fs))
        self.fs_hi = self.fs * self.decimation
        self.delay = 16 * self.decimation  # half the FIR length, in fs_hi samples
        n_taps = 2 * self.delay + 1
        self.fir = signal.firwin(n_taps, 0.4 * self.fs, fs=self.fs_hi, window=("kaiser", 7.0))

    def gain(self, freq_hz: float) -> float:
        """|H(f)| of the anti-alias filter (zero phase: the FIR is centred)."""
        w = 2 * np.pi * freq_hz / self.fs_hi
        k = np.arange(len(self.fir)) - self.delay
        return float(abs(np.sum(self.fir * np.cos(w * k))))

    def prepare(self, raw_hi: np.ndarray) -> Template:
        """Filter a template sampled at ``fs_hi`` (its first sample is its start)."""
        filtered = np.convolve(np.asarray(raw_hi, float), self.fir)
        peak = int(np.argmax(np.abs(filtered)))
        return Template(filtered, peak, float(filtered.max() - filtered.min()))

    def peak_time(self, template: Template, start_s: float) -> float:
        """Time (s) of the largest deflection of ``template`` placed at ``start_s``."""
        j0 = round(start_s * self.fs_hi)
        return (j0 - self.delay + template.peak_offset) / self.fs_hi

    def add(self, out: np.ndarray, template: Template, start_s: float, gain: float = 1.0) -> None:
        """Add ``gain`` x the template, whose raw start is at ``start_s``, into ``out`` (device rate)."""
        d = self.decimation
        j0 = round(start_s * self.fs_hi)
        first = j0 - self.delay  # fs_hi index of filtered[0]
        m_lo = -(-first // d)  # ceil
        idx0 = m_lo * d - first
        seg = template.filtered[idx0::d]
        lo, hi = m_lo, m_lo + len(seg)
        if hi <= 0 or lo >= len(out):
            return
        a, b = max(lo, 0), min(hi, len(out))
        out[a:b] += gain * seg[a - lo : b - lo]


def muap_shape(rng: np.random.Generator, fs_hi: float, duration_ms: float, phases: int) -> np.ndarray:
    """A MUAP of ``phases`` alternating lobes over ``duration_ms``, peak-to-peak 1.

    Lobes are Gaussians of random width and size (the largest is random), so every unit
    gets its own shape; the net area is zero, as in a bipolar surface recording.
    """
    d = duration_ms / 1000.0
    n = int(round((d + 0.004) * fs_hi))
    t = np.arange(n) / fs_hi - 0.002
    spacing = d / phases
    sign = 1.0 if rng.random() < 0.5 else -1.0
    x = np.zeros(n)
    big = rng.integers(phases)
    for i in range(phases):
        centre = (i + 0.5) * spacing + rng.normal(0, 0.08) * spacing
        width = spacing * rng.uniform(0.28, 0.42)
        size = 1.0 if i == big else rng.uniform(0.3, 0.85)
        x += sign * (-1) ** i * size * np.exp(-0.5 * ((t - centre) / width) ** 2)
    x -= np.linspace(x[0], x[-1], n)  # both ends at 0
    # zero net area, as in a bipolar (differential) surface recording
    env = np.sin(np.pi * np.arange(n) / (n - 1)) ** 2
    x -= x.sum() / env.sum() * env
    return x / (x.max() - x.min())


def ecg_shape(rng: np.random.Generator, fs_hi: float) -> np.ndarray:
    """One P-QRS-T beat, R wave of height 1 at 0.25 s from the start; 0.7 s long."""
    t = np.arange(int(0.7 * fs_hi)) / fs_hi - 0.25

    def g(centre, width, size):
        return size * np.exp(-0.5 * ((t - centre) / width) ** 2)

    return (
        g(-0.16, 0.025, rng.uniform(0.08, 0.15))
        + g(-0.022, 0.006, -rng.uniform(0.05, 0.15))
        + g(0.0, rng.uniform(0.007, 0.010), 1.0)
        + g(0.024, 0.008, -rng.uniform(0.15, 0.35))
        + g(0.26, 0.05, rng.uniform(0.15, 0.3))
    )


def pop_shape(fs_hi: float, tau_s: float) -> np.ndarray:
    """An electrode pop: a step of height 1 relaxing with time constant ``tau_s``."""
    t = np.arange(int(5 * tau_s * fs_hi)) / fs_hi
    x = np.exp(-t / tau_s)
    x[-int(0.05 * len(x)) :] *= np.linspace(1, 0, int(0.05 * len(x)))
    return x


def motion_shape(rng: np.random.Generator, fs_hi: float, duration_s: float) -> np.ndarray:
    """A low-frequency movement transient of 1-2 cycles with a rough edge, peak 1."""
    t = np.arange(int(duration_s * fs_hi)) / fs_hi
    cycles = rng.uniform(0.5, 2.0)
    x = np.sin(2 * np.pi * cycles * t / duration_s) * np.sin(np.pi * t / duration_s) ** 2
    # a cable/skin rub: a few sharp jolts riding on the movement
    for _ in range(rng.integers(1, 4)):
        c = rng.uniform(0.1, 0.9) * duration_s
        x += rng.uniform(0.1, 0.3) * rng.choice([-1, 1]) * np.exp(-0.5 * ((t - c) / 0.004) ** 2)
    return x / np.abs(x).max()
