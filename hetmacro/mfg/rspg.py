r"""Recurrent Structural Policy Gradient (RSPG) and its memoryless variant SPG.

``hm.solve(model, method="rspg")`` / ``method="spg"``: train a household policy network
(:mod:`hetmacro.policies`) by exact structural policy gradients on the model's compiled game
(:mod:`hetmacro.mfg.training`), then evaluate it on fresh common-noise paths.

Reference: Wibault, Forkel, Towers, Wibault, Duque, Whittle, Schaab, Yang, Wang, Osborne, Moll and
Foerster (2026), "Recurrent Structural Policy Gradient for Partially Observable Mean Field Games",
arXiv 2602.20141. SPG: Yang et al. (2025), arXiv 2512.18892.

**Exploitability** (in utility units of one household at date 0, weighted by mu_0):

- *clairvoyant* (the paper's): on each noise path, the best response knows that path's whole future
  noise; averaged over the evaluation paths. An **upper bound** on the true exploitability when
  there is common noise, exact without it.
- *non-anticipative*, where the common noise has finitely many branches (at most ``max_branches``,
  e.g. the LQ game's sign, the Beach Bar's bar and closure): exact expectation over all branches,
  and a best response that conditions only on what a household observes (its own state and the
  signal history). It is computed by backward induction on the signal-history classes of branches
  and is exact when branches that share a signal history up to date t have shared the same kernel
  before t (checked, and reported as ``info["exploitability_nonanticipative_exact"]``); otherwise
  it is a lower bound on the true figure.

**Defaults** depend on what the game looks like (:data:`hetmacro.mfg.defaults.DEFAULT_RULES`,
re-exported here, and :func:`default_options`); every option can be overridden by keyword.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ..game import Game, compile
from ..results import RSPGResult
from ..solution import Solution
from .checkpoints import checkpoint_record, fingerprint, load_checkpoint, save_checkpoint
from .defaults import DEFAULT_RULES, default_options
from .exploitability import (
    _flows_and_values,
    enumerate_noise_paths,
    evaluate_policy,
    evaluation_paths,
    nonanticipative_exploitability,
)
from .infinite import fit_to_policy, plan_horizon, resolve_policy, signal_standardisation
from .policies import NetworkPolicy, new_network
from .starts import ergodic_starts
from .training import Trainer, compiled_chunk

__all__ = [
    "DEFAULT_RULES",
    "default_options",
    "build",
    "configure",
    "evaluate",
    "solve",
    "train",
]


# --- the solver -----------------------------------------------------------------------------------


_NAN_CAUSES = {
    "pi": "the policy network's probabilities are not finite: its parameters blew up, most likely "
    "because the learning rate is too high (lr = {lr:g}); lower it (e.g. lr = {lr10:g})",
    "v": "the rewards or values on the current mean-field flow are not finite with a finite policy: "
    "check the model's grid and prices (e.g. negative or zero consumption, cash on hand or capital, "
    "a log or power of a negative number, a grid that lets wealth leave its range)",
    "g": "the gradient is not finite although the return is: the learning rate may be too high "
    "(lr = {lr:g}), or the action head's parameters reached an extreme (a, b of the continuous head)",
}


def _nan_message(method, it, m, lr):
    which = "pi" if not m["pi_ok"] else ("v" if not m["v_ok"] else "g")
    what = {"pi": "the policy", "v": "the return", "g": "the gradient"}[which]
    cause = _NAN_CAUSES[which].format(lr=lr, lr10=lr / 10)
    return (
        f"{method.upper()} training stopped at iteration {it}: {what} is not finite (return = "
        f"{float(m['return'])!r}, gradient norm = {float(m['grad_norm'])!r}). Likely cause: {cause}. "
        "The parameters before this iteration are kept (and checkpointed if a checkpoint path was given)."
    )


@dataclasses.dataclass
class _Setup:
    """Everything :func:`configure` decides before training: options, network, noise paths, trainer."""

    method: str
    game: Game
    opts: dict
    rules: list
    seed: int
    T: int
    mode: str
    tree: tuple | None
    features: jnp.ndarray
    net_spec: dict
    static: object
    params: object
    opt_state: object
    trainer: Trainer
    k_train: jnp.ndarray
    eval_zs: object
    w_eval: np.ndarray
    eval_starts: object  # None, or (mu_0 (P, n, m), history (P, L, d)) per evaluation path
    eval_batch: object  # the evaluation Starts (or None)
    horizon_info: dict  # initial, continuation, init_policy, init_fit_kl, interior (RSPGResult fields)
    signature: dict
    checkpoint: Path | None
    progress: bool
    callback: object
    # Re-draw the training starts from the network's own ergodic set every `refresh` iterations (0: never),
    # with these burn_in, spacing and warmup. A run resumed from a checkpoint re-draws at the next multiple.
    refresh: int = 0
    refresh_options: dict | None = None


@dataclasses.dataclass
class _Training:
    """What :func:`train` produced: the parameters, the history and the time it took."""

    params: object
    rows: list
    evals: list
    iterations: int
    train_wall: float
    train_cpu: float
    t_compile: float
    t_eval: list  # [total seconds, first call]

    @classmethod
    def untrained(cls, params, t_compile: float = 0.0) -> _Training:
        """The record of parameters before any iteration: no history, no time spent training."""
        return cls(params, [], [], 0, 0.0, 0.0, t_compile, [0.0, None])


def configure(model, config, game: Game | None = None) -> _Setup:
    """Options (the game's default rules, then the user's), the network, the noise paths and the trainer."""
    method = config.method
    game = compile(model) if game is None else game
    defaults, rules = default_options(game, method)
    opts = {**defaults, **config.given()}
    seed = int(config.seed)
    T = config.horizon or game.T
    if T is None:
        beta = float(game.beta)
        T = int(min(math.ceil(math.log(0.01) / math.log(beta)), 200)) if beta < 1 else 200
        rules.append(
            f"infinite horizon: trained on the first T = {T} periods (beta^T = {beta**T:.3g}), then a "
            "continuation value (section 10 of docs/rspg.md); pass horizon= to change it"
        )
    iterations = int(opts["iterations"])
    k_init, k_train, k_eval = jax.random.split(jax.random.PRNGKey(seed), 3)
    k_starts, k_fit = jax.random.split(jax.random.fold_in(k_init, 1))

    # An infinite horizon: where paths start, the value after the truncation (mfg/infinite.py).
    n_eval = int(opts["eval_paths"])
    hz = plan_horizon(model, game, config, int(T), k_starts, n_eval)
    game = hz.game
    if hz.init_policy is not None and "lr" not in config.given():
        # From a fitted policy, Adam's first steps (each parameter moves by about lr) at the ordinal head's
        # 1e-2 undo the fit.
        opts["lr"] = 1e-3
        rules.append("warm-started (init_policy): lr = 1e-3, so that training refines the fitted policy")
    lr = float(opts["lr"])

    # Noise paths: an enumerated tree (exact expectation) or sampled paths.
    tree = enumerate_noise_paths(game, T, int(opts["max_branches"]))
    mode = opts["noise_paths"]
    if mode == "exact" and tree is None:
        raise ValueError(
            f"noise_paths='exact' needs a common noise with at most max_branches = {opts['max_branches']} "
            f"branches; {type(game.noise).__name__} has more (or is continuous). Use noise_paths='sample'."
        )
    if mode == "auto":
        mode = "exact" if tree is not None and tree[1].shape[0] <= int(opts["paths"]) else "sample"
    if hz.starts is not None and mode == "exact":
        raise ValueError(
            "initial= other than 'model' needs sampled noise paths (noise_paths='sample'): an enumerated "
            "noise tree starts from the noise's own initial states."
        )
    train_starts, eval_starts = hz.train, hz.evaluate

    net, features, net_spec = new_network(
        game, opts, bool(config.recurrent), int(T), k_init, signal_standardisation(hz.starts)
    )
    fit_kl = None
    if hz.init_policy is not None:
        target, target_carry = resolve_policy(game, hz.init_policy, hz.stationary)
        net, fit_kl = fit_to_policy(
            net,
            game,
            features,
            target,
            target_carry,
            train_starts,
            k_fit,
            T=int(T),
            steps=int(config.init_steps),
        )
    params, static = eqx.partition(net, eqx.is_inexact_array)
    trainer = Trainer(
        game=game,
        static=static,
        features=features,
        exact_zs=tree[0] if mode == "exact" else None,
        exact_weights=tree[1] if mode == "exact" else None,
        starts=train_starts,
        lr=jnp.asarray(lr, game.dtype),
        entropy=jnp.asarray(float(opts["entropy"]), game.dtype),
        entropy_until=jnp.asarray(float(opts["entropy_until"]), game.dtype),
        explore=jnp.asarray(float(opts["explore"]), game.dtype),
        discount_dates=jnp.asarray(opts["date_weights"] == "discounted"),
        iterations=iterations,
        n_paths=int(opts["paths"]),
        horizon=int(T),
        soft=float(opts["entropy"]) > 0,
    )
    eval_zs, eval_w, eval_starts = evaluation_paths(game, mode, tree, k_eval, n_eval, int(T), eval_starts)
    horizon_info = {**hz.info, "init_fit_kl": fit_kl}
    if config.refresh_starts and train_starts is not None:
        horizon_info["initial"] += (
            f", re-drawn every {int(config.refresh_starts)} iterations under its own policy"
        )
    elif config.refresh_starts:
        raise ValueError("refresh_starts needs starts from the ergodic set (initial='ergodic').")
    signature = {
        "method": method,
        "model": type(model).__name__,
        "model_fingerprint": fingerprint(model),
        "seed": seed,
        "noise_paths": mode,
        "horizon": int(T),
        **{k: v for k, v in opts.items() if isinstance(v, int | float | str | bool)},
        **{k: v for k, v in horizon_info.items() if k != "init_fit_kl"},
    }
    return _Setup(
        method=method,
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
        opt_state=trainer.optimiser.init(params),
        trainer=trainer,
        k_train=k_train,
        eval_zs=eval_zs,
        w_eval=np.asarray(eval_w, np.float64),
        eval_starts=None if eval_starts is None else (eval_starts.mu, eval_starts.history),
        eval_batch=eval_starts,
        horizon_info=horizon_info,
        signature=signature,
        checkpoint=Path(config.checkpoint) if config.checkpoint is not None else None,
        progress=bool(config.progress),
        callback=config.callback,
        refresh=int(config.refresh_starts or 0) if train_starts is not None else 0,
        refresh_options={
            "burn_in": int(config.burn_in),
            "spacing": int(config.spacing),
            "warmup": int(config.warmup) if config.recurrent else 0,
        },
    )


def _evaluate_on_paths(setup: _Setup, params, training: _Training, it: int):
    """Policy and clairvoyant best-response returns on the evaluation paths; one evaluation record."""
    t0 = time.perf_counter()
    J, J_br = (
        np.asarray(x, np.float64)
        for x in evaluate_policy(
            eqx.combine(params, setup.static), setup.game, setup.features, setup.eval_zs, setup.eval_starts
        )
    )
    dt = time.perf_counter() - t0
    training.t_eval[0] += dt
    training.t_eval[1] = dt if training.t_eval[1] is None else training.t_eval[1]
    training.evals.append(
        {
            "iteration": it,
            "eval_exploitability": float(np.sum(setup.w_eval * (J_br - J))),
            "seconds": training.train_wall,
            "cpu_seconds": training.train_cpu,
        }
    )
    return J, J_br


def _redrawn_starts(setup: _Setup, params, it: int) -> Trainer:
    """The trainer with its starts re-drawn from the ergodic set of the network being trained: a simulation
    under the current policy from the latest of the previous starts (its memory warmed on that start's
    history), the same number of starts, burn-in, spacing and warm-up. Where the economy settles under
    RSPG's own policy can differ from where the policy that drew the first starts left it (the linear or
    stationary rule): training then covers the distributions RSPG's economy visits."""
    trainer = setup.trainer
    old = trainer.starts
    net = eqx.combine(params, setup.static)
    policy = NetworkPolicy(net, setup.features, setup.game, setup.net_spec)
    last = old.take(np.asarray([old.size - 1]))
    carry = policy.carry_after(last.history[0])
    key = jax.random.fold_in(jax.random.fold_in(setup.k_train, 7), it)
    new = ergodic_starts(setup.game, policy, carry, key, old.size, start=last, **setup.refresh_options)
    return eqx.tree_at(lambda t: t.starts, trainer, new)


def train(setup: _Setup) -> _Training:
    """Adam on the structural objective in compiled chunks: progress, NaN checks, evaluations and
    checkpoints between chunks; resumes from the checkpoint when there is one."""
    method, opts, ckpt = setup.method, setup.opts, setup.checkpoint
    iterations, chunk = int(opts["iterations"]), max(1, int(opts["chunk"]))
    params, opt_state = setup.params, setup.opt_state
    training = _Training.untrained(params)
    if ckpt is not None:
        loaded = load_checkpoint(ckpt, (params, opt_state), setup.signature)
        if loaded is not None:
            (params, opt_state), meta = loaded
            training.iterations, training.rows, training.evals = (
                meta["iteration"],
                meta["history"],
                meta["evaluations"],
            )
            training.train_wall, training.train_cpu = (
                meta["train_seconds"],
                meta.get("train_cpu_seconds", 0.0),
            )

    chunk_fn, training.t_compile = compiled_chunk(setup.trainer, params, opt_state, setup.k_train, chunk)
    eval_every = int(opts["eval_every"])

    def checkpoint():
        if ckpt is not None:
            save_checkpoint(
                ckpt,
                (params, opt_state),
                checkpoint_record(
                    setup.signature,
                    training.iterations,
                    training.rows,
                    training.evals,
                    training.train_wall,
                    training.train_cpu,
                ),
            )

    bar = None
    if setup.progress:
        from tqdm import tqdm

        bar = tqdm(total=iterations, initial=training.iterations, desc=method.upper(), unit="it")
    try:
        if eval_every > 0 and training.iterations == 0 and not training.evals:
            _evaluate_on_paths(setup, params, training, 0)
        while training.iterations < iterations:
            it = training.iterations
            n = min(chunk, iterations - it)
            if setup.refresh:
                if it > 0 and it % setup.refresh == 0:
                    setup.trainer = _redrawn_starts(setup, params, it)
                    chunk_fn, _ = compiled_chunk(setup.trainer, params, opt_state, setup.k_train, chunk)
                n = min(n, setup.refresh - it % setup.refresh)  # chunks end where the starts are re-drawn
            t1, c1 = time.perf_counter(), time.process_time()
            params, opt_state, m, done = chunk_fn(params, opt_state, setup.k_train, it, n)
            m = jax.tree.map(np.asarray, m)
            done = int(done)
            dt, dc = time.perf_counter() - t1, time.process_time() - c1
            bad = next(
                (i for i in range(done) if not (m["pi_ok"][i] and m["v_ok"][i] and m["g_ok"][i])), None
            )
            good = done if bad is None else bad
            for i in range(good):
                training.rows.append(
                    {
                        "iteration": it + i,
                        "return": float(m["return"][i]),
                        "exploitability": float(m["exploitability"][i]),
                        "best_response_return": float(m["best_response_return"][i]),
                        "learning_rate": float(m["learning_rate"][i]),
                        "grad_norm": float(m["grad_norm"][i]),
                        "seconds": training.train_wall + dt * (i + 1) / done,
                    }
                )
            training.train_wall += dt
            training.train_cpu += dc
            training.iterations = it + good
            if bad is not None:
                checkpoint()
                raise FloatingPointError(
                    _nan_message(
                        method,
                        training.iterations,
                        {k: v[bad] for k, v in m.items()},
                        float(m["learning_rate"][bad]),
                    )
                )
            it = training.iterations
            if eval_every > 0 and it < iterations and it // eval_every > (it - done) // eval_every:
                _evaluate_on_paths(setup, params, training, it)
            checkpoint()
            if bar is not None:
                # Two different figures, labelled: the clairvoyant exploitability on this iteration's
                # training paths (noisy), and the last periodic evaluation on the fixed evaluation paths
                # with the iteration it was taken at (the final figure is evaluated after training).
                post = {
                    "return": f"{training.rows[-1]['return']:.5g}",
                    "expl train paths": f"{training.rows[-1]['exploitability']:.3g}",
                }
                if training.evals:
                    last = training.evals[-1]
                    post[f"expl eval paths @it{last['iteration']}"] = f"{last['eval_exploitability']:.3g}"
                bar.set_postfix(post, refresh=False)
                bar.update(done)
            if setup.callback is not None:
                setup.callback(training.rows[-1])
    finally:
        if bar is not None:
            bar.close()
    training.params = params
    return training


def evaluate(setup: _Setup, training: _Training) -> dict:
    """The trained policy's exploitability (exact, non-anticipative or clairvoyant, labelled), its flows
    and values on the kept evaluation paths."""
    game, w_eval, tree, mode = setup.game, setup.w_eval, setup.tree, setup.mode
    net = eqx.combine(training.params, setup.static)
    J, J_br = _evaluate_on_paths(setup, training.params, training, training.iterations)
    t0 = time.perf_counter()
    gaps = J_br - J
    expl_cl = float(np.sum(w_eval * gaps))
    n_eval = int(w_eval.shape[0])
    se = float(np.std(gaps, ddof=1) / math.sqrt(n_eval)) if (mode == "sample" and n_eval > 1) else 0.0
    out = {
        "net": net,
        "n_eval": n_eval,
        "policy_return": float(np.sum(w_eval * J)),
        "best_response_return_clairvoyant": float(np.sum(w_eval * J_br)),
        "exploitability_clairvoyant": expl_cl,
        "exploitability_clairvoyant_se": se,
        "exploitability_clairvoyant_sampled": None,
        "nonanticipative": None,
        "noise_branches": None,
    }
    if game.noise.deterministic:
        out["exploitability"], out["kind"] = expl_cl, "exact (no common noise)"
    elif tree is not None:
        na = nonanticipative_exploitability(net, game, setup.features, tree[0], tree[1])
        na = {k: (bool(v) if k == "exact" else float(v)) for k, v in na.items()}
        branches = int(tree[1].shape[0])
        out.update(nonanticipative=na, noise_branches=branches)
        if mode == "sample":  # the tree gives the exact expectation: report it rather than the sample mean
            out["exploitability_clairvoyant_sampled"] = expl_cl
            out["exploitability_clairvoyant"] = na["clairvoyant_exploitability"]
            out["policy_return"] = na["policy_return"]
        if na["exact"]:
            out["exploitability"] = na["exploitability"]
            out["kind"] = (
                f"non-anticipative, exact over all {branches} noise branches (the best response sees its "
                "own state and the signal history); clairvoyant upper bound in result"
            )
        else:
            out["exploitability"] = out["exploitability_clairvoyant"]
            out["kind"] = (
                f"clairvoyant upper bound, exact over all {branches} noise branches; a non-anticipative "
                f"lower bound ({na['exploitability']:.4g}) is in result.nonanticipative"
            )
    else:
        out["exploitability"] = expl_cl
        out["kind"] = (
            f"clairvoyant upper bound (the best response sees each sampled noise path's future): mean over "
            f"{n_eval} fresh paths, standard error {se:.2g}"
        )
    keep = min(int(setup.opts["keep_paths"]), n_eval)
    kept = lambda x: jax.tree.map(lambda z: z[:keep], x)  # noqa: E731
    flows, values = _flows_and_values(net, game, setup.features, kept(setup.eval_zs), kept(setup.eval_starts))
    until = setup.horizon_info["interior_until"]
    out["exploitability_interior"] = out["exploitability_interior_se"] = None
    if until is not None:
        _, _, gains = evaluate_policy(
            net, game, setup.features, setup.eval_zs, setup.eval_starts, until=until
        )
        gains = np.asarray(gains, np.float64)
        out["exploitability_interior"] = float(np.sum(w_eval * gains))
        out["exploitability_interior_se"] = (
            float(np.std(gains, ddof=1) / math.sqrt(n_eval)) if (mode == "sample" and n_eval > 1) else 0.0
        )
    out["flows"] = jax.tree.map(np.asarray, flows)
    out["values"] = np.asarray(values)
    training.t_eval[0] += time.perf_counter() - t0
    return out


def build(model, setup: _Setup, training: _Training, ev: dict, t_start: float) -> Solution:
    """The Solution: the network policy, flows, exploitability and its kind, history, timings, result."""
    flows = ev["flows"]
    aggregates = {k: float(np.mean(v)) for k, v in flows.aggs.values.items()}
    hist = pd.DataFrame(training.rows)
    if len(hist) and training.evals:
        e = pd.DataFrame(training.evals)[["iteration", "eval_exploitability"]]
        hist = hist.merge(e, on="iteration", how="left")
    n_rows = max(len(training.rows), 1)
    timings = {
        "compile": training.t_compile,
        "train": training.train_wall,
        "train_cpu": training.train_cpu,
        "per_iteration": training.train_wall / n_rows,
        "per_iteration_cpu": training.train_cpu / n_rows,
        "evaluate": training.t_eval[0],
        "evaluate_first_call": training.t_eval[1] or 0.0,
        "total": time.perf_counter() - t_start,
    }
    tree = setup.tree
    result = RSPGResult(
        options={**setup.opts, "seed": setup.seed, "horizon": setup.T},
        default_rules=list(setup.rules),
        seed=setup.seed,
        iterations=training.iterations,
        horizon=setup.T,
        noise_paths=setup.mode,
        paths_per_iteration=int(tree[1].shape[0]) if setup.mode == "exact" else int(setup.opts["paths"]),
        evaluation_paths=ev["n_eval"],
        policy_return=ev["policy_return"],
        best_response_return_clairvoyant=ev["best_response_return_clairvoyant"],
        exploitability_clairvoyant=ev["exploitability_clairvoyant"],
        exploitability_clairvoyant_se=ev["exploitability_clairvoyant_se"],
        evaluations=pd.DataFrame(training.evals),
        aggregate_paths=pd.DataFrame(
            {k: np.mean(v, axis=0) for k, v in flows.aggs.values.items()}
        ).rename_axis("t"),
        exploitability_clairvoyant_sampled=ev["exploitability_clairvoyant_sampled"],
        nonanticipative=ev["nonanticipative"],
        noise_branches=ev["noise_branches"],
        exploitability_interior=ev["exploitability_interior"],
        starts=setup.eval_batch,
        exploitability_interior_se=ev["exploitability_interior_se"],
        **setup.horizon_info,
    )
    game = setup.game
    return Solution(
        method=setup.method,
        model=model,
        game=game,
        policy=NetworkPolicy(
            ev["net"], setup.features, game, {**setup.net_spec, "grid_scaling": setup.opts["grid_scaling"]}
        ),
        flows=flows,
        values=ev["values"],
        exploitability=ev["exploitability"],
        exploitability_kind=ev["kind"],
        aggregates=aggregates,
        history=hist,
        timings=timings,
        result=result,
    )


def solve(model, config, game: Game | None = None) -> Solution:
    """Train a policy network by (recurrent) structural policy gradients and evaluate it.

    ``config`` is a :class:`hetmacro.RSPG` or :class:`hetmacro.SPG` (its options and their defaults by
    the game's rules: :data:`DEFAULT_RULES`). Steps: :func:`configure`, :func:`train`, :func:`evaluate`,
    :func:`build`.

    Returns:
        :class:`~hetmacro.solution.Solution` with ``policy`` a :class:`~hetmacro.mfg.policies.NetworkPolicy`,
        ``flows`` (kept evaluation paths, leading path axis) and ``values`` V^pi (paths, T + 1, n, m),
        ``exploitability`` and ``exploitability_kind``, ``history()`` (iteration, return,
        exploitability and best_response_return on the iteration's own paths, learning_rate,
        grad_norm, seconds, eval_exploitability), ``timings`` (compile, train, train_cpu,
        per_iteration, per_iteration_cpu, evaluate, total; seconds) and ``result``
        (:class:`~hetmacro.results.RSPGResult`).

    Raises:
        FloatingPointError: a non-finite policy, return or gradient, naming the iteration and the
            likely cause; the parameters before that iteration are kept in the checkpoint.
    """
    t_start = time.perf_counter()
    setup = configure(model, config, game)
    training = train(setup)
    ev = evaluate(setup, training)
    return build(model, setup, training, ev, t_start)
