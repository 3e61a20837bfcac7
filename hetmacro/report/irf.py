"""Impulse responses: :func:`irf`, the generalised impulse response of a Solution (shocked minus
unshocked mean-field path under the same policy and the same other noise, averaged over noise paths),
and :func:`irf_frame`, the table it returns built from level paths, which other solvers (e.g. the
sequence-space Jacobian) use to report in the same format; ``RATE_NAMES`` are the names reported in
percentage points.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ..game import _cast_noise
from ..mfg.policies import NetworkPolicy
from ..noise import NoNoise
from ..results import RSPGResult
from ._data import _aggregate_name, _hook_aggregates, _precision, _shown_noise, _z_dict, noise_components
from .rollout import _roll, policy_function

#: Names reported in percentage points (level differences x 100) by :func:`irf`; a model adds its own
#: with a ``rates`` attribute (a tuple of names). Everything else is a percent deviation.
RATE_NAMES = ("r", "i")


def _get(z, name):
    return z[name] if isinstance(z, dict) else z


def _put(z, name, value):
    if isinstance(z, dict):
        return {**z, name: value}
    return value


@eqx.filter_jit
def _irf_paths(game, policy, carry, keys, D: int, R: int, add, overlay, force, mu0=None, starts=None):
    """Roll one noise path per key over dates 0..D with the kicks applied; record R dates of policy
    aggregates. add/overlay: {name: (D + 1,) float}; force: {name: (D + 1,) int, -1 = leave}.
    ``starts``: None, or (mu_0 (P, n, m), z_0 (P, ...), carries (P, ...) or None) per path."""

    def kick(t, z):
        for name, a in add.items():
            z = _put(z, name, _get(z, name) + a[t].astype(_get(z, name).dtype))
        for name, f in force.items():
            v = _get(z, name)
            z = _put(z, name, jnp.where(f[t] >= 0, f[t].astype(v.dtype), v))
        return z

    def one(key, start):
        m0, z0, c0 = (mu0, None, carry) if start is None else start
        c0 = carry if c0 is None else c0
        zs = game.noise_path(key, R, kick, z0=z0)
        for name, o in overlay.items():
            zs = _put(zs, name, _get(zs, name) + o[: R + 1].astype(_get(zs, name).dtype))
        aggs, recs = _roll(
            game, policy, c0, zs, record=lambda agg, pi: _hook_aggregates(game, agg, pi), mu0=m0
        )
        aggs = jax.tree.map(lambda x: x[: D + 1], aggs)
        return aggs.values, aggs.z, jax.tree.map(lambda x: x[: D + 1], recs)

    return jax.vmap(one)(keys, starts)


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
    starts=None,
    se: bool = False,
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
        starts: a batch of starting points (:class:`hetmacro.mfg.starts.Starts`, e.g. from the ergodic
            set): path k starts at entry k (cycling), its noise continuing from that start's z, a network
            policy's memory warmed on the start's signal history. Replaces ``mu0``. Default for an
            RSPG/SPG Solution: the starts it was evaluated from (``sol.result.starts``).
        se: add a standard-error column ``"<column> se"`` beside each column (the s.d. over paths of the
            shocked-minus-baseline difference / sqrt(paths)).

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
        per_path = None
        if starts is None and mu0 is None and isinstance(sol.result, RSPGResult):
            starts = sol.result.starts  # where the policy was evaluated (the ergodic set, if trained there)
        if starts is not None:
            if mu0 is not None:
                raise ValueError("irf: give mu0 or starts, not both.")
            picked = starts.take(np.arange(n_paths) % starts.size)
            carries = (
                jax.vmap(policy.carry_after)(picked.history) if isinstance(policy, NetworkPolicy) else None
            )
            per_path = (picked.mu.astype(game.dtype), picked.z, carries)
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
            per_path,
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
            per_path,
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
        se=se,
    )
    frame.attrs.update(
        {
            "starts": "model" if starts is None else starts.kind,
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


def irf_frame(
    baseline: dict, shocked: dict, *, rates=RATE_NAMES, levels=(), units=None, se: bool = False
) -> pd.DataFrame:
    """The impulse-response table from level paths: what :func:`irf` returns, for any solver.

    Args:
        baseline, shocked: {name: array} of levels, shape (H + 1,) or (paths, H + 1), dates from the
            shock on; the table is the mean over paths of the deviation.
        rates: names reported in percentage points, 100 (x_shocked - x).
        levels: names reported as plain differences (e.g. the common noise).
        units: overrides, {name: "%", "pp" or "level"}.
        se: add ``"<column> se"``: the standard error of each mean over paths (s.d. / sqrt(paths)).

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
        if se:
            n = dev.shape[0]
            columns[f"{k} ({unit}) se"] = (
                dev.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.full(dev.shape[1], np.nan)
            )
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
