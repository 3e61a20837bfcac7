r"""Tables from a :class:`~hetmacro.Solution`: tidy pandas frames with named index levels and units.

Every solver's Solution gets the same tables (DESIGN §6):

================================  =====================================================================
``paths(sol)``                    aggregates, prices and the common noise by (path, t); with
                                  ``summary=True`` the mean and quantiles across paths by t
``irf(sol, shock, size, ...)``    generalised impulse response: shocked minus unshocked path under the
                                  same policy and the same other noise, averaged over paths
``policy_table(sol, t, path)``    the policy at one date of one path by (grid, chain): action
                                  probabilities, expected action, next grid value, model quantities
``distribution(sol, t, path)``    the histogram mu_t by (grid, chain)
``inequality(sol, t, path)``      Gini, top 1% / 10% shares, share at the borrowing limit, per path
``lorenz(sol, t, path)``          the Lorenz curve of the grid variable, point by point
``compare(*solutions)``           one row per solution: method, exploitability, r, w, K, C, time
================================  =====================================================================

**Dates.** ``t`` is the model's date (0 = the initial distribution). Flows hold T + 1 distributions
(dates 0..T) and T policies (dates 0..T-1); negative ``t`` counts from the end as in Python. A stationary
solution has the single date 0 and the single path 0.

**Model quantities.** If the model defines ``policy_quantities(s, a, agg) -> {"c": ..., ...}`` (scalars
for one household in state s taking action a; vectorised by the toolkit like every model method), the
policy table shows their expectation over the policy's actions, and :func:`paths` and :func:`irf` show
their aggregates under mu and pi: a one-letter lowercase name becomes its uppercase aggregate
(``c`` -> ``C``), any other name ``E[name]``. Without the hook the policy table still shows the expected
next value of the grid variable (``a'``), computed from the model's ``transition`` and clipped to the grid
as the lottery does.

**Inequality** statistics use histogram weights (HARK's ``get_lorenz_shares`` convention): the grid
variable's values weighted by the marginal mass, the Lorenz curve linear between the histogram's
cumulative points (exact for a histogram: everyone at a grid point holds the same amount). The Gini
coefficient is the mean absolute difference over twice the mean,
G = sum_i sum_k w_i w_k |x_i - x_k| / (2 sum_i w_i x_i) = 1 - sum_i w_i (L_{i-1} + L_i).
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from .game import Flow, _cast_noise
from .noise import Joint, NoNoise

__all__ = [
    "TablePolicy",
    "compare",
    "distribution",
    "gini",
    "inequality",
    "irf",
    "irf_frame",
    "lorenz",
    "lorenz_curve",
    "noise_components",
    "noise_path",
    "paths",
    "policy_function",
    "policy_table",
    "rollout_with_noise",
    "top_share",
]

#: Names reported in percentage points (level differences x 100) by :func:`irf`; a model adds its own
#: with a ``rates`` attribute (a tuple of names). Everything else is a percent deviation.
RATE_NAMES = ("r", "i")

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
    mu = sol.info.get("mu") if isinstance(sol.info, dict) else None
    if mu is None:
        raise ValueError(
            f"this {sol.method!r} Solution has neither flows nor a stationary distribution info['mu']: "
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


# --- paths -------------------------------------------------------------------------------------------
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


# --- the policy as a function, and rolling forward on a given noise path --------------------------------
class TablePolicy(eqx.Module):
    """A policy table as ``policy(carry, agg) -> (carry, pi)``: pi[agg.t] for (T, n, m, A), the same
    (n, m, A) table at every date otherwise."""

    table: jnp.ndarray

    def __call__(self, carry, agg):
        table = jnp.asarray(self.table)
        if table.ndim == 3:
            return carry, table
        return carry, table[agg.t]

    @property
    def dates(self) -> int | None:
        """Number of dates the table covers (None: every date)."""
        return None if np.ndim(self.table) == 3 else int(np.shape(self.table)[0])


def policy_function(sol):
    """``policy(carry, agg) -> (carry, pi)`` for a Solution (see :meth:`hetmacro.Solution.policy_fn`)."""
    pol = sol.policy
    if pol is None:
        raise NotImplementedError(
            f"this {sol.method!r} Solution carries no policy (a loaded file whose network policy could "
            "not be saved?): tables along the stored flows work, re-simulation (irf) does not."
        )
    if isinstance(pol, dict):
        raise NotImplementedError(
            f"the {sol.method!r} Solution's policy is a continuous savings rule ({sorted(pol)}), not a "
            "distribution over the game's action grid, and the model has no common noise: there is no "
            "shock to respond to. For impulse responses solve a model with common noise by a method "
            "whose policy is an action distribution (method='dp' on a finite horizon, 'rspg')."
        )
    if isinstance(pol, np.ndarray | jax.Array):
        if pol.ndim not in (3, 4):
            raise ValueError(f"policy table of shape {pol.shape}: expected (T, n, m, A) or (n, m, A).")
        return TablePolicy(pol)
    if callable(pol):
        return pol
    raise NotImplementedError(
        f"the {sol.method!r} Solution's policy ({type(pol).__name__}) is neither a table nor callable as "
        "policy(carry, agg) -> (carry, pi): the solver must provide one of these for re-simulation."
    )


def _roll(game, policy, carry, z_path, record=None, mu0=None):
    """Roll the mean field along a given noise path z_0..z_D (leading axis D + 1).

    Same operations as :meth:`hetmacro.Game.step`: pi_t = policy(agg_t), mu_{t+1} = push(mu_t, pi_t,
    kernel(agg_t, z_{t+1})). Returns (aggs with D + 1 dates, per-date records of ``record(agg, pi)``
    (default: pi) for dates 0..D-1).
    """
    record = (lambda agg, pi: pi) if record is None else record
    z0 = jax.tree.map(lambda x: x[0], z_path)
    if mu0 is None:
        mu0 = game.model.initial_distribution(z0)
    agg0 = game.aggregate_state(jnp.asarray(mu0, game.dtype), z0, 0)

    def body(state, z_next):
        agg, c = state
        c, pi = policy(c, agg)
        mu = game.push(agg.mu, pi, game.kernel(agg, z_next))
        return (game.aggregate_state(mu, z_next, agg.t + 1), c), (agg, record(agg, pi))

    (agg_T, _), (aggs, recs) = jax.lax.scan(body, (agg0, carry), jax.tree.map(lambda x: x[1:], z_path))
    aggs = jax.tree.map(lambda xs, x: jnp.concatenate([xs, x[None]]), aggs, agg_T)
    return aggs, recs


def rollout_with_noise(game, policy, z_path, carry=None, mu0=None) -> Flow:
    """The mean-field flow under ``policy`` along a *given* common-noise path.

    Like :meth:`hetmacro.Game.rollout`, but the noise path z_0..z_T (a pytree with leading axis T + 1,
    as :func:`noise_path` returns) is an argument instead of being drawn from a key, so that a shocked
    and an unshocked path can be compared under the same policy. mu_0 is the model's
    ``initial_distribution(z_0)`` unless given.
    """
    aggs, pis = _roll(game, policy, carry, z_path, mu0=mu0)
    return Flow(aggs, pis)


def noise_path(game, key, T: int, kick=None):
    """z_0..z_T as :meth:`hetmacro.Game.noise_path` draws them (see there for ``kick``)."""
    return game.noise_path(key, T, kick)


def _get(z, name):
    return z[name] if isinstance(z, dict) else z


def _put(z, name, value):
    if isinstance(z, dict):
        return {**z, name: value}
    return value


@eqx.filter_jit
def _irf_paths(game, policy, carry, keys, D: int, R: int, add, overlay, force, mu0=None):
    """Roll one noise path per key over dates 0..D with the kicks applied; record R dates of policy
    aggregates. add/overlay: {name: (D + 1,) float}; force: {name: (D + 1,) int, -1 = leave}."""

    def kick(t, z):
        for name, a in add.items():
            z = _put(z, name, _get(z, name) + a[t].astype(_get(z, name).dtype))
        for name, f in force.items():
            v = _get(z, name)
            z = _put(z, name, jnp.where(f[t] >= 0, f[t].astype(v.dtype), v))
        return z

    def one(key):
        zs = noise_path(game, key, R, kick)
        for name, o in overlay.items():
            zs = _put(zs, name, _get(zs, name) + o[: R + 1].astype(_get(zs, name).dtype))
        aggs, recs = _roll(
            game, policy, carry, zs, record=lambda agg, pi: _hook_aggregates(game, agg, pi), mu0=mu0
        )
        aggs = jax.tree.map(lambda x: x[: D + 1], aggs)
        return aggs.values, aggs.z, jax.tree.map(lambda x: x[: D + 1], recs)

    return jax.vmap(one)(keys)


def _rate_names(model) -> set:
    return set(RATE_NAMES) | set(getattr(model, "rates", ()) or ())


def irf(
    sol,
    shock="z",
    size: float = 0.01,
    horizon: int | None = None,
    *,
    at: int = 0,
    paths: int | None = None,
    seed: int = 0,
    units: dict | None = None,
    mu0=None,
) -> pd.DataFrame:
    r"""The generalised impulse response: shocked minus unshocked path, same policy, same other noise.

    For each of ``paths`` common-noise paths (drawn as :meth:`~hetmacro.Game.rollout` draws them from
    ``seed``) the mean field is rolled forward twice under the solved policy (:meth:`Solution.policy_fn`,
    a recurrent policy sees the shocked signals): once on the drawn path and once on the same path
    with the shock applied; the table is the average over paths of the difference, for dates
    ``at``..``at + horizon``. Policies that are tables pi[t] do not react to the shock: households
    keep their state-contingent actions and the response runs through prices and transitions.

    Args:
        sol: a Solution whose game has common noise (a continuous or finite-state process).
        shock: what to shock.

            - a name of a common-noise component (``"z"``, or a part of a joint process such as
              ``"bar"``): a one-time shock at date ``at``. A continuous component (AR(1)) is moved by
              ``size`` and then follows its own law of motion with the same innovations (so an AR(1)
              deviation decays as rho^h size); a finite-state component (Markov chain, rare event) is
              *set* to state ``size`` at date ``at`` and moves on from there with the same random numbers.
            - an array (or a dict {component: array}) indexed by date 0, 1, ...: a user-supplied path.
              For a continuous component it is the deviation from the unshocked value at each date
              (added after the draw; not propagated: give the whole path); for a finite-state
              component, the state to force at each date (-1 leaves the draw), moving on from it.
        size: the shock's size (continuous) or the state it sets (finite-state); ignored for paths.
        horizon: dates after the shock to report (default: to the end of a finite horizon, else 40).
        at: the shock date.
        paths: number of noise paths (default 1 for deterministic noise, else 64).
        seed: seed of the noise paths.
        units: override the unit of a column: {name: "%", "pp" or "level"}.
        mu0: the distribution (n, m) at date 0 (default: the model's ``initial_distribution(z_0)``),
            e.g. an ergodic distribution a solver reports.

    Returns:
        Index ``h`` (periods since the shock, date ``at + h``); one column per aggregate, price, noise
        component and policy aggregate, its unit in its name: ``"K (%)"`` percent deviation
        100 (x_shocked - x) / x; ``"r (pp)"`` percentage points 100 (x_shocked - x) for rates
        (``RATE_NAMES`` and a model's ``rates`` attribute); ``"z (level)"`` the plain difference, for the
        common noise and for any quantity whose unshocked value is 0 somewhere.
    """
    game = sol.game
    if game is None:
        raise ValueError(f"the {sol.method!r} Solution has no compiled game to re-simulate.")
    policy = policy_function(sol)
    carry = sol.initial_carry()
    comps = noise_components(game.noise)
    T = game.T
    dates = getattr(policy, "dates", None)
    bounds = [x for x in (T, dates) if x is not None]
    limit = min(bounds) if bounds else None
    if horizon is None:
        horizon = (limit - at) if limit is not None else 40
    at, horizon = int(at), int(horizon)
    if at < 0 or horizon < 0:
        raise ValueError(f"irf: at = {at} and horizon = {horizon} must be >= 0.")
    D = at + horizon
    if limit is not None and D > limit:
        raise ValueError(
            f"irf: dates up to at + horizon = {D} exceed the solution's horizon T = {limit}; "
            f"take horizon <= {limit - at}."
        )
    # Policy aggregates at the last reported date need one more policy evaluation.
    R = D + 1 if (limit is None or D + 1 <= limit) else D
    n_paths = paths if paths is not None else (1 if game.noise.deterministic else 64)
    if n_paths < 1:
        raise ValueError(f"irf: paths = {n_paths} must be >= 1.")

    with _precision(game):
        z_probe = _z_dict(_cast_noise(game.noise.initial(jax.random.PRNGKey(0)), game.dtype))
        discrete = {k: not jnp.issubdtype(jnp.asarray(v).dtype, jnp.floating) for k, v in z_probe.items()}
        zero_add = {k: np.zeros(R + 1) for k in comps if not discrete[k]}
        no_force = {k: np.full(R + 1, -1, np.int64) for k in comps if discrete[k]}
        add, overlay, force = dict(zero_add), dict(zero_add), dict(no_force)
        label = _describe_shock(shock, size, at)
        if isinstance(shock, str):
            if shock not in comps:
                raise ValueError(
                    f"irf: the common noise has no component {shock!r}; it has {sorted(comps)} "
                    "(or pass a shock path as an array)."
                )
            if isinstance(comps[shock], NoNoise):
                raise ValueError(
                    f"irf: {type(sol.model).__name__} has no common noise ({shock!r} is NoNoise): there is "
                    "no aggregate shock to respond to."
                )
            if discrete[shock]:
                n_states = _n_states(comps[shock])
                if int(size) != size or (n_states is not None and not 0 <= int(size) < n_states):
                    raise ValueError(
                        f"irf: {shock!r} is a finite-state process: size = {size!r} must be the state to set, "
                        f"an integer in 0..{n_states - 1 if n_states else 'n - 1'}."
                    )
                force[shock] = np.where(np.arange(R + 1) == at, int(size), -1)
            else:
                add[shock] = np.where(np.arange(R + 1) == at, float(size), 0.0)
        else:
            given = shock if isinstance(shock, dict) else None
            if given is None:
                shown = [k for k in comps if not isinstance(comps[k], NoNoise)]
                if len(shown) != 1:
                    raise ValueError(
                        f"irf: the common noise has components {sorted(comps)}; pass a shock path as a "
                        "dict {component: path}."
                    )
                given = {shown[0]: shock}
            for name, path in given.items():
                if name not in comps:
                    raise ValueError(
                        f"irf: the common noise has no component {name!r}; it has {sorted(comps)}."
                    )
                path = np.asarray(path).reshape(-1)[: R + 1]
                if discrete[name]:
                    full = np.full(R + 1, -1, np.int64)
                    full[: path.size] = path.astype(np.int64)
                    force[name] = full
                else:
                    full = np.zeros(R + 1)
                    full[: path.size] = path.astype(np.float64)
                    overlay[name] = full
        keys = jax.random.split(jax.random.PRNGKey(seed), n_paths)
        start = None if mu0 is None else jnp.asarray(mu0, game.dtype).reshape(game.n, game.m)
        as_dtype = {k: jnp.asarray(v, game.dtype) for k, v in zero_add.items()}
        base = _irf_paths(
            game,
            policy,
            carry,
            keys,
            D,
            R,
            as_dtype,
            as_dtype,
            {k: jnp.asarray(v, jnp.int32) for k, v in no_force.items()},
            start,
        )
        shocked = _irf_paths(
            game,
            policy,
            carry,
            keys,
            D,
            R,
            {k: jnp.asarray(v, game.dtype) for k, v in add.items()},
            {k: jnp.asarray(v, game.dtype) for k, v in overlay.items()},
            {k: jnp.asarray(v, jnp.int32) for k, v in force.items()},
            start,
        )
        base, shocked = jax.tree.map(np.asarray, (base, shocked))

    shown = _shown_noise(game)
    series_b, series_s = {}, {}
    for k in shown:
        series_b[k], series_s[k] = _z_dict(base[1])[k], _z_dict(shocked[1])[k]
    for k in base[0]:
        series_b[k], series_s[k] = base[0][k], shocked[0][k]
    for k in base[2]:
        name = _aggregate_name(k, set(base[0]))
        pad_b = np.full((n_paths, D + 1), np.nan)
        pad_s = np.full((n_paths, D + 1), np.nan)
        pad_b[:, : base[2][k].shape[1]] = base[2][k]
        pad_s[:, : shocked[2][k].shape[1]] = shocked[2][k]
        series_b[name], series_s[name] = pad_b, pad_s

    frame = irf_frame(
        {k: np.asarray(v, np.float64)[:, at:] for k, v in series_b.items()},
        {k: np.asarray(v, np.float64)[:, at:] for k, v in series_s.items()},
        rates=_rate_names(sol.model),
        levels=shown,
        units=units,
    )
    frame.attrs.update(
        {
            "shock": label,
            "at": at,
            "paths": n_paths,
            "seed": seed,
            "index": "h: periods since the shock (date at + h)",
            "method": sol.method,
            "model": type(sol.model).__name__,
        }
    )
    return frame


def irf_frame(baseline: dict, shocked: dict, *, rates=RATE_NAMES, levels=(), units=None) -> pd.DataFrame:
    """The impulse-response table from level paths: what :func:`irf` returns, for any solver.

    Args:
        baseline, shocked: {name: array} of levels, shape (H + 1,) or (paths, H + 1), dates from the
            shock on; the table is the mean over paths of the deviation.
        rates: names reported in percentage points, 100 (x_shocked - x).
        levels: names reported as plain differences (e.g. the common noise).
        units: overrides, {name: "%", "pp" or "level"}.

    Returns:
        Index ``h`` (periods since the shock); columns ``"<name> (<unit>)"``: ``%`` percent deviation
        100 (x_shocked - x) / |x| (quantities), ``pp`` (rates), ``level`` (``levels``, and any quantity
        whose baseline is 0 somewhere).
    """
    units = dict(units or {})
    columns = {}
    for k, xb in baseline.items():
        xb = np.atleast_2d(np.asarray(xb, np.float64))
        xs = np.atleast_2d(np.asarray(shocked[k], np.float64))
        unit = units.get(k)
        if unit is None:
            if k in levels:
                unit = "level"
            elif k in rates:
                unit = "pp"
            elif np.any(xb[np.isfinite(xb)] == 0):
                unit = "level"
            else:
                unit = "%"
        if unit not in ("%", "pp", "level"):
            raise ValueError(f"irf: unit {unit!r} for {k!r}: use '%', 'pp' or 'level'.")
        diff = xs - xb
        if unit == "%":
            dev = 100.0 * diff / np.abs(xb)
        elif unit == "pp":
            dev = 100.0 * diff
        else:
            dev = diff
        columns[f"{k} ({unit})"] = dev.mean(axis=0)
    H = len(next(iter(columns.values()))) if columns else 0
    frame = pd.DataFrame(columns, index=pd.RangeIndex(H, name="h"))
    frame.attrs.update(
        {
            "description": "impulse response: mean over paths of shocked minus unshocked",
            "units": {
                "%": "percent deviation 100 (x_shocked - x) / |x|",
                "pp": "percentage points 100 (x_shocked - x)",
                "level": "difference in levels x_shocked - x",
            },
            "index": "h: periods since the shock",
        }
    )
    return frame


def _n_states(process) -> int | None:
    """Number of states of a finite-state noise process (None if unknown)."""
    P = getattr(process, "P", None)
    if P is not None:
        return int(np.shape(P)[0])
    if hasattr(process, "prob"):  # RareEvent: 0 before, 1 after
        return 2
    return None


def _describe_shock(shock, size, at) -> str:
    if isinstance(shock, str):
        return f"{shock} {size:+g} at date {at}"
    return "user-supplied path"


# --- the policy, the distribution and inequality -------------------------------------------------------
@eqx.filter_jit
def _policy_mesh(game, agg, pi):
    q = _mesh_quantities(game, agg)
    return {k: jnp.sum(pi * v, axis=-1) for k, v in q.items()}


def policy_table(sol, t: int = 0, path: int = 0) -> pd.DataFrame:
    """The policy at date t on one path, by individual state.

    Index (grid name, chain name), e.g. (``a``, ``e``): the grid and chain values (the chain's state
    index, level named ``"<chain> state"``, where its values repeat). Columns:

    - ``mass``: mu_t(s), the share of households in the state (sums to 1);
    - ``E[<action>]``: the expected action under pi_t(.|s) (e.g. ``E[consumption share]``);
    - ``<grid>'``: the expected next value of the grid variable (e.g. ``a'``: savings), from the
      model's ``transition`` with the shock atoms' probabilities, clipped to the grid;
    - one column per ``policy_quantities`` of the model (e.g. ``c``), expected over actions;
    - ``P(<action>=<value>)``: the action probabilities.

    A stationary solution has ``c``, ``a'`` and the other entries of its policy dict at t = 0.
    """
    game = sol.game
    if game is None:
        raise ValueError(f"the {sol.method!r} Solution has no compiled game.")
    index = _state_index(game)
    n, m = game.n, game.m
    data = _data(sol)
    path = _path(path, data.n_paths)
    if data.stationary:
        _date(t, data.dates, "policy_table:")
        cols = {"mass": data.mu[0, 0].reshape(-1)}
        for k, v in sol.policy.items():
            name = {"a_next": f"{game.grid.name}'", "consumption_share": "consumption share"}.get(k, k)
            cols[name] = np.asarray(v).reshape(-1)
        frame = pd.DataFrame(cols, index=index)
        frame.attrs.update(_policy_attrs(sol, game, 0, 0))
        return frame
    with _precision(game):
        if data.pi is not None:
            pos = _date(t, data.dates[: data.pi.shape[1]], "policy_table: a policy exists at dates 0..T-1;")
            agg = _agg_at(sol, path, pos)
            pi = data.pi[path, pos]
        else:
            # Flows without stored policies (a Markov policy of the aggregate state, e.g. the
            # Krusell-Smith rule): evaluate the policy at the stored aggregate state.
            pos = _date(t, data.dates, "policy_table:")
            agg = _agg_at(sol, path, pos)
            _, pi = policy_function(sol)(sol.initial_carry(), agg)
            pi = np.asarray(pi)
        derived = {k: np.asarray(v) for k, v in _policy_mesh(game, agg, jnp.asarray(pi)).items()}
        actions = np.asarray(game.actions.values)
    cols = {"mass": data.mu[path, pos].reshape(n * m)}
    cols[f"E[{game.actions.name}]"] = (pi * actions.astype(pi.dtype)).sum(-1).reshape(n * m)
    cols.update({k: v.reshape(n * m) for k, v in derived.items()})
    for a, value in enumerate(actions):
        cols[f"P({game.actions.name}={value:g})"] = pi[..., a].reshape(n * m)
    frame = pd.DataFrame(cols, index=index)
    frame.attrs.update(_policy_attrs(sol, game, int(data.dates[pos]), path))
    return frame


def _policy_attrs(sol, game, t, path) -> dict:
    return {
        "description": f"policy at date {t} of path {path}, by individual state",
        "units": "mass: probability; E[action], quantities: model units; P(...): probabilities",
        "t": t,
        "path": path,
        "method": sol.method,
        "model": type(sol.model).__name__,
    }


def distribution(sol, t: int = 0, path: int = 0) -> pd.DataFrame:
    """The histogram mu_t on one path as a tidy frame.

    Index (grid name, chain name) as :func:`policy_table`; column ``mass`` (probability; sums to 1).
    """
    game = sol.game
    if game is None:
        raise ValueError(f"the {sol.method!r} Solution has no compiled game.")
    data = _data(sol)
    path = _path(path, data.n_paths)
    pos = _date(t, data.dates, "distribution:")
    t = int(data.dates[pos])
    frame = pd.DataFrame({"mass": data.mu[path, pos].reshape(-1)}, index=_state_index(game))
    frame.attrs.update(
        {
            "description": f"distribution of households at date {t} of path {path}",
            "units": "mass: probability (sums to 1)",
            "t": t,
            "path": path,
            "method": sol.method,
            "model": type(sol.model).__name__,
        }
    )
    return frame


def lorenz_curve(values, weights) -> tuple[np.ndarray, np.ndarray]:
    """Lorenz curve points of a weighted distribution: (population share, value share), from (0, 0).

    Sorted by value; both arrays have length len(values) + 1 and end at (1, 1). The curve is linear
    between the points (exact for a histogram: all mass at a point holds the same value).
    """
    x = np.asarray(values, np.float64).reshape(-1)
    w = np.asarray(weights, np.float64).reshape(-1)
    if x.shape != w.shape:
        raise ValueError(f"lorenz_curve: {x.size} values but {w.size} weights.")
    if np.any(w < 0) or not w.sum() > 0:
        raise ValueError("lorenz_curve: weights must be non-negative with a positive sum.")
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order] / w.sum()
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

    Index ``path`` (every path, or the one given). Columns (fractions in [0, 1], except the mean):
    ``gini``; ``top 1% share`` and ``top 10% share`` of the total; ``share at borrowing limit``: the
    mass at the grid's lowest point (households at the constraint; the lottery puts those just above
    it partly on the next point); ``mean <grid>`` in model units.
    """
    game = sol.game
    if game is None:
        raise ValueError(f"the {sol.method!r} Solution has no compiled game.")
    n_paths = _data(sol).n_paths
    rows = range(n_paths) if path is None else [_path(path, n_paths)]
    out = []
    for p in rows:
        x, w, t_ = _marginal(sol, t, p)
        mean = float(np.sum(w * x) / np.sum(w))
        row = {"gini": np.nan, "top 1% share": np.nan, "top 10% share": np.nan}
        if mean != 0:
            row = {
                "gini": gini(x, w),
                "top 1% share": top_share(x, w, 0.01),
                "top 10% share": top_share(x, w, 0.10),
            }
        row["share at borrowing limit"] = float(w[0] / np.sum(w))
        row[f"mean {game.grid.name}"] = mean
        out.append(row)
    frame = pd.DataFrame(out, index=pd.Index(list(rows), name="path"))
    frame.attrs.update(
        {
            "description": f"inequality of {game.grid.name} at date {t_}, histogram-weighted",
            "units": "fractions (gini and shares), model units (mean)",
            "variable": game.grid.name,
            "t": t_,
            "method": sol.method,
            "model": type(sol.model).__name__,
        }
    )
    return frame


# --- comparing solutions ----------------------------------------------------------------------------------
_COMPARE_VARIABLES = ("r", "w", "K", "L", "Y", "C")


def total_seconds(timings: dict) -> float:
    """A solution's total wall time: ``total`` or ``compile+solve`` if given, else compile + solve + values."""
    for key in ("total", "compile+solve"):
        if key in timings:
            return float(timings[key])
    parts = [timings[k] for k in ("compile", "solve", "values") if k in timings]
    return float(sum(parts)) if parts else float("nan")


def compare(*solutions, names=None, variables=None) -> pd.DataFrame:
    """One row per solution, side by side: model, method, exploitability and its kind, aggregates, time.

    Aggregates (``variables``; default r, w, K, L, Y, C where any solution has them, else the model's
    own aggregates shared by all): for a stationary solution its equilibrium values, otherwise the
    mean over the evaluation paths and the dates with a policy (0..T-1) of :func:`paths`, the same
    definition for every solver. ``time (s)``: total wall time (see :func:`total_seconds`).

    Args:
        solutions: Solutions (or one list of them).
        names: row labels (default: the methods, numbered when repeated).
        variables: the aggregate columns.
    """
    if len(solutions) == 1 and isinstance(solutions[0], list | tuple):
        solutions = tuple(solutions[0])
    if not solutions:
        raise ValueError("compare: give at least one Solution.")
    means = [_mean_aggregates(s) for s in solutions]
    if variables is None:
        variables = [v for v in _COMPARE_VARIABLES if any(v in m for m in means)]
        if not variables:
            common = set(means[0]).intersection(*means[1:])
            variables = [v for v in means[0] if v in common]
    if names is None:
        names, seen = [], {}
        for s in solutions:
            seen[s.method] = seen.get(s.method, 0) + 1
            names.append(s.method if seen[s.method] == 1 else f"{s.method} ({seen[s.method]})")
    if len(names) != len(solutions):
        raise ValueError(f"compare: {len(names)} names for {len(solutions)} solutions.")
    rows = []
    for s, m in zip(solutions, means):
        row = {
            "model": type(s.model).__name__,
            "method": s.method,
            "exploitability": np.nan if s.exploitability is None else float(s.exploitability),
            "exploitability kind": s.exploitability_kind,
        }
        row.update({v: m.get(v, np.nan) for v in variables})
        row["time (s)"] = total_seconds(s.timings)
        rows.append(row)
    frame = pd.DataFrame(rows, index=pd.Index(list(names), name="solution"))
    frame.attrs.update(
        {
            "description": "solutions side by side",
            "units": "exploitability: utility units per household at date 0; aggregates: model units, "
            "the equilibrium value (stationary) or the mean over paths and dates 0..T-1; time: seconds",
        }
    )
    return frame


def _mean_aggregates(sol) -> dict:
    """Stationary: the equilibrium aggregates; with flows: the mean over paths and dates 0..T-1."""
    if sol.flows is None:
        return {k: float(v) for k, v in sol.aggregates.items() if np.ndim(v) == 0}
    frame = paths(sol)
    T = frame.index.get_level_values("t").max()
    if T > 0:
        frame = frame[frame.index.get_level_values("t") < T]
    return {k: float(frame[k].mean()) for k in frame.columns if pd.api.types.is_float_dtype(frame[k])}
