r"""The household's savings problem: endogenous grid method (EGM), and VFI as a cross-check.

The problem, on an asset grid a_0 = a_min < a_1 < ... < a_{n-1} and an income chain (e_j, P):

    V(a, e_j) = max_{c, a'} u(c) + beta sum_{j'} P[j, j'] V(a', e_{j'}),
    c + a' = (1 + r) a + y_j,   a' >= a_min,   u(c) = c^(1 - sigma) / (1 - sigma),

with y_j the non-asset income of state j (wage income plus transfers, from the model). Arrays are laid
out as the Game's: (n, m), asset index first.

**EGM** (Carroll 2006). Given next period's consumption policy c'(a', e'), the Euler equation
u'(c) = beta (1 + r) E[u'(c'(a', e')) | e] gives, for every grid point a' (the *end-of-period* assets),
the consumption c(a', e) = (beta (1 + r) E[c'^(-sigma)])^(-1/sigma) and the cash on hand it takes,
(1 + r) a + y = c + a'. Inverting a(a') by linear interpolation (extrapolated linearly above the top)
gives a'(a, e) on the grid; below the first endogenous point the borrowing limit binds, a' = a_min.
Each step costs O(n m^2) for the expectation and O(n m log n) for the interpolation. Iterating from an
initial guess is time iteration; it converges when beta (1 + r) < 1.

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

__all__ = [
    "egm_invert",
    "egm_step",
    "initial_consumption",
    "interpolate_policy",
    "inverse_marginal_utility",
    "marginal_utility",
    "policy_value",
    "solve_egm",
    "solve_vfi",
    "utility",
]


def utility(c, sigma):
    """u(c) = c^(1 - sigma) / (1 - sigma), log c at sigma = 1 (no additive constant, as the Game's)."""
    is_log = sigma == 1.0
    s = jnp.where(is_log, 2.0, sigma)
    return jnp.where(is_log, jnp.log(c), c ** (1.0 - s) / (1.0 - s))


def marginal_utility(c, sigma):
    """u'(c) = c^(-sigma) (as exp(-sigma log c): a third of the cost of a general power on CPU)."""
    return jnp.exp(-sigma * jnp.log(c))


def inverse_marginal_utility(uc, sigma):
    """(u')^(-1)(uc) = uc^(-1/sigma)."""
    return jnp.exp(-jnp.log(uc) / sigma)


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


def egm_step(c_next, a, P, y, r, beta, sigma):
    """One EGM step: next period's consumption policy c_next (n, m) -> this period's (c, a').

    Args:
        c_next: (n, m) consumption at grid assets a' and income state j'.
        a: (n,) the asset grid (a[0] is the borrowing limit).
        P: (m, m) income transition matrix.
        y: (m,) non-asset income per income state.
        r: net interest rate; beta, sigma: discount factor and CRRA coefficient.

    Returns:
        (c, a_next), both (n, m): consumption and end-of-period assets at (a_i, e_j).
    """
    W = marginal_utility(c_next, sigma) @ P.T  # E[u'(c') | e_j] at each a'
    return egm_invert(beta * (1.0 + r) * W, a, y, r, sigma)


def egm_invert(emu, a, y, r, sigma):
    """The inversion half of an EGM step, given the expected discounted marginal value of saving.

    With emu[i, j] = beta E[(1 + r') u'(c') | a' = a_i, e_j] (next period's return r' may be random or
    differ from today's r: the Krusell-Smith household, a transition path), the Euler equation gives
    c(a_i, e_j) = (u')^(-1)(emu) at end-of-period assets a_i; cash on hand (1 + r) a + y = c + a' is
    inverted for a'(a, e) on the grid, a' >= a[0]. :func:`egm_step` is this with emu = beta (1 + r) E[u'(c')].

    Shapes: emu (n, m), a (n,), y (m,), r scalar -> (c, a_next), both (n, m).
    """
    c_endo = inverse_marginal_utility(emu, sigma)
    a_endo = (c_endo + a[:, None] - y[None, :]) / (1.0 + r)
    a_next = jnp.maximum(interpolate_policy(a, a_endo), a[0])
    c = (1.0 + r) * a[:, None] + y[None, :] - a_next
    return c, a_next


def initial_consumption(a, y, r):
    """A feasible starting guess: eat income plus the return on wealth above the limit, capped at
    what keeps a' >= a_min. Shape (n, m)."""
    excess = (1.0 + r) * a[:, None] + y[None, :] - a[0]
    return jnp.minimum(y[None, :] + jnp.maximum(r, 0.01) * (a[:, None] - a[0]), excess)


def solve_egm(a, P, y, r, beta, sigma, c_init, tol, max_iter):
    """Iterate :func:`egm_step` until the savings policy is within ``tol`` of its fixed point.

    Time iteration converges linearly, ||a'_k - a'_*|| ~ rho^k with rho close to beta (1 + r); the
    change of one step understates the distance to the fixed point by 1/(1 - rho). The stopping rule
    uses the estimate d_k max(1, rho_k / (1 - rho_k)), with d_k = max |a'_k - a'_{k-1}| and
    rho_k = d_k / d_{k-1}, so ``tol`` means distance to the fixed point, not step size.

    Args:
        a, P, y, r, beta, sigma: as :func:`egm_step`.
        c_init: (n, m) starting consumption policy (e.g. a neighbouring r's solution).
        tol: tolerance on the estimated sup-norm distance of a' to the fixed point (units of assets).
        max_iter: iteration cap.

    Returns:
        (c, a_next, iterations, error): policies (n, m), the number of steps taken and the error estimate.
    """

    def cond(state):
        *_, err, k = state
        return (err > tol) & (k < max_iter)

    def body(state):
        c, a_next, d_prev, _, k = state
        c_new, a_new = egm_step(c, a, P, y, r, beta, sigma)
        d = jnp.max(jnp.abs(a_new - a_next))
        rho = jnp.clip(d / d_prev, 0.0, 0.999999)
        return c_new, a_new, d, d * jnp.maximum(1.0, rho / (1.0 - rho)), k + 1

    c0, a0 = egm_step(c_init, a, P, y, r, beta, sigma)
    inf = jnp.asarray(jnp.inf, a.dtype)
    c, a_next, _, err, k = jax.lax.while_loop(cond, body, (c0, a0, inf, inf, jnp.asarray(1, jnp.int32)))
    return c, a_next, k, err


def _expected_value(V, P, a, x):
    """E[V(x, e') | e_j] with V linear between grid points (Young's lottery), x of shape (..., m)."""
    W = V @ P.T  # (n, m): expectation over e' given e_j, at each grid a'
    i, t = lottery(a, x)
    jj = jnp.broadcast_to(jnp.arange(W.shape[1]), x.shape)
    return (1.0 - t) * W[i, jj] + t * W[i + 1, jj]


def policy_value(a, P, y, r, beta, sigma, a_next, V_init, tol, max_iter):
    """The value of a fixed savings policy: V = u(c) + beta E[V(a', e')], iterated to ``tol``."""
    c = (1.0 + r) * a[:, None] + y[None, :] - a_next
    u = utility(c, sigma)

    def cond(state):
        _, err, k = state
        return (err > tol) & (k < max_iter)

    def body(state):
        V, _, k = state
        V_new = u + beta * _expected_value(V, P, a, a_next)
        return V_new, jnp.max(jnp.abs(V_new - V)), k + 1

    V, err, k = jax.lax.while_loop(cond, body, (V_init, jnp.asarray(jnp.inf, a.dtype), 0))
    return V, k, err


def solve_vfi(a, P, y, r, beta, sigma, tol, max_iter, howard_steps=50, search_steps=80):
    """Value function iteration with a continuous choice of a' (golden-section search) and Howard steps.

    The cross-check for :func:`solve_egm`: a different algorithm on the same grid and the same
    interpolation (V linear between grid points). Cost per improvement step:
    O(search_steps x n m log n); use it on small grids.

    Args:
        a, P, y, r, beta, sigma: as :func:`egm_step`.
        tol: tolerance on the sup-norm change of V between improvement steps (utility units).
        max_iter: cap on improvement steps.
        howard_steps: policy-evaluation steps between improvements.
        search_steps: golden-section iterations (the bracket shrinks by 0.618 each).

    Returns:
        (V, c, a_next, iterations, error).
    """
    cash = (1.0 + r) * a[:, None] + y[None, :]
    lo = jnp.broadcast_to(a[0], cash.shape)
    # Keep consumption positive: a' <= cash - c_floor, and a' within the grid.
    c_floor = 1e-10 * jnp.maximum(jnp.max(jnp.abs(cash)), 1.0)
    hi = jnp.clip(cash - c_floor, a[0], a[-1])
    golden = (jnp.sqrt(5.0) - 1.0) / 2.0

    def objective(V, x):
        return utility(cash - x, sigma) + beta * _expected_value(V, P, a, x)

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
        u = utility(cash - a_next, sigma)
        return jax.lax.fori_loop(0, howard_steps, lambda _, v: u + beta * _expected_value(v, P, a, a_next), V)

    def cond(state):
        _, _, err, k = state
        return (err > tol) & (k < max_iter)

    def body(state):
        V, _, _, k = state
        a_next = improve(V)
        V_new = evaluate(V, a_next)
        return V_new, a_next, jnp.max(jnp.abs(V_new - V)), k + 1

    c0 = initial_consumption(a, y, r)
    V0 = utility(c0, sigma) / (1.0 - beta)
    init = (V0, lo, jnp.asarray(jnp.inf, a.dtype), 0)
    V, a_next, err, k = jax.lax.while_loop(cond, body, init)
    a_next = improve(V)
    return V, cash - a_next, a_next, k, err
