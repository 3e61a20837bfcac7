r"""Many calibrations at once: ``hm.sweep(model, {"sigma": [1, 3, 5], "rho_e": [0, 0.9]})``.

A sweep solves one economy per *cell* of a grid of parameter values and returns one tidy table, a row
per cell indexed by the swept parameters, with each cell's headline numbers (r, w, K, Y, C, the saving
rate, the exploitability where the method has one, iterations, residual, seconds, status). Every cell's
model is built and checked before anything is solved, so a misspelled field or a value out of range
fails at once, naming the field. A cell that fails while solving keeps its row, with status "failed" and
the error's message; the other cells are solved regardless.

**Compiled once.** A model's values (``param`` fields: beta, sigma, the income process's rho_e and sd_e,
the grid's a_max, ...) are arrays, so cells that differ only in values share one compiled solver: a
24-cell Aiyagari table compiles once. Only fields that fix sizes or pick a method (``static``: n_a,
n_e, income_process, ...) compile anew, once per distinct combination; cells are grouped by it.

**Every core.** Without a client the cells run in this process on ``workers`` threads (one per CPU
core by default), all calling the same compiled functions: the first cell of each compiled group runs
alone (it pays the compilation), the others then share the cores. A compiled solve releases Python's
lock, so the threads share the cores: on two cores Aiyagari's Table II takes 12.3 s against 16.5 s
one cell after another, imports and compilation included (benchmarks/sweep.py). Running the cells as one ``vmap`` over their values was measured instead and is
slower on a CPU (8 Aiyagari cells: 0.71x a loop), because every cell then runs its inner loops as long as
the slowest one; memory is one cell per worker.

**Beyond one machine.** ``client=`` takes a ``dask.distributed.Client`` (``pip install
"hetmacro[dask]"``): each cell becomes a task, and rows stream back as they finish. Without a client the
cells run in this process through the same function, so both give the same table (bit for bit on CPU: a
cell's computation does not depend on where or beside what it runs).

**Nothing lost.** With ``results=`` every finished row is written to that file as it arrives (Parquet
when the name ends in ``.parquet`` and pyarrow is installed, CSV otherwise); ``resume=True`` reads it
back and solves only the cells it lacks, so an interrupted sweep picks up where it stopped and ends with
the same table as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import os
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import jax
import numpy as np
import pandas as pd

from .solvers import Solver, configure

__all__ = ["SUMMARY", "cells", "solve_cell", "sweep"]

# The columns every row has, after the swept parameters (a method that lacks one reports NaN).
SUMMARY = (
    "r",
    "w",
    "K",
    "Y",
    "C",
    "saving_rate",
    "exploitability",
    "iterations",
    "residual",
    "seconds",
    "status",
    "error",
)


def cells(model, grid, config: Solver | None = None) -> pd.DataFrame:
    """The cells of a sweep, one row each, checked against ``model``'s fields.

    Args:
        model: the base economy; every cell is ``dataclasses.replace(model, **row)``.
        grid: a dict field -> values (their product is taken, the first field varying slowest), or a
            DataFrame whose columns are fields and whose rows are the cells. A field is the model's, or
            an option of the solver's configuration ``config`` (e.g. ``seed``, ``lr``); a name both have
            is refused (it would be ambiguous).
        config: the solver's configuration, whose options may be swept.

    Returns:
        A DataFrame of the swept values, one row per cell (index 0..n-1, the cell number).

    Raises:
        ValueError: a field the model does not have (with the closest names), a value the model refuses
            (the model's own message, naming the cell), an empty grid.
    """
    if isinstance(grid, pd.DataFrame):
        frame = grid.reset_index(drop=True).copy()
    elif isinstance(grid, dict):
        if not grid:
            raise ValueError("sweep: the grid is empty; give at least one field and its values.")
        values = {
            k: list(np.atleast_1d(v)) if not isinstance(v, list | tuple) else list(v) for k, v in grid.items()
        }
        empty = [k for k, v in values.items() if not v]
        if empty:
            raise ValueError(f"sweep: no values given for {empty}.")
        frame = pd.DataFrame(list(itertools.product(*values.values())), columns=list(values))
    else:
        raise TypeError(
            f"sweep: grid must be a dict of field -> values or a DataFrame, got {type(grid).__name__}."
        )
    if frame.empty:
        raise ValueError("sweep: the grid has no cells.")
    fields = [f.name for f in dataclasses.fields(model)]
    options = [] if config is None else [f.name for f in dataclasses.fields(config)]
    for name in frame.columns:
        if name in fields and name in options:
            raise ValueError(
                f"sweep: {name!r} is both a field of {type(model).__name__} and an option of "
                f"{type(config).__name__}: ambiguous in a grid. Set one of them outside the grid (the option in "
                "method=, or the field on the model)."
            )
        if name not in fields and name not in options:
            close = difflib.get_close_matches(str(name), fields + options, n=3)
            hint = f" Did you mean {close}?" if close else ""
            raise ValueError(
                f"sweep: {type(model).__name__} has no field {name!r}{' and the method no such option' if options else ''}."
                f"{hint} Fields: {fields}."
            )
    for i in frame.index:
        row = _row(frame, i)
        try:
            _cell_model(model, row)
            _cell_config(config, row)
        except (ValueError, TypeError) as err:
            raise ValueError(f"sweep: cell {i} ({_describe(row)}): {err}") from err
    frame.index.name = "cell"
    return frame


def _row(frame: pd.DataFrame, cell) -> dict:
    """One cell's values, each with its column's type (``frame.loc[cell]`` would make a seed a float
    beside a float column)."""
    return {k: _plain(frame.at[cell, k]) for k in frame.columns}


def _describe(row) -> str:
    return ", ".join(f"{k} = {_plain(v)!r}" for k, v in row.items())


def _plain(v):
    """A pandas / numpy scalar as a Python one (so that a model's fields get the type they would by hand)."""
    return v.item() if isinstance(v, np.generic) else v


def _split(obj, row) -> dict:
    """The values of ``row`` that are fields of ``obj`` (a model or a configuration)."""
    if obj is None:
        return {}
    names = {f.name for f in dataclasses.fields(obj)}
    return {k: _plain(v) for k, v in row.items() if k in names}


def _cell_model(model, row):
    return dataclasses.replace(model, **_split(model, row))


def _cell_config(config, row):
    values = _split(config, row)
    return dataclasses.replace(config, **values) if values else config


def _scalar(x) -> float:
    return float(x) if x is not None and np.ndim(x) == 0 else float("nan")


def _summary(sol) -> dict:
    """A Solution's headline numbers, the columns of :data:`SUMMARY` (NaN where the method has none)."""
    agg = sol.aggregates
    row = {k: _scalar(agg.get(k)) for k in ("r", "w", "K", "Y", "C", "saving_rate")}
    if np.isnan(row["K"]):
        row["K"] = _scalar(agg.get("A"))
    row["exploitability"] = _scalar(sol.exploitability)
    result = sol.result
    iterations = getattr(result, "evaluations", None)
    if not isinstance(iterations, int | np.integer):
        iterations = getattr(result, "iterations", None)
    row["iterations"] = float(iterations) if isinstance(iterations, int | np.integer) else float("nan")
    row["residual"] = _scalar(agg.get("excess_supply"))
    return row


def solve_cell(model, config: Solver, values: dict, summarise=None) -> dict:
    """Solve one cell: the model and the configuration with the cell's ``values``; never raises for a
    failed solve.

    Args:
        summarise: ``f(solution) -> dict`` of extra columns (None: none).

    Returns:
        The row: the swept values, then :data:`SUMMARY` (status "ok", or "failed" with the error's type
        and message in ``error``; seconds is the cell's wall time, compilation included), then the
        ``summarise`` columns.
    """
    t0 = time.perf_counter()
    row, extra = dict(values), {}
    try:
        cell = values
        sol = _cell_config(config, cell).solve(_cell_model(model, cell))
        row.update(_summary(sol), status="ok", error="")
        extra = dict(summarise(sol)) if summarise is not None else {}
    except Exception as err:  # a failed cell keeps its row; the sweep goes on
        row.update(
            {k: float("nan") for k in SUMMARY[:-2]}, status="failed", error=f"{type(err).__name__}: {err}"
        )
    row["seconds"] = time.perf_counter() - t0
    return {**values, **{k: row[k] for k in SUMMARY}, **extra}  # one column order for every row


def _static_key(model) -> str:
    """Cells whose models share this key share compiled solvers (same sizes and switches)."""
    return str(jax.tree_util.tree_structure(model))


class _ResultsFile:
    """Rows appended as they arrive: CSV (one line each) or Parquet (rewritten, for small tables)."""

    def __init__(self, path):
        self.path = Path(path)
        self.parquet = self.path.suffix == ".parquet"
        if self.parquet:
            try:
                import pyarrow  # noqa: F401
            except ImportError as err:
                raise ImportError(
                    f"sweep: results={str(self.path)!r} needs pyarrow for Parquet (pip install pyarrow), or "
                    "name a .csv file."
                ) from err

    def read(self) -> pd.DataFrame | None:
        if not self.path.exists():
            return None
        frame = pd.read_parquet(self.path) if self.parquet else pd.read_csv(self.path)
        return frame if frame.index.name == "cell" else frame.set_index("cell")

    def append(self, rows: list[dict]) -> None:
        frame = pd.DataFrame(rows)
        frame = frame[["cell", *[c for c in frame.columns if c != "cell"]]].set_index("cell")
        if self.parquet:
            old = self.read()
            frame = frame if old is None else pd.concat([old, frame])
            frame.to_parquet(self.path)
        else:
            frame.to_csv(self.path, mode="a", header=not self.path.exists())


def _same_value(a, b) -> bool:
    """A value read back from a results file against the grid's (numbers to float64 rounding)."""
    if isinstance(b, int | float | np.number):
        return bool(np.isclose(float(a), float(b), rtol=1e-15, atol=0))
    return str(a) == str(b)


def _check_resume(done: pd.DataFrame, todo: pd.DataFrame, path) -> None:
    """Refuse a results file whose rows are not cells of this grid (same numbers, same values)."""
    missing = [c for c in todo.columns if c not in done.columns]
    if missing:
        raise ValueError(
            f"sweep: {path} does not hold this grid's fields {missing}; use another results file."
        )
    for cell, row in done.iterrows():
        if cell not in todo.index or not all(_same_value(row[k], todo.at[cell, k]) for k in todo.columns):
            raise ValueError(
                f"sweep: {path} row {cell} is not this grid's cell {cell}: the file belongs to another sweep. "
                "Use another results file, or delete it to start again."
            )


def sweep(
    model,
    grid,
    method: str | Solver = "stationary",
    *,
    client=None,
    workers: int | None = None,
    results=None,
    resume: bool = False,
    progress: bool = True,
    summarise=None,
    **options,
) -> pd.DataFrame:
    """Solve ``model`` on every cell of ``grid`` and return one table (see the module docstring).

    Args:
        model: the base economy (e.g. ``Aiyagari.from_calibration("aiyagari_1994")``).
        grid: dict field -> values (product) or a DataFrame of cells (:func:`cells`); fields of the model
            or options of the method (``{"seed": [0, 1, 2], "lr": [1e-3, 3e-3]}`` for RSPG).
        method: a method's name or a configuration (as :func:`hetmacro.solve`); ``options`` its options
            (a method's own ``progress`` bar is set in a configuration: ``method=hm.RSPG(progress=False)``).
        client: a ``dask.distributed.Client``: cells run as tasks on its workers (which need hetmacro
            installed), rows stream back as they finish. None: in this process.
        workers: threads solving cells at once in this process (None: one per CPU core; 1: one cell
            after another). Each holds one cell in memory; a cell's ``seconds`` is its wall time, shared
            with the cells solved beside it.
        results: a file (``.csv``, or ``.parquet`` with pyarrow) every finished row is appended to.
        resume: read ``results`` and solve only the cells it lacks (it must hold this grid's cells).
        progress: a progress bar over cells.
        summarise: ``f(solution) -> dict`` of extra columns computed where the cell is solved (on the
            worker: only its result travels back), e.g. a finding read off the flows.

    Returns:
        DataFrame indexed by the swept fields (a MultiIndex for several), columns :data:`SUMMARY`,
        ``cell`` (the cell's number) and the ``summarise`` columns; ``attrs`` record the method, the options, the model and the time.

    Raises:
        ValueError / TypeError: before anything is solved, for an unknown field, a value the model
            refuses, an unknown method or option, ``resume`` without ``results`` or with another sweep's file.
    """
    t0 = time.perf_counter()
    config = configure(method, **options)
    workers = _workers(workers, client)
    todo = cells(model, grid, config)
    if resume and results is None:
        raise ValueError("sweep: resume=True needs results= (the file of an earlier run).")
    store = None if results is None else _ResultsFile(results)
    done = None
    if store is not None:
        done = store.read()
        if done is not None and not resume:
            raise ValueError(
                f"sweep: {results} exists: pass resume=True to continue that sweep, or name a new file."
            )
        if done is not None:
            _check_resume(done, todo, results)
    pending = todo if done is None else todo.drop(index=done.index)
    # Cells sharing compiled solvers run together.
    keys = {cell: _static_key(_cell_model(model, _row(pending, cell))) for cell in pending.index}
    rank = {key: i for i, key in enumerate(dict.fromkeys(keys.values()))}
    groups = [[c for c in pending.index if rank[keys[c]] == i] for i in range(len(rank))]
    rows = [] if done is None else [dict(r, cell=c) for c, r in done.iterrows()]
    bar = _progress(len(todo), len(todo) - len(pending), progress, config.method)
    for row in _run(model, config, pending, groups, client, workers, summarise):
        rows.append(row)
        if store is not None:
            store.append([row])
        bar.update(1)
        bar.set_postfix_str(f"{row['status']} {_describe({k: row[k] for k in todo.columns})}")
    bar.close()
    return _table(rows, todo, config, model, time.perf_counter() - t0)


def _progress(total: int, done: int, enabled: bool, method: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, disable=not enabled, desc=f"sweep ({method})", unit="cell")


def _workers(workers, client) -> int:
    if workers is None:
        return max(os.cpu_count() or 1, 1)
    if client is not None and workers != 1:
        raise ValueError(
            "sweep: workers= is for this process; with client= the cluster's workers solve the cells."
        )
    if isinstance(workers, bool) or not isinstance(workers, int | np.integer) or workers < 1:
        raise ValueError(f"sweep: workers must be a whole number of threads >= 1, got {workers!r}.")
    return int(workers)


def _run(model, config, pending: pd.DataFrame, groups: list, client, workers: int, summarise):
    """Yield each cell's row (with its number) as it finishes: here, or on the client's workers.

    ``groups``: the cells, grouped by compiled signature. Here, the first cell of a group runs alone (it
    compiles; threads started together would each compile), the rest on ``workers`` threads.
    """
    if client is None:
        x64 = bool(jax.config.jax_enable_x64)  # a thread-local setting: each worker thread takes the caller's

        def one(cell):
            with jax.enable_x64(x64):
                return dict(solve_cell(model, config, _row(pending, cell), summarise), cell=cell)

        if workers == 1:
            yield from (one(cell) for group in groups for cell in group)
            return
        pool = ThreadPoolExecutor(workers, thread_name_prefix="hetmacro-sweep")
        try:
            for group in groups:
                yield one(group[0])
                for future in as_completed([pool.submit(one, cell) for cell in group[1:]]):
                    yield future.result()
        finally:  # on an interrupt the queued cells are dropped; the results file holds every row yielded
            pool.shutdown(wait=False, cancel_futures=True)
        return
    from dask.distributed import as_completed as dask_completed

    order = [cell for group in groups for cell in group]

    futures = {
        client.submit(
            solve_cell,
            model,
            config,
            _row(pending, cell),
            summarise,
            pure=False,
            key=f"hetmacro-cell-{cell}-{time.time_ns()}",
        ): cell
        for cell in order
    }
    for future in dask_completed(futures):
        yield dict(future.result(), cell=futures[future])


def _table(rows: list, todo: pd.DataFrame, config, model, seconds: float) -> pd.DataFrame:
    frame = pd.DataFrame(rows).sort_values("cell")
    fields = list(todo.columns)
    extra = [c for c in frame.columns if c not in (*fields, "cell", *SUMMARY)]
    frame = frame[[*fields, "cell", *SUMMARY, *extra]].set_index(fields)
    frame["error"] = frame["error"].fillna("").astype(str)
    frame.attrs.update(
        {
            "description": f"sweep of {type(model).__name__} over {fields} by {config.method}",
            "method": config.method,
            "options": {k: repr(v) for k, v in config.options().items()},
            "seconds": seconds,
            "units": "r, saving_rate per model period; K, Y, C, w in model units; seconds wall",
        }
    )
    return frame
