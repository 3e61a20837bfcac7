"""Save / load (JSON header + equinox-serialised arrays) and table export."""

import json

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import hetmacro as hm
from hetmacro.hmx import SolutionFileError, read_header
from hetmacro.models import BeachBar, LinearQuadratic


@pytest.fixture(scope="module")
def lq():
    return hm.solve(LinearQuadratic(aggregate_risk=False, T=5, n_states=21), method="dp", seed=0)


@eqx.filter_jit
def _rollouts(game, keys, pi):
    return jax.vmap(lambda k: game.rollout_table(k, pi))(keys)


@pytest.fixture(scope="module")
def risky():
    """LQ with common noise under a random policy table: several paths, a finite-state noise, float64."""
    with jax.enable_x64(True):
        game = hm.compile(LinearQuadratic(T=6, n_states=21))
        pi = np.random.default_rng(1).dirichlet(np.ones(game.A), (game.T, game.n, game.m))
        flows = jax.tree.map(
            np.asarray, _rollouts(game, jax.random.split(jax.random.PRNGKey(2), 4), jnp.asarray(pi))
        )
    return hm.Solution(
        "table",
        game.model,
        game=game,
        policy=pi,
        flows=flows,
        aggregates={"m_mean": np.float64(np.mean(flows.aggs.values["m"]))},
        result=hm.results.DPResult(
            converged=False,
            iterations=2,
            tol=float("nan"),
            scheme="random policy",
            precision="float64",
            seed=2,
        ),
    )


def _tables(sol):
    return {
        "summary": sol.summary(),
        "paths": sol.paths(),
        "paths_summary": sol.paths(summary=True),
        "policy": sol.policy_table(t=1, path=-1),
        "distribution": sol.distribution(t=-1, path=-1),
        "inequality": sol.inequality(t=-1),
        "lorenz": sol.lorenz(t=2),
        "history": sol.history(),
        "compare": hm.compare(sol),
    }


def _assert_same_tables(a, b):
    ta, tb = _tables(a), _tables(b)
    for name in ta:
        pd.testing.assert_frame_equal(ta[name], tb[name], check_exact=True, obj=name)


def test_round_trip_is_bit_for_bit(lq, tmp_path):
    path = tmp_path / "lq.hmx"
    lq.save(path)
    back = hm.load(path)
    assert type(back.model) is LinearQuadratic and back.method == "dp"
    assert back.exploitability == lq.exploitability and back.exploitability_kind == lq.exploitability_kind
    np.testing.assert_array_equal(back.policy, lq.policy)
    np.testing.assert_array_equal(back.values, lq.values)
    assert back.flows.aggs.mu.dtype == lq.flows.aggs.mu.dtype == np.float64
    assert back.game.dtype == lq.game.dtype
    _assert_same_tables(lq, back)
    assert back.result == lq.result and back.solver == lq.solver
    assert back.loaded_from == str(path)


def test_round_trip_with_common_noise_keeps_irfs(risky, tmp_path):
    path = tmp_path / "risky.hmx"
    risky.save(path)
    back = hm.load(path)
    _assert_same_tables(risky, back)
    assert back.result.scheme == "random policy" and np.isnan(back.result.tol) and back.result.seed == 2
    assert back.aggregates["m_mean"] == risky.aggregates["m_mean"]
    options = dict(shock="z", size=1, paths=4, horizon=3)
    pd.testing.assert_frame_equal(risky.irf(**options), back.irf(**options), check_exact=True)


def test_header_is_one_readable_json_line(lq, tmp_path):
    path = tmp_path / "lq.hmx"
    lq.save(path)
    first = path.read_bytes().split(b"\n", 1)[0]
    header = json.loads(first)
    assert header == read_header(path)
    assert header["format"] == "hetmacro-solution"
    assert header["hetmacro_version"] == hm.__version__
    assert header["model_class"] == "hetmacro.models.lq:LinearQuadratic"
    assert header["method"] == "dp"
    assert header["calibration"]["T"] == 5 and header["calibration"]["kappa"] == 0.5
    assert header["calibration"]["aggregate_risk"] is False
    assert header["options"]["tol"] == lq.solver.tol and header["seed"] == 0
    assert b"pickle" not in first


def test_a_different_model_class_is_a_clear_error(lq, tmp_path):
    path = tmp_path / "lq.hmx"
    lq.save(path)
    with pytest.raises(SolutionFileError, match="LinearQuadratic.*not BeachBar"):
        hm.load(path, model_class=BeachBar)


def test_a_class_that_cannot_be_imported_needs_model_class(lq, tmp_path):
    class MyLQ(LinearQuadratic):
        """A user's model class that cannot be imported by name (like one defined in a notebook)."""

    mine = hm.Solution(
        "dp",
        MyLQ(aggregate_risk=False, T=5, n_states=21),
        game=lq.game,
        policy=lq.policy,
        flows=lq.flows,
        history=lq.history(),
    )
    path = tmp_path / "mine.hmx"
    mine.save(path)
    with pytest.raises(SolutionFileError, match="model_class=MyModel"):
        hm.load(path)
    back = hm.load(path, model_class=MyLQ)
    assert type(back.model) is MyLQ
    pd.testing.assert_frame_equal(back.paths(), lq.paths(), check_exact=True)


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage", "empty", "other json"])
def test_corrupt_files_are_clear_errors(lq, tmp_path, damage):
    path = tmp_path / "lq.hmx"
    lq.save(path)
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[-100] ^= 0xFF
    elif damage == "truncate":
        data = data[: len(data) - 1000]
    elif damage == "garbage":
        data = bytearray(b"\x00\x01garbage" * 10)
    elif damage == "empty":
        data = bytearray()
    else:
        data = bytearray(b'{"format": "something else"}\n')
    path.write_bytes(bytes(data))
    message = "corrupt" if damage in ("flip", "truncate") else "not a hetmacro Solution file"
    with pytest.raises(SolutionFileError, match=message):
        hm.load(path)


def _rewrite_header(path, edit):
    """Apply ``edit(header)`` and write the header back without recomputing the checksum."""
    first, rest = path.read_bytes().split(b"\n", 1)
    header = json.loads(first)
    edit(header)
    path.write_bytes(json.dumps(header).encode() + b"\n" + rest)


def _edits(header):
    """One edit per header field (and some inside the Solution's body): {label: edit}."""

    def setter(*keys, value):
        def edit(h):
            d = h
            for k in keys[:-1]:
                d = d[k]
            d[keys[-1]] = value(d[keys[-1]]) if callable(value) else value

        return edit

    edits = {
        "method": setter("method", value="rspg"),
        "model_class": setter("model_class", value="hetmacro.models.beach_bar:BeachBar"),
        "calibration": setter("calibration", "kappa", value=0.75),
        "seed": setter("seed", value=7),
        "options": setter("options", "tol", value=1.0),
        "hetmacro_version": setter("hetmacro_version", value="9.9.9"),
        "jax_version": setter("jax_version", value="0.0.1"),
        "arrays": setter("arrays", 0, "dtype", value="<f4"),
        "payload_bytes": setter("payload_bytes", value=lambda v: v + 1),
        "sha256": setter("sha256", value="0" * 64),
        "format_version": setter("format_version", value=1),
        "exploitability": setter("solution", "exploitability", value=123.0),
        "solution method": setter("solution", "method", value="rspg"),
        "timings": setter("solution", "timings", value=None),
    }
    assert set(header) <= set(edits) | {"format", "solution"}, "a header field is not edited by the test"
    return edits


def test_every_header_edit_is_refused(lq, tmp_path):
    """One checksum covers the header and the arrays: editing any header field is a SolutionFileError
    (before, an edited exploitability loaded and printed the edit)."""
    path = tmp_path / "lq.hmx"
    lq.save(path)
    original = path.read_bytes()
    for label, edit in _edits(read_header(path)).items():
        path.write_bytes(original)
        _rewrite_header(path, edit)
        assert path.read_bytes() != original, label
        with pytest.raises(SolutionFileError, match="corrupt|format version"):
            hm.load(path)
        with pytest.raises(SolutionFileError):
            read_header(path)  # what `hetmacro show` prints is checked too
    path.write_bytes(original)
    _rewrite_header(path, lambda h: None)  # re-serialised with other spacing, same content: still loads
    assert hm.load(path).exploitability == lq.exploitability


def test_a_file_never_imports_the_module_it_names(lq, tmp_path, monkeypatch):
    """A crafted model_class naming an importable module with import-time code: refused, not imported."""
    (tmp_path / "hmx_payload_module.py").write_text(
        "import sys\nsys.hmx_payload_ran = True\nclass Evil: pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    path = tmp_path / "lq.hmx"
    lq.save(path)
    from hetmacro.hmx import _digest

    first, rest = path.read_bytes().split(b"\n", 1)
    header = json.loads(first)
    header["model_class"] = "hmx_payload_module:Evil"
    header["sha256"] = _digest(header, rest)  # a careful forger: the checksum matches
    path.write_bytes(json.dumps(header).encode() + b"\n" + rest)
    with pytest.raises(SolutionFileError, match="never import.*register_model"):
        hm.load(path)
    import sys

    assert "hmx_payload_module" not in sys.modules and not hasattr(sys, "hmx_payload_ran")


def test_a_registered_class_loads_without_being_passed(lq, tmp_path):
    class Registered(LinearQuadratic):
        """A user's class, registered once."""

    sol = hm.Solution("dp", Registered(aggregate_risk=False, T=5, n_states=21), game=lq.game, flows=lq.flows)
    path = tmp_path / "reg.hmx"
    sol.save(path)
    with pytest.raises(SolutionFileError, match="register_model"):
        hm.load(path)
    assert hm.register_model(Registered) is Registered
    assert type(hm.load(path).model) is Registered
    with pytest.raises(TypeError, match="Model subclass"):
        hm.register_model(int)


def test_a_network_policy_that_cannot_be_saved_is_dropped_not_pickled(lq, tmp_path):
    class Net:
        def __call__(self, carry, agg):
            return carry, jnp.ones((21, 1, 7)) / 7

    sol = hm.Solution("net", lq.model, game=lq.game, policy=Net(), flows=lq.flows)
    path = tmp_path / "net.hmx"
    sol.save(path)
    back = hm.load(path)
    assert back.policy is None
    pd.testing.assert_frame_equal(back.paths(), sol.paths(), check_exact=True)
    with pytest.raises(NotImplementedError, match="carries no policy"):
        back.policy_fn()


def test_to_csv_writes_every_table_and_a_readme(risky, tmp_path):
    written = risky.to_csv(tmp_path / "tables")
    names = {p.name for p in written}
    assert {"summary.csv", "paths.csv", "paths_summary.csv", "policy_t0.csv", "README.txt"} <= names
    assert {"distribution_t0.csv", "distribution_t6.csv", "inequality.csv", "lorenz_t6.csv"} <= names
    paths = pd.read_csv(tmp_path / "tables" / "paths.csv", index_col=["path", "t"])
    pd.testing.assert_frame_equal(paths, risky.paths(), check_exact=True, check_dtype=False)
    readme = (tmp_path / "tables" / "README.txt").read_text()
    assert "paths: index (path, t)" in readme and "units" in readme


def test_to_excel_needs_openpyxl(risky, tmp_path):
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install openpyxl"):
            risky.to_excel(tmp_path / "t.xlsx")
        return
    path = risky.to_excel(tmp_path / "t.xlsx", irf=False)
    sheets = pd.read_excel(path, sheet_name=None)
    assert {"README", "summary", "paths", "policy_t0"} <= set(sheets)
