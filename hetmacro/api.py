"""One call to solve any model: ``hetmacro.solve(model, method=...)``."""

from __future__ import annotations

import importlib

from .solution import Solution

__all__ = ["METHODS", "solve"]

# method name -> (module, function, one-line description). Modules load on first use.
METHODS = {
    "dp": (
        "hetmacro.mfg.dp",
        "solve_equilibrium",
        "exact equilibrium without common noise (finite horizon)",
    ),
    "stationary": (
        "hetmacro.savings.stationary",
        "solve_stationary",
        "stationary equilibrium without common noise (EGM + Young's histogram + root-finder on r)",
    ),
    "ks": (
        "hetmacro.savings.krusell_smith",
        "solve_krusell_smith",
        "Krusell-Smith algorithm: EGM on (a, e, K, z) + histogram simulation + log-linear law of motion",
    ),
    "linear": (
        "hetmacro.savings.sequence",
        "solve_linear",
        "first-order sequence-space impulse responses around the stationary equilibrium (JAX Jacobians)",
    ),
    "rspg": (
        "hetmacro.mfg.rspg",
        "solve_rspg",
        "recurrent structural policy gradient (GRU over signals)",
    ),
    "spg": ("hetmacro.mfg.rspg", "solve_spg", "structural policy gradient (current signal only)"),
}


def solve(model, method: str = "dp", **options) -> Solution:
    """Solve ``model`` by ``method`` and return a :class:`~hetmacro.solution.Solution`.

    Methods: see ``hetmacro.METHODS`` (``hetmacro list`` on the command line). Options are the
    chosen solver's keyword arguments; each solver documents its defaults.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; available: {sorted(METHODS)}")
    module, func, _ = METHODS[method]
    try:
        fn = getattr(importlib.import_module(module), func)
    except (ImportError, AttributeError) as err:
        raise NotImplementedError(f"method {method!r} is not available in this version: {err}") from err
    return fn(model, **options)
