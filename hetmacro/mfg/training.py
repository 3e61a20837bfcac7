r"""The structural objective of (R)SPG, its exact gradient, and the compiled training loop.

**Objective.** For a batch of common-noise paths e = 1..E with weights w_e (1/E for sampled paths,
the branch probabilities for an enumerated noise tree), roll the mean field forward under the
current policy with ``Game.push`` (the flow mu^e_t is a constant for the gradient), then evaluate
the representative household's exact expected return on that flow by backward induction,

    V^e_T = terminal value,   Q^e_t = R^e_t + beta E^e_t[V^e_{t+1}],   V^e_t(s) = sum_a pi^e_t(a|s) Q^e_t(s, a),
    J(theta) = sum_e w_e sum_s mu^e_0(s) V^e_0(s).

**Gradient (adjoint form).** Only pi depends on theta (rewards, kernels and the flow are held
fixed). Differentiating the backward recursion, dJ/dV^e_t = w_e beta^t mu^e_t, because pushing
mu^e_t with the same kernel and policy gives mu^e_{t+1} (``push`` is the adjoint of ``expect``):
the household's own state distribution *is* the flow. Hence, exactly,

    dJ/dtheta = sum_e w_e sum_t beta^t sum_{s, a} mu^e_t(s) [Q^e_t(s, a) - V^e_t(s)] dpi^e_t(a|s)/dtheta

(the V baseline changes nothing since sum_a dpi = 0 and improves float32 cancellation). This is
the gradient of the backward-induction return that the reference code obtained by
back-propagating through the whole recursion; here one reverse scan computes Q, V, the
clairvoyant best response V* and, date by date, the vector-Jacobian product of the action head
with the weights above, so no step's activations are stored: memory is the flow (T E S) plus one
date's arrays, and the state encoder's and the GRU's gradients follow from their accumulated
cotangents (``tests/test_rspg.py`` checks it against ``jax.grad`` of the backward induction).

**Training** (:class:`Trainer`): Adam on -J with ``optax.clip_by_global_norm(1.0)`` and the learning
rate ``optax.linear_schedule(lr, 0.1 lr, iterations)``; iterations run inside a compiled
``lax.while_loop`` in chunks (one compilation), fresh noise paths per iteration from
``fold_in(key, iteration)`` (so a resumed run draws the same paths), and a chunk stops at the first
non-finite return or gradient without applying it.

Options of the training direction (defaults give the exact gradient above): an entropy bonus
tau H(pi_t(.|s)) in every reward, annealed to 0 (categorical heads saturate on wrong moves without
it); ``explore``, mixing the uniform distribution into mu_t in the state weights; and
``discount_dates=False``, weighting every date's improvement equally instead of by beta^t.
"""

from __future__ import annotations

import time

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from ..game import Game
from .policies import PolicyNetwork
from .starts import Starts, warm_carry

__all__ = [
    "Trainer",
    "backward_pass",
    "compiled_chunk",
    "forward_flow",
    "initial_aggregate",
    "structural_gradient",
]


def _tree_add(a, b):
    return jax.tree.map(lambda x, y: x + y, a, b)


def initial_aggregate(game: Game, z0):
    """The date-0 aggregate state for a given z_0 (``Game.reset`` without the draw)."""
    mu0 = jnp.asarray(game.model.initial_distribution(z0), game.dtype)
    return game.aggregate_state(mu0, z0, 0)


def forward_flow(
    net: PolicyNetwork,
    game: Game,
    state_part,
    zs,
    keep_pi: bool = False,
    keep_kernels: bool = False,
    start=None,
):
    """Roll the mean field forward along one noise path zs (T + 1 leading) under the network.

    ``start``: None (the model's initial distribution at z_0 and an empty memory) or (mu_0 (n, m),
    history (L, d)): start there, the memory warmed on the signal history (:mod:`hetmacro.mfg.starts`).

    Returns (aggs with T + 1 dates, signals (T, d), signal parts g_t (T, width), pi (T, n, m, A)
    or None, pi_finite flag, kernels (T stacked) or None). No gradient flows here: the flow is a
    constant of the objective. Keeping the kernels lets the backward pass skip recomputing them
    (the lottery search is the most expensive operator of large games).
    """
    net = eqx.combine(jax.lax.stop_gradient(eqx.filter(net, eqx.is_inexact_array)), net)
    state_part = jax.lax.stop_gradient(state_part)
    T = jax.tree.leaves(zs)[0].shape[0] - 1
    z0 = jax.tree.map(lambda z: z[0], zs)
    z_next = jax.tree.map(lambda z: z[1:], zs)
    if start is None:
        agg0 = initial_aggregate(game, z0)
        h0 = net.signal.initial_carry(game.dtype)
    else:
        agg0 = game.aggregate_state(start[0], z0, 0)
        h0 = warm_carry(net.signal, start[1])

    def body(carry, xs):
        agg, h, ok = carry
        t, zn = xs
        o = game.signal(agg)
        h, sv = net.signal.step(h, o, t)
        pi = net.probs(state_part, sv).reshape(game.n, game.m, game.A)
        ok = ok & jnp.all(jnp.isfinite(pi))
        kern = game.kernel(agg, zn)
        mu_next = game.push(agg.mu, pi, kern)
        agg_next = game.aggregate_state(mu_next, zn, agg.t + 1)
        return (agg_next, h, ok), (agg, o, sv, pi if keep_pi else None, kern if keep_kernels else None)

    carry0 = (agg0, h0, jnp.asarray(True))
    (agg_T, _, ok), (aggs, signals, svs, pis, kerns) = jax.lax.scan(
        body, carry0, (jnp.arange(T, dtype=jnp.int32), z_next)
    )
    aggs = jax.tree.map(lambda xs, x: jnp.concatenate([xs, x[None]]), aggs, agg_T)
    return aggs, signals, svs, pis, ok, kerns


def backward_pass(
    net: PolicyNetwork,
    game: Game,
    state_part,
    aggs,
    svs,
    weight,
    with_grad: bool = True,
    tau=None,
    explore: float = 0.0,
    kerns=None,
    discount_dates=True,
):
    """Policy value, clairvoyant best-response value and the adjoint gradient along one flow.

    Args:
        aggs: the flow's aggregate states, T + 1 dates. svs: the signal parts g_t (T, width).
        weight: the path's weight w_e in the objective.
        kerns: the flow's kernels (T stacked) from :func:`forward_flow`, or None to recompute them.
        discount_dates: weight date t's improvement by beta^t (True: the exact gradient of J) or
            equally (False: each date's policy improves as fast as the first's).
        tau: None, or the weight of an entropy bonus tau H(pi_t(.|s)) added to every reward in the
            *training* objective (the gradient is that of the regularised return; J and J* stay the
            unregularised returns).

    Returns:
        (J_e, J*_e, head cotangent, state-part cotangent (S, width), signal-part cotangents
        (T, width), values-finite flag), where J_e = <mu_0, V_0>, J*_e = <mu_0, V*_0> (unweighted);
        cotangents are of w_e J_e (None when ``with_grad`` is False).
    """
    T = svs.shape[0]
    now = jax.tree.map(lambda x: x[:-1], aggs)
    nxt = jax.tree.map(lambda x: x[1:], aggs)
    agg_T = jax.tree.map(lambda x: x[-1], aggs)
    v_T = game.terminal_value(agg_T)
    disc = weight * jnp.where(discount_dates, game.beta ** jnp.arange(T, dtype=game.dtype), 1.0)
    head = net.head
    head_params, head_static = eqx.partition(head, eqx.is_inexact_array)
    zeros_head = jax.tree.map(jnp.zeros_like, head_params)
    soft = tau is not None and with_grad
    tiny = jnp.finfo(game.dtype).tiny

    def head_fn(hp, sp, sv):
        return eqx.combine(hp, head_static)(sp + sv)

    def body(carry, xs):
        v, v_br, v_soft, g_head, g_sp = carry
        agg, agg_next, sv, d, kern = xs
        if kern is None:
            kern = game.kernel(agg, agg_next.z)
        R = game.rewards(agg, agg_next)
        q = R + game.beta * game.expect_q(v, kern)
        q_br = R + game.beta * game.expect_q(v_br, kern)
        if with_grad:
            pi, vjp = jax.vjp(head_fn, head_params, state_part, sv)
        else:
            pi = head_fn(head_params, state_part, sv)
        pi = pi.reshape(q.shape)
        v_new = jnp.sum(pi * q, axis=-1)
        v_br_new = jnp.max(q_br, axis=-1)
        if not with_grad:
            return (v_new, v_br_new, v_soft, g_head, g_sp), None
        if soft:
            q_s = R + game.beta * game.expect_q(v_soft, kern) - tau * jnp.log(jnp.maximum(pi, tiny))
            v_soft = jnp.sum(pi * q_s, axis=-1)
            adv = q_s - v_soft[..., None]
        else:
            adv = q - v_new[..., None]
        nu = (1.0 - explore) * agg.mu + explore / agg.mu.size
        w = ((d * nu)[..., None] * adv).reshape(-1, adv.shape[-1]).astype(pi.dtype)
        dh, dsp, dsv = vjp(w)
        return (v_new, v_br_new, v_soft, _tree_add(g_head, dh), g_sp + dsp), dsv

    g_sp0 = jnp.zeros_like(state_part) if with_grad else None
    carry0 = (v_T, v_T, v_T if soft else None, zeros_head if with_grad else None, g_sp0)
    (v0, v_br0, _, g_head, g_sp), d_svs = jax.lax.scan(
        body, carry0, (now, nxt, svs, disc, kerns), reverse=True
    )
    mu0 = aggs.mu[0]
    J, J_br = jnp.sum(mu0 * v0), jnp.sum(mu0 * v_br0)
    ok = jnp.isfinite(J) & jnp.isfinite(J_br)
    return J, J_br, g_head, g_sp, d_svs, ok


def structural_gradient(
    net: PolicyNetwork,
    game: Game,
    features,
    zs,
    weights,
    tau=None,
    explore=0.0,
    discount_dates=True,
    starts=None,
):
    """J, the weighted clairvoyant best-response return and dJ/dtheta over a batch of paths.

    zs: noise paths with leading axes (E, T + 1); weights (E,); starts: None or (mu_0 (E, n, m),
    history (E, L, d)) (the gradient flows through the memory's warm-up on the history). Returns
    (J, J*, grads, flags) with grads shaped like ``eqx.filter(net, eqx.is_inexact_array)`` and flags =
    (pi finite, values finite).
    """
    enc_params, enc_static = eqx.partition(net.encoder, eqx.is_inexact_array)
    sp, enc_vjp = jax.vjp(lambda p: eqx.combine(p, enc_static)(features), enc_params)
    if starts is None:
        aggs, signals, svs, _, pi_ok, kerns = jax.vmap(
            lambda z: forward_flow(net, game, sp, z, keep_kernels=True)
        )(zs)
        history = jnp.zeros((jax.tree.leaves(zs)[0].shape[0], 0, 1), game.dtype)
    else:
        aggs, signals, svs, _, pi_ok, kerns = jax.vmap(
            lambda z, mu, h: forward_flow(net, game, sp, z, keep_kernels=True, start=(mu, h))
        )(zs, *starts)
        history = starts[1]
    J_e, Jbr_e, g_head, g_sp, d_svs, v_ok = jax.vmap(
        lambda a, s, w, k: backward_pass(
            net, game, sp, a, s, w, tau=tau, explore=explore, kerns=k, discount_dates=discount_dates
        )
    )(aggs, svs, weights, kerns)
    g_head = jax.tree.map(lambda x: jnp.sum(x, axis=0), g_head)
    (g_enc,) = enc_vjp(jnp.sum(g_sp, axis=0))
    T, L = svs.shape[1], history.shape[1]
    ts = jnp.concatenate([jnp.zeros((L,), jnp.int32), jnp.arange(T, dtype=jnp.int32)])
    if L:
        signals = jnp.concatenate([history.astype(signals.dtype), signals], axis=1)
    sig_params, sig_static = eqx.partition(net.signal, eqx.is_inexact_array)
    _, sig_vjp = jax.vjp(
        lambda p: jax.vmap(lambda o: eqx.combine(p, sig_static).sequence(o, ts)[L:])(signals), sig_params
    )
    (g_sig,) = sig_vjp(d_svs)
    grads = eqx.tree_at(
        lambda n: (n.encoder, n.signal, n.head),
        eqx.filter(net, eqx.is_inexact_array),
        (g_enc, g_sig, g_head),
        is_leaf=lambda x: x is None,
    )
    J = jnp.sum(weights * J_e)
    J_br = jnp.sum(weights * Jbr_e)
    return J, J_br, grads, (jnp.all(pi_ok), jnp.all(v_ok))


class Trainer(eqx.Module):
    """(R)SPG training on one game: Adam, global-norm clipping, linear learning-rate decay.

    Hyperparameters that do not change the computation's shape (learning rate, entropy weight,
    exploration weight) are arrays, so runs that differ only in them share one compilation.

    Attributes:
        game: the compiled game. static: the network's non-array part. features: (S, F).
        exact_zs, exact_weights: None, or the paths and probabilities of an enumerated noise tree
            used at every iteration instead of sampled paths.
        starts: None (every path starts from the model's initial distribution) or a batch of
            :class:`~hetmacro.mfg.starts.Starts`: each path starts from one drawn at random, its noise
            path continuing from that start's z.
        lr: initial learning rate (annealed linearly to 0.1 lr over ``iterations``).
        entropy, entropy_until: weight tau_0 of an entropy bonus, annealed linearly to 0 at
            iteration ``entropy_until * iterations`` (``soft`` says whether it is used at all).
        explore: weight of the uniform distribution mixed into mu_t in the gradient's state weights.
        iterations, n_paths, horizon: schedule length, sampled paths per iteration, T.
    """

    game: Game
    static: PolicyNetwork
    features: jnp.ndarray
    exact_zs: object
    exact_weights: object
    starts: Starts | None
    lr: jnp.ndarray
    entropy: jnp.ndarray
    entropy_until: jnp.ndarray
    explore: jnp.ndarray
    discount_dates: jnp.ndarray
    iterations: int = eqx.field(static=True)
    n_paths: int = eqx.field(static=True)
    horizon: int = eqx.field(static=True)
    soft: bool = eqx.field(static=True)

    @property
    def schedule(self):
        return optax.linear_schedule(self.lr, 0.1 * self.lr, self.iterations)

    @property
    def optimiser(self):
        return optax.chain(optax.clip_by_global_norm(1.0), optax.adam(self.schedule, eps=1e-8))

    def paths(self, key, iteration):
        """The noise paths, weights and starts ((mu_0, history) per path, or None) of one iteration."""
        if self.exact_zs is not None:
            return self.exact_zs, self.exact_weights, None
        k_paths, k_starts = jax.random.split(jax.random.fold_in(key, iteration))
        keys = jax.random.split(k_paths, self.n_paths)
        w = jnp.full((self.n_paths,), 1.0 / self.n_paths, self.game.dtype)
        if self.starts is None:
            zs = jax.vmap(lambda k: self.game.noise_path(k, self.horizon))(keys)
            return zs, w, None
        picked = self.starts.take(jax.random.randint(k_starts, (self.n_paths,), 0, self.starts.size))
        zs = jax.vmap(lambda k, z0: self.game.noise_path(k, self.horizon, z0=z0))(keys, picked.z)
        return zs, w, (picked.mu, picked.history)

    def step(self, params, opt_state, key, iteration):
        """One iteration: (params, opt_state, metrics); the update is skipped if not finite."""
        net = eqx.combine(params, self.static)
        zs, w, starts = self.paths(key, iteration)
        tau = None
        if self.soft:
            until = jnp.maximum(self.entropy_until * self.iterations, 1.0)
            tau = self.entropy * jnp.clip(1.0 - iteration.astype(self.game.dtype) / until, 0.0, 1.0)
        J, J_br, grads, (pi_ok, v_ok) = structural_gradient(
            net, self.game, self.features, zs, w, tau, self.explore, self.discount_dates, starts
        )
        neg = jax.tree.map(lambda g: -g, grads)
        gnorm = optax.tree.norm(grads)
        g_ok = jnp.isfinite(gnorm)
        ok = pi_ok & v_ok & g_ok
        updates, new_opt = self.optimiser.update(neg, opt_state, params)
        new_params = eqx.apply_updates(params, updates)
        keep = lambda new, old: jax.tree.map(lambda a, b: jnp.where(ok, a, b), new, old)  # noqa: E731
        metrics = {
            "return": J,
            "best_response_return": J_br,
            "exploitability": J_br - J,
            "grad_norm": gnorm,
            "learning_rate": self.schedule(iteration),
            "pi_ok": pi_ok,
            "v_ok": v_ok,
            "g_ok": g_ok,
        }
        return keep(new_params, params), keep(new_opt, opt_state), metrics

    def chunk(self, params, opt_state, key, start, n, size: int):
        """Run iterations start..start+n-1 (n <= size, traced) and stop early at a non-finite one.

        Returns (params, opt_state, metrics with leading axis ``size``, number of iterations run).
        """
        _, _, m0 = jax.eval_shape(self.step, params, opt_state, key, start)
        bufs = jax.tree.map(lambda s: jnp.zeros((size,) + s.shape, s.dtype), m0)

        def cond(c):
            i, _, _, _, ok = c
            return (i < n) & ok

        def body(c):
            i, p, o, b, _ = c
            p, o, m = self.step(p, o, key, start + i)
            b = jax.tree.map(lambda buf, x: buf.at[i].set(x), b, m)
            return i + 1, p, o, b, m["pi_ok"] & m["v_ok"] & m["g_ok"]

        i, params, opt_state, bufs, _ = jax.lax.while_loop(
            cond, body, (jnp.asarray(0, jnp.int32), params, opt_state, bufs, jnp.asarray(True))
        )
        return params, opt_state, bufs, i


_COMPILED: dict = {}


def compiled_chunk(trainer: Trainer, params, opt_state, key, size: int):
    """The chunk function of ``trainer``, compiled ahead of time, and the seconds spent compiling.

    Compilations are kept (keyed by the trainer's static structure and the arrays' shapes), so
    runs that differ only in array values (model parameters, learning rate, seed) compile once
    per process; the second element is then 0.
    """
    dyn, st = eqx.partition(trainer, eqx.is_array)
    i32 = jnp.asarray(0, jnp.int32)
    args = (dyn, params, opt_state, key, i32, i32)
    try:
        spec = tuple((x.shape, x.dtype) for x in jax.tree.leaves(args))
        cache_key = (jax.tree.structure(st), tuple(jax.tree.leaves(st)), size, jax.tree.structure(args), spec)
        hash(cache_key)
    except TypeError:
        cache_key = None
    seconds = 0.0
    fn = _COMPILED.get(cache_key) if cache_key is not None else None
    if fn is None:

        def run(d, p, o, k, start, n):
            return eqx.combine(d, st).chunk(p, o, k, start, n, size)

        t0 = time.perf_counter()
        fn = jax.jit(run).lower(*args).compile()
        seconds = time.perf_counter() - t0
        if cache_key is not None:
            if len(_COMPILED) >= 16:
                _COMPILED.pop(next(iter(_COMPILED)))
            _COMPILED[cache_key] = fn

    def call(p, o, k, start, n):
        return fn(dyn, p, o, k, jnp.asarray(start, jnp.int32), jnp.asarray(n, jnp.int32))

    return call, seconds
