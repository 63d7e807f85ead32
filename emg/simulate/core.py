"""``simulate``: seeded synthetic resting surface EMG with its ground truth."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
from scipy import signal

from ..types import Recording
from .scenarios import Scenario, get_scenario
from .shapes import Renderer, ecg_shape, motion_shape, muap_shape, pop_shape
from .truth import EVENT_DTYPE, Interval, Truth

__all__ = ["RAIL_UV", "simulate"]

#: where a saturated channel sits (Cyton at gain 24: 4.5 V / 24 = 187.5 mV)
RAIL_UV = 187500.0
_DEFAULT_START = dt.datetime(2026, 1, 5, 8, 0, 0, tzinfo=dt.UTC)
_MARGIN_S = 0.25  # fasciculations are not planted this close to an interval of their channel


def _slow(rng: np.random.Generator, n: int, fs: float, tau_s: float) -> np.ndarray:
    """Unit-variance Ornstein-Uhlenbeck process of time constant ``tau_s``, length ``n``."""
    step_s = max(tau_s / 10.0, 1.0 / fs)
    m = int(math.ceil(n / fs / step_s)) + 2
    a = math.exp(-step_s / tau_s)
    e = rng.standard_normal(m) * math.sqrt(1 - a * a)
    z = signal.lfilter([1.0], [1.0, -a], e, zi=[rng.standard_normal() * a])[0]
    return np.interp(np.arange(n) / fs, np.arange(m) * step_s, z)


def _check_args(minutes, fs, channels, seed):
    if not (isinstance(minutes, (int, float)) and math.isfinite(minutes) and minutes > 0):
        raise ValueError(f"Invalid value for 'minutes': must be a positive number, got {minutes!r}.")
    if not (isinstance(fs, (int, float)) and math.isfinite(fs) and 100.0 <= fs <= 20000.0):
        raise ValueError(f"Invalid value for 'fs': must be a sample rate in Hz between 100 and 20000, got {fs!r}.")
    if not (isinstance(channels, (int, np.integer)) and 1 <= channels <= 64):
        raise ValueError(f"Invalid value for 'channels': must be an integer from 1 to 64, got {channels!r}.")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"Invalid value for 'seed': must be a non-negative integer, got {seed!r}.")


class _Builder:
    """Holds the shared state of one simulation (rates, renderer, truth rows)."""

    def __init__(self, sc: Scenario, fs: float, n: int, n_ch: int, seed: int):
        self.sc, self.fs, self.n, self.n_ch = sc, fs, n, n_ch
        self.duration_s = n / fs
        self.r = Renderer(fs)
        root = np.random.SeedSequence(seed)
        shared, *per_channel = root.spawn(1 + n_ch)
        self.rng = np.random.default_rng(shared)
        self.ch_rng = [np.random.default_rng(s) for s in per_channel]
        self.rows: list[tuple] = []
        self.intervals: list[Interval] = []
        self.units: list[dict] = []
        self.group = 0
        band_hi = min(250.0, 0.45 * fs)
        self.band = signal.butter(4, [20.0, band_hi], btype="bandpass", fs=fs, output="sos")

    # -- intervals, decided first ------------------------------------------------------
    def _count(self, per_min: float) -> int:
        return int(self.rng.poisson(per_min * self.duration_s / 60.0)) if per_min > 0 else 0

    def _place(self, length_s: float) -> float:
        return float(self.rng.uniform(1.0, max(1.0, self.duration_s - length_s - 1.0)))

    def _subset(self, p: float) -> list[int]:
        chosen = [c for c in range(self.n_ch) if self.rng.random() < p]
        return chosen or [int(self.rng.integers(self.n_ch))]

    def plan_intervals(self) -> list[dict]:
        sc, plans = self.sc, []
        for _ in range(self._count(sc.voluntary_per_min)):
            length = float(self.rng.uniform(1.0, 6.0))
            plans.append({"kind": "voluntary", "start": self._place(length), "length": length,
                          "channels": self._subset(0.7)})
        for _ in range(self._count(sc.cramp_per_min)):
            length = float(self.rng.uniform(5.0, 30.0))
            plans.append({"kind": "cramp", "start": self._place(length), "length": length,
                          "channels": [int(self.rng.integers(self.n_ch))]})
        for _ in range(self._count(sc.myokymia_per_min)):
            length = float(self.rng.uniform(2.0, 10.0))
            plans.append({"kind": "myokymia", "start": self._place(length), "length": length,
                          "channels": [int(self.rng.integers(self.n_ch))]})
        for _ in range(self._count(sc.motion_per_min)):
            length = float(self.rng.uniform(0.3, 1.5))
            every = self.rng.random() < 0.7
            plans.append({"kind": "motion", "start": self._place(length), "length": length,
                          "channels": list(range(self.n_ch)) if every else [int(self.rng.integers(self.n_ch))],
                          "all": every, "amp": float(self.rng.uniform(200, 3000))})
        for _ in range(self._count(sc.pop_per_min)):
            tau = float(self.rng.uniform(0.1, 0.5))
            every = self.rng.random() < 0.3
            plans.append({"kind": "pop", "start": self._place(3 * tau), "length": 3 * tau, "tau": tau,
                          "channels": list(range(self.n_ch)) if every else [int(self.rng.integers(self.n_ch))],
                          "all": every, "amp": float(self.rng.uniform(500, 5000))})
        for _ in range(self._count(sc.saturation_per_min)):
            length = float(self.rng.uniform(0.5, 5.0))
            every = self.rng.random() < 0.4
            plans.append({"kind": "saturation", "start": self._place(length), "length": length,
                          "channels": list(range(self.n_ch)) if every else [int(self.rng.integers(self.n_ch))],
                          "all": every})
        label = {"voluntary": "voluntary", "cramp": "cramp", "myokymia": "myokymia", "motion": "artifact",
                 "pop": "artifact", "saturation": "saturation"}
        for p in plans:
            lo, hi = p["start"], p["start"] + p["length"]
            if p.get("all") and self.n_ch > 1:
                self.intervals.append(Interval(lo, hi, label[p["kind"]], None))
            else:
                for c in p["channels"]:
                    self.intervals.append(Interval(lo, hi, label[p["kind"]], c))
        return plans

    def blocked(self, channel: int, t: float) -> bool:
        return any(iv.start_s - _MARGIN_S <= t <= iv.end_s + _MARGIN_S for iv in self.intervals if iv.covers(channel))

    # -- per-channel components ----------------------------------------------------------
    def background(self, c: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
        sc, fs, n = self.sc, self.fs, self.n
        white = rng.standard_normal(n)
        # gentle roll-off above ~0.3 fs (tissue and electrode low-pass), then 1/f-ish low end
        b, a = signal.butter(1, min(0.3 * fs, 300.0), fs=fs)
        noise = signal.lfilter(b, a, white) + 0.3 * np.cumsum(rng.standard_normal(n)) / math.sqrt(fs)
        level = np.exp(sc.noise_drift * _slow(rng, n, fs, 60.0))
        band_rms = float(np.std(signal.sosfilt(self.band, noise)[int(fs):])) if n > 2 * fs else float(np.std(noise))
        sigma = rng.uniform(*sc.noise_uv)
        noise *= sigma / band_rms * level
        offset = rng.uniform(-sc.offset_uv, sc.offset_uv) + sc.wander_uv * _slow(rng, n, fs, 5.0)
        return noise + offset, sigma * float(np.mean(level))

    def mains(self, rng: np.random.Generator) -> np.ndarray:
        sc, fs, n = self.sc, self.fs, self.n
        t = np.arange(n) / fs
        freq = sc.mains_hz + 0.02 * _slow(rng, n, fs, 20.0)
        phase = 2 * np.pi * np.cumsum(freq) / fs + rng.uniform(0, 2 * np.pi)
        amp = rng.uniform(*sc.mains_uv) * np.clip(1 + sc.mains_wander * _slow(rng, n, fs, 30.0), 0.1, None)
        out = amp * self.r.gain(sc.mains_hz) * np.cos(phase)
        for k, rel in enumerate(sc.harmonics, start=2):
            g = self.r.gain(k * sc.mains_hz)
            if rel * g > 1e-4:
                out += rel * g * amp * np.cos(k * phase + rng.uniform(0, 2 * np.pi))
        del t
        return out

    def fasciculations(self, c: int, rng: np.random.Generator, y: np.ndarray) -> None:
        sc, r = self.sc, self.r
        if sc.fasc_per_min <= 0:
            return
        n_units = int(rng.integers(sc.units[0], sc.units[1] + 1))
        templates, amps = [], []
        for u in range(n_units):
            dur = float(rng.uniform(5.0, 20.0))
            phases = int(rng.integers(2, 5))
            amp = float(np.exp(rng.uniform(np.log(sc.amp_uv[0]), np.log(sc.amp_uv[1]))))
            tpl = r.prepare(muap_shape(rng, r.fs_hi, dur, phases))
            templates.append(tpl)
            amps.append(amp / tpl.pp)  # gain giving 'amp' peak-to-peak after the anti-alias filter
            self.units.append({"channel": c, "unit": u, "amplitude_uv": round(amp, 1), "duration_ms": round(dur, 1),
                               "phases": phases})
        share = rng.dirichlet(np.full(n_units, 2.0))
        n_groups = int(rng.poisson(sc.fasc_per_min * self.duration_s / 60.0))
        if self.duration_s < 1.0:
            n_groups = 0  # too short to plant a whole potential away from the edges
        starts = np.sort(rng.uniform(0.2, max(0.2, self.duration_s - 0.3), n_groups))
        for t0 in starts:
            u = int(rng.choice(n_units, p=share))
            times = [float(t0)]
            if rng.random() < sc.doublet_p:
                times.append(times[-1] + float(np.clip(rng.lognormal(np.log(0.034), 0.4), 0.010, 0.110)))
                if rng.random() < sc.triplet_p / sc.doublet_p:
                    times.append(times[-1] + float(np.clip(rng.lognormal(np.log(0.034), 0.4), 0.010, 0.110)))
            if any(self.blocked(c, t) for t in times) or times[-1] > self.duration_s - 0.1:
                continue
            self.group += 1
            for order, t in enumerate(times, start=1):
                gain = amps[u] * (1 + 0.05 * rng.standard_normal())
                r.add(y, templates[u], t, gain)
                self.rows.append((r.peak_time(templates[u], t), c, u, "fasciculation",
                                  abs(gain) * templates[u].pp, self.group, order, len(times)))

    def ecg(self, y_all: list[np.ndarray]) -> None:
        sc, r, rng = self.sc, self.r, self.rng
        if sc.ecg_uv[1] <= 0:
            return
        tpl = r.prepare(ecg_shape(rng, r.fs_hi))
        hr = rng.uniform(*sc.ecg_bpm)
        slow = _slow(rng, int(self.duration_s) + 2, 1.0, 30.0)
        gains = [rng.uniform(*sc.ecg_uv) * rng.choice([-1.0, 1.0]) for _ in range(self.n_ch)]
        t = rng.uniform(0, 60.0 / hr)
        while t < self.duration_s - 0.5:
            start = t - 0.25
            for c, y in enumerate(y_all):
                r.add(y, tpl, start, gains[c])
                self.rows.append((r.peak_time(tpl, start), c, -1, "ecg", abs(gains[c]) * tpl.pp, 0, 1, 1))
            bpm = np.clip(hr * (1 + 0.1 * slow[int(t)]), 40.0, 180.0)
            t += 60.0 / bpm * (1 + 0.03 * rng.standard_normal())

    def _trains(self, rng, y, lo, hi, n_units, amp_uv, rate_hz, cv, ramp_s, interference_uv):
        """Many units firing renewal trains (gamma intervals of the given CV) in [lo, hi)."""
        r = self.r
        for _ in range(n_units):
            tpl = r.prepare(muap_shape(rng, r.fs_hi, rng.uniform(5, 20), int(rng.integers(2, 5))))
            gain = float(np.exp(rng.uniform(np.log(amp_uv[0]), np.log(amp_uv[1])))) / tpl.pp
            rate = rng.uniform(*rate_hz)
            shape = 1.0 / cv**2
            t = lo + rng.uniform(0, ramp_s)
            stop = hi - rng.uniform(0, ramp_s)
            while t < stop:
                r.add(y, tpl, t, gain * (1 + 0.05 * rng.standard_normal()))
                t += rng.gamma(shape, 1.0 / (rate * shape))
        if interference_uv > 0:
            a, b = int(lo * self.fs), min(int(hi * self.fs), self.n)
            if b - a > 4:
                noise = signal.sosfilt(self.band, rng.standard_normal(b - a + int(self.fs)))[int(self.fs):]
                env = np.ones(b - a)
                k = min(int(ramp_s * self.fs), (b - a) // 2)
                if k > 0:
                    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, k))
                    env[:k], env[-k:] = ramp, ramp[::-1]
                y[a:b] += interference_uv * env * noise / max(noise.std(), 1e-12)

    def confounders(self, plans: list[dict], y_all: list[np.ndarray]) -> list[tuple[int, int, int]]:
        """Render the planned intervals; return saturation spans (channel, a, b) to clip last."""
        r, rng, saturate = self.r, self.rng, []
        for p in plans:
            lo, hi = p["start"], p["start"] + p["length"]
            for c in p["channels"]:
                y = y_all[c]
                if p["kind"] == "voluntary":
                    self._trains(rng, y, lo, hi, int(rng.integers(6, 16)), (30, 400), (6, 30),
                                 rng.uniform(0.1, 0.25), 0.2, rng.uniform(10, 40))
                elif p["kind"] == "cramp":
                    self._trains(rng, y, lo, hi, int(rng.integers(3, 9)), (100, 1000), (6, 25), 0.45, 0.5,
                                 rng.uniform(20, 80))
                elif p["kind"] == "myokymia":
                    tpl = r.prepare(muap_shape(rng, r.fs_hi, rng.uniform(6, 15), int(rng.integers(2, 4))))
                    gain = rng.uniform(100, 500) / tpl.pp
                    burst_hz, t = rng.uniform(2, 8), lo
                    while t < hi:
                        spikes, isi = int(rng.integers(3, 9)), rng.uniform(0.010, 0.030)
                        for k in range(spikes):
                            r.add(y, tpl, t + k * isi * (1 + 0.1 * rng.standard_normal()), gain)
                        t += (1 / burst_hz) * (1 + 0.1 * rng.standard_normal())
                elif p["kind"] == "motion":
                    tpl = r.prepare(motion_shape(rng, r.fs_hi, p["length"]))
                    r.add(y, tpl, lo, p["amp"] * rng.uniform(0.3, 1.0) * rng.choice([-1, 1]))
                elif p["kind"] == "pop":
                    tpl = r.prepare(pop_shape(r.fs_hi, p["tau"]))
                    r.add(y, tpl, lo, p["amp"] * rng.uniform(0.5, 1.0) * rng.choice([-1, 1]))
                elif p["kind"] == "saturation":
                    a, b = int(lo * self.fs), min(int(math.ceil(hi * self.fs)), self.n)
                    saturate.append((c, a, b))
        return saturate


def simulate(
    scenario: str = "clean",
    *,
    minutes: float = 10.0,
    fs: float | None = None,
    channels: int = 1,
    seed: int = 0,
    start: dt.datetime | None = None,
) -> tuple[Recording, Truth]:
    """Synthetic resting surface EMG with a truth table of everything planted.

    Parameters
    ----------
    scenario : str
        One of :data:`emg.simulate.SCENARIOS` (``"clean"``, ``"cyton-250"``, ...).
    minutes : float
        Length in minutes.
    fs : float | None
        Device sample rate in Hz (250, 500, 1000, 2000, ...). None takes the scenario's
        own rate (250 Hz for ``cyton-250``, 1000 Hz otherwise).
    channels : int
        Number of channels (independent muscles; ECG, motion and some artefacts are shared).
    seed : int
        Random seed; channel ``c`` of a seed is the same whatever ``channels`` is, apart
        from the shared sources.
    start : datetime | None
        Timezone-aware start time (default 2026-01-05 08:00 UTC).

    Returns
    -------
    recording : Recording
        float32 µV, channels named ``EMG1``, ``EMG2``, ...; includes the electrode offset.
    truth : Truth
        Planted events and intervals.

    Examples
    --------
    >>> rec, truth = simulate("clean", minutes=0.5, seed=1)
    >>> rec.fs, rec.n_channels
    (1000.0, 1)
    """
    sc = get_scenario(scenario)
    fs = float(sc.fs if fs is None else fs) if not isinstance(fs, bool) else fs
    _check_args(minutes, fs, channels, seed)
    start = _DEFAULT_START if start is None else start
    n = int(round(minutes * 60.0 * fs))
    b = _Builder(sc, fs, n, int(channels), int(seed))
    plans = b.plan_intervals()
    ys, noise = [], []
    for c in range(b.n_ch):
        rng = b.ch_rng[c]
        y, sigma = b.background(c, rng)
        y += b.mains(rng)
        b.fasciculations(c, rng, y)
        ys.append(y)
        noise.append(sigma)
    b.ecg(ys)
    for c, lo, hi in b.confounders(plans, ys):
        ys[c][lo:hi] = RAIL_UV * (1.0 if b.rng.random() < 0.5 else -1.0)
    data = np.clip(np.vstack(ys), -RAIL_UV, RAIL_UV).astype(np.float32)
    rec = Recording(data, fs=fs, channel_names=[f"EMG{c + 1}" for c in range(b.n_ch)], start=start,
                    format="simulated")
    events = np.array(b.rows, dtype=EVENT_DTYPE) if b.rows else np.zeros(0, EVENT_DTYPE)
    truth = Truth(scenario=scenario, seed=int(seed), fs=fs, n_channels=b.n_ch, duration_s=n / fs,
                  mains_hz=sc.mains_hz, noise_uv=tuple(noise), events=events, intervals=tuple(b.intervals),
                  units=tuple(b.units))
    return rec, truth
