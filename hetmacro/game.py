"""The compiled game: a partially observable mean-field game with common noise (POMFG-CN).

``compile(model)`` turns a :class:`~hetmacro.model.Model` into a :class:`Game` of pure, jit-able
array operators on the individual state space (n grid points x m chain states, S = n m) and A
actions:

- ``kernel(agg, z_next)``: for every (s, a) the next-state lottery, K = 2 x (number of shock atoms)
  grid atoms, followed by the m x m chain matrix. The single source of truth for ``push`` and
  ``expect``.
- ``push(mu, pi, kern)`` = A(pi)^T mu, the mean-field update, and ``expect_q(v, kern)`` /
  ``expect(v, pi, kern)`` = A(pi) v, its adjoint. Both cost O(S A K + n m^2) time and memory: the
  grid lottery is scattered (or gathered) first, then the small chain matrix is applied (Young's
  method). The S x S matrix is never formed.
- ``rewards``, ``terminal_value``, ``signal``, ``reset``, ``step`` and ``rollout``.

Distributions are arrays of shape (n, m); policies (n, m, A); values (n, m).
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .grids import ActionGrid, Chain, Grid, check_stochastic
from .model import AggState, Distribution, Model, State
from .noise import CommonNoise

__all__ = ["Flow", "Game", "Kernel", "compile"]


class Kernel(eqx.Module):
    """Next-state lottery of every (state, action) at one date.

    Attributes:
        i: (n, m, A, k) int32, lower grid index of each shock atom's next value.
        t: (n, m, A, k), lottery weight on grid index i + 1.
        p: (k,), shock atom probabilities.
        P: (m, m), chain matrix applied after the grid move.
    """

    i: jnp.ndarray
    t: jnp.ndarray
    p: jnp.ndarray
    P: jnp.ndarray


class Flow(eqx.Module):
    """A mean-field flow along one common-noise path.

    Attributes:
        aggs: AggState with a leading time axis of length T + 1 (dates 0..T).
        pi: (T, n, m, A) the policy used at each date.
    """

    aggs: AggState
    pi: jnp.ndarray


class Game(eqx.Module):
    """The POMFG-CN compiled from a model. Build it with :func:`compile`."""

    model: Model
    grid: Grid
    chain: Chain
    actions: ActionGrid
    noise: CommonNoise
    eps: jnp.ndarray
    eps_p: jnp.ndarray
    beta: jnp.ndarray
    T: int | None = eqx.field(static=True)
    dtype: object = eqx.field(static=True)
    continuation: jnp.ndarray | None = None

    def with_continuation(self, values) -> Game:
        """The same game whose value after the last date is ``values`` (n, m) instead of the model's
        ``terminal_value``: the truncation of an infinite-horizon economy given a continuation value
        (e.g. the stationary equilibrium's value function), so that households are not taught that the
        world ends. ``None`` restores the model's terminal value."""
        if values is not None:
            values = jnp.asarray(values, self.dtype)
            if values.shape != (self.n, self.m):
                raise ValueError(
                    f"a continuation value has one value per state, shape ({self.n}, {self.m}); got {values.shape}."
                )
            if not bool(jnp.all(jnp.isfinite(values))):
                raise ValueError("the continuation value is not finite everywhere.")
        return dataclasses.replace(self, continuation=values)

    # --- sizes ----------------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return self.grid.size

    @property
    def m(self) -> int:
        return self.chain.size

    @property
    def A(self) -> int:
        return self.actions.size

    @property
    def S(self) -> int:
        return self.n * self.m

    # --- the individual state mesh ----------------------------------------------------------------
    def _state(self, i, j) -> State:
        return State(
            {
                self.grid.name: self.grid.points[i],
                self.chain.name: self.chain.values[j],
                "i": i,
                "j": j,
            }
        )

    def _over_states(self, f):
        """Vectorise f(i, j) over the (n, m) mesh."""
        ii, jj = jnp.meshgrid(jnp.arange(self.n), jnp.arange(self.m), indexing="ij")
        return jax.vmap(jax.vmap(f))(ii, jj)

    def _over_states_actions(self, f, inner=None):
        """Vectorise f(s, a) over (n, m, A), or f(s, a, e) over (n, m, A, K) for ``inner`` = the K values
        of e (innermost), as one vmap over the flattened points.

        One flat axis, not nested vmaps: XLA's CPU loops over a 4-D broadcast (n, 1, A, K) are slower than
        over the same values laid out flat; the whole mean-field step of the macro game takes about half
        the time it took with nested vmaps, LQ's about 0.7 (``benchmarks/pushforward.py --quick``).
        The point p = ((i m + j) A + a) K + k is decoded by integer division; the values are the same.
        """
        n, m, A = self.n, self.m, self.A
        K = 1 if inner is None else int(inner.shape[0])
        p = jnp.arange(n * m * A * K, dtype=jnp.int32)
        i, j, a = p // (m * A * K), (p // (A * K)) % m, (p // K) % A
        acts = self.actions.values[a]
        if inner is None:
            out = jax.vmap(lambda i_, j_, a_: f(self._state(i_, j_), a_))(i, j, acts)
            return jax.tree.map(lambda x: x.reshape(n, m, A, *x.shape[1:]), out)
        e = inner[p % K]
        out = jax.vmap(lambda i_, j_, a_, e_: f(self._state(i_, j_), a_, e_))(i, j, acts, e)
        return jax.tree.map(lambda x: x.reshape(n, m, A, K, *x.shape[1:]), out)

    # --- aggregate state --------------------------------------------------------------------------
    def aggregates(self, mu) -> dict:
        """The model's aggregates of the distribution mu (n, m)."""
        return dict(self.model.aggregates(Distribution(mu, self.grid, self.chain)))

    def aggregate_state(
        self, mu, z, t, fixed: dict | None = None, aggregates: dict | None = None
    ) -> AggState:
        """The aggregate state at date t: mu, z, and the model's aggregates and prices.

        ``fixed`` holds aggregates at given values instead of computing them from mu (a market's
        candidate equilibrium: the capital stock the firm demands at a trial interest rate);
        ``aggregates`` gives all of them, already computed from mu (:meth:`aggregates`).
        """
        t = jnp.asarray(t, jnp.int32)
        values = self.aggregates(mu) if aggregates is None else dict(aggregates)
        if fixed:
            unknown = sorted(set(fixed) - set(values))
            if unknown:
                raise KeyError(
                    f"{type(self.model).__name__}.aggregates() has no {unknown}; it has {sorted(values)}."
                )
            values.update(fixed)
        agg = AggState(mu, z, t, values)
        values.update(self.model.prices(agg))
        return AggState(mu, z, t, {k: jnp.asarray(v, self.dtype) for k, v in values.items()})

    def reset(self, key) -> AggState:
        """Date-0 aggregate state: z_0 from the noise process, mu_0 from the model."""
        z0 = _cast_noise(self.noise.initial(key), self.dtype)
        mu0 = jnp.asarray(self.model.initial_distribution(z0), self.dtype)
        return self.aggregate_state(mu0, z0, 0)

    def noise_step(self, key, z, t):
        return _cast_noise(self.noise.step(key, z, t), self.dtype)

    def stationary_noise(self):
        """The common noise's value in a stationary state, z_0 (see :meth:`check_stationary`)."""
        return _cast_noise(self.noise.initial(jax.random.PRNGKey(0)), self.dtype)

    def check_stationary(self) -> None:
        """Refuse a game whose common noise is not constant: a stationary state needs no aggregate risk.

        Raises:
            ValueError: the noise is random, or moves deterministically (z_1 != z_0).
        """
        name = type(self.model).__name__
        if not self.noise.deterministic:
            raise ValueError(
                f"{name} has aggregate risk (common noise {type(self.noise).__name__}): a stationary "
                "equilibrium exists only without it. Fix: solve the model without aggregate risk (e.g. "
                "aggregate_risk=False, its deterministic steady state), or use a solver for aggregate risk."
            )
        z0 = self.stationary_noise()
        z1 = self.noise_step(jax.random.PRNGKey(1), z0, jnp.zeros((), jnp.int32))
        moved = [
            bool(np.any(np.asarray(a) != np.asarray(b)))
            for a, b in zip(jax.tree.leaves(z0), jax.tree.leaves(z1))
        ]
        if any(moved):
            raise ValueError(
                f"{name}: the common noise moves deterministically from z_0 = {z0} to z_1 = {z1}; a "
                "stationary state needs it constant. Fix: start the noise at its steady state (z0 = 0)."
            )

    def signal(self, agg: AggState) -> jnp.ndarray:
        """The shared observation vector at date t, shape (d,) (a constant 0 if the model has none)."""
        sig = self.model.signals(agg)
        if not sig:
            return jnp.zeros((1,), self.dtype)
        return jnp.stack([jnp.asarray(v, self.dtype) for v in sig.values()])

    def signal_names(self) -> list[str]:
        agg = self.reset(jax.random.PRNGKey(0))
        return list(self.model.signals(agg)) or ["const"]

    # --- the kernel and its two operators ---------------------------------------------------------
    def kernel(self, agg: AggState, z_next) -> Kernel:
        """Next-state lottery of every (s, a) given the aggregate state and the next common noise."""

        x_next = self._over_states_actions(lambda s, a, e: self.model.transition(s, a, e, agg), self.eps)
        i, t = self.grid.lottery(x_next.astype(self.dtype).reshape(-1))
        i, t = i.reshape(x_next.shape), t.reshape(x_next.shape)
        return Kernel(i, jax.lax.stop_gradient(t), self.eps_p, self.chain_matrix(agg.z, z_next))

    def chain_matrix(self, z, z_next):
        """P[j, j'] (m, m) of the exogenous chain for the common-noise move z -> z': the model's
        ``chain_transition``, or the chain's fixed P when it returns None."""
        P = self.model.chain_transition(z, z_next)
        return self.chain.P if P is None else jnp.asarray(P, self.dtype)

    def push(self, mu, pi, kern: Kernel):
        """mu' = A(pi)^T mu: scatter the grid lottery, then apply the chain matrix.

        mu' = (sum_{i, a, k} mu[i, j] pi[i, j, a] p_k [(1 - t) e_{lo} + t e_{lo+1}]) P
        Shapes: mu (n, m), pi (n, m, A) -> (n, m).

        The two scatters run on the flat chain-major array (index j n + lo) with 1-D indices: on CPU
        this is faster than a 2-D (lo, j) scatter, by about 1.7x for the macro game under ``vmap``
        over noise paths (benchmarks/pushforward.py); the sums are the same, in the same order.
        """
        n, m = self.n, self.m
        K = kern.p.shape[0]
        # Flat (n m A K) arrays throughout: 1-D loops, not 4-D broadcasts (see _over_states_actions).
        w = ((mu[:, :, None] * pi).reshape(-1, 1) * kern.p).reshape(-1)
        t = kern.t.reshape(-1)
        j = (jnp.arange(w.shape[0], dtype=kern.i.dtype) // (pi.shape[-1] * K)) % m
        flat = (kern.i.reshape(-1) + n * j).reshape(-1, 1)
        one = jax.lax.ScatterDimensionNumbers(
            update_window_dims=(), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,)
        )
        out = jnp.zeros((m * n,), mu.dtype)
        out = jax.lax.scatter_add(out, flat, (w * (1 - t)).astype(mu.dtype), one)
        out = jax.lax.scatter_add(out, flat + 1, (w * t).astype(mu.dtype), one)
        return out.reshape(m, n).T @ kern.P

    def expect_q(self, v, kern: Kernel):
        """E[v(s') | s, a] for every (s, a): shape (n, m) -> (n, m, A).

        First the chain expectation W[i', j] = sum_j' P[j, j'] v[i', j'], then the lottery gather,
        a 1-D gather on the flat array (index i' m + j): on CPU somewhat faster than a 2-D gather.
        """
        m = self.m
        W = (v @ kern.P.T).reshape(-1)
        i, t = kern.i.reshape(-1), kern.t.reshape(-1)  # flat, as in push
        j = (jnp.arange(i.shape[0], dtype=i.dtype) // (kern.i.shape[2] * kern.i.shape[3])) % m
        flat = i * m + j
        g = (1 - t) * W[flat] + t * W[flat + m]
        return g.reshape(kern.i.shape) @ kern.p

    def expect(self, v, pi, kern: Kernel):
        """(A(pi) v)[s] = sum_a pi(a|s) E[v(s') | s, a]; the adjoint of ``push``. Shape (n, m)."""
        return jnp.sum(pi * self.expect_q(v, kern), axis=-1)

    # --- payoffs ----------------------------------------------------------------------------------
    def rewards(self, agg: AggState, next_agg: AggState):
        """Reward matrix R_t(s, a), shape (n, m, A); the model's final reward at t = T - 1."""
        step = self._over_states_actions(lambda s, a: self.model.reward(s, a, agg, next_agg))
        if self.T is None:
            return step.astype(self.dtype)
        final = self._over_states_actions(lambda s, a: self.model.final_reward(s, a, agg, next_agg))
        return jnp.where(agg.t == self.T - 1, final, step).astype(self.dtype)

    def terminal_value(self, agg: AggState):
        """V_T(s), shape (n, m): the continuation value when one is set (:meth:`with_continuation`),
        else the model's ``terminal_value``."""
        if self.continuation is not None:
            return self.continuation.astype(self.dtype)
        return self._over_states(lambda i, j: self.model.terminal_value(self._state(i, j), agg)).astype(
            self.dtype
        )

    def q_values(self, agg: AggState, next_agg: AggState, v_next):
        """Q_t(s, a) = R_t(s, a) + beta E[V_{t+1}(s') | s, a], shape (n, m, A)."""
        kern = self.kernel(agg, next_agg.z)
        return self.rewards(agg, next_agg) + self.beta * self.expect_q(v_next, kern)

    # --- dynamics ---------------------------------------------------------------------------------
    def step(self, key, agg: AggState, pi) -> AggState:
        """One mean-field step: z' ~ noise, mu' = push(mu, pi), next prices."""
        z_next = self.noise_step(key, agg.z, agg.t)
        mu_next = self.push(agg.mu, pi, self.kernel(agg, z_next))
        return self.aggregate_state(mu_next, z_next, agg.t + 1)

    def noise_path(self, key, T: int, kick=None, z0=None):
        """z_0..z_T exactly as :meth:`rollout` draws them from ``key``; leading axis T + 1.

        ``z0``: start from this value instead of drawing it (a path continuing from a given date's noise,
        e.g. a distribution taken from a simulation of the ergodic set); the draws after it are the same.

        ``kick(t, z) -> z`` (optional) modifies each date's value as it is drawn, so that later dates
        follow the noise's own law of motion from the modified value with the same random numbers
        (common random numbers: a shock to an AR(1) decays at its persistence rate; a chain forced
        into a state moves on from it).
        """
        k0, k1 = jax.random.split(key)
        z0 = _cast_noise(self.noise.initial(k0) if z0 is None else z0, self.dtype)
        if kick is not None:
            z0 = kick(0, z0)

        def body(z, xs):
            t, k = xs
            z_next = self.noise_step(k, z, t)
            if kick is not None:
                z_next = kick(t + 1, z_next)
            return z_next, z_next

        _, zs = jax.lax.scan(body, z0, (jnp.arange(T, dtype=jnp.int32), jax.random.split(k1, T)))
        return jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), z0, zs)

    def rollout(self, key, policy, carry=None, T: int | None = None, agg0: AggState | None = None):
        """Roll the mean field forward along one sampled common-noise path.

        Args:
            key: PRNG key (the noise path).
            policy: ``policy(carry, agg) -> (carry, pi)`` with pi of shape (n, m, A). It receives the
                whole aggregate state; a policy for households must read only ``game.signal(agg)``.
            carry: initial policy carry (e.g. a GRU hidden state).
            T: horizon (default: the game's).
            agg0: start here instead of ``reset``.

        Returns:
            A :class:`Flow` of T + 1 aggregate states and T policies.
        """
        T = self.T if T is None else T
        if T is None:
            raise ValueError("rollout needs a horizon T for an infinite-horizon game.")
        k0, k1 = jax.random.split(key)
        agg = self.reset(k0) if agg0 is None else agg0
        keys = jax.random.split(k1, T)

        def body(state, k):
            agg, c = state
            c, pi = policy(c, agg)
            return (self.step(k, agg, pi), c), (agg, pi)

        (agg_T, _), (aggs, pis) = jax.lax.scan(body, (agg, carry), keys)
        aggs = jax.tree.map(lambda xs, x: jnp.concatenate([xs, x[None]]), aggs, agg_T)
        mu = eqx.error_if(
            aggs.mu,
            ~jnp.all(jnp.isfinite(aggs.mu)),
            "NaN or Inf in the distribution during a rollout: check the policy (NaN probabilities), "
            "the model's transition (division by zero?) and prices (negative capital?).",
        )
        return Flow(eqx.tree_at(lambda a: a.mu, aggs, mu), pis)

    def rollout_table(self, key, pi_table):
        """Roll forward under a fixed policy table, shape (T, n, m, A) (or (n, m, A) for all dates)."""
        pi_table = jnp.asarray(pi_table, self.dtype)
        if pi_table.ndim == 3:
            pi_table = jnp.broadcast_to(pi_table, (self.T,) + pi_table.shape)
        return self.rollout(key, lambda c, agg: (c, pi_table[agg.t]), T=pi_table.shape[0])


def _cast_noise(z, dtype):
    return jax.tree.map(lambda x: x.astype(dtype) if jnp.issubdtype(x.dtype, jnp.floating) else x, z)


def cast_floats(tree, dtype):
    """Every floating-point array of ``tree`` (jax or numpy, kept so) cast to ``dtype``; the rest as it is."""
    return jax.tree.map(
        lambda x: x.astype(dtype) if eqx.is_array(x) and jnp.issubdtype(x.dtype, jnp.floating) else x, tree
    )


def compile(model: Model, dtype=None) -> Game:
    """Compile a model into a :class:`Game`, validating the declaration.

    Args:
        model: the model.
        dtype: float dtype of the game's arrays; default float32, or float64 inside
            ``with jax.enable_x64(True):``.

    Raises:
        ValueError: naming the field, value and fix for a bad declaration.
    """
    if dtype is None:
        dtype = jax.dtypes.canonicalize_dtype(jnp.float64)
    dtype = jnp.dtype(dtype)
    model = cast_floats(model, dtype)
    name = type(model).__name__
    grid, chain, actions = model.grid(), model.chain(), model.actions()
    for what, obj, cls in (
        ("grid()", grid, Grid),
        ("chain()", chain, Chain),
        ("actions()", actions, ActionGrid),
    ):
        if not isinstance(obj, cls):
            raise TypeError(f"{name}.{what} must return a hetmacro.{cls.__name__}, got {type(obj).__name__}.")
    eps, eps_p = (np.asarray(x, np.float64).reshape(-1) for x in model.shocks())
    if eps.shape != eps_p.shape:
        raise ValueError(f"{name}.shocks(): {eps.size} values but {eps_p.size} probabilities.")
    check_stochastic(f"{name}.shocks() probabilities", eps_p[None, :], square=False)
    T = model.horizon()
    # beta stays the model's array (not a Python float): a compiled solver can be vmapped over it and
    # differentiated with respect to it. The checks read its value where it has one.
    beta = jnp.asarray(model.discount(), dtype)
    beta_value = None if isinstance(beta, jax.core.Tracer) else float(beta)
    if beta_value is not None and T is None and not beta_value < 1:
        raise ValueError(
            f"{name}: discount factor beta = {beta_value} with an infinite horizon: need beta < 1 for values "
            "to be finite. Fix: lower beta or set a finite horizon T."
        )
    if T is not None and (int(T) != T or T < 1):
        raise ValueError(f"{name}: horizon T = {T!r} must be a positive integer (or None for infinite).")
    if beta_value is not None and not beta_value > 0:
        raise ValueError(f"{name}: discount factor beta = {beta_value} must be positive.")
    noise = model.common_noise()
    if not isinstance(noise, CommonNoise):
        raise TypeError(
            f"{name}.common_noise() must return a hetmacro.noise process, got {type(noise).__name__}."
        )
    game = Game(
        model=model,
        grid=cast_floats(grid, dtype),
        chain=cast_floats(chain, dtype),
        actions=cast_floats(actions, dtype),
        noise=noise,
        eps=jnp.asarray(eps, dtype),
        eps_p=jnp.asarray(eps_p, dtype),
        beta=beta,
        T=None if T is None else int(T),
        dtype=dtype,
    )
    agg0 = _validate_runtime(game, name)
    model.validate(game, agg0)
    return game


def _validate_runtime(game: Game, name: str) -> AggState:
    """Checks that need the model's functions evaluated once: shapes, initial mass, chain rows. Returns
    the date-0 aggregate state (of the key 0), which the model's own checks read."""
    agg = game.reset(jax.random.PRNGKey(0))
    mu = np.asarray(agg.mu)
    if mu.shape != (game.n, game.m):
        raise ValueError(
            f"{name}.initial_distribution returned shape {mu.shape}; expected (grid, chain) = "
            f"({game.n}, {game.m})."
        )
    if np.any(mu < 0) or abs(mu.sum() - 1) > 1e-5:
        raise ValueError(
            f"{name}.initial_distribution must be non-negative and sum to 1; sums to {float(mu.sum()):.6g} "
            f"with min {float(mu.min()):.6g}. Fix: clip negative entries at 0 and divide by the sum."
        )
    z1 = game.noise_step(jax.random.PRNGKey(1), agg.z, agg.t)
    check_stochastic(f"{name}.chain_transition(z, z')", np.asarray(game.chain_matrix(agg.z, z1)), atol=1e-5)
    return agg
