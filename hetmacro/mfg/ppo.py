r"""Model-free baselines: independent PPO (IPPO) and recurrent IPPO (RIPPO) on a Game's N-agent environment.

``hm.solve(model, method="ippo" | "rippo")``. The structural methods (:mod:`hetmacro.mfg.rspg`)
integrate over idiosyncratic shocks and actions exactly; these baselines learn the same household
policy from *sampled* trajectories of individual households (:mod:`hetmacro.mfg.env`), as the
reinforcement-learning baselines of Wibault et al. (2026), arXiv 2602.20141 (IPPO: de Witt et al.
2020, arXiv 2011.09533; PPO: Schulman et al. 2017, arXiv 1707.06347; GAE: Schulman et al. 2016,
arXiv 1506.02438).

**Outer loop** (one iteration):

1. *Freeze a mean field.* On E sampled common-noise paths, the flow of the current policy:
   ``mean_field="exact"`` (default) pushes the policy's full action probabilities with
   ``Game.push`` (not its mode: mfax_spec.md §G6); ``"empirical"`` simulates N households under the
   sampled policy and uses their histogram (the paper's RL setting).
2. *Collect.* ``agents`` learners per path, drawn from mu_0, play one episode of T steps against the
   frozen flow in the environment, each on its own clock (which advances: §G1), sampling actions
   from the policy; rewards as :mod:`hetmacro.mfg.env` (terminal value on the terminal step).
3. *Learn.* ``epochs`` passes of PPO over the learners, split into ``minibatches``: the clipped
   surrogate (:func:`clipped_surrogate`) on GAE advantages (:func:`gae`) normalised per minibatch,
   a value loss and an entropy bonus, one Adam step per minibatch (global-norm clipping). The
   learning rate decays linearly from lr to 0.1 lr over the optimiser steps actually taken,
   iterations x epochs x minibatches (the reference's schedule counted iterations and collapsed in
   the first few: §G3).

**Policy.** The actor is the structural methods' :class:`~hetmacro.mfg.policies.PolicyNetwork` (same
state encoder, action heads and, for RIPPO, a GRU), so the learned policy *is* a population policy
pi_t(a | s, o_0..o_t) and is scored by exactly the same exploitability code as RSPG
(:func:`hetmacro.mfg.rspg.evaluate`: exact without common noise, non-anticipative over an enumerated
noise tree, clairvoyant upper bound on sampled paths, labelled). RIPPO's GRU runs over the shared
part of the household's observation history (the signals o_0..o_t, identical for every household);
its own past states are not fed to it, since a policy that remembers its own path is not a population
policy of (s, signal history) and could not be pushed or scored exactly. The critic
V(s, o_t, t) is a separate MLP of the state features, the current signal and the clock; rewards
are divided by a fixed scale (the first batch's standard deviation of discounted returns), which
changes no policy gradient (advantages are normalised) but keeps the value loss O(1).

The two PPO pieces are written out here (a dozen lines each, with their formulas) rather than taken
from rlax: rlax pulls distrax and a nightly TensorFlow Probability, and the action distribution is
already our own head's cell probabilities.
"""

from __future__ import annotations

import dataclasses
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..game import Flow, Game
from .env import AgentEnv, FlowTables
from .policies import PolicyNetwork, clock_features
from .training import forward_flow

__all__ = ["Critic", "PPOState", "PPOTrainer", "check_finite", "clipped_surrogate", "gae", "make_trainer"]

_TINY = 1e-30


# --- the two PPO pieces -----------------------------------------------------------------------------


def gae(rewards, values, dones, last_value, gamma, lam):
    r"""Generalised advantage estimation (Schulman et al. 2016, eq. 16), backwards in time.

    delta_t = r_t + gamma (1 - d_t) V_{t+1} - V_t,   A_t = delta_t + gamma lam (1 - d_t) A_{t+1},
    with V_T = ``last_value`` and A_T = 0; d_t = 1 ends the episode at step t (no bootstrap across it).

    Args:
        rewards, values, dones: (T, ...) per step; dones bool or 0/1.
        last_value: (...) the value after the last step.
        gamma, lam: discount and GAE parameter lambda in [0, 1].

    Returns:
        (advantages, returns) each (T, ...), returns = advantages + values (the lambda-returns).
    """
    not_done = 1.0 - jnp.asarray(dones, values.dtype)
    next_values = jnp.concatenate([values[1:], last_value[None]], axis=0)
    deltas = rewards + gamma * not_done * next_values - values

    def body(a_next, xs):
        delta, nd = xs
        a = delta + gamma * lam * nd * a_next
        return a, a

    _, adv = jax.lax.scan(body, jnp.zeros_like(last_value), (deltas, not_done), reverse=True)
    return adv, adv + values


def clipped_surrogate(logp, logp_old, advantages, clip):
    r"""PPO's clipped surrogate loss (Schulman et al. 2017, eq. 7), to minimise.

    rho = exp(logp - logp_old),  L = -mean( min(rho A, clip(rho, 1 - eps, 1 + eps) A) ).

    Returns (loss, fraction of samples where the clip is active, i.e. |rho - 1| > eps).
    """
    ratio = jnp.exp(logp - logp_old)
    unclipped = ratio * advantages
    clipped = jnp.clip(ratio, 1.0 - clip, 1.0 + clip) * advantages
    loss = -jnp.mean(jnp.minimum(unclipped, clipped))
    return loss, jnp.mean((jnp.abs(ratio - 1.0) > clip).astype(logp.dtype))


# --- the critic ----------------------------------------------------------------------------------------


class Critic(eqx.Module):
    """V(s, o_t, t) = MLP([features(s), o_t, clock(t)]) in units of the reward scale."""

    mlp: eqx.nn.MLP
    horizon: int = eqx.field(static=True)

    def __init__(self, n_features: int, d_signal: int, width: int, depth: int, horizon: int, *, key):
        n_in = n_features + d_signal + 4  # clock_features: t/T and three time-to-go terms
        self.mlp = eqx.nn.MLP(n_in, "scalar", width, depth, jax.nn.tanh, key=key)
        self.horizon = horizon

    def __call__(self, features, signal, t):
        x = jnp.concatenate([features, signal, clock_features(t, self.horizon, features.dtype)])
        return self.mlp(x)


# --- the trainer ----------------------------------------------------------------------------------------


class PPOTrainer(eqx.Module):
    """One IPPO / RIPPO iteration on one game, compiled once: freeze a flow, collect, learn.

    Array-valued hyperparameters (lr, clip, entropy, ...) share one compilation across a sweep.
    Attributes mirror :class:`hetmacro.IPPO`'s options; ``static`` is the actor's non-array part.
    """

    env: AgentEnv
    pop: AgentEnv
    static: PolicyNetwork
    critic_static: Critic
    lr: jnp.ndarray
    clip: jnp.ndarray
    entropy: jnp.ndarray
    vf_coef: jnp.ndarray
    gae_lambda: jnp.ndarray
    max_grad_norm: jnp.ndarray
    iterations: int = eqx.field(static=True)
    n_paths: int = eqx.field(static=True)
    epochs: int = eqx.field(static=True)
    minibatches: int = eqx.field(static=True)
    empirical: bool = eqx.field(static=True)

    @property
    def game(self) -> Game:
        return self.env.game

    @property
    def optimiser_steps(self) -> int:
        """The optimiser steps of the whole run: iterations x epochs x minibatches."""
        return self.iterations * self.epochs * self.minibatches

    @property
    def schedule(self):
        """lr -> 0.1 lr linearly over :attr:`optimiser_steps` (the steps actually taken)."""
        return optax.linear_schedule(self.lr, 0.1 * self.lr, self.optimiser_steps)

    @property
    def optimiser(self):
        return optax.chain(optax.clip_by_global_norm(self.max_grad_norm), optax.adam(self.schedule, eps=1e-5))

    # 1. the frozen mean field
    def frozen_flow(self, actor: PolicyNetwork, key):
        """E flows of the current policy: (FlowTables batched over paths, pi (E, T, S, A), signals (E, T, d))."""
        game, env, T = self.game, self.env, self.env.T
        sp = actor.state_part(env.features)
        keys = jax.random.split(key, self.n_paths)
        if not self.empirical:
            zs = jax.vmap(lambda k: game.noise_path(k, T))(keys)
            aggs, signals, _, pis, _, kerns = jax.vmap(
                lambda z: forward_flow(actor, game, sp, z, keep_pi=True, keep_kernels=True)
            )(zs)
            R = jax.vmap(jax.vmap(game.rewards))(
                jax.tree.map(lambda x: x[:, :-1], aggs), jax.tree.map(lambda x: x[:, 1:], aggs)
            )
            V_T = jax.vmap(lambda a: game.terminal_value(jax.tree.map(lambda x: x[-1], a)))(aggs)
            tables = FlowTables(
                lo=kerns.i,
                w=kerns.t,
                p=jnp.broadcast_to(game.eps_p, (self.n_paths,) + game.eps_p.shape),
                P=kerns.P,
                R=R,
                V_T=V_T,
                beta=jnp.broadcast_to(game.beta, (self.n_paths,)),
                signals=jax.vmap(jax.vmap(game.signal))(aggs),
                mu0=aggs.mu[:, 0],
                aggs=aggs,
            )
            return tables, pis.reshape(self.n_paths, T, game.S, game.A), signals
        pop = self.pop

        def one(k):  # N households under the sampled policy: their histogram is the flow
            k0, k1 = jax.random.split(k)
            _, st = pop.reset(k0)

            def body(carry, k):
                st, h = carry
                o = game.signal(st.agg)
                h, sv = actor.signal.step(h, o, st.agg.t)
                pi = actor.probs(sp, sv)
                ka, ks = jax.random.split(k)
                s = st.i * game.m + st.j
                a = jax.random.categorical(ka, jnp.log(jnp.maximum(pi[s], _TINY)))
                _, st2, _, _, info = pop.step(ks, st, a)
                # info["next_agg"]: the date t + 1 aggregate before the population's reset at the end
                return (st2, h), (st.agg, o, pi, info["next_agg"])

            _, (aggs, signals, pis, nexts) = jax.lax.scan(
                body, (st, actor.signal.initial_carry(game.dtype)), jax.random.split(k1, T)
            )
            aggs = jax.tree.map(lambda xs, x: jnp.concatenate([xs, x[-1:]]), aggs, nexts)
            return env.tables(Flow(aggs, None)), pis, signals

        return jax.vmap(one)(keys)

    # 2. the learners' episodes
    def collect(self, actor, critic, key, tables, pis, scale):
        """``agents`` learners per path play one episode of T steps against the frozen flows.

        Returns a batch of (T, E, N) arrays: state index, features, signal, clock, action, log-prob,
        value, reward (unscaled), done; and the learners' mean discounted episode return.
        """
        env = self.env
        keys = jax.random.split(key, self.n_paths)

        def one_path(k, tab, pi):
            def policy(k, obs):
                p = pi[obs.t, obs.index]
                return jax.random.categorical(k, jnp.log(jnp.maximum(p, _TINY)))

            obs, a, r, d, info, _ = env.rollout(k, policy, tab)
            logp = jnp.log(jnp.maximum(pi[obs.t, obs.index, a], _TINY))
            v = jax.vmap(jax.vmap(critic))(obs.features, obs.signal, obs.t)
            return obs, a, r, d, logp, v

        obs, a, r, d, logp, v = jax.vmap(one_path)(keys, tables, pis)
        swap = lambda x: jnp.swapaxes(x, 0, 1)  # (E, T, N, ...) -> (T, E, N, ...)  # noqa: E731
        batch = {
            "index": swap(obs.index),
            "features": swap(obs.features),
            "signal": swap(obs.signal),
            "t": swap(obs.t),
            "action": swap(a),
            "logp": swap(logp),
            "value": swap(v) * scale,
            "reward": swap(r),
            "done": swap(d),
        }
        disc = self.game.beta ** batch["t"].astype(r.dtype)
        ret = jnp.sum(disc * batch["reward"], axis=0).mean()
        return batch, ret

    # 3. the PPO update
    def loss(self, params, signals, mb):
        """PPO loss of a minibatch (arrays (T, E, b)): surrogate + vf_coef value loss - entropy bonus."""
        actor_p, critic_p = params
        actor = eqx.combine(actor_p, self.static)
        critic = eqx.combine(critic_p, self.critic_static)
        game, T = self.game, self.env.T
        sp = actor.state_part(self.env.features)  # (S, width)
        ts = jnp.arange(T)
        svs = jax.vmap(lambda o: actor.signal.sequence(o, ts))(signals)  # (E, T, width), BPTT for RIPPO
        e_idx = jnp.arange(signals.shape[0])[None, :, None]
        pre = sp[mb["index"]] + svs[e_idx, mb["t"]]
        probs = actor.head(pre.reshape(-1, pre.shape[-1])).reshape(pre.shape[:-1] + (game.A,))
        logp_all = jnp.log(jnp.maximum(probs, _TINY))
        logp = jnp.take_along_axis(logp_all, mb["action"][..., None], axis=-1)[..., 0]
        adv = mb["adv"]
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        pg, clipfrac = clipped_surrogate(logp, mb["logp"], adv, self.clip)
        v = jax.vmap(jax.vmap(jax.vmap(critic)))(mb["features"], mb["signal"], mb["t"])
        v_loss = 0.5 * jnp.mean((v - mb["target"]) ** 2)
        ent = -jnp.mean(jnp.sum(probs * logp_all, axis=-1))
        kl = jnp.mean(mb["logp"] - logp)
        total = pg + self.vf_coef * v_loss - self.entropy * ent
        return total, {
            "policy_loss": pg,
            "value_loss": v_loss,
            "entropy": ent,
            "approx_kl": kl,
            "clip_fraction": clipfrac,
        }

    def step(self, params, opt_state, scale, key, iteration):
        """One outer iteration: (params, opt_state, scale, metrics). Not applied if anything is not finite."""
        actor_p, critic_p = params
        actor = eqx.combine(actor_p, self.static)
        critic = eqx.combine(critic_p, self.critic_static)
        game = self.game
        k_flow, k_collect, k_perm = jax.random.split(jax.random.fold_in(key, iteration), 3)
        tables, pis, signals = self.frozen_flow(actor, k_flow)
        pi_ok = jnp.all(jnp.isfinite(pis))
        batch, ret = self.collect(actor, critic, k_collect, tables, pis, scale)
        # Reward scale, fixed after the first iteration: the std of the learners' discounted returns.
        disc = game.beta ** batch["t"].astype(game.dtype)
        first_scale = jnp.std(jnp.sum(disc * batch["reward"], axis=0)) + 1e-6
        scale = jnp.where(iteration == 0, jnp.maximum(first_scale, 1e-3), scale)
        values = batch["value"] / scale
        last = jnp.zeros_like(values[0])
        adv, target = gae(batch["reward"] / scale, values, batch["done"], last, game.beta, self.gae_lambda)
        data = {k: batch[k] for k in ("index", "features", "signal", "t", "action", "logp")}
        data.update(adv=adv, target=target)
        N, nb = self.env.n_agents, self.env.n_agents // self.minibatches

        def epoch(carry, k):
            def minibatch(carry, idx):
                p, o = carry
                mb = jax.tree.map(lambda x: x[:, :, idx], data)
                (_, aux), g = eqx.filter_value_and_grad(self.loss, has_aux=True)(p, signals, mb)
                gnorm = optax.tree.norm(g)
                upd, o = self.optimiser.update(g, o, p)
                return (eqx.apply_updates(p, upd), o), {**aux, "grad_norm": gnorm}

            perm = jax.random.permutation(k, N).reshape(self.minibatches, nb)
            return jax.lax.scan(minibatch, carry, perm)

        (new_p, new_o), aux = jax.lax.scan(epoch, (params, opt_state), jax.random.split(k_perm, self.epochs))
        aux = jax.tree.map(jnp.mean, aux)
        g_ok = (
            jnp.isfinite(aux["grad_norm"])
            & jnp.isfinite(aux["policy_loss"])
            & jnp.isfinite(aux["value_loss"])
        )
        ok = pi_ok & g_ok & jnp.isfinite(ret)
        keep = lambda new, old: jax.tree.map(lambda a, b: jnp.where(ok, a, b), new, old)  # noqa: E731
        steps_done = (iteration + 1) * self.epochs * self.minibatches
        metrics = {
            "return": ret,
            "learning_rate": self.schedule(steps_done - 1),  # the rate of this iteration's last step
            "pi_ok": pi_ok,
            "g_ok": g_ok,
            **aux,
        }
        return keep(new_p, params), keep(new_o, opt_state), scale, metrics


# --- building a trainer ------------------------------------------------------------------------------


@dataclasses.dataclass
class PPOState:
    """What an IPPO run carries between iterations."""

    params: tuple
    opt_state: object
    scale: jnp.ndarray


_COMPILED: dict = {}


def make_trainer(game: Game, actor: PolicyNetwork, config, opts: dict, horizon: int):
    """The trainer, its initial state and the compiled iteration, and the seconds spent compiling it (0 when
    a run of the same structure compiled it before in this process)."""
    key = jax.random.PRNGKey(int(config.seed) + 7919)
    env = AgentEnv(game, int(opts["agents"]), horizon, opts["grid_scaling"])
    d = int(game.signal(game.reset(jax.random.PRNGKey(0))).shape[0])
    critic = Critic(env.features.shape[1], d, int(opts["critic_width"]), 2, horizon, key=key)
    critic = jax.tree.map(lambda x: x.astype(game.dtype) if eqx.is_inexact_array(x) else x, critic)
    actor_p, static = eqx.partition(actor, eqx.is_inexact_array)
    critic_p, critic_static = eqx.partition(critic, eqx.is_inexact_array)
    f = lambda k: jnp.asarray(float(opts[k]), game.dtype)  # noqa: E731
    trainer = PPOTrainer(
        env=env,
        pop=AgentEnv(game, int(opts["population"]), horizon, opts["grid_scaling"]),
        static=static,
        critic_static=critic_static,
        lr=f("lr"),
        clip=f("clip"),
        entropy=f("entropy"),
        vf_coef=f("vf_coef"),
        gae_lambda=f("gae_lambda"),
        max_grad_norm=f("max_grad_norm"),
        iterations=int(opts["iterations"]),
        n_paths=int(opts["paths"]),
        epochs=int(opts["epochs"]),
        minibatches=int(opts["minibatches"]),
        empirical=opts["mean_field"] == "empirical",
    )
    params = (actor_p, critic_p)
    state = PPOState(params, trainer.optimiser.init(params), jnp.asarray(1.0, game.dtype))
    dyn, st = eqx.partition(trainer, eqx.is_array)
    args = (dyn, state.params, state.opt_state, state.scale, key, jnp.asarray(0, jnp.int32))
    try:  # runs that differ only in array values (learning rate, seed, parameters) compile once
        spec = tuple((x.shape, x.dtype) for x in jax.tree.leaves(args))
        cache_key = (jax.tree.structure(st), tuple(jax.tree.leaves(st)), jax.tree.structure(args), spec)
        hash(cache_key)
    except TypeError:
        cache_key = None
    fn = _COMPILED.get(cache_key) if cache_key is not None else None
    seconds = 0.0
    if fn is None:

        def run(d, p, o, s, k, it):
            return eqx.combine(d, st).step(p, o, s, k, it)

        t0 = time.perf_counter()
        fn = jax.jit(run).lower(*args).compile()
        seconds = time.perf_counter() - t0
        if cache_key is not None:
            if len(_COMPILED) >= 8:
                _COMPILED.pop(next(iter(_COMPILED)))
            _COMPILED[cache_key] = fn

    def call(state: PPOState, k, it):
        p, o, s, m = fn(dyn, state.params, state.opt_state, state.scale, k, jnp.asarray(it, jnp.int32))
        return PPOState(p, o, s), m

    return trainer, state, call, seconds


def check_finite(method: str, it: int, m: dict, lr: float) -> None:
    """Raise a FloatingPointError naming the iteration and the likely cause if an iteration was not finite."""
    if bool(m["pi_ok"]) and bool(m["g_ok"]) and np.isfinite(float(m["return"])):
        return
    cause = (
        "the policy's probabilities are not finite: its parameters blew up"
        if not bool(m["pi_ok"])
        else "the loss or its gradient is not finite (rewards on the frozen flow, or the parameters)"
    )
    raise FloatingPointError(
        f"{method.upper()} training stopped at iteration {it}: {cause}. Likely fix: lower the learning rate "
        f"(lr = {lr:g}, e.g. lr = {lr / 10:g}), or check the model's rewards and prices. The parameters "
        "before this iteration are kept."
    )
