"""The ``paths`` table: aggregates, prices, the common noise and the model's policy aggregates by
(path, t) along every evaluation path of a Solution, or, with ``summary=True``, their mean and
quantiles across paths by date.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._data import _data, _flow_quantities


def paths(sol, summary: bool = False, quantiles=(0.05, 0.5, 0.95)) -> pd.DataFrame:
    """Aggregates, prices, the common noise and the model's policy aggregates along every path.

    Args:
        sol: a Solution.
        summary: if True, statistics across paths by date instead of one row per (path, t).
        quantiles: the quantiles reported with ``summary=True``.

    Returns:
        ``summary=False``: index (``path``, ``t``); one column per common-noise component (``z``, or
        the parts of a joint process, e.g. ``bar``, ``closed``), per aggregate and price of the model
        (``K``, ``r``, ``w``, ``m``, ...) and per aggregate of ``policy_quantities`` (``C``; NaN at the
        final date T, which has no policy). Values are levels in the model's units (``attrs["units"]``).
        ``summary=True``: index ``t``; columns (``variable``, ``statistic``) with statistics ``mean``
        and ``q5``, ``q50``, ``q95`` (for the default quantiles).
    """
    data = _data(sol)
    P, D = data.n_paths, data.n_dates
    columns = {**data.z, **data.values, **_flow_quantities(sol, data)}
    index = pd.MultiIndex.from_product([np.arange(P), data.dates], names=["path", "t"])
    frame = pd.DataFrame({k: np.asarray(v).reshape(P * D) for k, v in columns.items()}, index=index)
    units = {k: "common-noise state" for k in data.z}
    units.update({k: "level, model units" for k in columns if k not in data.z})
    frame.attrs.update(
        {
            "description": "aggregates and prices by evaluation path and date",
            "units": units,
            "method": sol.method,
            "model": type(sol.model).__name__,
        }
    )
    if not summary:
        return frame
    numeric = frame.select_dtypes("number").astype(np.float64)
    grouped = numeric.groupby(level="t")
    parts = {"mean": grouped.mean()}
    for q in quantiles:
        parts[f"q{100 * q:g}"] = grouped.quantile(q)
    out = pd.concat(parts, axis=1, names=["statistic", "variable"])
    out = out.swaplevel(axis=1).sort_index(axis=1, level="variable", sort_remaining=False)
    out = out[[c for c in numeric.columns if c in out.columns.get_level_values(0)]]
    out.attrs.update(
        {
            "description": f"mean and quantiles {list(quantiles)} across {P} path(s), by date",
            "units": units,
            "method": sol.method,
            "model": type(sol.model).__name__,
        }
    )
    return out
