"""Income chains and grid constructors refuse what would be silently wrong later.

Each test would have caught a case that used to pass construction and fail far away (or not at all):
a reducible or periodic income chain (stationary() returned [0.5, 0.5] for the identity), NaN inside a
transition matrix (LAPACK's "SVD did not converge" much later), grid constructors returning NaN with
only a numpy warning, rouwenhorst and tauchen disagreeing on defaults, and Aiyagari's Tauchen width.
"""

from __future__ import annotations

import inspect
import re
import types
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hetmacro as hm
from hetmacro.grids import check_stochastic, check_unique_stationary, stationary_distribution
from hetmacro.models.aiyagari import Aiyagari

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def float64():
    """Chains keep float64 values and matrices (scoped to each test, never switched on globally)."""
    with jax.enable_x64(True):
        yield


# --- 1. reducible or periodic chains: no unique (convergent) stationary distribution ---------------------


def test_identity_chain_is_refused_naming_its_closed_classes():
    chain = hm.Chain("e", [1.0, 2.0], np.eye(2))  # constructing it is fine: it is a valid matrix
    with pytest.raises(
        ValueError,
        match=r"Chain 'e'\.P: the chain has 2 closed classes of states .*states \[0\] \(e = 1\); "
        r"states \[1\] \(e = 2\)\. .*no unique stationary distribution.*Fix: make every state reachable",
    ):
        chain.stationary()
    with pytest.raises(ValueError, match=r"Markov chain: the chain has 2 closed classes"):
        stationary_distribution(np.eye(2))


def test_two_closed_classes_behind_a_transient_state_are_refused():
    # state 0 leaks into {1, 2} and {3, 4}, two closed classes: the long run depends on the start.
    P = np.array(
        [
            [0.2, 0.4, 0.0, 0.4, 0.0],
            [0.0, 0.9, 0.1, 0.0, 0.0],
            [0.0, 0.2, 0.8, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.5, 0.5],
            [0.0, 0.0, 0.0, 0.3, 0.7],
        ]
    )
    chain = hm.Chain("y", [0.5, 1.0, 1.5, 2.0, 2.5], P)
    with pytest.raises(
        ValueError,
        match=r"2 closed classes .*states \[1, 2\] \(y = 1, 1\.5\); states \[3, 4\] \(y = 2, 2\.5\)",
    ):
        chain.stationary()


@pytest.mark.parametrize("period", [2, 3, 5])
def test_periodic_chain_is_refused_naming_its_period(period):
    P = np.roll(np.eye(period), 1, axis=1)  # j -> j + 1 (mod period)
    with pytest.raises(
        ValueError,
        match=rf"Chain 'e'\.P: the chain is periodic with period {period}: it moves in a cycle states \[0\] "
        r"\(e = 1\) -> states \[1\] \(e = 2\) -> .*cycles for ever instead of converging.*Fix: give some "
        r"state a positive probability of staying",
    ):
        hm.Chain("e", np.arange(1.0, period + 1.0), P).stationary()


def test_periodic_closed_class_behind_a_transient_state_is_refused():
    P = np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    with pytest.raises(
        ValueError, match=r"periodic with period 2: it moves in a cycle states \[1\] -> states \[2\]"
    ):
        stationary_distribution(P)


def test_one_aperiodic_closed_class_with_transient_states_is_fine():
    P = np.array([[0.5, 0.5, 0.0], [0.0, 0.9, 0.1], [0.0, 0.1, 0.9]])
    pi = stationary_distribution(P)
    np.testing.assert_allclose(pi, [0.0, 0.5, 0.5], atol=1e-12)
    np.testing.assert_allclose(pi @ P, pi, atol=1e-12)
    # a product of irreducible aperiodic chains is one too
    a = hm.Chain("u", [0.1, 1.0], [[0.5, 0.5], [0.1, 0.9]])
    b = hm.rouwenhorst("s", 3, 0.9, 0.2, sd_kind="unconditional")
    pi = hm.product_chain("e", a, b).stationary()
    np.testing.assert_allclose(pi, np.kron(a.stationary(), b.stationary()), atol=1e-10)


def test_float32_chain_still_has_a_stationary_distribution():
    # outside x64 a Chain's P is float32: its rows sum to 1 only to float32 rounding
    with jax.enable_x64(False):
        chain = hm.Chain("e", [1.0, 2.0, 3.0], [[0.5, 0.5, 0.0], [0.0, 0.9, 0.1], [0.0, 0.1, 0.9]])
        assert chain.P.dtype == jnp.float32
        np.testing.assert_allclose(chain.stationary(), [0.0, 0.5, 0.5], atol=1e-6)


def test_the_stationary_solver_refuses_a_reducible_income_chain():
    # e_move = 0: every income state is absorbing (the identity matrix)
    model = Aiyagari(income_process="tridiagonal", e_move=0.0, n_e=3, n_a=40, a_max=20.0)
    with pytest.raises(ValueError, match=r"Chain 'e'\.P: the chain has 3 closed classes of states"):
        hm.solve(model, method="stationary", values=False)


def test_every_stationary_distribution_of_a_chain_is_checked():
    """The generic stationary path's mu_0 and the Krusell-Smith path draw both go through the check."""
    from hetmacro.mfg.stationary import _mu0
    from hetmacro.savings.krusell_smith import _draw_path

    game = types.SimpleNamespace(chain=hm.Chain("e", [1.0, 2.0], np.eye(2)), n=3, dtype=jnp.float32)
    with pytest.raises(ValueError, match="2 closed classes"):
        _mu0(game)
    with pytest.raises(ValueError, match="periodic with period 2"):
        _draw_path(np.array([[0.0, 1.0], [1.0, 0.0]]), 5, seed=0)


def test_no_other_stationary_distribution_code():
    """hetmacro.grids.stationary_distribution is the only solver for a chain's stationary distribution:
    no eigenvector, least-squares or quantecon solve of one anywhere else in hetmacro/ or models/."""
    pattern = re.compile(
        r"linalg\.eig|linalg\.lstsq|mc_compute_stationary|stationary_distributions|gth_solve|\.eig\("
    )
    offenders = []
    for path in sorted([*(ROOT / "hetmacro").rglob("*.py"), *(ROOT / "models").rglob("*.py")]):
        if path.name == "grids.py" and path.parent.name == "hetmacro":
            continue
        for k, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{k}: {line.strip()}")
    assert not offenders, "use hetmacro.grids.stationary_distribution:\n" + "\n".join(offenders)


def test_check_unique_stationary_passes_the_shipped_income_chains():
    for kw in ({}, {"income_process": "tauchen"}, {"income_process": "tridiagonal"}):
        chain = Aiyagari(**kw).chain()
        check_unique_stationary("chain", np.asarray(chain.P))


# --- 2. non-finite transition matrices and chain values --------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_transition_probability_is_refused_with_its_position(bad):
    P = [[0.5, 0.5, 0.0], [bad, 0.5, 0.5], [0.0, 0.5, 0.5]]
    with pytest.raises(
        ValueError, match=rf"Chain 'e'\.P: transition probabilities must be finite, got P\[1, 0\] = {bad!r}"
    ):
        hm.Chain("e", [1.0, 2.0, 3.0], P)
    with pytest.raises(
        ValueError, match=r"MarkovChain\.P: transition probabilities must be finite, got P\[1, 0\]"
    ):
        hm.MarkovChain(P, [1 / 3, 1 / 3, 1 / 3])
    with pytest.raises(ValueError, match=r"T: transition probabilities must be finite, got P\[1, 0\]"):
        check_stochastic("T", P)
    # the stationary distribution refuses it too, instead of LAPACK's "SVD did not converge"
    with pytest.raises(ValueError, match=r"must be finite, got P\[1, 0\]"):
        stationary_distribution(np.array(P))


def test_non_finite_initial_probabilities_are_refused():
    with pytest.raises(ValueError, match=r"MarkovChain\.initial_probs: .*finite, got P\[0, 1\] = nan"):
        hm.MarkovChain([[0.9, 0.1], [0.1, 0.9]], [0.5, np.nan])


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_chain_values_are_refused(bad):
    with pytest.raises(
        ValueError, match=rf"Chain 'e': state values must be finite, got values\[2\] = {bad!r}"
    ):
        hm.Chain("e", [0.5, 1.0, bad], np.full((3, 3), 1 / 3))


# --- 3. grid constructors never return NaN -----------------------------------------------------------------


def test_geometric_grid_below_the_pivot_says_which_pivot_to_pass():
    with pytest.raises(
        ValueError,
        match=r"geometric_grid: low \+ pivot = -2 \+ 0\.25 = -1\.75 must be > 0 .*Fix: pass pivot > 2, "
        r"e\.g\. pivot=2\.25",
    ):
        hm.geometric_grid(-2, 50, 10)
    g = hm.geometric_grid(-2, 50, 10, pivot=2.25)
    assert np.all(np.isfinite(g)) and np.all(np.diff(g) > 0)
    assert g[0] == pytest.approx(-2) and g[-1] == pytest.approx(50)


@pytest.mark.parametrize("grid", [hm.geometric_grid, hm.double_exponential_grid])
def test_grid_constructors_validate_their_arguments(grid):
    fn = grid.__name__
    for low, high in ((5.0, 1.0), (1.0, 1.0)):
        with pytest.raises(ValueError, match=rf"{fn}: need low < high, got low = {low}, high = {high}"):
            grid(low, high, 10)
    for n in (1, 0, -3):
        with pytest.raises(ValueError, match=rf"{fn}: n = {n}: a grid needs n >= 2 points"):
            grid(0.0, 1.0, n)
    with pytest.raises(ValueError, match=rf"{fn}: n = 2\.5 must be an integer >= 2"):
        grid(0.0, 1.0, 2.5)
    for low, high, arg in ((np.nan, 1.0, "low"), (0.0, np.inf, "high"), (-np.inf, 1.0, "low")):
        with pytest.raises(ValueError, match=rf"{fn}: {arg} = .* must be a finite number"):
            grid(low, high, 10)


def test_geometric_grid_refuses_a_non_finite_pivot():
    with pytest.raises(ValueError, match=r"geometric_grid: pivot = nan must be a finite number"):
        hm.geometric_grid(0.0, 1.0, 5, pivot=np.nan)


def test_grid_overflow_is_an_error_not_nan():
    with pytest.raises(
        ValueError, match=r"double_exponential_grid\(.*\): point 0 is nan: the construction overflowed"
    ):
        hm.double_exponential_grid(-1e308, 1e308, 10)
    with pytest.raises(ValueError, match=r"geometric_grid\(.*\): point \d+ is inf: .*smaller pivot"):
        hm.geometric_grid(0.0, 1e308, 10, pivot=1e308)


def test_grid_constructors_give_finite_increasing_grids_on_their_whole_domain():
    rng = np.random.default_rng(0)
    for _ in range(200):
        low = float(rng.uniform(-50, 50))
        high = low + float(10 ** rng.uniform(-6, 4))
        n = int(rng.integers(2, 400))
        pivot = -low + float(10 ** rng.uniform(-4, 3))
        for g in (hm.geometric_grid(low, high, n, pivot=pivot), hm.double_exponential_grid(low, high, n)):
            assert g.shape == (n,) and np.all(np.isfinite(g))
            assert np.all(np.diff(g) >= 0)
            np.testing.assert_allclose([g[0], g[-1]], [low, high], rtol=1e-9, atol=1e-9 * (high - low))


def test_aiyagari_borrowing_on_a_geometric_grid_names_the_pivot():
    """Refused when the model is made, naming the model's field (grid_pivot), not the grid function's."""
    with pytest.raises(ValueError, match=r"a_min \+ grid_pivot > 0.*grid_pivot > 2"):
        Aiyagari(a_min=-2.0, grid_kind="geometric", n_a=20)
    with pytest.raises(
        ValueError, match=r"geometric_grid: low \+ pivot = -2\.0 \+ 0\.25 .*pass pivot > 2\.0"
    ):
        hm.geometric_grid(-2.0, 50.0, 20)
    assert np.all(
        np.isfinite(Aiyagari(a_min=-2.0, grid_kind="geometric", grid_pivot=3.0, n_a=20).asset_grid())
    )


# --- 4. rouwenhorst and tauchen agree on defaults; sd_kind is required ------------------------------------


def test_rouwenhorst_and_tauchen_share_their_defaults():
    r = inspect.signature(hm.rouwenhorst).parameters
    t = inspect.signature(hm.tauchen).parameters
    for p in (r["sd_kind"], t["sd_kind"]):
        assert p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is None  # None: must be given
    assert r["normalise"].default is t["normalise"].default is True
    shared = set(r) & set(t)
    assert shared == {"name", "n", "rho", "sd", "sd_kind", "normalise"}
    assert all(r[k].default == t[k].default for k in shared)


@pytest.mark.parametrize("make", [hm.rouwenhorst, hm.tauchen])
def test_omitting_sd_kind_explains_the_two_kinds(make):
    with pytest.raises(
        ValueError,
        match=rf"{make.__name__}: say what sd = 0\.2 is the standard deviation of, with "
        r"sd_kind='unconditional' \(sd is the stationary cross-sectional s\.d\. of log e.*\) or "
        r"'innovation' \(sd is the s\.d\. of the shock eps",
    ):
        make("e", 5, 0.9, 0.2)
    with pytest.raises(TypeError):
        make("e", 5, 0.9, 0.2, "unconditional")  # keyword only: a positional string could be misread
    with pytest.raises(ValueError, match=r"sd_kind = 'stationary': use 'unconditional' .* or 'innovation'"):
        make("e", 5, 0.9, 0.2, sd_kind="stationary")


@pytest.mark.parametrize("make", [hm.rouwenhorst, hm.tauchen])
def test_both_normalise_to_mean_one_by_default(make):
    chain = make("e", 7, 0.9, 0.2, sd_kind="unconditional")
    assert float(chain.stationary() @ np.asarray(chain.values)) == pytest.approx(1.0, abs=1e-12)
    raw = make("e", 7, 0.9, 0.2, sd_kind="unconditional", normalise=False)
    assert float(np.log(np.asarray(raw.values)).mean()) == pytest.approx(0.0, abs=1e-12)


def _log_variance(chain):
    pi, x = chain.stationary(), np.log(np.asarray(chain.values))
    return float(pi @ x**2 - (pi @ x) ** 2)


@pytest.mark.parametrize("rho", [0.0, 0.5, 0.9])
@pytest.mark.parametrize("sd_kind", ["unconditional", "innovation"])
def test_rouwenhorst_and_tauchen_agree_on_the_variance_of_log_e(rho, sd_kind):
    sd = 0.3
    target = sd**2 if sd_kind == "unconditional" else sd**2 / (1 - rho**2)
    r = hm.rouwenhorst("e", 41, rho, sd, sd_kind=sd_kind)
    t = hm.tauchen("e", 41, rho, sd, sd_kind=sd_kind)
    v_r, v_t = _log_variance(r), _log_variance(t)
    assert v_r == pytest.approx(target, rel=1e-9)  # Rouwenhorst matches it exactly
    assert v_t == pytest.approx(v_r, rel=0.05)  # Tauchen up to its +-3 s.d. grid and bins


def test_every_income_chain_in_the_repository_names_its_sd_kind():
    """Every call of rouwenhorst( / tauchen( in code and docs passes sd_kind (a call without it raises)."""
    call = re.compile(r"\b(rouwenhorst|tauchen)\(")
    files = [*ROOT.glob("hetmacro/**/*.py"), *ROOT.glob("models/**/*.py"), *ROOT.glob("benchmarks/**/*.py")]
    files += [*ROOT.glob("docs/*.md"), ROOT / "README.md", *ROOT.glob("notebooks/*")]
    missing = []
    for path in files:
        if not path.is_file() or path.suffix not in (".py", ".md", ".ipynb"):
            continue
        text = path.read_text()
        for m in call.finditer(text):
            if text[m.start() - 4 : m.start()] == "def ":
                continue
            depth, k = 0, m.end() - 1
            while k < len(text):  # the call's arguments, up to its closing parenthesis
                depth += {"(": 1, ")": -1}.get(text[k], 0)
                if depth == 0:
                    break
                k += 1
            if "sd_kind" not in text[m.start() : k]:
                missing.append(f"{path.relative_to(ROOT)}: {text[m.start() : k + 1]}")
    assert not missing, "\n".join(missing)


# --- 5. Aiyagari's Tauchen width ------------------------------------------------------------------------


def test_aiyagari_n_std_sets_the_width_of_tauchen_grid():
    def width(**kw):
        x = np.log(np.asarray(Aiyagari(income_process="tauchen", **kw).chain().values))
        return float(x[-1] - x[0])

    sd = Aiyagari().sd_e  # unconditional s.d. of log e (the default sd_kind)
    assert width() == pytest.approx(2 * 3.0 * sd, rel=1e-12)  # the default n_std = 3, as before
    assert width(n_std=2.0) == pytest.approx(2 * 2.0 * sd, rel=1e-12)
    assert width(n_std=4.5) == pytest.approx(2 * 4.5 * sd, rel=1e-12)
    default = Aiyagari(income_process="tauchen").chain()
    same = hm.tauchen("e", 7, 0.9, 0.2, sd_kind="unconditional", n_std=3.0, normalise=True)
    np.testing.assert_array_equal(np.asarray(default.values), np.asarray(same.values))


def test_aiyagari_n_std_is_tauchen_only_and_positive():
    assert "n_std" in Aiyagari.__doc__ and "Tauchen only" in Aiyagari.__doc__
    a, b = Aiyagari().chain(), Aiyagari(n_std=2.0).chain()  # Rouwenhorst: the method fixes the span
    np.testing.assert_array_equal(np.asarray(a.values), np.asarray(b.values))
    with pytest.raises(ValueError, match=r"Aiyagari\.n_std = 0\.0: Tauchen's grid of log e spans"):
        Aiyagari(income_process="tauchen", n_std=0.0)


def test_aiyagari_one_state_tridiagonal_chain_keeps_e_low():
    chain = Aiyagari(income_process="tridiagonal", n_e=1).chain()
    np.testing.assert_array_equal(np.asarray(chain.values), [0.1])
    np.testing.assert_array_equal(np.asarray(chain.P), [[1.0]])
