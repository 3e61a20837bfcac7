"""The economist-facing model declaration.

A model is an :class:`equinox.Module` subclass whose fields are its economic parameters. Parameters
declared with :func:`param` are stored as JAX arrays, so changing a value (a sweep over beta) does not
recompile; sizes declared with :func:`static` are compile-time constants.

A model declares, with small methods written for *one* household (scalars in, scalars out; the
compiler vectorises over the state space):

=====================  ==========================================================================
``grid()``             the endogenous state dimension (:class:`~hetmacro.grids.Grid`)
``chain()``            the exogenous Markov chain (:class:`~hetmacro.grids.Chain`), or None
``actions()``          the ordinal action grid (:class:`~hetmacro.grids.ActionGrid`)
``transition``         next endogenous value x' = f(s, a, eps, agg), off-grid values go by lottery
``shocks()``           idiosyncratic shock atoms (eps values, probabilities) entering ``transition``
``reward``             per-period reward u(s, a, agg, next_agg)
``final_reward``       reward of the last transition (default: ``reward``)
``terminal_value``     value of the state after the last transition (default: 0)
``policy_quantities``  quantities a choice implies, for tables, e.g. {"c": consumption}
``chain_transition``   the chain's matrix given (z, z'), for shocks that move the chain (default P)
``aggregates``         moments of the distribution, e.g. {"K": E[a], "L": E[e]}
``prices``             prices from aggregates and the common noise, e.g. {"r": ..., "w": ...}
``signals``            what every household observes (shared), scaled to order one
``common_noise()``     the aggregate shock process (:mod:`hetmacro.noise`)
``initial_distribution``  mu_0 over (grid x chain), may depend on z_0
``horizon()``, ``discount()``  T (None: infinite) and the discount factor
=====================  ==========================================================================

Timing: at date t the aggregate state is (mu_t, z_t); prices p_t = prices(aggregates(mu_t), z_t).
A household in state s_t takes a_t, earns reward(s_t, a_t, agg_t, agg_{t+1}) and moves to
s_{t+1} = (lottery of transition(s_t, a_t, eps, agg_t), chain draw given (z_t, z_{t+1})).
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
from importlib import resources
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .grids import ActionGrid, Chain, Grid
from .noise import CommonNoise, NoNoise

__all__ = ["AggState", "Distribution", "Model", "State", "param", "static"]


def _to_array(x):
    # Python numbers are kept in float64 (numpy) so that beta = 0.96 stays 0.96 in float64 games;
    # compile() casts every parameter to the game's dtype.
    return x if isinstance(x, jax.Array) else np.asarray(x)


def param(default=dataclasses.MISSING, **kwargs):
    """A model parameter stored as a JAX array (a traced value: changing it does not recompile)."""
    return eqx.field(default=default, converter=_to_array, **kwargs)


def static(default=dataclasses.MISSING, **kwargs):
    """A compile-time constant of the model (grid sizes, horizon, switches)."""
    return eqx.field(default=default, static=True, **kwargs)


class State:
    """One household's state as model functions see it: ``s.<grid name>``, ``s.<chain name>``,
    and the indices ``s.i`` (grid) and ``s.j`` (chain)."""

    __slots__ = ("_values",)

    def __init__(self, values: dict):
        object.__setattr__(self, "_values", values)

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(
                f"the individual state has no '{name}'; it has {sorted(self._values)}"
            ) from None


class Distribution:
    """A histogram mu over (grid x chain) with named moments, given to ``Model.aggregates``."""

    def __init__(self, mu, grid: Grid, chain: Chain):
        self.mu = mu
        self._grid, self._chain = grid, chain

    def marginal(self, name: str):
        """The marginal histogram over one dimension, shape (n,) or (m,)."""
        if name == self._grid.name:
            return self.mu.sum(axis=1)
        if name == self._chain.name:
            return self.mu.sum(axis=0)
        raise KeyError(f"no dimension '{name}'; have '{self._grid.name}' and '{self._chain.name}'")

    def mean(self, name: str):
        """E[x] under mu for the dimension ``name``."""
        vals = self._grid.points if name == self._grid.name else self._chain.values
        return self.marginal(name) @ vals.astype(self.mu.dtype)

    def expect(self, f):
        """E[f(x, e)] under mu, f vectorised over the (n, m) state mesh."""
        x = self._grid.points.astype(self.mu.dtype)[:, None]
        e = self._chain.values.astype(self.mu.dtype)[None, :]
        return jnp.sum(self.mu * f(x, e))


class AggState(eqx.Module):
    """The aggregate state at a date: distribution mu (n, m), common noise z, date t, and the named
    aggregates and prices (``agg.K``, ``agg.r``) computed from them."""

    mu: jnp.ndarray
    z: object
    t: jnp.ndarray
    values: dict

    def __getattr__(self, name):
        # Only reached when normal attribute lookup fails: the model's named aggregates and prices.
        values = self.__dict__.get("values", {})
        if name in values:
            return values[name]
        raise AttributeError(f"the aggregate state has no '{name}'; it has t, z, mu and {sorted(values)}")


class Model(eqx.Module):
    """Base class of heterogeneous-agent models. Subclass it and declare the economics.

    Required: ``grid``, ``actions``, ``transition``, ``reward``, ``horizon`` and ``discount``
    (or fields ``T`` and ``beta``). Everything else has a default.
    """

    # --- the individual state and actions -------------------------------------------------------
    def grid(self) -> Grid:
        raise NotImplementedError(f"{type(self).__name__} must define grid() -> hetmacro.Grid")

    def chain(self) -> Chain:
        return Chain("e", [1.0], [[1.0]])

    def actions(self) -> ActionGrid:
        raise NotImplementedError(f"{type(self).__name__} must define actions() -> hetmacro.ActionGrid")

    # --- individual dynamics and payoffs ---------------------------------------------------------
    def shocks(self):
        """Idiosyncratic shocks entering ``transition``: (values (k,), probabilities (k,))."""
        return jnp.zeros(1), jnp.ones(1)

    def transition(self, s: State, a, eps, agg: AggState):
        raise NotImplementedError(f"{type(self).__name__} must define transition(s, a, eps, agg)")

    def chain_transition(self, z, z_next):
        """Exogenous chain matrix P[j, j'] given the common noise move z -> z', or None (the default) for
        the chain's own fixed P (read from the compiled game: a traced model never rebuilds its chain)."""
        return None

    def reward(self, s: State, a, agg: AggState, next_agg: AggState):
        raise NotImplementedError(f"{type(self).__name__} must define reward(s, a, agg, next_agg)")

    def final_reward(self, s: State, a, agg: AggState, next_agg: AggState):
        """Reward of the last transition t = T - 1 (default: the ordinary reward)."""
        return self.reward(s, a, agg, next_agg)

    def terminal_value(self, s: State, agg: AggState):
        """Value of being in state s at date T, after the last transition (default 0)."""
        return jnp.zeros(())

    def policy_quantities(self, s: State, a, agg: AggState) -> dict:
        """Named quantities a household's choice implies, for tables (e.g. {"c": consumption});
        their histogram-weighted means become aggregates (c -> C). Default: none."""
        return {}

    # --- aggregation, prices, signals, aggregate risk --------------------------------------------
    def aggregates(self, dist: Distribution) -> dict:
        return {}

    def prices(self, agg: AggState) -> dict:
        return {}

    def signals(self, agg: AggState) -> dict:
        return {}

    def common_noise(self) -> CommonNoise:
        return NoNoise()

    def initial_distribution(self, z):
        """mu_0 over (grid x chain), shape (n, m); default uniform."""
        n, m = self.grid().size, self.chain().size
        return jnp.full((n, m), 1.0 / (n * m))

    def market(self):
        """What clears in a stationary equilibrium (:mod:`hetmacro.market`), or None.

        ``hm.CapitalMarket("K")``: the aggregate K that the prices read is the households' assets, a
        firm's capital; ``hm.ZeroNetSupply()`` / ``hm.AssetSupply(S)``: an asset in given supply whose
        rate is a parameter of the model. ``method="stationary"`` searches the interest rate that
        clears it. Default None: no market (``method="stationary"`` then refuses, saying so).
        """
        return None

    def without_aggregate_risk(self):
        """The same economy without aggregate risk: what stationary solvers and the linearisation
        around the steady state solve. Default: the model itself when its common noise is
        deterministic; a model with aggregate risk declares how to switch it off."""
        if self.common_noise().deterministic:
            return self
        raise NotImplementedError(
            f"{type(self).__name__} has aggregate risk and does not declare without_aggregate_risk(): "
            "define it to return the economy without it (e.g. dataclasses.replace(self, tfp_sd=0.0))."
        )

    def validate(self, game, agg) -> None:
        """Checks a family of models makes once its game is compiled (default: none), given the game and
        its date-0 aggregate state. Raise ``ValueError`` naming what disagrees and the fix."""

    def horizon(self) -> int | None:
        return self.T

    def discount(self):
        return self.beta

    # --- construction ------------------------------------------------------------------------------
    def __post_init__(self):
        """Every parameter a finite number, every setting of its declared type: a NaN in sigma or a
        size of 1.5 fails here, naming the field, before the model's own checks and any solver.
        (A subclass that defines ``__post_init__`` calls ``super().__post_init__()``.)"""
        name = type(self).__name__
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not f.metadata.get("static", False):
                _check_param(name, f.name, value)
            else:
                _check_setting(name, f.name, value, f.default, str(f.type))

    @classmethod
    def from_calibration(cls, name_or_path: str | Path, **overrides):
        """Build the model from a TOML calibration, then apply ``overrides``.

        ``name_or_path`` is a shipped calibration's name (see :func:`hetmacro.calibrations`) or a
        path to a ``.toml`` file. Top-level keys are the model's fields; the ``[meta]`` table
        (source, period, units, notes) is kept as documentation; a ``[variants.NAME]`` table holds
        named overrides selected with ``"file:NAME"``.
        """
        values = load_calibration(name_or_path)
        field_names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(field_names)) + sorted(set(overrides) - set(field_names))
        if unknown:
            raise ValueError(
                f"{cls.__name__}: unknown calibration key(s) {unknown}. Valid keys: {sorted(field_names)}."
            )
        values.update(overrides)
        return cls(**values)


def _check_param(model: str, name: str, value) -> None:
    arr = np.asarray(value) if not isinstance(value, jax.Array) else value
    if isinstance(arr, jax.core.Tracer) or not hasattr(arr, "dtype"):
        return
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{model}.{name} must be a number (or an array of numbers), got {value!r}.")
    if arr.dtype.kind == "f" and not bool(np.all(np.isfinite(np.asarray(arr)))):
        raise ValueError(
            f"{model}.{name} = {np.asarray(arr).tolist()} is not finite: every parameter must be a finite number."
        )


def _check_setting(model: str, name: str, value, default, annotation: str) -> None:
    """A static setting against its default's type (or its annotation ``int`` / ``int | None`` when the
    default is None): bool, int (a whole number), float (a finite real), str."""
    kinds = {k.strip() for k in annotation.split("|")}
    if value is None:  # "not set" (e.g. T = None: an infinite horizon); the model's own checks decide
        return
    said = "" if default is None or default is dataclasses.MISSING else f" (default {default!r})"
    if not said:
        default = {"int": 0, "float": 0.0, "bool": False, "str": ""}.get(
            next(iter(kinds - {"None"}), ""), None
        )
    if isinstance(default, bool):
        ok, kind = isinstance(value, bool | np.bool_), "true or false"
    elif isinstance(default, int):
        ok, kind = isinstance(value, int | np.integer) and not isinstance(value, bool), "a whole number"
    elif isinstance(default, float):
        ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
        ok, kind = ok and bool(np.isfinite(value)), "a finite number"
    elif isinstance(default, str):
        ok, kind = isinstance(value, str), "a string"
    else:
        return
    if not ok:
        raise ValueError(f"{model}.{name} must be {kind}{said}, got {value!r}.")


def shipped_calibrations() -> list[str]:
    """Names of the calibrations shipped with the package."""
    root = resources.files("hetmacro.calibrations")
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml"))


def load_calibration(name_or_path: str | Path) -> dict:
    """Read a calibration's parameter values (without ``[meta]``) as a dict."""
    name, _, variant = str(name_or_path).partition(":")
    data = _read_calibration(name)
    data.pop("meta", None)
    variants = data.pop("variants", {})
    if variant:
        if variant not in variants:
            raise KeyError(f"calibration '{name}' has no variant '{variant}'; variants: {sorted(variants)}")
        data.update(variants[variant])
    return data


def calibration_meta(name_or_path: str | Path) -> dict:
    """A calibration's ``[meta]`` table (source, period, units, notes, published results) as a dict."""
    return _read_calibration(str(name_or_path).partition(":")[0]).get("meta", {})


def _read_calibration(name: str) -> dict:
    path = Path(name)
    if path.suffix == ".toml" or path.exists():
        if not path.exists():
            raise FileNotFoundError(
                f"calibration file '{path}' does not exist. Shipped calibrations: {shipped_calibrations()}."
            )
        text = path.read_text()
    else:
        shipped = shipped_calibrations()
        if name not in shipped:
            close = difflib.get_close_matches(name, shipped, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise FileNotFoundError(
                f"no calibration named '{name}'.{hint} Shipped calibrations: {shipped}; "
                "or pass a path to a .toml file."
            )
        text = resources.files("hetmacro.calibrations").joinpath(f"{name}.toml").read_text()
    return tomllib.loads(text)
