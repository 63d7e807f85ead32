"""emg.distributed: Dask results identical to a local run, per file and per piece of a long file."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from emg import distributed as D
from emg.cli import main
from emg.io import read_info, write_bdf
from emg.pipeline import analyze
from emg.simulate import simulate

pytest.importorskip("distributed")


def _same_result(a, b) -> None:
    cols = list(a.events.columns) + ["label", "unit", "multiplicity", "waveforms"]
    for col in cols:
        assert np.array_equal(getattr(a.events, col), getattr(b.events, col)), col
    assert a.segments == b.segments
    assert a.rates == b.rates
    assert a.noise_uv == b.noise_uv and a.mains_hz == b.mains_hz
    assert a.fasciculations == b.fasciculations and a.valid_s_per_channel == b.valid_s_per_channel
    assert {k: [u.to_dict() for u in v] for k, v in a.units.items()} == \
        {k: [u.to_dict() for u in v] for k, v in b.units.items()}


@pytest.fixture(scope="module")
def long_file(tmp_path_factory) -> Path:
    rec, _ = simulate("clean", minutes=6, channels=2, seed=11)
    path = tmp_path_factory.mktemp("dist") / "long.bdf"
    write_bdf(rec, path)
    return path


@pytest.fixture(scope="module")
def client():
    with D.connect("local:2", processes=False) as c:
        yield c


def test_parse_scheduler():
    assert D.parse_scheduler("local:3") == ("local", 3)
    assert D.parse_scheduler("tcp://127.0.0.1:8786") == ("tcp", "tcp://127.0.0.1:8786")
    for bad in ("local:0", "local", "udp://x:1", "tcp://host", "3"):
        with pytest.raises(ValueError, match="Invalid value for '--scheduler': allowed are 'local:N'"):
            D.parse_scheduler(bad)


def test_plan_pieces_on_the_common_grid(long_file):
    info = read_info(long_file)
    plan = D.plan_pieces(info, chunk_s=60.0, piece_s=120.0, warmup_s=60.0)
    assert plan == [(0, 0, 120_000), (60_000, 120_000, 240_000), (180_000, 240_000, 360_000)]
    assert D.plan_pieces(info, chunk_s=60.0, piece_s=200.0) is None  # shorter than two pieces


@pytest.mark.parametrize("warmup_s, recomputed", [(240.0, 0), (60.0, None)])
def test_pieces_identical_to_local(long_file, client, warmup_s, recomputed):
    """A 6-min file in three 2-min pieces. With a warm-up reaching the file start the states match
    at each boundary (fast path); with 1 min some boundary states differ and are recomputed. Both
    give exactly the local result."""
    ref = analyze(long_file)
    out = list(D.analyze_files([long_file], client, piece_s=120.0, warmup_s=warmup_s, split=True))
    assert len(out) == 1
    path, result, stats = out[0]
    assert path == str(long_file) and stats["pieces"] == 3
    assert "fallback" not in stats  # the piece path itself ran (no whole-file fallback)
    if recomputed is not None:
        assert stats["recomputed"] == recomputed
    _same_result(ref, result)


def test_state_check_sees_a_difference(long_file):
    """The boundary check is not vacuous: a piece warmed up from the file start has exactly the
    state of the run from 0; one warmed up for 2 s does not, and the stitch recomputes it."""
    path = str(long_file)
    mains = D._piece_mains(path, "auto", None, "auto", 60.0, {})
    grid = D._grid_samples(1000.0, 60.0)
    first = D._run_piece(path, "auto", None, "auto", 0, 0, 120_000, False, 60.0, {}, grid)
    cold = D._run_piece(path, "auto", None, mains, 118_000, 120_000, 360_000, True, 60.0, {}, grid)
    warm = D._run_piece(path, "auto", None, mains, 0, 120_000, 360_000, True, 60.0, {}, grid)
    assert D.same_state(first.end_state, warm.start_state)
    assert not D.same_state(first.end_state, cold.start_state)
    plan = [(0, 0, 120_000), (118_000, 120_000, 360_000)]
    result, stats = D._stitch(path, "auto", None, "auto", {}, 60.0, plan, grid, first, cold)
    assert stats == {"pieces": 2, "recomputed": 1}
    _same_result(analyze(long_file), result)


def test_cli_scheduler_writes_the_same_files(tmp_path, capsys):
    files = []
    for seed in (1, 2):
        rec, _ = simulate("clean", minutes=1.5, channels=1, seed=seed)
        files.append(tmp_path / f"rec{seed}.bdf")
        write_bdf(rec, files[-1])
    bad = tmp_path / "broken.bdf"
    bad.write_bytes(b"0       not a header")
    args = [str(f) for f in files] + [str(bad)]
    assert main(["analyze", *args, "--out", str(tmp_path / "local")]) == 1
    assert main(["analyze", *args, "--out", str(tmp_path / "dask"), "--scheduler", "local:2"]) == 1
    # an existing cluster reached by its tcp:// address (scheduler on loopback, thread workers)
    import distributed

    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp",
                                  host="127.0.0.1", dashboard_address=None,
                                  scheduler_kwargs={"dashboard": False}) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        assert main(["analyze", *args, "--out", str(tmp_path / "tcp"), "--scheduler", address]) == 1
    err = capsys.readouterr().err
    assert err.count("broken.bdf") >= 3 and "Traceback" not in err
    local = sorted(p.name for p in (tmp_path / "local").iterdir())
    assert len(local) == 10
    for other in ("dask", "tcp"):
        assert local == sorted(p.name for p in (tmp_path / other).iterdir())
        for name in local:
            assert (tmp_path / "local" / name).read_bytes() == (tmp_path / other / name).read_bytes(), name


def test_cli_bad_scheduler_is_usage_error(tmp_path, capsys):
    assert main(["analyze", "x.bdf", "--out", str(tmp_path), "--scheduler", "local:zero"]) == 2
    assert "Invalid value for '--scheduler'" in capsys.readouterr().err


def test_without_dask_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    assert main(["analyze", "x.bdf", "--out", str(tmp_path), "--scheduler", "local:2"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["emg analyze: error: --scheduler needs Dask, which is not installed: pip install 'emg[dask]'"]
