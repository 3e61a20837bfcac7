"""The notebooks (and the docs' examples) run: each is executed as a script in a subprocess, with the
small settings its first cell reads from ``HETMACRO_NOTEBOOK_SMALL``.

Notebooks are executed without a Jupyter kernel (their code cells, in order, as one script), so the
test needs no extra dependency; they use no IPython magics. They are committed without outputs.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SLOW_NOTEBOOKS = {"02_krusell_smith.ipynb", "03_three_games.ipynb"}  # RSPG trainings: minutes on 2 cores
DOCS = sorted((ROOT / "docs").glob("*.md"))
SLOW_DOCS = {
    "solvers.md",
    "rspg.md",
    "models.md",
    "baselines.md",
    "sweeps.md",
    "krusell_smith.md",
}  # RSPG and PPO trainings,
# stationary equilibria, Table II, Krusell–Smith (krusell_smith.md: 26 s, its solvers tested in
# test_krusell_smith.py; models.md: 60 s, its economies also solved in the fast suite by
# tests/test_economies.py; sweeps.md and baselines.md: a minute each, their pieces tested in test_sweep.py,
# test_gradients.py, test_ppo.py)


def _run_script(code: str, tmp_path: Path, name: str, timeout: int = 900):
    script = tmp_path / f"{name}.py"
    script.write_text(code)
    env = dict(
        os.environ,
        HETMACRO_NOTEBOOK_SMALL="1",
        HETMACRO_NOTEBOOK_OUT=str(tmp_path / "out"),
        MPLBACKEND="Agg",
    )
    # Warnings are errors, as in the test suite (pyproject's filterwarnings), except jax's deprecations.
    cmd = [sys.executable, "-W", "error", "-W", "ignore::DeprecationWarning", str(script)]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return proc


def _notebook_code(path: Path) -> str:
    nb = json.loads(path.read_text())
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    return "\n\n".join("".join(c["source"]) for c in cells)


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, id=p.name, marks=pytest.mark.slow if p.name in SLOW_NOTEBOOKS else ())
        for p in NOTEBOOKS
    ],
)
def test_notebook_runs(path, tmp_path):
    _run_script(_notebook_code(path), tmp_path, path.stem)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    assert nb["nbformat"] == 4
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, f"{path.name} has outputs"


def _doc_code(path: Path) -> str:
    """The page's ```python blocks, in order (blocks fenced ```python no-run are skipped)."""
    blocks = re.findall(r"^```python\n(.*?)^```", path.read_text(), flags=re.S | re.M)
    return "\n\n".join(blocks)


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, id=p.name, marks=pytest.mark.slow if p.name in SLOW_DOCS else ())
        for p in DOCS
        if _doc_code(p)
    ],
)
def test_doc_examples_run(path, tmp_path):
    _run_script(_doc_code(path), tmp_path, path.stem)
