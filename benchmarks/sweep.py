"""Many calibrations at once: Aiyagari's Table II (24 economies) by hm.sweep (one thread per core, and one
cell after another), by a loop of hm.solve, on a two-worker Dask cluster, and by sequence-jacobian's loop over the same cells; the first solve in a fresh
process; the cost of a gradient through the equilibrium; a warm linear solve.

Every case runs in a fresh Python process (``--case NAME``), so compilation is paid as a user pays it, and
reports wall and CPU seconds. Same cells on both sides: the ``aiyagari_1994`` calibration with a
7-state Rouwenhorst chain (sequence-jacobian's), 500 assets on [0, 200], mu in {1, 3, 5}, rho in {0, 0.3,
0.6, 0.9}, sigma in {0.2, 0.4}. sequence-jacobian (``pip install ".[peers]"``) solves each cell with
Brent's method on a bracket: one bracket for all cells, then a second try on the cells it left unsolved.

    python benchmarks/sweep.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _common as bc  # noqa: E402

GRID = {"sd_e": (0.2, 0.4), "rho_e": (0.0, 0.3, 0.6, 0.9), "sigma": (1.0, 3.0, 5.0)}
QUICK = {"sd_e": (0.2,), "rho_e": (0.0, 0.9), "sigma": (1.0, 5.0)}
ALPHA, DELTA, BETA = 0.36, 0.08, 0.96
BRACKETS = ((-0.02, 0.041), (0.035, 0.0416))  # the peer's first bracket, and its retry


def _cells(quick: bool):
    import itertools

    g = QUICK if quick else GRID
    return [dict(zip(g, v)) for v in itertools.product(*g.values())]


def _model(n_a: int):
    from hetmacro.models import Aiyagari

    return Aiyagari.from_calibration("aiyagari_1994", n_a=n_a)


# --- cases, each run in its own process ----------------------------------------------------------------------
def case_sweep(quick, n_a, workers=None):
    import hetmacro as hm

    g = QUICK if quick else GRID
    table = hm.sweep(_model(n_a), {k: list(v) for k, v in g.items()}, progress=False, workers=workers)
    return {"solved": int((table["status"] == "ok").sum()), "cells": len(table), "r": table["r"].tolist()}


def case_sweep_serial(quick, n_a):
    return case_sweep(quick, n_a, workers=1)


def case_vmap(quick, n_a):
    """One evaluation of the stationary solver's rate step (household EGM, then the distribution) at one
    trial rate for 8 cells: vmapped over the cells, against a loop of single evaluations."""
    import jax
    import jax.numpy as jnp

    from hetmacro.savings import stationary as stn

    with jax.enable_x64(True):
        models = [dataclasses.replace(_model(n_a), **cell) for cell in _cells(quick)][:8]
        problems = [stn.savings_problem(m) for m in models]
        controls = stn._EGMSearch(problems[0]).controls()
        r = stn._f64(0.035)

        def one(p):
            return stn._evaluate_jit(p, r, jnp.zeros_like(p.mu0), jnp.asarray(True), p.mu0, *controls)

        jax.block_until_ready(one(problems[0]))
        t0 = time.perf_counter()
        single = [jax.block_until_ready(one(p)) for p in problems]
        t_loop = time.perf_counter() - t0
        stacked = jax.tree.map(lambda *x: jnp.stack(x), *problems)
        batched = jax.jit(jax.vmap(stn._evaluate_core, in_axes=(0, None, 0, None, 0, None, None, None, None)))
        args = (stacked, r, jnp.zeros_like(stacked.mu0), jnp.asarray(True), stacked.mu0, *controls)
        jax.block_until_ready(batched(*args))
        t0 = time.perf_counter()
        out = jax.block_until_ready(batched(*args))
        t_vmap = time.perf_counter() - t0
    gap = max(abs(float(a) - float(s["A"])) for a, s in zip(out["A"], single))
    return {"cells": len(problems), "loop_s": t_loop, "vmap_s": t_vmap, "max_A_difference": gap}


def case_loop(quick, n_a):
    import dataclasses

    import hetmacro as hm

    model, rs = _model(n_a), []
    for cell in _cells(quick):
        rs.append(hm.solve(dataclasses.replace(model, **cell), method="stationary").aggregates["r"])
    return {"solved": len(rs), "cells": len(rs), "r": rs}


def case_dask(quick, n_a):
    from dask.distributed import Client, LocalCluster

    import hetmacro as hm

    g = QUICK if quick else GRID
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster:
            with Client(cluster) as client:
                table = hm.sweep(
                    _model(n_a), {k: list(v) for k, v in g.items()}, client=client, progress=False
                )
    return {"solved": int((table["status"] == "ok").sum()), "cells": len(table), "r": table["r"].tolist()}


def _ssj_excess(calib):
    from sequence_jacobian.hetblocks.hh_sim import hh_extended

    def firm(r):
        KL = (ALPHA / (r + DELTA)) ** (1 / (1 - ALPHA))
        return KL, (1 - ALPHA) * KL**ALPHA

    def excess(r):
        KL, w = firm(r)
        return hh_extended.steady_state({**calib, "r": r, "w": w})["A"] - KL

    return excess


def case_ssj(quick, n_a):
    from scipy import optimize

    rs, first_try, failures = [], 0, []
    for cell in _cells(quick):
        calib = dict(
            rho_e=cell["rho_e"],
            sd_e=cell["sd_e"],
            n_e=7,
            min_a=0.0,
            max_a=200.0,
            n_a=n_a,
            beta=BETA,
            eis=1 / cell["sigma"],
        )
        excess, r = _ssj_excess(calib), None
        for k, bracket in enumerate(BRACKETS):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    r = optimize.brentq(excess, *bracket)
                first_try += k == 0
                break
            except Exception as err:  # the peer's failures are the finding
                failures.append(f"{cell} bracket {bracket}: {type(err).__name__}")
        rs.append(r)
    solved = sum(r is not None for r in rs)
    return {
        "solved": solved,
        "solved_first_bracket": first_try,
        "cells": len(rs),
        "r": rs,
        "failures": failures,
    }


def case_first_solve(quick, n_a):
    import hetmacro as hm

    return {"r": hm.solve(_model(n_a), method="stationary").aggregates["r"]}


def case_ssj_first_solve(quick, n_a):
    from scipy import optimize

    calib = dict(rho_e=0.9, sd_e=0.2, n_e=7, min_a=0.0, max_a=200.0, n_a=n_a, beta=BETA, eis=0.5)
    return {"r": optimize.brentq(_ssj_excess(calib), 0.02, 0.04)}


def case_gradient(quick, n_a):
    import jax

    import hetmacro as hm

    model = _model(n_a)
    out = {}
    with jax.enable_x64(True):
        for k in range(3):  # the first pair compiles; the last is the warm cost
            t0 = time.perf_counter()
            sol = hm.solve(model, method="stationary")
            t1 = time.perf_counter()
            d = hm.gradient(sol, ["beta", "sigma"])
            t2 = time.perf_counter()
            out.update({f"solve_{k}_s": t1 - t0, f"gradient_{k}_s": t2 - t1})
    out["dr_dbeta"], out["dr_dsigma"] = float(d.loc["r", "beta"]), float(d.loc["r", "sigma"])
    return out


def case_linear(quick, n_a):
    import hetmacro as hm

    model = _model(n_a)
    out = {}
    for k in range(3):
        t0 = time.perf_counter()
        hm.solve(model, method="linear", shock="Z")
        out[f"call_{k}_s"] = time.perf_counter() - t0
    return out


CASES = {
    "sweep": case_sweep,
    "sweep_serial": case_sweep_serial,
    "vmap": case_vmap,
    "loop": case_loop,
    "dask": case_dask,
    "ssj": case_ssj,
    "first_solve": case_first_solve,
    "ssj_first_solve": case_ssj_first_solve,
    "gradient": case_gradient,
    "linear": case_linear,
}
NEEDS_SSJ = ("ssj", "ssj_first_solve")


def run_case(name, quick, n_a, env=None):
    """Run one case in a fresh process; its wall and CPU seconds (interpreter start and imports included)."""
    cmd = [sys.executable, __file__, "--case", name, "--n-a", str(n_a)] + (["--quick"] if quick else [])
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {
            "error": proc.stderr.strip().splitlines()[-1]
            if proc.stderr.strip()
            else f"exit {proc.returncode}"
        }
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall_s"] = wall
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--case", choices=sorted(CASES))
    parser.add_argument("--n-a", type=int, default=None)
    args = parser.parse_args()
    n_a = args.n_a or (100 if args.quick else 500)
    if args.case:
        t0, c0 = time.perf_counter(), time.process_time()
        out = CASES[args.case](args.quick, n_a)
        out.update(inner_wall_s=time.perf_counter() - t0, cpu_s=time.process_time() - c0)
        print(json.dumps(out, default=float))
        return
    have_ssj = importlib.util.find_spec("sequence_jacobian") is not None
    results = {}
    for name in CASES:
        if name in NEEDS_SSJ and not have_ssj:
            results[name] = {"error": "sequence_jacobian not installed (pip install '.[peers]')"}
            continue
        bc.log(f"case {name} ...")
        results[name] = run_case(name, args.quick, n_a)
    # The first solve again, in two more fresh processes sharing a compilation cache: the second loads
    # what the first compiled (hm.use_compilation_cache / HETMACRO_CACHE_DIR).
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, HETMACRO_CACHE_DIR=cache)
        bc.log("case first_solve, twice with a compilation cache ...")
        run_case("first_solve", args.quick, n_a, env)
        results["first_solve_cached"] = run_case("first_solve", args.quick, n_a, env)
    cells = len(_cells(args.quick))
    rows = []
    labels = {"sweep": "sweep (a thread per core)", "sweep_serial": "sweep (workers=1)"}
    for name in ("sweep", "sweep_serial", "loop", "dask", "ssj"):
        r = results[name]
        if "error" in r:
            rows.append([labels.get(name, name), "-", "-", "-", r["error"][:60]])
            continue
        extra = f"{r.get('solved_first_bracket', r['solved'])} on the first bracket" if name == "ssj" else ""
        rows.append(
            [
                labels.get(name, name),
                f"{r['solved']}/{cells}",
                bc.fmt_seconds(r["wall_s"]),
                bc.fmt_seconds(r["cpu_s"]),
                extra,
            ]
        )
    bc.print_table(
        f"Table II cells ({cells}, {n_a} assets x 7 income states), each in a fresh process",
        ["how", "solved", "wall", "CPU (process)", "note"],
        rows,
    )
    if "error" not in results["sweep"] and "error" not in results["ssj"]:
        ours = [r for r in results["sweep"]["r"]]
        peer = results["ssj"]["r"]
        diffs = [abs(a - b) for a, b in zip(ours, peer) if a is not None and b is not None]
        bc.log(f"max |r* ours - r* peer| over the cells both solved: {max(diffs):.2e}")
        results["max_r_difference"] = max(diffs)
    v = results["vmap"]
    if "error" not in v:
        bc.log(
            f"one rate step of {v['cells']} cells: a loop of single evaluations {v['loop_s']:.2f} s, one vmapped "
            f"evaluation {v['vmap_s']:.2f} s (vmap speed {v['loop_s'] / v['vmap_s']:.2f}x the loop's); "
            f"max |A vmap - A single| {v['max_A_difference']:.1e}"
        )
    g, lin = results["gradient"], results["linear"]
    if "error" not in g:
        bc.print_table(
            "first solve and gradients (fresh process)",
            ["what", "seconds"],
            [
                [
                    "first stationary solve, process wall (ours)",
                    bc.fmt_seconds(results["first_solve"].get("wall_s", float("nan"))),
                ],
                [
                    "first stationary solve, process wall (sequence-jacobian)",
                    bc.fmt_seconds(results["ssj_first_solve"].get("wall_s", float("nan"))),
                ],
                [
                    "first stationary solve, process wall, compilation cache filled (ours)",
                    bc.fmt_seconds(results["first_solve_cached"].get("wall_s", float("nan"))),
                ],
                ["warm solve", bc.fmt_seconds(g["solve_2_s"])],
                ["warm gradient d(r, K, w, ...)/d(beta, sigma)", bc.fmt_seconds(g["gradient_2_s"])],
                ["first gradient (compiles)", bc.fmt_seconds(g["gradient_0_s"])],
                [
                    "linear solve: first / warm call",
                    f"{bc.fmt_seconds(lin.get('call_0_s', float('nan')))} / {bc.fmt_seconds(lin.get('call_2_s', float('nan')))}",
                ],
            ],
        )
    if args.json:
        bc.emit_json(
            {"benchmark": "sweep", "machine": bc.machine(), "n_a": n_a, "cells": cells, "results": results}
        )


if __name__ == "__main__":
    main()
