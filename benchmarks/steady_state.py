"""Aiyagari's stationary equilibrium: hetmacro against sequence-jacobian and QuantEcon's DiscreteDP.

The case is the calibration of shared/reference/anchors.md §3 (``aiyagari_1994``: beta 0.96, alpha
0.36, delta 0.08, CRRA 2, 7 Rouwenhorst states with rho 0.9 and unconditional s.d. 0.2, 500 asset points
on [0, 200] with double-exponential spacing). Timed in one run:

- hetmacro: the full solve (no bracket; compile time apart), one household solve by EGM and one
  stationary distribution at the equilibrium prices (the inner loop of every later solver);
- sequence-jacobian (if importable): brentq on r in [0.02, 0.04] as in anchors §3, and the same with the
  bracket [-0.02, 0.0416] that reaches 1/beta - 1, which its distribution iteration cannot handle;
- QuantEcon DiscreteDP (if importable): assets chosen on the grid, policy iteration on the sparse
  state-action form, stationary distribution by a sparse linear solve, brentq on r.

A missing peer is skipped with a message; this script installs nothing.

Usage: python benchmarks/steady_state.py [--quick] [--json] [--repeats N] [--no-discretedp]
``--quick`` runs at reduced sizes (200 asset points, DiscreteDP at 100) in under a minute; ``--json``
prints one JSON object as the last line of stdout; the default prints a table.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
import warnings

import numpy as np

ALPHA, DELTA, BETA, SIGMA, RHO, SD, N_E, A_MAX = 0.36, 0.08, 0.96, 2.0, 0.9, 0.2, 7, 200.0


def _median_time(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def firm(r):
    """Capital per unit of labour and the wage at rate r (L = 1 with E[e] = 1)."""
    KL = (ALPHA / (r + DELTA)) ** (1 / (1 - ALPHA))
    return KL, (1 - ALPHA) * KL**ALPHA


# --- hetmacro -------------------------------------------------------------------------------------------
def run_hetmacro(n_a, repeats):
    import jax

    import hetmacro as hm
    from hetmacro.models import Aiyagari
    from hetmacro.savings import stationary as st

    with jax.enable_x64(True):
        model = Aiyagari.from_calibration("aiyagari_1994", n_a=n_a)
    t0 = time.perf_counter()
    first = hm.solve(model, method="stationary", values=False)
    first_total = time.perf_counter() - t0
    solve_s, sol = _median_time(lambda: hm.solve(model, method="stationary", values=False), repeats)
    problem = st.savings_problem(model)
    r = sol.aggregates["r"]
    st.household(problem, r)  # compiled already; warm the call path
    hh_s, hh = _median_time(lambda: st.household(problem, r), repeats)
    st.distribution(problem, hh.a_next)
    dist_s, dist = _median_time(lambda: st.distribution(problem, hh.a_next), repeats)
    return {
        "available": True,
        "r": r,
        "K": sol.aggregates["K"],
        "excess_supply": sol.aggregates["excess_supply"],
        "evaluations": sol.result.evaluations,
        "egm_iterations": sol.result.household_iterations,
        "pushes": sol.result.distribution_iterations,
        "compile_s": first.timings["compile"],
        "first_call_s": first_total,
        "solve_s": solve_s,
        "household_s": hh.seconds,
        "household_wall_s": hh_s,
        "household_iterations": hh.iterations,
        "distribution_s": dist.seconds,
        "distribution_wall_s": dist_s,
        "distribution_pushes": dist.iterations,
        "bracket": "none (searches (-delta, 1/beta - 1))",
    }


# --- sequence-jacobian ------------------------------------------------------------------------------------
def run_ssj(n_a, repeats):
    if importlib.util.find_spec("sequence_jacobian") is None:
        return {
            "available": False,
            "note": "sequence_jacobian is not importable: skipped (pip install sequence-jacobian)",
        }
    from scipy import optimize
    from sequence_jacobian.hetblocks.hh_sim import hh_extended

    calib = dict(rho_e=RHO, sd_e=SD, n_e=N_E, min_a=0.0, max_a=A_MAX, n_a=n_a, beta=BETA, eis=1 / SIGMA)
    count = [0]

    def excess(r):
        count[0] += 1
        KL, w = firm(r)
        return hh_extended.steady_state({**calib, "r": r, "w": w})["A"] - KL

    t0 = time.perf_counter()
    excess(0.03)  # numba compilation
    first_s = time.perf_counter() - t0

    def solve():
        count[0] = 0
        return optimize.brentq(excess, 0.02, 0.04)

    solve_s, r = _median_time(solve, repeats)
    evaluations = count[0]
    KL, w = firm(r)
    t0 = time.perf_counter()
    ss = hh_extended.steady_state({**calib, "r": r, "w": w})
    hh_dist_s = time.perf_counter() - t0
    out = {
        "available": True,
        "r": r,
        "K": float(ss["A"]),
        "evaluations": evaluations,
        "first_call_s": first_s,
        "solve_s": solve_s,
        "household_plus_distribution_s": hh_dist_s,
        "bracket": "[0.02, 0.04]",
    }
    # The bracket up to 1/beta - 1 (anchors §3: its forward iteration does not converge there).
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            r_wide = optimize.brentq(excess, -0.02, 0.0416)
        out["wide_bracket"] = f"solved, r* = {r_wide:.8f} ({time.perf_counter() - t0:.2f} s)"
    except Exception as err:  # report whatever the peer raises
        out["wide_bracket"] = f"failed: {type(err).__name__}: {str(err).splitlines()[0][:120]}"
    return out


# --- QuantEcon DiscreteDP -----------------------------------------------------------------------------------
def run_discretedp(n_a):
    if importlib.util.find_spec("quantecon") is None:
        return {"available": False, "note": "quantecon is not importable: skipped"}
    import quantecon as qe
    from scipy import optimize, sparse
    from scipy.sparse import linalg as splinalg

    from hetmacro.grids import double_exponential_grid, rouwenhorst

    a = double_exponential_grid(0.0, A_MAX, n_a)
    chain = rouwenhorst("e", N_E, RHO, SD, sd_kind="unconditional")
    e, P = np.asarray(chain.values), np.asarray(chain.P)
    n_s = n_a * N_E
    s_a, s_e = np.divmod(np.arange(n_s), N_E)  # state s = i * m + j
    count = [0]

    def supply(r):
        count[0] += 1
        _, w = firm(r)
        cash = (1 + r) * a[s_a] + w * e[s_e]
        s_idx, k_idx = np.nonzero(a[None, :] < cash[:, None])  # feasible: c > 0
        c = cash[s_idx] - a[k_idx]
        R = c ** (1 - SIGMA) / (1 - SIGMA)
        rows = np.repeat(np.arange(s_idx.size), N_E)
        cols = (k_idx[:, None] * N_E + np.arange(N_E)[None, :]).ravel()
        Q = sparse.csr_matrix((P[s_e[s_idx]].ravel(), (rows, cols)), shape=(s_idx.size, n_s))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ddp = qe.markov.DiscreteDP(R, Q, BETA, s_idx, k_idx)
            res = ddp.solve(method="policy_iteration")
        k = a[res.sigma]  # chosen next assets, by state
        T = sparse.csr_matrix(
            (
                P[s_e].ravel(),
                (np.repeat(np.arange(n_s), N_E), (res.sigma[:, None] * N_E + np.arange(N_E)).ravel()),
            ),
            shape=(n_s, n_s),
        )
        A = (sparse.identity(n_s) - T.T).tolil()
        A[0, :] = 1.0
        b = np.zeros(n_s)
        b[0] = 1.0
        mu = splinalg.spsolve(A.tocsc(), b)
        del k
        return float(mu @ a[s_a])

    def excess(r):
        return supply(r) - firm(r)[0]

    t0 = time.perf_counter()
    r = optimize.brentq(excess, 0.02, 0.041, xtol=1e-7)
    seconds = time.perf_counter() - t0
    return {
        "available": True,
        "r": r,
        "K": firm(r)[0],
        "evaluations": count[0],
        "solve_s": seconds,
        "n_a": n_a,
        "note": "assets chosen on the grid: r* is a jump point of the supply, 2 basis points off at 500 points",
    }


# --- driver -------------------------------------------------------------------------------------------------
def machine():
    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
    }
    try:
        info["load_average"] = os.getloadavg()
    except OSError:
        pass
    try:
        import jax

        info["jax"] = jax.__version__
        info["jax_backend"] = jax.default_backend()
    except ImportError:
        pass
    return info


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced sizes, under a minute")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last stdout line")
    parser.add_argument("--repeats", type=int, default=None, help="timed repetitions (median reported)")
    parser.add_argument("--no-discretedp", action="store_true", help="skip the DiscreteDP comparison")
    args = parser.parse_args(argv)
    n_a = 200 if args.quick else 500
    n_ddp = 100 if args.quick else 500
    repeats = args.repeats or (3 if args.quick else 5)

    results = {"case": "aiyagari_1994 stationary equilibrium (anchors §3)", "sizes": {"n_a": n_a, "n_e": N_E}}
    results["machine"] = machine()
    results["hetmacro"] = run_hetmacro(n_a, repeats)
    results["sequence_jacobian"] = run_ssj(n_a, repeats)
    if args.no_discretedp:
        results["discretedp"] = {"available": False, "note": "skipped (--no-discretedp)"}
    else:
        results["discretedp"] = run_discretedp(n_ddp)
        results["sizes"]["n_a_discretedp"] = n_ddp
    ours, ssj = results["hetmacro"], results["sequence_jacobian"]
    if ssj.get("available"):
        results["comparison"] = {
            "r_difference": ours["r"] - ssj["r"],
            "speedup_vs_ssj": ssj["solve_s"] / ours["solve_s"],
        }

    if not args.json:
        print(f"{results['case']}: {n_a} asset points x {N_E} income states")
        print(f"machine: {results['machine']}")
        print(f"{'solver':<20}{'r*':>14}{'K*':>12}{'evals':>7}{'solve (s)':>11}{'compile/first (s)':>19}")
        rows = [("hetmacro", ours, ours["compile_s"]), ("sequence-jacobian", ssj, ssj.get("first_call_s"))]
        rows.append(("DiscreteDP", results["discretedp"], None))
        for name, res, first in rows:
            if not res.get("available"):
                print(f"{name:<20}{res['note']}")
                continue
            first_s = "" if first is None else f"{first:.2f}"
            print(
                f"{name:<20}{res['r']:>14.10f}{res['K']:>12.6f}{res['evaluations']:>7d}"
                f"{res['solve_s']:>11.3f}{first_s:>19}"
            )
        print(
            f"hetmacro inner loops at r*: household (EGM) {ours['household_s'] * 1e3:.1f} ms, "
            f"{ours['household_iterations']} iterations; distribution {ours['distribution_s'] * 1e3:.1f} ms, "
            f"{ours['distribution_pushes']} pushes"
        )
        if ssj.get("available"):
            print(f"sequence-jacobian with the bracket [-0.02, 0.0416]: {ssj['wide_bracket']}")
            print(
                f"r*(hetmacro) - r*(SSJ) = {results['comparison']['r_difference']:.2e}; "
                f"speed-up {results['comparison']['speedup_vs_ssj']:.2f}x"
            )
    else:
        print(json.dumps(results, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
