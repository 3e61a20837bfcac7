r"""The Linear-Quadratic crowd game (Perrin et al. 2020; Wu et al. 2025), as in the RSPG paper.

Households live on the integer positions x in {0, ..., 98} and choose a move a in {-3, ..., 3}.
With common noise (``aggregate_risk=True``) z = +-1 (drawn once, never observed) the deterministic move is

    d_t = floor(clip(x_t + a_t + sigma rho eps_t, 0, 98)),
    eps_t = -10 z (t < 8),  0 (8 <= t <= 20),  +10 z (t > 20),

and the idiosyncratic shock k in {-3, ..., 3}, P(k) proportional to the standard normal density,
gives x_{t+1} = clip(round(d_t + sigma sqrt(1 - rho^2) k), 0, 98). With m_t = E[x_t] the mean position,

    u(x_t, a_t) = -c_a a_t^2 + q a_t (m_{t+1} - x_t) - (kappa / 2) (m_{t+1} - x_t)^2.

Timing of the end (``timing``):
- ``"paper"`` (default, the reference code's): the last transition t = T - 1 pays
  -(c_T / 2)(m_T - x_{T-1})^2 *instead of* u, at the pre-move position;
- ``"textbook"``: every transition pays u, then the terminal cost -(c_T / 2)(m_T - x_T)^2.

Households observe only m_t (scaled m_t / 99). T = 30, beta = 0.99, mu_0 uniform.
"""

import jax.numpy as jnp
import numpy as np

import hetmacro as hm
from hetmacro.model import param, static


class LinearQuadratic(hm.Model):
    """The paper's LQ game; see the module docstring for the equations."""

    kappa: float = param(0.5)
    c_action: float = param(0.5)
    q: float = param(0.1)
    c_term: float = param(1.0)
    sigma: float = param(1.0)
    rho: float = param(0.5)
    beta: float = param(0.99)
    n_states: int = static(99)
    max_move: int = static(3)
    shock_atoms: int = static(3)
    T: int = static(30)
    aggregate_risk: bool = static(True)
    timing: str = static("paper")

    def __check_init__(self):
        if self.timing not in ("paper", "textbook"):
            raise ValueError(f"LinearQuadratic.timing = {self.timing!r}: use 'paper' or 'textbook'.")

    def grid(self):
        return hm.Grid("x", np.arange(self.n_states, dtype=np.float64))

    def actions(self):
        return hm.ActionGrid.integers("move", -self.max_move, self.max_move)

    def shocks(self):
        k = np.arange(-self.shock_atoms, self.shock_atoms + 1, dtype=np.float64)
        p = np.exp(-0.5 * k**2)
        return k, p / p.sum()

    def common_noise(self):
        if not self.aggregate_risk:
            return hm.NoNoise()
        return hm.MarkovChain(np.eye(2), [0.5, 0.5])

    def _sign(self, z):
        return (2 * z - 1) if self.aggregate_risk else jnp.zeros(())

    def transition(self, s, a, eps, agg):
        top = self.n_states - 1
        t = agg.t
        drift = jnp.where(t < 8, -10.0, jnp.where(t > 20, 10.0, 0.0)) * self._sign(agg.z)
        d = jnp.floor(jnp.clip(s.x + a + self.sigma * self.rho * drift, 0, top))
        return jnp.clip(jnp.round(d + self.sigma * jnp.sqrt(1 - self.rho**2) * eps), 0, top)

    def aggregates(self, dist):
        return {"m": dist.mean("x")}

    def signals(self, agg):
        return {"m": agg.m / self.n_states}

    def reward(self, s, a, agg, next_agg):
        gap = next_agg.m - s.x
        return -self.c_action * a**2 + self.q * a * gap - 0.5 * self.kappa * gap**2

    def final_reward(self, s, a, agg, next_agg):
        if self.timing == "paper":
            return -0.5 * self.c_term * (next_agg.m - s.x) ** 2
        return self.reward(s, a, agg, next_agg)

    def terminal_value(self, s, agg):
        if self.timing == "paper":
            return jnp.zeros(())
        return -0.5 * self.c_term * (agg.m - s.x) ** 2
