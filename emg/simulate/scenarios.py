"""Named simulation scenarios: what is planted, how big, how often."""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = ["SCENARIOS", "Scenario", "get_scenario"]


@dataclass(frozen=True)
class Scenario:
    """Parameters of one scenario (ranges are drawn per channel or per event).

    Amplitudes are peak-to-peak µV, noise is RMS µV, rates are per minute per channel
    unless said otherwise.
    """

    description: str
    fs: float = 1000.0  # default device rate when the caller gives none
    noise_uv: tuple[float, float] = (2.0, 4.0)  # background RMS in the 20-250 Hz band
    noise_drift: float = 0.15  # relative slow drift of the noise level (SD of log level)
    offset_uv: float = 20000.0  # max |electrode DC offset|
    wander_uv: float = 150.0  # offset wander (< 1 Hz) RMS
    mains_hz: float = 50.0
    mains_uv: tuple[float, float] = (10.0, 30.0)  # fundamental amplitude
    harmonics: tuple[float, ...] = (0.05, 0.3, 0.03, 0.12, 0.02, 0.06)  # 2nd..7th relative
    mains_wander: float = 0.3  # relative slow amplitude variation
    fasc_per_min: float = 8.0  # fasciculation discharges (groups) per channel
    units: tuple[int, int] = (3, 5)  # fasciculating units per channel
    amp_uv: tuple[float, float] = (60.0, 800.0)  # per unit, log-uniform
    doublet_p: float = 0.08  # chance that a discharge is followed by a second one
    triplet_p: float = 0.015  # chance of a third
    ecg_uv: tuple[float, float] = (4.0, 10.0)  # R-wave amplitude (0 = none)
    ecg_bpm: tuple[float, float] = (55.0, 80.0)
    voluntary_per_min: float = 0.0
    cramp_per_min: float = 0.0
    myokymia_per_min: float = 0.0
    motion_per_min: float = 0.0
    pop_per_min: float = 0.0
    saturation_per_min: float = 0.0


_CLEAN = Scenario("good contact, 2-4 µV noise, 50 Hz mains, 3-5 fasciculating units per channel (8/min)")

SCENARIOS_CONFIG: dict[str, Scenario] = {
    "clean": _CLEAN,
    "cyton-250": replace(
        _CLEAN,
        description="as clean but at 250 Hz (OpenBCI Cyton default): potentials 2-3 samples wide",
        fs=250.0,
        noise_uv=(2.5, 4.0),
        mains_uv=(20.0, 60.0),
    ),
    "mains-60": replace(
        _CLEAN,
        description="60 Hz mains of 100-300 µV with strong odd harmonics and drifting amplitude",
        mains_hz=60.0,
        mains_uv=(100.0, 300.0),
        harmonics=(0.1, 0.5, 0.05, 0.25, 0.03, 0.12),
        mains_wander=0.5,
    ),
    "chest-ecg": replace(
        _CLEAN,
        description="chest-like ECG (R 300-1500 µV, 50-110 bpm) on every channel, plus fasciculations",
        ecg_uv=(300.0, 1500.0),
        ecg_bpm=(50.0, 110.0),
    ),
    "voluntary": replace(
        _CLEAN,
        description="fasciculations plus voluntary bouts (many units in regular 6-30 Hz trains, 1-6 s)",
        voluntary_per_min=1.0,
    ),
    "motion": replace(
        _CLEAN,
        description="fasciculations plus motion artefacts, electrode pops and saturation",
        motion_per_min=2.0,
        pop_per_min=1.0,
        saturation_per_min=0.3,
    ),
    "low-snr": replace(
        _CLEAN,
        description="small potentials (50-250 µV) in 5-7 µV noise with stronger drift",
        noise_uv=(5.0, 7.0),
        noise_drift=0.25,
        amp_uv=(50.0, 250.0),
    ),
    "quiet": replace(
        _CLEAN,
        description="rest without fasciculations: noise, mains, offset wander, faint limb ECG",
        fasc_per_min=0.0,
    ),
    "mixed": replace(
        _CLEAN,
        description="everything: larger ECG, voluntary bouts, cramp, myokymia, motion, pops, saturation",
        ecg_uv=(20.0, 200.0),
        voluntary_per_min=0.5,
        cramp_per_min=0.1,
        myokymia_per_min=0.15,
        motion_per_min=1.0,
        pop_per_min=0.5,
        saturation_per_min=0.1,
    ),
    "cramp": replace(
        _CLEAN,
        description="fasciculations plus cramps (6-25 Hz per unit, interval CV about 45 %, 5-30 s)",
        cramp_per_min=0.3,
    ),
    "myokymia": replace(
        _CLEAN,
        description="fasciculations plus myokymic episodes (bursts of one unit recurring 2-8 times a second)",
        myokymia_per_min=0.4,
    ),
}

#: scenario name -> one-line description
SCENARIOS: dict[str, str] = {name: sc.description for name, sc in SCENARIOS_CONFIG.items()}


def get_scenario(name: str) -> Scenario:
    """The parameters of scenario ``name``; a clear error for unknown names."""
    try:
        return SCENARIOS_CONFIG[name]
    except (KeyError, TypeError):
        allowed = ", ".join(repr(n) for n in SCENARIOS_CONFIG)
        raise ValueError(f"Invalid value for 'scenario': allowed are {allowed}, got {name!r}.") from None
