"""Structural policy gradients against model-free reinforcement learning (issue 18): SPG, RSPG, IPPO and
RIPPO on the LQ game, the Beach Bar and the paper's macro game under the same wall-clock budget.

For each game and method, ``hm.solve`` is run with the toolkit's defaults except for the number of
iterations, which is set so that training takes about the game's budget of seconds: a probe of two
iterations measures the method's seconds per iteration (its compilation is then cached, and its time is
added back to every run of the method as the paper's wall-clock axis includes compilation). The RL
methods are given a learning-rate sweep (``--lrs``, one seed each); the best rate by final exploitability
is then run on the other seeds. All methods are evaluated by the same function on the same evaluation
paths (same seed, same rule): the clairvoyant exploitability on 8 paths during training, and the final
figure of each Solution (exact non-anticipative over the whole noise tree for LQ and Beach Bar's
closure, clairvoyant over 8 sampled paths for the macro game).

Reported:

- **curves**: exploitability against wall-clock seconds (compilation + training, evaluation excluded)
  and, for RL, against household-steps sampled;
- **time to threshold**: for each RL method, the threshold is the exploitability it ends at (mean over
  seeds); the ratio is its first time at or below it over RSPG's first time at or below it (median over
  seeds; RSPG's time is read at its evaluation points, which overstates it and so understates the ratio);
- **environment throughput**: household-steps per second of the jitted, vmapped N-agent environment
  (8 paths x 1,000 households, uniform random actions), facing an imposed flow and with the empirical
  mean field.

The figure (one panel per game, one curve per method, log time axis, bands: min-max over seeds) is written
to ``--figures`` (default ``docs/figures/methods.png``) and the tables to ``docs/baselines.md``'s
measured section by ``--docs``.

Usage::

    python benchmarks/methods.py --quick    # LQ only, 1 seed, 4-second budgets: 1-2 minutes
    python benchmarks/methods.py            # three games, 2 seeds: about 20 minutes on 2 busy cores
    python benchmarks/methods.py --json --docs
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as bc  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import hetmacro as hm  # noqa: E402
from hetmacro.mfg.env import AgentEnv  # noqa: E402
from hetmacro.models import Aiyagari, BeachBar, LinearQuadratic  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
METHODS = ("spg", "rspg", "ippo", "rippo")
RL = ("ippo", "rippo")
LABELS = {"lq": "LQ", "beach_bar": "Beach Bar", "macro": "macro"}


def make_model(case: str, quick: bool):
    if case == "lq":
        return LinearQuadratic()
    if case == "beach_bar":
        return BeachBar()
    if quick:
        return Aiyagari.from_calibration("mfax_macro", n_a=50, T=32)
    return Aiyagari.from_calibration("mfax_macro")


def _options(method: str, iterations: int, seed: int, lr: float | None) -> dict:
    opts = {"iterations": iterations, "seed": seed, "progress": False, "eval_paths": 8, "keep_paths": 1}
    opts["eval_every"] = max(1, iterations // 6)
    if method in ("spg", "rspg"):  # they evaluate between compiled chunks: chunks no longer than the cadence
        opts["chunk"] = min(10, opts["eval_every"])
    if lr is not None:
        opts["lr"] = lr
    return opts


_COMPILE: dict = {}  # (case, method) -> seconds of its first compilation in this process


def solve(case: str, model, method: str, iterations: int, seed: int, lr=None):
    t0 = time.perf_counter()
    sol = hm.solve(model, method=method, **_options(method, iterations, seed, lr))
    compile_s = _COMPILE.setdefault((case, method), sol.timings["compile"])
    return sol, compile_s, time.perf_counter() - t0


def probe(case: str, model, method: str) -> float:
    """Seconds per training iteration (after compilation): the fastest of iterations 2 and 3 of a
    3-iteration run (one iteration per compiled chunk), so that a slow first call does not count."""
    t0 = time.perf_counter()
    opts = {"iterations": 3, "seed": 0, "progress": False, "eval_every": 0, "eval_paths": 1, "keep_paths": 1}
    if method in ("spg", "rspg"):
        opts["chunk"] = 1
    sol = hm.solve(model, method=method, **opts)
    _COMPILE.setdefault((case, method), sol.timings["compile"])
    seconds = np.diff(np.concatenate([[0.0], sol.history()["seconds"].to_numpy()]))
    bc.log(f"  probe: {time.perf_counter() - t0:.1f} s, iterations {np.round(seconds, 3).tolist()} s")
    return max(float(np.min(seconds[1:])), 1e-3)


def curve(sol, compile_s: float) -> dict:
    ev = sol.result.evaluations
    out = {
        "seconds": (compile_s + ev["seconds"].to_numpy()).tolist(),
        "exploitability": ev["eval_exploitability"].to_numpy().tolist(),
        "iteration": ev["iteration"].to_numpy().tolist(),
        "final": float(sol.exploitability),
        "final_kind": sol.exploitability_kind,
        "compile_s": compile_s,
        "train_s": float(sol.timings["train"]),
    }
    if "agent_steps" in ev:
        out["agent_steps"] = ev["agent_steps"].to_numpy().tolist()
    return out


def first_hit(c: dict, level: float) -> float | None:
    for s, e in zip(c["seconds"], c["exploitability"]):
        if e <= level:
            return s
    return None


def run_game(case: str, args) -> dict:
    model = make_model(case, args.quick)
    budget = args.budget[case]
    seeds = list(range(args.seeds))
    out = {"budget_s": budget, "methods": {}, "sweep": {}}
    for method in METHODS:
        bc.log(f"{case} {method}: probing ...")
        per_it = probe(case, model, method)
        iterations = max(4, int(budget / per_it))
        bc.log(f"{case} {method}: {per_it:.3g} s per iteration -> {iterations} iterations")
        lrs = args.lrs if method in RL else [None]
        runs = {}
        for lr in lrs:
            try:
                sol, comp, wall = solve(case, model, method, iterations, seeds[0], lr)
            except FloatingPointError as err:  # a rate too high for this game: out of the sweep
                bc.log(f"  lr {lr}: diverged ({err})")
                runs[lr] = [{"final": math.inf}]
                continue
            runs[lr] = [curve(sol, comp)]
            bc.log(
                f"  lr {lr}: final {sol.exploitability:.4g} ({sol.exploitability_kind[:30]}...) in {wall:.1f} s"
            )
        best = min(lrs, key=lambda lr: runs[lr][0]["final"]) if method in RL else None
        if method in RL:
            out["sweep"][method] = {str(lr): runs[lr][0]["final"] for lr in lrs}
        for seed in seeds[1:]:
            sol, comp, _ = solve(case, model, method, iterations, seed, best)
            runs[best].append(curve(sol, comp))
        out["methods"][method] = {
            "iterations": iterations,
            "per_iteration_s": per_it,
            "lr": best,
            "runs": runs[best],
            "final_mean": float(np.mean([r["final"] for r in runs[best]])),
            "final_kind": runs[best][0]["final_kind"],
        }
    # time to threshold, RL / RSPG
    rspg_runs = out["methods"]["rspg"]["runs"]
    out["ratios"] = {}
    for method in RL:
        m = out["methods"][method]
        level = float(np.mean([r["exploitability"][-1] for r in m["runs"]]))
        t_rl = [first_hit(r, level) for r in m["runs"]]
        t_rs = [first_hit(r, level) for r in rspg_runs]
        t_rl_med = (
            float(np.median([t for t in t_rl if t is not None])) if any(t is not None for t in t_rl) else None
        )
        reached = [t for t in t_rs if t is not None]
        t_rs_med = float(np.median(reached)) if len(reached) == len(t_rs) else None
        out["ratios"][method] = {
            "threshold": level,
            "rl_seconds": t_rl_med,
            "rspg_seconds": t_rs_med,
            "ratio": (t_rl_med / t_rs_med) if (t_rl_med and t_rs_med) else None,
        }
    return out


# --- environment throughput ----------------------------------------------------------------------------


def throughput(case: str, quick: bool, reps: int) -> dict:
    game = hm.compile(make_model(case, quick))
    E, N = 8, 1000
    env = AgentEnv(game, N)
    pi = jnp.full((game.n, game.m, game.A), 1.0 / game.A, game.dtype)
    keys = jax.random.split(jax.random.PRNGKey(0), E)
    flows = jax.jit(jax.vmap(lambda k: game.rollout_table(k, pi)))(keys)
    tables = jax.jit(jax.vmap(env.tables))(flows)

    def uniform(k, obs):
        return jax.random.randint(k, obs.index.shape, 0, game.A)

    faced = jax.jit(jax.vmap(lambda k, tab: env.rollout(k, uniform, tab)[2]))
    own = jax.jit(jax.vmap(lambda k: env.rollout(k, uniform)[2]))
    steps = E * N * env.T
    t_flow = bc.measure(faced, keys, tables, reps=reps)
    t_emp = bc.measure(own, keys, reps=reps)
    return {
        "paths": E,
        "households": N,
        "T": env.T,
        "agent_steps_per_s_flow": steps / t_flow.median,
        "agent_steps_per_s_empirical": steps / t_emp.median,
        "timing_flow": t_flow.as_dict(),
        "timing_empirical": t_emp.as_dict(),
    }


# --- figure and tables -------------------------------------------------------------------------------


def figure(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = list(results)
    fig, axes = plt.subplots(1, len(cases), figsize=(4.6 * len(cases), 3.6), squeeze=False)
    colours = {"spg": "tab:blue", "rspg": "tab:red", "ippo": "tab:green", "rippo": "tab:purple"}
    for ax, case in zip(axes[0], cases):
        for method, m in results[case]["methods"].items():
            runs = m["runs"]
            k = min(len(r["seconds"]) for r in runs)
            t = np.mean([r["seconds"][:k] for r in runs], axis=0)
            e = np.array([r["exploitability"][:k] for r in runs])
            label = method.upper() + (f" (lr {m['lr']:g})" if m["lr"] is not None else "")
            ax.plot(t, e.mean(0), "-o", ms=3, color=colours[method], label=label)
            if len(runs) > 1:
                ax.fill_between(t, e.min(0), e.max(0), color=colours[method], alpha=0.2, lw=0)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("wall-clock seconds (compilation + training)")
        ax.set_title(LABELS[case])
        ax.grid(alpha=0.3, which="both")
    axes[0][0].set_ylabel("exploitability (clairvoyant, evaluation paths)")
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def tables(results: dict, env: dict) -> list[tuple[str, list, list]]:
    out = []
    rows = []
    for case, r in results.items():
        for method, m in r["methods"].items():
            rows.append(
                [
                    LABELS[case],
                    method.upper(),
                    "-" if m["lr"] is None else f"{m['lr']:g}",
                    m["iterations"],
                    f"{m['per_iteration_s']:.3g}",
                    f"{np.mean([r['train_s'] for r in m['runs']]):.3g}",
                    f"{m['runs'][0]['exploitability'][0]:.4g}",
                    f"{m['final_mean']:.4g}",
                ]
            )
    out.append(
        (
            "Final exploitability (mean over seeds; LQ and Beach Bar: exact non-anticipative over the noise tree; "
            "macro: clairvoyant, 8 paths)",
            ["game", "method", "lr", "iterations", "probe s / iteration", "train s", "start", "final"],
            rows,
        )
    )
    rows = []
    for case, r in results.items():
        for method, q in r["ratios"].items():
            rows.append(
                [
                    LABELS[case],
                    method.upper(),
                    f"{q['threshold']:.4g}",
                    bc.fmt_seconds(q["rl_seconds"]),
                    bc.fmt_seconds(q["rspg_seconds"]) if q["rspg_seconds"] else "not reached",
                    bc.fmt_ratio(q["ratio"]),
                ]
            )
    out.append(
        (
            "Time to the RL method's final exploitability (clairvoyant, evaluation paths), RL / RSPG",
            ["game", "RL method", "threshold", "RL time", "RSPG time", "RL / RSPG"],
            rows,
        )
    )
    rows = []
    for case, r in results.items():
        for method in RL:
            for lr, final in r["sweep"][method].items():
                rows.append([LABELS[case], method.upper(), lr, f"{final:.4g}"])
    out.append(
        ("Learning-rate sweep (seed 0, final exploitability)", ["game", "method", "lr", "final"], rows)
    )
    rows = [
        [
            LABELS[case],
            f"{e['paths']} x {e['households']} x {e['T']}",
            f"{e['agent_steps_per_s_flow']:.3g}",
            f"{e['agent_steps_per_s_empirical']:.3g}",
        ]
        for case, e in env.items()
    ]
    out.append(
        (
            "N-agent environment throughput (household-steps per second; jitted, vmapped over paths)",
            ["game", "paths x households x T", "facing a flow", "empirical mean field"],
            rows,
        )
    )
    return out


def markdown(tabs, machine_line: str, figure_rel: str, budgets: dict, seeds: int, lrs) -> str:
    lines = [
        "<!-- written by benchmarks/methods.py --docs: do not edit by hand -->",
        f"Measured on {machine_line}, under contention (another process was using the cores); "
        f"budgets of training seconds per run: {budgets}; {seeds} seed(s); RL learning rates swept: {list(lrs)}.",
        "",
        f"![exploitability against wall-clock time]({figure_rel})",
        "",
    ]
    for title, headers, rows in tabs:
        lines += [f"**{title}**", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
        lines.append("")
    return "\n".join(lines)


def write_docs(text: str) -> None:
    path = ROOT / "docs" / "baselines.md"
    start, end = "<!-- measured:start -->", "<!-- measured:end -->"
    doc = path.read_text()
    a, b = doc.index(start) + len(start), doc.index(end)
    path.write_text(doc[:a] + "\n" + text + "\n" + doc[b:])


def main(argv=None):
    def extra(parser):
        parser.add_argument("--cases", nargs="+", default=None, choices=["lq", "beach_bar", "macro"])
        parser.add_argument("--seeds", type=int, default=None, help="seeds per method (default 2; quick 1)")
        parser.add_argument("--lrs", type=float, nargs="+", default=None, help="RL learning rates swept")
        parser.add_argument(
            "--figures",
            default=None,
            help="folder for the figure (default docs/figures; --quick: a temporary folder)",
        )
        parser.add_argument("--docs", action="store_true", help="write the tables into docs/baselines.md")
        parser.add_argument(
            "--from-json",
            default=None,
            help="rebuild tables, figure and docs from a saved --json line (no runs)",
        )

    args = bc.parse_args("SPG, RSPG, IPPO, RIPPO: exploitability against wall-clock time", argv, extra)
    args.cases = args.cases or (["lq"] if args.quick else ["lq", "beach_bar", "macro"])
    args.seeds = args.seeds or (1 if args.quick else 2)
    args.lrs = args.lrs or [1e-3, 3e-3, 1e-2]
    args.budget = (
        {"lq": 4.0, "beach_bar": 4.0, "macro": 4.0}
        if args.quick
        else {"lq": 15.0, "beach_bar": 15.0, "macro": 25.0}
    )
    t0 = time.perf_counter()
    if args.from_json:
        import json

        saved = json.loads(Path(args.from_json).read_text().strip().splitlines()[-1])
        results, env, info = saved["results"], saved["environment"], saved["machine"]
        args.budget, args.seeds, args.lrs, args.quick = (
            saved["budgets_s"],
            saved["seeds"],
            saved["lrs"],
            saved["quick"],
        )
    else:
        results = {case: run_game(case, args) for case in args.cases}
        bc.log("environment throughput ...")
        env = {case: throughput(case, args.quick, bc.reps(args, full=5, quick=2)) for case in args.cases}
        info = bc.machine()
    print(f"machine: {bc.describe_machine(info)}; timings under contention\n")
    tabs = tables(results, env)
    for title, headers, rows in tabs:
        bc.print_table(title, headers, rows)
    if args.figures is None:
        import tempfile

        args.figures = tempfile.gettempdir() if args.quick else str(ROOT / "docs" / "figures")
    fig_path = Path(args.figures) / ("methods_quick.png" if args.quick else "methods.png")
    figure(results, fig_path)
    print(f"figure: {fig_path.name}; total {time.perf_counter() - t0:.0f} s")
    if args.docs:
        write_docs(
            markdown(
                tabs, bc.describe_machine(info), f"figures/{fig_path.name}", args.budget, args.seeds, args.lrs
            )
        )
    if args.json:
        bc.emit_json(
            {
                "benchmark": "methods",
                "machine": info,
                "quick": args.quick,
                "budgets_s": args.budget,
                "seeds": args.seeds,
                "lrs": args.lrs,
                "results": results,
                "environment": env,
                "total_s": time.perf_counter() - t0,
            }
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
