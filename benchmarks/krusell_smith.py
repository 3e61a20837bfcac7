"""Krusell–Smith with aggregate risk: the Krusell–Smith algorithm, sequence-space IRFs and RSPG.

Two cases, timed in one run:

1. **The two-state original** (``krusell_smith_1998``: KS 1998 with a 15% unemployment insurance, 250
   asset points, 2 TFP x 2 employment states): the Krusell–Smith algorithm (``method="ks"``) with
   11,000 simulated periods (1,000 discarded), its law of motion, R^2 and den Haan's maximal forecast
   error against the published figures (KS 1998 p. 877; the corrected HARK run of anchors §4b).
2. **The comparison** on sequence-jacobian's Krusell–Smith notebook calibration (``krusell_smith_1998:ssj``
   with SSJ's log-spaced grid: log utility, alpha 0.11, delta 0.025, 7 Rouwenhorst income states,
   500 assets on [0, 200], AR(1) log TFP with rho 0.9; beta and Z calibrated so that r = 0.01 and Y = 1):
   ``method="linear"`` (first-order sequence-space IRFs), ``method="ks"`` (log TFP discretised by
   Rouwenhorst) and ``method="rspg"`` (when available). Printed: IRFs of r, w, C, K, Y to a 1% TFP
   shock with persistence 0.9 side by side (and sequence-jacobian's published table), mean capital and
   prices (``hm.compare``), the exploitability of each policy inside the same game, and wall-clock times;
   sequence-jacobian's own timings when it is importable (this script never installs it).

**Exploitability in the same game.** The game is the model compiled in float64 with RSPG's horizon H
(the infinite-horizon model truncated at H, the terminal value the model's). Each policy is a Game
policy on its consumption-share action grid: the RSPG network as trained; the KS and linear savings
rules a'(a, e; ...) turned into shares s = 1 - (a' - a_min) / x (x: cash on hand beyond a_min at the
game's prices) split between the two neighbouring action values so that E[s] = s (E[a'] is the rule's
a'; shares beyond the grid's [0.025, 0.975] are clipped: a household at the borrowing limit must save
2.5% of its cash on hand in this game). The KS rule reads (K_t, z_t); the linear rule reads the history
of TFP innovations (its first-order policy). On the same sampled noise paths, from the model's initial
distribution, ``hetmacro.mfg.dp.exploitability`` gives the clairvoyant upper bound (the best
response sees each path's future). The KS and linear rules are infinite-horizon rules: the best response
also exploits the end of the truncated game, which RSPG was trained for; the "interior" column lets the
deviation act only before H/2 (the household follows the policy afterwards), which removes most of that.

Usage: python benchmarks/krusell_smith.py [--quick] [--json] [--rspg] [--figure PATH]
``--quick`` (under a minute at reduced sizes, RSPG skipped unless ``--rspg``); ``--json`` prints one
JSON object as the last line of stdout; the default run writes docs/figures/ks_irfs.png.
"""

from __future__ import annotations

import importlib.util
import sys
import time
import traceback
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
import _common as bc  # noqa: E402

import hetmacro as hm  # noqa: E402
from hetmacro.mfg import dp  # noqa: E402
from hetmacro.mfg.exploitability import interior_exploitability  # noqa: E402
from hetmacro.models import KrusellSmith  # noqa: E402
from hetmacro.savings import sequence as sq  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "data" / "ssj_ks_irf.csv"
SHOWN = (0, 1, 2, 4, 8, 12, 16, 20)
SERIES = (("r", "r (pp)", "r_dev_pp", 0), ("w", "w (%)", "w_dev_pct", 0), ("C", "C (%)", "C_dev_pct", 0),
          ("K", "K (%)", "K_dev_pct", 1), ("Y", "Y (%)", "Y_dev_pct", 0))  # fmt: skip
PUBLISHED = {"bad": (0.085, 0.965), "good": (0.095, 0.962)}  # KS 1998 p. 877, R^2 0.999998


def _extra(parser):
    parser.add_argument("--rspg", action="store_true", help="run RSPG also with --quick")
    parser.add_argument("--figure", default=None, help="where to write the IRF figure")
    parser.add_argument("--no-rspg", action="store_true", help="skip RSPG")


def sizes(quick: bool) -> dict:
    if quick:
        return {
            "original": {"n_a": 100, "periods": 2000, "burn_in": 200},
            "comparison": {"n_a": 80, "T": 100, "n_z": 3, "n_K": 5, "periods": 1000, "burn_in": 200},
            "rspg": {"horizon": 30, "iterations": 10, "eval_paths": 4, "keep_paths": 4},
            "exploitability_paths": 2,
        }
    return {
        "original": {"n_a": 250, "periods": 11000, "burn_in": 1000},
        "comparison": {"n_a": 500, "T": 300, "n_z": 5, "n_K": 5, "periods": 6000, "burn_in": 500},
        "rspg": {"horizon": 60, "iterations": 100, "eval_paths": 8, "keep_paths": 8},
        "exploitability_paths": 8,
    }


# --- case 1 ------------------------------------------------------------------------------------------
def original_case(sz: dict) -> dict:
    with jax.enable_x64(True):
        model = KrusellSmith.from_calibration("krusell_smith_1998", n_a=sz["n_a"])
        t0 = time.perf_counter()
        sol = hm.solve(model, method="ks", periods=sz["periods"], burn_in=sz["burn_in"], irf=False)
        wall = time.perf_counter() - t0
    lom = sol.result.law_of_motion
    return {
        "sol": sol,
        "law_of_motion": {
            z: {"b0": float(lom.loc[z, "b0"]), "b1": float(lom.loc[z, "b1"]), "R2": float(lom.loc[z, "R2"])}
            for z in lom.index
        },  # fmt: skip
        "den_haan_max_pct": sol.result.den_haan["max"],
        "den_haan_mean_pct": sol.result.den_haan["mean"],
        "iterations": sol.result.iterations,
        "converged": sol.result.converged,
        "mean_K": sol.aggregates["K"],
        "wall_s": wall,
        "timings": sol.timings,
    }


def print_original(res: dict, sz: dict) -> None:
    rows = []
    for z in ("bad", "good"):
        b = res["law_of_motion"][z]
        rows.append([f"{z}: b0", f"{b['b0']:.4f}", f"{PUBLISHED[z][0]:.3f}", ""])
        rows.append([f"{z}: b1", f"{b['b1']:.4f}", f"{PUBLISHED[z][1]:.3f}", ""])
        rows.append([f"{z}: R^2", f"{b['R2']:.7f}", "0.999998", ""])
    rows += [
        ["den Haan max error (%)", f"{res['den_haan_max_pct']:.3f}", "-", "0.17 (HARK, beliefs updated)"],
        ["den Haan mean error (%)", f"{res['den_haan_mean_pct']:.3f}", "-", "-"],
        ["mean K", f"{res['mean_K']:.3f}", "-", "12.28 (HARK: no UI, l_bar 0.3271)"],
        [
            "iterations (tol 1e-6)",
            f"{res['iterations']} ({'converged' if res['converged'] else 'NOT converged'})",
            "-",
            "HARK: 15+ more needed after 6",
        ],  # fmt: skip
        ["compile + steady state (s)", bc.fmt_seconds(res["timings"]["compile"]), "-", "-"],
        ["KS iterations (s)", bc.fmt_seconds(res["timings"]["solve"]), "-", "HARK default 284 s (no update)"],
        ["total wall (s)", bc.fmt_seconds(res["wall_s"]), "target < 60 s", "-"],
    ]
    bc.print_table(
        f"1. Krusell–Smith algorithm, two-state original ({sz['n_a']} assets x 2 employment x 2 TFP states, "
        f"{sz['periods']} periods, {sz['burn_in']} discarded, histogram)",
        ["quantity", "hetmacro", "KS 1998", "anchors §4b"],
        rows,
    )


# --- case 2 ------------------------------------------------------------------------------------------
def exploitabilities(model, policies: dict, H: int, n_paths: int, starts: dict, seed: int = 7) -> dict:
    """{start: {policy: {"clairvoyant": mean, "se", "interior": mean}}} on the same noise paths.

    ``starts``: {name: mu_0 (n, m) or None for the model's own initial distribution}."""
    out = {k: {} for k in starts}
    with jax.enable_x64(True):
        game = hm.compile(model, dtype=jnp.float64)
        keys = jax.random.split(jax.random.PRNGKey(seed), n_paths)
        z0 = game.reset(keys[0]).z
        mus = {
            k: (game.reset(keys[0]).mu if mu is None else jnp.asarray(mu, jnp.float64))
            for k, mu in starts.items()
        }

        @eqx.filter_jit
        def one(policy, carry, key, mu0):  # the policy is an argument: its weights are not constants
            agg0 = game.aggregate_state(mu0, z0, 0)
            flow = game.rollout(key, policy, carry, T=H, agg0=agg0)
            expl, _, _ = dp.exploitability(game, flow)
            return expl, interior_exploitability(game, flow, H // 2)

        for name, (policy, carry) in policies.items():
            for start, mu0 in mus.items():
                vals = np.array([[float(v) for v in one(policy, carry, k, mu0)] for k in keys])
                out[start][name] = {
                    "clairvoyant": float(vals[:, 0].mean()),
                    "se": float(vals[:, 0].std(ddof=1) / np.sqrt(n_paths)) if n_paths > 1 else float("nan"),
                    "interior": float(vals[:, 1].mean()),
                }
    return out


def ssj_timings(n_a: int, T: int) -> dict | None:
    """sequence-jacobian's steady state, Jacobians and one IRF on the same calibration, if importable."""
    if importlib.util.find_spec("sequence_jacobian") is None:
        return None
    try:
        import sequence_jacobian as sj
        from sequence_jacobian.examples import krusell_smith as ex

        household = ex.hh.household.add_hetinputs([ex.income, ex.make_grids])
        model_ss = sj.create_model([household, ex.firm_ss, ex.mkt_clearing])
        model = sj.create_model([household, ex.firm, ex.mkt_clearing])
        calib = {"eis": 1.0, "delta": 0.025, "alpha": 0.11, "rho": 0.966, "sigma": 0.5, "Y": 1.0, "L": 1.0,
                 "nS": 7, "nA": n_a, "amax": 200, "r": 0.01}  # fmt: skip
        t0 = time.perf_counter()
        ss = model_ss.solve_steady_state(calib, {"beta": (0.98 / 1.01, 0.999 / 1.01)}, {"asset_mkt": 0.0},
                                         solver="brentq")  # fmt: skip
        t1 = time.perf_counter()
        G = model.solve_jacobian(ss, ["K"], ["asset_mkt"], ["Z"], T=T)
        t2 = time.perf_counter()
        G = model.solve_jacobian(ss, ["K"], ["asset_mkt"], ["Z"], T=T)
        t3 = time.perf_counter()
        dZ = 0.01 * ss["Z"] * 0.9 ** np.arange(T)
        irf_t = bc.measure(lambda: {k: G[k]["Z"] @ dZ for k in ("r", "w", "C", "K", "Y")}, reps=20)
        return {"steady_state_s": t1 - t0, "jacobians_first_s": t2 - t1, "jacobians_warm_s": t3 - t2,
                "irf_s": irf_t.median, "beta": float(ss["beta"])}  # fmt: skip
    except Exception as err:  # noqa: BLE001 - a peer's API may differ: report, never fail
        return {"error": f"{type(err).__name__}: {err}"}


def comparison_case(sz: dict, rspg_sz: dict | None, n_expl: int) -> dict:
    c = sz
    with jax.enable_x64(True):
        base = KrusellSmith.from_calibration(
            "krusell_smith_1998:ssj", grid_kind="geometric", n_a=c["n_a"], share_grid=c["share_grid"]
        )  # fmt: skip
        bc.log("comparison: linear (calibration, Jacobians, GE) ...")
        t0 = time.perf_counter()
        lin = hm.solve(base, method="linear", calibrate_to={"r": 0.01, "Y": 1.0}, T=c["T"], horizon=40,
                       nonlinear=True)  # fmt: skip
        lin.timings["wall"] = time.perf_counter() - t0
        model = lin.model
        ss = lin.result.steady_state
        # Warm timings of the compiled Jacobians, GE solve and IRF (the figures to set beside SSJ's).
        t_J = bc.measure(lambda: sq.jacobians(ss, c["T"], ("z",)), reps=5)
        J = sq.jacobians(ss, c["T"], ("z",))
        t_G = bc.measure(lambda: sq.ge_jacobians(ss, J), reps=5)
        G = {"z": {k: jnp.asarray(v) for k, v in lin.result.G["z"].items()}}
        shocks = parameter_shocks(lin, c) if c["n_a"] == 500 else None
        dz = {"z": 0.01 * 0.9 ** jnp.arange(c["T"], dtype=jnp.float64)}
        irf_fn = jax.jit(sq.linear_irf)
        t_irf = bc.measure(irf_fn, G, dz, reps=50)
        bc.log("comparison: Krusell–Smith algorithm ...")
        t0 = time.perf_counter()
        ks = hm.solve(
            model, method="ks", n_z=c["n_z"], n_K=c["n_K"], periods=c["periods"], burn_in=c["burn_in"]
        )
        ks.timings["wall"] = time.perf_counter() - t0
    rspg, rspg_note = None, None
    if rspg_sz is None:
        rspg_note = "RSPG skipped (--no-rspg, or --quick without --rspg)"
    elif "rspg" not in hm.METHODS:
        rspg_note = "RSPG skipped: method 'rspg' is not registered in this version"
    else:
        bc.log(f"comparison: RSPG ({rspg_sz['iterations']} iterations, horizon {rspg_sz['horizon']}) ...")
        try:
            t0 = time.perf_counter()
            rspg = hm.solve(model, method="rspg", progress=False, **rspg_sz)
            rspg.timings["wall"] = time.perf_counter() - t0
        except Exception as err:  # noqa: BLE001 - RSPG is another issue's work in progress: report it
            rspg_note = f"RSPG skipped: {type(err).__name__}: {err}"
            traceback.print_exc(file=sys.stderr)
    H = rspg_sz["horizon"] if rspg_sz else 30
    irfs = {"linear": lin.result.irf, "ks": ks.result.irf}
    if rspg is not None:
        bc.log("comparison: RSPG impulse response from the steady-state distribution ...")
        irfs["rspg"] = rspg.irf("z", size=0.01, horizon=min(40, H - 1), mu0=lin.stationary)
    bc.log("comparison: exploitability of each policy in the same game ...")
    policies = {"linear": (lin.policy_fn(), lin.initial_carry()), "ks": (ks.policy_fn(), ks.initial_carry())}
    if rspg is not None:
        policies["rspg"] = (rspg.policy_fn(), rspg.initial_carry())
    starts = {"initial": None, "stationary": lin.stationary}
    expl = exploitabilities(model, policies, H, n_expl, starts)
    kind = f"clairvoyant upper bound, horizon {H}, from the model's initial distribution, {n_expl} paths"
    for name, sol in (("linear", lin), ("ks", ks), ("rspg", rspg)):
        if sol is not None:
            sol.exploitability = expl["initial"][name]["clairvoyant"]
            sol.exploitability_kind = kind
    sols = [s for s in (rspg, ks, lin) if s is not None]
    table = hm.compare(*sols)
    return {
        "lin": lin,
        "ks": ks,
        "rspg": rspg,
        "rspg_note": rspg_note,
        "irfs": irfs,
        "exploitability": expl,
        "H": H,
        "compare": table,
        "linear_warm": {"jacobians_s": t_J.median, "ge_s": t_G.median, "irf_s": t_irf.median},
        "ssj": ssj_timings(c["n_a"], c["T"]),
        "parameter_shocks": shocks,
    }


#: shocks to declared parameters with sequence-jacobian tables (tests/data/ssj_ks_irf_shocks.md)
PARAMETER_SHOCKS = (("beta", 0.001, "ssj_ks_irf_beta.csv"), ("tax", 0.01, "ssj_ks_irf_tax.csv"))


def parameter_shocks(lin, c: dict) -> dict:
    """max over 20 quarters of |ours - SSJ| / SSJ's peak, per series, for shocks to beta and to a tax."""
    steady = hm.solve(lin.model.without_aggregate_risk(), method="stationary", values=False)
    out = {}
    for name, size, table in PARAMETER_SHOCKS:
        sol = hm.solve(
            lin.model,
            method="linear",
            shock=name,
            shock_size=size,
            shock_rho=0.9,
            T=c["T"],
            steady_state=steady,
        )
        ref = pd.read_csv(REFERENCE.parent / table)
        errors = {}
        for series, col, ref_col, shift in SERIES:
            ours = sol.result.irf[col].to_numpy()[shift : shift + 20]
            theirs = ref[ref_col].to_numpy()[:20]
            errors[series] = float(np.max(np.abs(ours - theirs)) / np.max(np.abs(ref[ref_col].to_numpy())))
        out[name] = errors
    return out


def print_comparison(res: dict, sz: dict, full_reference: bool) -> None:
    irfs = res["irfs"]
    ref = pd.read_csv(REFERENCE) if (full_reference and REFERENCE.exists()) else None
    methods = list(irfs)
    headers = ["h"] + [f"{s} {m}" for s, *_ in SERIES for m in methods + (["ssj"] if ref is not None else [])]
    rows = []
    for h in SHOWN:
        row = [str(h)]
        for _, col, ref_col, shift in SERIES:
            for m in methods:
                tab = irfs[m]
                row.append(f"{tab[col].iloc[h]:.4f}" if h < len(tab) and col in tab else "-")
            if ref is not None:
                t = h - shift
                row.append(f"{ref[ref_col].iloc[t]:.4f}" if t >= 0 else "0.0000")
        rows.append(row)
    bc.print_table(
        "2a. IRFs to a 1% TFP shock (log TFP +0.01, persistence 0.9): r in pp, others % of steady state; "
        "K = capital in production at h",
        headers,
        rows,
        notes=[
            "linear: first-order, perfect foresight after an unanticipated shock (MIT shock), exact JAX derivatives.",
            "ks: the KS policy from its stochastic steady state (z = 0 for 1,000 periods), z_h = 0.01 x 0.9^h, "
            "no further shocks; TFP = Z e^z, so +1.005% on impact.",
            "rspg: report.irf of the trained policy from the steady-state distribution (mean over noise paths).",
            "ssj: sequence-jacobian's published table (tests/data/ssj_ks_irf.csv; its K is end-of-period, "
            "shifted by one)."
            if ref is not None
            else "ssj: (published table shown only at the full size)",
        ],
    )
    cmp = res["compare"]
    cols = [c for c in ("exploitability", "r", "w", "K", "Y", "C", "time (s)") if c in cmp.columns]
    rows = [[idx] + [f"{cmp.loc[idx, c]:.5g}" for c in cols] for idx in cmp.index]
    bc.print_table("2b. hm.compare: mean aggregates and total wall time", ["solution"] + cols, rows)
    rows = []
    ex = res["exploitability"]
    for name in ex["initial"]:
        row = [name]
        for start in ("initial", "stationary"):
            e = ex[start][name]
            row += [f"{e['clairvoyant']:.4g} ({e['se']:.2g})", f"{e['interior']:.4g}"]
        rows.append(row)
    h2 = res["H"] // 2
    bc.print_table(
        f"2c. Exploitability in the same game (utility per household at date 0; horizon {res['H']}, float64, "
        "clairvoyant upper bound (s.e.))",
        [
            "policy",
            "from mu_0 of the model",
            f"  interior (< {h2})",
            "from the steady state",
            f"  interior (< {h2})",
        ],
        rows,
        notes=[
            "mu_0 of the model: the game's own initial distribution (uniform over assets x income), as RSPG trains;",
            "from the steady state: the stationary distribution, where the KS and linear rules are designed to act.",
            "interior: the deviation acts only before H/2, then follows the policy (most of the truncation's "
            "end effect removed). KS and linear rules are infinite-horizon rules mapped onto the action grid.",
        ],
    )
    lin, ks, rspg = res["lin"], res["ks"], res["rspg"]
    rows = [
        ["linear: calibration (beta, Z) + steady state", bc.fmt_seconds(lin.timings["steady_state"])],
        ["linear: compile (Jacobians, GE; AOT)", bc.fmt_seconds(lin.timings["compile"])],
        ["linear: Jacobians (warm, median)", bc.fmt_seconds(res["linear_warm"]["jacobians_s"])],
        ["linear: GE solve (warm, median)", bc.fmt_seconds(res["linear_warm"]["ge_s"])],
        ["linear: one IRF of 6 series from G (warm)", bc.fmt_seconds(res["linear_warm"]["irf_s"])],
        ["ks: compile + steady state", bc.fmt_seconds(ks.timings["compile"])],
        [f"ks: {ks.result.iterations} iterations", bc.fmt_seconds(ks.timings["solve"])],
        ["ks: total wall", bc.fmt_seconds(ks.timings["wall"])],
    ]
    if rspg is not None:
        rows.append(["rspg: total wall", bc.fmt_seconds(rspg.timings["wall"])])
    ssj = res["ssj"]
    if ssj is None:
        rows.append(["sequence-jacobian", "not importable: skipped (this script installs nothing)"])
    elif "error" in ssj:
        rows.append(["sequence-jacobian", f"failed: {ssj['error']}"])
    else:
        rows += [
            ["sequence-jacobian: steady state", bc.fmt_seconds(ssj["steady_state_s"])],
            ["sequence-jacobian: Jacobians (first / warm)",
             f"{bc.fmt_seconds(ssj['jacobians_first_s'])} / {bc.fmt_seconds(ssj['jacobians_warm_s'])}"],
            ["sequence-jacobian: one IRF from G", bc.fmt_seconds(ssj["irf_s"])],
        ]  # fmt: skip
    bc.print_table(
        f"2d. Wall-clock times ({sz['n_a']} assets x 7 income states, T = {sz['T']})", ["step", "time"], rows
    )
    if res["rspg_note"]:
        print(res["rspg_note"] + "\n")
    if res["parameter_shocks"] is not None:
        rows = [
            [name] + [f"{err[s]:.1e}" for s, *_ in SERIES] for name, err in res["parameter_shocks"].items()
        ]
        bc.print_table(
            "2e. Shocks to declared parameters (dbeta = 0.001 x 0.9^t; labour tax dtau = 0.01 x 0.9^t, rebated): "
            "max over 20 quarters |ours - sequence-jacobian| / its peak",
            ["shock"] + [s for s, *_ in SERIES],
            rows,
            notes=["sequence-jacobian's two-sided finite-difference tables, accurate to ~1e-8 of each peak."],
        )


def figure(res: dict, path: Path, full_reference: bool) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 3.2), layout="constrained")
    axes = fig.subplots(1, 5)
    ref = pd.read_csv(REFERENCE) if (full_reference and REFERENCE.exists()) else None
    styles = {"linear": "-", "ks": "--", "rspg": ":"}
    for ax, (name, col, ref_col, shift) in zip(axes, SERIES):
        for m, tab in res["irfs"].items():
            if col in tab:
                ax.plot(tab.index[:41], tab[col].to_numpy()[:41], styles.get(m, "-"), label=m)
        if ref is not None:
            y = ref[ref_col].to_numpy()[: 41 - shift]
            ax.plot(np.arange(shift, shift + y.size), y, "k.", ms=3, label="sequence-jacobian")
        ax.axhline(0, color="0.8", lw=0.8)
        ax.set_title(f"{name} ({'pp' if name == 'r' else '%'})")
        ax.set_xlabel("quarters")
    axes[0].legend(fontsize=8)
    fig.suptitle("Krusell–Smith (SSJ calibration): response to a 1% TFP shock, persistence 0.9")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main(argv=None) -> None:
    args = bc.parse_args(__doc__.splitlines()[0], argv, _extra, shares=True)
    sz = sizes(args.quick)
    sz["comparison"]["share_grid"] = args.share_grid
    info = bc.machine()
    print(f"machine: {bc.describe_machine(info)}\n")
    bc.log("case 1: the two-state original ...")
    res1 = original_case(sz["original"])
    print_original(res1, sz["original"])
    run_rspg = not args.no_rspg and (not args.quick or args.rspg)
    res2 = comparison_case(sz["comparison"], sz["rspg"] if run_rspg else None, sz["exploitability_paths"])
    full_reference = sz["comparison"]["n_a"] == 500
    print_comparison(res2, sz["comparison"], full_reference)
    fig_path = (
        Path(args.figure)
        if args.figure
        else (None if args.quick else ROOT / "docs" / "figures" / "ks_irfs.png")
    )
    if fig_path is not None:
        figure(res2, fig_path, full_reference)
        print(f"figure: {fig_path}")
    if args.json:
        lin, ks = res2["lin"], res2["ks"]
        bc.emit_json(
            {
                "benchmark": "krusell_smith",
                "case": "quick" if args.quick else "full",
                "sizes": sz,
                "machine": info,
                "original": {k: v for k, v in res1.items() if k != "sol"},
                "comparison": {
                    "irfs": {m: t.reset_index().to_dict(orient="list") for m, t in res2["irfs"].items()},
                    "exploitability": res2["exploitability"],
                    "compare": res2["compare"].reset_index().to_dict(orient="records"),
                    "timings": {
                        "linear": lin.timings,
                        "linear_warm": res2["linear_warm"],
                        "ks": ks.timings,
                        "rspg": None if res2["rspg"] is None else res2["rspg"].timings,
                        "sequence_jacobian": res2["ssj"],
                    },
                    "ks_law_of_motion": ks.result.law_of_motion.reset_index().to_dict(orient="records"),
                    "ks_den_haan": ks.result.den_haan,
                    "rspg_note": res2["rspg_note"],
                    "parameter_shocks": res2["parameter_shocks"],
                },
            }
        )


if __name__ == "__main__":
    main()
