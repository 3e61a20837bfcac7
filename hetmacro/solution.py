"""What every solver returns."""

from __future__ import annotations

import dataclasses

import pandas as pd

__all__ = ["Solution"]


@dataclasses.dataclass
class Solution:
    """The result of :func:`hetmacro.solve`.

    Attributes:
        method: the solver's name (``"dp"``, ``"stationary"``, ``"rspg"``, ...).
        model: the model that was solved.
        game: the compiled game (None for solvers that work on the model directly).
        policy: the solved policy: a table pi[t, i, j, a] of shape (T, n, m, A) for finite-horizon
            DP, (n, m, A) or a solver-specific object (a trained network) otherwise.
        flows: mean-field flows on the evaluation paths: a :class:`hetmacro.Flow` whose arrays all
            have a leading path axis (length 1 without common noise), or None.
        values: value function(s) of the policy, e.g. V[t, i, j] for finite horizons.
        exploitability: sup over deviations of the gain of one household, in the model's utility
            units per household at date 0 (weighted by mu_0); None where not computed.
        exploitability_kind: what the number is: ``"exact"`` (no common noise),
            ``"clairvoyant upper bound"`` (best response sees the sampled noise path), ...
        aggregates: named equilibrium objects (e.g. {"r": 0.038, "K": 5.70}), solver-specific.
        history: one row per solver iteration (iteration, residual or exploitability, seconds, ...).
        timings: seconds spent, e.g. {"compile": ..., "solve": ...}.
        info: anything else the solver reports (iteration counts, tolerances, options, seed).
    """

    method: str
    model: object
    game: object = None
    policy: object = None
    flows: object = None
    values: object = None
    exploitability: float | None = None
    exploitability_kind: str | None = None
    aggregates: dict = dataclasses.field(default_factory=dict)
    history: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    timings: dict = dataclasses.field(default_factory=dict)
    info: dict = dataclasses.field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """A one-column table of the headline numbers (method, exploitability, aggregates, time)."""
        rows = {"model": type(self.model).__name__, "method": self.method}
        if self.exploitability is not None:
            rows["exploitability"] = self.exploitability
            rows["exploitability kind"] = self.exploitability_kind
        rows.update({k: float(v) for k, v in self.aggregates.items()})
        rows.update({f"time {k} (s)": v for k, v in self.timings.items()})
        return pd.DataFrame({"value": pd.Series(rows, dtype=object)}).rename_axis("quantity")

    def __repr__(self) -> str:
        return f"Solution({self.method}, {type(self.model).__name__})\n{self.summary().to_string()}"
