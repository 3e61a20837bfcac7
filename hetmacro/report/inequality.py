"""Inequality of the grid variable (wealth, for savings models), histogram-weighted: the Lorenz curve,
Gini coefficient and top shares of any weighted distribution (:func:`lorenz_curve`, :func:`gini`,
:func:`top_share`), the mean absolute difference (:func:`mean_abs_difference`), and the Solution tables
built on them (:func:`lorenz`, :func:`inequality`).

**Negative values** (wealth with borrowing): the Lorenz curve, the Gini coefficient and top shares are
shares of a total, meaningful for non-negative values only; with debtors the total (mean wealth) can be
near zero and the Gini of a Huggett economy comes out as -1.6e7. The functions refuse negative values
with positive mass (a ValueError that says what to use instead), and :func:`inequality` reports them as
NaN there, beside the measures that stay defined: the mean absolute difference E|X - X'| (model units,
= 2 mean x Gini where the Gini is defined) and the share of households with negative values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._data import _data, _date, _path


def _sorted_histogram(values, weights, who: str) -> tuple[np.ndarray, np.ndarray]:
    """(x, w): the values sorted, their weights normalised to sum to one; checked."""
    x = np.asarray(values, np.float64).reshape(-1)
    w = np.asarray(weights, np.float64).reshape(-1)
    if x.shape != w.shape:
        raise ValueError(f"{who}: {x.size} values but {w.size} weights.")
    if np.any(w < 0) or not w.sum() > 0:
        raise ValueError(f"{who}: weights must be non-negative with a positive sum.")
    order = np.argsort(x, kind="stable")
    return x[order], w[order] / w.sum()


def lorenz_curve(values, weights) -> tuple[np.ndarray, np.ndarray]:
    """Lorenz curve points of a weighted distribution: (population share, value share), from (0, 0).

    Sorted by value; both arrays have length len(values) + 1 and end at (1, 1). The curve is linear
    between the points (exact for a histogram: all mass at a point holds the same value).
    """
    x, w = _sorted_histogram(values, weights, "lorenz_curve")
    negative = (x < 0) & (w > 0)
    if np.any(negative):
        raise ValueError(
            f"lorenz_curve: {w[negative].sum():.1%} of the mass holds negative values (as low as "
            f"{x[negative].min():.4g}); the Lorenz curve, Gini and top shares are shares of a total, defined "
            "for non-negative values only. Use mean_abs_difference (model units), or shift the values (e.g. "
            "wealth minus the borrowing limit) and say so."
        )
    total = np.sum(w * x)
    if total == 0:
        raise ValueError("lorenz_curve: the weighted mean is 0; value shares are undefined.")
    pop = np.concatenate([[0.0], np.cumsum(w)])
    share = np.concatenate([[0.0], np.cumsum(w * x)]) / total
    pop[-1], share[-1] = 1.0, 1.0
    return pop, share


def gini(values, weights) -> float:
    """Gini coefficient of a weighted distribution (a histogram):
    G = sum_i sum_k w_i w_k |x_i - x_k| / (2 mean) = 1 - sum_i w_i (L_{i-1} + L_i).

    0 for a degenerate distribution; p (1 - p)(x_2 - x_1) / (p x_1 + (1 - p) x_2) for mass p at x_1 and
    1 - p at x_2 > x_1.
    """
    pop, share = lorenz_curve(values, weights)
    return float(1.0 - np.sum(np.diff(pop) * (share[1:] + share[:-1])))


def mean_abs_difference(values, weights) -> float:
    """Mean absolute difference E|X - X'| of a weighted distribution (X, X' independent draws), in the
    values' units; defined for any sign of the values:
    E|X - X'| = 2 sum_i w_i x_i (F_{i-1} - (1 - F_i)), x sorted, F_i the cumulative weight to i.

    Equals 2 mean x Gini where the Gini is defined (Yitzhaki and Schechtman 2013, The Gini Methodology, ch. 2).
    """
    x, w = _sorted_histogram(values, weights, "mean_abs_difference")
    F = np.cumsum(w)
    return float(max(2.0 * np.sum(w * x * (F - w - (1.0 - F))), 0.0))


def top_share(values, weights, p: float) -> float:
    """Share of the total held by the top fraction ``p`` of the population, 1 - L(1 - p)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"top_share: p = {p!r} must lie in [0, 1].")
    pop, share = lorenz_curve(values, weights)
    return float(1.0 - np.interp(1.0 - p, pop, share))


def _marginal(sol, t, path):
    game = sol.game
    data = _data(sol)
    path = _path(path, data.n_paths)
    pos = _date(t, data.dates, "inequality:")
    marginal = data.mu[path, pos].sum(axis=1).astype(np.float64)
    return np.asarray(game.grid.points, np.float64), marginal, int(data.dates[pos])


def lorenz(sol, t: int = 0, path: int = 0) -> pd.DataFrame:
    """Lorenz curve of the grid variable (wealth) at date t: index ``point``; columns
    ``population share`` and ``<grid> share`` (fractions), from (0, 0) to (1, 1)."""
    x, w, t = _marginal(sol, t, path)
    pop, share = lorenz_curve(x, w)
    name = sol.game.grid.name
    frame = pd.DataFrame(
        {"population share": pop, f"{name} share": share}, index=pd.RangeIndex(pop.size, name="point")
    )
    frame.attrs.update(
        {
            "description": f"Lorenz curve of {name} at date {t} of path {path}, histogram-weighted",
            "units": "fractions of households and of the total",
            "t": t,
            "path": path,
            "method": sol.method,
            "model": type(sol.model).__name__,
        }
    )
    return frame


def inequality(sol, t: int = 0, path: int | None = None) -> pd.DataFrame:
    """Inequality of the grid variable (wealth, for savings models) at date t, histogram-weighted.

    Index ``path`` (every path, or the one given). Columns (fractions in [0, 1], except the last two):
    ``gini``; ``top 1% share`` and ``top 10% share`` of the total; ``share at borrowing limit``: the
    mass at the grid's lowest point (households at the constraint; the lottery puts those just above
    it partly on the next point); ``share below 0``: the mass at negative values; ``mean <grid>`` and
    ``mean abs difference`` (E|X - X'|) in model units. Where households hold negative values (or the
    mean is 0), the Gini and top shares are undefined and reported as NaN (see the module docstring);
    the mean absolute difference is defined everywhere.
    """
    game = sol.game
    if game is None:
        raise ValueError(f"the {sol.method!r} Solution has no compiled game.")
    n_paths = _data(sol).n_paths
    rows = range(n_paths) if path is None else [_path(path, n_paths)]
    out = []
    for p in rows:
        x, w, t_ = _marginal(sol, t, p)
        w = w / np.sum(w)
        mean = float(np.sum(w * x))
        below = float(np.sum(w[x < 0]))
        row = {"gini": np.nan, "top 1% share": np.nan, "top 10% share": np.nan}
        if mean != 0 and below == 0:
            row = {
                "gini": gini(x, w),
                "top 1% share": top_share(x, w, 0.01),
                "top 10% share": top_share(x, w, 0.10),
            }
        row["share at borrowing limit"] = float(w[0])
        row["share below 0"] = below
        row[f"mean {game.grid.name}"] = mean
        row["mean abs difference"] = mean_abs_difference(x, w)
        out.append(row)
    frame = pd.DataFrame(out, index=pd.Index(list(rows), name="path"))
    frame.attrs.update(
        {
            "description": f"inequality of {game.grid.name} at date {t_}, histogram-weighted",
            "units": "fractions (gini and shares), model units (mean, mean abs difference)",
            "note": "gini and top shares are NaN where households hold negative values (undefined there)",
            "variable": game.grid.name,
            "t": t_,
            "method": sol.method,
            "model": type(sol.model).__name__,
        }
    )
    return frame
