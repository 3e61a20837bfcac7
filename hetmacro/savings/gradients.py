r"""Derivatives of a stationary equilibrium with respect to the economy's parameters, and calibration.

At a stationary equilibrium of a savings economy (:mod:`hetmacro.savings.stationary`) the rate r* solves
the market's gap G(r, theta) = 0, where theta are the model's parameters and G is built from three
fixed points:

1. the household: c = T(c; r, theta), one EGM step (:func:`hetmacro.savings.egm.backward_step`) on the
   consumption policy, with prices p(r, theta) from the economy's market;
2. the distribution: mu = Lambda(mu) / 1'Lambda(mu), one push of the savings policy a'(c)
   (Young's lottery, the Game's ``push``); the normalisation removes the unit eigenvalue of I - Lambda,
   so the fixed point's linearisation is invertible;
3. the market: G = market gap at the households' assets A = sum mu a (r - F_K(A) for a firm).

By the implicit function theorem, dr*/dtheta = -G_theta / G_r, and any aggregate X(r, theta) of the
equilibrium has dX/dtheta = X_theta + X_r dr*/dtheta. The partial derivatives G_r, G_theta, X_r,
X_theta are forward-mode derivatives through the two fixed points, each by its own implicit function
theorem: :func:`optimistix.fixed_point` with an implicit adjoint, whose linear systems
(I - dT/dc) dc = dT/dtheta and (I - dLambda/dmu) dmu = ... lineax solves by GMRES, matrix-free (never
the (n m)^2 Jacobian). The fixed points start at the solved equilibrium, so the forward solves take one
step; the cost of all derivatives is one linear solve per fixed point and parameter (plus one for r).

Only parameters that leave the asset grid and the income chain unchanged can be differentiated this way
(beta, sigma, alpha, delta, Z, tax, ...); a field that builds the grid or the chain (a_min, rho_e, sd_e)
is refused with a message: its derivative would need the grid and the chain to move with it.

:func:`calibrate` matches target moments by a Gauss-Newton / Levenberg-Marquardt solver
(:func:`scipy.optimize.least_squares`) whose Jacobian comes from :func:`gradient`: each step solves
the equilibrium once and differentiates it once.

References: Auclert, Bardóczy, Rognlie and Straub (2021), "Using the sequence-space Jacobian to solve
and estimate heterogeneous-agent models", Econometrica 89(5) (the same implicit differentiation of a
steady state); Blondel et al. (2022), "Efficient and modular implicit differentiation", NeurIPS.
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ..market import CapitalMarket
from . import egm
from .distribution import push_savings
from .economy import consumption_from

__all__ = ["QUANTITIES", "calibrate", "gradient"]

# The equilibrium quantities gradient() reports (those the economy has).
QUANTITIES = ("r", "w", "K", "Y", "C", "A", "saving_rate", "K/Y")


def _optx():
    try:
        import lineax as lx
        import optimistix as optx
    except ImportError as err:  # pragma: no cover - both are dependencies
        raise ImportError(
            "gradients through equilibria need optimistix and lineax: pip install optimistix"
        ) from err
    return optx, lx


def _check_differentiable(model, names) -> None:
    """Refuse fields that are not parameters, or that move the grid or the chain."""
    fields = {f.name: f for f in dataclasses.fields(model)}

    def layout(m):
        grid, chain = m.grid(), m.chain()
        return (
            ("the asset grid", grid.points),
            ("the income chain's values", chain.values),
            ("the income chain's transitions", chain.P),
        )

    base = layout(model)
    for name in names:
        if name not in fields:
            raise ValueError(f"gradient: {type(model).__name__} has no field {name!r}.")
        if fields[name].metadata.get("static", False):
            raise ValueError(f"gradient: {name!r} is static (a size or a switch); it has no derivative.")
        value = float(np.asarray(getattr(model, name)))
        bumped = layout(dataclasses.replace(model, **{name: value * (1 + 1e-4) + 1e-6}))
        moved = [
            what
            for (what, x), (_, y) in zip(base, bumped)
            if not np.array_equal(np.asarray(x), np.asarray(y))
        ]
        if moved:
            raise ValueError(
                f"gradient: {name!r} changes {' and '.join(moved)}; derivatives are taken with the grid and the "
                "chain fixed. Differentiate with respect to parameters of preferences, technology or policy "
                "(beta, sigma, alpha, delta, ...), or use finite differences of hm.solve for this one."
            )


def _with_params(problem, theta: dict):
    """The savings problem with the model's parameters ``theta`` (beta also where the solvers read it)."""
    model = eqx.tree_at(lambda m: [getattr(m, k) for k in theta], problem.game.model, list(theta.values()))
    beta = jnp.asarray(model.discount(), jnp.float64)
    game = eqx.tree_at(lambda g: (g.model, g.beta), problem.game, (model, beta))
    return eqx.tree_at(lambda p: (p.game, p.beta, p.utility), problem, (game, beta, model.utility()))


def _equilibrium_map(problem, c_star, mu_star, rtol: float):
    """(r, theta) -> dict of the equilibrium quantities at rate r, through the two fixed points."""
    from .stationary import _income

    optx, lx = _optx()
    solver = optx.FixedPointIteration(rtol=rtol, atol=rtol)
    adjoint = optx.ImplicitAdjoint(linear_solver=lx.GMRES(rtol=rtol, atol=rtol, restart=50, max_steps=20_000))
    market = problem.market

    def quantities(r, theta):
        pb = _with_params(problem, theta)
        game_r, agg = market.at_rate(pb.game, r, mu_star)
        r_p = agg.values[market.rate]
        y = _income(game_r, agg.values)

        def household(c, _):
            emu = pb.beta * (egm.marginal_value(pb.utility, c, r_p) @ pb.P.T)
            return egm.backward_step(pb.utility, emu, pb.a, pb.a_min, y, r_p)[2]

        c = optx.fixed_point(household, solver, c_star, adjoint=adjoint, max_steps=100_000).value
        a_next = pb.a[:, None] * (1.0 + r_p) + y[None, :] - c

        def distribution(mu, _):
            new = push_savings(game_r, mu, a_next)
            return new / jnp.sum(new)

        mu = optx.fixed_point(distribution, solver, mu_star, adjoint=adjoint, max_steps=1_000_000).value
        agg_mu = market.rebase(game_r, agg, mu)
        A, S = market.excess_supply(game_r, agg_mu, mu)
        implied = market.implied_rate(game_r, A, agg_mu)
        out = {k: v for k, v in agg_mu.values.items() if jnp.ndim(v) == 0}
        goods = jax.vmap(
            lambda c_j, e: game_r.model.consumption(c_j, e, agg_mu.values), in_axes=(1, 0), out_axes=1
        )(c, pb.e)
        out.update(
            gap=market.gap(r, A, S, jnp.nan if implied is None else implied), A=A, C=jnp.sum(mu * goods)
        )
        delta = game_r.model.depreciation()
        if delta is not None and isinstance(market, CapitalMarket) and "Y" in out:
            out["saving_rate"] = delta * out[market.capital] / out["Y"]
            out["K/Y"] = out[market.capital] / out["Y"]
        return out

    return quantities


@eqx.filter_jit
def _directions(problem, a_next_star, mu_star, r, theta, t_r, t_theta, rtol):
    """Directional derivatives of the equilibrium quantities along each (t_r[i], t_theta[i]): dict of (k,).
    The solved savings policy a_next_star is turned into consumption here (inside the compiled function:
    op by op, the capital demand's bisection alone costs more than the derivatives)."""
    from .stationary import _income

    game_r, agg = problem.market.at_rate(problem.game, r, mu_star)
    y = _income(game_r, agg.values)
    c_star = consumption_from(problem.a[:, None], a_next_star, y[None, :], agg.values[problem.market.rate])
    quantities = _equilibrium_map(problem, c_star, mu_star, rtol)
    return jax.vmap(lambda a, b: jax.jvp(quantities, (r, theta), (a, b))[1])(t_r, t_theta)


def gradient(solution, wrt=("beta",), rtol: float = 1e-11) -> pd.DataFrame:
    """d(quantity)/d(parameter) at a stationary equilibrium, by the implicit function theorem.

    Args:
        solution: a ``method="stationary"`` Solution of a savings economy (EGM path), float64.
        wrt: parameter names (fields of the model that leave the grid and the chain unchanged).
        rtol: tolerance of the fixed points' forward steps and of the GMRES solves.

    Returns:
        DataFrame, one row per equilibrium quantity (r, w, K, Y, C, A, saving_rate, K/Y: those the economy
        has), one column per parameter: the total derivative along the equilibrium (prices move with
        the parameter). ``attrs["partials"]`` holds G_r and G_theta of the market's gap.

    Raises:
        ValueError: not a stationary savings-economy Solution, or a parameter that moves the grid or the
            chain (say which), or a market whose gap does not move with r (no isolated equilibrium).
    """
    from .stationary import savings_problem

    if (
        solution.method != "stationary"
        or solution.stationary is None
        or "a_next" not in (solution.policy or {})
    ):
        raise ValueError(
            "gradient: needs the Solution of hm.solve(model, method='stationary') for a savings economy "
            f"(EGM path); got method {solution.method!r}."
        )
    wrt = [wrt] if isinstance(wrt, str) else list(wrt)
    model = solution.model
    _check_differentiable(model, wrt)
    with jax.enable_x64(True):
        problem = savings_problem(model)
        r_star = float(solution.aggregates["r"])
        mu = jnp.asarray(solution.stationary, jnp.float64)
        a_next = jnp.asarray(solution.policy["a_next"], jnp.float64)
        theta = {k: jnp.asarray(getattr(problem.game.model, k), jnp.float64) for k in wrt}
        # Directions: e_r, then e_k for each parameter (one compiled, vmapped call for all).
        k = len(wrt)
        t_r = jnp.eye(k + 1, dtype=jnp.float64)[:, 0]
        t_theta = {name: jnp.eye(k + 1, dtype=jnp.float64)[:, i + 1] for i, name in enumerate(wrt)}
        d = _directions(problem, a_next, mu, jnp.float64(r_star), theta, t_r, t_theta, rtol)
        d = {q: np.asarray(v) for q, v in d.items()}
        G_r = float(d["gap"][0])
        if not abs(G_r) > 0:
            raise ValueError(
                "gradient: the market's gap does not move with r here; the equilibrium is not isolated."
            )
        columns, partials = {}, {"G_r": G_r}
        for i, name in enumerate(wrt, start=1):
            dr = -float(d["gap"][i]) / G_r
            partials[f"G_{name}"] = float(d["gap"][i])
            columns[name] = {q: float(v[i]) + float(v[0]) * dr for q, v in d.items() if q != "gap"}
            columns[name]["r"] = dr
    frame = pd.DataFrame(columns)
    frame = frame.loc[[q for q in (*QUANTITIES, *frame.index) if q in frame.index]]
    frame = frame[~frame.index.duplicated()].rename_axis("quantity")
    frame.attrs.update(
        {
            "description": f"d(quantity)/d(parameter) at the stationary equilibrium of {type(model).__name__}",
            "method": "implicit function theorem (optimistix fixed points, lineax GMRES)",
            "partials": partials,
        }
    )
    return frame


def calibrate(model, targets: dict, free, *, bounds: dict | None = None, tol: float = 1e-10, options=None):
    """Choose the ``free`` parameters so that the stationary equilibrium's quantities hit ``targets``.

    Minimises sum_k ((X_k(theta) - target_k) / max(|target_k|, 1e-3))^2 by a trust-region
    Gauss-Newton method (:func:`scipy.optimize.least_squares`, "trf") whose Jacobian is
    :func:`gradient`'s (one equilibrium solve and one differentiation per step).

    Args:
        model: the economy, with the free parameters at their starting values.
        targets: quantity -> value, quantities from :data:`QUANTITIES` (e.g. {"K/Y": 3.0, "r": 0.04}).
        free: names of the parameters to choose (as many as targets or fewer).
        bounds: name -> (low, high) for the free parameters (default: unbounded).
        tol: tolerance on the scaled residuals and the step (``ftol``, ``xtol``, ``gtol``).
        options: options of ``hm.Stationary`` for each solve.

    Returns:
        (model, solution, report): the calibrated economy, its stationary Solution, and a dict with the
        parameters, the quantities against the targets, the number of solves and scipy's message.

    Raises:
        ValueError: an unknown target, more free parameters than targets, a refused parameter.
    """
    from scipy import optimize

    from ..solvers import Stationary

    free = [free] if isinstance(free, str) else list(free)
    unknown = [k for k in targets if k not in QUANTITIES]
    if unknown:
        raise ValueError(f"calibrate: unknown target(s) {unknown}; use {list(QUANTITIES)}.")
    if len(free) > len(targets):
        raise ValueError(
            f"calibrate: {len(free)} free parameters {free} but {len(targets)} targets: underdetermined."
        )
    _check_differentiable(model, free)
    config = Stationary(**(options or {}))
    names = list(targets)
    scale = np.array([max(abs(float(targets[k])), 1e-3) for k in names])
    goal = np.array([float(targets[k]) for k in names])
    cache: dict = {}

    def solved(x):
        key = tuple(np.asarray(x, np.float64))
        if key not in cache:
            m = dataclasses.replace(model, **{k: float(v) for k, v in zip(free, x)})
            sol = config.solve(m)
            cache.clear()
            cache[key] = (m, sol)
        return cache[key]

    def residual(x):
        _, sol = solved(x)
        values = _quantities(sol)
        return (np.array([values[k] for k in names]) - goal) / scale

    def jacobian(x):
        _, sol = solved(x)
        d = gradient(sol, free)
        return np.array([[d.loc[k, p] for p in free] for k in names]) / scale[:, None]

    x0 = np.array([float(np.asarray(getattr(model, k))) for k in free])
    lo = np.array([(bounds or {}).get(k, (-np.inf, np.inf))[0] for k in free])
    hi = np.array([(bounds or {}).get(k, (-np.inf, np.inf))[1] for k in free])
    fit = optimize.least_squares(
        residual, x0, jac=jacobian, bounds=(lo, hi), method="trf", ftol=tol, xtol=tol, gtol=tol
    )
    m, sol = solved(fit.x)
    values = _quantities(sol)
    report = {
        "parameters": dict(zip(free, map(float, fit.x))),
        "quantities": {k: values[k] for k in names},
        "targets": {k: float(targets[k]) for k in names},
        "solves": int(fit.nfev),
        "jacobians": int(fit.njev or 0),
        "success": bool(fit.success),
        "message": str(fit.message),
    }
    return m, sol, report


def _quantities(sol) -> dict:
    agg = {k: float(v) for k, v in sol.aggregates.items() if np.ndim(v) == 0}
    if "K" in agg and "Y" in agg:
        agg["K/Y"] = agg["K"] / agg["Y"]
    return agg
