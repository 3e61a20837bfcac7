r"""Savings rules as Game policies: a continuous savings choice on the game's consumption-share grid.

The Krusell–Smith rule a'(a, e; K, z) and the first-order rule of the sequence-space solver are
*savings rules*: ``rule.savings(carry, agg) -> (carry, a')``. :class:`GamePolicy` makes one a policy of
the compiled game, ``policy(carry, agg) -> (carry, pi)``, so that every table, figure and impulse response
of :mod:`hetmacro.report` re-simulates it like any other method's policy.

The game's transition is a' = a_min + (1 - s) x with x the cash on hand beyond the borrowing limit
(:class:`~hetmacro.SavingsEconomy`), so a savings choice a' is the consumption share
s = 1 - (a' - a_min) / x, split linearly between the two neighbouring action values (which preserves
E[s], hence E[a']), clipped to the grid's first and last share.

A GamePolicy is saved with its Solution (``spec`` / ``from_spec``): the rule's kind names one of the
rules below, rebuilt from the model, and its arrays are restored.
"""

from __future__ import annotations

import importlib

import equinox as eqx
import jax
import jax.numpy as jnp

from ..game import Game

__all__ = ["GamePolicy", "StationaryRule", "savings_to_actions"]

#: rule kind -> (module, class): the rules a saved GamePolicy may name.
RULES = {
    "ks": ("hetmacro.savings.krusell_smith", "KSRule"),
    "linear": ("hetmacro.savings.sequence", "LinearPolicy"),
    "stationary": ("hetmacro.savings.rules", "StationaryRule"),
}


def savings_to_actions(game: Game, agg, a_next):
    """Action probabilities (n, m, A) on the game's consumption-share grid for a savings policy a' (n, m)."""
    model = game.model
    x = game._over_states(lambda i, j: model.cash_on_hand(game._state(i, j), agg))
    s = 1.0 - (a_next - model.borrowing_limit()) / jnp.maximum(x, 1e-300)
    vals = game.actions.values
    s = jnp.clip(s, vals[0], vals[-1])
    A = vals.shape[0]
    if A == 1:
        return jnp.ones(a_next.shape + (1,), a_next.dtype)
    i = jnp.clip(jnp.searchsorted(vals, s, side="right") - 1, 0, A - 2)
    t = (s - vals[i]) / (vals[i + 1] - vals[i])
    return (
        jax.nn.one_hot(i, A, dtype=a_next.dtype) * (1 - t)[..., None]
        + jax.nn.one_hot(i + 1, A, dtype=a_next.dtype) * t[..., None]
    )


class GamePolicy(eqx.Module):
    """A savings rule with ``savings(carry, agg) -> (carry, a')`` as a Game policy on the action grid
    (:func:`savings_to_actions`): ``policy(carry, agg) -> (carry, pi)``."""

    rule: eqx.Module
    game: Game

    def init_carry(self):
        return self.rule.init_carry()

    def __call__(self, carry, agg):
        carry, a_next = self.rule.savings(carry, agg)
        return carry, savings_to_actions(self.game, agg, a_next)

    def spec(self) -> dict:
        """What rebuilds the policy's structure from the game (its arrays are saved beside)."""
        return {"rule": self.rule.kind, **self.rule.spec()}

    @classmethod
    def from_spec(cls, game: Game, rule: str, **spec) -> GamePolicy:
        if rule not in RULES:
            raise ValueError(f"unknown savings rule {rule!r}; known: {sorted(RULES)}")
        module, name = RULES[rule]
        rule_cls = getattr(importlib.import_module(module), name)
        return cls(rule_cls.from_spec(game, **spec), game)


class StationaryRule(eqx.Module):
    """The stationary equilibrium's savings policy a'(a, e) (``method="stationary"``), the same at every
    aggregate state: the steady state's savings behaviour, read as a consumption share at each date's
    prices by :class:`GamePolicy`."""

    a_next: jnp.ndarray  # (n, m)
    kind = "stationary"

    def init_carry(self):
        return None

    def savings(self, carry, agg):
        return carry, self.a_next

    def spec(self) -> dict:
        return {}

    @classmethod
    def from_spec(cls, game: Game) -> StationaryRule:
        return cls(jnp.zeros((game.n, game.m), game.dtype))
