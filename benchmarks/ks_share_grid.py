"""How the consumption-share grid moves the level of capital: the game's own steady state beside EGM's.

RSPG chooses among ``n_actions`` consumption shares of cash on hand (an ordinal grid), while the
linear solution and the Krusell–Smith algorithm choose consumption continuously (EGM). On SSJ's
Krusell–Smith calibration without aggregate risk (100 assets x 7 income states), the stationary
equilibrium is computed for each spacing of the shares (``share_grid``: "uniform", the midpoints of
equal cells; "geometric", from 0.4 / n_actions to 1, the default) and each number of them:

- ``algorithm="egm"``: continuous consumption (the steady state the linear and KS solutions linearise
  around or start from);
- ``algorithm="policy iteration"``: policy iteration over the game's own discrete shares with its exact
  expectation (the steady state of the game RSPG solves).

Printed: K and r of each, and the gap in K. With ``--rspg N``, RSPG is also trained with N iterations
on the economy with aggregate risk at 20 and 40 shares (warm start on the linear rule, horizon 80) and
the mean K of a 2,000-quarter simulation under its own policy, from its own ergodic set, is printed
beside them.

Usage::

    python benchmarks/ks_share_grid.py               # both spacings, 20, 40, 80 shares (about a minute)
    python benchmarks/ks_share_grid.py --rspg 100    # and RSPG at 20 and 40 shares (many minutes)
    python benchmarks/ks_share_grid.py --json
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as bc  # noqa: E402
import jax  # noqa: E402
from ks_rspg import moments  # noqa: E402

import hetmacro as hm  # noqa: E402
from hetmacro.mfg import infinite  # noqa: E402
from hetmacro.mfg import starts as st  # noqa: E402
from hetmacro.models import KrusellSmith  # noqa: E402


def options(parser):
    parser.add_argument("--rspg", type=int, default=0, help="also train RSPG with this many iterations")
    parser.add_argument("--n-a", type=int, default=100, help="asset grid points (default 100)")


def main(argv=None):
    args = bc.parse_args(__doc__.splitlines()[0], argv, extra=options)
    grids = (20, 40) if args.quick else (20, 40, 80)
    info = bc.machine()
    print(f"machine: {bc.describe_machine(info)}\n")
    out = {"benchmark": "ks_share_grid", "machine": info, "n_a": args.n_a, "rows": []}
    rows = []
    with jax.enable_x64(True):
        for share_grid, n_actions in itertools.product(("uniform", "geometric"), grids):
            base = KrusellSmith.from_calibration(
                "krusell_smith_1998:ssj", grid_kind="geometric", n_a=args.n_a, n_actions=n_actions,
                share_grid=share_grid,
            )  # fmt: skip
            steady = base.without_aggregate_risk()
            egm = hm.solve(steady, method="stationary")
            game_ss = hm.solve(steady, method="stationary", algorithm="policy iteration")
            row = {"share_grid": share_grid, "n_actions": n_actions, "K_egm": egm.aggregates["K"], "r_egm": egm.aggregates["r"],
                   "K_game": game_ss.aggregates["K"], "r_game": game_ss.aggregates["r"]}  # fmt: skip
            if args.rspg and n_actions <= 40:
                bc.log(f"RSPG at {n_actions} {share_grid} shares, {args.rspg} iterations ...")
                t0 = time.perf_counter()
                sol = hm.solve(base, method="rspg", horizon=80, iterations=args.rspg, init_policy="linear",
                               ergodic_policy="linear", progress=False)  # fmt: skip
                row["rspg_seconds"] = time.perf_counter() - t0
                game = sol.game
                stat = infinite.stationary_solution(base, game)
                own = st.ergodic_starts(game, sol.policy, sol.initial_carry(), jax.random.PRNGKey(123), 2,
                                        start=st.stationary_start(game, stat), burn_in=300, spacing=10, warmup=40)  # fmt: skip
                row["K_rspg_own"] = moments(game, sol.policy, None, own, 2000)["mean K"]
            out["rows"].append(row)
            rows.append(
                [
                    share_grid,
                    str(n_actions),
                    f"{row['K_egm']:.4f} ({100 * row['r_egm']:.3f}%)",
                    f"{row['K_game']:.4f} ({100 * row['r_game']:.3f}%)",
                    f"{100 * (row['K_game'] / row['K_egm'] - 1):+.2f}%",
                    f"{row['K_rspg_own']:.4f}" if "K_rspg_own" in row else "-",
                ]  # fmt: skip
            )
    bc.print_table(
        f"Steady state K (r) without aggregate risk, {args.n_a} assets x 7 income states",
        [
            "spacing",
            "shares",
            "EGM (continuous)",
            "game (policy iteration)",
            "game - EGM",
            "RSPG own mean K (with risk)",
        ],
        rows,
    )
    if args.json:
        bc.emit_json(out)


if __name__ == "__main__":
    main()
