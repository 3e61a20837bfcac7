r"""The steady state a sequence-space path starts from, and the economy at one date of the path.

:class:`SteadyState` holds a savings economy's stationary equilibrium in the arrays the sequence-space
solver (:mod:`hetmacro.savings.sequence`) differentiates. At a date of a path the inputs are the market's
unknown as that date's prices read it (K_{t-1} for a capital market, the rate r_t for an asset in given
supply) and the shocked parameters (or log TFP z_t); :func:`_economy` puts them in place and reads the
model's own prices, :func:`_step` is that date's EGM step with the economy's declared utility, income,
discount factor and borrowing limit. :func:`calibrate` finds the discount factor and TFP for target r and
Y. Aggregates other than the unknown are held at their steady state along a path (exact when they depend
only on the income chain, as labour does; checked).
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from scipy import optimize

from ..game import Game, compile
from ..market import CapitalMarket
from ..noise import AR1
from ..solution import Solution
from . import egm
from .economy import SavingsEconomy
from .stationary import SavingsProblem, distribution, household, savings_problem

__all__ = ["SteadyState", "calibrate", "steady_state"]


# --- the steady state ----------------------------------------------------------------------------------
class SteadyState(eqx.Module):
    """A stationary equilibrium in the arrays the sequence-space code differentiates (float64).

    Attributes:
        problem: the no-aggregate-risk economy compiled (:class:`~hetmacro.savings.stationary.SavingsProblem`).
        game: the game whose prices the transition reads (the economy with its aggregate risk when the
            common noise z is shocked, else the no-risk game).
        U: the market's unknown at the steady state (K for capital, the rate for an asset in given supply).
        z: the common noise's steady-state value.
        fixed: the steady-state aggregates other than the unknown (held along the path).
        values: every aggregate and price at the steady state (scalars).
        Va, a_next, c: (n, m) marginal value of assets, savings and goods consumption; mu: (n, m) the
            stationary distribution of a_next; A, C: aggregate assets and consumption.
        unknown: the unknown's name (read by date t's prices with a one-period lag); capital: whether it is
            capital (the households' assets themselves) or the rate of an asset in given supply.
        names: the model's aggregates and prices in the order it declares them (tables follow it).
    """

    problem: SavingsProblem
    game: Game
    U: jnp.ndarray
    z: object
    fixed: dict
    values: dict
    Va: jnp.ndarray
    a_next: jnp.ndarray
    c: jnp.ndarray
    mu: jnp.ndarray
    A: jnp.ndarray
    C: jnp.ndarray
    unknown: str = eqx.field(static=True)
    capital: bool = eqx.field(static=True)
    names: tuple = eqx.field(static=True, default=())

    @property
    def model(self):
        return self.game.model

    @property
    def market(self):
        return self.problem.market

    def aggregates(self) -> dict:
        """Every aggregate and price at the steady state (in the model's order), and A, C, as floats."""
        out = {k: float(self.values[k]) for k in self.names or self.values}
        out.update(A=float(self.A), C=float(self.C))
        return out

    def input_value(self, name: str):
        """The steady-state value of an input: "U", "z", or a parameter of the economy."""
        if name == "U":
            return self.U
        if name == "z":
            return jnp.asarray(self.z, jnp.float64)
        return jnp.asarray(getattr(self.model, name), jnp.float64)


def _economy(ss: SteadyState, x: dict):
    """(game, aggregate state) at one date of a path: inputs x {name: scalar level} in place."""
    game = ss.game
    for name, value in x.items():
        if name not in ("U", "z"):
            game = eqx.tree_at(lambda g, n=name: getattr(g.model, n), game, value)
    fixed = dict(ss.fixed)
    if ss.capital:
        fixed[ss.unknown] = x["U"]
    else:
        game = eqx.tree_at(lambda g: getattr(g.model, ss.unknown), game, x["U"])
    z = x["z"] if "z" in x else ss.z
    return game, game.aggregate_state(ss.mu, z, 0, aggregates=fixed)  # all held: none computed from mu


def _step(ss: SteadyState, Va_next, x: dict):
    """One backward step: (Va, a', c) at a date from Va_{t+1} and the date's inputs x."""
    game, agg = _economy(ss, x)
    model, pb = game.model, ss.problem
    y = jax.vmap(lambda e: model.income(e, agg.values))(pb.e)
    emu = model.discount() * (Va_next @ pb.P.T)
    Va, a_next, c = egm.backward_step(
        model.utility(), emu, pb.a, model.borrowing_limit(), y, agg.values[pb.market.rate]
    )
    c = jax.vmap(lambda c_j, e: model.consumption(c_j, e, agg.values), in_axes=(1, 0), out_axes=1)(c, pb.e)
    return Va, a_next, c


def _price_map(ss: SteadyState, x: dict) -> dict:
    """Every scalar aggregate and price at a date with inputs x."""
    _, agg = _economy(ss, x)
    return {k: v for k, v in agg.values.items() if jnp.ndim(v) == 0}


def _supply(ss: SteadyState, x: dict):
    """What the households' assets must equal at a date: the unknown itself for capital, else the supply."""
    if ss.capital:
        return x["U"]
    game, agg = _economy(ss, x)
    return ss.market.excess_supply(game, agg, ss.mu)[1]


def _check_fixed_aggregates(game: Game, market, mu, name: str) -> None:
    """Refuse an economy whose aggregates other than the market's unknown move with the asset distribution:
    the transition holds them at their steady state (exact for moments of the income chain, as labour)."""
    other = jnp.full((game.n, 1), 1.0 / game.n, mu.dtype) * mu.sum(axis=0)[None, :]
    a, b = market.stationary_aggregates(game, mu), market.stationary_aggregates(game, other)
    moving = [k for k in a if jnp.ndim(a[k]) == 0 and not np.isclose(float(a[k]), float(b[k]), rtol=1e-10)]
    if moving:
        raise NotImplementedError(
            f"{name}: the aggregate(s) {moving} depend on the distribution of assets, but only the market's "
            f"unknown {market.unknown()!r} moves along a sequence-space path (the others are held at their "
            "steady state). Declare them as functions of the income chain, or use method='ks' or 'rspg'."
        )


def _build(problem: SavingsProblem, game: Game, r: float, hh, mu, tol=1e-13) -> SteadyState:
    """A SteadyState at rate r from a converged household solve ``hh`` (its prices and marginal value
    Va, the other aggregates read from mu) and the distribution mu.

    One more EGM step makes (Va, a', c) a fixed point of the step to the household tolerance; the
    distribution is then re-solved for that exact a'."""
    market = problem.market
    with jax.enable_x64(True):
        steady_values = hh.prices
        U = jnp.float64(steady_values[market.capital] if isinstance(market, CapitalMarket) else r)
        fixed = market.stationary_aggregates(problem.game, jnp.asarray(mu))
        if not isinstance(market, CapitalMarket):
            game = eqx.tree_at(lambda g: getattr(g.model, market.rate), game, jnp.float64(r))
        z = game.stationary_noise() if game.noise.deterministic else jnp.zeros((), jnp.float64)
        proto = SteadyState(
            problem,
            game,
            U,
            z,
            fixed,
            {},
            *(jnp.asarray(hh.Va),) * 4,
            jnp.float64(0),
            jnp.float64(0),
            market.unknown(),
            isinstance(market, CapitalMarket),
        )
        x = {"U": U}
        Va, a_next, c = _step_jit(proto, jnp.asarray(hh.Va), x)
        mu = jnp.asarray(distribution(problem, a_next, tol=tol, mu_init=mu).mu)
        _check_fixed_aggregates(problem.game, market, mu, type(problem.model).__name__)
        ss = dataclasses.replace(
            proto, Va=Va, a_next=a_next, c=c, mu=mu, A=jnp.sum(mu * a_next), C=jnp.sum(mu * c)
        )
        values = _price_map(ss, x)  # in the model's declared order
        expected = steady_values
        for k, v in expected.items():
            if not np.isclose(float(values[k]), float(v), rtol=1e-9, atol=1e-12):
                raise ValueError(
                    f"{type(game.model).__name__}: at the steady state its game's {k} = {float(values[k]):.10g} "
                    f"differs from the economy without aggregate risk ({float(v):.10g}): without_aggregate_risk() "
                    "and the common noise's steady state (z = 0) must give the same prices."
                )
        return dataclasses.replace(ss, values=values, names=tuple(values))


def steady_state(model, stationary=None, shocks=(), solution: Solution | None = None) -> SteadyState:
    """The stationary equilibrium of a savings economy as a :class:`SteadyState`.

    Args:
        model: a savings economy; its ``without_aggregate_risk()`` is solved with ``stationary`` (default
            ``hm.Stationary(values=False)``) unless ``solution`` is given.
        shocks: the inputs that will be shocked: with ``"z"`` among them the transition reads the prices of
            the economy with its aggregate risk (an AR(1) common noise at its steady state z = 0).
        solution: a 'stationary' Solution of the economy without aggregate risk (skips that solve).
    """
    from ..solvers import Stationary

    _check_model(model)
    if solution is None:
        solution = (stationary or Stationary(values=False)).solve(model.without_aggregate_risk())
    elif solution.method != "stationary":
        raise ValueError(f"steady_state: expected a 'stationary' Solution, got method {solution.method!r}.")
    problem = savings_problem(solution.model)
    r = float(solution.aggregates["r"])
    with jax.enable_x64(True):
        game = _transition_game(model, solution.model, shocks)
        hh = household(problem, r, tol=1e-13, mu=solution.stationary)
    return _build(problem, game, r, hh, solution.stationary)


def _transition_game(model, base, shocks) -> Game:
    """The game whose prices a path reads: the economy with its AR(1) aggregate risk for "z" shocks."""
    with jax.enable_x64(True):
        if "z" in shocks:
            game = compile(model, dtype=jnp.float64)
            if not isinstance(game.noise, AR1):
                raise ValueError(
                    f"{type(model).__name__}: shock 'z' needs an AR(1) common noise (log TFP) in the economy, "
                    f"not {type(game.noise).__name__}. Shock one of its parameters instead (e.g. 'Z')."
                )
            return game
        return compile(base, dtype=jnp.float64)


def _check_model(model) -> None:
    if not isinstance(model, SavingsEconomy):
        raise TypeError(
            f"the sequence-space solver linearises savings economies (hetmacro.SavingsEconomy); "
            f"{type(model).__name__} is not one."
        )


def calibrate(
    model,
    r: float = 0.01,
    Y: float = 1.0,
    *,
    tfp: str = "Z",
    shocks=(),
    beta_bounds: tuple[float, float] | None = None,
    tol: float = 1e-14,
    hh_tol: float = 1e-12,
    dist_tol: float = 1e-13,
) -> tuple[object, SteadyState]:
    """Calibrate beta and TFP so that the stationary equilibrium has interest rate ``r`` and output ``Y``.

    At rate r the firm's first-order condition fixes capital per unit of TFP: the TFP parameter (field
    ``tfp``) solves Y(Z) = Y at r (the model's own prices at the capital the firm demands, Brent's method
    on log Z). Then beta solves the asset market A(beta) = K^d, A increasing in beta, by Brent's method on
    a bracket found by stepping toward 1/(1 + r) (where A diverges). This is how sequence-jacobian's
    Krusell–Smith notebook calibrates (it solves beta, Z and K jointly with a hybrid Newton method; the
    answer is the same).

    Args:
        model: a savings economy with a capital market (aggregate risk is switched off for the steady state).
        r: target net interest rate per period; Y: target output (the price or aggregate named "Y").
        tfp: the parameter scaling output.
        shocks: the inputs that will be shocked (see :func:`steady_state`).
        beta_bounds: optional bracket for beta (default: found automatically).
        tol: absolute tolerance on beta.

    Returns:
        (calibrated model (the original, aggregate risk kept, with beta and TFP replaced), SteadyState).
    """
    _check_model(model)
    with jax.enable_x64(True):
        base = model.without_aggregate_risk()
        problem0 = savings_problem(base)
        if not isinstance(problem0.market, CapitalMarket):
            raise ValueError(
                "calibrate: targets r and Y need a firm: the economy's market must be a CapitalMarket."
            )

        def output(Z):
            pb = eqx.tree_at(lambda p: getattr(p.game.model, tfp), problem0, jnp.float64(Z))
            return household(pb, r, max_iter=1, throw=False).prices["Y"]  # the prices at r: one EGM step

        Z0 = float(getattr(base, tfp))
        lo, hi = Z0 / 2, Z0 * 2
        while output(lo) > Y:
            lo /= 2
        while output(hi) < Y:
            hi *= 2
        Z = optimize.brentq(lambda z: output(z) - Y, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps)
        base = eqx.tree_at(lambda m: getattr(m, tfp), base, jnp.asarray(Z, jnp.float64))
        problem = savings_problem(base)
        K_demand = household(problem, r, max_iter=1, throw=False).prices[problem.market.capital]
        cache: dict[float, tuple] = {}

        def with_beta(beta):
            pb = eqx.tree_at(lambda p: p.beta, problem, jnp.asarray(beta, jnp.float64))
            return eqx.tree_at(lambda p: p.game.model.beta, pb, jnp.asarray(beta, jnp.float64))

        def supply(beta):
            beta = float(beta)
            if beta in cache:
                return cache[beta]
            pb = with_beta(beta)
            near = min(cache, key=lambda b: abs(b - beta)) if cache else None
            c0 = None if near is None else cache[near][1]
            mu0 = None if near is None else cache[near][2]
            hh = household(pb, r, tol=hh_tol, c_init=c0)
            dist = distribution(pb, hh.a_next, tol=dist_tol, mu_init=mu0)
            cache[beta] = (float(np.sum(dist.mu * np.asarray(pb.a)[:, None])) - K_demand, hh.c, dist.mu)
            return cache[beta]

        b_max = 1.0 / (1.0 + r)
        if beta_bounds is None:
            lo = hi = None
            b = b_max - 0.05
            for k in range(60):
                if supply(b)[0] < 0:
                    lo = b
                    if hi is not None:
                        break
                    b = b_max - (b_max - b) * 0.5
                else:
                    hi = b
                    if lo is not None:
                        break
                    b = b - 0.05 * 2**k
                if b <= 0:
                    break
            if lo is None or hi is None:
                raise ValueError(
                    f"calibrate: no beta in (0, 1/(1 + r)) makes assets equal K = {K_demand:.6g} at r = {r}: "
                    "raise the grid's a_max or choose another target."
                )
        else:
            lo, hi = beta_bounds
        beta = optimize.brentq(lambda b: supply(b)[0], lo, hi, xtol=tol, rtol=4 * np.finfo(float).eps)
        _, c, mu = supply(beta)
        calibrated = eqx.tree_at(
            lambda m: (m.beta, getattr(m, tfp)),
            model,
            (jnp.asarray(beta, jnp.float64), jnp.asarray(Z, jnp.float64)),
        )
        problem = with_beta(beta)
        game = _transition_game(calibrated, calibrated.without_aggregate_risk(), shocks)
        hh = household(problem, r, tol=hh_tol, c_init=c, mu=mu)
        return calibrated, _build(problem, game, r, hh, mu, tol=dist_tol)


_step_jit = jax.jit(_step)
