"""Trigger factors: the diary, exposure kernels and the N-of-1 model behind ``emg triggers``.

>>> from emg.triggers import read_diary, read_rates, load_kernels, analyse  # doctest: +SKIP
>>> result = analyse(read_rates(["a.rates.csv"]), read_diary("diary.csv"),  # doctest: +SKIP
...                  load_kernels(None))
"""

from __future__ import annotations

from .diary import Diary, DiaryEntry, read_diary
from .hourly import HourlyCounts, read_rates
from .kernels import Kernel, load_kernels
from .model import analyse
from .result import FactorResult, HourlyFit, SensitivityRow, TriggerResult

__all__ = ["Diary", "DiaryEntry", "FactorResult", "HourlyCounts", "HourlyFit", "Kernel",
           "SensitivityRow", "TriggerResult", "analyse", "load_kernels", "read_diary",
           "read_rates"]
