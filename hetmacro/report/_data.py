"""The data layer of the report tables: the Solution's flows as numpy arrays and the model quantities.

Runs jax code in the game's precision (:func:`_precision`); names the common noise's components
(:func:`noise_components`); reads a Solution's flows, or its stationary distribution, into a
:class:`_Data` with a leading path axis; turns a date ``t`` or a path number into a position
(:func:`_date`, :func:`_path`); indexes the individual states by (grid value, chain value); and
evaluates the model's ``policy_quantities`` hook and the grid variable's expected next value on the
state-action mesh, with their aggregates under mu and pi along the flows.
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ..noise import Joint, NoNoise

_MAX_BATCH = 64


# --- precision and data access -----------------------------------------------------------------------
def _precision(game):
    """Run jax code in the game's precision (float64 games are used inside ``jax.enable_x64``)."""
    use64 = game is not None and jnp.dtype(game.dtype) == jnp.dtype(jnp.float64)
    return jax.enable_x64(use64)


def noise_components(noise) -> dict:
    """{name: process} of the common noise: a :class:`~hetmacro.Joint`'s parts, else {"z": noise}."""
    if isinstance(noise, Joint):
        return dict(noise.parts)
    return {"z": noise}


def _z_dict(z) -> dict:
    return dict(z) if isinstance(z, dict) else {"z": z}


def _shown_noise(game) -> list[str]:
    """Noise components worth a column: all but :class:`~hetmacro.NoNoise` parts."""
    if game is None:
        return []
    return [k for k, p in noise_components(game.noise).items() if not isinstance(p, NoNoise)]


@dataclasses.dataclass
class _Data:
    """A Solution's flows as numpy arrays with a leading path axis."""

    mu: np.ndarray  # (P, D, n, m), D dates
    z: dict  # name -> (P, D)
    values: dict  # name -> (P, D)
    pi: np.ndarray | None  # (P, D - 1, n, m, A) or None
    stationary: bool
    dates: np.ndarray  # (D,) the model dates of the flows (0..T for solvers that start at date 0)

    @property
    def n_paths(self) -> int:
        return self.mu.shape[0]

    @property
    def n_dates(self) -> int:
        return self.mu.shape[1]


def _data(sol) -> _Data:
    game = sol.game
    if sol.flows is not None:
        aggs = sol.flows.aggs
        z = {k: np.asarray(v) for k, v in _z_dict(aggs.z).items() if k in _shown_noise(game)}
        values = {k: np.asarray(v) for k, v in aggs.values.items()}
        pi = None if sol.flows.pi is None else np.asarray(sol.flows.pi)
        dates = np.asarray(aggs.t).reshape(-1, np.shape(aggs.t)[-1])[0].astype(np.int64)
        return _Data(np.asarray(aggs.mu), z, values, pi, stationary=False, dates=dates)
    mu = sol.stationary
    if mu is None:
        raise ValueError(
            f"this {sol.method!r} Solution has neither flows nor a stationary distribution: "
            "there is no distribution to report."
        )
    values = {k: np.asarray(v).reshape(1, 1) for k, v in sol.aggregates.items() if np.ndim(v) == 0}
    return _Data(np.asarray(mu)[None, None], {}, values, None, stationary=True, dates=np.zeros(1, np.int64))


def _date(t: int, dates: np.ndarray, what: str) -> int:
    """The position of date ``t`` among ``dates`` (negative t counts from the end, as in Python)."""
    t, n = int(t), len(dates)
    if -n <= t < 0:
        return t % n
    where = np.flatnonzero(dates == t)
    if where.size == 0:
        raise IndexError(f"{what} t = {t} is out of range: this solution has dates {dates[0]}..{dates[-1]}.")
    return int(where[0])


def _path(path: int, n: int) -> int:
    path = int(path)
    if not -n <= path < n:
        raise IndexError(f"path = {path} is out of range: this solution has {n} path(s), 0..{n - 1}.")
    return path % n


def _agg_at(sol, path: int, t: int):
    return jax.tree.map(lambda x: jnp.asarray(np.asarray(x)[path, t]), sol.flows.aggs)


def _state_index(game) -> pd.MultiIndex:
    """(grid value, chain value) for every state, grid first; the chain's index if values repeat."""
    x = np.asarray(game.grid.points, dtype=np.float64)
    e = np.asarray(game.chain.values, dtype=np.float64)
    chain_name = game.chain.name
    if len(np.unique(e)) != e.size:
        e, chain_name = np.arange(e.size), f"{chain_name} state"
    return pd.MultiIndex.from_product([x, e], names=[game.grid.name, chain_name])


# --- model quantities on the state-action mesh ---------------------------------------------------------
def _hook(model):
    # Models written before the hook existed, or duck-typed ones, may lack it.
    fn = getattr(model, "policy_quantities", None)
    return fn if callable(fn) else None


def _aggregate_name(name: str, taken) -> str:
    if len(name) == 1 and name.islower() and name.upper() not in taken:
        return name.upper()
    return f"E[{name}]"


def _mesh_quantities(game, agg, include_next: bool = True) -> dict:
    """{name: (n, m, A)}: the grid variable's expected next value and the model's policy_quantities."""
    model = game.model
    out = {}
    if include_next:
        lo, hi = game.grid.points[0], game.grid.points[-1]

        def next_value(s, a):
            x = jax.vmap(lambda e: model.transition(s, a, e, agg))(game.eps)
            return jnp.clip(x.astype(game.dtype), lo, hi) @ game.eps_p

        out[f"{game.grid.name}'"] = game._over_states_actions(next_value)
    hook = _hook(model)
    if hook is not None:
        q = game._over_states_actions(lambda s, a: hook(s, a, agg))
        if not isinstance(q, dict):
            raise TypeError(
                f"{type(model).__name__}.policy_quantities must return a dict of named scalars "
                f"(e.g. {{'c': ...}}), got {type(q).__name__}."
            )
        out.update(q)
    return {k: jnp.asarray(v, game.dtype) for k, v in out.items()}


def _hook_aggregates(game, agg, pi) -> dict:
    """{name: E[q] under mu and pi} for the model's policy_quantities (scalars)."""
    if _hook(game.model) is None:
        return {}
    q = _mesh_quantities(game, agg, include_next=False)
    w = agg.mu[:, :, None] * pi
    return {k: jnp.sum(w * v) for k, v in q.items()}


@eqx.filter_jit
def _flow_hook_aggregates(game, aggs, pis):
    """Hook aggregates along flows: aggs leading (P, T + 1), pis (P, T, ...) -> {name: (P, T)}."""
    P, T = pis.shape[:2]
    now = jax.tree.map(lambda x: x[:, :T].reshape((P * T,) + x.shape[2:]), aggs)
    flat_pi = pis.reshape((P * T,) + pis.shape[2:])
    out = jax.lax.map(lambda xs: _hook_aggregates(game, *xs), (now, flat_pi), batch_size=_MAX_BATCH)
    return {k: v.reshape(P, T) for k, v in out.items()}


def _flow_quantities(sol, data: _Data) -> dict:
    """Aggregates of the model's policy quantities along the flows, NaN at the date without a policy."""
    game = sol.game
    if data.stationary or data.pi is None or game is None or _hook(game.model) is None:
        return {}
    with _precision(game):
        out = _flow_hook_aggregates(game, sol.flows.aggs, data.pi)
        out = {k: np.asarray(v) for k, v in out.items()}
    padded = {}
    for k, v in out.items():
        full = np.full((data.n_paths, data.n_dates), np.nan, dtype=v.dtype)
        full[:, : v.shape[1]] = v
        padded[_aggregate_name(k, set(data.values))] = full
    return padded
