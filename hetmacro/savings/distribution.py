r"""The distribution under a savings policy a'(a, e): the Game's push with a one-action kernel.

A deterministic savings policy a' (n, m) moves a household at (a_i, e_j) to a'_ij, split onto its two
neighbouring grid points by Young's lottery (capped at the grid's ends), after which the income chain
moves e. :func:`savings_kernel` is that move as a :class:`~hetmacro.Kernel` with one action and one shock
atom, so ``game.push`` (and its adjoint ``game.expect``) are the same operators every mean-field solver
uses. The stationary, sequence-space and Krusell–Smith solvers all move distributions through here.
"""

from __future__ import annotations

import jax.numpy as jnp

from ..game import Kernel
from ..grids import lottery

__all__ = ["expect_savings", "push_savings", "savings_kernel"]


def savings_kernel(game, a_next, P=None) -> Kernel:
    """The Game kernel of a savings policy a_next (n, m), with the chain matrix P (default the game's)."""
    i, t = lottery(game.grid.points, a_next)
    P = game.chain.P if P is None else jnp.asarray(P, a_next.dtype)
    return Kernel(i[:, :, None, None], t[:, :, None, None], jnp.ones((1,), a_next.dtype), P)


def _one_action(x):
    return jnp.ones(x.shape + (1,), x.dtype)


def push_savings(game, mu, a_next, P=None):
    """mu' (n, m): the distribution one period on, when households at mu save a_next (n, m)."""
    return game.push(mu, _one_action(a_next), savings_kernel(game, a_next, P))


def expect_savings(game, v, kern: Kernel):
    """E[v(a', e') | a, e] under a savings kernel: the adjoint of :func:`push_savings`, (n, m)."""
    return game.expect(v, _one_action(v), kern)
