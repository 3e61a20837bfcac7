"""hm.sweep: one table over many calibrations, failures kept in their rows, resumable, same on a cluster."""

import dataclasses

import jax
import numpy as np
import pandas as pd
import pytest

import hetmacro as hm
from hetmacro import sweeps as sweep_module
from hetmacro.models import Aiyagari

# The columns that do not depend on timing (seconds differ between runs).
RESULTS = ["r", "w", "K", "Y", "C", "saving_rate", "iterations", "residual", "status", "error"]


@pytest.fixture(scope="module")
def small():
    with jax.enable_x64(True):
        return Aiyagari.from_calibration("aiyagari_1994", n_a=60, n_e=3)


def _sweep(*args, **kwargs):
    with jax.enable_x64(True):
        return hm.sweep(*args, progress=False, **kwargs)


def test_one_cell_equals_the_single_solve(small):
    table = _sweep(small, {"sigma": [3.0]})
    with jax.enable_x64(True):
        sol = hm.solve(dataclasses.replace(small, sigma=3.0), method="stationary")
    row = table.loc[3.0]
    assert row["status"] == "ok" and row["error"] == ""
    for k in ("r", "w", "K", "Y", "C", "saving_rate"):
        assert row[k] == sol.aggregates[k], k  # exactly: the same computation
    assert row["iterations"] == sol.result.evaluations
    assert table.index.names == ["sigma"]


def test_bad_fields_and_values_fail_before_any_solve(small, monkeypatch):
    calls = []
    monkeypatch.setattr(sweep_module, "solve_cell", lambda *a: calls.append(a))
    with pytest.raises(ValueError, match="no field 'sigam'.*Did you mean \\['sigma'\\]"):
        _sweep(small, {"sigam": [1.0]})
    # the bad value is in the last cell: nothing may have been solved before the error
    with pytest.raises(ValueError, match=r"cell 2 \(sigma = -1\.0\).*sigma = -1\.0: the CRRA coefficient"):
        _sweep(small, {"sigma": [1.0, 2.0, -1.0]})
    with pytest.raises(TypeError, match="unknown option"):
        _sweep(small, {"sigma": [1.0]}, method="stationary", tolerance=1e-3)
    with pytest.raises(ValueError, match="resume=True needs results="):
        _sweep(small, {"sigma": [1.0]}, resume=True)
    assert calls == []


def test_a_failing_cell_keeps_its_row_and_the_others_are_solved(small):
    # a grid capped at 0.5 cannot hold the capital the firm needs: no equilibrium in that cell
    table = _sweep(small, {"a_max": [200.0, 0.5], "sigma": [2.0]})
    good, bad = table.loc[(200.0, 2.0)], table.loc[(0.5, 2.0)]
    assert good["status"] == "ok" and np.isfinite(good["r"])
    assert bad["status"] == "failed" and np.isnan(bad["r"])
    assert bad["error"].startswith("NoEquilibriumError") and "a_max" in bad["error"]


def test_grid_from_a_dataframe_and_product_order(small):
    cells = sweep_module.cells(small, {"sigma": [1.0, 2.0], "beta": [0.95, 0.96]})
    assert cells.values.tolist() == [[1.0, 0.95], [1.0, 0.96], [2.0, 0.95], [2.0, 0.96]]
    rows = pd.DataFrame({"sigma": [2.0, 1.0], "beta": [0.96, 0.95]})
    table = _sweep(small, rows)
    assert list(table.index) == [(2.0, 0.96), (1.0, 0.95)]
    assert (table["status"] == "ok").all()


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_an_interrupted_sweep_resumes_to_the_same_table(small, tmp_path, monkeypatch, suffix):
    grid = {"sigma": [1.0, 2.0, 3.0], "a_max": [200.0, 0.5]}
    whole = _sweep(small, grid)
    path = tmp_path / f"cells{suffix}"
    solve = sweep_module.solve_cell
    solved = []

    def interrupted(*args):
        if len(solved) == 3:
            raise KeyboardInterrupt
        solved.append(args)
        return solve(*args)

    monkeypatch.setattr(sweep_module, "solve_cell", interrupted)
    with pytest.raises(KeyboardInterrupt):  # one worker: the interruption falls after exactly 3 cells
        _sweep(small, grid, results=path, workers=1)
    assert len(pd.read_parquet(path) if suffix == ".parquet" else pd.read_csv(path)) == 3
    with pytest.raises(ValueError, match="exists: pass resume=True"):
        _sweep(small, grid, results=path)
    solved.clear()
    monkeypatch.setattr(sweep_module, "solve_cell", lambda *a: solved.append(a) or solve(*a))
    resumed = _sweep(small, grid, results=path, resume=True)
    assert len(solved) == 3  # only the missing cells
    pd.testing.assert_frame_equal(resumed[RESULTS], whole[RESULTS])
    # a file from another grid is refused
    with pytest.raises(ValueError, match="belongs to another sweep"):
        _sweep(small, {"sigma": [5.0, 2.0, 3.0], "a_max": [200.0, 0.5]}, results=path, resume=True)


def test_threads_give_the_same_table_as_one_cell_after_another(small):
    # four cells on two threads (the first alone: it compiles); x64 is thread-local and must follow the caller
    grid = {"sigma": [1.0, 2.0, 3.0, 4.0], "beta": [0.95]}
    serial = _sweep(small, grid, workers=1)
    threaded = _sweep(small, grid, workers=2, summarise=lambda sol: {"x64": jax.config.jax_enable_x64})
    pd.testing.assert_frame_equal(threaded[RESULTS], serial[RESULTS])  # bit for bit
    assert (serial["status"] == "ok").all() and serial["r"].nunique() == 4
    assert threaded["x64"].all()
    with pytest.raises(ValueError, match="workers must be a whole number"):
        _sweep(small, grid, workers=0)
    with pytest.raises(ValueError, match="workers= is for this process"):
        _sweep(small, grid, workers=2, client=object())


def test_solver_options_are_swept_beside_model_fields(small):
    # the tolerance on r* is an option of the method; summarise adds a column computed where the cell runs
    table = _sweep(
        small, {"sigma": [2.0], "tol": [1e-4, 1e-12]}, summarise=lambda sol: {"tol_used": sol.solver.tol}
    )
    assert table["tol_used"].tolist() == [1e-4, 1e-12]
    loose, tight = table.loc[(2.0, 1e-4)], table.loc[(2.0, 1e-12)]
    assert abs(loose["r"] - tight["r"]) < 1e-4 and loose["iterations"] < tight["iterations"]
    with pytest.raises(ValueError, match="no field 'tl'.*Did you mean \\['tol'\\]"):
        _sweep(small, {"tl": [1e-4]})
    with pytest.raises(ValueError, match="cell 0 .*tol"):
        _sweep(small, {"tol": [-1.0]})


@pytest.mark.parametrize(
    "processes", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["threads", "processes"]
)
def test_a_dask_cluster_gives_the_same_table(small, processes):
    distributed = pytest.importorskip("dask.distributed")
    # across processes the model travels pickled, and each worker compiles its own solver
    grid = (
        {"sigma": [1.0, 3.0], "rho_e": [0.3, 0.9]}
        if processes
        else {"sigma": [1.0, 3.0], "beta": [0.95, 0.96]}
    )
    local = _sweep(small, grid)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=processes, dashboard_address=None
    ) as cluster:
        with distributed.Client(cluster) as client:
            remote = _sweep(small, grid, client=client)
    pd.testing.assert_frame_equal(remote[RESULTS], local[RESULTS])


@pytest.mark.slow
def test_table_ii_in_one_call_is_close_to_the_published_table():
    from hetmacro.models.aiyagari import table_ii, table_ii_layout

    table = table_ii(progress=False)
    assert len(table) == 24 and (table["status"] == "ok").all()  # no bracket from the user
    # Aiyagari's Tauchen chain: r* within 0.1 points of the printed table on average, 0.3 at most
    assert table["r_gap"].abs().mean() < 0.1 and table["r_gap"].abs().max() < 0.3
    # the paper's comparative statics: more risk aversion and more persistent, larger risk lower r*
    r = table["r"]
    assert (r.xs(0.4, level="sd_e") < r.xs(0.2, level="sd_e")).all()
    for (sd, rho), group in r.groupby(level=["sd_e", "rho_e"]):
        assert group.is_monotonic_decreasing, (sd, rho)
    assert table_ii_layout(table).shape == (8, 3)
