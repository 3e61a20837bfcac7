r"""First-order sequence-space impulse responses around a stationary equilibrium (``method="linear"``).

The economy is written as a map from sequences to sequences (Auclert, Bardóczy, Rognlie and Straub
2021). With T dates t = 0..T-1 after an unanticipated, then perfectly foreseen, shock at t = 0 (an
"MIT shock"):

- **household block**: price paths (r_t, w_t) -> aggregate end-of-period assets A_t and consumption C_t.
  Backward: the marginal value of beginning-of-period assets Va_t = (1 + r_t) u'(c_t) obeys one EGM step
  (Va_t, a'_t, c_t) = step(Va_{t+1}; r_t, w_t), from Va_T = Va_ss
  (:func:`hetmacro.savings.egm.egm_invert` with emu = beta E[Va_{t+1} | e]). Forward: D_0 = D_ss,
  D_{t+1} = push(D_t, a'_t) with the compiled Game's ``push`` (Young's lottery, then the income chain),
  A_t = <D_t, a'_t>, C_t = <D_t, c_t>;
- **firm**: Y_t = Z_t K_{t-1}^alpha L^(1 - alpha), r_t = alpha Z_t (K_{t-1}/L)^(alpha - 1) - delta,
  w_t = (1 - alpha) Z_t (K_{t-1}/L)^alpha (the model's ``factor_prices``), Z_t = Z_ss e^{z_t};
- **market clearing**: H_t(K, z) = A_t(r(K, z), w(K, z)) - K_t = 0, with K_t the capital chosen at t
  and used in production at t + 1 (sequence-jacobian's timing; K_{-1} = K_ss).

**Jacobians.** J^{A,r}[t, s] = dA_t / dr_s etc. come from JAX forward-mode derivatives of the EGM step
and of ``push`` at the steady state, assembled by the fake-news algorithm (ABRS 2021, section 3):
a shock to an input at date s moves the date-0 policy like a shock at date s - 1 moves it one
period later, so one backward sweep of T linearised EGM steps (``jax.linearize``) gives the policy
responses da'^{(s)}, dc^{(s)}; the first-period distribution response dD_1^{(s)} is the linearised
``push``; expectation vectors E_k = Lambda^k y_ss (the Game's ``expect``, the adjoint of ``push``) turn
them into the fake-news matrix F[0, s] = <D_ss, dy^{(s)}>, F[t, s] = <E_{t-1}, dD_1^{(s)}>, and
J[t, s] = F[t, s] + J[t-1, s-1]. The derivatives are exact (no finite-difference step), so the result
equals :func:`jacobians_direct` (``jax.jacfwd`` through the whole T-period path) to rounding.

**GE.** H_K = J^{A,r} R_K + J^{A,w} W_K - I and H_z = J^{A,r} R_z + J^{A,w} W_z (firm derivatives by
``jax.jacfwd``); the capital response is dK = G_K dz with G_K = -H_K^{-1} H_z, and every other output
follows: G_r = R_K G_K + R_z, ..., G_C = J^{C,r} G_r + J^{C,w} G_w. :func:`nonlinear_transition` solves
H(K, z) = 0 exactly by quasi-Newton steps with H_K, for the first-order check.

**Dates in the tables.** Solutions report IRFs in the Game's dating (``hetmacro.report.irf``): ``K`` at
horizon h is the capital used in production at date h (beginning-of-period assets), so K at h = A_{h-1}
in the notation above, and K does not move at h = 0. sequence-jacobian's K_t is end-of-period: its
K column at t is ours at t + 1.

References: Auclert, A., B. Bardóczy, M. Rognlie and L. Straub (2021), "Using the sequence-space
Jacobian to solve and estimate heterogeneous-agent models", Econometrica 89(5); Boppart, Krusell and
Mitman (2018), JEDC 89 (MIT shocks as first-order IRFs).
"""

from __future__ import annotations

import dataclasses
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from scipy import optimize

from ..game import Game, compile
from ..noise import AR1
from ..solution import Solution
from . import egm
from .stationary import ConvergenceError, SteadyStateProblem, distribution, household, policy_kernel
from .stationary import steady_state_problem as _steady_state_problem

__all__ = [
    "LinearPolicy",
    "SteadyState",
    "calibrate",
    "firm_path",
    "ge_jacobians",
    "household_path",
    "irf_table",
    "jacobians",
    "jacobians_direct",
    "linear_irf",
    "nonlinear_transition",
    "solve_linear",
    "steady_state",
]

INPUTS = ("r", "w")
OUTPUTS = ("A", "C")


# --- the steady state ----------------------------------------------------------------------------------
class SteadyState(eqx.Module):
    """A stationary equilibrium in the arrays the sequence-space code differentiates (float64).

    Attributes:
        problem: the :class:`~hetmacro.savings.stationary.SteadyStateProblem` (compiled Game, grid a (n,),
            income states e (m,), chain P, beta, sigma).
        r, w, Z, L, K, Y, C, T: interest rate (per period), wage, TFP level, labour, capital (= assets),
            output, consumption, lump-sum transfer.
        Va: (n, m) marginal value of beginning-of-period assets (1 + r) u'(c); a_next, c: (n, m) policies;
        mu: (n, m) the stationary distribution of the policy a_next.
    """

    problem: SteadyStateProblem
    r: jnp.ndarray
    w: jnp.ndarray
    Z: jnp.ndarray
    L: jnp.ndarray
    K: jnp.ndarray
    Y: jnp.ndarray
    C: jnp.ndarray
    T: jnp.ndarray
    Va: jnp.ndarray
    a_next: jnp.ndarray
    c: jnp.ndarray
    mu: jnp.ndarray

    @property
    def model(self):
        return self.problem.model

    @property
    def game(self) -> Game:
        return self.problem.game

    def aggregates(self) -> dict:
        """{r, w, K, L, Y, C, Z, T} as floats."""
        return {k: float(getattr(self, k)) for k in ("r", "w", "K", "L", "Y", "C", "Z", "T")}


def _no_risk(model):
    """The model without aggregate risk (its deterministic steady state), or the model itself."""
    if getattr(model, "aggregate_risk", False):
        return dataclasses.replace(model, aggregate_risk=False)
    return model


def _check_model(model) -> None:
    name = type(model).__name__
    if not all(hasattr(model, k) for k in ("factor_prices", "income", "steady_state_prices", "sigma")):
        raise TypeError(
            f"the sequence-space solver works on savings economies of the Aiyagari family (firm "
            f"factor_prices, household income, CRRA sigma); {name} is not one. Subclass "
            "hetmacro.models.Aiyagari."
        )
    if getattr(model, "labour", "exogenous") != "exogenous":
        raise NotImplementedError(
            f"{name}.labour = {model.labour!r}: the sequence-space solver handles exogenous labour only "
            "(with GHH hours, labour supply would be a third household output). Use labour='exogenous'."
        )


def _income(model, e, w, L):
    """Non-asset income y(e) at wage w: the model's ``income`` with the balanced transfer T = tax w L."""
    tax = getattr(model, "tax", 0.0)
    return model.income(e, {"w": w, "L": L, "T": tax * w * L})


def _step(ss: SteadyState, Va_next, r, w):
    """One backward step: (Va, a', c) at date t from Va_{t+1} and the date-t prices."""
    pb = ss.problem
    y = _income(pb.model, pb.e, w, ss.L)
    emu = pb.beta * (Va_next @ pb.P.T)
    c, a_next = egm.egm_invert(emu, pb.a, y, r, pb.sigma)
    return (1.0 + r) * egm.marginal_utility(c, pb.sigma), a_next, c


def _push(ss: SteadyState, mu, a_next):
    game = ss.game
    return game.push(mu, jnp.ones(a_next.shape + (1,), a_next.dtype), policy_kernel(game, a_next))


def _expect(ss: SteadyState, v, kern):
    return ss.game.expect(v, jnp.ones(v.shape + (1,), v.dtype), kern)


def _build(problem: SteadyStateProblem, r: float, c, mu, tol=1e-13) -> SteadyState:
    """A SteadyState at rate r from a converged consumption policy c and distribution mu.

    One more EGM step from Va = (1 + r) u'(c) makes (Va, a', c) a fixed point of the step to the
    household tolerance; the distribution is then re-solved for that exact a'."""
    model = problem.model
    with jax.enable_x64(True):
        p = {k: jnp.asarray(v, jnp.float64) for k, v in problem.prices(jnp.float64(r)).items() if k != "v"}
        Z = jnp.asarray(model.tfp(0), jnp.float64)
        Va0 = (1.0 + r) * egm.marginal_utility(jnp.asarray(c, jnp.float64), problem.sigma)
        proto = SteadyState(
            problem, p["r"], p["w"], Z, p["L"], p["K"], p["Y"], p["Y"], p["T"], Va0, Va0, Va0, Va0
        )
        Va, a_next, c_new = _step_jit(proto, Va0, p["r"], p["w"])
        dist = distribution(problem, a_next, tol=tol, mu_init=mu)
        mu = jnp.asarray(dist.mu)
        K = jnp.sum(mu * a_next)
        C = jnp.sum(mu * c_new)
        return SteadyState(problem, p["r"], p["w"], Z, p["L"], K, p["Y"], C, p["T"], Va, a_next, c_new, mu)


def steady_state(model_or_solution, **stationary_options) -> SteadyState:
    """The stationary equilibrium as a :class:`SteadyState`.

    Args:
        model_or_solution: an Aiyagari-family model (its no-aggregate-risk version is solved with
            ``hm.solve(model, method="stationary", **stationary_options)``), or such a Solution.
    """
    if isinstance(model_or_solution, Solution):
        sol = model_or_solution
        if sol.method != "stationary":
            raise ValueError(f"steady_state: expected a 'stationary' Solution, got method {sol.method!r}.")
    else:
        from .stationary import solve_stationary

        _check_model(model_or_solution)
        sol = solve_stationary(_no_risk(model_or_solution), values=False, **stationary_options)
    model = sol.model
    _check_model(model)
    problem = _steady_state_problem(model)
    r = float(sol.aggregates["r"])
    c_tilde = np.asarray(sol.policy["c"]) - np.asarray(problem.prices(r)["v"])[None, :]
    return _build(problem, r, c_tilde, sol.info["mu"])


def calibrate(
    model,
    r: float = 0.01,
    Y: float = 1.0,
    *,
    beta_bounds: tuple[float, float] | None = None,
    tol: float = 1e-14,
    hh_tol: float = 1e-12,
    dist_tol: float = 1e-13,
) -> tuple[object, SteadyState]:
    """Calibrate beta and Z so that the stationary equilibrium has interest rate ``r`` and output ``Y``.

    The firm pins down everything but beta: r + delta = alpha Y / K gives K = alpha Y / (r + delta),
    L = E[e] (exogenous labour), Z = Y / (K^alpha L^(1 - alpha)) and w = (1 - alpha) Y / L. Then beta
    solves the asset market A(beta) = K, A increasing in beta, by Brent's method on a bracket found
    by stepping toward 1/(1 + r) (where A diverges). This is how sequence-jacobian's Krusell–Smith
    notebook calibrates (it solves beta, Z and K jointly with a hybrid Newton method; the answer is
    the same).

    Args:
        model: an Aiyagari-family model with exogenous labour (aggregate risk is switched off).
        r: target net interest rate per period; Y: target output.
        beta_bounds: optional bracket for beta (default: found automatically).
        tol: absolute tolerance on beta.

    Returns:
        (calibrated model (the original, aggregate risk kept, with beta and Z replaced), SteadyState).
    """
    _check_model(model)
    with jax.enable_x64(True):
        base = _no_risk(model)
        alpha, delta = float(base.alpha), float(base.delta)
        K = alpha * Y / (r + delta)
        problem0 = _steady_state_problem(base)
        L = float(np.asarray(problem0.pi_e) @ np.asarray(problem0.e))
        tfp_scale = float(base.tfp(0)) / float(base.Z)  # mean TFP level relative to Z (two-state KS)
        Z = Y / (K**alpha * L ** (1.0 - alpha)) / tfp_scale
        base = dataclasses.replace(base, Z=jnp.asarray(Z, jnp.float64))
        problem = _steady_state_problem(base)
        K_demand = float(problem.prices(jnp.float64(r))["K"])
        cache: dict[float, tuple] = {}

        def supply(beta):
            beta = float(beta)
            if beta in cache:
                return cache[beta]
            pb = eqx.tree_at(lambda p: p.beta, problem, jnp.asarray(beta, jnp.float64))
            near = min(cache, key=lambda b: abs(b - beta)) if cache else None
            c0 = None if near is None else cache[near][1]
            mu0 = None if near is None else cache[near][2]
            hh = household(pb, r, tol=hh_tol, c_init=c0)
            dist = distribution(pb, hh.a_next, tol=dist_tol, mu_init=mu0)
            cache[beta] = (float(np.sum(dist.mu * np.asarray(pb.a)[:, None])) - K_demand, hh.c, dist.mu)
            return cache[beta]

        b_max = 1.0 / (1.0 + r)
        if beta_bounds is None:
            lo = hi = None
            b = b_max - 0.05
            for k in range(60):
                if supply(b)[0] < 0:
                    lo = b
                    if hi is not None:
                        break
                    b = b_max - (b_max - b) * 0.5
                else:
                    hi = b
                    if lo is not None:
                        break
                    b = b - 0.05 * 2**k
                if b <= 0:
                    break
            if lo is None or hi is None:
                raise ValueError(
                    f"calibrate: no beta in (0, 1/(1 + r)) makes assets equal K = {K:.6g} at r = {r}: "
                    "raise the grid's a_max or choose another target."
                )
        else:
            lo, hi = beta_bounds
        beta = optimize.brentq(lambda b: supply(b)[0], lo, hi, xtol=tol, rtol=4 * np.finfo(float).eps)
        _, c, mu = supply(beta)
        calibrated = dataclasses.replace(
            model, beta=jnp.asarray(beta, jnp.float64), Z=jnp.asarray(Z, jnp.float64)
        )
        problem = eqx.tree_at(lambda p: p.beta, problem, jnp.asarray(beta, jnp.float64))
        return calibrated, _build(problem, r, c, mu, tol=dist_tol)


# --- the household block along a path -----------------------------------------------------------------
def _household_path(ss: SteadyState, r, w):
    """(A, C, a' path, c path) along price paths r, w of length T; D_0 = D_ss, Va_T = Va_ss."""

    def back(Va_next, rw):
        Va, a_next, c = _step(ss, Va_next, *rw)
        return Va, (a_next, c)

    _, (a_path, c_path) = jax.lax.scan(back, ss.Va, (r, w), reverse=True)

    def fwd(mu, ac):
        a_next, c = ac
        return _push(ss, mu, a_next), (jnp.sum(mu * a_next), jnp.sum(mu * c))

    _, (A, C) = jax.lax.scan(fwd, ss.mu, (a_path, c_path))
    return A, C, a_path, c_path


def household_path(ss: SteadyState, r, w) -> dict:
    """The household block along price paths (nonlinear): {"A": (T,), "C": (T,)}.

    r, w: (T,) the interest rate (return on assets carried into t) and wage at dates 0..T-1; after T
    households expect the steady state. Differentiable (``jax.jacfwd`` gives :func:`jacobians_direct`).
    """
    with jax.enable_x64(True):
        A, C, _, _ = _household_path_jit(ss, jnp.asarray(r, jnp.float64), jnp.asarray(w, jnp.float64))
    return {"A": A, "C": C}


# --- Jacobians -------------------------------------------------------------------------------------------
def _fake_news(ss: SteadyState, T: int):
    """Household Jacobians {output: {input: (T, T)}} by the fake-news algorithm with JAX derivatives."""
    n, m = ss.a_next.shape
    _, step_lin = jax.linearize(lambda Va, r, w: _step(ss, Va, r, w), ss.Va, ss.r, ss.w)
    _, push_lin = jax.linearize(lambda a_next: _push(ss, ss.mu, a_next), ss.a_next)
    zero_v = jnp.zeros_like(ss.Va)
    zero = jnp.zeros_like(ss.r)

    def sweep(dr, dw):
        # s = 0: the direct effect of the date-0 input; s >= 1: the date-1 marginal value's effect.
        dVa0, da0, dc0 = step_lin(zero_v, dr, dw)

        def body(dVa, _):
            dVa_new, da, dc = step_lin(dVa, zero, zero)
            return dVa_new, (da, dc)

        _, (da, dc) = jax.lax.scan(body, dVa0, None, length=T - 1)
        return jnp.concatenate([da0[None], da]), jnp.concatenate([dc0[None], dc])

    one = jnp.ones_like(ss.r)
    da_r, dc_r = sweep(one, zero)
    da_w, dc_w = sweep(zero, one)
    da = jnp.stack([da_r, da_w])  # (input, s, n, m)
    dc = jnp.stack([dc_r, dc_w])
    dD1 = jax.vmap(jax.vmap(push_lin))(da)  # (input, s, n, m)

    kern = policy_kernel(ss.game, ss.a_next)

    def expectations(y):
        def body(E, _):
            return _expect(ss, E, kern), E

        _, Es = jax.lax.scan(body, y, None, length=T - 1)
        return Es  # E_0..E_{T-2}, (T - 1, n, m)

    out = {}
    for name, y, dy in (("A", ss.a_next, da), ("C", ss.c, dc)):
        Es = expectations(y).reshape(T - 1, n * m)
        F0 = jnp.einsum("ij,xsij->xs", ss.mu, dy)  # (input, s)
        Ft = jnp.einsum("tk,xsk->xts", Es, dD1.reshape(2, T, n * m))  # (input, T - 1, s)
        F = jnp.concatenate([F0[:, None, :], Ft], axis=1)  # (input, t, s)

        def accumulate(prev, row):
            cur = row + jnp.concatenate([jnp.zeros_like(prev[:, :1]), prev[:, :-1]], axis=1)
            return cur, cur

        _, J = jax.lax.scan(accumulate, jnp.zeros_like(F[:, 0, :]), jnp.swapaxes(F, 0, 1))
        J = jnp.swapaxes(J, 0, 1)  # (input, t, s)
        out[name] = {"r": J[0], "w": J[1]}
    return out


def jacobians(ss: SteadyState, T: int = 300) -> dict:
    """Household-block Jacobians by the fake-news algorithm: {"A": {"r": J, "w": J}, "C": {...}}.

    J[t, s] = d(output_t) / d(input_s), (T, T), in levels (A and C in model units per unit of r or w).
    """
    with jax.enable_x64(True):
        return _fake_news_jit(ss, T)


def jacobians_direct(ss: SteadyState, T: int) -> dict:
    """The same Jacobians by ``jax.jacfwd`` through :func:`household_path` (T forward passes of the
    whole T-period path: O(T^2) EGM steps; for tests and small T)."""
    with jax.enable_x64(True):
        r = jnp.full((T,), ss.r)
        w = jnp.full((T,), ss.w)

        def f(r, w):
            A, C, _, _ = _household_path(ss, r, w)
            return {"A": A, "C": C}

        Jr = jax.jit(jax.jacfwd(f, argnums=(0, 1)))(r, w)
        return {o: {"r": Jr[o][0], "w": Jr[o][1]} for o in OUTPUTS}


def firm_path(ss: SteadyState, K, z) -> dict:
    """Firm and prices along a path: K (T,) end-of-period capital (K_{-1} = K_ss), z (T,) log TFP
    deviations; returns {"r", "w", "Y"} (T,) with production at t using K_{t-1}."""
    model = ss.model
    K_lag = jnp.concatenate([ss.K[None], K[:-1]])
    Z = ss.Z * jnp.exp(z)
    r, w = model.factor_prices(K_lag, ss.L, Z)
    Y = Z * K_lag**model.alpha * ss.L ** (1.0 - model.alpha)
    return {"r": r, "w": w, "Y": Y}


def ge_jacobians(ss: SteadyState, J: dict) -> dict:
    """General-equilibrium responses to log TFP: {X: G_X (T, T)} for X in K, A, r, w, Y, C, z.

    dX = G_X dz for a path dz of log TFP deviations (dz_t = dZ_t / Z_ss). K is end-of-period capital
    (sequence-jacobian's K_t; it equals A_t in equilibrium)."""
    with jax.enable_x64(True):
        return _ge_jit(ss, J)


def _ge(ss: SteadyState, J: dict) -> dict:
    T = J["A"]["r"].shape[0]
    K0 = jnp.full((T,), ss.K)
    z0 = jnp.zeros((T,), K0.dtype)
    jac = jax.jacfwd(lambda K, z: firm_path(ss, K, z), argnums=(0, 1))(K0, z0)
    H_K = J["A"]["r"] @ jac["r"][0] + J["A"]["w"] @ jac["w"][0] - jnp.eye(T, dtype=K0.dtype)
    H_z = J["A"]["r"] @ jac["r"][1] + J["A"]["w"] @ jac["w"][1]
    G = {"K": -jnp.linalg.solve(H_K, H_z)}
    G["A"] = G["K"]
    for x in ("r", "w", "Y"):
        G[x] = jac[x][0] @ G["K"] + jac[x][1]
    G["C"] = J["C"]["r"] @ G["r"] + J["C"]["w"] @ G["w"]
    G["z"] = jnp.eye(T, dtype=K0.dtype)
    G["H_K"] = H_K
    return G


def linear_irf(G: dict, dz) -> dict:
    """First-order level responses {X: dX (T,)} to a log-TFP path dz (T,): dX = G_X dz."""
    dz = jnp.asarray(dz)
    return {k: v @ dz for k, v in G.items() if k != "H_K"}


# --- the nonlinear perfect-foresight transition ------------------------------------------------------------
def _residual(ss: SteadyState, K, z):
    p = firm_path(ss, K, z)
    A, C, a_path, c_path = _household_path(ss, p["r"], p["w"])
    return A - K, {"K": K, "A": A, "C": C, **p}


def nonlinear_transition(
    ss: SteadyState, dz, H_K=None, *, tol: float = 1e-11, max_iter: int = 30, J: dict | None = None
) -> dict:
    """The exact perfect-foresight transition after a log-TFP path dz (T,): solves
    A_t(r(K, z), w(K, z)) = K_t for the capital path by quasi-Newton steps K <- K - H_K^{-1} H(K)
    with the steady-state Jacobian H_K (sequence-jacobian's ``solve_impulse_nonlinear``).

    Returns {X: level path (T,)} for K, A, C, r, w, Y, plus "iterations" and "residual"
    (max |A_t - K_t|, model units). Raises :class:`ConvergenceError` when ``max_iter`` is reached.
    """
    with jax.enable_x64(True):
        dz = jnp.asarray(dz, jnp.float64)
        T = dz.shape[0]
        if H_K is None:
            H_K = ge_jacobians(ss, J if J is not None else jacobians(ss, T))["H_K"]
        lu = jax.scipy.linalg.lu_factor(H_K)
        K = jnp.full((T,), ss.K)
        for it in range(1, max_iter + 1):
            H, path = _residual_jit(ss, K, dz)
            err = float(jnp.max(jnp.abs(H)))
            if err < tol:
                out = {k: np.asarray(v) for k, v in path.items()}
                out.update(iterations=it - 1, residual=err)
                return out
            K = K - jax.scipy.linalg.lu_solve(lu, H)
    raise ConvergenceError(
        f"nonlinear_transition: the market-clearing residual is still {err:.3g} after {max_iter} "
        "quasi-Newton steps. Fix: a smaller shock, a longer T, or raise max_iter."
    )


# --- tables -----------------------------------------------------------------------------------------------
def irf_table(
    ss: SteadyState, dX: dict, horizon: int, shock: str = "", method: str = "linear"
) -> pd.DataFrame:
    """An IRF table in :func:`hetmacro.report.irf`'s format (built by :func:`hetmacro.report.irf_frame`)
    from level deviations in sequence dating.

    ``dX`` holds level deviations along t = 0..T-1 for z, K (end-of-period), r, w, Y, C. The table is in
    the Game's dating: index ``h``; ``K (%)`` is capital used in production at h (so K at h = the
    end-of-period K at h - 1, and 0 at h = 0); ``r (pp)`` percentage points; ``w``, ``Y``, ``C`` percent
    of the steady state; ``z (level)`` the log-TFP deviation.
    """
    from ..report import irf_frame

    H = horizon + 1
    dev = {
        "z": np.asarray(dX["z"])[:H],
        "K": np.concatenate([[0.0], np.asarray(dX["K"])[: H - 1]]),
        **{k: np.asarray(dX[k])[:H] for k in ("r", "w", "Y", "C")},
    }
    level = {"z": 0.0, **{k: float(getattr(ss, k)) for k in ("K", "r", "w", "Y", "C")}}
    baseline = {k: np.full(H, level[k]) for k in dev}
    shocked = {k: level[k] + dev[k] for k in dev}
    frame = irf_frame(baseline, shocked, levels=("z",))
    frame.attrs.update(
        {
            "description": "first-order (sequence-space) response to an unanticipated, then perfectly "
            "foreseen, log-TFP path: deviation from the steady state",
            "shock": shock,
            "index": "h: periods since the shock (date h); K (%) is capital used in production at h",
            "method": method,
            "model": type(ss.model).__name__,
        }
    )
    return frame


# --- the linear policy as a game policy ----------------------------------------------------------------
class LinearPolicy(eqx.Module):
    """The first-order policy as a Game policy ``(carry, agg) -> (carry, pi)``.

    By certainty equivalence the first-order savings rule after a history of log-TFP innovations
    eps_t = z_t - rho z_{t-1} is a'_t(a, e) = a'_ss(a, e) + sum_{k < H} Phi_k(a, e) eps_{t-k}, with
    Phi_k the policy's response k periods after a unit innovation (the perfect-foresight IRF of the
    policy; the response to a shock dies out well before H). The carry holds the last H innovations and
    z_{t-1}. Consumption is what the budget at the Game's actual prices leaves,
    c = (1 + r_t) a + y_t - a'; the consumption share s = c / x (x: cash on hand beyond a_min) is split
    between the two neighbouring points of the Game's action grid so that E[s] = s (so E[a'] is exact;
    shares outside the grid's range are clipped to its ends).

    The policy reads the TFP history from ``agg.z``; households could equally infer it from the price
    signals' history.
    """

    a_ss: jnp.ndarray
    Phi: jnp.ndarray
    rho: jnp.ndarray

    def init_carry(self):
        # numpy zeros keep the policy's dtype even when called outside ``jax.enable_x64``
        dtype = np.asarray(self.a_ss).dtype
        return np.zeros((self.Phi.shape[0],), dtype), np.zeros((), dtype)

    def savings(self, carry, agg):
        eps_hist, z_prev = carry
        z = jnp.asarray(agg.z, self.a_ss.dtype)
        eps = z - self.rho * z_prev
        eps_hist = jnp.concatenate([eps[None], eps_hist[:-1]])
        a_next = self.a_ss + jnp.tensordot(eps_hist, self.Phi, axes=1)
        return (eps_hist, z), a_next

    def __call__(self, carry, agg, game=None):
        raise TypeError("LinearPolicy needs the game: use game_policy(policy, game).")


def savings_to_actions(game: Game, agg, a_next):
    """Action probabilities (n, m, A) on the Game's consumption-share grid for a savings policy a'.

    The Game's transition is a' = a_min + (1 - s) x with x = (1 + r) a + y(e) - a_min, so the share is
    s = 1 - (a' - a_min) / x; it is split linearly between the two neighbouring action values (mass
    preserving E[s]), clipped to [s_0, s_{A-1}].
    """
    model = game.model
    a = game.grid.points[:, None]
    e = game.chain.values[None, :]
    x = (1.0 + agg.r) * a + model.income(e, agg.values) - model.a_min
    s = 1.0 - (a_next - model.a_min) / jnp.maximum(x, 1e-300)
    vals = game.actions.values
    s = jnp.clip(s, vals[0], vals[-1])
    A = vals.shape[0]
    if A == 1:
        return jnp.ones(a_next.shape + (1,), a_next.dtype)
    i = jnp.clip(jnp.searchsorted(vals, s, side="right") - 1, 0, A - 2)
    t = (s - vals[i]) / (vals[i + 1] - vals[i])
    return (
        jax.nn.one_hot(i, A, dtype=a_next.dtype) * (1 - t)[..., None]
        + jax.nn.one_hot(i + 1, A, dtype=a_next.dtype) * t[..., None]
    )


class GamePolicy(eqx.Module):
    """A savings rule with ``savings(carry, agg) -> (carry, a')`` as a Game policy on the action grid
    (:func:`savings_to_actions`): ``policy(carry, agg) -> (carry, pi)``."""

    rule: eqx.Module
    game: Game

    def init_carry(self):
        return self.rule.init_carry()

    def __call__(self, carry, agg):
        carry, a_next = self.rule.savings(carry, agg)
        return carry, savings_to_actions(self.game, agg, a_next)


def _policy_responses(ss: SteadyState, dr, dw):
    """da'_t (T, n, m): the policy path's first-order response to price deviations dr, dw (T,)."""
    T = dr.shape[0]
    r0 = jnp.full((T,), ss.r)
    w0 = jnp.full((T,), ss.w)
    _, da = jax.jvp(lambda r, w: _household_path(ss, r, w)[2], (r0, w0), (dr, dw))
    return da


# --- jitted cores ------------------------------------------------------------------------------------------
_step_jit = jax.jit(_step)
_household_path_jit = jax.jit(_household_path)
_fake_news_jit = jax.jit(_fake_news, static_argnums=1)
_ge_jit = jax.jit(_ge)
_residual_jit = jax.jit(_residual)
_policy_responses_jit = jax.jit(_policy_responses)
_linear_irf_jit = jax.jit(linear_irf)


# --- the solver -----------------------------------------------------------------------------------------
def solve_linear(
    model,
    *,
    T: int = 300,
    shock_size: float = 0.01,
    shock_rho: float | None = None,
    horizon: int = 40,
    calibrate_to: dict | None = None,
    steady_state_solution: Solution | None = None,
    policy_lags: int | None = None,
    nonlinear: bool = False,
    verbose: bool = False,
    **stationary_options,
) -> Solution:
    """First-order sequence-space impulse responses to a TFP shock around the stationary equilibrium.

    Args:
        model: an Aiyagari-family model with exogenous labour (e.g. ``KrusellSmith`` with
            ``tfp_process="ar1"``); its aggregate risk is switched off for the steady state.
        T: truncation horizon of the sequence space (households expect the steady state after T).
        shock_size, shock_rho: the log-TFP path dz_t = shock_size shock_rho^t (default rho: the model's
            ``tfp_rho``), i.e. dZ_t = shock_size Z shock_rho^t to first order.
        horizon: dates reported in the IRF table.
        calibrate_to: e.g. ``{"r": 0.01, "Y": 1.0}``: first calibrate beta and Z (:func:`calibrate`).
        steady_state_solution: a 'stationary' Solution to linearise around (skips that solve).
        policy_lags: H of :class:`LinearPolicy` (default min(T, 200)).
        nonlinear: also solve the nonlinear perfect-foresight transition for the same shock
            (``info["nonlinear_irf"]``, same table format).
        stationary_options: passed to ``solve_stationary``.

    Returns:
        A :class:`~hetmacro.Solution` (method ``"linear"``): ``aggregates`` the steady state (r, w, K,
        L, Y, C; first-order means equal it); ``info["irf"]`` the IRF table (:func:`irf_table`);
        ``info["G"]`` the GE Jacobians (T, T) to log TFP (:func:`ge_jacobians`); ``info["J"]`` the
        household Jacobians; ``info["mu"]`` the stationary distribution; ``policy`` the first-order
        savings rule as a Game policy (:class:`LinearPolicy` via :class:`GamePolicy`) when the model's
        common noise is an AR(1) in log TFP, else the steady-state policy dict; ``timings`` in seconds
        (``steady_state``, ``compile`` (Jacobians and GE, compiled ahead of time), ``jacobians``,
        ``ge``, ``irf``, ``total``).
    """
    t0 = time.perf_counter()
    _check_model(model)
    if calibrate_to is not None:
        model, ss = calibrate(model, **calibrate_to)
    else:
        ss = steady_state(
            steady_state_solution if steady_state_solution is not None else model, **stationary_options
        )
    t_ss = time.perf_counter()
    with jax.enable_x64(True):
        fake = _fake_news_jit.lower(ss, T).compile()
        J_shapes = jax.eval_shape(lambda s: _fake_news(s, T), ss)
        ge = _ge_jit.lower(ss, J_shapes).compile()
        t_compiled = time.perf_counter()
        J = jax.block_until_ready(fake(ss))
        t_J = time.perf_counter()
        G = jax.block_until_ready(ge(ss, J))
        t_G = time.perf_counter()
        rho = float(shock_rho if shock_rho is not None else getattr(model, "tfp_rho", 0.9))
        dz = shock_size * rho ** jnp.arange(T, dtype=jnp.float64)
        irf_c = _linear_irf_jit.lower(G, dz).compile()
        t_irf0 = time.perf_counter()
        dX = jax.block_until_ready(irf_c(G, dz))
        t_irf = time.perf_counter()
        label = f"log TFP path dz_t = {shock_size:g} x {rho:g}^t (dZ_t = {shock_size:g} Z {rho:g}^t to first order)"
        table = irf_table(ss, dX, horizon, label)
        info = {
            "irf": table,
            "G": {k: np.asarray(v) for k, v in G.items()},
            "J": {o: {i: np.asarray(v) for i, v in d.items()} for o, d in J.items()},
            "mu": np.asarray(ss.mu),
            "steady_state": ss,
            "T": T,
            "shock": {"size": shock_size, "rho": rho},
            "beta": float(ss.problem.beta),
            "Z": float(ss.Z),
        }
        if nonlinear:
            path = nonlinear_transition(ss, dz, G["H_K"])
            dXn = {k: path[k] - float(getattr(ss, k if k != "A" else "K")) for k in ("K", "r", "w", "Y", "C")}
            dXn["z"] = dz
            info["nonlinear_irf"] = irf_table(ss, dXn, horizon, label, method="nonlinear perfect foresight")
            info["nonlinear_iterations"] = path["iterations"]
        policy = {"a_next": np.asarray(ss.a_next), "c": np.asarray(ss.c)}
        game = ss.game
        if isinstance(getattr(model, "common_noise", lambda: None)(), AR1):
            lags = min(T, 200) if policy_lags is None else int(policy_lags)
            dXu = linear_irf(G, rho ** jnp.arange(T, dtype=jnp.float64))  # unit innovation
            Phi = _policy_responses_jit(ss, dXu["r"], dXu["w"])[:lags]
            game = compile(model, dtype=jnp.float64)
            policy = GamePolicy(LinearPolicy(ss.a_next, Phi, jnp.asarray(rho, jnp.float64)), game)
    t_end = time.perf_counter()
    if verbose:
        print(
            f"linear: steady state {t_ss - t0:.2f} s, compile {t_compiled - t_ss:.2f} s, "
            f"Jacobians {t_J - t_compiled:.3f} s, GE {t_G - t_J:.3f} s"
        )
    timings = {
        "steady_state": t_ss - t0,
        "compile": (t_compiled - t_ss) + (t_irf0 - t_G),
        "jacobians": t_J - t_compiled,
        "ge": t_G - t_J,
        "irf": t_irf - t_irf0,
        "total": t_end - t0,
    }
    return Solution(
        method="linear",
        model=model,
        game=game,
        policy=policy,
        aggregates=ss.aggregates(),
        timings=timings,
        info=info,
    )
