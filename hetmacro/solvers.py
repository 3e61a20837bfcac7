r"""Solvers as typed configurations: ``hm.solve(model, hm.Stationary(tol=1e-12))``.

Each class holds one solver's options with their defaults (this file is the one place they are set),
validates them when it is built, and solves with ``config.solve(model)``. ``hm.solve(model,
method="stationary", tol=1e-12)`` is the same call spelled with the method's name; :data:`METHODS` maps
names to classes. Configurations are immutable :class:`equinox.Module` s: ``dataclasses.replace(cfg,
tol=...)`` makes a variant, and a Solution keeps the configuration that produced it
(``sol.solver``).

=================  ==============  =====================================================================
class              ``method=``     solves
=================  ==============  =====================================================================
:class:`DP`        ``"dp"``        the exact equilibrium of a finite-horizon game without common noise
:class:`Stationary` ``"stationary"`` the stationary equilibrium without aggregate risk (EGM for savings
                                   economies, policy iteration on any game)
:class:`KS`        ``"ks"``        the Krusell–Smith algorithm for savings economies with aggregate risk
:class:`Linear`    ``"linear"``    first-order sequence-space impulse responses around the steady state
:class:`RSPG`      ``"rspg"``      recurrent structural policy gradient (any game)
:class:`SPG`       ``"spg"``       structural policy gradient without memory (any game)
:class:`IPPO`      ``"ippo"``      independent PPO on sampled households (model-free baseline)
:class:`RIPPO`     ``"rippo"``     recurrent independent PPO (model-free baseline)
=================  ==============  =====================================================================
"""

from __future__ import annotations

import dataclasses
import importlib

import equinox as eqx

__all__ = [
    "DP",
    "IPPO",
    "KS",
    "METHODS",
    "RIPPO",
    "RSPG",
    "SPG",
    "Linear",
    "Solver",
    "Stationary",
    "configure",
    "solve",
]


class Solver(eqx.Module):
    """Base class of solver configurations: fields are options, :meth:`solve` runs the solver."""

    method = ""  # the name in METHODS (a class attribute, not an option)
    _impl = ("", "")  # (module, function) implementing it, imported on first use

    def solve(self, model):
        """Solve ``model``; returns a :class:`~hetmacro.Solution` whose ``solver`` is the configuration used."""
        return self._run(self._impl, model, self)

    def _run(self, impl: tuple, model, config):
        # Implementations are named, not imported: they import this module for its configurations.
        module, func = impl
        try:
            implementation = importlib.import_module(module)
        except ModuleNotFoundError as err:
            # Only a missing third-party package is the user's to install; anything else is a bug to see.
            missing = (err.name or "").split(".")[0]
            if not missing or missing == __name__.split(".")[0]:
                raise
            raise ImportError(
                f"method {self.method!r} needs the package {missing!r}, which is not installed: "
                f"pip install {missing}"
            ) from err
        sol = getattr(implementation, func)(model, config)
        sol.solver = config
        return sol

    def options(self) -> dict:
        """The options as a dict (name -> value)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def describe(cls) -> str:
        """The first line of the class docstring."""
        return (cls.__doc__ or "").strip().splitlines()[0]


def _choice(cls, field: str, value, options) -> None:
    if value not in options:
        raise ValueError(f"{cls}: {field} = {value!r}: use one of {list(options)}.")


def _positive(cls, **values) -> None:
    for field, value in values.items():
        if value is not None and not value > 0:
            raise ValueError(f"{cls}: {field} = {value!r} must be positive.")


class DP(Solver):
    """Exact equilibrium of a finite-horizon game without common noise, by best responses / fictitious play.

    Attributes:
        tol: stop when the exploitability (exact, utility units per household) is below this.
        max_iter: cap on iterations (the Solution records whether ``tol`` was reached).
        scheme: "auto" (best responses, switching to fictitious play on a cycle), "best response",
            "fictitious play".
        precision: "float64" (scoped x64) or "float32".
        seed: the key of the (deterministic) noise path.
        verbose: print one line per iteration.
    """

    method = "dp"
    _impl = ("hetmacro.mfg.dp", "solve_equilibrium")
    tol: float = 1e-7
    max_iter: int = 500
    scheme: str = "auto"
    precision: str = "float64"
    seed: int = 0
    verbose: bool = False

    def __check_init__(self):
        _choice("DP", "scheme", self.scheme, ("auto", "best response", "fictitious play"))
        _choice("DP", "precision", self.precision, ("float64", "float32"))
        _positive("DP", tol=self.tol, max_iter=self.max_iter)


class Stationary(Solver):
    """Stationary equilibrium without aggregate risk: EGM for savings economies, policy iteration on any game.

    Attributes:
        algorithm: "auto" (EGM when the model is a :class:`~hetmacro.SavingsEconomy`, else policy
            iteration), "egm" or "policy iteration" (the generic path on the Game's discrete actions;
            any model).
        tol: tolerance on r* (units of r). None: 1e-13 (EGM) or
            1e-8 (policy iteration: on discrete actions the market's gap jumps where a household switches
            action, and the root is the jump, found to this width).
        hh_tol: household tolerance. EGM: distance of the savings policy to its fixed point (assets);
            policy iteration: the largest gain of another action (utility units). None: 1e-12 / 1e-10.
        dist_tol: the distribution stops when one push moves less mass than this per cell.
        max_hh_iter: cap on EGM steps / policy improvements (None: 100000 / 1000).
        max_dist_iter: cap on pushes.
        max_evaluations: cap on trial rates.
        values: compute the value function (EGM path; policy iteration always has it).
        verbose: print the evaluations.
    """

    method = "stationary"
    #: the implementation of each algorithm
    IMPLEMENTATIONS = {
        "egm": ("hetmacro.savings.stationary", "solve_stationary"),
        "policy iteration": ("hetmacro.mfg.stationary", "solve_stationary_game"),
    }
    algorithm: str = "auto"
    tol: float | None = None
    hh_tol: float | None = None
    dist_tol: float = 1e-13
    max_hh_iter: int | None = None
    max_dist_iter: int = 2_000_000
    max_evaluations: int = 60
    values: bool = True
    verbose: bool = False

    #: the defaults of the options left None, by algorithm
    DEFAULTS = {
        "egm": {"tol": 1e-13, "hh_tol": 1e-12, "max_hh_iter": 100_000},
        "policy iteration": {"tol": 1e-8, "hh_tol": 1e-10, "max_hh_iter": 1000},
    }

    def __check_init__(self):
        _choice("Stationary", "algorithm", self.algorithm, ("auto", "egm", "policy iteration"))
        _positive(
            "Stationary",
            tol=self.tol,
            hh_tol=self.hh_tol,
            dist_tol=self.dist_tol,
            max_hh_iter=self.max_hh_iter,
            max_dist_iter=self.max_dist_iter,
            max_evaluations=self.max_evaluations,
        )

    def solve(self, model):
        """EGM where the model declares a savings economy, policy iteration on its game otherwise."""
        from .savings.economy import SavingsEconomy

        algorithm = self.algorithm
        if algorithm == "auto":
            algorithm = "egm" if isinstance(model, SavingsEconomy) else "policy iteration"
        return self._run(self.IMPLEMENTATIONS[algorithm], model, self.resolved(algorithm))

    def resolved(self, algorithm: str) -> Stationary:
        """This configuration for ``algorithm``, with the options left None set to its defaults."""
        fill = {k: v for k, v in self.DEFAULTS[algorithm].items() if getattr(self, k) is None}
        return dataclasses.replace(self, algorithm=algorithm, **fill)


class KS(Solver):
    """The Krusell–Smith algorithm: a log-linear law of motion for capital made self-confirming.

    Attributes:
        periods, burn_in: the simulated aggregate path (dates 0..periods) and the dates discarded
            before the regression and the accuracy statistics.
        n_K, K_width: the aggregate capital grid, log-spaced on K_ss / (1 + K_width) .. K_ss (1 + K_width).
        n_z: Rouwenhorst states for an AR(1) TFP process.
        damping: weight of the new regression coefficients in the update.
        tol: stop when max |b_new - b| is below this.
        max_iter: cap on belief iterations (the Solution says if it was reached).
        hh_tol, max_hh_iter: EGM tolerance on the savings policy (assets) and its cap.
        b_init: initial (nz, 2) coefficients (default: slope 0.96, K reverting to K_ss).
        seed: seed of the aggregate path.
        steady_state: the no-aggregate-risk 'stationary' Solution (default: solved here).
        keep: dates of the final simulation kept as the flow (default: the sample after the burn-in,
            capped at 64 MiB of distributions).
        irf: compute ``result.irf``.
        verbose: print one line per iteration.
    """

    method = "ks"
    _impl = ("hetmacro.savings.krusell_smith", "solve_krusell_smith")
    periods: int = 6000
    burn_in: int = 500
    n_K: int = 7
    K_width: float = 0.2
    n_z: int = 7
    damping: float = 0.3
    tol: float = 1e-6
    max_iter: int = 100
    hh_tol: float = 1e-9
    max_hh_iter: int = 20_000
    b_init: object = None
    seed: int = 0
    steady_state: object = None
    keep: int | None = None
    irf: bool = True
    verbose: bool = False

    def __check_init__(self):
        if self.periods - self.burn_in < 10 or self.burn_in < 1:
            raise ValueError(
                f"KS: periods = {self.periods}, burn_in = {self.burn_in}: need burn_in >= 1 and "
                "periods - burn_in >= 10."
            )
        _positive("KS", n_K=self.n_K, K_width=self.K_width, damping=self.damping, tol=self.tol)


class Linear(Solver):
    """First-order sequence-space impulse responses around the stationary equilibrium (JAX Jacobians).

    Attributes:
        T: truncation horizon (households expect the steady state after T).
        shock: what is shocked: ``"z"`` (log TFP, the model's AR(1) common noise), the name of any
            parameter of the economy (``"beta"``, ``"tax"``, ``"a_min"``, ``"Z"``, ...), or a dict
            {name: (T,) path of level deviations} (several at once: the responses add up).
        shock_size, shock_rho: for a named shock, the path shock_size shock_rho^t (level deviation of the
            parameter, or of log TFP); shock_rho defaults to the AR(1)'s persistence for "z", 0.9 otherwise.
        horizon: dates reported in the IRF table.
        calibrate_to: e.g. {"r": 0.01, "Y": 1.0}: first calibrate beta and Z
            (:func:`~hetmacro.savings.sequence.calibrate`).
        steady_state: a 'stationary' Solution to linearise around (skips that solve).
        stationary: the configuration of the steady-state solve.
        policy_lags: lags H of the first-order policy kept as a Game policy (default min(T, 200)).
        nonlinear: also solve the nonlinear perfect-foresight transition for the same shock.
        verbose: print the timings.
    """

    method = "linear"
    _impl = ("hetmacro.savings.sequence", "solve_linear")
    T: int = 300
    shock: object = "z"
    shock_size: float = 0.01
    shock_rho: float | None = None
    horizon: int = 40
    calibrate_to: dict | None = None
    steady_state: object = None
    stationary: Stationary = Stationary(values=False)
    policy_lags: int | None = None
    nonlinear: bool = False
    verbose: bool = False

    def __check_init__(self):
        _positive("Linear", T=self.T, horizon=self.horizon)
        if self.horizon >= self.T:
            raise ValueError(f"Linear: horizon = {self.horizon} must be below the truncation T = {self.T}.")


#: RSPG's options for infinite-horizon economies (run controls: objects, not part of the rules' options).
INFINITE_HORIZON = (
    "initial",
    "ergodic_policy",
    "n_starts",
    "burn_in",
    "spacing",
    "warmup",
    "continuation",
    "init_policy",
    "init_steps",
    "interior",
    "refresh_starts",
)


class RSPG(Solver):
    """Recurrent structural policy gradient: a GRU over the shared signals' history, exact mean field.

    Every option left None takes its default from the rules of
    :data:`hetmacro.mfg.rspg.DEFAULT_RULES`, by what the game looks like (docs/rspg.md); the
    Solution's ``result.options`` and ``result.default_rules`` say what was used.

    Attributes:
        iterations: Adam steps, one per iteration (200).
        lr: initial learning rate, annealed linearly to 0.1 lr (1e-3; 1e-2 with an ordinal or
            categorical head); gradients clipped to global norm 1.
        paths: common-noise paths per iteration (8; 1 without common noise).
        noise_paths: "sample", "exact" (every branch of a finite noise tree), "auto".
        head: "categorical", "kumaraswamy" or "beta".
        width, hidden, encoder_depth, signal_depth, head_layers: network sizes.
        state_table: a per-state parameter table in the encoder (integer lattices).
        time_feature: a clock input (t/T and time to go).
        entropy, entropy_until: entropy bonus and the fraction of training it lasts.
        explore: uniform mass mixed into the gradient's state weights.
        grid_scaling: state features, "auto", "linear" or "log".
        eval_every, eval_paths, keep_paths: evaluation schedule, its paths, flows kept.
        chunk: iterations per compiled chunk.
        max_branches, beta_nodes: noise-tree size limit; quadrature points per cell (Beta head).
        date_weights: "discounted" or "uniform".
        seed: PRNG seed (network, training and evaluation paths).
        checkpoint: a file written after every chunk and resumed from if it exists.
        progress: a tqdm progress bar; callback: ``f(last history row)`` after every chunk.
        horizon: the training horizon T of an infinite-horizon model (default: beta^T <= 1%, at most 200).

    Infinite-horizon economies (docs/rspg.md, "Infinite horizon"; defaults for a savings economy with a
    market and no horizon in brackets, else the model's own start and end):

        initial: where training and evaluation paths start: "model" (the model's initial
            distribution), "stationary", "ergodic" (dated distributions of a simulation with aggregate
            shocks under ``ergodic_policy``), a batch of distributions (B, n, m), or a
            :class:`hetmacro.mfg.starts.Starts` ("ergodic").
        ergodic_policy: the policy simulated for ``initial="ergodic"``: "stationary" (the stationary
            savings policy), "linear" (the model's first-order rule, solved first), a Solution (``ks``,
            ``linear``, ``rspg``) or (policy, carry) ("stationary").
        n_starts, burn_in, spacing, warmup: ergodic starts for training (64), simulated dates discarded
            (200), dates between starts (10), signal dates the memory is warmed on (40).
        continuation: the value after the truncation: "model", "stationary" (the stationary
            equilibrium's value function) or an (n, m) array ("stationary").
        init_policy: fit the network to this policy before training: "stationary", "linear" (the
            model's first-order rule: it has the response to small shocks right from the start), a
            Solution, a (policy, carry) pair, or None ("stationary"); init_steps: its Adam steps (300).
        interior: also report the exploitability of deviations before this date (T // 2 on an infinite
            horizon, else none).
        refresh_starts: every this many iterations, re-draw the ergodic training starts from a simulation
            under the network being trained, so that it learns where its own economy settles (None:
            the starts stay those of ``ergodic_policy``).
    """

    method = "rspg"
    _impl = ("hetmacro.mfg.rspg", "solve")
    recurrent = True
    iterations: int | None = None
    lr: float | None = None
    paths: int | None = None
    noise_paths: str | None = None
    head: str | None = None
    width: int | None = None
    hidden: int | None = None
    encoder_depth: int | None = None
    signal_depth: int | None = None
    head_layers: int | None = None
    state_table: bool | None = None
    time_feature: bool | None = None
    entropy: float | None = None
    entropy_until: float | None = None
    explore: float | None = None
    grid_scaling: str | None = None
    eval_every: int | None = None
    eval_paths: int | None = None
    keep_paths: int | None = None
    chunk: int | None = None
    max_branches: int | None = None
    beta_nodes: int | None = None
    date_weights: str | None = None
    seed: int = 0
    checkpoint: object = None
    progress: bool = True
    callback: object = None
    horizon: int | None = None
    initial: object = None
    ergodic_policy: object = None
    n_starts: int = 64
    burn_in: int = 200
    spacing: int = 10
    warmup: int = 40
    continuation: object = None
    init_policy: object = None
    init_steps: int = 300
    interior: int | None = None
    refresh_starts: int | None = None

    def __check_init__(self):
        cls = type(self).__name__
        _positive(cls, n_starts=self.n_starts, spacing=self.spacing, init_steps=self.init_steps)
        _positive(cls, refresh_starts=self.refresh_starts)
        if self.burn_in < self.warmup or self.warmup < 0:
            raise ValueError(
                f"{cls}: need 0 <= warmup <= burn_in, got warmup = {self.warmup}, burn_in = {self.burn_in}."
            )
        if isinstance(self.initial, str):
            _choice(cls, "initial", self.initial, ("model", "stationary", "ergodic"))
        if isinstance(self.continuation, str):
            _choice(cls, "continuation", self.continuation, ("model", "stationary"))
        for name in ("init_policy", "ergodic_policy"):
            if isinstance(getattr(self, name), str):
                _choice(cls, name, getattr(self, name), ("stationary", "linear"))
        if self.head is not None:
            _choice(cls, "head", self.head, ("categorical", "kumaraswamy", "beta"))
        if self.noise_paths is not None:
            _choice(cls, "noise_paths", self.noise_paths, ("auto", "sample", "exact"))
        if self.date_weights is not None:
            _choice(cls, "date_weights", self.date_weights, ("discounted", "uniform"))
        _positive(cls, iterations=self.iterations, lr=self.lr, paths=self.paths, horizon=self.horizon)

    def given(self) -> dict:
        """The options the user set (not None), excluding the run controls."""
        controls = {"seed", "checkpoint", "progress", "callback", "horizon", *INFINITE_HORIZON}
        return {k: v for k, v in self.options().items() if v is not None and k not in controls}


class SPG(RSPG):
    """Structural policy gradient: a memoryless policy of the current signal (options as :class:`RSPG`)."""

    method = "spg"
    recurrent = False


class IPPO(Solver):
    """Independent PPO on sampled households: a model-free baseline with a memoryless policy.

    Each iteration freezes the mean-field flow of the current policy (the exact push of its action
    probabilities, or the histogram of ``population`` sampled households), lets ``agents`` learners
    per noise path play one episode against it in the N-agent environment, and takes
    ``epochs`` x ``minibatches`` PPO steps (:mod:`hetmacro.mfg.ppo`, docs/baselines.md). The learned
    policy is scored exactly as RSPG's. Network options left None follow RSPG's rules for the game.

    Attributes:
        iterations: outer iterations (flow, episodes, PPO update).
        paths: common-noise paths per iteration; agents: learners per path (one episode each).
        epochs, minibatches: PPO passes over the learners and minibatches per pass (``minibatches``
            must divide ``agents``); one Adam step per minibatch.
        lr: initial learning rate, annealed linearly to 0.1 lr over iterations x epochs x minibatches
            (the optimiser steps actually taken).
        clip: the ratio clip epsilon; gae_lambda: GAE's lambda; entropy: entropy bonus weight;
            vf_coef: value-loss weight; max_grad_norm: global-norm clip; critic_width: the critic's width.
        mean_field: "exact" (push of the policy's probabilities) or "empirical" (histogram of
            ``population`` sampled households).
        eval_every, eval_paths, keep_paths: evaluation schedule, its paths, flows kept.
        head, width, hidden, encoder_depth, signal_depth, head_layers, state_table, grid_scaling:
            the policy network (as :class:`RSPG`).
        seed: PRNG seed; progress: a tqdm progress bar; callback: ``f(last history row)`` per iteration.
    """

    method = "ippo"
    _impl = ("hetmacro.mfg.ippo", "solve")
    recurrent = False
    iterations: int = 100
    paths: int = 8
    agents: int = 256
    epochs: int = 4
    minibatches: int = 4
    lr: float = 3e-4
    clip: float = 0.2
    gae_lambda: float = 0.95
    entropy: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    critic_width: int = 64
    mean_field: str = "exact"
    population: int = 1000
    eval_every: int = 10
    eval_paths: int = 32
    keep_paths: int = 8
    head: str | None = None
    width: int | None = None
    hidden: int | None = None
    encoder_depth: int | None = None
    signal_depth: int | None = None
    head_layers: int | None = None
    state_table: bool | None = None
    grid_scaling: str | None = None
    seed: int = 0
    progress: bool = True
    callback: object = None

    def __check_init__(self):
        cls = type(self).__name__
        _positive(
            cls,
            iterations=self.iterations,
            paths=self.paths,
            agents=self.agents,
            epochs=self.epochs,
            minibatches=self.minibatches,
            lr=self.lr,
            clip=self.clip,
            max_grad_norm=self.max_grad_norm,
            critic_width=self.critic_width,
            population=self.population,
            eval_paths=self.eval_paths,
            keep_paths=self.keep_paths,
        )
        if self.agents % self.minibatches:
            raise ValueError(
                f"{cls}: minibatches = {self.minibatches} does not divide agents = {self.agents}. Fix: choose "
                f"agents as a multiple of minibatches (e.g. agents = {self.minibatches * max(1, self.agents // self.minibatches)})."
            )
        if not 0 <= self.gae_lambda <= 1:
            raise ValueError(f"{cls}: gae_lambda = {self.gae_lambda!r} must be in [0, 1].")
        if self.entropy < 0 or self.vf_coef < 0 or self.eval_every < 0:
            raise ValueError(f"{cls}: entropy, vf_coef and eval_every must be non-negative.")
        _choice(cls, "mean_field", self.mean_field, ("exact", "empirical"))
        if self.head is not None:
            _choice(cls, "head", self.head, ("categorical", "kumaraswamy", "beta"))

    def given(self) -> dict:
        """The options in force that are set here (not None), excluding the run controls."""
        return {
            k: v
            for k, v in self.options().items()
            if v is not None and k not in ("seed", "progress", "callback")
        }

    def solve(self, model):
        """Check that the model's actions are a discrete grid and its horizon finite, then train."""
        from .grids import ActionGrid

        cls, name = type(self).__name__, type(model).__name__
        try:
            actions = model.actions()
        except NotImplementedError as err:
            raise ValueError(f"{cls}: {name} declares no actions ({err}).") from None
        if not isinstance(actions, ActionGrid):
            raise ValueError(
                f"{cls}: {name}.actions() returned {type(actions).__name__}, not a discrete "
                "hetmacro.ActionGrid: PPO here samples from a finite set of actions. Fix: declare the actions "
                "on a grid (ActionGrid.midpoints or ActionGrid.integers)."
            )
        if model.horizon() is None:
            raise ValueError(
                f"{cls}: {name} has an infinite horizon; the N-agent episodes need a finite one. Fix: give "
                "the model a horizon T, or use method='rspg', which handles infinite horizons."
            )
        return self._run(self._impl, model, self)


class RIPPO(IPPO):
    """Recurrent independent PPO: a GRU over the shared signals' history (options as :class:`IPPO`)."""

    method = "rippo"
    recurrent = True


#: method name -> configuration class. ``hetmacro list`` prints them.
METHODS = {cls.method: cls for cls in (DP, Stationary, KS, Linear, RSPG, SPG, IPPO, RIPPO)}

#: configuration classes by name: the only ones a ``.hmx`` file may name.
SOLVER_TYPES = {cls.__name__: cls for cls in (DP, Stationary, KS, Linear, RSPG, SPG, IPPO, RIPPO)}


def configure(method: str | Solver = "dp", **options) -> Solver:
    """The configuration ``method`` names, with ``options``, validated (no model is read or compiled).

    ``method`` is a configuration (returned as is, and then no options may be given) or a method's name
    in :data:`METHODS`.

    Raises:
        ValueError: an unknown method, or an option's value out of range (naming it).
        TypeError: an unknown option, or options beside a configuration.
    """
    if isinstance(method, Solver):
        if options:
            raise TypeError(
                f"options {sorted(options)} given beside the configuration {type(method).__name__}(...): "
                "set them in the configuration."
            )
        return method
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; available: {sorted(METHODS)}")
    cls = METHODS[method]
    valid = sorted(f.name for f in dataclasses.fields(cls))
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise TypeError(f"method {method!r}: unknown option(s) {unknown}; valid: {valid}.")
    return cls(**options)


def solve(model, method: str | Solver = "dp", **options):
    """Solve ``model`` by ``method`` and return a :class:`~hetmacro.solution.Solution`.

    ``method`` is a configuration (``hm.Stationary(tol=1e-12)``) or a method's name (``"stationary"``)
    with its options as keywords. Methods: :data:`METHODS` (``hetmacro list`` on the command line);
    each configuration class documents its options and defaults.
    """
    return configure(method, **options).solve(model)
