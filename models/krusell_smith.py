r"""Krusell and Smith (1998): the Aiyagari economy with aggregate TFP risk.

Everything of :class:`~hetmacro.models.aiyagari.Aiyagari` (households, firm, markets, game form), plus a
common TFP shock. Households observe the prices (r_t, w_t) only: those are the shared signals.

**Two-state original** (``tfp_process = "two_state"``, default). TFP Z_t = Z z_t with z_t in
{z_bad, z_good} = {0.99, 1.01}, a Markov chain whose regimes last ``duration_bad`` = ``duration_good``
= 8 quarters on average (Prob(z' = z) = 1 - 1/8). Labour endowment e_t in {0, l_bar} (unemployed,
employed). Employment moves jointly with z through the 4 x 4 matrix
Pi[(z, e), (z', e')] = pi(z' | z) P(e' | e, z, z') built by :func:`ks_transition_matrix` from the
paper's targets:

- unemployment u_z' after any (z, z') move: u_bad = 10 %, u_good = 4 %;
- mean unemployment spells 1 / (1 - P(0 | 0, z, z)) = 2.5 quarters in bad times, 1.5 in good;
- P(0 | 0, g, b) = 1.25 P(0 | 0, b, b) and P(0 | 0, b, g) = 0.75 P(0 | 0, g, g) (the spell-length ratios
  of regime switches);
- P(0 | 1, z, z') = (u_z' - u_z P(0 | 0, z, z')) / (1 - u_z), so that unemployment is u_z' exactly.

The compiled game applies the 2 x 2 block P(e' | e, z, z') after the grid lottery
(``chain_transition``). L_t = E[e] = (1 - u_t) l_bar.

Unemployment insurance (``ui_replacement`` = b): the unemployed receive b w l_bar, financed by a tax
tau_t = b u_t / (1 - u_t) on the employed's wage bill (balanced every period; den Haan, Judd and
Juillard 2010). The paper has b = 0; on a discrete asset grid a household at a = 0 without income would
consume nothing, so b > 0 is required when a_min <= 0.

**AR(1) variant** (``tfp_process = "ar1"``): log TFP z' = tfp_rho z + tfp_sd eps, Z_t = Z e^z, with the
Aiyagari income chain (as sequence-jacobian's Krusell–Smith example).

**No aggregate risk** (``aggregate_risk = False``): the deterministic steady state that the stationary
solver computes. TFP at its mean, Z (z_bad pi_bad + z_good pi_good), and employment moving by the
time-average of the blocks weighted by the joint stationary distribution p(z, e):
P(e' | e) = sum_{z, z'} p(z, e) Pi[(z, e), (z', e')] / sum_z p(z, e), whose stationary distribution is
the ergodic employment mix.

Units: one period is a quarter; r is the quarterly net return.

References: Krusell, P. and A. Smith (1998), "Income and wealth heterogeneity in the macroeconomy",
JPE 106(5); den Haan, W., K. Judd and M. Juillard (2010), "Computational suite of models with
heterogeneous agents: incomplete markets and aggregate uncertainty", JEDC 34(1).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

import hetmacro as hm
from hetmacro.grids import stationary_distribution
from hetmacro.model import param, static

from .aiyagari import Aiyagari, _concrete

__all__ = ["KrusellSmith", "ks_employment_blocks", "ks_transition_matrix"]

_TFP_PROCESSES = ("two_state", "ar1")


def ks_transition_matrix(
    u_bad: float = 0.10,
    u_good: float = 0.04,
    spell_bad: float = 2.5,
    spell_good: float = 1.5,
    duration_bad: float = 8.0,
    duration_good: float = 8.0,
    ratio_good_to_bad: float = 1.25,
    ratio_bad_to_good: float = 0.75,
) -> np.ndarray:
    """The joint (TFP, employment) transition matrix of Krusell and Smith (1998) from its targets.

    States in the order (bad, unemployed), (bad, employed), (good, unemployed), (good, employed).

    Args:
        u_bad, u_good: unemployment rates in each TFP state (fractions).
        spell_bad, spell_good: mean unemployment spell, in periods, while the state persists:
            P(0 | 0, z, z) = 1 - 1/spell_z.
        duration_bad, duration_good: mean length of a TFP regime, in periods: pi(z | z) = 1 - 1/duration_z.
        ratio_good_to_bad: P(0 | 0, g, b) / P(0 | 0, b, b) (1.25 in the paper).
        ratio_bad_to_good: P(0 | 0, b, g) / P(0 | 0, g, g) (0.75 in the paper).

    Returns:
        (4, 4) row-stochastic matrix Pi[(z, e), (z', e')].

    Raises:
        ValueError: when the targets imply a probability outside [0, 1].
    """
    u = {0: u_bad, 1: u_good}
    for name, v in (("u_bad", u_bad), ("u_good", u_good)):
        if not 0.0 < v < 1.0:
            raise ValueError(f"ks_transition_matrix: {name} = {v!r} must lie in (0, 1).")
    for name, v in (
        ("spell_bad", spell_bad),
        ("spell_good", spell_good),
        ("duration_bad", duration_bad),
        ("duration_good", duration_good),
    ):
        if not v >= 1.0:
            raise ValueError(f"ks_transition_matrix: {name} = {v!r} periods: a mean duration must be >= 1.")
    stay = {0: 1.0 - 1.0 / duration_bad, 1: 1.0 - 1.0 / duration_good}
    pi_z = np.array([[stay[0], 1.0 - stay[0]], [1.0 - stay[1], stay[1]]])
    uu = np.empty((2, 2))  # P(unemployed' | unemployed, z, z')
    uu[0, 0] = 1.0 - 1.0 / spell_bad
    uu[1, 1] = 1.0 - 1.0 / spell_good
    uu[1, 0] = ratio_good_to_bad * uu[0, 0]
    uu[0, 1] = ratio_bad_to_good * uu[1, 1]
    Pi = np.zeros((4, 4))
    for z in (0, 1):
        for zn in (0, 1):
            eu = (u[zn] - u[z] * uu[z, zn]) / (1.0 - u[z])  # P(unemployed' | employed, z, z')
            for name, prob in (("P(u'|u)", uu[z, zn]), ("P(u'|e)", eu)):
                if not 0.0 <= prob <= 1.0:
                    raise ValueError(
                        f"ks_transition_matrix: the targets imply {name} = {prob:.6g} for the move "
                        f"{'bg'[z]} -> {'bg'[zn]}, outside [0, 1]. Fix: make the unemployment rates, spells "
                        "and ratios mutually consistent."
                    )
            block = np.array([[uu[z, zn], 1.0 - uu[z, zn]], [eu, 1.0 - eu]])
            Pi[2 * z : 2 * z + 2, 2 * zn : 2 * zn + 2] = pi_z[z, zn] * block
    return Pi


def ks_employment_blocks(Pi: np.ndarray) -> np.ndarray:
    """P(e' | e, z, z') = Pi[(z, e), (z', e')] / pi(z' | z), shape (2, 2, 2, 2) indexed [z, z', e, e']."""
    Pi = np.asarray(Pi, dtype=np.float64)
    blocks = np.empty((2, 2, 2, 2))
    for z in (0, 1):
        for zn in (0, 1):
            block = Pi[2 * z : 2 * z + 2, 2 * zn : 2 * zn + 2]
            blocks[z, zn] = block / block.sum(axis=1, keepdims=True)
    return blocks


class KrusellSmith(Aiyagari):
    """Krusell and Smith's (1998) economy; see the module docstring for the equations.

    Fields added to :class:`Aiyagari`'s: ``tfp_process`` ("two_state" or "ar1"); for "two_state" the
    TFP levels ``z_bad``, ``z_good``, unemployment rates ``u_bad``, ``u_good``, mean unemployment spells
    ``spell_bad``, ``spell_good`` and regime durations ``duration_bad``, ``duration_good`` (quarters),
    the ratios ``ratio_good_to_bad``, ``ratio_bad_to_good``, the employed's labour endowment ``l_bar``
    and the unemployment-insurance replacement rate ``ui_replacement``; for "ar1" the inherited
    ``tfp_rho``, ``tfp_sd`` and income-chain fields (``n_e``, ``rho_e``, ``sd_e``, ... are unused by
    "two_state", whose chain is employment). Defaults are the ``krusell_smith_1998`` calibration, and
    the game form's consumption shares are spaced geometrically (``share_grid="geometric"``: 20 shares
    from 0.02 to 1; :class:`hetmacro.SavingsEconomy`).
    """

    beta: float = param(0.99)
    sigma: float = param(1.0)
    alpha: float = param(0.36)
    delta: float = param(0.025)
    a_max: float = param(300.0)
    n_a: int = static(250)
    aggregate_risk: bool = static(True)
    tfp_process: str = static("two_state")
    z_bad: float = static(0.99)
    z_good: float = static(1.01)
    u_bad: float = static(0.10)
    u_good: float = static(0.04)
    spell_bad: float = static(2.5)
    spell_good: float = static(1.5)
    duration_bad: float = static(8.0)
    duration_good: float = static(8.0)
    ratio_good_to_bad: float = static(1.25)
    ratio_bad_to_good: float = static(0.75)
    l_bar: float = static(0.3271)
    ui_replacement: float = param(0.15)
    tfp_rho: float = static(0.95)
    tfp_sd: float = static(0.007)
    # the rich, who hold the capital, consume a few % of their cash on hand (docs/rspg.md, section 10)
    share_grid: str = static("geometric")

    def __check_init__(self):
        name = type(self).__name__
        if self.tfp_process not in _TFP_PROCESSES:
            raise ValueError(f"{name}.tfp_process = {self.tfp_process!r}: use one of {list(_TFP_PROCESSES)}.")
        if self.tfp_process != "two_state":
            return
        if self.labour != "exogenous":
            raise ValueError(
                f"{name}: the two-state economy has exogenous labour; got labour = {self.labour!r}."
            )
        if not self.l_bar > 0:
            raise ValueError(
                f"{name}.l_bar = {self.l_bar!r}: the employed's labour endowment must be positive."
            )
        if not 0 < self.z_bad <= self.z_good:
            raise ValueError(f"{name}: need 0 < z_bad <= z_good, got {self.z_bad!r}, {self.z_good!r}.")
        ui_value = _concrete(self.ui_replacement)
        if ui_value is not None and ui_value < 0:
            raise ValueError(f"{name}.ui_replacement = {ui_value!r} must be >= 0.")
        if ui_value == 0.0 and self.a_min <= 0:
            raise ValueError(
                f"{name}: ui_replacement = 0 with a_min = {self.a_min}: an unemployed household with no "
                "assets has no income and would consume nothing on the grid's first point. Fix: set "
                "ui_replacement > 0 (den Haan, Judd and Juillard 2010 use 0.15) or a_min > 0."
            )
        self.transition_matrix()  # validates the targets

    def _ar1_tfp(self) -> bool:
        return self.tfp_process == "ar1"

    # --- the aggregate chain ----------------------------------------------------------------------
    def transition_matrix(self) -> np.ndarray:
        """The joint 4 x 4 matrix over (bad, u), (bad, e), (good, u), (good, e)."""
        return ks_transition_matrix(
            self.u_bad,
            self.u_good,
            self.spell_bad,
            self.spell_good,
            self.duration_bad,
            self.duration_good,
            self.ratio_good_to_bad,
            self.ratio_bad_to_good,
        )

    def tfp_chain(self) -> np.ndarray:
        """pi(z' | z) over (bad, good)."""
        Pi = self.transition_matrix()
        return np.array([[Pi[2 * z, 2 * zn : 2 * zn + 2].sum() for zn in (0, 1)] for z in (0, 1)])

    def _two_state(self) -> bool:
        return self.tfp_process == "two_state"

    # --- model parts -------------------------------------------------------------------------------
    def chain(self):
        if not self._two_state():
            return super().chain()
        Pi = self.transition_matrix()
        p = stationary_distribution(Pi).reshape(2, 2)  # p[z, e]
        P_avg = np.zeros((2, 2))
        for e in (0, 1):
            for en in (0, 1):
                P_avg[e, en] = sum(p[z, e] * Pi[2 * z + e, 2 * zn + en] for z in (0, 1) for zn in (0, 1))
            P_avg[e] /= p[:, e].sum()
        return hm.Chain("e", [0.0, self.l_bar], P_avg)

    def chain_transition(self, z, z_next):
        if not (self._two_state() and self.aggregate_risk):
            return super().chain_transition(z, z_next)
        blocks = jnp.asarray(ks_employment_blocks(self.transition_matrix()))
        return blocks[z, z_next]

    def common_noise(self):
        if not self._two_state():
            return super().common_noise()
        if not self.aggregate_risk:
            return hm.NoNoise()
        P = self.tfp_chain()
        return hm.MarkovChain(P, stationary_distribution(P))

    def tfp(self, z):
        if not self._two_state():
            return super().tfp(z)
        levels = np.array([self.z_bad, self.z_good])
        if not self.aggregate_risk:
            return self.Z * float(stationary_distribution(self.tfp_chain()) @ levels)
        return self.Z * jnp.asarray(levels)[z]

    def income(self, e, p):
        y = super().income(e, p)
        if not self._two_state():
            return y
        # UI: the unemployed get b w l_bar; the employed pay tau = b u / (1 - u) on their wage bill,
        # with u = 1 - L / l_bar, so tau w L = b w l_bar u (balanced).
        w, L, b = p["w"], p["L"], self.ui_replacement
        tau_ui = b * (self.l_bar - L) / L
        return y - tau_ui * w * e + jnp.where(e == 0, b * w * self.l_bar, 0.0)

    def initial_distribution(self, z):
        if not self._two_state():
            return super().initial_distribution(z)
        if self.aggregate_risk:
            u = jnp.asarray([self.u_bad, self.u_good])[z]
        else:
            u = float(self.chain().stationary()[0])
        n = self.n_a
        return jnp.stack([jnp.full((n,), u / n), jnp.full((n,), (1.0 - u) / n)], axis=1)
