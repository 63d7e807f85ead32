"""The report: plots and one self-contained HTML page of an analysed folder.

The only part of ``emg`` that uses Matplotlib, always lazily and on an Agg canvas; nothing is
ever shown on screen. ``emg.report.plots`` holds the figure functions (they return Figures),
``emg.report.html`` the page building blocks, ``emg.report.build`` the page itself.

>>> from emg.report import write_report            # doctest: +SKIP
>>> write_report("emg-out", diary="diary.csv").path   # doctest: +SKIP
PosixPath('emg-out/report.html')
"""

from __future__ import annotations

from .build import ReportOutcome, build_report, write_report

__all__ = ["ReportOutcome", "build_report", "write_report"]
