"""Shared by the chunk-invariance tests: the live path (``emg demo``, ``emg stream``) over a recording."""

from emg.pipeline import Analyzer


def analyze_live(rec, chunk_s: float = 0.5):
    """``rec`` fed to one :class:`emg.pipeline.Analyzer` in ``chunk_s`` chunks, as a stream is."""
    analyzer = Analyzer(rec.fs, rec.channel_names)
    for chunk in rec.iter_chunks(chunk_s):
        analyzer.process(chunk)
    analyzer.finish()
    return analyzer.result(rec.info)
