r"""The IPPO / RIPPO solvers: ``hm.solve(model, method="ippo" | "rippo")``.

Trains a household policy network by PPO on sampled households (:mod:`hetmacro.mfg.ppo`, on the
environment of :mod:`hetmacro.mfg.env`), then scores it exactly as RSPG scores its own
(:func:`hetmacro.mfg.rspg.evaluate`: the same evaluation paths rule, the same exploitability
functions and the same labels: exact, non-anticipative or clairvoyant). The network, its head and
its sizes follow RSPG's rules for the game (:data:`hetmacro.mfg.rspg.DEFAULT_RULES`); the PPO
options' defaults are :class:`hetmacro.IPPO`'s.
"""

from __future__ import annotations

import time

import equinox as eqx
import jax
import numpy as np
import pandas as pd

from ..game import Game, compile
from ..results import PPOResult
from ..solution import Solution
from . import rspg
from .exploitability import enumerate_noise_paths, evaluation_paths
from .policies import NetworkPolicy, new_network
from .ppo import check_finite, make_trainer

__all__ = ["configure", "solve", "train"]

_NETWORK = ("head", "width", "hidden", "encoder_depth", "signal_depth", "head_layers", "state_table")


def _options(game: Game, config) -> tuple[dict, list]:
    net, rules = rspg.default_options(game)
    opts = {k: net[k] for k in (*_NETWORK, "grid_scaling", "max_branches", "beta_nodes", "time_feature")}
    opts.update(config.given())
    return opts, rules


def configure(model, config, game: Game | None = None):
    """Options, the actor network, the evaluation paths and the compiled PPO iteration."""
    game = compile(model) if game is None else game
    T = game.T
    opts, rules = _options(game, config)
    seed = int(config.seed)
    k_init, _, k_eval = jax.random.split(jax.random.PRNGKey(seed), 3)
    actor, features, net_spec = new_network(game, opts, bool(config.recurrent), int(T), k_init)
    trainer, state, step, t_compile = make_trainer(game, actor, config, opts, int(T))
    params, static = eqx.partition(actor, eqx.is_inexact_array)
    # Evaluation paths by RSPG's rule: the whole noise tree when it is small, else fresh sampled paths.
    tree = enumerate_noise_paths(game, T, int(opts["max_branches"]))
    mode = "exact" if tree is not None and tree[1].shape[0] <= int(opts["paths"]) else "sample"
    n_eval = int(opts["eval_paths"])
    eval_zs, eval_w, _ = evaluation_paths(game, mode, tree, k_eval, n_eval, int(T))
    setup = rspg._Setup(
        method=config.method,
        game=game,
        opts=opts,
        rules=rules,
        seed=seed,
        T=int(T),
        mode=mode,
        tree=tree,
        features=features,
        net_spec=net_spec,
        static=static,
        params=params,
        opt_state=None,
        trainer=None,
        k_train=None,
        eval_zs=eval_zs,
        w_eval=np.asarray(eval_w, np.float64),
        eval_starts=None,
        eval_batch=None,
        horizon_info={"interior_until": None},
        signature={},
        checkpoint=None,
        progress=bool(config.progress),
        callback=config.callback,
    )
    return setup, trainer, state, step, t_compile


def train(setup, trainer, state, step, t_compile):
    """The outer loop in Python, one compiled PPO iteration per call; evaluations every ``eval_every``."""
    opts, method = setup.opts, setup.method
    iterations, eval_every = int(opts["iterations"]), int(opts["eval_every"])
    training = rspg._Training.untrained(state.params[0], t_compile)
    agent_steps_per_it = trainer.n_paths * trainer.env.n_agents * trainer.env.T
    key = jax.random.fold_in(jax.random.PRNGKey(setup.seed), 2)

    def evaluate_now(it):
        rspg._evaluate_on_paths(setup, state.params[0], training, it)
        training.evals[-1]["agent_steps"] = it * agent_steps_per_it

    bar = None
    if setup.progress:
        from tqdm import tqdm

        bar = tqdm(total=iterations, desc=method.upper(), unit="it")
    try:
        if eval_every > 0:
            evaluate_now(0)
        for it in range(iterations):
            t1, c1 = time.perf_counter(), time.process_time()
            new, m = step(state, key, it)
            m = jax.tree.map(np.asarray, m)
            dt, dc = time.perf_counter() - t1, time.process_time() - c1
            check_finite(method, it, m, float(opts["lr"]))
            state = new
            training.train_wall += dt
            training.train_cpu += dc
            training.iterations = it + 1
            training.rows.append(
                {
                    "iteration": it,
                    "return": float(m["return"]),
                    "policy_loss": float(m["policy_loss"]),
                    "value_loss": float(m["value_loss"]),
                    "entropy": float(m["entropy"]),
                    "approx_kl": float(m["approx_kl"]),
                    "clip_fraction": float(m["clip_fraction"]),
                    "learning_rate": float(m["learning_rate"]),
                    "grad_norm": float(m["grad_norm"]),
                    "agent_steps": (it + 1) * agent_steps_per_it,
                    "seconds": training.train_wall,
                }
            )
            if eval_every > 0 and (it + 1) % eval_every == 0 and it + 1 < iterations:
                evaluate_now(it + 1)
            if bar is not None:
                post = {"return": f"{training.rows[-1]['return']:.5g}"}
                if training.evals:
                    last = training.evals[-1]
                    post[f"expl eval paths @it{last['iteration']}"] = f"{last['eval_exploitability']:.3g}"
                bar.set_postfix(post, refresh=False)
                bar.update(1)
            if setup.callback is not None:
                setup.callback(training.rows[-1])
    finally:
        if bar is not None:
            bar.close()
    training.params = state.params[0]
    return training, state


def solve(model, config, game: Game | None = None) -> Solution:
    """Train a household policy by (recurrent) independent PPO on sampled households and score it.

    ``config`` is a :class:`hetmacro.IPPO` or :class:`hetmacro.RIPPO`.

    Returns:
        :class:`~hetmacro.solution.Solution` with ``policy`` a :class:`~hetmacro.mfg.policies.NetworkPolicy`,
        ``flows`` and ``values`` on the kept evaluation paths, ``exploitability`` and its kind (as RSPG),
        ``history()`` (iteration, learners' mean discounted return, PPO losses, entropy, approximate KL,
        clip fraction, learning rate, agent steps, seconds, eval_exploitability), ``timings`` and
        ``result`` (:class:`~hetmacro.results.PPOResult`).

    Raises:
        FloatingPointError: a non-finite policy, loss or gradient, naming the iteration.
    """
    t_start = time.perf_counter()
    setup, trainer, state, step, t_compile = configure(model, config, game)
    training, state = train(setup, trainer, state, step, t_compile)
    agent_steps_per_it = trainer.n_paths * trainer.env.n_agents * trainer.env.T
    ev = rspg.evaluate(setup, training)
    training.evals[-1]["agent_steps"] = training.iterations * agent_steps_per_it
    flows = ev["flows"]
    hist = pd.DataFrame(training.rows)
    evals = pd.DataFrame(training.evals)
    if len(hist) and len(evals):  # the evaluation taken after each iteration, where there is one
        after = evals.drop_duplicates("iteration", keep="last").set_index("iteration")["eval_exploitability"]
        hist["eval_exploitability"] = (hist["iteration"] + 1).map(after)
    n_rows = max(len(training.rows), 1)
    timings = {
        "compile": t_compile,
        "train": training.train_wall,
        "train_cpu": training.train_cpu,
        "per_iteration": training.train_wall / n_rows,
        "per_iteration_cpu": training.train_cpu / n_rows,
        "evaluate": training.t_eval[0],
        "evaluate_first_call": training.t_eval[1] or 0.0,
        "total": time.perf_counter() - t_start,
    }
    opts = setup.opts
    result = PPOResult(
        options={**opts, "seed": setup.seed, "horizon": setup.T},
        default_rules=list(setup.rules),
        seed=setup.seed,
        iterations=training.iterations,
        horizon=setup.T,
        mean_field=opts["mean_field"],
        paths_per_iteration=int(opts["paths"]),
        agents_per_path=int(opts["agents"]),
        optimiser_steps=training.iterations * int(opts["epochs"]) * int(opts["minibatches"]),
        agent_steps=training.iterations * agent_steps_per_it,
        reward_scale=float(state.scale),
        evaluation_paths=ev["n_eval"],
        noise_paths=setup.mode,
        policy_return=ev["policy_return"],
        best_response_return_clairvoyant=ev["best_response_return_clairvoyant"],
        exploitability_clairvoyant=ev["exploitability_clairvoyant"],
        exploitability_clairvoyant_se=ev["exploitability_clairvoyant_se"],
        evaluations=evals,
        aggregate_paths=pd.DataFrame(
            {k: np.mean(v, axis=0) for k, v in flows.aggs.values.items()}
        ).rename_axis("t"),
        exploitability_clairvoyant_sampled=ev["exploitability_clairvoyant_sampled"],
        nonanticipative=ev["nonanticipative"],
        noise_branches=ev["noise_branches"],
    )
    return Solution(
        method=setup.method,
        model=model,
        game=setup.game,
        policy=NetworkPolicy(
            ev["net"], setup.features, setup.game, {**setup.net_spec, "grid_scaling": opts["grid_scaling"]}
        ),
        flows=flows,
        values=ev["values"],
        exploitability=ev["exploitability"],
        exploitability_kind=ev["kind"],
        aggregates={k: float(np.mean(v)) for k, v in flows.aggs.values.items()},
        history=hist,
        timings=timings,
        result=result,
    )
