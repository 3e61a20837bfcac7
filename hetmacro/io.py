"""Files: save and load a Solution, and export its tables for colleagues without Python.

**The ``.hmx`` format** (no pickle anywhere). Line 1 is a JSON object (UTF-8, one line) that a person
can read with ``head -1 file.hmx``:

- ``format`` ("hetmacro-solution"), ``format_version``, ``hetmacro_version``, ``jax_version``;
- ``model_class`` ("module:QualName"), ``calibration`` (every field of the model: the parameter
  values and the static settings), ``method``, ``seed``, ``options``;
- the Solution's scalar fields (exploitability and its kind, aggregates, timings, info) and a
  description of every array that follows (``arrays``: shape and dtype), with the byte length and the
  SHA-256 of the array section.

The rest of the file is the arrays, written with :func:`equinox.tree_serialise_leaves` (numpy's
``.npy`` records, read back with ``allow_pickle=False``): the model's array parameters, the flows,
the policy table, the values, the stationary distribution, the history's columns. Arrays come back
with their bytes unchanged, the model is rebuilt from its class and the saved parameters, and the game
is recompiled in the saved precision, so every table of a reloaded Solution equals the original's bit
for bit. A network policy (RSPG) is saved when it is an equinox Module whose class can be rebuilt with
``type(policy).from_spec(game, **spec)`` from a JSON ``spec()``; otherwise the file says it was not
saved and the reloaded Solution has no policy (tables work, re-simulation does not).

:func:`to_csv` / :func:`to_excel` write every table at once (:func:`tables`) with a README listing
each table's index, columns and units.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import io as _io
import json
import math
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from .game import Flow
from .model import AggState

__all__ = ["FORMAT", "SolutionFileError", "load", "save", "tables", "to_csv", "to_excel"]

FORMAT = "hetmacro-solution"
FORMAT_VERSION = 1
_MAX_HEADER = 64 * 1024 * 1024


class SolutionFileError(ValueError):
    """The file is not a hetmacro Solution, is corrupt, or holds a different model class."""


# --- encoding: JSON-able structures with arrays set aside -------------------------------------------------
class _Encoder:
    def __init__(self):
        self.arrays: list[np.ndarray] = []

    def array(self, x) -> dict:
        arr = np.asarray(x)
        if arr.dtype == object:
            raise TypeError("object arrays cannot be saved without pickle")
        self.arrays.append(arr if arr.flags.c_contiguous else arr.copy(order="C"))
        return {"__array__": len(self.arrays) - 1}

    def __call__(self, x):
        if x is None or isinstance(x, bool | str):
            return x
        if isinstance(x, int) and not isinstance(x, bool):
            return x
        if isinstance(x, float):
            if math.isfinite(x):
                return x
            return {"__float__": repr(x)}
        if isinstance(x, np.generic) or (isinstance(x, np.ndarray | jax.Array) and np.ndim(x) == 0):
            out = self.array(x)
            out["scalar"] = isinstance(x, np.generic)
            return out
        if isinstance(x, np.ndarray | jax.Array):
            return self.array(x)
        if isinstance(x, pd.DataFrame):
            return {"__frame__": self.frame(x)}
        if isinstance(x, Flow):
            return {"__flow__": {"aggs": self(x.aggs), "pi": self(x.pi)}}
        if isinstance(x, AggState):
            return {
                "__aggstate__": {"mu": self(x.mu), "z": self(x.z), "t": self(x.t), "values": self(x.values)}
            }
        if isinstance(x, dict):
            return {"__dict__": [[self(k), self(v)] for k, v in x.items()]}
        if isinstance(x, tuple):
            return {"__tuple__": [self(v) for v in x]}
        if isinstance(x, list):
            return [self(v) for v in x]
        return {"__unsaved__": type(x).__qualname__}

    def column(self, s: pd.Series | pd.Index) -> dict:
        dtype = s.dtype
        if isinstance(dtype, np.dtype) and dtype.kind in "biufc":
            return {"dtype": str(dtype), "values": self.array(s.to_numpy())}
        return {"dtype": str(dtype), "values": [self(v) for v in s.tolist()]}

    def frame(self, df: pd.DataFrame) -> dict:
        idx = df.index
        if isinstance(idx, pd.RangeIndex):
            index = {"range": [idx.start, idx.stop, idx.step], "name": idx.name}
        else:
            index = {
                "names": [self(n) for n in idx.names],
                "levels": [self.column(idx.get_level_values(i)) for i in range(idx.nlevels)],
            }
        return {
            "columns": [self(c) for c in df.columns],
            "data": [self.column(df.iloc[:, i]) for i in range(df.shape[1])],
            "index": index,
        }


class _Decoder:
    def __init__(self, arrays: list[np.ndarray]):
        self.arrays = arrays

    def __call__(self, x):
        if isinstance(x, list):
            return [self(v) for v in x]
        if not isinstance(x, dict):
            return x
        if "__array__" in x:
            arr = self.arrays[x["__array__"]]
            return arr[()] if x.get("scalar") else arr
        if "__float__" in x:
            return float(x["__float__"])
        if "__frame__" in x:
            return self.frame(x["__frame__"])
        if "__flow__" in x:
            f = x["__flow__"]
            return Flow(self(f["aggs"]), self(f["pi"]))
        if "__aggstate__" in x:
            a = x["__aggstate__"]
            return AggState(self(a["mu"]), self(a["z"]), self(a["t"]), self(a["values"]))
        if "__dict__" in x:
            return {_hashable(self(k)): self(v) for k, v in x["__dict__"]}
        if "__tuple__" in x:
            return tuple(self(v) for v in x["__tuple__"])
        if "__unsaved__" in x:
            return f"<{x['__unsaved__']} not saved>"
        raise SolutionFileError(f"unknown entry in the file's header: {sorted(x)}")

    def column(self, c: dict):
        values = self(c["values"])
        if isinstance(values, np.ndarray):
            return values
        return (
            pd.array(values, dtype=c["dtype"]) if c["dtype"] != "object" else np.array(values, dtype=object)
        )

    def frame(self, f: dict) -> pd.DataFrame:
        ix = f["index"]
        if "range" in ix:
            index = pd.RangeIndex(*ix["range"], name=ix["name"])
        else:
            levels = [self.column(c) for c in ix["levels"]]
            names = [self(n) for n in ix["names"]]
            if len(levels) == 1:
                index = pd.Index(levels[0], name=names[0])
            else:
                index = pd.MultiIndex.from_arrays(levels, names=names)
        columns = [_hashable(self(c)) for c in f["columns"]]
        data = {i: self.column(c) for i, c in enumerate(f["data"])}
        df = pd.DataFrame(data, index=index)
        df.columns = pd.Index(columns) if columns else df.columns
        return df


def _plain(x):
    """A plain JSON rendering for people (the header's seed and options); exactness not needed."""
    if x is None or isinstance(x, bool | int | str):
        return x
    if isinstance(x, float):
        return x if math.isfinite(x) else repr(x)
    if isinstance(x, np.generic | np.ndarray | jax.Array):
        arr = np.asarray(x)
        return (
            _plain(arr.item()) if arr.ndim == 0 else (arr.tolist() if arr.size <= 32 else f"array{arr.shape}")
        )
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    return repr(x)


def _hashable(x):
    return tuple(x) if isinstance(x, list) else x


# --- the model ---------------------------------------------------------------------------------------------
def _class_path(cls) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _readable(value):
    """A human-readable JSON value of a model field (shortest repr that round-trips in its dtype)."""
    arr = np.asarray(value)
    if arr.ndim == 0:
        item = arr.item()
        if isinstance(item, float):
            return float(str(arr.astype(arr.dtype)))
        return item
    return arr.tolist()


def _encode_model(model, enc: _Encoder) -> tuple[dict, dict]:
    calibration, fields = {}, {}
    for f in dataclasses.fields(model):
        value = getattr(model, f.name)
        if eqx.is_array(value):
            calibration[f.name] = _readable(value)
            fields[f.name] = enc.array(value)
        else:
            encoded = enc(value)
            if isinstance(encoded, dict) and "__unsaved__" in encoded:
                raise TypeError(
                    f"{type(model).__name__}.{f.name} holds a {type(value).__name__}, which the file format "
                    "cannot store: model fields must be arrays, numbers, strings, booleans, None or tuples."
                )
            calibration[f.name] = (
                value if isinstance(value, int | float | str | bool | type(None)) else encoded
            )
            fields[f.name] = encoded
    return calibration, fields


def _resolve_class(path: str, model_class):
    module, _, qualname = path.partition(":")
    if model_class is not None:
        if model_class.__qualname__ != qualname:
            raise SolutionFileError(
                f"the file holds a solution of the model class {qualname} ({path}), not "
                f"{model_class.__qualname__} ({_class_path(model_class)}): load it with that class."
            )
        return model_class
    try:
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as err:
        raise SolutionFileError(
            f"the file was written for the model class {path}, which cannot be imported here ({err}). "
            "Pass the class: hetmacro.load(path, model_class=MyModel)."
        ) from err
    return obj


def _decode_model(cls, fields: dict, dec: _Decoder, use64: bool):
    from .model import Model

    if not (isinstance(cls, type) and issubclass(cls, Model)):
        raise SolutionFileError(f"{_class_path(cls)} is not a hetmacro.Model subclass.")
    names = {f.name for f in dataclasses.fields(cls)}
    if set(fields) != names:
        raise SolutionFileError(
            f"the file's model has fields {sorted(fields)} but {cls.__qualname__} has {sorted(names)}: "
            "the class changed since the file was written."
        )
    model = object.__new__(cls)
    with jax.enable_x64(use64):
        for name, value in fields.items():
            decoded = dec(value)
            if isinstance(value, dict) and "__array__" in value:
                decoded = jnp.asarray(decoded)
            object.__setattr__(model, name, decoded)
    return model


# --- save and load -------------------------------------------------------------------------------------------
def _encode_policy(policy, game, enc: _Encoder):
    if policy is None or isinstance(policy, np.ndarray | jax.Array | dict):
        return enc(policy)
    spec = getattr(policy, "spec", None)
    if isinstance(policy, eqx.Module) and callable(spec) and hasattr(type(policy), "from_spec"):
        leaves = [enc.array(x) for x in jax.tree.leaves(eqx.filter(policy, eqx.is_array))]
        return {"__policy__": _class_path(type(policy)), "spec": enc(spec()), "leaves": leaves}
    return {"__unsaved__": type(policy).__qualname__}


def _decode_policy(entry, game, dec: _Decoder):
    if not (isinstance(entry, dict) and "__policy__" in entry):
        decoded = dec(entry)
        return None if isinstance(decoded, str) and decoded.endswith("not saved>") else decoded
    cls = _resolve_class(entry["__policy__"], None)
    skeleton = cls.from_spec(game, **dec(entry["spec"]))
    params, static = eqx.partition(skeleton, eqx.is_array)
    leaves, treedef = jax.tree.flatten(params)
    saved = [jnp.asarray(dec(x)) for x in entry["leaves"]]
    if len(saved) != len(leaves):
        raise SolutionFileError(
            f"the saved {cls.__qualname__} has {len(saved)} arrays, the rebuilt one {len(leaves)}."
        )
    return eqx.combine(jax.tree.unflatten(treedef, saved), static)


def save(sol, path) -> Path:
    """Write ``sol`` to ``path`` (conventionally ``*.hmx``): a JSON header line, then the arrays.

    Raises:
        TypeError: a model field cannot be stored (see the module docstring).
    """
    from . import __version__

    enc = _Encoder()
    calibration, fields = _encode_model(sol.model, enc)
    game = sol.game
    info = sol.info if isinstance(sol.info, dict) else {}
    body = {
        "method": sol.method,
        "game_dtype": None if game is None else str(jnp.dtype(game.dtype)),
        "policy": _encode_policy(sol.policy, game, enc),
        "flows": enc(sol.flows),
        "values": enc(sol.values),
        "exploitability": enc(sol.exploitability),
        "exploitability_kind": sol.exploitability_kind,
        "aggregates": enc(sol.aggregates),
        "history": enc(sol.history_frame),
        "timings": enc(sol.timings),
        "info": enc(info),
        "model_fields": fields,
    }
    payload = _io.BytesIO()
    eqx.tree_serialise_leaves(payload, enc.arrays)
    data = payload.getvalue()
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "hetmacro_version": __version__,
        "jax_version": jax.__version__,
        "model_class": _class_path(type(sol.model)),
        "calibration": calibration,
        "method": sol.method,
        "seed": _plain(info.get("seed")),
        "options": _plain(info.get("options", {k: v for k, v in info.items() if np.ndim(v) == 0})),
        "solution": body,
        "arrays": [{"shape": list(a.shape), "dtype": a.dtype.str} for a in enc.arrays],
        "payload_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(json.dumps(header, allow_nan=False).encode("utf-8") + b"\n")
        f.write(data)
    return path


def read_header(path) -> dict:
    """The JSON header of a ``.hmx`` file (model class, calibration, versions, method, ...)."""
    with open(path, "rb") as f:
        return _read_header(f, path)


def _read_header(f, path) -> dict:
    line = f.readline(_MAX_HEADER)
    try:
        header = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SolutionFileError(
            f"{path} is not a hetmacro Solution file (its first line is not a JSON header): {err}."
        ) from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise SolutionFileError(f"{path} is not a hetmacro Solution file (format {header.get('format')!r}).")
    if header.get("format_version", 0) > FORMAT_VERSION:
        raise SolutionFileError(
            f"{path} has format version {header['format_version']}, newer than this hetmacro reads "
            f"({FORMAT_VERSION}): upgrade hetmacro."
        )
    return header


def load(path, model_class=None):
    """Read a Solution written by :func:`save`.

    Args:
        path: the file.
        model_class: the model's class, required when it cannot be imported by name (a class defined
            in a notebook or script); when given it must be the file's class.

    Raises:
        SolutionFileError: not a Solution file, corrupt or truncated (checksum), or a different model
            class than ``model_class``.
    """
    from .game import compile
    from .solution import Solution

    with open(path, "rb") as f:
        header = _read_header(f, path)
        data = f.read()
    if len(data) != header["payload_bytes"] or hashlib.sha256(data).hexdigest() != header["sha256"]:
        raise SolutionFileError(
            f"{path} is corrupt: its array section ({len(data)} bytes) does not match the checksum in its "
            f"header ({header['payload_bytes']} bytes): the file was truncated or modified."
        )
    cls = _resolve_class(header["model_class"], model_class)
    likes = [np.broadcast_to(np.zeros((), np.dtype(a["dtype"])), tuple(a["shape"])) for a in header["arrays"]]
    try:
        arrays = eqx.tree_deserialise_leaves(_io.BytesIO(data), likes)
    except Exception as err:  # a malformed record despite the checksum: say so
        raise SolutionFileError(f"{path}: cannot read its arrays ({err}).") from err
    for k, (a, spec) in enumerate(zip(arrays, header["arrays"])):
        if list(a.shape) != spec["shape"] or a.dtype.str != spec["dtype"]:
            raise SolutionFileError(
                f"{path} is corrupt: array {k} has {a.shape} {a.dtype}, header says {spec}."
            )
    dec = _Decoder(arrays)
    body = header["solution"]
    game_dtype = body["game_dtype"]
    # Model parameters come back in their saved dtypes (float64 ones need x64 while they are made).
    use64 = any(
        isinstance(e, dict) and "__array__" in e and arrays[e["__array__"]].dtype.itemsize == 8
        for e in body["model_fields"].values()
    )
    model = _decode_model(cls, body["model_fields"], dec, use64)
    game = None
    if game_dtype is not None:
        with jax.enable_x64(game_dtype == "float64"):
            game = compile(model, dtype=jnp.dtype(game_dtype))
    sol = Solution(
        method=body["method"],
        model=model,
        game=game,
        policy=_decode_policy(body["policy"], game, dec),
        flows=dec(body["flows"]),
        values=dec(body["values"]),
        exploitability=dec(body["exploitability"]),
        exploitability_kind=body["exploitability_kind"],
        aggregates=dec(body["aggregates"]),
        history=dec(body["history"]),
        timings=dec(body["timings"]),
        info=dec(body["info"]),
    )
    sol.info["loaded_from"] = str(path)
    return sol


# --- export ----------------------------------------------------------------------------------------------------
def _default_irf(sol):
    """The IRF to a one-s.d. (else 0.01) shock of each continuous common-noise component, or None."""
    from . import report

    game = sol.game
    if game is None or sol.flows is None:
        return {}
    out = {}
    for name, proc in report.noise_components(game.noise).items():
        sigma = getattr(proc, "sigma", None)
        if sigma is None or not hasattr(proc, "rho"):
            continue
        size = float(sigma) if float(sigma) > 0 else 0.01
        try:
            out[name] = sol.irf(shock=name, size=size)
        except NotImplementedError:
            return {}
    return out


def tables(sol, irf: bool = True) -> dict:
    """Every table of a Solution: {name: DataFrame}.

    ``summary``, ``paths``, ``paths_summary``, ``policy_t0`` (the first date, path 0),
    ``distribution_t<first>``, ``distribution_t<last>`` and ``lorenz_t<last>`` (dates of the flows,
    0 and T for most solvers), ``inequality`` (the first and last dates, every path),
    ``history``, and ``irf_<component>`` for each AR(1) common-noise component (one s.d. shock; 0.01
    when the s.d. is 0) when ``irf`` is True and the policy can be re-simulated.
    """
    out = {"summary": sol.summary(), "paths": sol.paths(), "paths_summary": sol.paths(summary=True)}
    try:
        out["policy_t0"] = sol.policy_table(t=0 if sol.flows is None else -sol.horizon)
    except (ValueError, IndexError):
        pass
    first = sol.distribution(t=0 if sol.flows is None else -(sol.horizon + 1))
    out[f"distribution_t{first.attrs['t']}"] = first
    ineq = {first.attrs["t"]: sol.inequality(t=first.attrs["t"])}
    if sol.horizon:
        last = sol.distribution(t=-1)
        out[f"distribution_t{last.attrs['t']}"] = last
        ineq[last.attrs["t"]] = sol.inequality(t=-1)
    try:
        frame = pd.concat(ineq, names=["t"])
        dates = sorted(ineq)
        desc = next(iter(ineq.values())).attrs["description"]
        frame.attrs = dict(next(iter(ineq.values())).attrs, t=dates, description=desc.split(" at date")[0])
        out["inequality"] = frame
        lor = sol.lorenz(t=-1)
        out[f"lorenz_t{lor.attrs['t']}"] = lor
    except ValueError:
        pass
    history = sol.history()
    if not history.empty:
        out["history"] = history
    if irf:
        for name, frame in _default_irf(sol).items():
            out[f"irf_{name}"] = frame
    return out


def _readme(tabs: dict, sol) -> str:
    lines = [
        f"hetmacro tables: model {type(sol.model).__name__}, method {sol.method}",
        "",
        "Each CSV has its index columns first. Units and meaning:",
        "",
    ]
    for name, frame in tabs.items():
        idx = ", ".join(str(n) for n in frame.index.names if n is not None) or "row number"
        lines.append(f"{name}: index ({idx}); {frame.attrs.get('description', '')}")
        units = frame.attrs.get("units")
        if isinstance(units, dict):
            units = "; ".join(f"{k}: {v}" for k, v in units.items())
        if units:
            lines.append(f"    units: {units}")
    return "\n".join(lines) + "\n"


def to_csv(sol, folder, irf: bool = True, tables: dict | None = None) -> list[Path]:
    """Write every table of :func:`tables` as ``<folder>/<name>.csv`` plus a ``README.txt`` of units.

    ``tables``: tables already computed with :func:`tables` (to write them without recomputing).
    Returns the paths written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tabs = globals()["tables"](sol, irf=irf) if tables is None else tables
    written = []
    for name, frame in tabs.items():
        p = folder / f"{name}.csv"
        frame.to_csv(p)
        written.append(p)
    readme = folder / "README.txt"
    readme.write_text(_readme(tabs, sol))
    written.append(readme)
    return written


def to_excel(sol, path, irf: bool = True) -> Path:
    """Write every table of :func:`tables` as one sheet of an Excel workbook, plus a README sheet.

    Raises:
        ImportError: openpyxl is not installed (``pip install openpyxl``; or use :func:`to_csv`).
    """
    try:
        import openpyxl  # noqa: F401
    except ImportError as err:
        raise ImportError(
            "to_excel needs openpyxl, which is not installed: pip install openpyxl (or write CSV files "
            "with sol.to_csv(folder))."
        ) from err
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tabs = tables(sol, irf=irf)
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        readme = pd.DataFrame({"README": _readme(tabs, sol).splitlines()})
        readme.to_excel(writer, sheet_name="README", index=False)
        for name, frame in tabs.items():
            frame.to_excel(writer, sheet_name=name[:31])
    return path
