r"""Markets: what the households' asset holdings clear against in a stationary equilibrium.

A model declares its market with ``def market(self): return ...``. Every stationary solver, the fast
one for savings economies and the generic one on the Game, searches one interest rate r and reads the
market for three things at a trial rate:

1. **the aggregate state households face** (:meth:`Market.at_rate`): every price at r, computed by the
   model's own ``prices(agg)``, so the stationary solvers and the game cannot disagree;
2. **the excess supply of assets** once the stationary distribution mu of the households' policy at r
   is known (:meth:`Market.excess_supply`): A(r) the households' assets, S(r) what they must equal;
3. **the gap** G(r) that the root-finder drives to zero (:meth:`Market.gap`), increasing in r.

Two kinds of market:

- :class:`CapitalMarket` (Aiyagari, Krusell–Smith): the households' assets are a firm's capital. The
  aggregate named ``capital`` (default ``"K"``) enters the model's ``prices(agg)``, which give the rate
  r(K) = F_K(K, L) - delta: diminishing returns make it fall as K rises. At a trial r the firm demands
  K^d(r), the K at which the prices give r (found by bisection on the model's own prices); the market
  clears when A(r) = K^d(r). The gap is G(r) = r - r(A(r)), with the same root as A - K^d, increasing
  and bounded where A(r) is capped by the top of the asset grid; r(A(r)) (the rate at which the firm
  would absorb what households save, a cobweb step) bounds the root from the other side, which brackets
  it in a few evaluations (:mod:`hetmacro.equilibrium`).
- :class:`AssetSupply` (Huggett's bond economy, government debt): an asset in given supply S, a number
  or any function of the aggregate state (aggregates and prices); :func:`ZeroNetSupply` is S = 0. Its
  rate is an equilibrium price that no function of the distribution gives: it is a parameter of the model
  (field ``rate``, declared with ``param``), which the game's households take as given and the
  stationary solver chooses so that A(r) = S. The gap is G = A - S.

Rates are per model period. References: Aiyagari (1994), QJE 109(3); Huggett (1993), JEDC 17(5).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .model import Distribution

__all__ = ["AssetSupply", "CapitalMarket", "Market", "ZeroNetSupply"]


class Market(eqx.Module):
    """Base class of markets. Subclasses define the methods below; the rate is the price named ``rate``."""

    rate: str = eqx.field(default="r", static=True)

    def at_rate(self, game, r, mu):
        """(game, agg): the game whose households face rate r, and their stationary aggregate state.

        Aggregates other than the market's unknown are computed from ``mu`` (a distribution with the
        income chain's stationary marginal: at a stationary equilibrium they are those of the solution's
        distribution, which the solvers check)."""
        raise NotImplementedError

    def game_at(self, game, r):
        """The game whose households face rate r (the game itself when the rate follows from aggregates)."""
        return game

    def model_at(self, model, r: float):
        """The model whose households face rate r: the model itself when the rate follows from aggregates,
        else the model with its rate parameter set to r (in the parameter's own dtype)."""
        return model

    def rebase(self, game, agg, mu):
        """The aggregate state at the same rate as ``agg``, the other aggregates read from ``mu``."""
        raise NotImplementedError

    def excess_supply(self, game, agg, mu):
        """(A, S): the households' assets under the stationary distribution ``mu`` and their supply."""
        raise NotImplementedError

    def implied_rate(self, game, A, agg):
        """The rate at which the market would clear with the households' assets A (the aggregate state
        ``agg`` gives the other aggregates), or None."""
        return None

    def gap(self, r, A, S, implied):
        """G(r), increasing in r, zero at the equilibrium."""
        raise NotImplementedError

    def gap_scale(self, game) -> float:
        """|G| above which a trial rate is far from the root (1e-4 in G's units): its inner loops may
        stop at loose tolerances there, where only the sign of G matters."""
        return 1e-4

    def lowest_rate(self, game, mu) -> float:
        """The lower end of the search for r (never evaluated); mu gives the other aggregates."""
        raise NotImplementedError

    def unknown(self) -> str:
        """The name of what the market's solvers search: an aggregate or a parameter of the model."""
        raise NotImplementedError

    def check(self, game, agg) -> None:
        """Validate the declaration against the compiled game and its date-0 aggregate state ``agg``
        (raise ValueError naming the fix)."""

    def stationary_aggregates(self, game, mu) -> dict:
        """The aggregates of ``mu`` that the rate search takes as given (all but the market's unknown)."""
        dist = Distribution(mu, game.grid, game.chain)
        values = dict(game.model.aggregates(dist))
        values.pop(self.unknown(), None)
        return values


class CapitalMarket(Market):
    """The households' assets are a firm's capital: the aggregate ``capital`` in ``prices(agg)`` is E[a].

    Args:
        capital: the name of the aggregate that is both the households' assets (``dist.mean("a")`` in
            the model's ``aggregates``) and the firm's capital in its ``prices``.
        rate: the name of the price that is the net return on assets (default ``"r"``).
    """

    capital: str = eqx.field(default="K", static=True)

    def __init__(self, capital: str = "K", rate: str = "r"):
        self.capital = capital
        self.rate = rate

    def unknown(self) -> str:
        return self.capital

    def _rate_at(self, game, K, mu, aggregates=None):
        z = game.stationary_noise()
        agg = game.aggregate_state(mu, z, 0, fixed={self.capital: K}, aggregates=aggregates)
        return agg.values[self.rate]

    def _scale(self, game):
        return jnp.maximum(jnp.max(jnp.abs(game.grid.points)), 1.0)

    def capital_demand(self, game, r, mu):
        """K^d(r): the capital at which the model's prices give the rate r (the firm's first-order
        condition), by bisection on log K over [1e-12, 1e12] x the grid's scale: 64 halvings narrow the 55
        units of log K to 3e-18, below float64's resolution. Its derivatives with respect to r and the
        model's parameters are the implicit function theorem's, dK^d/dr = 1 / r'(K)
        (:func:`jax.lax.custom_root`), so an equilibrium can be differentiated through it. Assumes r(K)
        falls as K rises (diminishing returns)."""
        log_s = jnp.log(self._scale(game))
        dtype = game.dtype
        lo0, hi0 = (log_s + math.log(1e-12)).astype(dtype), (log_s + math.log(1e12)).astype(dtype)
        aggregates = game.aggregates(mu)  # the other aggregates: computed once, outside the loop

        def excess_rate(log_k):
            return self._rate_at(game, jnp.exp(log_k), mu, aggregates) - r

        def bisection(f, _):
            def step(_, bracket):
                lo, hi = bracket
                mid = 0.5 * (lo + hi)
                too_little = f(mid) > 0  # rate above r: demand more
                return jnp.where(too_little, mid, lo), jnp.where(too_little, hi, mid)

            lo, hi = jax.lax.fori_loop(0, 64, step, (lo0, hi0))
            return 0.5 * (lo + hi)

        log_k = jax.lax.custom_root(excess_rate, 0.5 * (lo0 + hi0), bisection, lambda g, y: y / g(1.0))
        return jnp.exp(log_k)

    def at_rate(self, game, r, mu):
        K = self.capital_demand(game, r, mu)
        return game, game.aggregate_state(mu, game.stationary_noise(), 0, fixed={self.capital: K})

    def rebase(self, game, agg, mu):
        return game.aggregate_state(mu, agg.z, agg.t, fixed={self.capital: agg.values[self.capital]})

    def excess_supply(self, game, agg, mu):
        return game.aggregates(mu)[self.capital], agg.values[self.capital]

    def implied_rate(self, game, A, agg):
        return jnp.where(A > 0, self._rate_at(game, jnp.maximum(A, 1e-300), agg.mu, agg.values), jnp.inf)

    def gap(self, r, A, S, implied):
        return r - implied

    def _probe_rates(self, game, mu):
        """(capital stocks, rates) at the distribution mu: three around its mean assets (a check of
        diminishing returns) and a huge one (the lowest rate). Evaluated op by op: the kernels are those
        of the game's own aggregate state, already compiled when the game was."""
        pts = np.asarray(game.grid.points, np.float64)
        aggregates = game.aggregates(mu)
        mean = float(Distribution(mu, game.grid, game.chain).mean(game.grid.name))
        K = max(abs(mean), 0.01 * float(pts[-1] - pts[0])) * np.array([0.5, 1.0, 2.0, 0.0])
        K[-1] = 1e12 * max(float(np.max(np.abs(pts))), 1.0)
        rates = [float(self._rate_at(game, jnp.asarray(k, game.dtype), mu, aggregates)) for k in K]
        return K, np.asarray(rates)

    def lowest_rate(self, game, mu) -> float:
        return float(self._probe_rates(game, mu)[1][-1])

    def check(self, game, agg) -> None:
        name = type(game.model).__name__
        mu = agg.mu
        dist = Distribution(mu, game.grid, game.chain)
        values = game.model.aggregates(dist)
        if self.capital not in values:
            raise ValueError(
                f"{name}.market() is CapitalMarket({self.capital!r}) but aggregates() has no "
                f"{self.capital!r}; it has {sorted(values)}. Fix: name the households' assets, "
                f'e.g. {{"{self.capital}": dist.mean("{game.grid.name}")}}.'
            )
        A, mean = float(values[self.capital]), float(dist.mean(game.grid.name))
        if not math.isclose(A, mean, rel_tol=1e-5, abs_tol=1e-8):
            raise ValueError(
                f"{name}.market() says the aggregate {self.capital!r} is the households' assets, but "
                f"aggregates() gives {self.capital} = {A:.8g} where the mean of {game.grid.name!r} is "
                f"{mean:.8g}. Fix: {self.capital} = dist.mean({game.grid.name!r}), or declare another market."
            )
        if self.rate not in agg.values:
            raise ValueError(f"{name}.prices() has no {self.rate!r}: the market's rate must be a price.")
        K, rates = self._probe_rates(game, mu)
        K, rates = K[:3], rates[:3].tolist()
        if not rates[0] > rates[1] > rates[2]:
            raise ValueError(
                f"{name}: CapitalMarket({self.capital!r}) needs the rate {self.rate!r} to fall as "
                f"{self.capital} rises (a firm with diminishing returns); prices() gives {rates} at "
                f"{self.capital} = {K.tolist()}."
            )


class AssetSupply(Market):
    """An asset in given supply S; its rate (the model's parameter ``rate``) is an equilibrium price.

    Args:
        supply: S, a number (units of the grid variable) or a function ``supply(agg) -> S`` of the
            aggregate state (its aggregates and prices, e.g. ``lambda agg: 0.5 * agg.Y`` for debt at half
            of output).
        rate: the name of the model's field holding the rate (declared with ``param``) and of the
            price the households earn (the game's ``prices`` must return it).
        lowest: the lower end of the rate search (default -1: a gross return 1 + r > 0).
    """

    supply: float | Callable = eqx.field(default=0.0, static=True)
    lowest: float = eqx.field(default=-1.0, static=True)

    def __init__(self, supply: float | Callable = 0.0, rate: str = "r", lowest: float = -1.0):
        if not callable(supply):
            supply = float(supply)
            if not math.isfinite(supply):
                raise ValueError(f"AssetSupply: supply = {supply!r} must be finite.")
        self.supply = supply
        self.rate = rate
        self.lowest = float(lowest)

    def unknown(self) -> str:
        return self.rate

    def game_at(self, game, r):
        return eqx.tree_at(lambda g: getattr(g.model, self.rate), game, jnp.asarray(r, game.dtype))

    def model_at(self, model, r: float):
        value = getattr(model, self.rate)
        # numpy for a numpy parameter: a float64 value is kept without switching x64 on
        as_array = np.asarray if isinstance(value, np.ndarray) else jnp.asarray
        return eqx.tree_at(lambda m: getattr(m, self.rate), model, as_array(r, np.asarray(value).dtype))

    def at_rate(self, game, r, mu):
        game_r = self.game_at(game, r)
        return game_r, game_r.aggregate_state(mu, game.stationary_noise(), 0)

    def rebase(self, game, agg, mu):
        return game.aggregate_state(mu, agg.z, agg.t)

    def excess_supply(self, game, agg, mu):
        A = Distribution(mu, game.grid, game.chain).mean(game.grid.name)
        S = self.supply(agg) if callable(self.supply) else jnp.asarray(self.supply, mu.dtype)
        return A, jnp.asarray(S, mu.dtype)

    def gap(self, r, A, S, implied):
        return A - S

    def gap_scale(self, game) -> float:
        pts = np.asarray(game.grid.points, np.float64)
        return 1e-4 * float(pts[-1] - pts[0])

    def lowest_rate(self, game, mu) -> float:
        return self.lowest

    def stationary_aggregates(self, game, mu) -> dict:
        dist = Distribution(mu, game.grid, game.chain)
        return dict(game.model.aggregates(dist))

    def check(self, game, agg) -> None:
        name = type(game.model).__name__
        fields = {f.name for f in dataclasses.fields(game.model)}
        value = getattr(game.model, self.rate) if self.rate in fields else None
        if not eqx.is_array(value) or np.ndim(value) != 0:
            raise ValueError(
                f"{name}.market() is an asset in given supply whose rate is the field {self.rate!r}, but "
                f"{name}.{self.rate} is {value!r}. Fix: declare it as a scalar parameter, "
                f"{self.rate}: float = hm.param(0.01)."
            )
        got = agg.values.get(self.rate)
        if got is None or not np.allclose(np.asarray(got), np.asarray(value), rtol=1e-6):
            raise ValueError(
                f"{name}: prices() must give the rate {self.rate!r} = {name}.{self.rate} (the price "
                f"households take as given), got {got!r}."
            )


def ZeroNetSupply(rate: str = "r", lowest: float = -1.0) -> AssetSupply:
    """An asset in zero net supply (households lend to each other): A = 0 at the equilibrium rate."""
    return AssetSupply(0.0, rate=rate, lowest=lowest)
