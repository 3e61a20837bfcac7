"""How close RSPG's impulse responses come to the linear solution's, by warm start, training length and seed.

SSJ's Krusell–Smith calibration (AR(1) log TFP; beta and Z calibrated to r = 1%, Y = 1 by
``method="linear"``) on ``--n-a`` assets. For each configuration "init:iterations[:refresh]" and each
seed (``--seeds``) RSPG is trained from the ergodic set of the linear rule (horizon 40 or
``--horizon``, 8 paths per iteration, the stationary value after the truncation), warm-started on the
stationary savings rule (``init_policy="stationary"``) or on the linear rule (``init_policy=<the linear
Solution>``), its starts optionally re-drawn every ``refresh`` iterations under its own policy
(``refresh_starts``); 0 iterations is the warm start alone (the fitted network, no training step).
Then its generalised IRF to a 1% TFP shock (32 paths from its evaluation starts, common random
numbers) is compared with the linear IRF at every horizon 0..40. The first row is the linear rule
itself simulated in the game (the same generalised IRF, from the first run's evaluation starts): what
the game, its share grid and the measurement add on their own.

Printed per configuration and series (K, C, Y, r, w): max over h of |RSPG - linear| as a share of the
linear IRF's peak, the horizon where it is largest, C on impact (both methods), the exploitability on
the evaluation paths, the mean K of a long simulation (2,000 quarters) under RSPG's own policy from its
own ergodic set beside the linear rule's on the same noise, and RSPG's wall time. A 1% shock in log TFP
raises TFP by e^0.01 - 1 = 1.005%: Y and w differ from the linear IRF (which is in log deviations) by
0.5% of their peak on that account alone.

Usage::

    python benchmarks/ks_irf_accuracy.py                  # 100 assets; the configurations of docs/rspg.md
    python benchmarks/ks_irf_accuracy.py --configs linear:0,linear:100 --seeds 0,1,2 --horizon 80
    python benchmarks/ks_irf_accuracy.py --quick          # 60 assets, 5 iterations each
    python benchmarks/ks_irf_accuracy.py --share-grid uniform   # equal share cells (the paper's)
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as bc  # noqa: E402
import jax  # noqa: E402
import numpy as np  # noqa: E402
from ks_rspg import moments  # noqa: E402

import hetmacro as hm  # noqa: E402
from hetmacro.mfg import infinite, rspg  # noqa: E402
from hetmacro.mfg import starts as st  # noqa: E402
from hetmacro.models import KrusellSmith  # noqa: E402

SERIES = ("K (%)", "C (%)", "Y (%)", "r (pp)", "w (%)")
DEFAULT = "stationary:100,stationary:200,linear:100,linear:200,linear:200:25"


def options(parser):
    parser.add_argument("--n-a", type=int, default=None, help="asset grid points (default 100; quick 60)")
    parser.add_argument(
        "--configs", default=None, help=f"comma-separated init:iterations[:refresh] (default {DEFAULT})"
    )
    parser.add_argument("--horizon", type=int, default=40, help="RSPG's training horizon (default 40)")
    parser.add_argument(
        "--seeds", default="0", help="comma-separated seeds, each configuration per seed (default 0)"
    )


def warm_start_only(model, config):
    """The network fitted to ``config.init_policy``, evaluated without a training step."""
    t0 = time.perf_counter()
    setup = rspg.configure(model, config)
    training = rspg._Training.untrained(setup.params)
    return rspg.build(model, setup, training, rspg.evaluate(setup, training), t0)


def accuracy_row(label: str, own, lin_irf, run: dict | None = None) -> list:
    """Largest |own - linear| over h = 0..40 as a share of each series' linear peak, and C on impact."""
    run = {} if run is None else run
    run["series"] = {}
    for col in SERIES:
        ref, got = lin_irf[col].to_numpy()[:41], own[col].to_numpy()[:41]
        share = np.abs(got - ref) / np.max(np.abs(ref))
        run["series"][col] = {"max_share_of_peak": float(share.max()), "at_h": int(share.argmax())}
    run["C_impact"] = {"rspg": float(own["C (%)"].iloc[0]), "linear": float(lin_irf["C (%)"].iloc[0])}
    cells = [f"{v['max_share_of_peak']:.1%} (h={v['at_h']})" for v in run["series"].values()]
    return [label] + cells + [f"{run['C_impact']['rspg']:.3f} / {run['C_impact']['linear']:.3f}"]


def main(argv=None):
    args = bc.parse_args(__doc__.splitlines()[0], argv, extra=options, shares=True)
    n_a = args.n_a or (60 if args.quick else 100)
    seeds = [int(x) for x in args.seeds.split(",")]
    configs = [(c.split(":") + [0])[:3] for c in (args.configs or ("stationary:5,linear:5:2" if args.quick else DEFAULT)).split(",")]  # fmt: skip
    info = bc.machine()
    print(f"machine: {bc.describe_machine(info)}\n")
    out = {"benchmark": "ks_irf_accuracy", "machine": info, "n_a": n_a, "horizon": args.horizon, "runs": []}
    with jax.enable_x64(True):
        base = KrusellSmith.from_calibration(
            "krusell_smith_1998:ssj", grid_kind="geometric", n_a=n_a, share_grid=args.share_grid
        )
        lin = hm.solve(base, method="linear", calibrate_to={"r": 0.01, "Y": 1.0}, T=300, horizon=40)
        lin_irf = lin.result.irf
        rows = []
        stat = None
        first_starts = None
        for (init, iterations, refresh), seed in itertools.product(configs, seeds):
            iterations, refresh = int(iterations), int(refresh) or None
            bc.log(
                f"RSPG, init_policy={init}, {iterations} iterations, refresh_starts={refresh}, seed {seed} ..."
            )
            t0 = time.perf_counter()
            config = hm.RSPG(horizon=args.horizon, iterations=max(iterations, 1), paths=8, eval_paths=8, keep_paths=2,
                             initial="ergodic", ergodic_policy=lin, init_steps=300, refresh_starts=refresh,
                             init_policy={"stationary": "stationary", "linear": lin}[init], progress=False, seed=seed)  # fmt: skip
            sol = hm.solve(lin.model, config) if iterations else warm_start_only(lin.model, config)
            seconds = time.perf_counter() - t0
            if first_starts is None:
                first_starts = sol.result.starts
                rows.append(
                    accuracy_row(
                        "linear rule, simulated in the game",
                        lin.irf("z", 0.01, horizon=40, paths=32, starts=first_starts),
                        lin_irf,
                    )
                    + ["-", "-", "-"]
                )
            own = sol.irf("z", 0.01, horizon=40, paths=32, se=True)
            run = {"init": init, "iterations": iterations, "refresh": refresh, "seed": seed, "seconds": seconds,
                   "exploitability": sol.exploitability}  # fmt: skip
            game = sol.game
            stat = stat or infinite.stationary_solution(lin.model, game)
            own_set = st.ergodic_starts(game, sol.policy, sol.initial_carry(), jax.random.PRNGKey(123), 2,
                                        start=st.stationary_start(game, stat), burn_in=300, spacing=10, warmup=40)  # fmt: skip
            run["mean_K"] = {"rspg": moments(game, sol.policy, None, own_set, 2000)["mean K"],
                             "linear rule": moments(game, lin.policy_fn(), lin.initial_carry(), own_set, 2000)["mean K"]}  # fmt: skip
            row = accuracy_row(
                f"{init}, {iterations} its"
                + (f", re-drawn /{refresh}" if refresh else "")
                + f", seed {seed}",
                own,
                lin_irf,
                run,
            )
            out["runs"].append(run)
            rows.append(
                row
                + [
                    f"{run['exploitability']:.4f}",
                    f"{run['mean_K']['rspg']:.3f} / {run['mean_K']['linear rule']:.3f}",
                    bc.fmt_seconds(seconds),
                ]
            )
    bc.print_table(
        f"max |RSPG - linear| / linear peak over h = 0..40, 1% TFP shock ({n_a} assets x 7 income states, "
        f"RSPG horizon {args.horizon})",
        ["warm start, training"]
        + list(SERIES)
        + ["C at h=0 rspg / linear", "exploitability", "mean K rspg / linear rule", "RSPG time"],
        rows,
    )
    if args.json:
        bc.emit_json(out)


if __name__ == "__main__":
    main()
