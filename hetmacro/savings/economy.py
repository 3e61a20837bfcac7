r"""Savings economies: households who save in one asset, declared once and read by every solver.

A continuum of households, each with an income state e (a Markov chain) and assets a (a grid), solves

    max E_0 sum_t beta^t u(c_t)   subject to   c_t + a_{t+1} = (1 + r_t) a_t + y(e_t; p_t),   a_{t+1} >= a_min,

where p_t are the prices at date t, r_t the net return on assets held into t and y the non-asset income
(wages, transfers, benefits). A :class:`SavingsEconomy` declares the household side and the market, and
nothing about solvers:

=====================  ====================================================================================
``utility()``          u with u' and (u')^{-1} (:mod:`hetmacro.savings.utility`): ``hm.CRRA(sigma)``, ...
``income(e, p)``       y(e; p): non-asset income of a household in income state e at prices p (a mapping)
``grid()``             the asset grid; its first point is the borrowing limit
``chain()``            the income chain
``market()``           what the assets clear against (:mod:`hetmacro.market`)
``aggregates(dist)``   moments of the distribution, as for every model (the market's capital among them)
``prices(agg)``        prices from the aggregates; they must include the rate ``r``
``beta``               the discount factor (a field, or ``discount()``)
=====================  ====================================================================================

Optional: ``borrowing_limit()`` (default: the grid's first point; a model whose limit is a parameter
returns it, and the grid must start there), ``consumption(c, e, p)`` (goods consumption when the utility's
argument is a composite, e.g. GHH's c - v(n); default c itself).

**The game form is derived**, so the mean-field solvers (``dp``, ``rspg``) and the fast savings solvers
(``stationary``, ``ks``, ``linear``) solve the same economy. The action is the consumption share s of
cash on hand beyond the borrowing limit, on ``n_actions`` cells of [0, 1]:

    x = (1 + r) a + y(e) - a_min,     c = s x,     a' = a_min + (1 - s) x,     reward u(c).

``share_grid="uniform"`` (the default) takes the midpoints of ``n_actions`` equal cells (0.025, 0.075,
..., 0.975 for 20: the paper's macro game). ``share_grid="geometric"`` spaces them geometrically from
``smallest_share`` to 1: adjacent shares differ by one ratio, so a rich household (c / x of a few
percent) chooses its consumption as finely as a poor one, and a constrained household can consume all
of cash on hand. The smallest share defaults to 0.4 / ``n_actions`` (0.02 at 20 shares), so that a
finer grid also reaches smaller shares. It suits economies whose capital is held by households far from
the borrowing limit (Krusell–Smith: its default): with 20 shares on SSJ's Krusell–Smith
calibration the game's own steady state has K 0.14% below the continuous (EGM) one, against 2.7% with
equal cells (``benchmarks/ks_share_grid.py``). Where households crowd the borrowing limit (a Huggett
economy), shares near 1 need the fine spacing of equal cells.

A subclass that overrides ``transition`` or ``reward`` as well is checked when it is compiled: on every
state, action and the initial aggregate state, its functions must agree with the ones derived from its
declarations, or compilation fails naming the mismatch (a different budget is a different model: write
it as a plain :class:`hetmacro.Model`, which the generic stationary solver solves).

The budget appears once, in :func:`consumption_from` (c from a, a') and :func:`assets_from` (a from c,
a'), used by the game form and by every savings solver.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ..grids import ActionGrid
from ..market import AssetSupply, Market
from ..model import Model, static
from .utility import Utility, check_utility

__all__ = ["SHARE_GRIDS", "SavingsEconomy", "assets_from", "consumption_from"]

#: How the consumption shares of the game form are spaced on [0, 1].
SHARE_GRIDS = ("geometric", "uniform")


def consumption_from(a, a_next, y, r):
    """The budget c = (1 + r) a + y - a': consumption of a household that holds a, earns y and saves a'."""
    return (1.0 + r) * a + y - a_next


def assets_from(c, a_next, y, r):
    """The budget solved for the assets held: a = (c + a' - y) / (1 + r) (EGM's endogenous grid)."""
    return (c + a_next - y) / (1.0 + r)


class SavingsEconomy(Model):
    """Base class of economies whose households save in one asset; see the module docstring.

    Fields every savings economy has: ``n_actions`` (consumption shares in the game form), ``share_grid``
    ("uniform", the default, or "geometric"), ``smallest_share`` (the geometric grid's first share; None:
    0.4 / ``n_actions``) and ``T`` (horizon of the game form; None: infinite).
    """

    n_actions: int = static(50)
    share_grid: str = static("uniform")
    smallest_share: float | None = static(None)
    T: int | None = static(None)

    def __check_init__(self):
        name = type(self).__name__
        if self.share_grid not in SHARE_GRIDS:
            raise ValueError(f"{name}.share_grid = {self.share_grid!r}: use one of {list(SHARE_GRIDS)}.")
        if (
            self.share_grid == "geometric"
            and self.smallest_share is not None
            and not 0 < self.smallest_share < 1
        ):
            raise ValueError(
                f"{name}.smallest_share = {self.smallest_share!r}: the smallest consumption share of a "
                "geometric grid must lie in (0, 1) (e.g. 0.02: a rich household consuming 2% of its cash on hand)."
            )

    # --- what the economist declares -------------------------------------------------------------------
    def utility(self) -> Utility:
        raise NotImplementedError(
            f"{type(self).__name__} must define utility() -> hetmacro.Utility (e.g. hm.CRRA)"
        )

    def income(self, e, p):
        raise NotImplementedError(
            f"{type(self).__name__} must define income(e, p): non-asset income in income state e at prices p"
        )

    def market(self) -> Market:
        raise NotImplementedError(
            f"{type(self).__name__} must define market(): hm.CapitalMarket('K'), hm.ZeroNetSupply(), ..."
        )

    def borrowing_limit(self):
        """a_min, the lowest assets a household may hold (default: the asset grid's first point)."""
        return jnp.asarray(self.grid().points[0])

    def depreciation(self):
        """The depreciation rate per period of the capital the households' assets finance (a firm's), or
        None (default). With it, stationary solutions report investment I = delta K, the saving rate
        delta K / Y and the goods market's residual Y - C - delta K."""
        return None

    def consumption(self, c, e, p):
        """Goods consumption when the utility's argument is c (default c; GHH adds the hours cost back)."""
        return c

    def prices(self, agg) -> dict:
        """Prices from the aggregates. Default, for an asset in given supply: its rate, the model's
        parameter (households take it as given). An economy with a firm declares its prices."""
        market = self.market()
        if isinstance(market, AssetSupply):
            try:
                return {market.rate: getattr(self, market.rate)}
            except AttributeError:
                raise ValueError(
                    f"{type(self).__name__}.market() is an asset in given supply whose rate is the field "
                    f"{market.rate!r}, which the class does not have. Fix: declare it as a scalar parameter, "
                    f"{market.rate}: float = hm.param(0.01)."
                ) from None
        raise NotImplementedError(
            f"{type(self).__name__} must define prices(agg): the rate r (and the wage, ...) from the aggregates"
        )

    # --- the game form, derived ------------------------------------------------------------------------
    def actions(self) -> ActionGrid:
        """The consumption shares: ``n_actions`` of them, spaced as ``share_grid`` says (see the class)."""
        if self.share_grid == "uniform" or self.n_actions < 2:
            return ActionGrid.midpoints("consumption share", self.n_actions)
        smallest = self.smallest_share or 0.4 / self.n_actions
        return ActionGrid.geometric("consumption share", self.n_actions, smallest)

    def cash_on_hand(self, s, agg):
        """x = (1 + r) a + y(e) - a_min: what a household can consume or save beyond the borrowing limit."""
        y = self.income(s.e, agg.values)
        return consumption_from(s.a, self.borrowing_limit(), y, agg.r)

    def transition(self, s, share, eps, agg):
        """a' = a_min + (1 - s) x: what the household does not consume, on top of the borrowing limit."""
        return self.borrowing_limit() + (1.0 - share) * self.cash_on_hand(s, agg)

    def reward(self, s, share, agg, next_agg):
        """u(c) with c = s x."""
        return self.utility().u(share * self.cash_on_hand(s, agg))

    def policy_quantities(self, s, share, agg) -> dict:
        """Consumption of the good, c (the utility's argument s x, mapped by ``consumption``)."""
        return {"c": self.consumption(share * self.cash_on_hand(s, agg), s.e, agg.values)}

    # --- checks at compilation -----------------------------------------------------------------------------
    def validate(self, game, agg) -> None:
        """The declaration is consistent: the grid starts at the borrowing limit, the utility is one, the
        market fits the aggregates, and any ``transition`` / ``reward`` the class writes itself agrees
        with the one its declarations imply."""
        name = type(self).__name__
        check_utility(self.utility(), f"{name}.utility()")
        a_min = np.asarray(self.borrowing_limit(), np.float64)
        a0 = float(np.asarray(game.grid.points[0], np.float64))
        if a_min.ndim != 0 or not np.isclose(float(a_min), a0, rtol=1e-6, atol=1e-9):
            raise ValueError(
                f"{name}: the asset grid starts at {a0:g} but the borrowing limit is {a_min}: households "
                "could hold assets the grid does not have (or never reach its first points). Fix: start the "
                "grid at the borrowing limit, hm.Grid('a', points) with points[0] = borrowing_limit()."
            )
        market = self.market()
        if not isinstance(market, Market):
            raise TypeError(f"{name}.market() must return a hetmacro market, got {type(market).__name__}.")
        market.check(game, agg)
        if "r" not in agg.values:
            raise ValueError(f"{name}.prices() must give the rate 'r' households earn on assets.")
        for method in ("transition", "reward"):
            if getattr(type(self), method) is not getattr(SavingsEconomy, method):
                _check_agrees(game, agg, method)


def _check_agrees(game, agg, method: str) -> None:
    """Compare a subclass's own ``method`` with the one derived from its declarations on the whole mesh."""
    model = game.model
    derived = getattr(SavingsEconomy, method)
    own = getattr(model, method)
    if method == "transition":

        def pair(s, share):
            e = game.eps[0]
            return own(s, share, e, agg), derived(model, s, share, e, agg)
    else:

        def pair(s, share):
            return own(s, share, agg, agg), derived(model, s, share, agg, agg)

    mine, theirs = (np.asarray(x, np.float64) for x in game._over_states_actions(pair))
    scale = np.maximum(np.abs(theirs), 1.0)
    rtol = 1e-4 if game.dtype == jnp.float32 else 1e-9
    bad = ~(np.abs(mine - theirs) <= rtol * scale)
    bad &= ~(np.isnan(mine) & np.isnan(theirs))
    if np.any(bad):
        i, j, k = (int(x[0]) for x in np.nonzero(bad))
        a = float(game.grid.points[i])
        e = float(game.chain.values[j])
        s = float(game.actions.values[k])
        what = (
            "the budget a' = a_min + (1 - s) ((1 + r) a + y(e) - a_min)"
            if method == "transition"
            else "the utility of c = s x from utility()"
        )
        raise ValueError(
            f"{type(model).__name__}.{method} disagrees with {what}: at a = {a:.6g}, e = {e:.6g}, "
            f"consumption share s = {s:.4g} it gives {mine[i, j, k]:.8g} where the declarations give "
            f"{theirs[i, j, k]:.8g} ({int(bad.sum())} of {bad.size} state-action pairs differ). The fast "
            "solvers read the declarations, so they would solve another economy. Fix: declare the economics "
            "instead (utility(), income(e, p), the grid's borrowing limit) and drop the override, or write the "
            "model as a plain hetmacro.Model (solved by the generic stationary solver)."
        )
