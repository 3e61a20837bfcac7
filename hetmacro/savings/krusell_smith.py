r"""The Krusell–Smith algorithm (``method="ks"``): bounded rationality with a log-linear law of motion.

Households in an economy with aggregate TFP risk need the whole distribution to forecast prices;
Krusell and Smith (1998) replace it by the mean of capital and a perceived law of motion

    log K' = b0(z) + b1(z) log K,

one pair of coefficients per aggregate state z. The algorithm iterates on (b0, b1):

1. **Household** on (a, e, K, z) by EGM (:func:`hetmacro.savings.egm.backward_step`): with
   Va(a, e, K, z) = (1 + r(K, z)) u'(c), the Euler equation is
   u'(c) = beta sum_{z', e'} pi(z' | z) P(e' | e, z, z') Va(a', e', K'(K, z), z'), Va linear in K
   between the points of a log-spaced K grid centred on the stationary equilibrium's K. Prices at
   (K, z) are the Game's own (``aggregate_state`` with the market's capital held at K and the
   employment mix of state z), and the utility, income and borrowing limit are the economy's
   declarations, so the budget is the model's. Iterated from the previous iteration's solution until the
   savings policy a'(a, e, K, z) is within ``hh_tol`` of its fixed point.
2. **Simulation** with the histogram (Young 2010), not a Monte Carlo panel: along one long draw of the
   aggregate state z_0..z_T (fixed across iterations), mu_{t+1} = push(mu_t, a'(., ., K_t, z_t)) with
   the compiled Game's ``push`` and the employment block P(e' | e, z_t, z_{t+1}); K_t is the histogram's
   mean, the policy is linear in K between grid points.
3. **Regression** of log K_{t+1} on log K_t separately for each z, over t >= ``burn_in``; R^2 per state.
4. **Update** b <- (1 - damping) b + damping b_new, and go to 1 with the *new* beliefs (HARK 0.16-0.17
   solves every iteration with the initial beliefs: anchors §4b). Stop when max |b_new - b| < ``tol``.

Accuracy is reported as R^2 and **Den Haan's (2010) dynamic forecast error**: the law of motion is
iterated on its own, K^LoM_{t+1} = exp(b0(z_t) + b1(z_t) log K^LoM_t) from the simulated K at the
first date after the burn-in, along the same z path, and compared with the simulated K:
max_t 100 |log K^LoM_t - log K_t| (%). R^2 alone is a weak test (den Haan 2010).

**Aggregate states.** The two-state original (``tfp_process="two_state"``): z in {bad, good}, the
employment block P(e' | e, z, z') from the model. The AR(1) variant (``tfp_process="ar1"``): log TFP
is discretised by Rouwenhorst's method into ``n_z`` states for the household problem *and* the
simulation (so the regression per state is exact); the income chain does not depend on z. At a
continuous z (the impulse response, the Game policy) the savings policy is linear in z between nodes.

References: Krusell, P. and A. Smith (1998), JPE 106(5); Young, E. (2010), JEDC 34(1); den Haan, W.
(2010), "Assessing the accuracy of the aggregate law of motion in models with heterogeneous agents",
JEDC 34(1); Maliar, Maliar and Valli (2010), JEDC 34(1).
"""

from __future__ import annotations

import functools
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ..equilibrium import ConvergenceError
from ..game import Flow, Game, compile
from ..grids import rouwenhorst, stationary_distribution
from ..market import CapitalMarket
from ..noise import AR1, MarkovChain, NoNoise
from ..report import irf_frame
from ..results import KSResult
from ..solution import Solution
from . import egm
from .distribution import push_savings
from .economy import SavingsEconomy, consumption_from
from .rules import GamePolicy
from .utility import Utility

__all__ = ["KSProblem", "KSRule", "ks_irf", "ks_problem", "solve_krusell_smith"]


class KSProblem(eqx.Module):
    """The arrays of the Krusell–Smith household problem and simulation (float64).

    Attributes:
        game: the model compiled in float64 (``push``, ``aggregate_state``).
        a: (n,) asset grid; e: (m,) income / employment states.
        z_nodes: (nz,) the aggregate states as the Game's noise values (state indices for a Markov
            chain, log TFP for an AR(1)); z_coord: (nz,) float coordinates for interpolation in z.
        pi_z: (nz, nz) transition of the aggregate state; P_e: (nz, nz, m, m) P(e' | e, z, z').
        p_e: (nz, m) the employment mix given z (conditional stationary distribution).
        K_grid: (nK,) aggregate capital grid; r, y: (nK, nz) and (nK, nz, m): rate and non-asset income
            at each grid point; beta; utility; a_min: the borrowing limit; settings: (K_center, n_K,
            K_width, n_z) it was built with.
    """

    game: Game
    utility: Utility
    a: jnp.ndarray
    a_min: jnp.ndarray
    e: jnp.ndarray
    z_nodes: jnp.ndarray
    z_coord: jnp.ndarray
    pi_z: jnp.ndarray
    P_e: jnp.ndarray
    p_e: jnp.ndarray
    K_grid: jnp.ndarray
    r: jnp.ndarray
    y: jnp.ndarray
    beta: jnp.ndarray
    discrete: bool = eqx.field(static=True)
    labels: tuple = eqx.field(static=True)
    settings: tuple = eqx.field(static=True)


def _prices_at(game: Game, K, z, p_e):
    """The Game's aggregates and prices at capital K, noise value z and employment mix p_e (m,)."""
    mu = jnp.full((game.n, 1), 1.0 / game.n, game.dtype) * p_e[None, :]
    return game.aggregate_state(mu, z, 0, fixed={game.model.market().capital: K}).values


def _income(game: Game, values):
    """y(e) (m,): the economy's non-asset income in every income state at the prices ``values``."""
    return jax.vmap(lambda e: game.model.income(e, values))(game.chain.values)


@jax.jit
def _grid_prices_jit(game: Game, K_grid, nodes, p_e):
    """r (nK, nz) and non-asset income y (nK, nz, m) at every grid point of (K, z)."""

    def at(K, j):
        v = _prices_at(game, K, nodes[j], p_e[j])
        return v["r"], _income(game, v)

    ks = jnp.arange(K_grid.shape[0])
    js = jnp.arange(nodes.shape[0])
    return jax.vmap(lambda k: jax.vmap(lambda j: at(K_grid[k], j))(js))(ks)


def ks_problem(model, K_center: float, n_K: int = 7, K_width: float = 0.2, n_z: int = 7) -> KSProblem:
    """Compile ``model`` (float64) and build the Krusell–Smith problem.

    Args:
        K_center: the centre of the K grid (e.g. the stationary equilibrium's K).
        n_K: K grid points, log-spaced on [K_center / (1 + K_width), K_center (1 + K_width)].
        n_z: Rouwenhorst states of an AR(1) TFP process (ignored for a Markov chain).
    """
    name = type(model).__name__
    if not isinstance(model, SavingsEconomy) or not isinstance(model.market(), CapitalMarket):
        raise TypeError(
            f"the Krusell-Smith algorithm forecasts prices from aggregate capital: it solves savings "
            f"economies (hetmacro.SavingsEconomy) whose market is a CapitalMarket; {name} is not one."
        )
    with jax.enable_x64(True):
        game = compile(model, dtype=jnp.float64)
        noise = game.noise
        m = game.m
        if isinstance(noise, MarkovChain):
            pi_z = np.asarray(noise.P, np.float64)
            nodes = jnp.arange(pi_z.shape[0], dtype=jnp.int32)
            coord = np.arange(pi_z.shape[0], dtype=np.float64)
            discrete = True
            labels = ("bad", "good") if pi_z.shape[0] == 2 else tuple(f"z{j}" for j in range(pi_z.shape[0]))
        elif isinstance(noise, AR1):
            if noise.jumps:
                raise ValueError(
                    f"the Krusell-Smith algorithm discretises {name}'s TFP process on Rouwenhorst states, which "
                    f"cannot hold its rare jumps (probability {noise.jump_prob:g}, size {noise.jump_size:g}). "
                    "Fix: solve the economy without them (disaster_prob=0), or use method='rspg'."
                )
            if n_z < 2:
                raise ValueError(f"n_z = {n_z}: an AR(1) TFP process needs at least 2 Rouwenhorst states.")
            chain = rouwenhorst(
                "z", n_z, float(noise.rho), float(noise.sigma), sd_kind="innovation", normalise=False
            )
            pi_z = np.asarray(chain.P, np.float64)
            coord = np.log(np.asarray(chain.values, np.float64))
            nodes = jnp.asarray(coord, jnp.float64)
            discrete = False
            labels = tuple(f"z={v:+.4f}" for v in coord)
        elif isinstance(noise, NoNoise):
            pi_z = np.ones((1, 1))
            nodes = jnp.zeros((1,), jnp.int32)
            coord = np.zeros(1)
            discrete = True
            labels = ("none",)
        else:
            raise NotImplementedError(
                f"{name}.common_noise() is a {type(noise).__name__}: method='ks' handles a Markov chain "
                "(the two-state original), an AR(1) in log TFP, or no aggregate risk."
            )
        nz = pi_z.shape[0]
        P_e = np.stack(
            [
                np.stack([np.asarray(game.chain_matrix(nodes[i], nodes[j]), np.float64) for j in range(nz)])
                for i in range(nz)
            ]
        )
        joint = (pi_z[:, :, None, None] * P_e).transpose(0, 2, 1, 3).reshape(nz * m, nz * m)
        p = stationary_distribution(joint).reshape(nz, m)
        p_e = p / p.sum(axis=1, keepdims=True)
        K_grid = float(K_center) * np.exp(np.linspace(-1.0, 1.0, n_K) * np.log1p(K_width))
        p_e_j = jnp.asarray(p_e)
        r, y = _grid_prices_jit(game, jnp.asarray(K_grid), nodes, p_e_j)
        return KSProblem(
            game=game,
            utility=game.model.utility(),
            a=game.grid.points,
            a_min=jnp.asarray(game.model.borrowing_limit(), jnp.float64),
            e=game.chain.values,
            z_nodes=nodes,
            z_coord=jnp.asarray(coord),
            pi_z=jnp.asarray(pi_z),
            P_e=jnp.asarray(P_e),
            p_e=p_e_j,
            K_grid=jnp.asarray(K_grid),
            r=jnp.asarray(r),
            y=jnp.asarray(y),
            beta=game.beta,
            discrete=discrete,
            labels=labels,
            settings=(float(K_center), int(n_K), float(K_width), int(n_z)),
        )


# --- the household --------------------------------------------------------------------------------------
def _weights(grid, x):
    """Linear interpolation (extrapolation beyond the ends) on ``grid``: lower index j and weight w."""
    j = jnp.clip(jnp.searchsorted(grid, x, side="right") - 1, 0, grid.shape[0] - 2)
    return j, (x - grid[j]) / (grid[j + 1] - grid[j])


def _next_K(pb: KSProblem, b):
    """K'(K_k, z) = exp(b0(z) + b1(z) log K_k), shape (nK, nz)."""
    return jnp.exp(b[None, :, 0] + b[None, :, 1] * jnp.log(pb.K_grid)[:, None])


def _household_step(pb: KSProblem, b, Va):
    """One EGM step on (a, e, K, z): Va (n, m, nK, nz) -> (Va, a', c)."""
    j, w = _weights(pb.K_grid, _next_K(pb, b))  # (nK, nz)
    Va_next = (1 - w)[None, None, :, :, None] * Va[:, :, j, :] + w[None, None, :, :, None] * Va[
        :, :, j + 1, :
    ]
    T = pb.pi_z[:, :, None, None] * pb.P_e  # (z, z', e, e')
    emu = pb.beta * jnp.einsum("zyeE,nEkzy->kzne", T, Va_next)  # (nK, nz, n, m)

    def step(emu_kz, y, r):
        return egm.backward_step(pb.utility, emu_kz, pb.a, pb.a_min, y, r)

    Va_new, a_next, c = jax.vmap(jax.vmap(step))(emu, pb.y, pb.r)
    to_nm = (2, 3, 0, 1)  # (nK, nz, n, m) -> (n, m, nK, nz)
    return Va_new.transpose(to_nm), a_next.transpose(to_nm), c.transpose(to_nm)


def _solve_household(pb: KSProblem, b, Va0, tol, max_iter):
    """Iterate the EGM step to the fixed point (stopping rule of :func:`egm.solve_egm`)."""
    Va1, a1, c1 = _household_step(pb, b, Va0)
    inf = jnp.asarray(jnp.inf, Va0.dtype)

    def cond(state):
        *_, err, k = state
        return (err > tol) & (k < max_iter)

    def body(state):
        Va, a_prev, _, d_prev, _, k = state
        Va_new, a_new, c_new = _household_step(pb, b, Va)
        d = jnp.max(jnp.abs(a_new - a_prev))
        rho = jnp.clip(d / d_prev, 0.0, 0.999999)
        return Va_new, a_new, c_new, d, d * jnp.maximum(1.0, rho / (1.0 - rho)), k + 1

    Va, a_next, c, _, err, k = jax.lax.while_loop(
        cond, body, (Va1, a1, c1, inf, inf, jnp.asarray(1, jnp.int32))
    )
    return Va, a_next, c, k, err


def _initial_Va(pb: KSProblem):
    """Va of eating income plus a share of wealth at every (K, z): a feasible start."""
    a = pb.a[:, None, None, None]
    y = jnp.moveaxis(pb.y, 2, 0)[None]  # (1, m, nK, nz)
    r = pb.r[None, None]
    c = jnp.maximum(y + jnp.maximum(r, 0.01) * (a - pb.a_min), 1e-10)
    return egm.marginal_value(pb.utility, c, r)


# --- the policy at any (K, z) -----------------------------------------------------------------------------
def _z_weights(pb: KSProblem, z):
    """Weights (nz,) over the aggregate nodes: one-hot for a chain index, linear in z for an AR(1)."""
    nz = pb.z_coord.shape[0]
    if pb.discrete:
        return jax.nn.one_hot(z, nz, dtype=pb.a.dtype)
    zc = jnp.clip(jnp.asarray(z, pb.a.dtype), pb.z_coord[0], pb.z_coord[-1])
    j, w = _weights(pb.z_coord, zc)
    return jax.nn.one_hot(j, nz, dtype=pb.a.dtype) * (1 - w) + jax.nn.one_hot(j + 1, nz, dtype=pb.a.dtype) * w


def _policy_at(pb: KSProblem, a_grid_policy, K, z):
    """a'(a, e) (n, m) at aggregate capital K and noise value z: linear in K (and in an AR(1) z)."""
    j, w = _weights(pb.K_grid, K)
    at_K = (1 - w) * a_grid_policy[:, :, j, :] + w * a_grid_policy[:, :, j + 1, :]  # (n, m, nz)
    a_next = at_K @ _z_weights(pb, z)
    return jnp.maximum(a_next, pb.a_min)


class KSRule(eqx.Module):
    """The Krusell–Smith savings rule a'(a, e; K, z) as ``savings(carry, agg) -> (carry, a')``."""

    problem: KSProblem
    a_next: jnp.ndarray  # (n, m, nK, nz)
    kind = "ks"

    def init_carry(self):
        return None

    def savings(self, carry, agg):
        K = agg.values[self.problem.game.model.market().capital]
        return carry, _policy_at(self.problem, self.a_next, K, agg.z)

    def spec(self) -> dict:
        K_center, n_K, K_width, n_z = self.problem.settings
        return {"K_center": K_center, "n_K": n_K, "K_width": K_width, "n_z": n_z}

    @classmethod
    def from_spec(cls, game: Game, K_center: float, n_K: int, K_width: float, n_z: int) -> KSRule:
        """The rule's structure rebuilt from the model (its policy array is restored by the caller)."""
        pb = ks_problem(game.model, K_center, n_K=n_K, K_width=K_width, n_z=n_z)
        shape = (pb.a.shape[0], pb.e.shape[0], n_K, pb.z_nodes.shape[0])
        return cls(pb, jnp.zeros(shape, pb.a.dtype))


# --- the simulation ----------------------------------------------------------------------------------------
def _sim_step(pb: KSProblem, a_grid_policy, mu, z, z_next, t):
    game = pb.game
    agg = game.aggregate_state(mu, z, t)
    a_next = _policy_at(pb, a_grid_policy, agg.K, z)
    c = consumption_from(pb.a[:, None], a_next, _income(game, agg.values)[None, :], agg.r)
    c = jax.vmap(lambda c_j, e: game.model.consumption(c_j, e, agg.values), in_axes=(1, 0), out_axes=1)(
        c, game.chain.values
    )
    mu_next = push_savings(game, mu, a_next, game.chain_matrix(z, z_next))
    rec = {k: v for k, v in agg.values.items() if jnp.ndim(v) == 0}
    rec["C"] = jnp.sum(mu * c)
    return mu_next, rec


def _simulate(pb: KSProblem, a_grid_policy, mu0, zs, burn, keep: int):
    """Roll the histogram along noise values zs (T + 1,) from mu0 at date 0.

    Returns (aggregates at dates 0..T-1, mu_T, the distributions of the last ``keep`` dates
    (T - keep..T), the average distribution over dates burn..T-1)."""
    T = zs.shape[0] - 1
    split = T - keep

    def body(state, xs):
        mu, acc, kept = state
        z, z_next, t = xs
        mu_next, rec = _sim_step(pb, a_grid_policy, mu, z, z_next, t)
        acc = acc + jnp.where(t >= burn, 1.0, 0.0) * mu
        kept = jax.lax.cond(
            t >= split, lambda k: jax.lax.dynamic_update_index_in_dim(k, mu, t - split, 0), lambda k: k, kept
        )
        return (mu_next, acc, kept), rec

    ts = jnp.arange(T, dtype=jnp.int32)
    kept0 = jnp.zeros((keep + 1,) + mu0.shape, mu0.dtype)
    (mu_T, acc, kept), rec = jax.lax.scan(body, (mu0, jnp.zeros_like(mu0), kept0), (zs[:-1], zs[1:], ts))
    kept = kept.at[keep].set(mu_T)
    return rec, mu_T, kept, acc / jnp.maximum(T - burn, 1)


_household_jit = jax.jit(_solve_household)
_simulate_jit = jax.jit(_simulate, static_argnums=5)


@functools.partial(jax.jit, static_argnums=3)
def _stochastic_steady_state_jit(pb: KSProblem, a_grid_policy, mu0, periods: int):
    """The distribution after ``periods`` dates at z = 0 (an AR(1)'s mean) under the KS policy."""
    z = jnp.zeros((), pb.a.dtype)

    def body(mu, t):
        return _sim_step(pb, a_grid_policy, mu, z, z, t)[0], None

    return jax.lax.scan(body, mu0, jnp.arange(periods, dtype=jnp.int32))[0]


@jax.jit
def _simulate_paths_jit(pb: KSProblem, a_grid_policy, mu0, zs):
    """Aggregates along several noise paths zs (P, D + 1) from one distribution: {name: (P, D)}."""
    return jax.vmap(lambda z: _simulate(pb, a_grid_policy, mu0, z, jnp.int32(0), 1)[0])(zs)


# --- regression and accuracy ---------------------------------------------------------------------------------
def _regress(logK: np.ndarray, iz: np.ndarray, burn_in: int, b_old: np.ndarray):
    """Per-state OLS of log K_{t+1} on log K_t over t >= burn_in: (b (nz, 2), R2 (nz,), counts (nz,)).

    A state whose log K does not vary (no aggregate risk) keeps its slope and gets the intercept that
    makes the regression fit the mean: b0 = mean(y) - b1 mean(x)."""
    x, y, s = logK[burn_in:-1], logK[burn_in + 1 :], iz[burn_in:-1]
    nz = b_old.shape[0]
    b = b_old.copy()
    R2 = np.full(nz, np.nan)
    counts = np.zeros(nz, dtype=int)
    for j in range(nz):
        sel = s == j
        counts[j] = int(sel.sum())
        if counts[j] == 0:
            continue
        xj, yj = x[sel], y[sel]
        sxx = np.sum((xj - xj.mean()) ** 2)
        if counts[j] < 3 or sxx < 1e-20 * max(counts[j], 1):
            b[j, 0] = yj.mean() - b[j, 1] * xj.mean()
            continue
        slope = np.sum((xj - xj.mean()) * (yj - yj.mean())) / sxx
        b[j] = (yj.mean() - slope * xj.mean(), slope)
        resid = yj - b[j, 0] - b[j, 1] * xj
        sst = np.sum((yj - yj.mean()) ** 2)
        R2[j] = 1.0 - np.sum(resid**2) / sst if sst > 0 else np.nan
    return b, R2, counts


def den_haan_error(logK: np.ndarray, iz: np.ndarray, b: np.ndarray, start: int) -> dict:
    """Den Haan's (2010) dynamic forecast error of the law of motion along a simulated path.

    K^LoM_start = K_start; log K^LoM_{t+1} = b0(z_t) + b1(z_t) log K^LoM_t, never reset to the
    simulated K. Returns {"max": max_t, "mean": mean_t} of 100 |log K^LoM_t - log K_t| (percent)."""
    lk = np.empty(logK.size - start)
    lk[0] = logK[start]
    for t in range(1, lk.size):
        j = iz[start + t - 1]
        lk[t] = b[j, 0] + b[j, 1] * lk[t - 1]
    err = 100.0 * np.abs(lk - logK[start:])
    return {"max": float(err.max()), "mean": float(err.mean())}


def _draw_path(pi: np.ndarray, T: int, seed: int, z0: int | None = None) -> np.ndarray:
    """Indices z_0..z_T of a Markov chain drawn with numpy (z_0 from the stationary distribution)."""
    rng = np.random.default_rng(seed)
    cum = np.cumsum(pi, axis=1)
    cum[:, -1] = 1.0
    iz = np.empty(T + 1, dtype=np.int64)
    iz[0] = rng.choice(pi.shape[0], p=stationary_distribution(pi)) if z0 is None else z0
    u = rng.random(T)
    for t in range(T):
        iz[t + 1] = int(np.searchsorted(cum[iz[t]], u[t], side="right"))
    return iz


# --- impulse responses -----------------------------------------------------------------------------------------
def ks_irf(
    sol: Solution,
    size: float | None = None,
    horizon: int = 40,
    *,
    rho: float | None = None,
    paths: int = 64,
    seed: int = 1,
    burn: int = 1000,
    base_state: int | None = None,
) -> pd.DataFrame:
    """The impulse response of the Krusell–Smith economy under its solved policy (histogram, exact a').

    - AR(1) TFP: from the *stochastic steady state* (the distribution reached after ``burn`` periods at
      z = 0 under the KS policy), the path z_h = size rho^h (default: 0.01 and the model's tfp_rho)
      against z_h = 0; the policy is linear in z between the Rouwenhorst nodes. Households keep their
      KS beliefs and policy; the shock is unanticipated and no further shocks occur.
    - Markov chain (two-state): from the simulation's last distribution, z_0 = state ``size`` (default
      1, good) against z_0 = ``base_state`` (default 0, bad), then ``paths`` continuations of the chain
      with the same random numbers for both; the mean difference (a regime switch: TFP 2% higher and
      unemployment 6 points lower on impact in the original calibration).

    Returns a table in :func:`hetmacro.report.irf`'s format: index h, ``K (%)`` (capital in production
    at h), ``r (pp)``, ``w (%)``, ``Y (%)``, ``C (%)``, ``L (%)``, ``z (level)``.
    """
    if not isinstance(sol.policy, GamePolicy) or not isinstance(sol.policy.rule, KSRule):
        raise ValueError(f"ks_irf needs a Krusell-Smith Solution (method 'ks'), got method {sol.method!r}.")
    pb: KSProblem = sol.policy.rule.problem
    pol = sol.policy.rule.a_next
    H = int(horizon)
    with jax.enable_x64(True):
        if not pb.discrete:
            rho = float(pb.game.noise.rho) if rho is None else float(rho)
            size = 0.01 if size is None else float(size)
            zb = jnp.zeros((H + 2,), jnp.float64)
            zs = size * rho ** jnp.arange(H + 2, dtype=jnp.float64)
            mu_sss = _stochastic_steady_state_jit(pb, pol, jnp.asarray(sol.result.mu_start), burn)
            out = _simulate_paths_jit(pb, pol, mu_sss, jnp.stack([zb, zs]))
            rb = {k: v[0] for k, v in out.items()}
            rs = {k: v[1] for k, v in out.items()}
            base = {k: np.asarray(v)[None, : H + 1] for k, v in rb.items()}
            shock = {k: np.asarray(v)[None, : H + 1] for k, v in rs.items()}
            zb_, zs_ = np.zeros((1, H + 1)), np.asarray(zs)[None, : H + 1]
            label = f"z_h = {size:g} x {rho:g}^h from the stochastic steady state (z = 0 for {burn} periods)"
        else:
            size = 1 if size is None else int(size)
            nz = pb.pi_z.shape[0]
            base_state = 0 if base_state is None else int(base_state)
            for what, v in (("size", size), ("base_state", base_state)):
                if not 0 <= v < nz:
                    raise ValueError(
                        f"ks_irf: {what} = {v} must be a state index of the chain (0..{nz - 1})."
                    )
            cum = np.cumsum(np.asarray(pb.pi_z), axis=1)
            cum[:, -1] = 1.0
            u = np.random.default_rng(seed).random((paths, H + 1))
            ib = np.empty((paths, H + 2), dtype=np.int64)
            ish = np.empty_like(ib)
            ib[:, 0], ish[:, 0] = base_state, size
            for p in range(paths):  # common random numbers: the same uniforms move both paths
                for t in range(H + 1):
                    ib[p, t + 1] = np.searchsorted(cum[ib[p, t]], u[p, t], side="right")
                    ish[p, t + 1] = np.searchsorted(cum[ish[p, t]], u[p, t], side="right")
            mu_start = jnp.asarray(sol.result.mu_end)
            rb = _simulate_paths_jit(pb, pol, mu_start, pb.z_nodes[jnp.asarray(ib)])
            rs = _simulate_paths_jit(pb, pol, mu_start, pb.z_nodes[jnp.asarray(ish)])
            base = {k: np.asarray(v)[:, : H + 1] for k, v in rb.items()}
            shock = {k: np.asarray(v)[:, : H + 1] for k, v in rs.items()}
            zb_, zs_ = ib[:, : H + 1].astype(float), ish[:, : H + 1].astype(float)
            label = (
                f"z_0 = {pb.labels[size]} against z_0 = {pb.labels[base_state]} from the simulation's last "
                f"distribution, then the chain with the same random numbers; mean of {paths} paths"
            )
    names = [k for k in ("K", "r", "w", "Y", "C", "L") if k in base]
    frame = irf_frame(
        {"z": zb_, **{k: base[k] for k in names}}, {"z": zs_, **{k: shock[k] for k in names}}, levels=("z",)
    )
    frame.attrs.update(
        {
            "description": "impulse response under the Krusell-Smith policy (histogram simulation, exact "
            "savings rule): shocked minus unshocked path",
            "shock": label,
            "index": "h: periods since the shock (date h); K (%) is capital used in production at h",
            "method": "ks",
            "model": type(sol.model).__name__,
        }
    )
    return frame


# --- the solver --------------------------------------------------------------------------------------------
def solve_krusell_smith(model, config) -> Solution:
    """Solve a savings economy with aggregate TFP risk by the Krusell–Smith algorithm.

    Args:
        model: a :class:`~hetmacro.SavingsEconomy` with a :class:`~hetmacro.CapitalMarket`, e.g.
            ``KrusellSmith.from_calibration("krusell_smith_1998")`` (two-state original) or its ``:ar1``
            variant.
        config: a :class:`hetmacro.KS` (its options and defaults are documented there).

    Returns:
        A :class:`~hetmacro.Solution` (method ``"ks"``): ``aggregates`` means over the simulation after
        the burn-in (r, w, K, L, Y, C); ``result`` (:class:`~hetmacro.results.KSResult`: the law of
        motion b0, b1, R^2 per state, den Haan's error, iterations, convergence, the simulation, the
        policy on the (K, z) grid, the first, last and average distributions, the IRF); ``history`` one
        row per iteration; ``policy`` the savings rule as a Game policy on the action grid
        (:class:`~hetmacro.savings.rules.GamePolicy` of :class:`KSRule`, saved with the Solution);
        ``flows`` the last ``keep`` dates of the final simulation as a :class:`~hetmacro.Flow` (leading
        path axis 1, dates counted from the start of the simulation, pi None), so ``paths``,
        ``compare``, ``inequality`` and the figures read the simulation; ``timings`` in seconds.
    """
    t_start = time.perf_counter()
    periods, burn_in, n_K, K_width, n_z = (
        config.periods,
        config.burn_in,
        config.n_K,
        config.K_width,
        config.n_z,
    )
    damping, tol, max_iter, hh_tol = config.damping, config.tol, config.max_iter, config.hh_tol
    seed, keep, verbose = config.seed, config.keep, config.verbose
    steady_state = config.steady_state
    if steady_state is None:
        from ..solvers import Stationary

        steady_state = Stationary(values=False).solve(model.without_aggregate_risk())
    K_ss = float(steady_state.aggregates[model.market().capital])
    pb = ks_problem(model, K_ss, n_K=n_K, K_width=K_width, n_z=n_z)
    if keep is None:
        keep = max(1, min(periods - burn_in, (64 * 2**20) // (8 * pb.game.S) - 1))
    keep = int(min(keep, periods))
    nz = pb.pi_z.shape[0]
    with jax.enable_x64(True):
        # The initial distribution: the stationary one with the employment mix of z_0.
        iz = _draw_path(np.asarray(pb.pi_z), periods, seed)
        mu_ss = np.asarray(steady_state.stationary, np.float64)
        marg = mu_ss.sum(axis=0)
        mu0 = mu_ss * (np.asarray(pb.p_e[iz[0]]) / np.where(marg > 0, marg, 1.0))[None, :]
        mu0 = jnp.asarray(mu0 / mu0.sum())
        zs = pb.z_nodes[jnp.asarray(iz)]
        b = np.empty((nz, 2))
        if config.b_init is None:
            b[:, 1] = 0.96
            b[:, 0] = (1 - 0.96) * np.log(K_ss)
        else:
            b[:] = np.asarray(config.b_init, np.float64).reshape(nz, 2)
        Va = _initial_Va(pb)
        ctrl = (jnp.float64(hh_tol), jnp.int32(config.max_hh_iter))
        hh_c = _household_jit.lower(pb, jnp.asarray(b), Va, *ctrl).compile()
        sim_c = _simulate_jit.lower(pb, Va, mu0, zs, jnp.int32(burn_in), keep).compile()
        t_compiled = time.perf_counter()
        rows = []
        a_prev = None
        converged = False
        for it in range(1, max_iter + 1):
            t0 = time.perf_counter()
            # Inexact inner solves while the beliefs are far from their fixed point: the household
            # tolerance follows the last change of the coefficients, down to hh_tol at the end.
            tol_k = hh_tol if not rows else max(hh_tol, min(1e-5, 1e-3 * rows[-1]["change"]))
            Va, a_grid, _, hh_k, hh_err = hh_c(pb, jnp.asarray(b), Va, jnp.float64(tol_k), ctrl[1])
            if not float(hh_err) <= tol_k:
                raise ConvergenceError(
                    f"ks: the household problem did not converge at iteration {it} ({int(hh_k)} EGM steps, "
                    f"error {float(hh_err):.3g} > tolerance {tol_k:.3g}). Fix: raise max_hh_iter or check beliefs "
                    f"b = {b.tolist()} (an explosive law of motion?)."
                )
            rec, mu_T, mus, mu_avg = sim_c(pb, a_grid, mu0, zs, jnp.int32(burn_in))
            logK = np.log(np.asarray(rec["K"]))
            if not np.all(np.isfinite(logK)):
                raise ConvergenceError(f"ks: the simulated capital stock is not finite at iteration {it}.")
            b_new, R2, counts = _regress(logK, iz[:-1], burn_in, b)
            change = float(np.max(np.abs(b_new - b)))
            policy_change = float("nan") if a_prev is None else float(jnp.max(jnp.abs(a_grid - a_prev)))
            a_prev = a_grid
            row = {
                "iteration": it,
                "change": change,
                "policy_change": policy_change,
                "hh_iterations": int(hh_k),
            }
            for j in range(nz):
                row[f"b0[{pb.labels[j]}]"] = b[j, 0]
                row[f"b1[{pb.labels[j]}]"] = b[j, 1]
                row[f"R2[{pb.labels[j]}]"] = R2[j]
            row["mean_K"] = float(np.mean(np.exp(logK[burn_in:])))
            row["seconds"] = time.perf_counter() - t0
            rows.append(row)
            if verbose:
                print(
                    f"ks {it:3d}: max |b_new - b| = {change:.3e}  mean K {row['mean_K']:.5f}  {row['seconds']:.2f} s"
                )
            if change < tol:
                converged = True
                b_final = b  # the beliefs the policy was solved with (b_new is within tol of them)
                break
            b = (1 - damping) * b + damping * b_new
        else:
            b_final = b
        t_solved = time.perf_counter()
        dh = den_haan_error(logK, iz[:-1], b_final, burn_in)
        sim = {k: np.asarray(v) for k, v in rec.items()}
        sample = slice(burn_in, periods)
        aggregates = {k: float(np.mean(sim[k][sample])) for k in ("r", "w", "K", "L", "Y", "C") if k in sim}
        lom = pd.DataFrame(
            {"b0": b_final[:, 0], "b1": b_final[:, 1], "R2": R2, "observations": counts},
            index=pd.Index(list(pb.labels), name="z"),
        )
        lom.attrs["description"] = (
            "perceived law of motion log K' = b0(z) + b1(z) log K (K: capital in production)"
        )
        simulation = pd.DataFrame(sim, index=pd.RangeIndex(periods, name="t"))
        simulation.insert(0, "z", np.asarray(zs)[:-1])
        # The flow of the last `keep` dates (a Flow with a leading path axis of length 1).
        ts = jnp.arange(periods - keep, periods + 1, dtype=jnp.int32)
        aggs = jax.vmap(pb.game.aggregate_state)(mus, zs[periods - keep :], ts)
        # Aggregate consumption along the flow (NaN at the last date, which has no policy), as paths()
        # shows a model's policy aggregates.
        C_flow = jnp.concatenate([rec["C"][periods - keep :], jnp.full((1,), jnp.nan, rec["C"].dtype)])
        aggs = eqx.tree_at(lambda a: a.values, aggs, {**aggs.values, "C": C_flow})
        flows = Flow(jax.tree.map(lambda x: x[None], aggs), None)
        game_policy = GamePolicy(KSRule(pb, a_grid), pb.game)
        result = KSResult(
            law_of_motion=lom,
            coefficients=b_final,
            R2=R2,
            den_haan=dh,
            iterations=len(rows),
            converged=converged,
            tolerance=tol,
            damping=damping,
            periods=periods,
            burn_in=burn_in,
            seed=seed,
            sizes={"n_a": int(pb.a.shape[0]), "n_e": int(pb.e.shape[0]), "n_K": n_K, "n_z": nz},
            K_width=K_width,
            K_grid=np.asarray(pb.K_grid),
            a_next_grid=np.asarray(a_grid),
            mu_start=np.asarray(mu0),
            mu_end=np.asarray(mu_T),
            mu=np.asarray(mu_avg),
            z_end=int(iz[-1]),
            simulation=simulation,
            steady_state_K=K_ss,
        )
    t_end = time.perf_counter()
    sol = Solution(
        method="ks",
        model=model,
        game=pb.game,
        policy=game_policy,
        flows=flows,
        aggregates=aggregates,
        history=pd.DataFrame(rows).set_index("iteration"),
        timings={"compile": t_compiled - t_start, "solve": t_solved - t_compiled, "total": t_end - t_start},
        result=result,
    )
    if config.irf:
        t0 = time.perf_counter()
        sol.result.irf = ks_irf(sol)
        sol.timings["irf"] = time.perf_counter() - t0
    return sol
