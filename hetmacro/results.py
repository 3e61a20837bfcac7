"""Typed results: what each solver reports beyond the fields every :class:`~hetmacro.Solution` has.

A Solution's ``result`` is one of these dataclasses; code that reads a solver's diagnostics (the
Krusell–Smith law of motion, the stationary solver's iteration counts, RSPG's exploitability variants)
reads named, documented attributes. Every field is saved in ``.hmx`` files except those marked
transient (objects rebuilt from the model, such as a linearisation's compiled steady state), which are
None after :func:`hetmacro.load`.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

__all__ = [
    "DPResult",
    "KSResult",
    "LinearResult",
    "PPOResult",
    "RESULT_TYPES",
    "RSPGResult",
    "StationaryResult",
    "transient",
]


def transient(default=None):
    """A result field that is not saved to files (None after loading)."""
    return dataclasses.field(default=default, metadata={"transient": True})


@dataclasses.dataclass
class StationaryResult:
    """A stationary equilibrium's diagnostics (``method="stationary"``).

    Attributes:
        algorithm: ``"egm"`` (a savings economy's declared structure: the fast path) or
            ``"policy iteration"`` (the generic path on the Game's discrete actions).
        market: the market that clears, e.g. ``"CapitalMarket(rate='r', capital='K')"``, or ``"None"``.
        evaluations: trial rates solved (fictitious-play steps without a market);
        household_iterations, distribution_iterations: their totals;
        household_error: at r*, the EGM policy's distance to its fixed point (assets) or the policy
            iteration's largest remaining gain (utility units); distribution_error: mass per cell.
        rate_bounds: the search interval (r_lo, r_hi); bracket: where Brent's method started.
        tolerances: {"r", "household", "distribution"}.
        top_mass: mass on the grid's top point (~0 when the top does not bind); mass: total mass.
    """

    algorithm: str
    market: str
    evaluations: int
    household_iterations: int
    distribution_iterations: int
    household_error: float
    distribution_error: float
    rate_bounds: tuple | None
    bracket: tuple | None
    tolerances: dict
    top_mass: float
    mass: float


@dataclasses.dataclass
class DPResult:
    """The exact finite-horizon equilibrium's diagnostics (``method="dp"``).

    Attributes: converged (exploitability below tol), iterations, tol (utility units), scheme (as
    requested: "auto", "best response", "fictitious play"), precision, seed.
    """

    converged: bool
    iterations: int
    tol: float
    scheme: str
    precision: str
    seed: int


@dataclasses.dataclass
class RSPGResult:
    """A policy-gradient training's diagnostics (``method="rspg"`` or ``"spg"``).

    Attributes:
        options: every option in force (defaults by the game's rules, then the user's).
        default_rules: the rules that set the defaults, in order.
        seed, iterations, horizon: as trained.
        noise_paths: "exact" (every branch of a finite noise tree) or "sample".
        paths_per_iteration, evaluation_paths: common-noise paths per step and for evaluation.
        policy_return: the policy's expected return (utility units at date 0).
        best_response_return_clairvoyant, exploitability_clairvoyant, exploitability_clairvoyant_se:
            the clairvoyant best response (sees each path's future noise): its return, the gap (an
            upper bound on exploitability with common noise), and the gap's standard error over sampled
            paths (0 when exact).
        exploitability_clairvoyant_sampled: the sample mean, when an enumerated tree gave the exact figure.
        nonanticipative: on a finite noise tree, the non-anticipative best response's figures
            (policy_return, best_response_return, exploitability, clairvoyant_*, exact), else None.
        noise_branches: the tree's number of branches, else None.
        evaluations: exploitability on the evaluation paths during training (iteration, value, seconds).
        aggregate_paths: the mean over kept evaluation paths of each aggregate, by date.
        initial: where paths started ("model", "stationary", "ergodic (<policy>)", "given").
        continuation: the value after the truncation ("model": the model's terminal value;
            "stationary": the stationary equilibrium's value function; "given").
        init_policy: the policy the network was fitted to before training, or None; init_fit_kl: the
            fit's mean KL divergence per state (nats).
        interior_until, exploitability_interior, exploitability_interior_se: the clairvoyant
            exploitability of a best response that deviates only before date ``interior_until`` (on a
            truncated infinite horizon: without the truncation's own gain), and its standard error.
        starts: the evaluation paths' starting points (:class:`hetmacro.mfg.starts.Starts`, saved with
            the Solution), where ``sol.irf`` starts by default; None when paths start from the model's
            distribution.
    """

    options: dict
    default_rules: list
    seed: int
    iterations: int
    horizon: int
    noise_paths: str
    paths_per_iteration: int
    evaluation_paths: int
    policy_return: float
    best_response_return_clairvoyant: float
    exploitability_clairvoyant: float
    exploitability_clairvoyant_se: float
    evaluations: pd.DataFrame
    aggregate_paths: pd.DataFrame
    exploitability_clairvoyant_sampled: float | None = None
    nonanticipative: dict | None = None
    noise_branches: int | None = None
    initial: str = "model"
    continuation: str = "model"
    init_policy: str | None = None
    init_fit_kl: float | None = None
    interior_until: int | None = None
    exploitability_interior: float | None = None
    exploitability_interior_se: float | None = None
    starts: object = None


@dataclasses.dataclass
class PPOResult:
    """A model-free PPO training's diagnostics (``method="ippo"`` or ``"rippo"``).

    Attributes:
        options: every option in force (network defaults by RSPG's rules for the game, then PPO's).
        default_rules: the rules that set the network defaults, in order.
        seed, iterations, horizon: as trained.
        mean_field: "exact" (the push of the policy's probabilities) or "empirical" (a sampled population).
        paths_per_iteration, agents_per_path: common-noise paths and learners per path per iteration.
        optimiser_steps: Adam steps taken (iterations x epochs x minibatches; the schedule spans them).
        agent_steps: household-steps sampled in the environment (iterations x paths x agents x T).
        reward_scale: the fixed divisor of the rewards in the PPO losses.
        evaluation_paths, noise_paths: the evaluation paths and how they were chosen (RSPG's rule).
        policy_return, best_response_return_clairvoyant, exploitability_clairvoyant(_se, _sampled),
            nonanticipative, noise_branches: as :class:`RSPGResult`, from the same functions.
        evaluations: exploitability on the evaluation paths during training (iteration, value,
            seconds of training, agent steps).
        aggregate_paths: the mean over kept evaluation paths of each aggregate, by date.
    """

    options: dict
    default_rules: list
    seed: int
    iterations: int
    horizon: int
    mean_field: str
    paths_per_iteration: int
    agents_per_path: int
    optimiser_steps: int
    agent_steps: int
    reward_scale: float
    evaluation_paths: int
    noise_paths: str
    policy_return: float
    best_response_return_clairvoyant: float
    exploitability_clairvoyant: float
    exploitability_clairvoyant_se: float
    evaluations: pd.DataFrame
    aggregate_paths: pd.DataFrame
    exploitability_clairvoyant_sampled: float | None = None
    nonanticipative: dict | None = None
    noise_branches: int | None = None


@dataclasses.dataclass
class KSResult:
    """The Krusell–Smith algorithm's outcome (``method="ks"``).

    Attributes:
        law_of_motion: b0, b1, R^2 and observations per aggregate state (log K' = b0(z) + b1(z) log K).
        coefficients: (nz, 2) the beliefs the policy was solved with; R2: (nz,).
        den_haan: {"max", "mean"} den Haan's dynamic forecast error, percent.
        iterations, converged, tolerance, damping: of the belief iteration.
        periods, burn_in, seed: the simulation; sizes: {"n_a", "n_e", "n_K", "n_z"}; K_width: the K grid's
            half-width (log, relative); K_grid: (nK,).
        a_next_grid: (n, m, nK, nz) the savings policy on the (K, z) grid.
        mu_start, mu_end: the simulation's first and last distributions; mu: the average over the sample.
        z_end: the aggregate state at the end; simulation: aggregates by date; steady_state_K: the grid's
            centre; irf: :func:`~hetmacro.savings.krusell_smith.ks_irf`'s table, or None.
    """

    law_of_motion: pd.DataFrame
    coefficients: object
    R2: object
    den_haan: dict
    iterations: int
    converged: bool
    tolerance: float
    damping: float
    periods: int
    burn_in: int
    seed: int
    sizes: dict
    K_width: float
    K_grid: object
    a_next_grid: object
    mu_start: object
    mu_end: object
    mu: object
    z_end: int
    simulation: pd.DataFrame
    steady_state_K: float
    irf: pd.DataFrame | None = None


@dataclasses.dataclass
class LinearResult:
    """First-order sequence-space impulse responses (``method="linear"``).

    Attributes:
        irf: the impulse-response table (Game dating; see :func:`~hetmacro.savings.sequence.irf_table`).
        shocks: {input: (T,) path} the shock applied (level deviations of parameters, or of log TFP "z").
        G: {output: (T, T) per input} general-equilibrium Jacobians, G[X][input][t, s] = dX_t / d input_s.
        J: {output: {input: (T, T)}} household Jacobians.
        T: truncation horizon.
        nonlinear_irf, nonlinear_iterations: the nonlinear perfect-foresight transition for the same shock
            (with ``nonlinear=True``), else None.
        steady_state: the compiled :class:`~hetmacro.savings.sequence.SteadyState` (transient).
    """

    irf: pd.DataFrame
    shocks: dict
    G: dict
    J: dict
    T: int
    nonlinear_irf: pd.DataFrame | None = None
    nonlinear_iterations: int | None = None
    steady_state: object = transient()


#: Result types by name: the only classes a ``.hmx`` file may name for its result.
RESULT_TYPES = {
    cls.__name__: cls for cls in (StationaryResult, DPResult, RSPGResult, PPOResult, KSResult, LinearResult)
}
