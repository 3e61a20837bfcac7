"""Krusell–Smith with rare disasters: RSPG, which sees the risk, beside the linear rule, which cannot.

SSJ's Krusell–Smith calibration (AR(1) log TFP, rho 0.9, s.d. 0.01; beta and Z calibrated to r = 1%,
Y = 1 by ``method="linear"``) with rare disasters added (Rietz 1988; Barro 2006; Gourio 2012): each
quarter, with probability ``disaster_prob`` = 0.005 (2% a year), log TFP falls by 0.10 on top of its
Gaussian innovation, and recovers at rate rho. The linear method and the Krusell–Smith algorithm refuse
this economy (a first-order solution is certainty-equivalent; Rouwenhorst states cannot hold the jump).
The comparison is therefore the one an economist faces: the linear rule of the economy without
disasters (households who ignore the risk), the stationary rule, and RSPG trained on the economy with
disasters, warm-started on that linear rule and from the ergodic set it generates (the stationary value
after the truncation), so that what RSPG changes is the response to the risk.

Printed (and ``--json``):

1. **Exploitability in the disaster economy** from held-out distributions of its ergodic set (a
   simulation under RSPG's policy), on the same noise paths and horizon for every policy; clairvoyant
   upper bound, whole horizon and interior window.
2. **Ergodic moments** along one long simulation with disasters (same noise for every policy): mean K,
   s.d. of log Y, corr(C, Y), and the number of disasters on the path; and, as a control, RSPG trained
   with the same options on the economy without disasters, simulated there. The gap in mean K between
   the two RSPG economies is the effect of disaster risk on capital, net of RSPG's own error.
3. **A disaster and a boom of the same size** (log TFP -0.10 and +0.10) from the ergodic starts: RSPG's
   responses of K and C per 1% of TFP at h = 1, 4, 8, 20, beside the linear IRF (the same at any size)
   and the control's response to a 1% shock in the economy without disasters.
4. Wall-clock times.

Usage::

    python benchmarks/ks_disaster.py            # 100 assets, horizon 40, 200 iterations (about 7 minutes)
    python benchmarks/ks_disaster.py --quick    # 60 assets, 10 iterations
    python benchmarks/ks_disaster.py --json
"""

from __future__ import annotations

import dataclasses
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as bc  # noqa: E402
import jax  # noqa: E402
import numpy as np  # noqa: E402
from ks_rspg import expl_rows, exploitability_table, moments  # noqa: E402

import hetmacro as hm  # noqa: E402
from hetmacro.mfg import infinite  # noqa: E402
from hetmacro.mfg import starts as st  # noqa: E402
from hetmacro.models import KrusellSmith  # noqa: E402

DISASTER_PROB, DISASTER_SIZE = 0.005, -0.10
HS = (1, 4, 8, 20)


def sizes(quick: bool) -> dict:
    if quick:
        return {"n_a": 60, "horizon": 30, "iterations": 10, "paths": 4, "expl_paths": 8, "irf_paths": 8,
                "moments_T": 400}  # fmt: skip
    return {"n_a": 100, "horizon": 40, "iterations": 200, "paths": 8, "expl_paths": 32, "irf_paths": 32,
            "moments_T": 4000}  # fmt: skip


def main(argv=None):
    args = bc.parse_args(__doc__.splitlines()[0], argv, shares=True)
    c = sizes(args.quick)
    info = bc.machine()
    print(f"machine: {bc.describe_machine(info)}\n")
    out = {"benchmark": "ks_disaster", "machine": info, "sizes": c,
           "disaster": {"prob": DISASTER_PROB, "size": DISASTER_SIZE}}  # fmt: skip
    H = c["horizon"]
    with jax.enable_x64(True):
        base = KrusellSmith.from_calibration(
            "krusell_smith_1998:ssj", grid_kind="geometric", n_a=c["n_a"], share_grid=args.share_grid
        )
        bc.log("linear rule of the economy without disasters ...")
        t0 = time.perf_counter()
        lin = hm.solve(base, method="linear", calibrate_to={"r": 0.01, "Y": 1.0}, T=300, horizon=40)
        t_lin = time.perf_counter() - t0
        model = dataclasses.replace(lin.model, disaster_prob=DISASTER_PROB, disaster_size=DISASTER_SIZE)
        for method in ("linear", "ks"):
            try:
                hm.solve(model, method=method)
            except ValueError as err:
                bc.log(f"{method} on the disaster economy refuses: {str(err)[:110]}...")
        bc.log(f"RSPG on the economy with disasters ({c['iterations']} iterations, horizon {H}) ...")
        t0 = time.perf_counter()
        rspg = hm.solve(model, method="rspg", horizon=H, iterations=c["iterations"], paths=c["paths"],
                        eval_paths=8, keep_paths=2, init_policy=lin, ergodic_policy=lin, progress=False)  # fmt: skip
        t_rspg = time.perf_counter() - t0
        bc.log("control: RSPG on the economy without disasters, the same options ...")
        rspg0 = hm.solve(lin.model, method="rspg", horizon=H, iterations=c["iterations"], paths=c["paths"],
                         eval_paths=8, keep_paths=2, init_policy=lin, ergodic_policy=lin, progress=False)  # fmt: skip
        game = rspg.game  # the disaster economy, with the stationary value after the truncation
        stat = infinite.stationary_solution(model, game)
        policies = {
            "linear rule (no disasters)": (lin.policy_fn(), lin.initial_carry()),
            "stationary rule": infinite.stationary_policy(game, stat),
            "rspg": (rspg.policy, None),
        }
        bc.log("held-out ergodic starts of the disaster economy (a simulation under RSPG's policy) ...")
        held = st.ergodic_starts(game, rspg.policy, rspg.initial_carry(), jax.random.PRNGKey(123), 8,
                                 start=st.stationary_start(game, stat), burn_in=200, spacing=10, warmup=40)  # fmt: skip
        keys = jax.random.split(jax.random.PRNGKey(2024), c["expl_paths"])
        expl = exploitability_table(game, policies, held, keys, H)
        bc.print_table(
            f"1. Exploitability in the disaster economy ({c['n_a']} assets; horizon {H}, stationary value after "
            f"it; 8 held-out ergodic starts x {c['expl_paths']} noise paths; utility per household)",
            ["policy", "clairvoyant (s.e.)", f"interior (< {H // 2})"],
            expl_rows(expl),
        )
        out["exploitability"] = expl

        bc.log("ergodic moments ...")
        zs = game.noise_path(jax.random.PRNGKey(77), c["moments_T"], z0=held.take(0).z)
        jumps = int(np.sum(np.diff(np.asarray(zs)) < DISASTER_SIZE / 2))
        mom = {
            name: moments(game, pol, carry, held, c["moments_T"]) for name, (pol, carry) in policies.items()
        }
        keys_m = list(next(iter(mom.values())))
        bc.print_table(
            f"2. Ergodic moments ({c['moments_T']} simulated quarters with {jumps} disasters, same noise)",
            ["policy"] + keys_m,
            [[n] + [f"{v[k]:.4g}" for k in keys_m] for n, v in mom.items()],
        )
        game0 = rspg0.game
        held0 = st.ergodic_starts(game0, rspg0.policy, rspg0.initial_carry(), jax.random.PRNGKey(123), 8,
                                  start=st.stationary_start(game0, stat), burn_in=200, spacing=10, warmup=40)  # fmt: skip
        control = moments(game0, rspg0.policy, None, held0, c["moments_T"])
        bc.print_table(
            "   control: RSPG trained and simulated without disasters (same options, same seed)",
            ["policy"] + keys_m,
            [["rspg, no disasters"] + [f"{control[k]:.4g}" for k in keys_m]],
        )
        gap = 100 * (mom["rspg"]["mean K"] / control["mean K"] - 1)
        bc.log(f"mean K with disaster risk against without, both by RSPG: {gap:+.2f}%")
        out["moments"], out["disasters_on_path"], out["mean_K_gap_pct"] = mom, jumps, gap
        out["control_moments"] = control

        bc.log("a disaster and a boom ...")
        lin_irf = lin.result.irf
        rows, large = [], {}
        for col in ("K (%)", "C (%)"):
            rows.append(["linear (any size)", col] + [f"{lin_irf[col].iloc[h]:.4f}" for h in HS])
        f0 = rspg0.irf("z", 0.01, horizon=max(HS), paths=c["irf_paths"], starts=held0, se=True)
        for col in ("K (%)", "C (%)"):
            rows.append(
                ["rspg, no disasters, +1%", col]
                + [f"{f0[col].iloc[h]:.4f} ({f0[col + ' se'].iloc[h]:.1g})" for h in HS]
            )
        for size in (DISASTER_SIZE, -DISASTER_SIZE, -0.01):
            f = rspg.irf("z", size, horizon=max(HS), paths=c["irf_paths"], starts=held, se=True)
            large[size] = {}
            for col in ("K (%)", "C (%)"):
                per = f[col].to_numpy() / (100 * size)
                se = f[col + " se"].to_numpy() / abs(100 * size)
                large[size][col] = {h: float(per[h]) for h in HS}
                rows.append([f"rspg {100 * size:+.0f}%", col] + [f"{per[h]:.4f} ({se[h]:.1g})" for h in HS])
        bc.print_table(
            "3. Responses per 1% of TFP (rspg: from the ergodic starts, s.e. in brackets)",
            ["policy, shock", "series"] + [f"h = {h}" for h in HS],
            rows,
        )
        out["responses"] = {str(k): v for k, v in large.items()}

    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    bc.print_table(
        "4. Wall-clock times (this run)",
        ["step", "time"],
        [["linear (calibration + Jacobians + GE)", bc.fmt_seconds(t_lin)],
         ["rspg with disasters (linear warm start, ergodic simulation, fit, compile, training, evaluation)", bc.fmt_seconds(t_rspg)],
         ["process peak memory", f"{peak_gb:.2f} GB"]],
    )  # fmt: skip
    out.update(seconds={"linear": t_lin, "rspg": t_rspg}, peak_memory_gb=peak_gb)
    if args.json:
        bc.emit_json(out)


if __name__ == "__main__":
    main()
