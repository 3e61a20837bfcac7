r"""(R)SPG on an infinite-horizon economy: where paths start, what follows the truncation, where training
starts from.

A policy network is trained on a truncation of T dates. Three choices make that truncation answer the
infinite-horizon question at the ergodic set (docs/rspg.md, "Infinite horizon"):

- **starts** (``initial=``): paths start from a batch of distributions of the ergodic set
  (:func:`hetmacro.mfg.starts.ergodic_starts`), not from the model's ``initial_distribution``;
- **continuation** (``continuation=``): the value after date T is the stationary equilibrium's value
  function V_ss(a, e) (:meth:`hetmacro.Game.with_continuation`) instead of the model's terminal value
  (0 for an economy that declares none: households would be taught that the world ends and eat their
  wealth). Its error is the gap between V_ss and the value under aggregate risk, discounted by beta^T;
- **warm start** (``init_policy=``): before training, the network is fitted to a given policy (the
  stationary savings policy, the Krusell–Smith rule, the linear rule: ``init_policy="linear"``) by cross-entropy on the action
  cells along that policy's own flows (:func:`fit_to_policy`), so that training improves on the steady
  state's savings behaviour instead of learning it from scratch.
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..game import Game, cast_floats
from ..solution import Solution
from .policies import PolicyNetwork
from .starts import Starts, ergodic_starts, given_starts, stationary_start

__all__ = [
    "Horizon",
    "fit_to_policy",
    "is_savings_economy",
    "plan_horizon",
    "resolve_policy",
    "resolve_starts",
    "signal_standardisation",
    "stationary_solution",
]


@dataclasses.dataclass
class Horizon:
    """What (R)SPG does about the horizon (:func:`plan_horizon`).

    Attributes:
        game: the game, with its continuation value when one is used.
        stationary: the stationary equilibrium's Solution when something needed it, else None.
        init_policy: what the network is fitted to before training, or None.
        starts, train, evaluate: every start, those training paths draw from, those evaluation paths
            start at (None: the model's initial distribution).
        info: the labels reported in :class:`~hetmacro.results.RSPGResult` (initial, continuation,
            init_policy, interior_until).
    """

    game: Game
    stationary: object
    init_policy: object
    starts: Starts | None
    train: Starts | None
    evaluate: Starts | None
    info: dict


def _named(x, name: str) -> bool:
    return isinstance(x, str) and x == name


def _describe(x) -> str:
    """A short label of an option that may be an object (for the result and the checkpoint signature)."""
    if x is None or isinstance(x, str):
        return str(x)
    if isinstance(x, Solution):
        return f"Solution({x.method})"
    if isinstance(x, Starts):
        return x.kind
    if isinstance(x, np.ndarray | jax.Array):
        return f"given {tuple(np.shape(x))}"
    return type(x).__name__


def plan_horizon(model, game: Game, config, T: int, key, n_eval: int) -> Horizon:
    """Starts, continuation value and warm start of an (R)SPG run (``config``: :class:`hetmacro.RSPG`).

    Defaults: for an infinite-horizon savings economy with a market, ergodic starts (a simulation under
    ``config.ergodic_policy``, the stationary rule by default), the stationary value function after T and
    a warm start on the stationary rule; otherwise the model's initial distribution and terminal value.
    Training draws from the first ``n_starts`` ergodic starts, evaluation starts at the next ``n_eval``.
    """
    infinite = game.T is None and is_savings_economy(model)
    initial = config.initial if config.initial is not None else ("ergodic" if infinite else "model")
    continuation = (
        config.continuation if config.continuation is not None else ("stationary" if infinite else "model")
    )
    init_policy = (
        config.init_policy if config.init_policy is not None else ("stationary" if infinite else None)
    )
    ergodic_policy = config.ergodic_policy if config.ergodic_policy is not None else "stationary"
    if _named(init_policy, "linear") or _named(ergodic_policy, "linear"):
        linear = linear_solution(model)  # one solve serves both
        init_policy = linear if _named(init_policy, "linear") else init_policy
        ergodic_policy = linear if _named(ergodic_policy, "linear") else ergodic_policy
    for given in (init_policy, ergodic_policy):  # refuse another game's policy before any work
        if isinstance(given, Solution):
            resolve_policy(game, given)
    ergodic = _named(initial, "ergodic")
    wanted = [initial, continuation, init_policy] + ([ergodic_policy] if ergodic else [])
    needs = any(_named(x, "stationary") or _named(x, "ergodic") for x in wanted)
    stationary = stationary_solution(model, game) if needs else None
    if _named(continuation, "stationary"):
        game = game.with_continuation(np.asarray(stationary.values, np.float64))
    elif not _named(continuation, "model"):
        game = game.with_continuation(continuation)
    interior = config.interior if config.interior is not None else (T // 2 if game.T is None else None)
    if interior is not None and not 0 < interior <= T:
        raise ValueError(f"interior = {interior} must lie in 1..T = {T}.")
    starts = resolve_starts(
        game,
        initial,
        stationary=stationary,
        policy=resolve_policy(game, ergodic_policy, stationary) if ergodic else None,
        key=key,
        n=int(config.n_starts) + n_eval,
        burn_in=int(config.burn_in),
        spacing=int(config.spacing),
        warmup=int(config.warmup) if config.recurrent else 0,
    )
    train = evaluate = starts
    if starts is not None and starts.kind == "ergodic":  # train on the first dates, evaluate on the last
        train = starts.take(np.arange(int(config.n_starts)))
        evaluate = starts.take(np.arange(int(config.n_starts), starts.size))
    info = {
        "initial": _describe(initial) + (f" ({_describe(ergodic_policy)})" if ergodic else ""),
        "continuation": _describe(continuation),
        "init_policy": None if init_policy is None else _describe(init_policy),
        "interior_until": interior,
    }
    return Horizon(game, stationary, init_policy, starts, train, evaluate, info)


def signal_standardisation(starts: Starts | None) -> dict:
    """Centre and scale of the signals on the ergodic set (the starts' histories), for the network's
    fixed input standardisation; none for other starts (their histories are constant)."""
    if starts is None or starts.kind != "ergodic" or starts.history.shape[1] < 2:
        return {}
    h = np.asarray(starts.history, np.float64).reshape(-1, starts.history.shape[-1])
    scale = np.maximum(h.std(axis=0), 1e-6 * np.maximum(np.abs(h.mean(axis=0)), 1.0))
    return {"signal_center": [float(x) for x in h.mean(axis=0)], "signal_scale": [float(x) for x in scale]}


def is_savings_economy(model) -> bool:
    """A savings economy with a market: it has a stationary equilibrium without aggregate risk."""
    from ..savings import SavingsEconomy

    return isinstance(model, SavingsEconomy) and model.market() is not None


def stationary_solution(model, game: Game):
    """The stationary equilibrium of ``model`` without aggregate risk, on the game's own grid."""
    from ..solvers import solve

    if not is_savings_economy(model):
        raise ValueError(
            f"{type(model).__name__} is not a savings economy with a market (hm.SavingsEconomy declaring "
            "market()): it has no stationary equilibrium to start from, continue with or warm-start on. "
            "Pass initial=, continuation= or init_policy= as arrays or policies instead."
        )
    with jax.enable_x64(True):
        sol = solve(model.without_aggregate_risk(), method="stationary")
    pts = np.asarray(sol.game.grid.points, np.float64)
    if pts.shape != (game.n,) or not np.allclose(pts, np.asarray(game.grid.points, np.float64)):
        raise ValueError(
            "the stationary equilibrium's asset grid differs from the game's: without_aggregate_risk() must "
            "keep the grid."
        )
    return sol


def linear_solution(model):
    """The model's first-order solution (``method="linear"``), whose rule reacts to the TFP shock: a warm
    start (``init_policy="linear"``) that already has the response to small shocks right, or the policy
    simulated for ergodic starts (``ergodic_policy="linear"``). Its solver refuses economies it cannot
    linearise, with its own message."""
    from ..solvers import solve

    with jax.enable_x64(True):
        return solve(model, method="linear")


def stationary_policy(game: Game, stationary):
    """The stationary savings policy as a policy of ``game`` (consumption shares at each date's prices)."""
    from ..savings.rules import GamePolicy, StationaryRule

    a_next = jnp.asarray(np.asarray(stationary.policy["a_next"], np.float64), game.dtype)
    return GamePolicy(StationaryRule(a_next), game), None


def resolve_policy(game: Game, policy, stationary=None):
    """(policy(carry, agg) -> (carry, pi), carry) from "stationary", a Solution, or such a pair ("linear" is
    made a Solution by :func:`plan_horizon`)."""
    if isinstance(policy, str):
        if policy != "stationary":
            raise ValueError(f"a policy given by name must be 'stationary' or 'linear', got {policy!r}.")
        return stationary_policy(game, stationary)
    if isinstance(policy, Solution):
        if policy.game is None or (policy.game.n, policy.game.m, policy.game.A) != (game.n, game.m, game.A):
            raise ValueError(
                f"the policy's Solution ({policy.method}) is of another game: its states and actions "
                f"{None if policy.game is None else (policy.game.n, policy.game.m, policy.game.A)} differ "
                f"from this model's {(game.n, game.m, game.A)}."
            )
        # A Solution solved in float64 (linear, ks) drives a float32 game in the game's precision.
        return cast_floats((policy.policy_fn(), policy.initial_carry()), game.dtype)
    if isinstance(policy, tuple) and len(policy) == 2 and callable(policy[0]):
        return policy
    if callable(policy):
        return policy, None
    raise TypeError(
        "a policy is 'stationary', a Solution (e.g. of method 'ks' or 'linear'), or a pair "
        f"(policy(carry, agg) -> (carry, pi), carry); got {type(policy).__name__}."
    )


def resolve_starts(
    game: Game, initial, *, stationary=None, policy=None, key, n: int, burn_in: int, spacing: int, warmup: int
) -> Starts | None:
    """The training (or evaluation) starts for ``initial``: None for "model" (the model's own initial
    distribution), else a :class:`~hetmacro.mfg.starts.Starts` batch."""
    if initial is None or (isinstance(initial, str) and initial == "model"):
        return None
    if isinstance(initial, Starts):
        return initial
    if isinstance(initial, str):
        if initial == "stationary":
            return stationary_start(game, stationary, warmup)
        if initial == "ergodic":
            pol, carry = policy
            first = stationary_start(game, stationary, 0) if stationary is not None else _model_start(game)
            return ergodic_starts(
                game, pol, carry, key, n, start=first, burn_in=burn_in, spacing=spacing, warmup=warmup
            )
        raise ValueError(
            f"initial = {initial!r}: use 'model', 'stationary', 'ergodic', a batch of distributions "
            "(B, n, m) or a hetmacro.mfg.starts.Starts."
        )
    return given_starts(game, initial, warmup)


def _model_start(game: Game) -> Starts:
    agg = game.reset(jax.random.PRNGKey(0))
    return given_starts(game, np.asarray(agg.mu), 0, kind="model")


def fit_to_policy(
    net: PolicyNetwork,
    game: Game,
    features,
    policy,
    carry,
    starts: Starts | None,
    key,
    *,
    T: int,
    paths: int = 4,
    steps: int = 300,
    lr: float = 3e-3,
    dates_per_step: int = 16,
):
    """The network fitted to ``policy`` (``policy(carry, agg) -> (carry, pi)``) by cross-entropy.

    The target's flows are rolled forward on ``paths`` noise paths from the starts (or the model's
    initial distribution); at each step ``dates_per_step`` random (path, date) pairs are drawn and the
    network's cell probabilities at every state are fitted to the target's, weighting the states by
    half the date's distribution and half uniformly (so states off the distribution are fitted too):

        L(theta) = E_{(p, t)} sum_s w_t(s) sum_a -pi_target(a | s) log pi_theta(a | s, o_0..o_t).

    Adam with a cosine decay (optax). Returns (the fitted network, the final loss in excess of the
    target's entropy, i.e. the mean KL divergence in nats).
    """
    k_paths, k_starts, k_fit = jax.random.split(key, 3)
    keys = jax.random.split(k_paths, paths)
    if starts is None:
        aggs0 = jax.vmap(game.reset)(jax.random.split(k_starts, paths))
        hist = jnp.zeros((paths, 0, int(game.signal(game.reset(key)).shape[0])), game.dtype)
    else:
        picked = starts.take(jax.random.randint(k_starts, (paths,), 0, starts.size))
        aggs0 = jax.vmap(lambda mu, z: game.aggregate_state(mu, z, 0))(picked.mu, picked.z)
        hist = picked.history
    flows = _target_flows(game, policy, carry, keys, aggs0, T)
    signals = jax.vmap(jax.vmap(game.signal))(jax.tree.map(lambda x: x[:, :-1], flows.aggs))  # (P, T, d)
    mus = flows.aggs.mu[:, :-1]  # (P, T, n, m)
    params, static = eqx.partition(net, eqx.is_inexact_array)
    schedule = optax.cosine_decay_schedule(lr, steps, alpha=0.1)
    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(schedule))
    L = hist.shape[1]
    ts = jnp.concatenate([jnp.zeros((L,), jnp.int32), jnp.arange(T, dtype=jnp.int32)])
    full = jnp.concatenate([hist.astype(signals.dtype), signals], axis=1)
    target = flows.pi.reshape(paths, T, game.S, game.A)
    entropy = -jnp.sum(target * jnp.log(jnp.maximum(target, 1e-30)), axis=-1)

    def loss(p, idx):
        m = eqx.combine(p, static)
        sp = m.state_part(features)
        svs = jax.vmap(lambda o: m.signal.sequence(o, ts)[L:])(full)  # (P, T, width)
        pp, tt = idx // T, idx % T
        pi = jax.vmap(lambda a, b: m.probs(sp, svs[a, b]))(pp, tt)  # (k, S, A)
        tgt = target[pp, tt]
        w = 0.5 * mus[pp, tt].reshape(-1, game.S) + 0.5 / game.S
        ce = -jnp.sum(tgt * jnp.log(jnp.maximum(pi, 1e-30)), axis=-1) - entropy[pp, tt]
        return jnp.mean(jnp.sum(w * ce, axis=-1))

    @jax.jit
    def run(p, k):
        def body(state, kk):
            p, o = state
            idx = jax.random.randint(kk, (dates_per_step,), 0, paths * T)
            val, g = jax.value_and_grad(loss)(p, idx)
            upd, o = opt.update(g, o, p)
            return (eqx.apply_updates(p, upd), o), val

        (p, _), vals = jax.lax.scan(body, (p, opt.init(p)), jax.random.split(k, steps))
        return p, vals

    params, vals = run(params, k_fit)
    kl = float(jnp.mean(vals[-max(steps // 10, 1) :]))
    if not np.isfinite(kl):
        raise FloatingPointError("fitting the network to init_policy gave a non-finite loss.")
    return eqx.combine(params, static), kl


@eqx.filter_jit
def _target_flows(game: Game, policy, carry, keys, aggs0, T: int):
    return jax.vmap(lambda k, a: game.rollout(k, policy, carry, T=T, agg0=a))(keys, aggs0)
