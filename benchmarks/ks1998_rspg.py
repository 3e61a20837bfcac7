"""RSPG on Krusell and Smith's (1998) original economy, from its ergodic set, beside the KS algorithm.

The ``krusell_smith_1998`` calibration: two TFP regimes (0.99 / 1.01, mean duration 8 quarters),
employment that moves with them (unemployment 10% / 4%), unemployment insurance, beta 0.99, log
utility. The linear solution does not apply (TFP is a two-state chain, not a small shock around a steady
state), so the comparison is with the Krusell–Smith algorithm (log-linear laws of motion per regime)
and with the stationary savings rule (no aggregate risk).

Printed (and ``--json``): each policy's exploitability from one batch of held-out distributions of the
ergodic set (a simulation under the KS rule), the same noise paths, horizon and continuation value for
every policy (clairvoyant, whole horizon and interior window); the wall-clock times of the KS algorithm
and of RSPG (compilation included).

    python benchmarks/ks1998_rspg.py [--quick] [--json]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as bc  # noqa: E402
import jax  # noqa: E402
from ks_rspg import ergodic_batch, expl_rows, exploitability_table  # noqa: E402

import hetmacro as hm  # noqa: E402
from hetmacro.mfg import infinite  # noqa: E402
from hetmacro.models import KrusellSmith  # noqa: E402


def sizes(quick: bool) -> dict:
    if quick:
        return {"n_a": 60, "n_K": 5, "periods": 1000, "burn_in": 200, "horizon": 30, "iterations": 10,
                "paths": 4, "init_steps": 150}  # fmt: skip
    return {"n_a": 250, "n_K": 7, "periods": 6000, "burn_in": 500, "horizon": 40, "iterations": 100,
            "paths": 8, "init_steps": 300}  # fmt: skip


def main(argv=None):
    args = bc.parse_args(__doc__.splitlines()[0], argv, shares=True)
    c = sizes(args.quick)
    info = bc.machine()
    print(f"machine: {bc.describe_machine(info)}\n")
    out = {"benchmark": "ks1998_rspg", "machine": info, "sizes": c}
    with jax.enable_x64(True):
        model = KrusellSmith.from_calibration(
            "krusell_smith_1998", grid_kind="geometric", n_a=c["n_a"], share_grid=args.share_grid
        )
        bc.log("Krusell–Smith algorithm ...")
        t0 = time.perf_counter()
        ks = hm.solve(model, method="ks", n_K=c["n_K"], periods=c["periods"], burn_in=c["burn_in"])
        t_ks = time.perf_counter() - t0
        bc.log(f"RSPG ({c['iterations']} iterations, horizon {c['horizon']}, from the ergodic set) ...")
        t0 = time.perf_counter()
        rspg = hm.solve(model, method="rspg", horizon=c["horizon"], iterations=c["iterations"], paths=c["paths"],
                        eval_paths=8, keep_paths=2, initial="ergodic", ergodic_policy=ks, init_steps=c["init_steps"],
                        progress=False)  # fmt: skip
        t_rspg = time.perf_counter() - t0
        game = rspg.game
        stat = infinite.stationary_solution(model, game)
        H = c["horizon"]
        bc.log("exploitability of each policy from held-out ergodic starts ...")
        held = ergodic_batch(model, game, ks, stat, 8)
        keys = jax.random.split(jax.random.PRNGKey(2024), 8)
        policies = {
            "ks": (ks.policy_fn(), ks.initial_carry()),
            "rspg": (rspg.policy, None),
            "stationary rule": infinite.stationary_policy(game, stat),
        }
        expl = exploitability_table(game, policies, held, keys, H)
    bc.print_table(
        f"Exploitability from the ergodic set ({c['n_a']} assets x {game.m} employment states; horizon {H}, "
        "stationary value after it; 8 held-out starts and noise paths; utility per household)",
        ["policy", "clairvoyant (s.e.)", f"interior (< {H // 2})"],
        expl_rows(expl),
    )
    bc.print_table("Wall-clock seconds (this run)", ["method", "seconds"],
                   [["ks", f"{t_ks:.1f}"], ["rspg (compile, fit, train, evaluate)", f"{t_rspg:.1f}"]])  # fmt: skip
    out.update(exploitability=expl, seconds={"ks": t_ks, "rspg": t_rspg},
               rspg_exploitability_kind=rspg.exploitability_kind, peak_rss_bytes=bc.peak_rss_bytes())  # fmt: skip
    if args.json:
        bc.emit_json(out)


if __name__ == "__main__":
    main()
