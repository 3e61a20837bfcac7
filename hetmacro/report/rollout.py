"""The policy as a function, and rolling the mean field forward on a given noise path.

:class:`TablePolicy` turns a policy table into ``policy(carry, agg) -> (carry, pi)``;
:func:`policy_function` does so for any Solution (what :meth:`hetmacro.Solution.policy_fn` returns);
:func:`rollout_with_noise` rolls the mean-field flow under a policy along a *given* common-noise path
(drawn by :func:`noise_path`), which is what the impulse responses compare.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..game import Flow


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
