r"""Period utility functions u(c) with the marginal utility u'(c) and its inverse (u')^{-1}.

The endogenous grid method needs (u')^{-1} in closed form: the Euler equation u'(c) = beta E[Va'] gives
consumption as c = (u')^{-1}(beta E[Va']). A utility is an immutable module whose parameters are arrays
(sweeping sigma does not recompile), with three methods of a scalar or array c:

=============================  ======================================================================
``u(c)``                       period utility (utility units)
``marginal(c)``                u'(c) > 0, decreasing
``inverse_marginal(m)``        the c with u'(c) = m
=============================  ======================================================================

Write your own by subclassing :class:`Utility` and defining the three (the toolkit checks at
declaration that ``inverse_marginal(marginal(c)) = c`` and that ``marginal`` is the derivative of
``u`` on a few points).

References: Carroll (2006), "The method of endogenous gridpoints", Economics Letters 91(3); Pratt (1964),
"Risk aversion in the small and in the large", Econometrica 32 (CARA).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..model import param

__all__ = ["CARA", "CRRA", "Utility", "check_utility"]


class Utility(eqx.Module):
    """Base class: define ``u``, ``marginal`` and ``inverse_marginal`` (all elementwise)."""

    def u(self, c):
        raise NotImplementedError(f"{type(self).__name__} must define u(c)")

    def marginal(self, c):
        raise NotImplementedError(f"{type(self).__name__} must define marginal(c) = u'(c)")

    def inverse_marginal(self, m):
        raise NotImplementedError(f"{type(self).__name__} must define inverse_marginal(m) = (u')^(-1)(m)")

    def __call__(self, c):
        return self.u(c)


class CRRA(Utility):
    """u(c) = c^(1 - sigma) / (1 - sigma), and log c at sigma = 1 (no additive constant); c > 0.

    Attributes:
        sigma: relative risk aversion, the inverse of the elasticity of intertemporal substitution.
    """

    sigma: float = param(2.0)

    def u(self, c):
        is_log = self.sigma == 1.0
        s = jnp.where(is_log, 2.0, self.sigma)
        return jnp.where(is_log, jnp.log(c), c ** (1.0 - s) / (1.0 - s))

    def marginal(self, c):
        # c^(-sigma) as exp(-sigma log c): a third of the cost of a general power on CPU.
        return jnp.exp(-self.sigma * jnp.log(c))

    def inverse_marginal(self, m):
        return jnp.exp(-jnp.log(m) / self.sigma)


class CARA(Utility):
    """u(c) = -exp(-gamma c) / gamma: constant absolute risk aversion gamma (per unit of the good).

    Defined for every c (negative consumption included); consumption responds to risk by a level,
    not a share, of wealth.
    """

    gamma: float = param(1.0)

    def u(self, c):
        return -jnp.exp(-self.gamma * c) / self.gamma

    def marginal(self, c):
        return jnp.exp(-self.gamma * c)

    def inverse_marginal(self, m):
        return -jnp.log(m) / self.gamma


@eqx.filter_jit
def _probe(utility: Utility, c):
    """u at c (1 -/+ 1e-6), u'(c) and (u')^{-1}(u'(c)), in one compiled call."""
    h = 1e-6 * c
    return (
        utility.u(c - h),
        utility.u(c + h),
        h,
        utility.marginal(c),
        utility.inverse_marginal(utility.marginal(c)),
    )


def check_utility(utility: Utility, where: str, points=(0.3, 1.0, 2.5)) -> None:
    """Check on a few consumption levels that u' is the derivative of u (central differences), positive
    and decreasing, and that ``inverse_marginal`` inverts it (float64, relative 1e-6).

    Raises:
        TypeError: not a :class:`Utility`; ValueError: naming the method that disagrees.
    """
    if not isinstance(utility, Utility):
        raise TypeError(
            f"{where} must return a hetmacro.Utility (e.g. hm.CRRA(sigma)), got {type(utility).__name__}."
        )
    with jax.enable_x64(True):
        u = jax.tree.map(lambda x: jnp.asarray(x, jnp.float64) if eqx.is_inexact_array(x) else x, utility)
        lo, hi, h, m, back = (np.asarray(x) for x in _probe(u, jnp.asarray(points, jnp.float64)))
    du = (hi - lo) / (2 * h)
    name = type(utility).__name__
    if not np.all(np.isfinite(m)) or not np.all(m > 0) or not np.all(np.diff(m) < 0):
        raise ValueError(
            f"{where}: {name}.marginal(c) must be positive and decreasing; at c = {points} it is {m}."
        )
    if not np.allclose(du, m, rtol=1e-6):
        raise ValueError(
            f"{where}: {name}.marginal(c) = {m} is not the derivative of u(c) ({du}) at c = {points}."
        )
    if not np.allclose(back, points, rtol=1e-6):
        raise ValueError(
            f"{where}: {name}.inverse_marginal(marginal(c)) = {back} should give back c = {list(points)}."
        )
