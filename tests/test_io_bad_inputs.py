"""The bad-input corpus: each file gives exit 1 and one stderr line naming the file and the cause."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import emg.io
from emg.cli import main
from emg.errors import InputError

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "bad_inputs"
sys.path.insert(0, str(CORPUS))
from make_corpus import CASES, build

GOOD = HERE.parent / "datasets" / "openbci_gui" / "OpenBCI_GUI-v6-blinks-jawClench-alpha.txt"
GOOD_PLUX = HERE.parent / "datasets" / "plux" / "emg_bursts.h5"


def test_corpus_files_match_their_generator():
    built = build()
    assert sorted(built) == sorted(CASES)
    for name, content in built.items():
        assert (CORPUS / name).read_bytes() == content, f"{name} differs: run tests/bad_inputs/make_corpus.py"


def _all_cases(tmp_path):
    cases = [(str(CORPUS / name), cause) for name, cause in sorted(CASES.items())]
    folder = tmp_path / "folder.bdf"
    folder.mkdir()
    cases.append((str(folder), "is a directory"))
    cases.append((str(tmp_path / "missing.bdf"), "no such file"))
    return cases


def test_each_bad_input_is_one_line_with_path_and_cause(tmp_path, capsys):
    for path, cause in _all_cases(tmp_path):
        code = main(["info", path])
        out, err = capsys.readouterr()
        lines = err.splitlines()
        assert code == 1, path
        assert out == "", path
        assert len(lines) == 1, (path, err)
        assert lines[0].startswith(f"emg info: error: {path}: "), lines[0]
        assert cause in lines[0], (cause, lines[0])
        with pytest.raises(InputError) as excinfo:
            emg.io.read(path)
        assert excinfo.value.path == path and cause in str(excinfo.value)


def test_good_inputs_still_print_among_bad_ones(tmp_path, capsys):
    bad = [p for p, _ in _all_cases(tmp_path)]
    code = main(["info", str(GOOD), *bad, str(GOOD_PLUX)])
    out, err = capsys.readouterr()
    assert code == 1
    assert len(err.splitlines()) == len(bad)
    assert out.splitlines()[0] == str(GOOD) and str(GOOD_PLUX) in out
    assert "fs:        250 Hz" in out and "fs:        1000 Hz" in out

    code = main(["info", "--json", str(CORPUS / "empty.bdf"), str(GOOD)])
    out, err = capsys.readouterr()
    assert code == 1 and len(err.splitlines()) == 1
    objects = json.loads(out)
    assert [o["path"] for o in objects] == [str(GOOD)]


def test_no_traceback_in_a_real_process(tmp_path):
    cmd = [sys.executable, "-c", "import sys; from emg.cli import main; sys.exit(main())", "info",
           str(CORPUS / "truncated_data.bdf"), str(CORPUS / "random_bytes.csv"), str(GOOD)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) == 2
    assert proc.stdout.startswith(str(GOOD))
    proc = subprocess.run(cmd[:4] + ["--debug", str(CORPUS / "truncated_data.bdf")], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" in proc.stderr  # --debug shows it


def test_bad_format_option_is_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["info", "--format", "gdf", str(GOOD)])
    assert exc.value.code == 2
