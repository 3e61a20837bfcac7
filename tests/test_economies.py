"""Economies the toolkit does not ship, declared as a user would (docs/models.md, "Write your own
economy"), solved by every path, and checked against independent computations.

The three classes are read from the documentation page itself, so the page and the tests cannot drift:
an asset in zero net supply without a firm (Huggett), an income chain given as a Markov matrix with a
firm, CARA utility with government debt in fixed supply.

Oracles:
- a plain-numpy solve of the same discretised economy (EGM with the same interpolation, Young's lottery
  as a dense S x S transition matrix, the market written out by hand, scipy's brentq on r);
- the generic stationary path (policy iteration on the game's discrete actions), which must agree within
  the action grid's resolution and get closer as that grid is refined;
- a plain model writing its transition and reward by hand, which the generic path must solve exactly as
  it solves the same economy declared as a savings economy.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize

import hetmacro as hm
from hetmacro.equilibrium import NoEquilibriumError, RateSearch, find_rate
from hetmacro.model import param, static
from hetmacro.savings import stationary as st

DOC = Path(__file__).resolve().parents[1] / "docs" / "models.md"


def _doc_economies() -> dict:
    """Execute the class definitions of docs/models.md's "Write your own economy" (not its solves)."""
    text = DOC.read_text()
    section = text[text.index("## Write your own economy") : text.index("### Solve them")]
    blocks = re.findall(r"^```python\n(.*?)^```", section, flags=re.S | re.M)
    code = "\n\n".join(b for b in blocks if "class " in b)
    code = re.sub(r"^with jax.enable_x64.*?(?=^\S)", "", code, flags=re.S | re.M)  # drop the solves
    code = "\n".join(line for line in code.splitlines() if not line.startswith("print("))
    namespace: dict = {}
    exec(compile(code, str(DOC), "exec"), namespace)
    return {k: namespace[k] for k in ("Huggett", "ThreeStates", "Precautionary")}


ECONOMIES = _doc_economies()


N_A = 80  # asset points: the documented 150 would take twice as long for the same checks


@pytest.fixture(scope="module")
def fast():
    with jax.enable_x64(True):
        return {
            name: hm.solve(cls(n_a=N_A), method="stationary", values=False) for name, cls in ECONOMIES.items()
        }


# --- an independent computation: plain numpy ------------------------------------------------------------
def _interp_extrapolate(xp, fp, x):
    """Linear interpolation of fp(xp) at x, linear extrapolation beyond both ends."""
    i = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, xp.size - 2)
    return fp[i] + (fp[i + 1] - fp[i]) * (x - xp[i]) / (xp[i + 1] - xp[i])


def _numpy_assets(u, up, up_inv, a, P, y, r, beta):
    """Households' aggregate assets at rate r: EGM to a fixed point, then the stationary distribution of
    the dense transition matrix (Young's lottery onto the grid, then the chain)."""
    n, m = a.size, y.size
    cash = (1 + r) * a[:, None] + y[None, :]
    c = np.minimum(y[None, :] + max(r, 0.01) * (a[:, None] - a[0]), cash - a[0])
    Va = (1 + r) * up(c)
    a_next = np.zeros((n, m))
    for _ in range(100_000):
        c_endo = up_inv(beta * Va @ P.T)
        a_endo = (c_endo + a[:, None] - y[None, :]) / (1 + r)
        new = np.stack([_interp_extrapolate(a_endo[:, j], a, a) for j in range(m)], axis=1)
        new = np.maximum(new, a[0])
        done = np.max(np.abs(new - a_next)) < 1e-14
        a_next = new
        Va = (1 + r) * up(cash - a_next)
        if done:
            break
    x = np.clip(a_next, a[0], a[-1])
    i = np.clip(np.searchsorted(a, x, side="right") - 1, 0, n - 2)
    t = (x - a[i]) / (a[i + 1] - a[i])
    M = np.zeros((n * m, n * m))  # M[(i, j), (i', j')], states ordered (i, j)
    for ii in range(n):
        for j in range(m):
            row = ii * m + j
            for jn in range(m):
                M[row, i[ii, j] * m + jn] += (1 - t[ii, j]) * P[j, jn]
                M[row, (i[ii, j] + 1) * m + jn] += t[ii, j] * P[j, jn]
    A_sys = np.vstack([M.T - np.eye(n * m), np.ones((1, n * m))])
    b = np.zeros(n * m + 1)
    b[-1] = 1.0
    mu = np.linalg.lstsq(A_sys, b, rcond=None)[0].reshape(n, m)
    return float(np.sum(mu * a[:, None]))


def _numpy_rate(name: str, model, r_guess: float) -> float:
    """r* of the same discretised economy, every formula written out here (no hetmacro solver code)."""
    with jax.enable_x64(True):
        game = hm.compile(model, dtype=jnp.float64)
    a, e, P = (np.asarray(x, np.float64) for x in (game.grid.points, game.chain.values, game.chain.P))
    beta = float(model.beta)
    if name == "Precautionary":
        g = float(model.gamma)
        u, up, up_inv = (
            (lambda c: -np.exp(-g * c) / g),
            (lambda c: np.exp(-g * c)),
            (lambda m: -np.log(m) / g),
        )
    else:
        s = float(model.sigma)
        u, up, up_inv = (lambda c: c ** (1 - s) / (1 - s)), (lambda c: c**-s), (lambda m: m ** (-1 / s))
    pi = np.linalg.lstsq(
        np.vstack([P.T - np.eye(e.size), np.ones((1, e.size))]), np.r_[np.zeros(e.size), 1.0], rcond=None
    )[0]

    def excess(r):
        if name == "Huggett":
            return _numpy_assets(u, up, up_inv, a, P, e, r, beta)  # zero net supply
        if name == "Precautionary":
            B = float(model.debt)
            return _numpy_assets(u, up, up_inv, a, P, e - r * B, r, beta) - B
        alpha, delta = float(model.alpha), float(model.delta)
        L = pi @ e
        KL = ((r + delta) / alpha) ** (1 / (alpha - 1))
        w = (1 - alpha) * KL**alpha
        return _numpy_assets(u, up, up_inv, a, P, w * e, r, beta) - KL * L

    return optimize.brentq(excess, r_guess - 2e-3, r_guess + 2e-3, xtol=1e-14, rtol=4 * np.finfo(float).eps)


@pytest.mark.parametrize("name", list(ECONOMIES))
def test_fast_path_matches_a_numpy_solve(fast, name):
    """The EGM path's r* equals a plain-numpy solve of the same discretised economy to 1e-8 (both solve
    the same equations to ~1e-13; the rest is the numpy EGM's stopping rule)."""
    sol = fast[name]
    assert sol.result.algorithm == "egm" and abs(sol.aggregates["excess_supply"]) < 1e-9
    r_np = _numpy_rate(name, ECONOMIES[name](n_a=N_A), sol.aggregates["r"])
    assert sol.aggregates["r"] == pytest.approx(r_np, abs=1e-8)


def _cell_bound(sol, problem, A: int) -> float:
    """One consumption-share cell's effect on r*: E_mu[x] / A over |d(A - S)/dr| (central difference of
    the fast path's excess supply at r*), with x the cash on hand beyond the borrowing limit."""
    r, h = sol.aggregates["r"], 1e-5
    slope = (st.excess_supply(problem, r + h) - st.excess_supply(problem, r - h)) / (2 * h)
    x = sol.policy["a_next"] - float(problem.a_min) + sol.policy["c"]
    return float(np.sum(sol.stationary * x)) / A / abs(slope)


@pytest.mark.parametrize("name", list(ECONOMIES))
def test_generic_path_within_the_action_resolution(fast, name, x64):
    """Policy iteration on the game's 50 consumption shares finds r* within two share cells' effect on
    r* of the EGM path: a discrete choice misses the continuous one by at most one cell of cash on hand,
    and the value interpolated linearly between asset points (the game's lottery) against EGM's
    interpolated policy accounts for the rest (measured: 0.4 to 1.5 cells at 50 shares; the grid part
    shrinks as the asset grid is refined, the share part as the action grid is)."""
    sol = fast[name]
    model = ECONOMIES[name](n_a=N_A, n_actions=50)
    generic = hm.solve(model, method="stationary", algorithm="policy iteration")
    assert generic.result.algorithm == "policy iteration"
    problem = st.savings_problem(sol.model)
    bound = _cell_bound(sol, problem, 50)
    gap = abs(generic.aggregates["r"] - sol.aggregates["r"])
    assert gap < 2 * bound, (gap, bound)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(ECONOMIES))
def test_generic_path_converges_as_the_action_grid_is_refined(fast, name, x64):
    """With four times as many shares (200) the generic path is closer to the EGM path than with 50."""
    r = fast[name].aggregates["r"]
    gaps = [
        abs(
            hm.solve(
                dataclasses.replace(ECONOMIES[name](), n_actions=A),
                hm.Stationary(algorithm="policy iteration"),
            ).aggregates["r"]
            - r
        )
        for A in (50, 200)
    ]
    assert gaps[1] < gaps[0], gaps


# --- a plain model: the generic path --------------------------------------------------------------------
class PlainThreeStates(hm.Model):
    """ThreeStates written by hand as a plain Model: its own transition and reward, no declarations."""

    beta: float = param(0.96)
    sigma: float = param(2.0)
    alpha: float = param(0.36)
    delta: float = param(0.08)
    n_a: int = static(60)
    n_actions: int = static(30)
    T: int | None = static(None)

    def grid(self):
        return hm.Grid("a", hm.geometric_grid(0.0, 60.0, self.n_a))

    def chain(self):
        P = [[0.80, 0.15, 0.05], [0.10, 0.80, 0.10], [0.05, 0.15, 0.80]]
        return hm.Chain("e", [0.4, 1.0, 1.6], P)

    def actions(self):
        return hm.ActionGrid.midpoints("consumption share", self.n_actions)

    def cash(self, s, agg):
        return (1 + agg.r) * s.a + agg.w * s.e

    def transition(self, s, share, eps, agg):
        return (1 - share) * self.cash(s, agg)

    def reward(self, s, share, agg, next_agg):
        return (share * self.cash(s, agg)) ** (1 - self.sigma) / (1 - self.sigma)

    def aggregates(self, dist):
        return {"K": dist.mean("a"), "L": dist.mean("e")}

    def prices(self, agg):
        KL = agg.K / agg.L
        return {"r": self.alpha * KL ** (self.alpha - 1) - self.delta, "w": (1 - self.alpha) * KL**self.alpha}

    def market(self):
        return hm.CapitalMarket("K")


def test_a_plain_model_gets_the_generic_path(x64):
    """A model that writes its transition and reward itself is solved by policy iteration on its game,
    and gets the same r* (to the root's tolerance) as the same economy declared as a savings economy
    and forced onto the generic path."""
    plain = hm.solve(PlainThreeStates(), method="stationary")
    assert plain.result.algorithm == "policy iteration"
    declared = hm.solve(
        ECONOMIES["ThreeStates"](n_a=60, n_actions=30, share_grid="uniform"),  # the plain model's shares
        algorithm="policy iteration",
        method="stationary",
    )
    assert plain.aggregates["r"] == pytest.approx(declared.aggregates["r"], abs=1e-7)
    mu = plain.stationary
    assert abs(mu.sum() - 1) < 1e-12 and mu.min() >= 0
    assert plain.policy["pi"].shape == (60, 3, 30)
    with pytest.raises(TypeError, match="not a hetmacro.SavingsEconomy"):
        hm.solve(PlainThreeStates(), hm.Stationary(algorithm="egm"))


def test_a_model_without_a_market_is_refused_with_a_reason():
    """The Beach Bar declares no market: its stationary equilibrium would be a fixed point of the
    distribution itself, which the stationary solver does not search; it says so and what to do."""
    from hetmacro.models import BeachBar

    with pytest.raises(ValueError, match="declares no market"):
        hm.solve(BeachBar(closure=False, bar=20, n_cells=41, T=8), method="stationary")


# --- checks at declaration ---------------------------------------------------------------------------------
def test_a_transition_that_differs_from_the_budget_is_refused():
    ThreeStates = ECONOMIES["ThreeStates"]

    class LosesHalf(ThreeStates):
        def transition(self, s, share, eps, agg):
            return 0.5 * (1 - share) * self.cash_on_hand(s, agg)

    with pytest.raises(ValueError, match="LosesHalf.transition disagrees with the budget"):
        hm.compile(LosesHalf(n_a=20))
    with pytest.raises(ValueError, match="LosesHalf.transition disagrees"):
        hm.solve(LosesHalf(n_a=20), method="stationary")


def test_a_reward_that_differs_from_the_utility_is_refused():
    ThreeStates = ECONOMIES["ThreeStates"]

    class LogReward(ThreeStates):  # declares CRRA(2) but pays log c
        def reward(self, s, share, agg, next_agg):
            return jnp.log(share * self.cash_on_hand(s, agg))

    with pytest.raises(ValueError, match="LogReward.reward disagrees with the utility"):
        hm.compile(LogReward(n_a=20))

    class SameReward(ThreeStates):  # the same utility written out: accepted
        def reward(self, s, share, agg, next_agg):
            return (share * self.cash_on_hand(s, agg)) ** (1 - self.sigma) / (1 - self.sigma)

    hm.compile(SameReward(n_a=20))


def test_a_borrowing_limit_off_the_grid_is_refused():
    Huggett = ECONOMIES["Huggett"]

    class ShiftedGrid(Huggett):
        def grid(self):  # starts at 0 while the limit is -2
            return hm.Grid("a", hm.geometric_grid(0.0, 22.0, self.n_a))

        def borrowing_limit(self):
            return self.a_min

    with pytest.raises(ValueError, match="grid starts at 0 but the borrowing limit is -2"):
        hm.compile(ShiftedGrid(n_a=20))


def test_bad_utilities_and_markets_are_refused():
    Precautionary = ECONOMIES["Precautionary"]

    class WrongInverse(hm.CARA):
        def inverse_marginal(self, m):
            return -jnp.log(m)  # forgets 1 / gamma

    class BadUtility(Precautionary):
        def utility(self):
            return WrongInverse(2.0)

    with pytest.raises(ValueError, match="inverse_marginal"):
        hm.compile(BadUtility(n_a=20))

    class NoRate(Precautionary):
        def market(self):
            return hm.AssetSupply(1.5, rate="rate")

    with pytest.raises(ValueError, match="rate is the field 'rate'"):
        hm.compile(NoRate(n_a=20))


# --- the shared rate search ---------------------------------------------------------------------------------
class _Synthetic(RateSearch):
    """G(r) given as a function, for the root-finder's own tests."""

    def __init__(self, G):
        super().__init__("Synthetic", 1e-4)
        self.G = G

    def warm_start(self, r):
        return None

    def solve(self, r, start, loose):
        g = float(self.G(r))
        return {"gap": g, "implied_rate": None, "A": g, "S": 0.0, "seconds": 0.0, "start_next": None}


def test_a_root_at_the_edge_of_the_search_is_an_error():
    """A gap whose sign changes only within 1e-9 of the upper end (what a grid that households cannot
    leave produces) is refused with a message that says so, instead of returned as r*."""
    hi = 0.04
    with pytest.raises(NoEquilibriumError, match="upper end of the search range"):
        find_rate(_Synthetic(lambda r: r - (hi - 1e-10)), -0.08, hi, 1e-13, 200)
    r_star, _ = find_rate(_Synthetic(lambda r: np.tanh(50 * (r - 0.012))), -0.08, hi, 1e-13, 60)
    assert r_star == pytest.approx(0.012, abs=1e-12)


def test_no_sign_change_says_which_side():
    with pytest.raises(NoEquilibriumError, match="stay below what the market needs"):
        find_rate(_Synthetic(lambda r: -1.0), -0.08, 0.04, 1e-13, 60)
    with pytest.raises(NoEquilibriumError, match="exceed what the market needs"):
        find_rate(_Synthetic(lambda r: 1.0), -0.08, 0.04, 1e-13, 60)


# --- solver configurations ----------------------------------------------------------------------------------
def test_solver_configurations_are_typed_and_validated():
    assert hm.METHODS["stationary"] is hm.Stationary
    assert hm.Stationary().resolved("egm").tol == 1e-13
    assert hm.Stationary(tol=1e-9).resolved("policy iteration").tol == 1e-9
    with pytest.raises(TypeError, match="unknown option"):
        hm.solve(ECONOMIES["Huggett"](), method="stationary", tolerance=1e-9)
    with pytest.raises(TypeError, match="beside the configuration"):
        hm.solve(ECONOMIES["Huggett"](), hm.Stationary(), tol=1e-9)
    with pytest.raises(ValueError, match="algorithm"):
        hm.Stationary(algorithm="vfi")
    with pytest.raises(ValueError, match="must be positive"):
        hm.DP(tol=-1.0)


def test_solutions_carry_their_configuration(fast):
    sol = fast["Huggett"]
    assert isinstance(sol.solver, hm.Stationary) and sol.solver.values is False
    assert sol.model.r == pytest.approx(sol.aggregates["r"])  # the economy at its equilibrium rate
