"""What every solver returns: :class:`Solution`, and the reporting methods every Solution offers.

The tables (:mod:`hetmacro.report`), figures (:mod:`hetmacro.plot`) and files (:mod:`hetmacro.hmx`,
:mod:`hetmacro.export`) work from the fields below, so a new solver gets all of them by filling these
fields:

- finite-horizon and common-noise solvers fill ``flows`` (a :class:`hetmacro.Flow` with a leading path
  axis) and a ``policy`` that :meth:`Solution.policy_fn` can turn into ``policy(carry, agg) -> (carry, pi)``:
  a table pi[t, i, j, a] (T, n, m, A) or (n, m, A), or an object with ``__call__(carry, agg)`` and
  ``init_carry()`` (a recurrent network);
- stationary solvers leave ``flows`` None and put the stationary distribution in ``stationary`` (n, m)
  and the policy as a dict of (n, m) arrays (``"c"``, ``"a_next"``, ...) in ``policy``.

What is particular to a solver is in ``result``, a typed object of :mod:`hetmacro.results`, and the
configuration that produced the Solution is ``solver`` (:mod:`hetmacro.solvers`).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from . import export, hmx

__all__ = ["Solution"]


#: What each timing measures (wall seconds), for the summary's labels.
TIMINGS = {
    "total": "everything, compilation included",
    "compile": "compiling the solver (paid once per process and model structure)",
    "solve": "solving, after compilation",
    "iterations": "the iterations (the first one compiles the step)",
    "train": "training, after compilation",
    "train_cpu": "training, process CPU seconds",
    "per_iteration": "one training iteration, after compilation",
    "per_iteration_cpu": "one training iteration, process CPU seconds",
    "evaluate": "the final evaluation of the policy",
    "evaluate_first_call": "compiling and running the first evaluation",
    "evaluations": "the interest-rate evaluations",
    "values": "the value function at the solution",
    "steady_state": "the steady state",
    "jacobians": "the Jacobians",
    "ge": "the general-equilibrium solve",
    "irf": "the impulse responses",
}
_SHORT = {
    "total": "total, compile included",
    "compile": "compile",
    "solve": "solve, compiled",
    "iterations": "iterations, first compiles",
    "train_cpu": "train (CPU)",
    "per_iteration_cpu": "per iteration (CPU)",
}


def timing_label(key: str) -> str:
    """The summary's row label of a timing: ``time <what> (s)``."""
    return f"time {_SHORT.get(key, key.replace('_', ' '))} (s)"


@dataclasses.dataclass(init=False, eq=False)
class Solution:
    """The result of :func:`hetmacro.solve`.

    Attributes:
        method: the solver's name (``"dp"``, ``"stationary"``, ``"rspg"``, ...).
        model: the model that was solved.
        game: the compiled game (None for solvers that work on the model directly).
        policy: the solved policy: a table pi[t, i, j, a] of shape (T, n, m, A) for finite-horizon
            DP, (n, m, A), a dict of (n, m) arrays for stationary solvers, or a solver-specific
            object (a trained network with ``__call__(carry, agg) -> (carry, pi)`` and ``init_carry()``).
        flows: mean-field flows on the evaluation paths: a :class:`hetmacro.Flow` whose arrays all
            have a leading path axis (length 1 without common noise), or None.
        values: value function(s) of the policy, e.g. V[t, i, j] for finite horizons.
        exploitability: sup over deviations of the gain of one household, in the model's utility
            units per household at date 0 (weighted by mu_0); None where not computed.
        exploitability_kind: what the number is: ``"exact"`` (no common noise),
            ``"clairvoyant upper bound"`` (best response sees the sampled noise path), ...
        aggregates: named equilibrium objects (e.g. {"r": 0.038, "K": 5.70}), solver-specific.
        history_frame: one row per solver iteration (iteration, residual or exploitability, seconds,
            ...); solvers pass it as ``history=``; read it with :meth:`history`.
        timings: seconds spent, e.g. {"compile": ..., "solve": ...}.
        stationary: the stationary distribution mu (n, m) of a stationary or steady-state solution, else None.
        result: the solver's typed diagnostics (:mod:`hetmacro.results`: ``StationaryResult``,
            ``KSResult``, ...), or None.
        solver: the configuration that produced it (:mod:`hetmacro.solvers`, e.g. ``hm.Stationary(...)``).
        loaded_from: the file it was read from (:meth:`load`), else None.

    Tables: :meth:`summary`, :meth:`paths`, :meth:`irf`, :meth:`policy_table`, :meth:`distribution`,
    :meth:`inequality`, :meth:`lorenz`, :meth:`history`; figures: ``sol.plot.<name>()``; files:
    :meth:`save`, :meth:`to_csv`, :meth:`to_excel` and :meth:`load` (:func:`hetmacro.load`).
    """

    method: str
    model: object
    game: object
    policy: object
    flows: object
    values: object
    exploitability: float | None
    exploitability_kind: str | None
    aggregates: dict
    history_frame: pd.DataFrame
    timings: dict
    stationary: object
    result: object
    solver: object
    loaded_from: str | None

    def __init__(
        self,
        method: str,
        model: object,
        game: object = None,
        policy: object = None,
        flows: object = None,
        values: object = None,
        exploitability: float | None = None,
        exploitability_kind: str | None = None,
        aggregates: dict | None = None,
        history: pd.DataFrame | None = None,
        timings: dict | None = None,
        stationary: object = None,
        result: object = None,
        solver: object = None,
        *,
        history_frame: pd.DataFrame | None = None,
        loaded_from: str | None = None,
    ):
        if history is not None and history_frame is not None:
            raise TypeError("Solution: pass the iteration history once, as history= (or history_frame=).")
        frame = history if history is not None else history_frame
        self.method = method
        self.model = model
        self.game = game
        self.policy = policy
        self.flows = flows
        self.values = values
        self.exploitability = exploitability
        self.exploitability_kind = exploitability_kind
        self.aggregates = {} if aggregates is None else dict(aggregates)
        self.history_frame = pd.DataFrame() if frame is None else frame
        self.timings = {} if timings is None else dict(timings)
        self.stationary = stationary
        self.result = result
        self.solver = solver
        self.loaded_from = loaded_from

    # --- headline numbers -----------------------------------------------------------------------
    def summary(self) -> pd.DataFrame:
        """A one-column table of the headline numbers (method, exploitability, aggregates, time)."""
        rows = {"model": type(self.model).__name__, "method": self.method}
        if self.exploitability is not None:
            # A best response gains nothing from an equilibrium: a value at or a rounding error below
            # zero is shown as 0 (not "-0.0"); a clearly negative one, a bug, is shown as it is.
            e = float(self.exploitability)
            rows["exploitability"] = 0.0 if -1e-9 <= e <= 0.0 else e
            rows["exploitability kind"] = self.exploitability_kind
        for k, v in self.aggregates.items():
            if np.ndim(v) == 0:
                rows[k] = float(v)
        rows.update({timing_label(k): v for k, v in self.timings.items()})
        frame = pd.DataFrame({"value": pd.Series(rows, dtype=object)}).rename_axis("quantity")
        frame.attrs.update(
            {
                "description": "headline numbers: method, exploitability, aggregates, timings",
                "units": "exploitability: utility units per household at date 0; aggregates: model units; "
                "times: wall seconds",
                "timings": {timing_label(k): TIMINGS.get(k, k) for k in self.timings},
            }
        )
        return frame

    def history(self) -> pd.DataFrame:
        """The solver's training or iteration history: one row per iteration (a copy).

        Columns are the solver's: DP has iteration, exploitability, return, scheme, seconds; the
        stationary solver one row per interest-rate evaluation (r, excess supply, iterations, seconds);
        RSPG iteration, return, exploitability, learning rate, seconds. ``attrs["method"]`` names it.
        """
        frame = self.history_frame.copy()
        frame.attrs.update({"description": f"{self.method} iteration history", "method": self.method})
        return frame

    @property
    def horizon(self) -> int | None:
        """Number of dates with a policy along the flows (T), or None for a stationary solution."""
        if self.flows is None:
            return None
        return int(np.shape(self.flows.aggs.t)[-1]) - 1

    @property
    def n_paths(self) -> int:
        """Number of evaluation noise paths in ``flows`` (1 for a stationary solution)."""
        if self.flows is None:
            return 1
        return int(np.shape(self.flows.aggs.t)[0])

    # --- the policy as a function, for re-simulation ---------------------------------------------
    def policy_fn(self):
        """The solved policy as ``policy(carry, agg) -> (carry, pi)``, pi of shape (n, m, A).

        What :meth:`hetmacro.Game.rollout` and :meth:`irf` roll forward. Tables pi[t] (T, n, m, A)
        are read at ``agg.t``; an (n, m, A) table is used at every date; a network policy (an object
        with ``__call__(carry, agg)``) is returned as is. Start it from :meth:`initial_carry`.

        Raises:
            NotImplementedError: the policy is not an action distribution on the game's action grid
                (a stationary solver's continuous savings rule), or it was not saved with the file.
        """
        from .report import policy_function

        return policy_function(self)

    def initial_carry(self):
        """The policy's initial carry (a recurrent network's hidden state); None for tables."""
        init = getattr(self.policy, "init_carry", None)
        return init() if callable(init) else None

    # --- tables (hetmacro.report) ------------------------------------------------------------------
    def paths(self, summary: bool = False, quantiles=(0.05, 0.5, 0.95)) -> pd.DataFrame:
        """Aggregates, prices and the common noise by (path, t); see :func:`hetmacro.report.paths`."""
        from . import report

        return report.paths(self, summary=summary, quantiles=quantiles)

    def irf(self, shock="z", size: float = 0.01, horizon: int | None = None, **options) -> pd.DataFrame:
        """Generalised impulse response; see :func:`hetmacro.report.irf`."""
        from . import report

        return report.irf(self, shock, size, horizon, **options)

    def policy_table(self, t: int = 0, path: int = 0) -> pd.DataFrame:
        """Policy at date t on a path, by (grid, chain); see :func:`hetmacro.report.policy_table`."""
        from . import report

        return report.policy_table(self, t=t, path=path)

    def distribution(self, t: int = 0, path: int = 0) -> pd.DataFrame:
        """The histogram mu_t as a tidy frame; see :func:`hetmacro.report.distribution`."""
        from . import report

        return report.distribution(self, t=t, path=path)

    def inequality(self, t: int = 0, path: int | None = None) -> pd.DataFrame:
        """Gini, top shares and the share at the borrowing limit; see :func:`hetmacro.report.inequality`."""
        from . import report

        return report.inequality(self, t=t, path=path)

    def lorenz(self, t: int = 0, path: int = 0) -> pd.DataFrame:
        """Lorenz curve points of the grid variable; see :func:`hetmacro.report.lorenz`."""
        from . import report

        return report.lorenz(self, t=t, path=path)

    # --- figures and files ------------------------------------------------------------------------
    @property
    def plot(self):
        """Figures: ``sol.plot.irf()``, ``.policy()``, ``.distribution()``, ``.paths()``, ``.history()``."""
        from .plot import SolutionPlots

        return SolutionPlots(self)

    def save(self, path):
        """Write the Solution to ``path`` (JSON header line + equinox-serialised arrays; no pickle);
        returns the path. Read it back with :meth:`load` (:func:`hetmacro.load`)."""
        return hmx.save(self, path)

    @classmethod
    def load(cls, path, model_class=None) -> Solution:
        """Read a Solution written by :meth:`save`.

        Args:
            path: the file.
            model_class: the model's class, required unless it is shipped or registered with
                :func:`hetmacro.register_model` (a file never imports the module it names); when given
                it must be the file's class.

        Raises:
            SolutionFileError: not a Solution file; corrupt, truncated or edited (one checksum covers
                the header and the arrays); an unknown model class; or a different model class than
                ``model_class``.
        """
        return cls(**hmx.read(path, model_class), loaded_from=str(path))

    def to_csv(self, folder, **options) -> list:
        """Write every table as CSV into ``folder``; see :func:`hetmacro.export.to_csv`."""
        return export.to_csv(self, folder, **options)

    def to_excel(self, path, **options):
        """Write every table as one sheet of an Excel workbook (needs openpyxl); returns the path."""
        return export.to_excel(self, path, **options)

    def __repr__(self) -> str:
        return f"Solution({self.method}, {type(self.model).__name__})\n{self.summary().to_string()}"
