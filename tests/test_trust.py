"""Bad input gets a message naming what is wrong, before any solver runs; nothing misleading is printed.

Each test is one of the cases where, before, the error blamed something else (a solver's iteration cap, a
natural borrowing limit, "r = -inf", a NoneType format) or a real bug was reported as a missing feature.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import hetmacro as hm
from hetmacro.equilibrium import NoEquilibriumError
from hetmacro.model import param
from hetmacro.models import Aiyagari, BeachBar, KrusellSmith, LinearQuadratic


@pytest.mark.parametrize("cls", [Aiyagari, KrusellSmith])
@pytest.mark.parametrize(
    "field, value",
    [
        ("sigma", float("nan")),
        ("alpha", float("inf")),
        ("delta", float("nan")),
        ("beta", float("-inf")),
        ("sd_e", float("nan")),  # the income chain's values are parameters too
    ],
)
def test_non_finite_parameters_are_refused_naming_the_field(cls, field, value):
    with pytest.raises(ValueError, match=rf"{cls.__name__}\.{field} = .* is not finite"):
        cls(**{field: value})


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"tfp_rho": float("nan")}, r"Aiyagari\.tfp_rho must be a finite number"),
        ({"n_a": 1.5}, r"Aiyagari\.n_a must be a whole number"),
        ({"T": "abc"}, r"Aiyagari\.T must be a whole number"),
        ({"beta": "abc"}, r"Aiyagari\.beta must be a number"),
        ({"normalise_e": 1}, r"Aiyagari\.normalise_e must be true or false"),
    ],
)
def test_settings_of_the_wrong_type_name_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Aiyagari(**kwargs)


def test_every_shipped_model_constructs_with_its_defaults():
    for cls in (Aiyagari, KrusellSmith, LinearQuadratic, BeachBar):
        cls()


def test_a_borrowing_limit_beyond_the_natural_one_is_named():
    """Before: 'the households' assets stay below ... raise a_max', naming neither a_min nor the limit."""
    with pytest.raises(NoEquilibriumError) as err:
        hm.solve(Aiyagari(a_min=-50.0, n_a=60), method="stationary")
    text = str(err.value)
    assert "a_min = -50" in text and "natural borrowing limit" in text and "Fix: raise a_min above" in text
    limit = float(text.split("-y_min / r = ")[1].split(" ")[0])
    assert -50 < limit < 0  # the value of the limit, where a_min must lie above


@pytest.mark.parametrize("option", ["max_evaluations", "max_dist_iter", "tol"])
def test_a_zero_cap_is_refused_when_the_configuration_is_made(option):
    """Before: max_evaluations=0 ended in 'unsupported format string passed to NoneType'."""
    with pytest.raises(ValueError, match=rf"Stationary: {option} = 0 must be positive"):
        hm.Stationary(**{option: 0})


class _Broken(hm.DP):
    """A solver configuration whose implementation has a bug (an AttributeError inside it)."""

    _impl = ("hetmacro.results", "no_such_function")


class _NeedsPackage(hm.DP):
    """A solver configuration whose implementation needs a package that is not installed."""

    _impl = ("hetmacro_missing_optional_package", "solve")


def test_a_bug_inside_a_solver_is_not_reported_as_a_missing_feature():
    """Before: any ImportError/AttributeError became 'not available in this version'."""
    with pytest.raises(AttributeError, match="no_such_function"):
        _Broken().solve(LinearQuadratic(aggregate_risk=False, T=3, n_states=5))
    with pytest.raises(
        ImportError, match="needs the package 'hetmacro_missing_optional_package'.*pip install"
    ):
        _NeedsPackage().solve(LinearQuadratic(aggregate_risk=False, T=3, n_states=5))


def test_the_package_imports_under_python_OO():
    """Docstrings are stripped under -OO: nothing may build on them at import."""
    code = (
        "import hetmacro, hetmacro.models; print(hetmacro.grids.__doc__)\n"
        "from hetmacro.cli import main\n"
        "main(['list'])\n"
        "try:\n    main(['--help'])\nexcept SystemExit as e:\n    assert e.code == 0\n"
    )
    out = subprocess.run([sys.executable, "-OO", "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "None"  # docstrings were indeed stripped
    assert "models:" in out.stdout and "usage: hetmacro" in out.stdout


def test_summary_shows_no_negative_zero_and_says_what_each_time_is():
    game = hm.compile(LinearQuadratic(aggregate_risk=False, T=3, n_states=5))
    sol = hm.Solution(
        "dp", game.model, game=game, exploitability=-0.0, timings={"total": 1.5, "iterations": 1.0}
    )
    frame = sol.summary()
    assert str(frame.loc["exploitability", "value"]) == "0.0"
    assert list(frame.index[-2:]) == [
        "time total, compile included (s)",
        "time iterations, first compiles (s)",
    ]
    assert set(frame.attrs["timings"]) == set(frame.index[-2:])
    assert all(frame.attrs["timings"].values())
    sol.exploitability = -0.5  # a clearly negative exploitability is a bug: shown as it is
    assert sol.summary().loc["exploitability", "value"] == -0.5
    assert np.isclose(hm.report.total_seconds(sol.timings), 1.5)


def test_a_borrowing_limit_above_the_grid_start_is_named():
    """Before: 'grid points must be finite'. The declaration is checked when the game is compiled."""

    class Lender(hm.SavingsEconomy):
        beta: float = param(0.96)
        r: float = param(0.0)

        def utility(self):
            return hm.CRRA(2.0)

        def grid(self):
            return hm.Grid("a", np.linspace(0.0, 10.0, 20))

        def borrowing_limit(self):
            return 0.5

        def chain(self):
            return hm.Chain("e", [0.5, 1.0], [[0.5, 0.5], [0.1, 0.9]])

        def income(self, e, p):
            return e

        def market(self):
            return hm.ZeroNetSupply()

    with pytest.raises(ValueError, match=r"grid starts at 0 but the borrowing limit is 0.5.*Fix"):
        hm.compile(Lender())


def test_aiyagari_geometric_grid_with_borrowing_names_grid_pivot():
    with pytest.raises(ValueError, match=r"a_min \+ grid_pivot > 0.*grid_pivot > 1"):
        Aiyagari(a_min=-1.0, grid_kind="geometric")
    assert Aiyagari(a_min=-1.0, grid_kind="geometric", grid_pivot=1.25).asset_grid()[0] == -1.0
