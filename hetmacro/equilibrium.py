r"""The market-clearing search shared by every stationary solver: one interest rate, no user bracket.

A stationary solver evaluates the market's gap G(r) (:mod:`hetmacro.market`) at trial rates, each
evaluation a household solve and a stationary distribution; :class:`RateSearch` keeps every evaluation
(warm starts, history) and :func:`find_rate` finds the root:

1. **Bracketing without a user bracket** inside the open interval (r_lo, r_hi) (the market's lowest rate
   and 1/beta - 1, where precautionary saving diverges, lowered by the natural borrowing limit). The ends
   are never evaluated. A point with G < 0 bounds the root from below; where the market has one, its
   *implied rate* (the rate at which the market would clear with what households hold, a cobweb step)
   bounds it from above, and vice versa; otherwise steps toward the unevaluated end shrink the distance
   to it fourfold, so a root near 1/beta - 1 is reached geometrically.
2. **Brent's method** (scipy) on the bracket, converging superlinearly (bisection for a gap that is a
   step function, as on a discrete action grid).

Far from the root only the sign of G matters: there the inner loops stop at loose tolerances and a point
is kept loose when |G| exceeds ``LOOSE_GATE`` times the market's gap scale; every point closer, and the
root itself, is solved at the requested tolerances.

A root within ``EDGE`` of either end is refused: the market "clears" there only because the search
stopped, and the error says what to change.

References: Brent (1973), *Algorithms for Minimization without Derivatives*, ch. 4; Aiyagari (1994).
"""

from __future__ import annotations

import math
import time

import jax
import numpy as np
import pandas as pd
from scipy import optimize

from .results import StationaryResult

__all__ = ["ConvergenceError", "NoEquilibriumError", "RateSearch", "find_rate"]

#: |G| above this multiple of the market's gap scale keeps a trial rate at loose inner tolerances.
LOOSE_GATE = 1.0
#: A root closer than this to an end of the search interval (units of r) is refused.
EDGE = 1e-8
#: A trial rate is solved again when the household's prices at its own stationary distribution moved by
#: more than this (relative), at most MAX_SETTLE times.
DRIFT_TOL = 1e-9
MAX_SETTLE = 5


class ConvergenceError(RuntimeError):
    """An inner loop (household or distribution) did not converge within its iteration cap."""


class NoEquilibriumError(RuntimeError):
    """No interest rate in the search interval clears the market on this grid."""


class RateSearch:
    """G(r) with warm starts, a cache of every evaluation and one history row per evaluation.

    Subclasses define :meth:`solve` (one evaluation at trial rate r from a warm start, at loose or
    requested tolerances, returning a record with at least ``gap``, ``implied_rate``, ``A`` and ``S``),
    :meth:`warm_start` and :meth:`check_rate`.

    Attributes:
        cache: {r: record} of every rate solved; rows: the history, one dict per evaluation;
        seconds: time spent in evaluations; gap_scale: the market's scale of G (see LOOSE_GATE).
    """

    #: What sets the search's upper end, and what to change when no rate below it clears the market.
    upper_end = "1/beta - 1, where precautionary saving diverges"
    upper_fix = (
        "The top of the asset grid caps what households can save. Fix: raise the grid's top (a_max) or its "
        "size, or lower the demand for assets."
    )

    def __init__(self, model_name: str, gap_scale: float):
        self.model_name = model_name
        self.gap_scale = float(gap_scale)
        self.cache: dict[float, dict] = {}
        self.rows: list[dict] = []
        self.seconds = 0.0

    # --- defined by each stationary solver ------------------------------------------------------------
    def solve(self, r: float, start, loose: bool) -> dict:
        raise NotImplementedError

    def warm_start(self, r: float):
        raise NotImplementedError

    def check_rate(self, r: float) -> None:
        """Raise ValueError for a rate at which the household problem has no solution."""

    # --- shared -------------------------------------------------------------------------------------------
    def __call__(self, r: float, loose: bool = False) -> dict:
        """The record at r. ``loose``: first with loose inner tolerances, kept when |G| is large (a sign
        far from the root); else continued to the requested tolerances. A tight request for a point
        cached loosely continues it likewise."""
        r = float(r)
        cached = self.cache.get(r)
        if cached is not None and (loose or not cached["loose"]):
            return cached
        if cached is None:
            self.check_rate(r)
            start = self.warm_start(r)
        else:
            start = cached["start_next"]
        if loose and cached is None:
            rec = self._record(r, start, loose=True)
            if abs(rec["gap"]) > LOOSE_GATE * self.gap_scale:
                return rec
            start = rec["start_next"]
        return self._record(r, start, loose=False)

    def _record(self, r: float, start, loose: bool) -> dict:
        rec = self.solve(r, start, loose)
        rec["loose"] = loose
        self.cache[r] = rec
        self.seconds += rec["seconds"]
        row = {
            "evaluation": len(self.rows) + 1,
            "r": r,
            "excess_supply": rec["A"] - rec["S"],
            "gap": rec["gap"],
            "A": rec["A"],
            "S": rec["S"],
            "tolerance": "loose" if loose else "tight",
        }
        row.update(rec.get("counts", {}))
        row["seconds"] = rec["seconds"]
        self.rows.append(row)
        return rec

    def gap(self, r: float) -> float:
        """G(r) for the root-finder: loose where |G| is large (its sign is all that matters there)."""
        return self(r, loose=True)["gap"]

    def result(self, algorithm: str, market, rec: dict, bounds: tuple, bracket: tuple, tolerances: dict):
        """(:class:`~hetmacro.results.StationaryResult`, history frame) of a finished search, its
        record at r* being ``rec``."""
        history = pd.DataFrame(self.rows).set_index("evaluation")
        mu = np.asarray(rec["mu"])
        result = StationaryResult(
            algorithm=algorithm,
            market=repr(market),
            evaluations=len(self.rows),
            household_iterations=int(history["hh_iterations"].sum()),
            distribution_iterations=int(history["dist_iterations"].sum()),
            household_error=rec["hh_error"],
            distribution_error=rec["dist_error"],
            rate_bounds=bounds,
            bracket=bracket,
            tolerances=tolerances,
            top_mass=float(mu[-1].sum()),
            mass=float(mu.sum()),
        )
        return result, history

    def settle(self, r: float, evaluate, start, restart) -> tuple[dict, float]:
        """One evaluation at r, ``evaluate(start)`` (compiled; returns at least A, S, gap, implied_rate,
        prices_drift and the inner loops' iterations and errors), repeated from ``restart(out)`` while the
        household's prices at its own stationary distribution differ from those it was solved at (an
        aggregate other than the market's unknown moved with the distribution of assets).

        Returns:
            (record with Python numbers, seconds spent).

        Raises:
            ConvergenceError: the prices still move after MAX_SETTLE solves.
        """
        seconds = 0.0
        for _ in range(MAX_SETTLE):
            t0 = time.perf_counter()
            out = jax.block_until_ready(evaluate(start))
            seconds += time.perf_counter() - t0
            if not float(out["prices_drift"]) > DRIFT_TOL:
                break
            start = restart(out)
        rec = dict(out)
        for key in ("A", "S", "gap", "implied_rate", "hh_error", "dist_error", "prices_drift"):
            rec[key] = float(rec[key])
        if math.isnan(rec["implied_rate"]):
            rec["implied_rate"] = None
        for key in ("hh_iterations", "dist_iterations"):
            rec[key] = int(rec[key])
        if rec["prices_drift"] > DRIFT_TOL:
            raise ConvergenceError(
                f"{self.model_name}: at r = {r:.10g} the household's prices at its own stationary distribution "
                f"still differ by {rec['prices_drift']:.3g} (relative) from those it was solved at after "
                f"{MAX_SETTLE} solves: an aggregate other than the market's unknown depends on the distribution "
                "of assets and does not settle. Declare it as the market's unknown instead."
            )
        rec["seconds"] = seconds
        rec["counts"] = {"hh_iterations": rec["hh_iterations"], "dist_iterations": rec["dist_iterations"]}
        return rec, seconds


def _bracket(F: RateSearch, r_lo: float, r_hi: float, max_evaluations: int):
    """lo < hi with G(lo) < 0 < G(hi) inside (r_lo, r_hi), never evaluating the ends."""
    lo = hi = None
    r = r_hi - 0.25 * (r_hi - r_lo)
    width = r_hi - r_lo
    for _ in range(max_evaluations):
        rec = F(r, loose=True)
        g = rec["gap"]
        if g == 0.0:
            return r, r
        if g < 0:
            lo = r
        else:
            hi = r
        if lo is not None and hi is not None:
            return lo, hi
        implied = rec["implied_rate"]
        if hi is None:  # root in (lo, min(implied, r_hi))
            up = r_hi - 0.25 * (r_hi - lo)
            r_next = up if implied is None or not np.isfinite(implied) else min(implied, up)
            if r_hi - lo < 1e-13 * max(width, 1.0):
                break
        else:  # root in (max(implied, r_lo), hi)
            down = r_lo + 0.25 * (hi - r_lo)
            r_next = down if implied is None or not np.isfinite(implied) else max(implied, down)
            if hi - r_lo < 1e-13 * max(width, 1.0):
                break
        r = r_next
    last = F.cache[lo if hi is None else hi]
    if hi is None:
        raise NoEquilibriumError(
            f"{F.model_name}: the households' assets stay below what the market needs for every r up to "
            f"{r_hi:.8g} (the upper end: {F.upper_end}; last tried r = {lo:.10g}: assets {last['A']:.6g} "
            f"against {last['S']:.6g}). {F.upper_fix}"
        )
    raise NoEquilibriumError(
        f"{F.model_name}: the households' assets exceed what the market needs for every r down to "
        f"{r_lo:.8g} (the lower end of the search; last tried r = {hi:.10g}: assets {last['A']:.6g} against "
        f"{last['S']:.6g}). Fix: check the borrowing limit and the income process, or the market's supply."
    )


def find_rate(
    F: RateSearch, r_lo: float, r_hi: float, tol: float, max_evaluations: int, steps: str = "brent"
):
    """The equilibrium rate in (r_lo, r_hi): bracket, then Brent's method to ``tol`` (units of r).

    ``steps="bisect"`` halves the bracket instead: for a gap that is a step function (households on a
    discrete action grid switch action at isolated rates), where Brent's interpolation steps are wasted,
    it takes log2(width / tol) evaluations.

    Returns:
        (r_star, (lo, hi)): the root and the bracket it was found in.

    Raises:
        NoEquilibriumError: no sign change inside the interval (says on which side and what to change),
            Brent's method did not converge within ``max_evaluations``, or the root lies within ``EDGE``
            of an end of the interval.
    """
    lo, hi = _bracket(F, r_lo, r_hi, max_evaluations)
    if lo == hi:
        r_star = lo
    else:
        remaining = max(max_evaluations - len(F.rows), 1)
        root = optimize.brentq if steps == "brent" else optimize.bisect
        try:
            r_star = root(F.gap, lo, hi, xtol=tol, rtol=4 * np.finfo(float).eps, maxiter=remaining)
        except RuntimeError as err:
            raise NoEquilibriumError(
                f"{F.model_name}: the root-finder did not converge within max_evaluations = {max_evaluations} "
                f"({err}). Last bracket [{lo:.12g}, {hi:.12g}]. Fix: raise max_evaluations or loosen tol."
            ) from err
    for end, which in ((r_lo, "lower"), (r_hi, "upper")):
        if abs(r_star - end) < EDGE:
            raise NoEquilibriumError(
                f"{F.model_name}: the market clears only at the {which} end of the search range, r = "
                f"{r_star:.12g} (the interval is ({r_lo:.10g}, {r_hi:.10g})): that is where the search "
                "stopped, not an equilibrium. Fix: check that the asset grid starts at the borrowing limit and "
                "reaches far enough (a_max), and that households can repay at the limit (natural borrowing limit)."
            )
    return r_star, (lo, hi)
