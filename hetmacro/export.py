"""Export a Solution's tables for colleagues without Python: every table at once (:func:`tables`), as
CSV files (:func:`to_csv`) or the sheets of an Excel workbook (:func:`to_excel`), each with a README
listing every table's index, columns and units. This module does not import :mod:`hetmacro.solution`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .report import noise_components

__all__ = ["tables", "to_csv", "to_excel"]


def _default_irf(sol):
    """The IRF to a one-s.d. (else 0.01) shock of each continuous common-noise component, or None."""
    game = sol.game
    if game is None or sol.flows is None:
        return {}
    out = {}
    for name, proc in noise_components(game.noise).items():
        sigma = getattr(proc, "sigma", None)
        if sigma is None or not hasattr(proc, "rho"):
            continue
        size = float(sigma) if float(sigma) > 0 else 0.01
        try:
            out[name] = sol.irf(shock=name, size=size)
        except NotImplementedError:
            return {}
    return out


def tables(sol, irf: bool = True) -> dict:
    """Every table of a Solution: {name: DataFrame}.

    ``summary``, ``paths``, ``paths_summary``, ``policy_t0`` (the first date, path 0),
    ``distribution_t<first>``, ``distribution_t<last>`` and ``lorenz_t<last>`` (dates of the flows,
    0 and T for most solvers), ``inequality`` (the first and last dates, every path),
    ``history``, and ``irf_<component>`` for each AR(1) common-noise component (one s.d. shock; 0.01
    when the s.d. is 0) when ``irf`` is True and the policy can be re-simulated.
    """
    out = {"summary": sol.summary(), "paths": sol.paths(), "paths_summary": sol.paths(summary=True)}
    try:
        out["policy_t0"] = sol.policy_table(t=0 if sol.flows is None else -sol.horizon)
    except (ValueError, IndexError):
        pass
    first = sol.distribution(t=0 if sol.flows is None else -(sol.horizon + 1))
    out[f"distribution_t{first.attrs['t']}"] = first
    ineq = {first.attrs["t"]: sol.inequality(t=first.attrs["t"])}
    if sol.horizon:
        last = sol.distribution(t=-1)
        out[f"distribution_t{last.attrs['t']}"] = last
        ineq[last.attrs["t"]] = sol.inequality(t=-1)
    try:
        frame = pd.concat(ineq, names=["t"])
        dates = sorted(ineq)
        desc = next(iter(ineq.values())).attrs["description"]
        frame.attrs = dict(next(iter(ineq.values())).attrs, t=dates, description=desc.split(" at date")[0])
        out["inequality"] = frame
        lor = sol.lorenz(t=-1)
        out[f"lorenz_t{lor.attrs['t']}"] = lor
    except ValueError:
        pass
    history = sol.history()
    if not history.empty:
        out["history"] = history
    if irf:
        for name, frame in _default_irf(sol).items():
            out[f"irf_{name}"] = frame
    return out


def _readme(tabs: dict, sol) -> str:
    lines = [
        f"hetmacro tables: model {type(sol.model).__name__}, method {sol.method}",
        "",
        "Each CSV has its index columns first. Units and meaning:",
        "",
    ]
    for name, frame in tabs.items():
        idx = ", ".join(str(n) for n in frame.index.names if n is not None) or "row number"
        lines.append(f"{name}: index ({idx}); {frame.attrs.get('description', '')}")
        units = frame.attrs.get("units")
        if isinstance(units, dict):
            units = "; ".join(f"{k}: {v}" for k, v in units.items())
        if units:
            lines.append(f"    units: {units}")
    return "\n".join(lines) + "\n"


def to_csv(sol, folder, irf: bool = True, tables: dict | None = None) -> list[Path]:
    """Write every table of :func:`tables` as ``<folder>/<name>.csv`` plus a ``README.txt`` of units.

    ``tables``: tables already computed with :func:`tables` (to write them without recomputing).
    Returns the paths written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tabs = globals()["tables"](sol, irf=irf) if tables is None else tables
    written = []
    for name, frame in tabs.items():
        p = folder / f"{name}.csv"
        frame.to_csv(p)
        written.append(p)
    readme = folder / "README.txt"
    readme.write_text(_readme(tabs, sol))
    written.append(readme)
    return written


def to_excel(sol, path, irf: bool = True) -> Path:
    """Write every table of :func:`tables` as one sheet of an Excel workbook, plus a README sheet.

    Raises:
        ImportError: openpyxl is not installed (``pip install openpyxl``; or use :func:`to_csv`).
    """
    try:
        import openpyxl  # noqa: F401
    except ImportError as err:
        raise ImportError(
            "to_excel needs openpyxl, which is not installed: pip install openpyxl (or write CSV files "
            "with sol.to_csv(folder))."
        ) from err
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tabs = tables(sol, irf=irf)
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        readme = pd.DataFrame({"README": _readme(tabs, sol).splitlines()})
        readme.to_excel(writer, sheet_name="README", index=False)
        for name, frame in tabs.items():
            frame.to_excel(writer, sheet_name=name[:31])
    return path
