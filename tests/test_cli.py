"""The command line, end to end in a subprocess (as a user runs it)."""

import os
import subprocess
import sys

import pandas as pd
import pytest

import hetmacro as hm


def _run(*args, cwd=None, timeout=600):
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.run(
        [sys.executable, "-m", "hetmacro", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )


def test_solve_writes_tables_figures_and_the_solution(tmp_path):
    out = tmp_path / "out"
    proc = _run("solve", "lq", "--set", "T=4", "--set", "n_states=15", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "exploitability" in proc.stdout and "LinearQuadratic" in proc.stdout
    assert f"to {out}/" in proc.stdout
    files = {p.name for p in out.iterdir()}
    tables = {"summary.csv", "paths.csv", "paths_summary.csv", "policy_t0.csv", "distribution_t0.csv"}
    tables |= {"distribution_t4.csv", "inequality.csv", "lorenz_t4.csv", "history.csv", "README.txt"}
    figures = {"paths.png", "policy.png", "distribution.png", "history.png"}
    assert tables | figures | {"solution.hmx"} <= files, files
    for name in figures:
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    paths = pd.read_csv(out / "paths.csv", index_col=["path", "t"])
    assert list(paths.index.get_level_values("t")) == list(range(5))
    sol = hm.load(out / "solution.hmx")
    assert sol.model.T == 4 and sol.model.n_states == 15 and not sol.model.aggregate_risk
    pd.testing.assert_frame_equal(sol.paths(), paths, check_dtype=False, check_exact=False, rtol=1e-15)

    shown = _run("show", str(out / "solution.hmx"))
    assert shown.returncode == 0, shown.stderr
    assert "hetmacro.models.lq:LinearQuadratic solved by dp" in shown.stdout


def test_list_and_errors():
    proc = _run("list")
    assert proc.returncode == 0, proc.stderr
    for word in ("models:", "beach_bar", "lq", "methods:", "dp", "calibrations:"):
        assert word in proc.stdout
    bad = _run("solve", "no_such_model", "--out", "unused")
    assert bad.returncode != 0 and "unknown model 'no_such_model'" in bad.stderr


@pytest.mark.slow
def test_the_readme_command_solves_the_default_model(tmp_path):
    """``hetmacro solve --out out`` with nothing else: Beach Bar by DP, about 10-20 s on a laptop CPU."""
    proc = _run("solve", "--out", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "BeachBar" in proc.stdout
    assert (tmp_path / "out" / "paths.csv").exists() and (tmp_path / "out" / "policy.png").exists()
