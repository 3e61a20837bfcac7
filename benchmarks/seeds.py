"""RSPG and SPG over seeds and learning rates on the paper's macro game, in one hm.sweep call each.

The paper's macro finding (mfax_spec.md §F): at the end of the horizon, households with memory (RSPG)
and without (SPG) settle on different prices and consumption. One seed shows one draw of it; this
benchmark trains both methods over 3 seeds x 3 learning rates (``hm.sweep(model, {"seed": ..., "lr":
...}, method=...)``, locally or on a Dask cluster with ``--dask``), reads r, w and the mean consumption
share over the last 16 dates of each cell's evaluation paths (a ``summarise`` hook, computed where the
cell runs), and reports the RSPG - SPG differences with their spread across seeds, and a figure of the
mean paths with bands (min..max over seeds at the best learning rate) in docs/figures/rspg_seeds.png.

    python benchmarks/seeds.py [--quick] [--json] [--iterations N] [--dask]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _common as bc  # noqa: E402
import numpy as np  # noqa: E402

import hetmacro as hm  # noqa: E402
from hetmacro.models import Aiyagari  # noqa: E402

SEEDS = (0, 1, 2)
LRS = (3e-4, 1e-3, 3e-3)
LATE = 16  # the last dates of the horizon the finding is read over


def summarise(sol) -> dict:
    """r, w and the consumption share: their mean paths, and their means over the last LATE dates."""
    from rspg import macro_paths  # benchmarks/rspg.py, beside this file (also on a worker's path)

    p = macro_paths(sol)
    out = {
        f"{k}_late": float(np.mean(np.asarray(p[k])[: len(p["share"])][-LATE:])) for k in ("r", "w", "share")
    }
    out.update({f"{k}_path": np.asarray(p[k], np.float64).tolist() for k in ("r", "w", "share")})
    return out


def main():
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--dask", action="store_true", help="run the cells on a local two-worker Dask cluster"
    )
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--figures", default=str(HERE.parent / "docs" / "figures"))
    args = parser.parse_args()
    iterations = args.iterations or (4 if args.quick else 40)
    model = (
        Aiyagari.from_calibration("mfax_macro", n_a=50, T=32)
        if args.quick
        else Aiyagari.from_calibration("mfax_macro")
    )
    grid = {"seed": list(SEEDS[:2] if args.quick else SEEDS), "lr": list(LRS[1:2] if args.quick else LRS)}
    options = dict(iterations=iterations, paths=8, noise_paths="sample", eval_every=iterations, eval_paths=8)
    client = None
    if args.dask:
        from dask.distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)
        client = Client(cluster)
        client.upload_file(str(HERE / "rspg.py"))
        client.upload_file(str(HERE / "_common.py"))
    tables, seconds = {}, {}
    for method in ("rspg", "spg"):
        bc.log(f"{method}: {len(grid['seed']) * len(grid['lr'])} cells x {iterations} iterations ...")
        t0 = time.perf_counter()
        config = hm.configure(method, progress=False, **options)  # the cells' own bars off, the sweep's on
        tables[method] = hm.sweep(model, grid, method=config, client=client, summarise=summarise)
        seconds[method] = time.perf_counter() - t0
    if client is not None:
        client.close()
        cluster.close()
    rows, result = [], {"iterations": iterations, "seconds": seconds, "cells": {}}
    for method, table in tables.items():
        for (seed, lr), row in table.iterrows():
            result["cells"][f"{method} seed {seed} lr {lr:g}"] = {
                k: row[k] for k in ("exploitability", "r_late", "w_late", "share_late", "seconds", "status")
            }
    best = {m: t.groupby(level="lr")["exploitability"].mean().idxmin() for m, t in tables.items()}
    for lr in grid["lr"]:
        r, s = tables["rspg"].xs(lr, level="lr"), tables["spg"].xs(lr, level="lr")
        diff = {k: (r[f"{k}_late"] - s[f"{k}_late"]).to_numpy() for k in ("r", "w", "share")}
        rows.append(
            [f"{lr:g}"]
            + [
                f"{np.mean(diff[k]):+.5f} [{np.min(diff[k]):+.5f}, {np.max(diff[k]):+.5f}]"
                for k in ("r", "w", "share")
            ]
            + [f"{r['exploitability'].mean():.3g} / {s['exploitability'].mean():.3g}"]
        )
        result[f"lr {lr:g}"] = {k: diff[k].tolist() for k in diff}
    bc.print_table(
        f"RSPG - SPG over the last {LATE} dates: mean over seeds [min, max] ({len(grid['seed'])} seeds, {iterations} iterations)",
        ["lr", "r", "w", "consumption share", "exploitability RSPG / SPG"],
        rows,
        notes=[
            f"best learning rate (lowest mean exploitability): RSPG {best['rspg']:g}, SPG {best['spg']:g}"
        ],
    )
    if not args.quick:
        _figure(tables, best, Path(args.figures) / "rspg_seeds.png")
    if args.json:
        bc.emit_json({"benchmark": "seeds", "machine": bc.machine(), "results": result})


def _figure(tables, best, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for method, color in (("rspg", "C0"), ("spg", "C3")):
        cells = tables[method].xs(best[method], level="lr")
        for ax, key, title in zip(
            axes, ("r", "w", "share"), ("interest rate r_t", "wage w_t", "mean consumption share")
        ):
            paths = np.array(
                [np.asarray(p)[: len(cells["share_path"].iloc[0])] for p in cells[f"{key}_path"]]
            )
            t = np.arange(paths.shape[1])
            ax.plot(t, paths.mean(0), color=color, label=f"{method.upper()} (lr {best[method]:g})")
            ax.fill_between(t, paths.min(0), paths.max(0), color=color, alpha=0.25, linewidth=0)
            ax.set_title(title)
            ax.set_xlabel("date t")
    axes[0].legend(frameon=False)
    fig.suptitle(
        f"Macro game: mean over 8 evaluation paths; bands: min..max over {len(cells)} seeds", fontsize=10
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    bc.log(f"wrote {path}")


if __name__ == "__main__":
    main()
