"""Regenerate this folder: ``python datasets/synthetic_six_weeks/make_dataset.py``.

Writes ``left_calf.rates.csv`` (CONTRACT rates format), ``diary.csv`` (CONTRACT diary format)
and ``truth.json`` from :func:`emg.triggers.synth.simulate_weeks` with a fixed seed. A few
diary times are written with the IANA zone instead of the offset (both forms are valid).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

from emg.triggers.synth import simulate_weeks, write_diary_csv, write_rates_csv

SEED = 20260302
CAFFEINE_RR = 1.35
TRAINING_RR = 1.5


def main(out: Path) -> None:
    sim = simulate_weeks(SEED, weeks=6, caffeine_rr=CAFFEINE_RR, training_rr=TRAINING_RR)
    rows = [list(r) for r in sim.diary_rows]
    for i, row in enumerate(rows[1:], start=1):
        if i % 10 == 0:  # same instant, written as local time + zone
            local = dt.datetime.fromisoformat(row[0])
            row[0] = local.replace(tzinfo=None).isoformat(timespec="minutes") + " Europe/Berlin"
    out.mkdir(parents=True, exist_ok=True)
    write_rates_csv(out / "left_calf.rates.csv", sim.hours, channel="left_calf")
    write_diary_csv(out / "diary.csv", rows)
    truth = {"seed": SEED, "rate_ratio": sim.truth,
             "contrast": {"caffeine": "per 100 mg of caffeine load (half-life 5 h)",
                          "strength_training": "per session just finished, fading over 48 h",
                          "others": "no effect (null factors)"}}
    (out / "truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
