"""The tutorial notebooks run top to bottom on the bundled data (shortened by parameters)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ["01_live_session.ipynb", "02_batch_analysis.ipynb", "03_triggers.ipynb"]


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory):
    """A 'python3' kernelspec that runs this interpreter, found before any system-wide one."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (emg tests)", "language": "python",
    }))
    return root


def test_notebooks_are_stored_without_outputs():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == NAMES
    for name in NAMES:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, name
        # the notebooks use the public package, never project internals or ../shared
        source = "\n".join(c.source for c in nb.cells)
        assert "/work/shared" not in source and "sys.path" not in source


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name, kernel_env, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", str(kernel_env))
    monkeypatch.setenv("EMG_NOTEBOOK_SECONDS", "12")
    monkeypatch.setenv("EMG_NOTEBOOK_DAYS", "2")
    monkeypatch.setenv("EMG_NOTEBOOK_MINUTES", "5.5")
    monkeypatch.setenv("EMG_NOTEBOOK_SHIFTS", "5")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=240, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    images = sum("image/png" in o.get("data", {}) for o in outputs)
    assert images >= 2, f"{name}: expected figures, got {images}"
    if name.startswith("01"):
        assert "packets lost: 0" in text and "fasciculations" in text
    elif name.startswith("02"):
        assert "2 analyses loaded, 0 unreadable" in text
    else:
        assert "caffeine" in text and "strength_training" in text


def test_kernel_is_this_interpreter(kernel_env, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", str(kernel_env))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import sys; print(sys.executable)")])
    nbclient.NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    assert nb.cells[0].outputs[0]["text"].strip() == sys.executable
