"""The command line, end to end in a subprocess (as a user runs it)."""

import json
import os
import re
import subprocess
import sys
import tempfile

import pandas as pd
import pytest

import hetmacro as hm
from hetmacro import cli, hmx
from hetmacro.cli import main
from hetmacro.models import LinearQuadratic

TINY = ["lq", "--set", "T=2", "--set", "n_states=5", "--set", "max_move=1", "--set", "shock_atoms=1"]


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
    assert tables | figures | {"solution.hmx", "run.json"} <= files, files
    assert not [p for p in tmp_path.iterdir() if p.name != "out"]  # no staging folder left beside it
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
    assert "module docstring" not in proc.stdout and "``" not in proc.stdout and ":class:" not in proc.stdout
    for name, cls in cli.shipped_models().items():
        described = cli.describe_model(cls)
        assert len(described) > 20 and "module docstring" not in described, (name, described)
        assert f"{name:<16} {described}" in proc.stdout
    bad = _run("solve", "no_such_model", "--out", "unused")
    assert bad.returncode != 0 and "unknown model 'no_such_model'" in bad.stderr


@pytest.mark.slow
def test_the_readme_command_solves_the_default_model(tmp_path):
    """``hetmacro solve --out out`` with nothing else: Krusell-Smith with aggregate risk by RSPG, its paths
    and its IRF beside the linear solution's (about a minute on 2 CPU cores)."""
    proc = _run("solve", "--out", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "KrusellSmith" in proc.stdout and "by rspg" in proc.stdout
    assert "impulse response to a 1% TFP shock" in proc.stdout and "linear" in proc.stdout
    out = tmp_path / "out"
    for name in ("paths.csv", "paths_mean.csv", "irf_comparison.csv", "irf_comparison.png", "solution.hmx"):
        assert (out / name).exists(), name
    irf = pd.read_csv(out / "irf_comparison.csv", header=[0, 1], index_col=0)
    # Output responds to TFP on impact as the linear solution says (Y and w are TFP-led: within 5%).
    assert abs(irf[("rspg", "w (%)")].iloc[0] - irf[("linear", "w (%)")].iloc[0]) < 0.05


def test_the_default_job_is_krusell_smith_by_rspg_and_toy_games_are_one_flag_away(monkeypatch, tmp_path):
    seen = {}

    def solve(model, config):
        seen["model"], seen["config"] = model, config
        raise KeyboardInterrupt  # stop before any compilation

    monkeypatch.setattr(cli, "solve", solve)
    with pytest.raises(KeyboardInterrupt):
        main(["--out", str(tmp_path / "a")])
    model, config = seen["model"], seen["config"]
    assert type(model).__name__ == "KrusellSmith" and model.tfp_process == "ar1" and model.n_a == 100
    assert config.method == "rspg" and config.horizon == 80 and config.iterations == 100
    assert config.init_policy == "linear" and config.ergodic_policy == "linear"
    with pytest.raises(KeyboardInterrupt):
        main(["solve", "beach_bar", "--out", str(tmp_path / "b")])
    assert type(seen["model"]).__name__ == "BeachBar" and seen["config"].method == "dp"
    with pytest.raises(KeyboardInterrupt):
        main(["solve", "krusell_smith", "--option", "iterations=5", "--out", str(tmp_path / "c")])
    assert seen["config"].iterations == 5 and seen["config"].horizon == 80
    assert not any(tmp_path.iterdir())  # interrupted runs leave no folder


def test_help_is_plain_text(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "hetmacro solve MODEL" in text and "--overwrite" in text
    assert "``" not in text and ":func:" not in text and ":mod:" not in text


@pytest.fixture
def no_solve(monkeypatch):
    """Fail the test if anything gets as far as solving (so compiling) the model."""

    def solve(*args, **kwargs):
        raise AssertionError("reached the solver")

    monkeypatch.setattr(cli, "solve", solve)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--set", "T=abc"], "--set T=abc: T is an integer; got 'abc'"),
        (["--set", "n_states=1.5"], "--set n_states=1.5: n_states is an integer; got 1.5"),
        (["--set", "beta=true"], "--set beta=true: beta is a number; got True"),
        (["--set", "timing=5"], "--set timing=5: timing is a string; got 5"),
        (
            ["--set", "betta=0.9"],
            "--set betta=0.9: LinearQuadratic has no field 'betta' (did you mean 'beta'?)",
        ),
        (["--set", "T"], "--set expects key=value, got 'T'"),
        (["--set", "timing=other"], "LinearQuadratic.timing = 'other': use 'paper' or 'textbook'."),
        (["--option", "tol=abc"], "--option tol=abc: tol is a number; got 'abc'"),
        (["--option", "max_iter=1.5"], "--option max_iter=1.5: max_iter is an integer; got 1.5"),
        (
            ["--option", "tool=1"],
            "--option tool=1: DP has no option 'tool' (did you mean 'tol'?); options: max_iter,",
        ),
        (["--option", "tol=-1"], "--option: DP: tol = -1.0 must be positive."),
        (["--option", "scheme=other"], "--option: DP: scheme = 'other': use one of"),
    ],
)
def test_bad_settings_and_options_fail_before_solving(no_solve, tmp_path, args, message):
    out = tmp_path / "out"
    with pytest.raises(SystemExit, match=re.escape(message)):
        main(["solve", "lq", *args, "--out", str(out)])
    assert not out.exists()


def test_a_calibration_value_of_the_wrong_type_names_the_field(no_solve, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('n_a = 1.5\n[meta]\nsource = "a test"\n')
    with pytest.raises(SystemExit, match=re.escape(f"--calibration {bad}: n_a is an integer; got 1.5")):
        main(["solve", "aiyagari", "--calibration", str(bad), "--out", str(tmp_path / "out")])
    with pytest.raises(SystemExit, match="has no variant 'nope'"):
        main(["solve", "aiyagari", "--calibration", "aiyagari_1994:nope", "--out", str(tmp_path / "out")])
    assert cli.check_fields(hm.models.BeachBar, [("--set bar=none", "bar", "none")]) == {"bar": None}
    assert cli.check_fields(LinearQuadratic, [("--set beta=1", "beta", 1)]) == {"beta": 1.0}


def test_an_out_that_cannot_be_written_fails_before_solving(no_solve, tmp_path, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    cases = [
        ([], afile, f"--out {afile}: is a file, not a folder"),
        ([], afile / "out", f"--out {afile / 'out'}: {afile} is a file, not a folder"),
        ([], tmp_path, f"--out {tmp_path}: the folder exists and is not empty; pass --overwrite"),
    ]
    for extra, out, message in cases:
        with pytest.raises(SystemExit, match=re.escape(message)):
            main(["solve", *TINY, *extra, "--out", str(out)])
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match="is the current folder or one above it"):
        main(["solve", *TINY, "--overwrite", "--out", "."])
    out = tmp_path / "new" / "out"
    with monkeypatch.context() as m:
        m.setattr(os, "access", lambda *args, **kwargs: False)  # what a read-only folder says (not to root)
        with pytest.raises(SystemExit, match=re.escape(f"--out {out}: cannot write in {tmp_path}")):
            main(["solve", *TINY, "--out", str(out)])

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    with pytest.raises(SystemExit, match=re.escape(f"--out {out}: cannot create a folder in {out.parent}")):
        main(["solve", *TINY, "--out", str(out)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]  # the parents it made are gone


@pytest.fixture(scope="module")
def tiny_solution():
    return hm.solve(LinearQuadratic(aggregate_risk=False, T=2, n_states=5, max_move=1, shock_atoms=1))


def test_overwrite_replaces_the_folder_whole_and_records_the_run(tmp_path, monkeypatch, tiny_solution):
    monkeypatch.setattr(cli, "solve", lambda model, config: tiny_solution)
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    (out / "distribution_t5.csv").write_text("stale")
    with pytest.raises(SystemExit, match="not empty; pass --overwrite"):
        main(["solve", *TINY, "--no-figures", "--out", str(out)])
    assert (out / "distribution_t5.csv").exists()
    argv = ["solve", *TINY, "--no-figures", "--option", "tol=1e-9", "--out", str(out), "--overwrite"]
    assert main(argv) == 0
    files = {p.name for p in out.iterdir()}
    assert "distribution_t5.csv" not in files and "sub" not in files
    assert {"distribution_t2.csv", "solution.hmx", "run.json"} <= files
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging or old folder left
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask
    run = json.loads((out / "run.json").read_text())
    assert run["argv"] == ["hetmacro", *argv]
    assert run["model"] == "lq" and run["method"] == "dp" and run["hetmacro_version"] == hm.__version__
    assert run["settings"] == {
        "aggregate_risk": False,
        "T": 2,
        "n_states": 5,
        "max_move": 1,
        "shock_atoms": 1,
    }
    assert run["options"] == {"tol": 1e-9} and run["solver"]["tol"] == 1e-9
    assert run["started_utc"] <= run["finished_utc"] and run["finished_utc"].endswith("+00:00")


def test_an_interrupted_run_leaves_no_folder(tmp_path, monkeypatch, tiny_solution):
    monkeypatch.setattr(cli, "solve", lambda model, config: tiny_solution)

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(hmx, "save", interrupt)  # after the tables are written
    with pytest.raises(KeyboardInterrupt):
        main(["solve", *TINY, "--no-figures", "--out", str(tmp_path / "new" / "out")])
    assert list(tmp_path.iterdir()) == []
    old = tmp_path / "old"
    old.mkdir()
    (old / "keep.csv").write_text("the earlier run")
    with pytest.raises(KeyboardInterrupt):
        main(["solve", *TINY, "--no-figures", "--out", str(old), "--overwrite"])
    assert [p.name for p in tmp_path.iterdir()] == ["old"] and [p.name for p in old.iterdir()] == ["keep.csv"]
