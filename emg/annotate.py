"""Analysis results as annotations: a BDF+ copy for EDFbrowser and an MNE ``Raw`` for Python.

Each event becomes a zero-length annotation at its largest deflection (the contract's
``onset_s``) described ``"<label> <channel>"`` - e.g. ``"fasciculation EMG1"``, with
``" unit 2"`` when a putative motor unit was assigned and ``" x2"`` for a doublet; each
segment becomes an annotation over its interval described by its label, followed by the
channel when it concerns one channel only (``"voluntary EMG2"``, ``"artifact"``). Gaps are
already annotations ``gap`` of the recording and are not repeated.

>>> import emg
>>> rec, truth = emg.simulate("clean", minutes=1, seed=1)   # doctest: +SKIP
>>> raw = emg.to_mne(rec, emg.analyze(rec))                 # doctest: +SKIP
>>> sorted(set(raw.annotations.description))                # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING

from .types import Annotation, Recording

if TYPE_CHECKING:  # pragma: no cover
    from .pipeline import AnalysisResult

__all__ = ["annotated_recording", "result_annotations", "to_mne", "write_annotated"]


def result_annotations(result: AnalysisResult) -> list[Annotation]:
    """The events and segments of ``result`` as :class:`~emg.types.Annotation` (seconds from start)."""
    names = result.info.channel_names
    ev = result.events
    out = []
    onset = ev.onset_s
    for i in range(len(ev)):
        text = f"{ev.label[i] or 'event'} {names[int(ev.channel[i])]}"
        if ev.unit[i] >= 0:
            text += f" unit {int(ev.unit[i])}"
        if ev.multiplicity[i] > 1:
            text += f" x{int(ev.multiplicity[i])}"
        out.append(Annotation(float(onset[i]), 0.0, text))
    for seg in result.segments:
        if seg.label == "gap":
            continue
        text = seg.label if seg.channel is None else f"{seg.label} {names[seg.channel]}"
        out.append(Annotation(float(seg.start_s), float(seg.end_s - seg.start_s), text))
    return sorted(out, key=lambda a: (a.onset_s, a.description))


def annotated_recording(recording: Recording, result: AnalysisResult) -> Recording:
    """A copy of ``recording`` whose annotations also hold the events and segments of ``result``."""
    if recording.channel_names != result.info.channel_names:
        raise ValueError(
            f"Invalid value for 'result': it was computed on channels {list(result.info.channel_names)}, "
            f"the recording has {list(recording.channel_names)}."
        )
    return dataclasses.replace(recording, annotations=tuple(recording.annotations) + tuple(result_annotations(result)))


def write_annotated(result: AnalysisResult, path: str | os.PathLike, *, recording: Recording | None = None,
                    format: str = "auto", fs: float | None = None) -> None:
    """Write a BDF+ copy of the analysed recording with the events and segments as annotations.

    Parameters
    ----------
    result : AnalysisResult
    path : path-like
        Output ``.bdf`` file (overwritten).
    recording : Recording, optional
        The analysed recording; read again from ``result.input`` when not given (the whole
        file is loaded into memory).
    format, fs
        Passed to :func:`emg.io.read` when the recording is read again.
    """
    from .io import read, write_bdf

    if recording is None:
        if not result.input:
            raise ValueError("Invalid value for 'recording': the result has no input file to read, pass the recording.")
        recording = read(result.input, format=format, fs=fs)
    write_bdf(annotated_recording(recording, result), path)


def to_mne(recording: Recording, result: AnalysisResult | None = None):
    """An :class:`mne.io.RawArray` (volts, type ``emg``) with gaps, annotations and, given a
    ``result``, its events and segments as :class:`mne.Annotations`."""
    rec = recording if result is None else annotated_recording(recording, result)
    return rec.to_mne()
