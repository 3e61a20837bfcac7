"""RSPG / SPG against the exact equilibrium: the paper's macro game without TFP noise.

Without common noise the macro game (calibration ``mfax_macro`` with ``aggregate_risk=False``) is a
deterministic finite-horizon economy whose equilibrium dynamic programming finds exactly
(``hm.solve(model, method="dp")``: best-response iteration, exploitability ~1e-8). That gives the
policy-gradient solvers an independent target: their exploitability (exact here, no noise) and the
distance of their interest-rate path from the equilibrium path, in particular the end of the horizon,
where households spend their wealth down and r rises (the paper's macro finding).

Runs: DP; RSPG and SPG, each with and without the clock input (``time_feature``), 200 iterations,
seed 0, the toolkit's defaults otherwise (one path per iteration: no noise). Prints a table and, in a
full run, writes ``rspg_macro_no_noise.png`` (r_t and the mean consumption share by date) to
``--figures`` (default ``docs/figures``).

Usage::

    python benchmarks/macro_no_noise.py            # about 5 minutes on 2 cores
    python benchmarks/macro_no_noise.py --quick    # 50-point wealth grid, T = 32, 60 iterations
    python benchmarks/macro_no_noise.py --json
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as bc  # noqa: E402
import numpy as np  # noqa: E402
from rspg import mean_share  # noqa: E402  (benchmarks/rspg.py)

import hetmacro as hm  # noqa: E402
from hetmacro.models import Aiyagari  # noqa: E402

VARIANTS = (("rspg", False), ("spg", False), ("rspg", True), ("spg", True))


def main(argv=None):
    def extra(parser):
        parser.add_argument(
            "--figures",
            default=str(Path(__file__).resolve().parent.parent / "docs" / "figures"),
            help="folder for the figure (full run)",
        )

    args = bc.parse_args("RSPG/SPG vs the DP equilibrium, macro game without TFP noise", argv, extra)
    sizes = {"n_a": 50, "T": 32} if args.quick else {}
    iterations = 60 if args.quick else 200
    model = Aiyagari.from_calibration("mfax_macro", aggregate_risk=False, **sizes)
    info = bc.machine()

    bc.log("DP equilibrium ...")
    t0 = time.perf_counter()
    dp = hm.solve(model, method="dp")
    runs = {"DP": {"sol": dp, "wall": time.perf_counter() - t0}}
    for method, clock in VARIANTS:
        name = method.upper() + (" + clock" if clock else "")
        bc.log(f"{name}: {iterations} iterations ...")
        t0 = time.perf_counter()
        sol = hm.solve(
            model, method=method, iterations=iterations, time_feature=clock, seed=0, progress=False
        )
        runs[name] = {"sol": sol, "wall": time.perf_counter() - t0}

    r_dp = dp.paths()["r"].to_numpy()
    T = len(r_dp) - 1
    late = max(T // 8, 2)  # the end of the horizon: the last eighth of the dates
    rows, results = [], []
    for name, run in runs.items():
        sol = run["sol"]
        r = sol.paths()["r"].to_numpy()
        share = mean_share(sol)[0]  # one path: no common noise
        res = {
            "variant": name,
            "exploitability": float(sol.exploitability),
            "wall_s": run["wall"],
            "mean_abs_r_gap_early": float(np.mean(np.abs(r - r_dp)[: T - late])),
            "mean_abs_r_gap_late": float(np.mean(np.abs(r - r_dp)[T - late : T])),
            "r_mid": float(r[T // 2]),
            "r_end": float(r[T - 1]),
            "share_mid": float(share[T // 2]),
            "share_end": float(share[T - 2]),
        }
        run.update(r=r, share=share)
        results.append(res)
        rows.append(
            [
                name,
                f"{res['exploitability']:.3g}",
                f"{res['mean_abs_r_gap_early']:.4f}",
                f"{res['mean_abs_r_gap_late']:.4f}",
                f"{res['r_mid']:.4f}",
                f"{res['r_end']:.4f}",
                f"{res['share_mid']:.3f}",
                f"{res['share_end']:.3f}",
                bc.fmt_seconds(res["wall_s"]),
            ]
        )
    bc.print_table(
        f"Macro game without TFP noise ({model.n_a} wealth x 5 income, T {T}, {iterations} iterations, "
        f"seed 0; {bc.describe_machine(info)})",
        [
            "solver",
            "exploitability",
            f"mean |r - r_DP|, t < {T - late}",
            f"mean |r - r_DP|, last {late}",
            f"r at t = {T // 2}",
            f"r at t = {T - 1}",
            f"share at t = {T // 2}",
            f"share at t = {T - 2}",
            "wall (incl. compile)",
        ],
        rows,
        notes=["exploitability: exact (no common noise), utility units of one household at date 0"],
    )
    out = {"benchmark": "macro_no_noise", "machine": info, "quick": bool(args.quick), "results": results}
    if not args.quick and args.figures:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
        for name, run in runs.items():
            style = {"color": "k", "ls": ":"} if name == "DP" else {"ls": "--" if "clock" in name else "-"}
            axes[0].plot(np.arange(T), run["r"][:T], label=name, lw=1.2, **style)
            # The last date's action does not affect any reward (paper timing, mfax_spec.md §G18):
            # DP breaks that tie at the lowest share, so the share is drawn up to T - 2.
            axes[1].plot(np.arange(T - 1), run["share"][: T - 1], label=name, lw=1.2, **style)
        axes[0].set_title("interest rate r_t")
        axes[1].set_title("mean consumption share of cash on hand")
        for ax in axes:
            ax.set_xlabel("date t")
        axes[0].legend(fontsize=8)
        fig.suptitle(
            f"Macro game without TFP noise: RSPG / SPG ({iterations} iterations) vs the DP equilibrium"
        )
        folder = Path(args.figures)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "rspg_macro_no_noise.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        out["figures"] = [str(path)]
        bc.log("figure:", path)
    if args.json:
        bc.emit_json(out)


if __name__ == "__main__":
    main()
