"""Figures from a :class:`~hetmacro.Solution` (matplotlib).

Every function returns a :class:`matplotlib.figure.Figure` built without ``pyplot`` (so it works under
any backend, Agg included, and never opens a window or calls ``plt.show()``): save it with
``fig.savefig("irf.png")``, style it through ``fig.axes``. In a notebook a returned Figure displays
itself. The same functions are methods of ``sol.plot``:

=============================  ===============================================================
``sol.plot.irf()``             impulse-response panels (r, w, C, K, Y, or what the model has)
``sol.plot.policy()``          a policy quantity against the grid, one line per chain state
``sol.plot.distribution()``    the wealth histogram and its Lorenz curve
``sol.plot.paths()``           aggregates and prices over time: mean and a band across paths
``sol.plot.history()``         training / iteration curves
=============================  ===============================================================
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = ["SolutionPlots", "distribution", "history", "irf", "paths", "policy"]

_PREFERRED = ("r", "w", "C", "K", "Y")


def _grid(n_panels: int, ncols: int = 3, size=(3.6, 2.7)):
    ncols = max(1, min(ncols, n_panels))
    nrows = math.ceil(n_panels / ncols)
    fig = Figure(figsize=(size[0] * ncols, size[1] * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).reshape(-1)
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    return fig, axes[:n_panels]


def _mass_range(x, mass, share: float = 0.999, keep_first: bool = False):
    """The interval of grid values holding ``share`` of the mass (a margin of one grid point)."""
    cum = np.cumsum(mass) / np.sum(mass)
    tail = 0.5 * (1.0 - share)
    lo = 0 if keep_first else max(int(np.searchsorted(cum, tail)) - 1, 0)
    hi = min(int(np.searchsorted(cum, 1.0 - tail)) + 1, x.size - 1)
    return (x[lo], x[hi]) if x[hi] > x[lo] else (x[0], x[-1])


def _title(sol) -> str:
    return f"{type(sol.model).__name__} ({sol.method})"


def _base(column: str) -> str:
    return column.rsplit(" (", 1)[0]


def irf(sol=None, frame=None, variables=None, ncols: int = 3, **irf_options) -> Figure:
    """Impulse-response panels, one per variable.

    Args:
        sol: a Solution (its :meth:`~hetmacro.Solution.irf` is computed with ``irf_options``), or None
            when ``frame`` is given.
        frame: an IRF table from :func:`hetmacro.report.irf` (to plot without recomputing).
        variables: names to plot (default: r, w, C, K, Y where present, else every column).
    """
    if frame is None:
        if sol is None:
            raise ValueError("plot.irf: give a Solution or an IRF frame.")
        frame = sol.irf(**irf_options)
    by_name = {_base(c): c for c in frame.columns}
    if variables is None:
        variables = [v for v in _PREFERRED if v in by_name] or list(by_name)
    missing = [v for v in variables if v not in by_name]
    if missing:
        raise KeyError(f"plot.irf: no column for {missing}; the IRF has {sorted(by_name)}.")
    fig, axes = _grid(len(variables), ncols)
    h = frame.index.to_numpy()
    for ax, v in zip(axes, variables):
        col = by_name[v]
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.plot(h, frame[col].to_numpy(), lw=1.8)
        ax.set_title(col)
        ax.set_xlabel("periods after the shock")
    title = frame.attrs.get("shock", "impulse response")
    fig.suptitle(f"{frame.attrs.get('model', '')}: response to {title}".strip(": "))
    return fig


def policy(
    sol, quantity: str | None = None, t: int = 0, path: int = 0, max_lines: int = 12, mass_range: bool = True
) -> Figure:
    """A policy quantity against the grid variable at date t, one line per chain state.

    Args:
        quantity: a column of :meth:`~hetmacro.Solution.policy_table` (default: ``c`` if the model
            provides consumption, else the expected next grid value ``a'``, else the expected action).
        max_lines: at most this many chain states (evenly spaced) are drawn.
        mass_range: zoom on the grid values that hold 99.9% of the households at date t.
    """
    table = sol.policy_table(t=t, path=path)
    grid_name, chain_name = table.index.names
    if quantity is None:
        for cand in ("c", f"{grid_name}'"):
            if cand in table.columns:
                quantity = cand
                break
        else:
            quantity = next(c for c in table.columns if c.startswith("E["))
    if quantity not in table.columns:
        raise KeyError(f"plot.policy: no column {quantity!r}; the policy table has {list(table.columns)}.")
    wide = table[quantity].unstack(chain_name)
    mass = table["mass"].groupby(level=0, sort=False).sum().reindex(wide.index).to_numpy()
    states = list(wide.columns)
    if len(states) > max_lines:
        states = [states[i] for i in np.linspace(0, len(states) - 1, max_lines).round().astype(int)]
    fig = Figure(figsize=(6.0, 4.0), layout="constrained")
    ax = fig.subplots()
    x = wide.index.to_numpy()
    for s in states:
        ax.plot(x, wide[s].to_numpy(), lw=1.5, label=f"{chain_name} = {s:g}")
    if quantity == f"{grid_name}'":
        ax.plot(x, x, color="0.6", lw=0.8, ls="--", label="45 degrees")
    if mass_range and np.sum(mass) > 0:
        lo, hi = _mass_range(x, mass, keep_first=True)
        ax.set_xlim(lo, hi)
        inside = (x >= lo) & (x <= hi)
        shown = wide.to_numpy()[inside]
        if np.isfinite(shown).any():
            pad = 0.05 * (np.nanmax(shown) - np.nanmin(shown) or 1.0)
            ax.set_ylim(np.nanmin(shown) - pad, np.nanmax(shown) + pad)
    ax.set_xlabel(grid_name)
    ax.set_ylabel(quantity)
    if len(states) > 1 or quantity == f"{grid_name}'":
        ax.legend(fontsize="small")
    ax.set_title(f"{_title(sol)}: {quantity} at t = {table.attrs['t']}")
    return fig


def distribution(sol, t: int = 0, path: int = 0) -> Figure:
    """The marginal histogram of the grid variable at date t and its Lorenz curve (two panels)."""
    dist = sol.distribution(t=t, path=path)
    grid_name = dist.index.names[0]
    marginal = dist["mass"].groupby(level=0, sort=False).sum()
    fig = Figure(figsize=(10.0, 3.8), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    x, mass = marginal.index.to_numpy(np.float64), marginal.to_numpy(np.float64)
    # Density (mass per unit of the grid variable) on cells between grid midpoints, so that uneven
    # grids draw a true histogram; a point mass at the lowest point (a borrowing limit) is shown apart.
    edges = np.concatenate([[x[0]], 0.5 * (x[1:] + x[:-1]), [x[-1]]])
    density = mass / np.diff(edges)
    apart = density.size > 2 and density[0] > 5 * np.max(density[1:])
    if apart:
        density[0] = np.nan
        ax1.axvline(x[0], color="C3", lw=2, label=f"mass {100 * mass[0]:.1f}% at {grid_name} = {x[0]:g}")
        ax1.legend(fontsize="small")
    ax1.stairs(np.nan_to_num(density), edges, fill=True, color="C0", alpha=0.7)
    ax1.set_xlim(*_mass_range(x, mass, keep_first=apart))
    ax1.set_xlabel(grid_name)
    ax1.set_ylabel(f"density (mass per unit of {grid_name})")
    ax1.set_title(f"{grid_name} at t = {dist.attrs['t']} (range of 99.9% of the mass)")
    try:
        lor = sol.lorenz(t=t, path=path)
        g = sol.inequality(t=t, path=path)["gini"].iloc[0]
        ax2.plot(lor["population share"], lor[f"{grid_name} share"], lw=1.8, label=f"Gini {g:.3f}")
        ax2.legend(loc="upper left")
    except ValueError as err:  # a zero mean: shares undefined
        ax2.text(0.5, 0.5, str(err), ha="center", va="center", wrap=True, fontsize="small")
    ax2.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls="--")
    ax2.set_xlabel("population share")
    ax2.set_ylabel(f"{grid_name} share")
    ax2.set_title("Lorenz curve")
    fig.suptitle(_title(sol))
    return fig


def paths(sol, variables=None, quantiles=(0.05, 0.95), ncols: int = 3) -> Figure:
    """Aggregates and prices over time: the mean across evaluation paths and a band between two
    quantiles (default 5% and 95%); with one path, that path."""
    lo, hi = quantiles
    summary = sol.paths(summary=True, quantiles=(lo, 0.5, hi))
    names = list(dict.fromkeys(summary.columns.get_level_values(0)))
    if variables is None:
        preferred = [v for v in _PREFERRED if v in names]
        units = summary.attrs.get("units", {})
        # Noise components that never move (no common noise) say nothing: leave them out.
        moving = [
            v
            for v in names
            if units.get(v) != "common-noise state" or summary[(v, "mean")].nunique() > 1 or sol.n_paths > 1
        ]
        variables = preferred or moving or names
    missing = [v for v in variables if v not in names]
    if missing:
        raise KeyError(f"plot.paths: no variable {missing}; the paths have {names}.")
    fig, axes = _grid(len(variables), ncols)
    t = summary.index.to_numpy()
    for ax, v in zip(axes, variables):
        ax.fill_between(
            t,
            summary[(v, f"q{100 * lo:g}")].to_numpy(),
            summary[(v, f"q{100 * hi:g}")].to_numpy(),
            alpha=0.25,
            lw=0,
            label=f"{100 * lo:g}-{100 * hi:g}% band",
        )
        ax.plot(t, summary[(v, "mean")].to_numpy(), lw=1.8, label="mean")
        ax.set_title(v)
        ax.set_xlabel("t")
    axes[0].legend(fontsize="small")
    fig.suptitle(f"{_title(sol)}: {sol.n_paths} path(s)")
    return fig


def history(sol, columns=None) -> Figure:
    """Training or iteration curves: every numeric column of :meth:`~hetmacro.Solution.history`
    against the iteration (log scale where the values are positive and span decades)."""
    frame = sol.history()
    if frame.empty:
        raise ValueError(f"the {sol.method!r} Solution has no history to plot.")
    x_name = next((c for c in ("iteration", "evaluation", "step") if c in frame.columns), None)
    x = frame[x_name].to_numpy() if x_name else frame.index.to_numpy()
    x_label = x_name or (frame.index.name or "iteration")
    if columns is None:
        columns = [
            c
            for c in frame.columns
            if c not in (x_name, "seconds") and pd.api.types.is_numeric_dtype(frame[c])
        ]
    if not columns:
        raise ValueError("plot.history: no numeric column to plot.")
    fig, axes = _grid(len(columns), ncols=3)
    for ax, c in zip(axes, columns):
        y = frame[c].to_numpy(dtype=np.float64)
        ax.plot(x, y, lw=1.5)
        finite = y[np.isfinite(y)]
        if finite.size and np.all(finite > 0) and finite.max() / finite.min() > 100:
            ax.set_yscale("log")
        ax.set_title(c)
        ax.set_xlabel(x_label)
    fig.suptitle(f"{_title(sol)}: history")
    return fig


class SolutionPlots:
    """``sol.plot``: the figures of one Solution (each returns a Figure)."""

    def __init__(self, sol):
        self._sol = sol

    def irf(self, frame=None, variables=None, **irf_options) -> Figure:
        """See :func:`hetmacro.plot.irf`."""
        return irf(self._sol, frame=frame, variables=variables, **irf_options)

    def policy(self, quantity=None, t: int = 0, path: int = 0, **options) -> Figure:
        """See :func:`hetmacro.plot.policy`."""
        return policy(self._sol, quantity=quantity, t=t, path=path, **options)

    def distribution(self, t: int = 0, path: int = 0) -> Figure:
        """See :func:`hetmacro.plot.distribution`."""
        return distribution(self._sol, t=t, path=path)

    def paths(self, variables=None, quantiles=(0.05, 0.95)) -> Figure:
        """See :func:`hetmacro.plot.paths`."""
        return paths(self._sol, variables=variables, quantiles=quantiles)

    def history(self, columns=None) -> Figure:
        """See :func:`hetmacro.plot.history`."""
        return history(self._sol, columns=columns)
