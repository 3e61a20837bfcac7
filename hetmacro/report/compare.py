"""Comparing solutions: :func:`compare` puts Solutions side by side (model, method, exploitability,
mean aggregates, wall time), with :func:`total_seconds` a solution's total wall time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .paths import paths

_COMPARE_VARIABLES = ("r", "w", "K", "L", "Y", "C")


def total_seconds(timings: dict) -> float:
    """A solution's total wall time: ``total`` if given, else compile + solve + values."""
    if "total" in timings:
        return float(timings["total"])
    parts = [timings[k] for k in ("compile", "solve", "values") if k in timings]
    return float(sum(parts)) if parts else float("nan")


def compare(*solutions, names=None, variables=None) -> pd.DataFrame:
    """One row per solution, side by side: model, method, exploitability and its kind, aggregates, time.

    Aggregates (``variables``; default r, w, K, L, Y, C where any solution has them, else the model's
    own aggregates shared by all): for a stationary solution its equilibrium values, otherwise the
    mean over the evaluation paths and the dates with a policy (0..T-1) of :func:`paths`, the same
    definition for every solver. ``time (s)``: total wall time (see :func:`total_seconds`).

    Args:
        solutions: Solutions (or one list of them).
        names: row labels (default: the methods, numbered when repeated).
        variables: the aggregate columns.
    """
    if len(solutions) == 1 and isinstance(solutions[0], list | tuple):
        solutions = tuple(solutions[0])
    if not solutions:
        raise ValueError("compare: give at least one Solution.")
    means = [_mean_aggregates(s) for s in solutions]
    if variables is None:
        variables = [v for v in _COMPARE_VARIABLES if any(v in m for m in means)]
        if not variables:
            common = set(means[0]).intersection(*means[1:])
            variables = [v for v in means[0] if v in common]
    if names is None:
        names, seen = [], {}
        for s in solutions:
            seen[s.method] = seen.get(s.method, 0) + 1
            names.append(s.method if seen[s.method] == 1 else f"{s.method} ({seen[s.method]})")
    if len(names) != len(solutions):
        raise ValueError(f"compare: {len(names)} names for {len(solutions)} solutions.")
    rows = []
    for s, m in zip(solutions, means):
        row = {
            "model": type(s.model).__name__,
            "method": s.method,
            "exploitability": np.nan if s.exploitability is None else float(s.exploitability),
            "exploitability kind": s.exploitability_kind,
        }
        row.update({v: m.get(v, np.nan) for v in variables})
        row["time (s)"] = total_seconds(s.timings)
        rows.append(row)
    frame = pd.DataFrame(rows, index=pd.Index(list(names), name="solution"))
    frame.attrs.update(
        {
            "description": "solutions side by side",
            "units": "exploitability: utility units per household at date 0; aggregates: model units, "
            "the equilibrium value (stationary) or the mean over paths and dates 0..T-1; time: seconds",
        }
    )
    return frame


def _mean_aggregates(sol) -> dict:
    """Stationary: the equilibrium aggregates; with flows: the mean over paths and dates 0..T-1."""
    if sol.flows is None:
        return {k: float(v) for k, v in sol.aggregates.items() if np.ndim(v) == 0}
    frame = paths(sol)
    T = frame.index.get_level_values("t").max()
    if T > 0:
        frame = frame[frame.index.get_level_values("t") < T]
    return {k: float(frame[k].mean()) for k in frame.columns if pd.api.types.is_float_dtype(frame[k])}
