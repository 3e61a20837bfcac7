r"""The household's savings problem: endogenous grid method (EGM), and VFI as a cross-check.

The problem, on an asset grid a_0 = a_min < a_1 < ... < a_{n-1} and an income chain (e_j, P):

    V(a, e_j) = max_{c, a'} u(c) + beta sum_{j'} P[j, j'] V(a', e_{j'}),
    c + a' = (1 + r) a + y_j,   a' >= a_min,

with u the economy's utility (:mod:`hetmacro.savings.utility`) and y_j the non-asset income of state j
(from the economy's ``income``). Arrays are laid out as the Game's: (n, m), asset index first.

**EGM** (Carroll 2006) on the marginal value of assets Va(a, e) = (1 + r) u'(c(a, e)). Given next
period's Va', the Euler equation u'(c) = beta E[Va'(a', e') | e] gives, for every grid point a' (the
*end-of-period* assets), the consumption c(a', e) = (u')^{-1}(beta E[Va']) and, by the budget, the
assets a = (c + a' - y) / (1 + r) it takes. Inverting a(a') by linear interpolation (extrapolated
linearly above the top) gives a'(a, e) on the grid; below the first endogenous point the borrowing limit
binds, a' = a_min. :func:`backward_step` is this one step; the stationary, sequence-space and
Krusell–Smith solvers all use it, each with its own expectation beta E[Va']. Each step costs O(n m^2)
for the expectation and O(n m log n) for the interpolation. Iterating from an initial guess is time
iteration; it converges when beta (1 + r) < 1.

**VFI** (a cross-check only, never the fast path): value function iteration with the continuous choice
of a' found by golden-section search on u((1 + r) a + y - a') + beta E[V(a', e')], where V is linearly
interpolated between grid points (so the expectation is the same Young lottery as the Game's), and
Howard policy-evaluation steps between improvements. Its policy differs from EGM's by the interpolation
error, O(h) in the grid spacing h; both converge to the same policy as the grid is refined.

All loops are ``lax.while_loop`` and jit-compile; use float64 (``with jax.enable_x64(True):``) for
tolerances below ~1e-6.

References: Carroll, C. (2006), "The method of endogenous gridpoints for solving dynamic stochastic
optimization problems", Economics Letters 91(3); Howard, R. (1960), *Dynamic Programming and Markov
Processes*.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..grids import lottery
from .economy import assets_from, consumption_from

__all__ = [
    "backward_step",
    "initial_consumption",
    "interpolate_policy",
    "marginal_value",
    "policy_value",
    "solve_egm",
    "solve_vfi",
]


def interpolate_policy(a, a_endo):
    """a'(a) on the grid from the endogenous points: column j maps a_endo[:, j] -> a (the grid).

    Linear between endogenous points and linearly extrapolated beyond both ends (the caller clips at
    the borrowing limit). ``a_endo`` must be increasing down each column (it is when consumption is
    increasing in cash on hand). Shapes: a (n,), a_endo (n, m) -> (n, m).
    """
    n = a.shape[0]

    def column(xp):
        i = jnp.clip(jnp.searchsorted(xp, a, side="right") - 1, 0, n - 2)
        return a[i] + (a[i + 1] - a[i]) * (a - xp[i]) / (xp[i + 1] - xp[i])

    return jax.vmap(column, in_axes=1, out_axes=1)(a_endo)


def backward_step(utility, emu, a, a_min, y, r):
    """One EGM step: the expected discounted marginal value of saving -> this period's (Va, a', c).

    Args:
        utility: the economy's :class:`~hetmacro.savings.utility.Utility`.
        emu: (n, m), emu[i, j] = beta E[Va'(a', e') | e_j] at end-of-period assets a' = a_i (next
            period's return and discount factor may differ from today's: a transition path, the
            Krusell-Smith household).
        a: (n,) the asset grid; a_min: the borrowing limit (a scalar, at or above a[0]).
        y: (m,) non-asset income per income state; r: this period's net return on assets held.

    Returns:
        (Va, a_next, c), each (n, m): the marginal value (1 + r) u'(c), savings a' >= a_min and
        consumption at (a_i, e_j), with c + a' = (1 + r) a + y.
    """
    c_endo = utility.inverse_marginal(emu)
    a_endo = assets_from(c_endo, a[:, None], y[None, :], r)
    a_next = jnp.maximum(interpolate_policy(a, a_endo), a_min)
    c = consumption_from(a[:, None], a_next, y[None, :], r)
    return (1.0 + r) * utility.marginal(c), a_next, c


def marginal_value(utility, c, r):
    """Va = (1 + r) u'(c), the marginal value of assets held into the period, shape of c."""
    return (1.0 + r) * utility.marginal(c)


def initial_consumption(a, a_min, y, r):
    """A feasible starting guess: eat income plus the return on wealth above the limit, capped at
    what keeps a' >= a_min. Shape (n, m)."""
    excess = consumption_from(a[:, None], a_min, y[None, :], r)
    return jnp.minimum(y[None, :] + jnp.maximum(r, 0.01) * (a[:, None] - a_min), excess)


def solve_egm(utility, a, a_min, P, y, r, beta, Va_init, tol, max_iter):
    """Iterate :func:`backward_step` (with emu = beta E[Va' | e] = beta Va' P^T) to its fixed point.

    Time iteration converges linearly, ||a'_k - a'_*|| ~ rho^k with rho close to beta (1 + r); the
    change of one step understates the distance to the fixed point by 1/(1 - rho). The stopping rule
    uses the estimate d_k max(1, rho_k / (1 - rho_k)), with d_k = max |a'_k - a'_{k-1}| and
    rho_k = d_k / d_{k-1}, so ``tol`` means distance to the fixed point, not step size.

    Args:
        utility, a, a_min, y, r: as :func:`backward_step`; P: (m, m) income chain; beta: discount factor.
        Va_init: (n, m) starting marginal value (e.g. from a neighbouring r's solution).
        tol: tolerance on the estimated sup-norm distance of a' to the fixed point (units of assets).
        max_iter: iteration cap.

    Returns:
        (Va, c, a_next, iterations, error): policies (n, m), the number of steps and the error estimate.
    """

    def step(Va):
        return backward_step(utility, beta * (Va @ P.T), a, a_min, y, r)

    def cond(state):
        *_, err, k = state
        return (err > tol) & (k < max_iter)

    def body(state):
        Va, _, a_next, d_prev, _, k = state
        Va_new, a_new, c_new = step(Va)
        d = jnp.max(jnp.abs(a_new - a_next))
        rho = jnp.clip(d / d_prev, 0.0, 0.999999)
        return Va_new, c_new, a_new, d, d * jnp.maximum(1.0, rho / (1.0 - rho)), k + 1

    Va0, a0, c0 = step(Va_init)
    inf = jnp.asarray(jnp.inf, a.dtype)
    init = (Va0, c0, a0, inf, inf, jnp.asarray(1, jnp.int32))
    Va, c, a_next, _, err, k = jax.lax.while_loop(cond, body, init)
    return Va, c, a_next, k, err


def _expected_value(V, P, a, x):
    """E[V(x, e') | e_j] with V linear between grid points (Young's lottery), x of shape (..., m)."""
    W = V @ P.T  # (n, m): expectation over e' given e_j, at each grid a'
    i, t = lottery(a, x)
    jj = jnp.broadcast_to(jnp.arange(W.shape[1]), x.shape)
    return (1.0 - t) * W[i, jj] + t * W[i + 1, jj]


def policy_value(utility, a, P, y, r, beta, a_next, V_init, tol, max_iter):
    """The value of a fixed savings policy: V = u(c) + beta E[V(a', e')], iterated to ``tol``."""
    u = utility.u(consumption_from(a[:, None], a_next, y[None, :], r))

    def cond(state):
        _, err, k = state
        return (err > tol) & (k < max_iter)

    def body(state):
        V, _, k = state
        V_new = u + beta * _expected_value(V, P, a, a_next)
        return V_new, jnp.max(jnp.abs(V_new - V)), k + 1

    V, err, k = jax.lax.while_loop(cond, body, (V_init, jnp.asarray(jnp.inf, a.dtype), 0))
    return V, k, err


def solve_vfi(utility, a, P, y, r, beta, tol, max_iter, howard_steps=50, search_steps=80):
    """Value function iteration with a continuous choice of a' (golden-section search) and Howard steps.

    The cross-check for :func:`solve_egm`: a different algorithm on the same grid and the same
    interpolation (V linear between grid points). The borrowing limit is the grid's first point. Cost
    per improvement step: O(search_steps x n m log n); use it on small grids.

    Args:
        utility, a, P, y, r, beta: as :func:`solve_egm`.
        tol: tolerance on the sup-norm change of V between improvement steps (utility units).
        max_iter: cap on improvement steps.
        howard_steps: policy-evaluation steps between improvements.
        search_steps: golden-section iterations (the bracket shrinks by 0.618 each).

    Returns:
        (V, c, a_next, iterations, error).
    """
    cash = consumption_from(a[:, None], 0.0, y[None, :], r)
    lo = jnp.broadcast_to(a[0], cash.shape)
    # Keep consumption positive: a' <= cash - c_floor, and a' within the grid.
    c_floor = 1e-10 * jnp.maximum(jnp.max(jnp.abs(cash)), 1.0)
    hi = jnp.clip(cash - c_floor, a[0], a[-1])
    golden = (jnp.sqrt(5.0) - 1.0) / 2.0

    def objective(V, x):
        return utility.u(cash - x) + beta * _expected_value(V, P, a, x)

    def improve(V):
        def step(_, bracket):
            left, right = bracket
            x1 = right - golden * (right - left)
            x2 = left + golden * (right - left)
            better_left = objective(V, x1) >= objective(V, x2)
            return jnp.where(better_left, left, x1), jnp.where(better_left, x2, right)

        left, right = jax.lax.fori_loop(0, search_steps, step, (lo, hi))
        x = 0.5 * (left + right)
        # The corner a' = a_min is often optimal (a binding constraint): compare with it explicitly.
        return jnp.where(objective(V, lo) >= objective(V, x), lo, x)

    def evaluate(V, a_next):
        u = utility.u(cash - a_next)
        return jax.lax.fori_loop(0, howard_steps, lambda _, v: u + beta * _expected_value(v, P, a, a_next), V)

    def cond(state):
        _, _, err, k = state
        return (err > tol) & (k < max_iter)

    def body(state):
        V, _, _, k = state
        a_next = improve(V)
        V_new = evaluate(V, a_next)
        return V_new, a_next, jnp.max(jnp.abs(V_new - V)), k + 1

    c0 = initial_consumption(a, a[0], y, r)
    V0 = utility.u(c0) / (1.0 - beta)
    init = (V0, lo, jnp.asarray(jnp.inf, a.dtype), 0)
    V, a_next, err, k = jax.lax.while_loop(cond, body, init)
    a_next = improve(V)
    return V, cash - a_next, a_next, k, err
