"""RSPG on Krusell–Smith at its ergodic set, beside the Krusell–Smith algorithm and the linear solution.

On SSJ's Krusell–Smith calibration (AR(1) log TFP, rho 0.9, s.d. 0.01; beta and Z calibrated to
r = 1%, Y = 1 by ``method="linear"``), the three methods solve the same economy:

- ``linear``: sequence-space first-order solution (its IRF is SSJ's to 1e-9);
- ``ks``: the Krusell–Smith algorithm (Rouwenhorst TFP states, log-linear law of motion per state);
- ``rspg``: trained on 40 quarters (``--train-horizon``) from distributions of the ergodic set (a
  simulation under the KS rule), with the stationary value function after the truncation and a warm
  start on the stationary savings rule (``--init linear``: on the linear rule) (docs/rspg.md, "Infinite
  horizon"); judged, like the others, on 40-quarter paths.

Printed (and ``--json``):

1. **Exploitability from the ergodic set**: one batch of starting distributions (a simulation of the
   economy with aggregate shocks under the KS rule, held out from RSPG's training starts), the same
   noise paths, the same horizon and the same continuation value for every policy; clairvoyant upper
   bound, whole horizon and interior window (deviations before H/2).
2. **IRFs to a 1% TFP shock** (h = 0..40): RSPG's generalised IRF from the ergodic starts (common
   random numbers, mean over paths with its standard error) beside the linear and KS IRFs; the largest
   |RSPG - linear| as a share of each series' linear peak.
3. **Ergodic moments** from one long simulation per policy (same noise): mean K, s.d. of log Y,
   corr(C, Y).
4. **Large shocks** (where nonlinearity matters): the response per 1% of TFP to shocks of -10%, -5%, +5%,
   +10% under each policy (the linear IRF scales exactly), from the same ergodic starts.
5. **Wall-clock times** of the three methods in this run, RSPG's with compilation, and its peak memory.

Usage::

    python benchmarks/ks_rspg.py            # 500 assets x 7 income states; RSPG 100 iterations on 40 quarters
    python benchmarks/ks_rspg.py --init linear --train-horizon 80
    python benchmarks/ks_rspg.py --quick    # 80 assets, horizon 30, few iterations (about a minute)
    python benchmarks/ks_rspg.py --json
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as bc  # noqa: E402
import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import numpy as np  # noqa: E402

import hetmacro as hm  # noqa: E402
from hetmacro.mfg import infinite  # noqa: E402
from hetmacro.mfg import starts as st  # noqa: E402
from hetmacro.mfg.exploitability import policy_exploitability  # noqa: E402
from hetmacro.models import KrusellSmith  # noqa: E402

SERIES = ("K (%)", "C (%)", "Y (%)", "r (pp)", "w (%)")
LARGE = (-0.10, -0.05, 0.05, 0.10)


def options(parser):
    parser.add_argument("--init", choices=("stationary", "linear"), default="stationary",
                        help="the rule RSPG is warm-started on (default: stationary)")  # fmt: skip
    parser.add_argument(
        "--train-horizon", type=int, default=None, help="RSPG's training horizon (default 40)"
    )


def sizes(quick: bool) -> dict:
    if quick:
        return {"n_a": 80, "T": 150, "n_z": 3, "n_K": 5, "periods": 1000, "burn_in": 200, "horizon": 30,
                "train_horizon": 30, "iterations": 10, "paths": 4, "irf_paths": 8, "irf_h": 20, "moments_T": 300,
                "init_steps": 150}  # fmt: skip
    return {"n_a": 500, "T": 300, "n_z": 5, "n_K": 5, "periods": 6000, "burn_in": 500, "horizon": 40,
            "train_horizon": 40, "iterations": 100, "paths": 8, "irf_paths": 32, "irf_h": 40, "moments_T": 2000,
            "init_steps": 300}  # fmt: skip


def solve_all(c: dict) -> dict:
    base = KrusellSmith.from_calibration(
        "krusell_smith_1998:ssj", grid_kind="geometric", n_a=c["n_a"], share_grid=c["share_grid"]
    )
    bc.log("linear (calibration, Jacobians, GE) ...")
    t0 = time.perf_counter()
    lin = hm.solve(base, method="linear", calibrate_to={"r": 0.01, "Y": 1.0}, T=c["T"], horizon=40)
    t_lin = time.perf_counter() - t0
    model = lin.model
    bc.log("Krusell–Smith algorithm ...")
    t0 = time.perf_counter()
    ks = hm.solve(model, method="ks", n_z=c["n_z"], n_K=c["n_K"], periods=c["periods"], burn_in=c["burn_in"])
    t_ks = time.perf_counter() - t0
    bc.log(
        f"RSPG ({c['iterations']} iterations, horizon {c['train_horizon']}, warm-started on the {c['init']} rule, from the "
        "ergodic set under the KS rule) ..."
    )
    t0 = time.perf_counter()
    rspg = hm.solve(model, method="rspg", horizon=c["train_horizon"], iterations=c["iterations"], paths=c["paths"],
                    eval_paths=8, keep_paths=2, initial="ergodic", ergodic_policy=ks,
                    init_policy=lin if c["init"] == "linear" else "stationary",
                    init_steps=c["init_steps"], progress=False)  # fmt: skip
    t_rspg = time.perf_counter() - t0
    return {
        "model": model,
        "lin": lin,
        "ks": ks,
        "rspg": rspg,
        "seconds": {"linear": t_lin, "ks": t_ks, "rspg": t_rspg},
    }


def ergodic_batch(model, game, ks, stat, n: int, seed: int = 123):
    """Held-out ergodic starts: a simulation under the KS rule from another key than RSPG's."""
    return st.ergodic_starts(game, ks.policy_fn(), ks.initial_carry(), jax.random.PRNGKey(seed), n,
                             start=st.stationary_start(game, stat), burn_in=200, spacing=10, warmup=40)  # fmt: skip


def exploitability_table(game, policies: dict, starts, keys, H: int) -> dict:
    """Each policy's clairvoyant exploitability from the same starts and noise paths over H dates: mean,
    standard error and the interior figure (deviations before H/2). ``policies``: name -> (policy, carry)."""
    out = {}
    for name, (pol, carry) in policies.items():
        e, i = policy_exploitability(game, pol, carry, starts, keys, H, until=H // 2)
        out[name] = {"mean": float(e.mean()), "se": float(e.std(ddof=1) / np.sqrt(e.size)),
                     "interior": float(i.mean())}  # fmt: skip
    return out


def expl_rows(expl: dict) -> list:
    """The rows of an exploitability table: policy, clairvoyant (s.e.), interior."""
    return [[k, f"{v['mean']:.4g} ({v['se']:.2g})", f"{v['interior']:.4g}"] for k, v in expl.items()]


def moments(game, policy, carry, starts, T: int, seed: int = 77) -> dict:
    """Mean K, s.d. of log Y and corr(C, Y) along one simulation of T dates from the first start."""
    from hetmacro.report.rollout import _roll

    s = starts.take(0)
    if isinstance(policy, hm.NetworkPolicy):
        carry = policy.carry_after(s.history)
    zs = game.noise_path(jax.random.PRNGKey(seed), T, z0=s.z)
    from hetmacro.report._data import _hook_aggregates

    # The policy and the game are arguments, not constants of the trace: XLA would fold the network's
    # layers on the state features at compile time.
    aggs, recs = eqx.filter_jit(
        lambda g, pol, c, z, mu: _roll(g, pol, c, z, record=lambda a, pi: _hook_aggregates(g, a, pi), mu0=mu)
    )(game, policy, carry, zs, s.mu)
    K = np.asarray(aggs.values["K"][:-1])
    Y = np.asarray(aggs.values["Y"][:-1])
    C = np.asarray(recs["c"]) if "c" in recs else np.asarray(recs[next(iter(recs))])
    return {"mean K": float(K.mean()), "sd log Y (%)": float(100 * np.std(np.log(Y))),
            "corr(C, Y)": float(np.corrcoef(C, Y)[0, 1])}  # fmt: skip


def main(argv=None):
    args = bc.parse_args(__doc__.splitlines()[0], argv, extra=options, shares=True)
    c = {**sizes(args.quick), "share_grid": args.share_grid}
    c["init"] = args.init
    if args.train_horizon is not None:
        c["train_horizon"] = args.train_horizon
    info = bc.machine()
    print(f"machine: {bc.describe_machine(info)}\n")
    out = {"benchmark": "ks_rspg", "machine": info, "sizes": c}
    with jax.enable_x64(True):
        res = solve_all(c)
        model, lin, ks, rspg = res["model"], res["lin"], res["ks"], res["rspg"]
        game = rspg.game  # the game RSPG trained on: float64, the stationary value after the truncation
        stat = infinite.stationary_solution(model, game)
        H = c["horizon"]
        bc.log("exploitability of each policy from held-out ergodic starts ...")
        held = ergodic_batch(model, game, ks, stat, 8)
        keys = jax.random.split(jax.random.PRNGKey(2024), 8)
        policies = {"linear": (lin.policy_fn(), lin.initial_carry()), "ks": (ks.policy_fn(), ks.initial_carry()),
                    "rspg": (rspg.policy, None), "stationary rule": infinite.stationary_policy(game, stat)}  # fmt: skip
        expl = exploitability_table(game, policies, held, keys, H)
        rows = expl_rows(expl)
        bc.print_table(
            f"1. Exploitability from the ergodic set ({c['n_a']} assets; horizon {H}, stationary value after it; "
            f"8 held-out starts and noise paths; utility per household)",
            ["policy", "clairvoyant (s.e.)", f"interior (< {H // 2})"],
            rows,
        )
        out["exploitability"] = expl

        bc.log("impulse responses ...")
        h = c["irf_h"]
        irf_r = rspg.irf("z", 0.01, horizon=h, paths=c["irf_paths"], se=True, starts=held)
        irf_l = lin.result.irf
        irf_k = ks.result.irf
        errs, within = {}, {}
        for col in SERIES:
            lin_col = irf_l[col].to_numpy()[: h + 1]
            r_col = irf_r[col].to_numpy()[: h + 1]
            peak = np.max(np.abs(lin_col))
            errs[col] = float(np.max(np.abs(r_col - lin_col)) / peak)
            within[col] = float(
                np.mean(np.abs(r_col - lin_col) <= 2 * irf_r[col + " se"].to_numpy()[: h + 1] + 1e-12)
            )
        rows = []
        for hh in (0, 1, 2, 4, 8, 12, 20, 30, 40):
            if hh > h:
                continue
            row = [str(hh)]
            for col in SERIES:
                row.append(
                    f"{irf_l[col].iloc[hh]:.4f} / {irf_k[col].iloc[hh]:.4f} / {irf_r[col].iloc[hh]:.4f}"
                )
            rows.append(row)
        rows.append(["max |rspg - lin| / peak"] + [f"{errs[col]:.1%}" for col in SERIES])
        rows.append(["share of h within 2 s.e."] + [f"{within[col]:.0%}" for col in SERIES])
        bc.print_table(
            "2. IRF to a 1% TFP shock: linear / ks / rspg (rspg from the ergodic starts)",
            ["h"] + list(SERIES),
            rows,
        )
        out["irf"] = {"max_err_share_of_peak": errs, "within_2se": within}

        bc.log("ergodic moments ...")
        mom = {
            name: moments(game, pol, carry, held, c["moments_T"]) for name, (pol, carry) in policies.items()
        }
        keys_m = list(next(iter(mom.values())))
        bc.print_table(f"3. Ergodic moments ({c['moments_T']} simulated quarters, same noise)", ["policy"] + keys_m,
                       [[n] + [f"{v[k]:.4g}" for k in keys_m] for n, v in mom.items()])  # fmt: skip
        out["moments"] = mom

        bc.log("large shocks ...")
        large = {}
        for name, sol in (("ks", ks), ("rspg", rspg)):
            large[name] = {}
            for size in LARGE:
                f = sol.irf("z", size, horizon=min(h, 20), paths=c["irf_paths"], starts=held)
                large[name][size] = {col: float(f[col].iloc[[1, 4, 8]].to_numpy() @ [1, 1, 1] / 3 / (100 * size)) for col in ("K (%)", "C (%)")}  # fmt: skip
        lin_per = {col: float(irf_l[col].iloc[[1, 4, 8]].mean() / 1.0) for col in ("K (%)", "C (%)")}
        rows = [["linear", "any"] + [f"{lin_per[col]:.4f}" for col in ("K (%)", "C (%)")]]
        for name, by in large.items():
            for size, v in by.items():
                rows.append([name, f"{100 * size:+.0f}%"] + [f"{v[col]:.4f}" for col in ("K (%)", "C (%)")])
        bc.print_table(
            "4. Large TFP shocks: mean response at h = 1, 4, 8 per 1% of TFP",
            ["policy", "shock", "K (% per 1%)", "C (% per 1%)"],
            rows,
        )
        out["large_shocks"] = {k: {str(s): v for s, v in by.items()} for k, by in large.items()}

    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    sec = res["seconds"]
    rows = [["linear (calibration + Jacobians + GE)", bc.fmt_seconds(sec["linear"])],
            ["ks (steady state + iterations)", bc.fmt_seconds(sec["ks"])],
            ["rspg (stationary solve, ergodic simulation, fit, compile, training, evaluation)", bc.fmt_seconds(sec["rspg"])],
            [f"rspg: fit to the {c['init']} rule (mean KL, nats)", f"{rspg.result.init_fit_kl:.4f}"],
            ["process peak memory", f"{peak_gb:.2f} GB"]]  # fmt: skip
    hist = rspg.history()
    target = expl["ks"]["mean"]
    below = (
        hist[hist["eval_exploitability"].notna() & (hist["eval_exploitability"] <= target)]
        if "eval_exploitability" in hist
        else hist.iloc[:0]
    )
    reached = (
        f"iteration {int(below['iteration'].iloc[0])}, {below['seconds'].iloc[0]:.1f} s of training"
        if len(below)
        else "not within the run (on its own evaluation paths)"
    )
    rows.append(["rspg: first evaluation at or below the KS rule's exploitability", reached])  # fmt: skip
    bc.print_table("5. Wall-clock times (this run)", ["step", "time"], rows)
    out.update(seconds=sec, peak_memory_gb=peak_gb, rspg_reached_ks=reached)
    if args.json:
        bc.emit_json(out)


if __name__ == "__main__":
    main()
