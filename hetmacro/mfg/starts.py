r"""Where the mean field starts: batches of starting distributions for training, evaluation and IRFs.

A finite-horizon game starts from the model's ``initial_distribution``. An infinite-horizon economy is
asked its questions at its ergodic set, so (R)SPG can start its paths from a batch of
:class:`Starts` instead: distributions mu over (grid x chain), the common noise z at each, and the
history of shared signals that led there. Builders:

- :func:`stationary_start`: the stationary equilibrium without aggregate risk (``method="stationary"``),
  z at its unconditional mean;
- :func:`ergodic_starts`: dated distributions along a long simulation of the economy *with* aggregate
  shocks under a given policy (the Krusell–Smith rule, the linear rule, the stationary policy or a
  trained network), after a burn-in, with the signal history that led to each;
- :func:`given_starts`: the user's own batch of distributions.

**No date 0 mid-history.** A recurrent policy that starts at a distribution taken from the middle of a
simulation must not see a fresh, empty memory (its "date 0"). Its GRU state is warmed on the signal
history that led to the start (``history``, the L dates before it); a start without a history (the
stationary one, a user's batch) is warmed on L repeats of its own signal, as if the economy had rested
there. The warm-up is part of the policy: the training gradient flows through it.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..game import Game

__all__ = ["Starts", "check_distributions", "ergodic_starts", "given_starts", "stationary_start"]


class Starts(eqx.Module):
    """A batch of B starting points of the mean field.

    Attributes:
        mu: (B, n, m) distributions over (grid x chain), each summing to one.
        z: the common noise at each start (the noise's pytree with a leading axis B).
        history: (B, L, d) shared signals at the L dates before each start (oldest first), on which a
            recurrent policy's memory is warmed; L may be 0.
        kind: where they come from ("stationary", "ergodic", "given").
    """

    mu: jnp.ndarray
    z: object
    history: jnp.ndarray
    kind: str = eqx.field(static=True)

    @property
    def size(self) -> int:
        return int(self.mu.shape[0])

    def take(self, idx) -> Starts:
        """The starts at indices ``idx`` (traced or concrete)."""
        pick = lambda x: x[idx]  # noqa: E731
        return Starts(pick(self.mu), jax.tree.map(pick, self.z), pick(self.history), self.kind)


def check_distributions(game: Game, mu, what: str = "initial distribution") -> np.ndarray:
    """``mu`` as a (B, n, m) float64 array of distributions on the game's states, or a clear error.

    Accepts one distribution (n, m) or a batch (B, n, m); every one must be finite, non-negative and
    sum to one (to 1e-6).
    """
    arr = np.asarray(mu, np.float64)
    n, m = game.n, game.m
    if arr.shape == (n, m):
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1:] != (n, m) or arr.shape[0] < 1:
        raise ValueError(
            f"an {what} is one distribution of shape (n, m) = ({n}, {m}) over (grid x chain), or a batch "
            f"(B, {n}, {m}); got shape {arr.shape}."
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"the {what} has non-finite entries.")
    if np.any(arr < 0):
        b, i, j = np.argwhere(arr < 0)[0]
        raise ValueError(
            f"the {what} has negative mass: batch {b}, state ({i}, {j}) holds {arr[b, i, j]:.3g}."
        )
    sums = arr.sum(axis=(1, 2))
    bad = np.flatnonzero(np.abs(sums - 1.0) > 1e-6)
    if bad.size:
        raise ValueError(
            f"the {what} must sum to one: batch {bad[0]} sums to {sums[bad[0]]:.10g} "
            "(normalise it: mu / mu.sum())."
        )
    return arr


def _typical_z(game: Game):
    """The common noise at its centre: continuous components at 0 (an AR(1)'s mean), a finite-state
    component at the state the noise starts in from a fixed key."""
    z = game.noise.initial(jax.random.PRNGKey(0))
    return jax.tree.map(
        lambda x: jnp.zeros_like(x, game.dtype) if jnp.issubdtype(x.dtype, jnp.floating) else x, z
    )


def _resting_history(game: Game, mu, z, warmup: int) -> jnp.ndarray:
    """(B, L, d): each start's own signal repeated L times (an economy that rested there)."""
    sig = jax.vmap(lambda m, zz: game.signal(game.aggregate_state(m, zz, 0)))(mu, z)
    return jnp.broadcast_to(sig[:, None, :], (sig.shape[0], warmup, sig.shape[-1]))


def given_starts(game: Game, mu, warmup: int = 0, kind: str = "given") -> Starts:
    """A user's batch of distributions (n, m) or (B, n, m), checked; z at its centre; the memory warmed
    on ``warmup`` repeats of each start's own signal."""
    arr = jnp.asarray(check_distributions(game, mu), game.dtype)
    B = arr.shape[0]
    z = jax.tree.map(lambda x: jnp.broadcast_to(x, (B,) + jnp.shape(x)), _typical_z(game))
    return Starts(arr, z, _resting_history(game, arr, z, warmup), kind)


def stationary_start(game: Game, stationary, warmup: int = 0) -> Starts:
    """One start at the stationary distribution of a ``method="stationary"`` Solution (or an (n, m)
    array), z at its centre."""
    mu = getattr(stationary, "stationary", stationary)
    if mu is None:
        raise ValueError("the stationary Solution carries no stationary distribution.")
    return given_starts(game, mu, warmup, kind="stationary")


def ergodic_starts(
    game: Game,
    policy,
    carry,
    key,
    n: int,
    *,
    start: Starts,
    burn_in: int = 200,
    spacing: int = 10,
    warmup: int = 40,
) -> Starts:
    """``n`` starts from the ergodic set: one simulation of ``burn_in + n * spacing`` dates under
    ``policy`` (``policy(carry, agg) -> (carry, pi)``, e.g. ``sol.policy_fn()``) from ``start`` (its
    first distribution), with the common noise drawn from ``key``; the distributions at dates
    ``burn_in + k * spacing`` (k = 1..n), their noise, and the ``warmup`` signals before each.

    ``spacing`` decorrelates the starts (with TFP persistence 0.9, 10 quarters leave 0.35 of a
    deviation); ``burn_in`` forgets the first distribution.
    """
    if burn_in < warmup:
        raise ValueError(f"ergodic starts: burn_in = {burn_in} must be at least the warm-up {warmup}.")
    if n < 1 or spacing < 1:
        raise ValueError(f"ergodic starts: need n >= 1 and spacing >= 1, got n = {n}, spacing = {spacing}.")
    T = burn_in + n * spacing
    s0 = start.take(0)
    agg0 = game.aggregate_state(s0.mu, s0.z, 0)
    flow = _simulate(game, policy, carry, key, T, agg0)
    signals = jax.vmap(game.signal)(jax.tree.map(lambda x: x[:-1], flow.aggs))  # (T, d), dates 0..T-1
    dates = burn_in + spacing * np.arange(1, n + 1)
    mu = flow.aggs.mu[dates]
    z = jax.tree.map(lambda x: x[dates], flow.aggs.z)
    hist = jnp.stack([signals[d - warmup : d] for d in dates]) if warmup else signals[:n, :0]
    if not bool(jnp.all(jnp.isfinite(mu))):
        raise FloatingPointError("the ergodic simulation produced non-finite distributions.")
    return Starts(mu, z, hist.reshape(n, warmup, -1), "ergodic")


@eqx.filter_jit
def _simulate(game, policy, carry, key, T, agg0):
    return game.rollout(key, policy, carry, T=T, agg0=agg0)


def warm_carry(signal_encoder, history):
    """The recurrent memory after the signal history (L, d), from the empty memory."""
    h0 = signal_encoder.initial_carry(history.dtype)
    if not signal_encoder.recurrent or history.shape[0] == 0:
        return h0

    def body(h, o):
        return signal_encoder.step(h, o, jnp.asarray(0, jnp.int32))[0], None

    return jax.lax.scan(body, h0, history)[0]
