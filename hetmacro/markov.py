r"""Stationary distributions of the mean-field update, without the S x S matrix.

Under a fixed policy the distribution moves by a linear map, one Game ``push``: mu' = A^T mu. Its
stationary distribution solves mu = A^T mu with sum(mu) = 1. :func:`stationary_distribution` finds it
with ``push`` as the only matrix-vector product:

1. a Krylov solve (BiCGSTAB, van der Vorst 1992) of the nonsingular system (I - A^T + u 1^T) mu = u, with
   u uniform (its solution sums to 1 when the stationary distribution is unique): a few hundred pushes
   where plain iteration needs thousands, and over 10^5 when households are nearly as patient as the
   interest rate rewards;
2. plain iteration of ``push`` (Young's 2010 method proper) from there, until one push moves no cell's
   mass by more than ``tol``: the reported error is a true residual. When the Krylov step breaks down,
   the plain iteration does all the work.

Both the stationary solver of savings economies (a deterministic savings policy, one action) and the
generic stationary solver on any Game (a policy over its discrete actions) use it.

References: van der Vorst (1992), "Bi-CGSTAB", SIAM J. Sci. Stat. Comput. 13(2); Young (2010), JEDC 34(1).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["bicgstab", "stationary_distribution"]


def bicgstab(matvec, b, x0, tol, max_iter):
    """BiCGSTAB for matvec(x) = b, stopping at max |residual| <= tol.

    Returns (x, matvecs, max |b - matvec(x)| of the recursive residual). Stops early on breakdown
    (a zero inner product); the caller checks the true residual.
    """
    r = b - matvec(x0)
    rhat = r
    one = jnp.ones((), b.dtype)
    zero = jnp.zeros_like(b)

    def cond(state):
        _, r, _, _, _, _, _, k, ok = state
        return ok & (jnp.max(jnp.abs(r)) > tol) & (k < max_iter)

    def body(state):
        x, r, p, v, rho, alpha, omega, k, _ = state
        rho_new = jnp.vdot(rhat, r)
        beta = (rho_new / rho) * (alpha / omega)
        p = r + beta * (p - omega * v)
        v = matvec(p)
        alpha = rho_new / jnp.vdot(rhat, v)
        s = r - alpha * v
        t = matvec(s)
        omega = jnp.vdot(t, s) / jnp.vdot(t, t)
        x_new = x + alpha * p + omega * s
        r_new = s - omega * t
        ok = jnp.isfinite(omega) & (omega != 0) & jnp.isfinite(alpha) & jnp.all(jnp.isfinite(x_new))
        x_new = jnp.where(ok, x_new, x)
        r_new = jnp.where(ok, r_new, r)
        return x_new, r_new, p, v, rho_new, alpha, omega, k + 2, ok

    init = (x0, r, zero, zero, one, one, one, jnp.asarray(0, jnp.int32), jnp.asarray(True))
    x, r, *_, k, _ = jax.lax.while_loop(cond, body, init)
    return x, k, jnp.max(jnp.abs(r))


def stationary_distribution(push, mu_init, tol, max_iter):
    """The fixed point mu = push(mu), sum(mu) = 1, of a mass-preserving linear map ``push``.

    Args:
        push: mu (n, m) -> mu' (n, m), e.g. ``lambda mu: game.push(mu, pi, kern)``.
        mu_init: (n, m) starting distribution (a warm start).
        tol: stop when one push moves no cell's mass by more than ``tol``.
        max_iter: cap on pushes (the Krylov step takes at most min(max_iter, 20000) of them).

    Returns:
        (mu, pushes, max |push(mu) - mu|).
    """
    u = jnp.full(mu_init.shape, 1.0 / mu_init.size, mu_init.dtype)

    def system(mu):
        return mu - push(mu) + jnp.sum(mu) * u

    mu0 = mu_init / jnp.sum(mu_init)
    mu, k_krylov, _ = bicgstab(system, u, mu0, 0.01 * tol, jnp.minimum(max_iter, 20_000))
    mu = jnp.maximum(mu, 0.0)  # Krylov iterates may carry rounding-size negative masses
    mu = jnp.where(jnp.isfinite(jnp.sum(mu)) & (jnp.sum(mu) > 0), mu / jnp.sum(mu), mu0)

    def cond(state):
        mu_prev, mu, k = state
        first = k == k_krylov  # always take one push, so the reported change is a true residual
        return first | ((jnp.max(jnp.abs(mu - mu_prev)) > tol) & (k < max_iter))

    def body(state):
        _, mu, k = state
        return mu, push(mu), k + 1

    mu_prev, mu, k = jax.lax.while_loop(cond, body, (mu, mu, k_krylov))
    return mu, k, jnp.max(jnp.abs(mu - mu_prev))
