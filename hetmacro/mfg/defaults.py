"""Default options of (R)SPG, keyed by what the game looks like: one table (docs/rspg.md, section 3).

:data:`DEFAULT_RULES` is applied in order; a later rule overrides an earlier one, and keyword options
override all. :func:`default_options` returns the options and the names of the rules that set them
(``sol.result.default_rules``).
"""

from __future__ import annotations

import numpy as np

from ..game import Game

__all__ = ["DEFAULT_RULES", "default_options"]


def _integer_moves(game: Game) -> bool:
    v = np.asarray(game.actions.values, np.float64)
    return bool(np.allclose(v, np.round(v)) and np.allclose(np.diff(v), 1.0))


def _integer_lattice(game: Game) -> bool:
    x = np.asarray(game.grid.points, np.float64)
    return bool(np.allclose(x, np.round(x)) and np.allclose(np.diff(x), 1.0))


def _no_common_noise(game: Game) -> bool:
    return bool(game.noise.deterministic)


#: (what the game looks like, test on the compiled game, settings). Applied in order; later rules
#: override earlier ones; keyword options override all. Documented in docs/rspg.md.
DEFAULT_RULES = (
    (
        "every game (the paper's configuration, mfax_spec.md §D2)",
        lambda g: True,
        {
            "iterations": 200,
            "paths": 8,
            "lr": 1e-3,
            "width": 128,
            "hidden": 128,
            "encoder_depth": 2,
            "signal_depth": 1,
            "head_layers": 0,
            "noise_paths": "auto",
            "eval_paths": 32,
            "eval_every": 20,
            "keep_paths": 8,
            "chunk": 10,
            "grid_scaling": "auto",
            "max_branches": 256,
            "beta_nodes": 8,
            "state_table": False,
            "entropy": 0.0,
            "entropy_until": 0.5,
            "explore": 0.0,
            "date_weights": "discounted",
        },
    ),
    (
        "integer moves on a lattice (ActionGrid.integers): categorical head",
        _integer_moves,
        {"head": "categorical", "lr": 1e-2, "entropy": 3.0, "entropy_until": 0.5},
    ),
    (
        "integer lattice of positions (unit-spaced integer grid): a per-state table in the encoder",
        _integer_lattice,
        {"state_table": True},
    ),
    (
        "any other ordinal action grid (shares, fractions): Kumaraswamy head integrated over the cells",
        lambda g: not _integer_moves(g),
        {"head": "kumaraswamy", "lr": 1e-2},
    ),
    (
        "no common noise: one path suffices (all paths are identical)",
        _no_common_noise,
        {"paths": 1, "eval_paths": 1, "keep_paths": 1},
    ),
)


def default_options(game: Game, method: str = "rspg") -> tuple[dict, list[str]]:
    """The default options for ``game`` and the names of the rules that set them."""
    opts, used = {"time_feature": False}, []
    for name, test, settings in DEFAULT_RULES:
        if test(game):
            opts.update(settings)
            used.append(name)
    return opts, used
