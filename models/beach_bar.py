r"""The one-dimensional Beach Bar game of the RSPG paper.

Households stand on the cells x in {0, ..., 100} of a beach with a bar at cell b, drawn uniformly
from {25, ..., 75} at the start and observed. A move a in {-5, ..., 5} goes to p = clip(x + a, 0, 100),
projected so that nobody stands on or crosses the bar: from x < b a target p >= b becomes b - 1, from
x > b a target p <= b becomes b + 1. An idiosyncratic step delta in {-2, ..., 2} with probabilities
(0.05, 0.10, 0.70, 0.10, 0.05) is added, clipped and projected again relative to x.

With common noise (``closure=True``) the bar may close: on the step producing date 15 a fair coin closes it for good.
With o_t = 1 while open, 0 once closed,

    u(x_t, a_t) = -|b - x_t| o_t - 101 * 1{|b - x_t| = 1} * 1{o_{t+1} = 0} - |a_t| / 101
                  - c log mu_t(x_t) o_t      (crowd aversion, c = ``crowd_aversion``),

paid on every transition, the last included. Households observe (1 - m_t / 101, o_t, 1 - b / 101).
T = 30, beta = 0.99, mu_0 uniform over the 100 cells other than b.

The paper's game has **no** crowd-aversion term although its description mentions one (its code's
term was identically zero), so the default ``crowd_aversion = 0`` reproduces the paper; a positive
value gives a genuine mean-field game, a different game from the paper's.
"""

import jax.numpy as jnp
import numpy as np

import hetmacro as hm
from hetmacro.model import param, static


class BeachBar(hm.Model):
    """The paper's Beach Bar game; see the module docstring for the equations."""

    close_prob: float = param(0.5)
    crowd_aversion: float = param(0.0)
    beta: float = param(0.99)
    n_cells: int = static(101)
    max_move: int = static(5)
    T: int = static(30)
    closure_date: int = static(15)
    closure: bool = static(True)
    bar: int | None = static(None)

    def __check_init__(self):
        lo, hi = self._bar_range()
        if self.bar is not None and not lo <= self.bar <= hi:
            raise ValueError(f"BeachBar.bar = {self.bar!r}: the bar must stand in [{lo}, {hi}].")

    def _bar_range(self):
        return int(np.floor(0.25 * self.n_cells)), int(np.ceil(0.75 * self.n_cells)) - 1

    def grid(self):
        return hm.Grid("x", np.arange(self.n_cells, dtype=np.float64))

    def actions(self):
        return hm.ActionGrid.integers("move", -self.max_move, self.max_move)

    def shocks(self):
        return np.arange(-2.0, 3.0), np.array([0.05, 0.10, 0.70, 0.10, 0.05])

    def common_noise(self):
        lo, hi = self._bar_range()
        n_bars = 1 if self.bar is not None else hi - lo + 1
        bar = hm.MarkovChain(np.eye(n_bars), np.full(n_bars, 1.0 / n_bars))
        closure = hm.RareEvent(self.close_prob if self.closure else 0.0, at=self.closure_date)
        return hm.Joint(bar=bar, closed=closure)

    def bar_location(self, z):
        """The bar's cell b given the common noise."""
        return self._bar_range()[0] + z["bar"] if self.bar is None else jnp.asarray(self.bar)

    def _project(self, x, p, b):
        return jnp.where((x < b) & (p >= b), b - 1, jnp.where((x > b) & (p <= b), b + 1, p))

    def transition(self, s, a, eps, agg):
        top = self.n_cells - 1
        b = self.bar_location(agg.z)
        p = self._project(s.x, jnp.clip(s.x + a, 0, top), b)
        return self._project(s.x, jnp.clip(p + eps, 0, top), b)

    def aggregates(self, dist):
        return {"m": dist.mean("x")}

    def signals(self, agg):
        return {
            "m": 1 - agg.m / self.n_cells,
            "open": 1.0 - agg.z["closed"],
            # b is an integer: divide by a float of the game's dtype (int / int is float32 even in x64).
            "bar": 1 - self.bar_location(agg.z) / jnp.asarray(self.n_cells, agg.m.dtype),
        }

    def reward(self, s, a, agg, next_agg):
        b = self.bar_location(agg.z)
        dist = jnp.abs(b - s.x)
        is_open, open_next = 1.0 - agg.z["closed"], 1.0 - next_agg.z["closed"]
        crowd = self.crowd_aversion * jnp.log(agg.mu[s.i, s.j] + 1e-8) * is_open
        return (
            -dist * is_open - self.n_cells * (dist == 1) * (1 - open_next) - jnp.abs(a) / self.n_cells - crowd
        )

    def initial_distribution(self, z):
        b = self.bar_location(z)
        cells = jnp.arange(self.n_cells)
        mu = jnp.where(cells == b, 0.0, 1.0 / (self.n_cells - 1))
        return mu[:, None]
