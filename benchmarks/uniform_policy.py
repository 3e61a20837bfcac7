"""What "the uniform policy" scores on the macro game, beside the untrained network (docs/rspg.md).

Two different starting points are easy to confuse: the **uniform policy** (every consumption share
equally likely in every state, at every date) and RSPG's **initial network** (iteration 0, before any
training; its heads are not uniform). Both are scored with the clairvoyant exploitability (an upper
bound per common-noise path, as RSPG's evaluation and the reference code score them) on the macro game
(``mfax_macro``: 1000 x 20 states, 128 dates, TFP noise).

Usage::

    python benchmarks/uniform_policy.py            # the macro game (about a minute on 2 cores)
    python benchmarks/uniform_policy.py --quick    # the reduced macro economy (n_a = 50, T = 32)
    python benchmarks/uniform_policy.py --json
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as bc  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import hetmacro as hm  # noqa: E402
from hetmacro.mfg.dp import exploitability  # noqa: E402
from hetmacro.models import Aiyagari  # noqa: E402


def uniform_exploitability(model, paths: int, seed: int = 0):
    """Mean and standard error over ``paths`` fresh noise paths of the uniform policy's clairvoyant
    exploitability (utility units per household at date 0)."""
    game = hm.compile(model)
    pi = jnp.full((game.T, game.n, game.m, game.A), 1.0 / game.A, game.dtype)

    @jax.jit
    def one(key):
        flow = game.rollout_table(key, pi)
        return exploitability(game, flow)[0]

    vals = np.array([float(one(k)) for k in jax.random.split(jax.random.PRNGKey(seed), paths)])
    return vals.mean(), vals.std(ddof=1) / np.sqrt(paths)


def main(argv=None):
    args = bc.parse_args(__doc__.splitlines()[0], argv)
    model = (
        Aiyagari.from_calibration("mfax_macro", n_a=50, T=32)
        if args.quick
        else Aiyagari.from_calibration("mfax_macro")
    )
    paths = 8 if args.quick else 32
    bc.log("uniform policy ...")
    u_mean, u_se = uniform_exploitability(model, paths)
    bc.log("RSPG's initial network (iteration 0) ...")
    sol = hm.solve(model, method="rspg", iterations=1, eval_every=1, seed=0, progress=False)
    hist = sol.history()
    initial = float(hist.loc[hist["iteration"] == 0, "eval_exploitability"].iloc[0])
    rows = [
        ["uniform policy", f"{u_mean:.1f} (s.e. {u_se:.1f}, {paths} paths)"],
        ["RSPG initial network (seed 0)", f"{initial:.1f} (the evaluation paths of the run)"],
    ]
    bc.print_table(
        "Macro game: clairvoyant exploitability of the two starting points",
        ["policy", "exploitability"],
        rows,
    )
    if args.json:
        bc.emit_json(
            {
                "benchmark": "uniform_policy",
                "machine": bc.machine(),
                "quick": bool(args.quick),
                "uniform": {"mean": u_mean, "se": u_se, "paths": paths},
                "initial_network": initial,
            }
        )


if __name__ == "__main__":
    main()
