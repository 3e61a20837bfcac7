r"""Aiyagari (1994): uninsured idiosyncratic income risk, a borrowing limit and aggregate capital.

**Households** (a continuum of measure one) have labour productivity e_t, a Markov chain, and solve

    max E_0 sum_t beta^t u(c_t),      u(c) = c^(1 - sigma) / (1 - sigma)   (log c at sigma = 1),
    c_t + a_{t+1} = (1 + r_t) a_t + y_t(e_t),      a_{t+1} >= a_min,

with non-asset income y(e) = (1 - tau) w e n(e) + transfer: the after-tax wage bill of e efficiency
units times hours n, plus a lump-sum transfer. ``sigma`` is the coefficient of relative risk aversion (Aiyagari's mu).
log e is an AR(1) with persistence ``rho_e`` and s.d. ``sd_e`` (of the innovation or of log e itself,
as ``sd_kind`` says), discretised into ``n_e`` states by Rouwenhorst's or Tauchen's method (Tauchen's
grid of log e spans +-``n_std`` unconditional s.d.); with ``normalise_e`` the states are scaled so that
E[e] = 1 under the stationary distribution.

**Firm**: Y = Z K^alpha L^(1 - alpha), so that

    r = alpha Z (K / L)^(alpha - 1) - delta,      w = (1 - alpha) Z (K / L)^alpha.

**Markets**: K = E[a] (the asset market: household wealth is the capital stock, ``hm.CapitalMarket("K")``),
L = E[e n].

The class is a :class:`hetmacro.SavingsEconomy`: it declares the utility, the income, the grid (its first
point is the borrowing limit), the firm's prices and the market, and every solver reads these
declarations (the game form below is derived from them).

**Variants** (options of this one class, not copies):

- ``labour = "ghh"``: endogenous hours with Greenwood–Hercowitz–Huffman preferences
  u(c - chi n^(1 + 1/frisch) / (1 + 1/frisch)). Hours n(e) = ((1 - tau) w e / chi)^frisch do not depend on
  wealth, and the problem in the composite c~ = c - v(n) is the exogenous-labour problem with net income
  y(e) = (1 - tau) w e n(e) / (1 + frisch) + T. Aggregate labour solves
  L^(1 + alpha frisch) = ((1 - tau)(1 - alpha) Z K^alpha / chi)^frisch E[e^(1 + frisch)].
- ``tax > 0``: a proportional labour-income tax tau whose revenue is rebated lump-sum, transfer = tau w L
  (balanced budget each period): a tax-and-transfer (partial insurance) economy.
- ``a_min < 0``: borrowing. It must lie above the natural borrowing limit, min_e y(e) + r a_min > 0;
  the stationary solver checks this at every r it tries.
- ``aggregate_risk = True``: log TFP z_{t+1} = tfp_rho z_t + tfp_sd eps_{t+1}, eps ~ N(0, 1), and
  Z_t = Z e^(z_t) in the prices: the AR(1) variant of Krusell–Smith and the paper's macro game
  (calibration ``mfax_macro``). See :mod:`hetmacro.models.krusell_smith` for the two-state original.

**The game form** (derived by :class:`hetmacro.SavingsEconomy`). The action is the share s of cash
on hand beyond the borrowing limit that is consumed, on ``n_actions`` equal cells of [0, 1]
(``ActionGrid.midpoints(n_actions)``, the paper's; ``share_grid="geometric"`` spaces them geometrically
from ``smallest_share`` to 1, the default of :class:`~hetmacro.models.KrusellSmith`):

    x_t = (1 + r_t) a_t + y_t(e_t) - a_min,    c_t = s_t x_t,    a_{t+1} = a_min + (1 - s_t) x_t,

with a_{t+1} put on the asset grid by Young's lottery (capped at the top point) and e_{t+1} drawn from
the chain. Reward u(c_t). Prices at t come from (mu_t, z_t) at the start of the period. The last step of
a finite horizon follows ``timing``:

- ``"paper"`` (MFAX's macro game): the last transition t = T - 1 pays u(x_{T-1}) *instead of* u(c_{T-1}),
  whatever the action, and nothing after;
- ``"textbook"`` (default): every transition pays u(c_t), then the terminal value u(x_T) (eat everything
  at date T, at the date-T prices).

With a_min = 0, delta = 0, ``price_guard = 1e-6`` (r = alpha Z (L/(K + g))^(1 - alpha) - delta,
w = (1 - alpha) Z (K/(L + g))^alpha) this is the paper's macro game exactly.

**Signals** (shared, what every household observes): the prices relative to the complete-markets steady
state, r_t / r_RA and w_t / w_RA, with r_RA = 1/beta - 1, (K/L)_RA = (alpha Z / (r_RA + delta))^(1/(1-alpha))
and w_RA = (1 - alpha) Z (K/L)_RA^alpha: order one, and still moving with the TFP shock.

**Units**: one model period is the calibration's (``[meta] period``: a year for Aiyagari 1994); r is the
net return per period; assets, income and consumption are in units of the good; e in efficiency units.

References: Aiyagari, S. R. (1994), "Uninsured idiosyncratic risk and aggregate saving", QJE 109(3);
Greenwood, Hercowitz and Huffman (1988), AER 78(3); Wibault et al. (2026), "Recurrent Structural Policy
Gradient for Partially Observable Mean Field Games" (the macro game).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

import hetmacro as hm
from hetmacro.model import calibration_meta, param, static

__all__ = ["TABLE_II", "Aiyagari", "table_ii", "table_ii_layout", "tridiagonal_chain"]

_INCOME_PROCESSES = ("rouwenhorst", "tauchen", "tridiagonal")
_GRIDS = ("double_exponential", "geometric", "uniform")
_LABOUR = ("exogenous", "ghh")
_TIMINGS = ("paper", "textbook")


def tridiagonal_chain(name: str, values, p_move: float) -> hm.Chain:
    """Index moves -1, 0, +1 with probabilities p_move, 1 - 2 p_move, p_move; a move off either end
    is clipped (the end states stay with probability 1 - p_move). The paper's income chain (p_move 0.1)."""
    vals = np.asarray(values, dtype=np.float64)
    m = vals.size
    if not 0.0 <= p_move <= 0.5:
        raise ValueError(f"tridiagonal chain '{name}': p_move = {p_move!r} must lie in [0, 0.5].")
    P = np.zeros((m, m))
    for j in range(m):
        P[j, max(j - 1, 0)] += p_move
        P[j, j] += 1.0 - 2.0 * p_move
        P[j, min(j + 1, m - 1)] += p_move
    return hm.Chain(name, vals, P)


def _concrete(x) -> float | None:
    """float(x) for a concrete value, None for a tracer (checks are skipped under a transformation)."""
    if isinstance(x, jax.core.Tracer):
        return None
    return float(np.asarray(x))


class Aiyagari(hm.SavingsEconomy):
    """Aiyagari's (1994) economy; see the module docstring for the equations.

    Fields (per model period; defaults are the anchors' Aiyagari calibration, see
    ``calibrations/aiyagari_1994.toml``):

    Preferences: ``beta`` discount factor, ``sigma`` CRRA coefficient (Aiyagari's mu).
    Technology: ``alpha`` capital share, ``delta`` depreciation rate per period, ``Z`` TFP level.
    Income: ``income_process`` ("rouwenhorst", "tauchen" or "tridiagonal"), ``n_e`` states, ``rho_e``
    persistence and ``sd_e`` s.d. of log e (``sd_kind`` "unconditional" or "innovation"),
    ``normalise_e`` (scale to E[e] = 1), ``n_std`` (Tauchen only: log e's grid spans +-n_std
    unconditional s.d.; Rouwenhorst's span is fixed by the method, so n_std is ignored there and for
    "tridiagonal"); for "tridiagonal", geometric values from ``e_low`` to
    ``e_high`` (pivot 0.25) and index moves +-1 with probability ``e_move`` each.
    Assets: ``a_min`` borrowing limit, ``a_max`` top of the grid, ``n_a`` points, ``grid_kind``
    ("double_exponential", "geometric" with ``grid_pivot``, "uniform").
    Labour and policy: ``labour`` ("exogenous" or "ghh" with ``chi``, ``frisch``), ``tax`` rate on
    labour income rebated lump-sum.
    Aggregate risk: ``aggregate_risk``, log TFP AR(1) ``tfp_rho``, ``tfp_sd`` (innovation s.d.), and
    rare disasters: each quarter with probability ``disaster_prob`` log TFP jumps by ``disaster_size``
    (e.g. -0.1), decaying at ``tfp_rho`` (:class:`hetmacro.AR1`'s jump; 0 by default: none).
    Game form: ``n_actions`` consumption shares spaced by ``share_grid`` from ``smallest_share``
    (:class:`hetmacro.SavingsEconomy`), horizon ``T`` (None: infinite), ``timing``,
    ``price_guard`` g in the price formulas; mu_0 is uniform over the grid x chain.

    The asset grid and the income chain are built with numpy when a model is compiled. Only the fields
    that fix array sizes or pick a method are static (``n_a``, ``grid_kind``, ``income_process``, ``n_e``,
    ``sd_kind``, ``normalise_e``, the switches and the TFP process); every value is an array, the grid's
    and the chain's parameters (``a_max``, ``grid_pivot``, ``rho_e``, ``sd_e``, ``n_std``, ``e_low``,
    ``e_high``, ``e_move``) included, so economies that differ only in values share compiled solvers (a
    sweep over the income process compiles once) and the sequence-space solver can shock the economic
    parameters.
    """

    # preferences
    beta: float = param(0.96)
    sigma: float = param(2.0)
    # technology
    alpha: float = param(0.36)
    delta: float = param(0.08)
    Z: float = param(1.0)
    # idiosyncratic income
    income_process: str = static("rouwenhorst")
    n_e: int = static(7)
    rho_e: float = param(0.9)
    sd_e: float = param(0.2)
    sd_kind: str = static("unconditional")
    normalise_e: bool = static(True)
    n_std: float = param(3.0)  # Tauchen only: log e's grid spans +-n_std unconditional s.d.
    e_low: float = param(0.1)
    e_high: float = param(2.0)
    e_move: float = param(0.1)
    # assets
    a_min: float = param(0.0)
    a_max: float = param(200.0)
    n_a: int = static(500)
    grid_kind: str = static("double_exponential")
    grid_pivot: float = param(0.25)
    # labour supply and fiscal policy
    labour: str = static("exogenous")
    chi: float = param(1.0)
    frisch: float = param(0.5)
    tax: float = param(0.0)
    # aggregate TFP risk (the Krusell-Smith AR(1) variant)
    aggregate_risk: bool = static(False)
    tfp_rho: float = static(0.9)
    tfp_sd: float = static(0.0)
    disaster_prob: float = static(0.0)
    disaster_size: float = static(0.0)
    # the game form
    n_actions: int = static(20)
    T: int | None = static(None)
    timing: str = static("textbook")
    price_guard: float = param(0.0)

    def __check_init__(self):
        name = type(self).__name__
        for field, options in (
            ("income_process", _INCOME_PROCESSES),
            ("grid_kind", _GRIDS),
            ("labour", _LABOUR),
            ("timing", _TIMINGS),
        ):
            if getattr(self, field) not in options:
                raise ValueError(f"{name}.{field} = {getattr(self, field)!r}: use one of {list(options)}.")
        checks = (
            ("sigma", lambda v: v > 0, "the CRRA coefficient must be positive (sigma = 1 is log utility)"),
            ("beta", lambda v: v > 0, "the discount factor must be positive"),
            ("alpha", lambda v: 0 < v < 1, "the capital share must lie in (0, 1)"),
            ("delta", lambda v: 0 <= v <= 1, "the depreciation rate must lie in [0, 1]"),
            ("Z", lambda v: v > 0, "TFP must be positive"),
            ("tfp_sd", lambda v: v >= 0, "the TFP innovation s.d. must be >= 0"),
            ("disaster_prob", lambda v: 0 <= v < 1, "a disaster's probability per period must lie in [0, 1)"),
            ("tax", lambda v: 0 <= v < 1, "the labour-income tax rate must lie in [0, 1)"),
            ("chi", lambda v: v > 0, "the disutility weight of hours must be positive"),
            ("frisch", lambda v: v > 0, "the Frisch elasticity must be positive"),
            ("price_guard", lambda v: v >= 0, "the price guard must be >= 0"),
            ("n_std", lambda v: v > 0, "Tauchen's grid of log e spans +-n_std s.d.; it must be positive"),
        )
        for field, ok, why in checks:
            v = _concrete(getattr(self, field))
            if v is not None and not ok(v):
                raise ValueError(f"{name}.{field} = {v!r}: {why}.")
        if self.n_a < 2:
            raise ValueError(f"{name}.n_a = {self.n_a!r}: the asset grid needs at least 2 points.")
        if self.n_actions < 1:
            raise ValueError(f"{name}.n_actions = {self.n_actions!r}: need at least one consumption share.")
        if self.n_e < 1:
            raise ValueError(f"{name}.n_e = {self.n_e!r}: need at least one income state.")
        lo, hi = _concrete(self.a_min), _concrete(self.a_max)
        if lo is not None and hi is not None and not hi > lo:
            raise ValueError(
                f"{name}: the asset grid [a_min, a_max] = [{lo}, {hi}] is empty or reversed. "
                "Fix: a_max must exceed the borrowing limit a_min."
            )
        pivot = _concrete(self.grid_pivot)
        if self.grid_kind == "geometric" and pivot is not None and not pivot > 0:
            raise ValueError(f"{name}.grid_pivot = {pivot!r}: a geometric grid needs a positive pivot.")
        if self.grid_kind == "geometric" and pivot is not None and lo is not None and not lo + pivot > 0:
            raise ValueError(
                f"{name}: a geometric grid from a_min = {lo} needs a_min + grid_pivot > 0, got grid_pivot = "
                f"{pivot}. Fix: grid_pivot > {-lo:g} (e.g. {-lo + 0.25:g}), or grid_kind='double_exponential'."
            )
        # without aggregate risk (a steady state) the disasters are switched off with the rest of it
        if (
            self.aggregate_risk
            and self.disaster_prob > 0
            and not (self._ar1_tfp() and self.disaster_size != 0)
        ):
            raise ValueError(
                f"{name}: disaster_prob = {self.disaster_prob} needs the AR(1) TFP process and a disaster_size "
                f"other than 0 (got {self.disaster_size})."
            )
        if self.aggregate_risk and self._ar1_tfp() and _concrete(self.tfp_sd) == 0.0:
            raise ValueError(
                f"{name}: aggregate_risk = True with tfp_sd = 0 is no aggregate risk. "
                "Fix: set tfp_sd > 0, or aggregate_risk = False."
            )

    def _ar1_tfp(self) -> bool:
        """True when aggregate risk is the AR(1) in log TFP (subclasses may use another process)."""
        return True

    # --- households (Aiyagari 1994, section II): assets, income, utility ---------------------------------
    def asset_grid(self) -> np.ndarray:
        """The asset grid a_0 = a_min < ... < a_{n_a - 1} = a_max (numpy, float64)."""
        lo, hi, n = float(self.a_min), float(self.a_max), self.n_a
        if self.grid_kind == "double_exponential":
            pts = hm.double_exponential_grid(lo, hi, n)
        elif self.grid_kind == "geometric":
            pts = hm.geometric_grid(lo, hi, n, pivot=float(self.grid_pivot))
        else:
            pts = np.linspace(lo, hi, n)
        pts = np.clip(pts, lo, hi)
        pts[0], pts[-1] = lo, hi
        return pts

    def grid(self):
        return hm.Grid("a", self.asset_grid())

    def borrowing_limit(self):
        return self.a_min

    def chain(self):
        if self.income_process == "tridiagonal":
            if self.n_e == 1:  # geometric_grid needs two points; one state is e_low, as before
                vals = np.array([float(self.e_low)])
            else:
                vals = hm.geometric_grid(float(self.e_low), float(self.e_high), self.n_e, pivot=0.25)
            return tridiagonal_chain("e", vals, float(self.e_move))
        if self.n_e == 1:
            return hm.Chain("e", [1.0], [[1.0]])
        if self.income_process == "tauchen":
            return hm.tauchen(
                "e",
                self.n_e,
                float(self.rho_e),
                float(self.sd_e),
                sd_kind=self.sd_kind,
                n_std=float(self.n_std),
                normalise=self.normalise_e,
            )
        return hm.rouwenhorst(
            "e",
            self.n_e,
            float(self.rho_e),
            float(self.sd_e),
            sd_kind=self.sd_kind,
            normalise=self.normalise_e,
        )

    def utility(self):
        """u(c) = c^(1 - sigma) / (1 - sigma) (log c at sigma = 1); under GHH, c is the composite c - v(n)."""
        return hm.CRRA(self.sigma)

    def hours(self, e, w):
        """Hours n(e): 1 with exogenous labour; ((1 - tau) w e / chi)^frisch under GHH."""
        if self.labour == "ghh":
            return ((1.0 - self.tax) * w * e / self.chi) ** self.frisch
        return jnp.ones_like(e)

    def disutility(self, e, w):
        """v(n(e)) = chi n^(1 + 1/frisch) / (1 + 1/frisch), the GHH cost of hours (0 if exogenous)."""
        if self.labour == "ghh":
            n = self.hours(e, w)
            return self.chi * n ** (1.0 + 1.0 / self.frisch) / (1.0 + 1.0 / self.frisch)
        return jnp.zeros_like(e)

    def income(self, e, p):
        """y(e) = (1 - tau) w e n(e) + transfer; under GHH net of the hours cost v(n(e)),
        (1 - tau) w e n(e) / (1 + frisch) + transfer (the budget of the composite c - v(n))."""
        w = p["w"]
        wage_bill = (1.0 - self.tax) * w * e * self.hours(e, w)
        if self.labour == "ghh":
            wage_bill = wage_bill / (1.0 + self.frisch)
        return wage_bill + p["transfer"]

    def consumption(self, c, e, p):
        """Goods consumption: the composite c plus the hours cost v(n(e)) under GHH."""
        return c + self.disutility(e, p["w"])

    # --- firm and government (section II): prices from capital and labour ----------------------------------
    def tfp(self, z):
        """TFP level Z_t given the common noise z_t: Z e^(z_t) with aggregate risk, else Z."""
        if self.aggregate_risk:
            return self.Z * jnp.exp(z)
        return self.Z

    def labour_moment(self, e):
        """The per-household labour moment aggregated over the distribution: e (exogenous labour) or
        e^(1 + frisch) (GHH, where L = ((1 - tau) w / chi)^frisch E[e^(1 + frisch)])."""
        if self.labour == "ghh":
            return e ** (1.0 + self.frisch)
        return e

    def effective_labour(self, moment, K, Z):
        """L = E[e n] given the labour moment, capital and TFP (closed form under GHH)."""
        if self.labour == "ghh":
            a, f = self.alpha, self.frisch
            base = ((1.0 - self.tax) * (1.0 - a) * Z * K**a / self.chi) ** f * moment
            return base ** (1.0 / (1.0 + a * f))
        return moment

    def factor_prices(self, K, L, Z):
        """(r, w) = marginal products of capital (net of depreciation) and labour."""
        g = self.price_guard
        r = self.alpha * Z * (L / (K + g)) ** (1.0 - self.alpha) - self.delta
        w = (1.0 - self.alpha) * Z * (K / (L + g)) ** self.alpha
        return r, w

    def aggregates(self, dist):
        return {"K": dist.mean("a"), "Le": dist.expect(lambda a, e: self.labour_moment(e))}

    def prices(self, agg):
        Z = self.tfp(agg.z)
        K = agg.K
        L = self.effective_labour(agg.Le, K, Z)
        r, w = self.factor_prices(K, L, Z)
        return {
            "r": r,
            "w": w,
            "L": L,
            "Y": Z * K**self.alpha * L ** (1.0 - self.alpha),
            "transfer": self.tax * w * L,
        }

    def depreciation(self):
        return self.delta

    # --- the market: household wealth is the capital stock ---------------------------------------------------
    def market(self):
        return hm.CapitalMarket("K")

    # --- the game's ends, signals and aggregate risk -----------------------------------------------------------
    def final_reward(self, s, share, agg, next_agg):
        if self.timing == "paper":
            return self.utility().u(self.cash_on_hand(s, agg))
        return self.reward(s, share, agg, next_agg)

    def terminal_value(self, s, agg):
        if self.timing == "paper":
            return jnp.zeros(())
        return self.utility().u(self.cash_on_hand(s, agg))

    def representative_agent_prices(self):
        """(r_RA, w_RA): the complete-markets steady state, r = 1/beta - 1 (the signals' scale)."""
        r = 1.0 / self.beta - 1.0
        KL = (self.alpha * self.Z / (r + self.delta)) ** (1.0 / (1.0 - self.alpha))
        return r, (1.0 - self.alpha) * self.Z * KL**self.alpha

    def signals(self, agg):
        r_ra, w_ra = self.representative_agent_prices()
        return {"r": agg.r / r_ra, "w": agg.w / w_ra}

    def common_noise(self):
        if self.aggregate_risk:
            return hm.AR1(
                float(self.tfp_rho),
                float(self.tfp_sd),
                jump_prob=float(self.disaster_prob),
                jump_size=float(self.disaster_size),
            )
        return hm.NoNoise()

    def without_aggregate_risk(self):
        return dataclasses.replace(self, aggregate_risk=False)

    def initial_distribution(self, z):
        n, m = self.n_a, self.n_e
        return jnp.full((n, m), 1.0 / (n * m))


# --- Aiyagari (1994), Table II ---------------------------------------------------------------------------
# Risk aversion mu (the field sigma), income persistence rho (rho_e) and s.d. sigma (sd_e, of log e).
TABLE_II = {"sd_e": (0.2, 0.4), "rho_e": (0.0, 0.3, 0.6, 0.9), "sigma": (1.0, 3.0, 5.0)}


def table_ii(
    discretisation: str = "tauchen", *, client=None, progress: bool = True, **overrides
) -> pd.DataFrame:
    """Aiyagari's (1994) Table II in one call: r* and the saving rate of the 24 economies, beside the paper's.

    One :func:`hetmacro.sweep` over mu in {1, 3, 5} x rho in {0, 0.3, 0.6, 0.9} x sigma in {0.2, 0.4},
    each cell the stationary equilibrium of the ``aiyagari_1994`` calibration (no bracket: the solver's
    search interval is the model's). The 24 cells share one compiled solver.

    Args:
        discretisation: "tauchen" (Aiyagari's: 7 states spanning 3 unconditional s.d., unnormalised) or
            "rouwenhorst" (the calibration's default: more accurate at high persistence, so further from
            the printed values there).
        client: a ``dask.distributed.Client`` to spread the cells over (see :func:`hetmacro.sweep`).
        progress: a progress bar over cells.
        overrides: fields of the calibration to change (e.g. ``n_a=200``).

    Returns:
        DataFrame indexed by (sd_e, rho_e, sigma): ``r`` and ``saving_rate`` in percent, the published
        ``r_published``, ``saving_rate_published`` (Aiyagari 1994, Table II), their differences, the cell's
        status, seconds and error; ``attrs`` as the sweep's.
    """
    if discretisation == "tauchen":
        chain = {"income_process": "tauchen", "normalise_e": False, "n_std": 3.0, "sd_kind": "unconditional"}
    elif discretisation == "rouwenhorst":
        chain = {"income_process": "rouwenhorst"}
    else:
        raise ValueError(f"table_ii: discretisation = {discretisation!r}: use 'tauchen' or 'rouwenhorst'.")
    model = Aiyagari.from_calibration("aiyagari_1994", **{**chain, **overrides})
    cells = hm.sweep(model, dict(TABLE_II), method="stationary", client=client, progress=progress)
    published = calibration_meta("aiyagari_1994")["table_ii"]
    frame = pd.DataFrame(index=cells.index)
    frame["r"] = 100.0 * cells["r"]
    frame["saving_rate"] = 100.0 * cells["saving_rate"]
    key = [f"mu{mu:g}_rho{rho:g}_sd{sd:g}" for sd, rho, mu in cells.index]
    frame["r_published"] = [published[k]["r"] for k in key]
    frame["saving_rate_published"] = [published[k]["saving_rate"] for k in key]
    frame["r_gap"] = frame["r"] - frame["r_published"]
    frame["saving_rate_gap"] = frame["saving_rate"] - frame["saving_rate_published"]
    frame[["status", "seconds", "error"]] = cells[["status", "seconds", "error"]]
    frame.attrs.update(cells.attrs)
    frame.attrs.update(
        description=f"Aiyagari (1994) Table II ({discretisation} income chain) beside the published values",
        units="r and saving_rate in percent (r per year); gaps in percentage points",
    )
    return frame


def table_ii_layout(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`table_ii` in the paper's layout: a row per (sigma, rho), a column per mu, each cell
    "r / saving rate (published r / published saving rate)", in percent."""

    def cell(row):
        if row["status"] != "ok":
            return f"failed ({row['r_published']:.4f} / {row['saving_rate_published']:.2f})"
        return (
            f"{row['r']:.3f} / {row['saving_rate']:.2f} "
            f"({row['r_published']:.4f} / {row['saving_rate_published']:.2f})"
        )

    text = table.apply(cell, axis=1).rename("cell").reset_index()
    layout = text.pivot_table(index=["sd_e", "rho_e"], columns="sigma", values="cell", aggfunc="first")
    layout.index.names, layout.columns.name = ["sigma", "rho"], "mu"
    layout.columns = [f"mu {c:g}" for c in layout.columns]
    return layout
