"""Push-forward benchmark: the mean-field update mu' = A(pi)^T mu inside a jitted ``lax.scan``.

Issue 3, "Performance". For each game, under a fixed uniform policy in float32, two rollouts over the
horizon are compiled and timed (median of several repetitions, after a warm-up call):

- **push**: ``game.push(mu, pi, kern)`` alone, T times, with one kernel computed beforehand;
- **step**: ``game.step`` T times, as in a real rollout: draw the common noise, compute the kernel
  (the model's transition on every (state, action, shock atom) and Young's lottery), push, and
  compute the next aggregates and prices. This is the like-for-like figure with MFAX's "per step in a
  rollout", whose transition also rebuilds its atoms on every call.

Cases: (a) the paper's LQ game (99 states, 7 actions, 7 shock atoms, T = 30), also at the small size
11 x 7, T = 10; (b) Beach Bar (101 cells, 11 moves, 5 shock atoms, T = 30); (c) the paper's macro game
``Aiyagari.from_calibration("mfax_macro")`` (200 wealth x 5 income states, 20 consumption shares,
T = 128), then its wealth grid 10x (2,000) and 100x (20,000) larger (``n_a`` override) to show that
time and memory grow linearly in S*A*K.

Reported per case: microseconds per step (push and step), the full-horizon rollout time, compile
time, memory, the ratio to the reference implementation (MFAX, shared/reference/anchors.md §1,
measured on this kind of CPU) and the targets of issue 3: (c) at most 50 us per step, (a) and (b) at
most a third of MFAX's. Memory is XLA's static buffer assignment of the compiled rollout
(``compiled.memory_analysis()``: arguments + outputs + temporaries, the memory one call needs) and the
growth of the process's peak RSS (``getrusage`` ru_maxrss) over the case, which only shows for the
largest case run so far. If OpenSpiel or MFGLib are importable, their LQ distribution update is timed
at the same sizes in the same run (nothing is installed here; they are skipped with a message).

Usage::

    python benchmarks/pushforward.py            # table (1-2 minutes on 2 cores; longer with peers)
    python benchmarks/pushforward.py --quick    # reduced sizes, under a minute
    python benchmarks/pushforward.py --json     # the table, then one JSON line (timings in seconds)
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as bc  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import hetmacro as hm  # noqa: E402
from hetmacro.models import Aiyagari, BeachBar, LinearQuadratic  # noqa: E402

# MFAX, per step in a rollout (one transition inside a jitted lax.scan, full rollout / T), float32,
# median of 9 repetitions: shared/reference/anchors.md §1.
MFAX_PER_STEP = {"a_small": 3.1e-6, "a": 17.9e-6, "b": 30.3e-6, "c": 1.47e-3}
# Issue 3's targets, per step.
TARGETS = {"a": MFAX_PER_STEP["a"] / 3, "b": MFAX_PER_STEP["b"] / 3, "c": 50e-6}
# The peers' per-step LQ update as measured for the anchors (§1), for orientation only.
PEER_ANCHORS = {
    ("openspiel", 99): 158e-3,
    ("mfglib", 99): 183e-3,
    ("openspiel", 11): 10.7e-3,
    ("mfglib", 11): 23.4e-3,
}


@dataclasses.dataclass
class Case:
    key: str  # "a", "a_small", "b", "c", "c10", "c100"
    label: str
    make: Callable[[], hm.Model]
    source: str
    T: int | None = None  # horizon of the timed rollouts (default: the model's)
    reps: int | None = None  # override of the repetitions (the largest grid)


def macro(n_a: int | None = None) -> hm.Model:
    """The paper's macro game, its wealth grid optionally resized (n_a points)."""
    overrides = {} if n_a is None else {"n_a": n_a}
    return Aiyagari.from_calibration("mfax_macro", **overrides)


def peers_importable() -> bool:
    import importlib.util

    return any(importlib.util.find_spec(name) is not None for name in ("pyspiel", "mfglib"))


def build_cases(quick: bool) -> list[Case]:
    lq_small = Case(
        "a_small",
        "(a') LQ small",
        lambda: LinearQuadratic(n_states=11, T=10),
        "LinearQuadratic(n_states=11, T=10)",
    )
    # In --quick the small LQ game runs only as the comparison point for an importable peer.
    cases = [lq_small] if not quick or peers_importable() else []
    cases += [
        Case("a", "(a) LQ", LinearQuadratic, "LinearQuadratic()"),
        Case("b", "(b) Beach Bar", BeachBar, "BeachBar()"),
        Case("c", "(c) macro", macro, 'Aiyagari.from_calibration("mfax_macro")'),
    ]
    if quick:
        cases.append(Case("c10", "(c) macro, 10x grid", lambda: macro(2_000), "mfax_macro, n_a = 2000", T=16))
    else:
        cases += [
            Case("c10", "(c) macro, 10x grid", lambda: macro(2_000), "mfax_macro, n_a = 2000"),
            Case(
                "c100", "(c) macro, 100x grid", lambda: macro(20_000), "mfax_macro, n_a = 20000", T=32, reps=3
            ),
        ]
    return cases


# --- the two timed rollouts -----------------------------------------------------------------------
def push_rollout(T: int):
    """mu -> push^T(mu) with one fixed kernel (push alone)."""

    def run(game, mu, pi, kern):
        def body(mu, _):
            return game.push(mu, pi, kern), None

        return jax.lax.scan(body, mu, None, length=T)[0]

    return run


def step_rollout(T: int):
    """reset, then game.step T times (noise, kernel, push, next prices) under a fixed policy."""

    def run(game, pi, key):
        k0, k1 = jax.random.split(key)
        agg = game.reset(k0)

        def body(agg, k):
            nxt = game.step(k, agg, pi)
            return nxt, nxt.values

        agg_T, values = jax.lax.scan(body, agg, jax.random.split(k1, T))
        return agg_T.mu, values

    return run


def run_case(case: Case, n_reps: int) -> dict:
    rss0 = bc.peak_rss_bytes()
    t0 = time.perf_counter()
    game = hm.compile(case.make(), dtype=jnp.float32)
    build_s = time.perf_counter() - t0
    T = case.T or game.T
    reps = case.reps or n_reps
    n, m, A, K = game.n, game.m, game.A, int(game.eps.shape[0])
    S = n * m
    pi = jnp.full((n, m, A), 1.0 / A, game.dtype)
    key = jax.random.PRNGKey(0)
    agg0 = game.reset(key)
    kern = game.kernel(agg0, game.noise_step(key, agg0.z, agg0.t))
    bc.log(f"  {case.label}: {n} x {m} states, {A} actions, {K} shock atoms, T = {T}, {reps} reps")

    push_c, push_compile = bc.compile_timed(jax.jit(push_rollout(T)), game, agg0.mu, pi, kern)
    step_c, step_compile = bc.compile_timed(jax.jit(step_rollout(T)), game, pi, key)
    push_t = bc.measure(push_c, game, agg0.mu, pi, kern, reps=reps)
    step_t = bc.measure(step_c, game, pi, key, reps=reps)
    mu_push = push_c(game, agg0.mu, pi, kern)
    mu_step = step_c(game, pi, key)[0]
    mass_err = max(abs(float(jnp.sum(mu_push)) - 1.0), abs(float(jnp.sum(mu_step)) - 1.0))

    ref = MFAX_PER_STEP.get(case.key)
    target = TARGETS.get(case.key)
    push_s, step_s = push_t.median / T, step_t.median / T
    return {
        "case": case.key,
        "label": case.label,
        "model": case.source,
        "sizes": {"n": n, "m": m, "S": S, "A": A, "K": K, "T": T, "lottery_points": S * A * K},
        "dtype": str(game.dtype),
        "timings": {
            "push_per_step_s": push_s,
            "step_per_step_s": step_s,
            "push_rollout_s": push_t.median,
            "step_rollout_s": step_t.median,
            "push_compile_s": push_compile,
            "step_compile_s": step_compile,
            "model_compile_s": build_s,
            "push": push_t.as_dict(per=T),
            "step": step_t.as_dict(per=T),
        },
        "memory": {
            "push_xla": bc.memory_analysis(push_c),
            "step_xla": bc.memory_analysis(step_c),
            "rss_peak_growth_bytes": bc.peak_rss_bytes() - rss0,
            "method": "XLA buffer assignment (compiled.memory_analysis(): arguments + outputs + "
            "temporaries - aliased); rss_peak_growth_bytes = growth of getrusage ru_maxrss",
        },
        "mass_error": mass_err,
        "reference": None
        if ref is None
        else {
            "source": "MFAX per step in a rollout, shared/reference/anchors.md §1",
            "per_step_s": ref,
            "speedup_step": ref / step_s,
            "speedup_push": ref / push_s,
        },
        "target": None
        if target is None
        else {
            "per_step_s": target,
            "judged_on": "median process CPU time per step (robust to preemption on a loaded machine; "
            "conservative where XLA uses both cores)",
            "push_met": push_t.cpu_median / T <= target,
            "step_met": step_t.cpu_median / T <= target,
            "push_met_wall": push_s <= target,
            "step_met_wall": step_s <= target,
        },
    }


# --- optional peers ------------------------------------------------------------------------------
def time_openspiel(size: int, T: int, reps: int) -> dict:
    try:
        import pyspiel
        from open_spiel.python import policy as os_policy
        from open_spiel.python.mfg.algorithms import distribution
        from open_spiel.python.mfg.games import linear_quadratic  # noqa: F401  (registers the game)
    except ImportError as e:
        return {"peer": "openspiel", "skipped": f"open_spiel is not importable ({e})"}
    game = pyspiel.load_game("mean_field_lin_quad", {"size": size, "horizon": T, "n_actions_per_side": 3})
    pol = os_policy.UniformRandomPolicy(game)
    t = bc.measure(lambda: distribution.DistributionPolicy(game, pol), reps=reps, warmup=0)
    return {
        "peer": "openspiel",
        "version": getattr(pyspiel, "__version__", None),
        "what": "DistributionPolicy(mean_field_lin_quad, uniform policy): the full T-step distribution",
        "sizes": {"S": size, "A": game.num_distinct_actions(), "T": T},
        "per_step_s": t.median / T,
        "rollout_s": t.median,
        "timing": t.as_dict(per=T),
    }


def time_mfglib(size: int, T: int, reps: int) -> dict:
    try:
        import mfglib
        import torch
        from mfglib import mean_field as mf_module
        from mfglib.env import Environment
    except ImportError as e:
        return {"peer": "mfglib", "skipped": f"mfglib is not importable ({e})"}
    fn = getattr(mf_module, "mean_field", None) or getattr(mf_module, "mean_field_from_policy", None)
    if fn is None:
        return {"peer": "mfglib", "skipped": "mfglib.mean_field has no mean_field(env, pi) function"}
    env = Environment.linear_quadratic(T=T, el=(size - 1) // 2, m=3)
    S, A = env.n_states, env.n_actions
    pi = torch.full((T + 1, S, A), 1.0 / A)
    t = bc.measure(lambda: fn(env, pi), reps=reps, warmup=0)
    return {
        "peer": "mfglib",
        "version": getattr(mfglib, "__version__", None),
        "what": "mean_field(Environment.linear_quadratic, uniform policy): the full T-step flow",
        "sizes": {"S": S, "A": A, "T": T},
        "per_step_s": t.median / T,
        "rollout_s": t.median,
        "timing": t.as_dict(per=T),
    }


# --- output ----------------------------------------------------------------------------------------
def _met(flag) -> str:
    return "-" if flag is None else ("yes" if flag else "NO")


def print_tables(results: list[dict], peers: list[dict], machine: dict, n_reps: int) -> None:
    rows = []
    for r in results:
        s, t = r["sizes"], r["timings"]
        ref, tgt = r["reference"], r["target"]
        rows.append(
            [
                r["label"],
                f"{s['n']}x{s['m']}x{s['A']}x{s['K']}",
                s["T"],
                bc.fmt_seconds(t["push_per_step_s"]),
                bc.fmt_seconds(t["push"]["cpu_median_s"]),
                bc.fmt_seconds(t["step_per_step_s"]),
                bc.fmt_seconds(t["step"]["cpu_median_s"]),
                bc.fmt_seconds(t["step_rollout_s"]),
                bc.fmt_seconds(ref and ref["per_step_s"]),
                bc.fmt_ratio(ref and ref["speedup_push"]),
                bc.fmt_ratio(ref and ref["speedup_step"]),
                bc.fmt_seconds(tgt and tgt["per_step_s"]),
                _met(tgt and tgt["push_met"]),
                _met(tgt and tgt["step_met"]),
            ]
        )
    bc.print_table(
        f"Push-forward per step, float32, uniform policy, median of {n_reps} repetitions\n"
        f"machine: {bc.describe_machine(machine)}",
        [
            "case",
            "n x m x A x K",
            "T",
            "push",
            "(cpu)",
            "step",
            "(cpu)",
            "rollout (T steps)",
            "MFAX",
            "MFAX/push",
            "MFAX/step",
            "target",
            "push ok",
            "step ok",
        ],
        rows,
        notes=[
            "push: game.push alone with a fixed kernel; step: game.step = noise draw + kernel (transition "
            "and lottery on all S*A*K points) + push + next prices, the like-for-like figure with MFAX's.",
            "(cpu): median process CPU time per step, the steadier figure on a loaded machine (with "
            "two busy cores it can exceed wall time). rollout: the step rollout over the T shown.",
            "MFAX: anchors §1 (per step in a rollout, wall); MFAX/x > 1 means faster than MFAX. "
            "Targets (issue 3): (c) 50 us, (a) and (b) a third of MFAX's; ok is judged on the CPU time.",
        ],
    )

    rows = []
    for r in results:
        t, mem = r["timings"], r["memory"]
        px, sx = mem["push_xla"] or {}, mem["step_xla"] or {}
        rows.append(
            [
                r["label"],
                bc.fmt_seconds(t["push_compile_s"]),
                bc.fmt_seconds(t["step_compile_s"]),
                bc.fmt_bytes(px.get("peak_bytes")),
                bc.fmt_bytes(sx.get("peak_bytes")),
                bc.fmt_bytes(sx.get("temp_bytes")),
                bc.fmt_bytes(mem["rss_peak_growth_bytes"]),
                f"{r['mass_error']:.1e}",
            ]
        )
    bc.print_table(
        "Compile time and memory",
        [
            "case",
            "compile push",
            "compile step",
            "XLA push",
            "XLA step",
            "  of which temp",
            "peak RSS growth",
            "|mass - 1|",
        ],
        rows,
        notes=[
            "XLA x: compiled.memory_analysis() of the rollout, arguments + outputs + temporaries (the "
            "memory one call needs); peak RSS growth: ru_maxrss after minus before the case "
            "(a high-water mark: 0 unless the case is the largest so far; the first case includes the "
            "JAX runtime's start-up)."
        ],
    )

    ladder = [r for r in results if r["case"] in ("c", "c10", "c100")]
    if len(ladder) > 1:
        base = ladder[0]
        b_pts = base["sizes"]["lottery_points"]
        rows = []
        for r in ladder:
            pts = r["sizes"]["lottery_points"]
            t = r["timings"]
            sx = r["memory"]["step_xla"] or {}
            bsx = base["memory"]["step_xla"] or {}
            rows.append(
                [
                    r["label"],
                    r["sizes"]["S"],
                    pts,
                    f"{pts / b_pts:.0f}x",
                    bc.fmt_seconds(t["push_per_step_s"]),
                    bc.fmt_seconds(t["step_per_step_s"]),
                    f"{t['push']['min_s'] / pts * 1e9:.2f}",
                    f"{t['step']['min_s'] / pts * 1e9:.2f}",
                    bc.fmt_ratio(t["step"]["min_s"] / base["timings"]["step"]["min_s"]),
                    bc.fmt_bytes(sx.get("temp_bytes")),
                    f"{sx.get('temp_bytes', 0) / pts:.1f}",
                    bc.fmt_ratio(sx.get("temp_bytes", 0) / max(bsx.get("temp_bytes", 1), 1)),
                ]
            )
        bc.print_table(
            "Linear growth of (c): wealth grid 1x, 10x, 100x (5 income states, 20 actions)",
            [
                "case",
                "S",
                "S*A*K",
                "size",
                "push",
                "step",
                "push ns/pt",
                "step ns/pt",
                "step (min)",
                "XLA temp",
                "B/pt",
                "temp",
            ],
            rows,
            notes=[
                "ns/pt from the fastest repetition (the least disturbed by other load), B/pt from XLA's "
                "temporaries: per lottery point (state, action, shock atom) and step; linear growth keeps "
                "them flat. The kernel's lottery is a binary search (log n per point) and the largest "
                "grid's arrays outgrow the caches."
            ],
        )

    rows = []
    notes = []
    ours = {r["sizes"]["n"]: r for r in results if r["case"] in ("a", "a_small")}
    for p in peers:
        if "skipped" in p:
            notes.append(f"{p['peer']}: skipped, {p['skipped']}")
            continue
        S = p["sizes"]["S"]
        mine = ours.get(S)
        anchor = PEER_ANCHORS.get((p["peer"], S))
        rows.append(
            [
                f"{p['peer']} {p.get('version') or ''}".strip(),
                f"{S}x{p['sizes']['A']}, T = {p['sizes']['T']}",
                bc.fmt_seconds(p["per_step_s"]),
                bc.fmt_seconds(p["rollout_s"]),
                bc.fmt_seconds(anchor),
                bc.fmt_seconds(mine and mine["timings"]["step_per_step_s"]),
                bc.fmt_ratio(mine and p["per_step_s"] / mine["timings"]["step_per_step_s"]),
            ]
        )
    if rows:
        bc.print_table(
            "Peers: LQ distribution update at the same sizes, this run",
            ["peer", "S x A", "per step", "rollout", "anchors §1", "ours (step)", "peer/ours"],
            rows,
            notes=notes,
        )
    else:
        print("Peers: " + "; ".join(notes) if notes else "Peers: none run.")
        print()


def main(argv=None) -> int:
    args = bc.parse_args(
        "Time the mean-field push-forward (game.push, game.step) in a jitted lax.scan.", argv
    )
    n_reps = bc.reps(args, full=7, quick=3)
    machine = bc.machine()
    bc.log(f"pushforward benchmark ({'quick' if args.quick else 'full'}), {n_reps} repetitions")
    bc.log(f"  machine: {bc.describe_machine(machine)}")
    results = [run_case(case, n_reps) for case in build_cases(args.quick)]

    peer_size, peer_T, peer_reps = (11, 10, 3) if args.quick else (99, 30, 3)
    bc.log(f"  peers: LQ {peer_size} states, 7 actions, T = {peer_T}")
    peers = [time_openspiel(peer_size, peer_T, peer_reps), time_mfglib(peer_size, peer_T, peer_reps)]

    print_tables(results, peers, machine, n_reps)
    if args.json:
        machine["load_average_after"] = bc.machine().get("load_average_1_5_15")
        bc.emit_json(
            {
                "benchmark": "pushforward",
                "quick": bool(args.quick),
                "units": "seconds, bytes",
                "machine": machine,
                "results": results,
                "peers": peers,
            }
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
