"""The policy and the distribution at one date of one path, by individual state (grid value, chain
value): :func:`policy_table` (mass, expected action, expected next grid value, the model's
``policy_quantities`` and the action probabilities) and :func:`distribution` (the histogram mu_t).
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ._data import _agg_at, _data, _date, _mesh_quantities, _path, _precision, _state_index
from .rollout import policy_function


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
            v = np.asarray(v)
            if v.ndim == 3:  # action probabilities (n, m, A): one column per action
                for a, value in enumerate(np.asarray(game.actions.values)):
                    cols[f"P({game.actions.name}={value:g})"] = v[..., a].reshape(-1)
                continue
            name = {"a_next": f"{game.grid.name}'", "consumption_share": "consumption share"}.get(k, k)
            cols[name] = v.reshape(-1)
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
