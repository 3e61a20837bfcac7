r"""First-order sequence-space impulse responses around a stationary equilibrium (``method="linear"``).

The economy is a map from sequences to sequences (Auclert, Bardóczy, Rognlie and Straub 2021). With T
dates t = 0..T-1 after an unanticipated, then perfectly foreseen, shock at t = 0 (an "MIT shock"):

- **inputs** at date t: the market's unknown U (:mod:`hetmacro.market`) as it enters date t's prices,
  and the shocked parameters theta_t of the economy (any scalar ``param``: the discount factor, a tax,
  the borrowing limit, TFP...) or the log-TFP common noise z_t. With a :class:`~hetmacro.CapitalMarket`
  U is end-of-period capital and date t's prices read K_{t-1} (K_{-1} = K_ss); with an asset in given
  supply U is its rate, read at t. Date t's prices are the model's own ``prices`` at the aggregate state
  with U (and z_t) in place and the other aggregates at their steady-state values; the income, the
  utility, the discount factor and the borrowing limit are the economy's declarations with theta_t in place;
- **household block**: inputs -> aggregate end-of-period assets A_t and consumption C_t. Backward: one
  EGM step (:func:`hetmacro.savings.egm.backward_step`) per date from Va_T = Va_ss, with
  emu_t = beta_t E[Va_{t+1} | e]. Forward: D_0 = D_ss, D_{t+1} = push(D_t, a'_t) with the compiled Game's
  ``push`` (:mod:`hetmacro.savings.distribution`), A_t = <D_t, a'_t>, C_t = <D_t, c_t>;
- **market clearing**: H_t = A_t - S_t = 0 (S_t = K_t for capital, the supply otherwise).

**Jacobians.** J^{A,x}[t, s] = dA_t / dx_s for each input x come from JAX forward-mode derivatives of
the EGM step and of ``push`` at the steady state, assembled by the fake-news algorithm (ABRS 2021,
section 3): a shock to an input at date s moves the date-0 policy like a shock at date s - 1 moves it
one period later, so one backward sweep of T linearised EGM steps per input gives the policy responses;
the first-period distribution response dD_1^{(s)} is the linearised ``push``; expectation vectors
E_k = Lambda^k y_ss (the Game's ``expect``, the adjoint of ``push``) turn them into the fake-news matrix
F[0, s] = <D_ss, dy^{(s)}>, F[t, s] = <E_{t-1}, dD_1^{(s)}>, and J[t, s] = F[t, s] + J[t-1, s-1]. The
derivatives are exact (no finite-difference step): the result equals :func:`jacobians_direct`
(``jax.jacfwd`` through the whole T-period path) to rounding.

**GE.** Date t reads the unknown of t - 1 (L the one-period lag): K_{t-1}, or the rate r_t on the asset
bought at t - 1 (predetermined at t = 0, an ex-ante rate). H_U = J^{A,U} L - I for capital, and
H_U = (J^{A,U} - S_U) L for an asset in given supply, whose last rate is held at its steady state (it
reaches no date of the truncated path); H_theta = J^{A,theta} - S_theta. The unknown's response is
dU = G_U dtheta with G_U = -H_U^{-1} H_theta, and every other output follows: prices
dX_t = X_U dU_{t-1} + X_theta dtheta_t (derivatives of the model's ``prices``),
dC = J^{C,U} L dU + J^{C,theta} dtheta. :func:`nonlinear_transition` solves H = 0 exactly
by quasi-Newton steps with H_U, for the first-order check.

**Dates in the tables.** Solutions report IRFs in the Game's dating (:func:`hetmacro.report.irf`): the
capital (the households' assets) at horizon h is what the distribution holds at the start of date h,
so K at h = A_{h-1} in the notation above, and it does not move at h = 0. sequence-jacobian's K_t is
end-of-period: its K column at t is ours at t + 1.

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

from ..equilibrium import ConvergenceError
from ..game import Game, compile
from ..noise import AR1
from ..results import LinearResult
from ..solution import Solution
from .distribution import expect_savings, push_savings, savings_kernel
from .rules import GamePolicy
from .steady_state import (
    SteadyState,
    _check_model,
    _price_map,
    _step,
    _supply,
    calibrate,
    steady_state,
)

__all__ = [
    "LinearPolicy",
    "SteadyState",
    "calibrate",
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

OUTPUTS = ("A", "C")


# --- the household block along a path -----------------------------------------------------------------
def _inputs(ss: SteadyState, X: dict, T: int) -> dict:
    """Every input's path (T,): the given ones, the unknown at its steady state otherwise."""
    out = {k: jnp.asarray(v, jnp.float64) for k, v in X.items()}
    out.setdefault("U", jnp.full((T,), ss.U))
    return out


def _household_path(ss: SteadyState, X: dict):
    """(A, C, a' path, c path) along input paths X {name: (T,)}; D_0 = D_ss, Va_T = Va_ss."""

    def back(Va_next, x):
        Va, a_next, c = _step(ss, Va_next, x)
        return Va, (a_next, c)

    _, (a_path, c_path) = jax.lax.scan(back, ss.Va, X, reverse=True)

    def fwd(mu, ac):
        a_next, c = ac
        return push_savings(ss.game, mu, a_next), (jnp.sum(mu * a_next), jnp.sum(mu * c))

    _, (A, C) = jax.lax.scan(fwd, ss.mu, (a_path, c_path))
    return A, C, a_path, c_path


def household_path(ss: SteadyState, X: dict) -> dict:
    """The household block along input paths (nonlinear): {"A": (T,), "C": (T,)}.

    X: {name: (T,) levels at dates 0..T-1}: ``"U"`` (the market's unknown as date t's prices read it:
    K_{t-1} for capital, r_t for a rate; default its steady state), parameters of the economy, ``"z"``.
    After T households expect the steady state. Differentiable (``jax.jacfwd`` gives :func:`jacobians_direct`).
    """
    T = int(np.shape(next(iter(X.values())))[0])
    with jax.enable_x64(True):
        A, C, _, _ = _household_path_jit(ss, _inputs(ss, X, T))
    return {"A": A, "C": C}


# --- Jacobians -------------------------------------------------------------------------------------------
def _fake_news(ss: SteadyState, T: int, names: tuple):
    """Household Jacobians {output: {input: (T, T)}} by the fake-news algorithm with JAX derivatives."""
    n, m = ss.a_next.shape
    x_ss = {k: ss.input_value(k) for k in names}
    _, step_lin = jax.linearize(lambda Va, x: _step(ss, Va, x), ss.Va, x_ss)
    _, push_lin = jax.linearize(lambda a_next: push_savings(ss.game, ss.mu, a_next), ss.a_next)
    zero_v = jnp.zeros_like(ss.Va)
    zero_x = {k: jnp.zeros_like(v) for k, v in x_ss.items()}

    def sweep(dx):
        # s = 0: the direct effect of the date-0 input; s >= 1: the date-1 marginal value's effect.
        dVa0, da0, dc0 = step_lin(zero_v, dx)

        def body(dVa, _):
            dVa_new, da, dc = step_lin(dVa, zero_x)
            return dVa_new, (da, dc)

        _, (da, dc) = jax.lax.scan(body, dVa0, None, length=T - 1)
        return jnp.concatenate([da0[None], da]), jnp.concatenate([dc0[None], dc])

    units = [
        {k: jnp.ones_like(v) if k == name else jnp.zeros_like(v) for k, v in x_ss.items()} for name in names
    ]
    swept = [sweep(u) for u in units]
    da = jnp.stack([s[0] for s in swept])  # (input, s, n, m)
    dc = jnp.stack([s[1] for s in swept])
    dD1 = jax.vmap(jax.vmap(push_lin))(da)  # (input, s, n, m)
    kern = savings_kernel(ss.game, ss.a_next)

    def expectations(y):
        def body(E, _):
            return expect_savings(ss.game, E, kern), E

        _, Es = jax.lax.scan(body, y, None, length=T - 1)
        return Es  # E_0..E_{T-2}, (T - 1, n, m)

    k_in = len(names)
    out = {}
    for name, y, dy in (("A", ss.a_next, da), ("C", ss.c, dc)):
        Es = expectations(y).reshape(T - 1, n * m)
        F0 = jnp.einsum("ij,xsij->xs", ss.mu, dy)  # (input, s)
        Ft = jnp.einsum("tk,xsk->xts", Es, dD1.reshape(k_in, T, n * m))  # (input, T - 1, s)
        F = jnp.concatenate([F0[:, None, :], Ft], axis=1)  # (input, t, s)

        def accumulate(prev, row):
            cur = row + jnp.concatenate([jnp.zeros_like(prev[:, :1]), prev[:, :-1]], axis=1)
            return cur, cur

        _, J = jax.lax.scan(accumulate, jnp.zeros_like(F[:, 0, :]), jnp.swapaxes(F, 0, 1))
        J = jnp.swapaxes(J, 0, 1)  # (input, t, s)
        out[name] = {k: J[i] for i, k in enumerate(names)}
    return out


def _names(shocks) -> tuple:
    return ("U", *[k for k in shocks if k != "U"])


def jacobians(ss: SteadyState, T: int = 300, shocks=()) -> dict:
    """Household-block Jacobians by the fake-news algorithm: {"A": {input: J}, "C": {...}}.

    Inputs: "U" (the market's unknown as date t's prices read it) and each name in ``shocks``.
    J[t, s] = d(output_t) / d(input_s), (T, T), in levels (A and C in model units per unit of the input).
    """
    with jax.enable_x64(True):
        return _fake_news_jit(ss, T, _names(shocks))


def jacobians_direct(ss: SteadyState, T: int, shocks=()) -> dict:
    """The same Jacobians by ``jax.jacfwd`` through :func:`household_path` (T forward passes of the
    whole T-period path: O(T^2) EGM steps; for tests and small T)."""
    names = _names(shocks)
    with jax.enable_x64(True):
        X = {k: jnp.full((T,), ss.input_value(k)) for k in names}

        def f(X):
            A, C, _, _ = _household_path(ss, X)
            return {"A": A, "C": C}

        return jax.jit(jax.jacfwd(f))(X)


def ge_jacobians(ss: SteadyState, J: dict) -> dict:
    """General-equilibrium responses {input: {X: G (T, T)}}: dX = G dtheta for a path of each shocked input.

    X runs over the unknown (``"K"`` end-of-period capital, sequence-jacobian's K_t, or the rate), every
    scalar aggregate and price of the model, A and C; "H_U" is the market-clearing Jacobian in the unknown.
    """
    with jax.enable_x64(True):
        return _ge_jit(ss, J)


def _ge(ss: SteadyState, J: dict) -> dict:
    names = tuple(J["A"])
    T = J["A"]["U"].shape[0]
    eye = jnp.eye(T, dtype=ss.Va.dtype)
    lag = jnp.eye(T, k=-1, dtype=ss.Va.dtype)  # date t's prices read the unknown of t - 1
    x_ss = {k: ss.input_value(k) for k in names}
    dP = jax.jacfwd(lambda x: _price_map(ss, x))(x_ss)  # {price: {input: scalar}}
    dS = jax.jacfwd(lambda x: _supply(ss, x))(x_ss)  # {input: scalar}
    if ss.capital:  # H_t = A_t(K_{t-1}, ...) - K_t
        H_U = J["A"]["U"] @ lag - eye
    else:  # H_t = A_t(r_t, ...) - S_t(r_t, ...), r_t the rate on the asset bought at t - 1 (U_{t-1})
        H_U = _last_at_steady_state((J["A"]["U"] - dS["U"] * eye) @ lag)
    lu = jax.scipy.linalg.lu_factor(H_U)
    out = {"H_U": H_U}
    for k in names:
        if k == "U":
            continue
        H_k = J["A"][k] - dS[k] * eye
        if not ss.capital:
            H_k = H_k.at[-1].set(0.0)
        G_U = -jax.scipy.linalg.lu_solve(lu, H_k)
        dU_in = lag @ G_U  # the unknown as date t reads it
        G = {ss.unknown: G_U}
        for price, d in dP.items():
            if price == ss.unknown and ss.capital:
                continue
            G[price] = d["U"] * dU_in + d[k] * eye
        G["A"] = J["A"]["U"] @ dU_in + J["A"][k]
        G["C"] = J["C"]["U"] @ dU_in + J["C"][k]
        G[k] = eye
        out[k] = G
    return out


def _last_at_steady_state(H):
    """For an asset in given supply: the rate on the asset bought at T - 1 reaches no date of the
    truncated path (households expect the steady state after T), so its column of H is zero; hold it at
    the steady state instead of clearing the market at T - 1 (row T - 1 becomes dU_{T-1} = 0)."""
    return H.at[-1].set(0.0).at[-1, -1].set(1.0)


def linear_irf(G: dict, shocks: dict) -> dict:
    """First-order level responses {X: dX (T,)} to input paths {name: (T,)} (the responses add up)."""
    out = {}
    for name, path in shocks.items():
        path = jnp.asarray(path)
        for X, g in G[name].items():
            out[X] = out.get(X, 0.0) + g @ path
    return out


# --- the nonlinear perfect-foresight transition ------------------------------------------------------------
def _path_inputs(ss: SteadyState, U, shocks: dict) -> dict:
    """Input paths from the unknown's path (T,) and the shocks' level deviations."""
    U_in = jnp.concatenate([ss.U[None], U[:-1]])  # date t reads the unknown of t - 1
    X = {"U": U_in}
    for k, d in shocks.items():
        X[k] = ss.input_value(k) + d
    return X


def _residual(ss: SteadyState, U, shocks: dict):
    X = _path_inputs(ss, U, shocks)
    A, C, _, _ = _household_path(ss, X)
    prices = jax.vmap(lambda x: _price_map(ss, x))(X)
    if ss.capital:
        prices.pop(ss.unknown)  # date t reads K_{t-1}; the path reports end-of-period K
        return A - U, {**prices, ss.unknown: U, "A": A, "C": C}
    H = A - jax.vmap(lambda x: _supply(ss, x))(X)
    H = H.at[-1].set(U[-1] - ss.U)  # the last rate at its steady state (see _last_at_steady_state)
    return H, {**prices, "A": A, "C": C}


def nonlinear_transition(
    ss: SteadyState, shocks: dict, H_U=None, *, tol: float = 1e-11, max_iter: int = 30, J: dict | None = None
) -> dict:
    """The exact perfect-foresight transition after input paths ``shocks`` {name: (T,) level deviations}:
    solves A_t = S_t for the unknown's path by quasi-Newton steps U <- U - H_U^{-1} H(U) with the
    steady-state Jacobian H_U (sequence-jacobian's ``solve_impulse_nonlinear``).

    Returns {X: level path (T,)} for the unknown, A, C and every price, plus "iterations" and
    "residual" (max |A_t - S_t|, model units). Raises :class:`ConvergenceError` at ``max_iter``.
    """
    with jax.enable_x64(True):
        shocks = {k: jnp.asarray(v, jnp.float64) for k, v in shocks.items()}
        T = next(iter(shocks.values())).shape[0]
        if H_U is None:
            J = J if J is not None else jacobians(ss, T, tuple(shocks))
            H_U = ge_jacobians(ss, J)["H_U"]
        lu = jax.scipy.linalg.lu_factor(H_U)
        U = jnp.full((T,), ss.U)
        for it in range(1, max_iter + 1):
            H, path = _residual_jit(ss, U, shocks)
            err = float(jnp.max(jnp.abs(H)))
            if err < tol:
                out = {k: np.asarray(v) for k, v in path.items()}
                out.update(iterations=it - 1, residual=err)
                return out
            U = U - jax.scipy.linalg.lu_solve(lu, H)
    raise ConvergenceError(
        f"nonlinear_transition: the market-clearing residual is still {err:.3g} after {max_iter} "
        "quasi-Newton steps. Fix: a smaller shock, a longer T, or raise max_iter."
    )


# --- tables -----------------------------------------------------------------------------------------------
def irf_table(
    ss: SteadyState, dX: dict, horizon: int, shock: str = "", method: str = "linear", inputs=()
) -> pd.DataFrame:
    """An IRF table in :func:`hetmacro.report.irf`'s format (built by :func:`hetmacro.report.irf_frame`)
    from level deviations along t = 0..T-1 in sequence dating.

    ``dX`` holds the shocked ``inputs``' paths and the outputs of :func:`linear_irf`. The table is in the
    Game's dating: index ``h``; the households' assets at the start of date h (the capital in production,
    ``K``, or ``A`` for an asset in given supply) are the end-of-period assets of h - 1 (0 at h = 0); rates
    in percentage points; other quantities in percent of the steady state; the shocked inputs as level
    deviations. Outputs that do not move at all (labour with exogenous hours, a zero transfer) are left out.
    """
    from ..report import irf_frame

    H = horizon + 1
    held = ss.unknown if ss.capital else "A"
    steady = ss.aggregates()
    steady[ss.unknown] = steady.get(ss.unknown, float(ss.U))
    order = [*inputs, ss.unknown, *[k for k in ss.names or ss.values if k != ss.unknown], "A", "C"]
    dev, level = {}, {}
    for k in dict.fromkeys(order):
        if k not in dX or (ss.capital and k == "A"):  # A = K in equilibrium
            continue
        v = np.asarray(dX[k], np.float64)
        v = np.concatenate([[0.0], v[: H - 1]]) if k == held else v[:H]
        if k not in inputs and not np.any(v):
            continue
        dev[k] = v
        level[k] = float(ss.input_value(k)) if k in inputs else steady[k]
    baseline = {k: np.full(H, level[k]) for k in dev}
    shocked = {k: level[k] + dev[k] for k in dev}
    # An asset in zero net supply: its steady-state holdings are 0 up to rounding, so a level, not a percent.
    units = {} if ss.capital else {"A": "level"}
    frame = irf_frame(baseline, shocked, levels=tuple(inputs), units=units)
    frame.attrs.update(
        {
            "description": "first-order (sequence-space) response to an unanticipated, then perfectly "
            "foreseen, path of the shocked inputs: deviation from the steady state",
            "shock": shock,
            "index": f"h: periods since the shock (date h); {held} is the households' assets at the start of h",
            "method": method,
            "model": type(ss.model).__name__,
        }
    )
    return frame


# --- the linear policy as a game policy ----------------------------------------------------------------
class LinearPolicy(eqx.Module):
    """The first-order savings rule after a history of log-TFP innovations, as a savings rule.

    By certainty equivalence the first-order savings rule after innovations eps_t = z_t - rho z_{t-1} is
    a'_t(a, e) = a'_ss(a, e) + sum_{k < H} Phi_k(a, e) eps_{t-k}, with Phi_k the policy's response k
    periods after a unit innovation (the perfect-foresight IRF of the policy; the response to a shock
    dies out well before H). The carry holds the last H innovations and z_{t-1}. As a Game policy
    (:class:`~hetmacro.savings.rules.GamePolicy`) the savings are mapped onto the consumption-share grid.

    The policy reads the TFP history from ``agg.z``; households could equally infer it from the price
    signals' history.
    """

    a_ss: jnp.ndarray
    Phi: jnp.ndarray
    rho: jnp.ndarray
    kind = "linear"

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

    def spec(self) -> dict:
        return {"lags": int(self.Phi.shape[0])}

    @classmethod
    def from_spec(cls, game: Game, lags: int) -> LinearPolicy:
        """The rule's structure for ``game`` (its arrays are restored by the caller)."""
        n, m = game.n, game.m
        dtype = jnp.float64 if game.dtype == jnp.float64 else game.dtype
        return cls(jnp.zeros((n, m), dtype), jnp.zeros((lags, n, m), dtype), jnp.zeros((), dtype))


def _policy_responses(ss: SteadyState, dX: dict, T: int):
    """da'_t (T, n, m): the policy path's first-order response to input deviations dX {name: (T,)}."""
    X0 = {k: jnp.full((T,), ss.input_value(k)) for k in dX}
    _, da = jax.jvp(lambda X: _household_path(ss, X)[2], (X0,), (dX,))
    return da


# --- jitted cores ------------------------------------------------------------------------------------------
_household_path_jit = jax.jit(_household_path)
_fake_news_jit = jax.jit(_fake_news, static_argnums=(1, 2))
_ge_jit = jax.jit(_ge)
_residual_jit = jax.jit(_residual)
_policy_responses_jit = jax.jit(_policy_responses, static_argnums=2)
_linear_irf_jit = jax.jit(linear_irf)


# --- the solver -----------------------------------------------------------------------------------------
def _shock_paths(model, config, T: int) -> tuple[dict, str]:
    """{input: (T,) level deviations} and a description, from the configuration's shock."""
    shock = config.shock
    if isinstance(shock, dict):
        paths = {k: np.asarray(v, np.float64).reshape(-1) for k, v in shock.items()}
        for k, v in paths.items():
            if v.size > T:
                raise ValueError(f"linear: the shock path for {k!r} has {v.size} dates, more than T = {T}.")
            paths[k] = np.concatenate([v, np.zeros(T - v.size)])
        label = "user-supplied paths of " + ", ".join(sorted(paths))
    else:
        if not isinstance(shock, str):
            raise TypeError(f"linear: shock = {shock!r}: give a name ('z', 'beta', ...) or a dict of paths.")
        noise = model.common_noise()
        if config.shock_rho is not None:
            rho = float(config.shock_rho)
        elif shock == "z" and isinstance(noise, AR1):
            rho = float(noise.rho)
        else:
            rho = 0.9
        paths = {shock: config.shock_size * rho ** np.arange(T, dtype=np.float64)}
        what = "log TFP" if shock == "z" else shock
        label = f"{what} path d{shock}_t = {config.shock_size:g} x {rho:g}^t (level deviation)"
    params = sorted(
        f.name
        for f in dataclasses.fields(model)
        if eqx.is_array(getattr(model, f.name)) and np.ndim(getattr(model, f.name)) == 0
    )
    for k in paths:
        if k == "z":
            continue
        if k not in params:
            raise ValueError(
                f"linear: {type(model).__name__} has no scalar parameter {k!r} to shock; its parameters are "
                f"{params} (declared with param), or 'z' for an AR(1) common noise."
            )
    return paths, label


def solve_linear(model, config) -> Solution:
    """First-order sequence-space impulse responses to a shock around the stationary equilibrium.

    Args:
        model: a :class:`~hetmacro.SavingsEconomy` (e.g. ``KrusellSmith`` with ``tfp_process="ar1"``);
            its ``without_aggregate_risk()`` is the steady state.
        config: a :class:`hetmacro.Linear`: the truncation T, the shock (``"z"``, any parameter's name,
            or a dict of paths) and its size and persistence, the horizon reported, an optional
            calibration, steady state and nonlinear check.

    Returns:
        A :class:`~hetmacro.Solution` (method ``"linear"``): ``aggregates`` the steady state (first-order
        means equal it); ``stationary`` the stationary distribution; ``result``
        (:class:`~hetmacro.results.LinearResult`: the IRF table, the shock paths, the GE and household
        Jacobians, the nonlinear check); ``policy`` the first-order savings rule as a Game policy when the
        shock is the AR(1) common noise z, else the steady-state policy dict; ``timings`` in seconds
        (``steady_state``, ``compile``, ``jacobians``, ``ge``, ``irf``, ``total``).
    """
    t0 = time.perf_counter()
    _check_model(model)
    noise = model.common_noise()
    if isinstance(noise, AR1) and noise.jumps:
        raise ValueError(
            f"linear: {type(model).__name__} has rare jumps in its TFP process (probability "
            f"{noise.jump_prob:g}, size {noise.jump_size:g}); a first-order solution around the steady state "
            "is certainty-equivalent and cannot see them. Fix: solve the economy without them (disaster_prob="
            "0) for its linear rule, or use method='rspg', which learns the response to the risk."
        )
    T = int(config.T)
    paths, label = _shock_paths(model, config, T)
    names = tuple(paths)
    if config.calibrate_to is not None:
        model, ss = calibrate(model, shocks=names, **config.calibrate_to)
    else:
        ss = steady_state(model, config.stationary, names, solution=config.steady_state)
    t_ss = time.perf_counter()
    with jax.enable_x64(True):
        all_names = _names(names)
        fake = _fake_news_jit.lower(ss, T, all_names).compile()
        J_shapes = jax.eval_shape(lambda s: _fake_news(s, T, all_names), ss)
        ge = _ge_jit.lower(ss, J_shapes).compile()
        t_compiled = time.perf_counter()
        J = jax.block_until_ready(fake(ss))
        t_J = time.perf_counter()
        G = jax.block_until_ready(ge(ss, J))
        t_G = time.perf_counter()
        shocks = {k: jnp.asarray(v) for k, v in paths.items()}
        irf_c = _linear_irf_jit.lower(G, shocks).compile()
        t_irf0 = time.perf_counter()
        dX = jax.block_until_ready(irf_c(G, shocks))
        t_irf = time.perf_counter()
        table = irf_table(ss, {**dX, **shocks}, config.horizon, label, inputs=names)
        result = LinearResult(
            irf=table,
            shocks={k: np.asarray(v) for k, v in paths.items()},
            G={k: {x: np.asarray(g) for x, g in v.items()} for k, v in G.items() if k != "H_U"},
            J={o: {i: np.asarray(v) for i, v in d.items()} for o, d in J.items()},
            T=T,
            steady_state=ss,
        )
        if config.nonlinear:
            path = nonlinear_transition(ss, shocks, G["H_U"])
            steady = ss.aggregates()
            dXn = {
                k: path[k] - (steady[k] if k in steady else float(ss.U))
                for k in path
                if k not in ("iterations", "residual")
            }
            result.nonlinear_irf = irf_table(
                ss,
                {**dXn, **shocks},
                config.horizon,
                label,
                method="nonlinear perfect foresight",
                inputs=names,
            )
            result.nonlinear_iterations = path["iterations"]
        policy = {"a_next": np.asarray(ss.a_next), "c": np.asarray(ss.c)}
        game = ss.game
        if names == ("z",):
            # The first-order rule reads the innovations of the economy's own AR(1) TFP process.
            lags = min(T, 200) if config.policy_lags is None else int(config.policy_lags)
            rho = float(model.common_noise().rho)
            unit = {"z": jnp.asarray(rho ** np.arange(T, dtype=np.float64))}
            dU = linear_irf(G, unit)[ss.unknown]
            dU_in = jnp.concatenate([jnp.zeros((1,)), dU[:-1]])
            Phi = _policy_responses_jit(ss, {"U": dU_in, **unit}, T)[:lags]
            game = compile(model, dtype=jnp.float64)
            policy = GamePolicy(LinearPolicy(ss.a_next, Phi, jnp.asarray(rho, jnp.float64)), game)
    t_end = time.perf_counter()
    if config.verbose:
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
        stationary=np.asarray(ss.mu),
        result=result,
    )
