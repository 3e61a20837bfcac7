"""The ``.hmx`` file format: write a Solution to a file and read it back.

**The ``.hmx`` format** (no pickle anywhere). Line 1 is a JSON object (UTF-8, one line) that a person
can read with ``head -1 file.hmx``:

- ``format`` ("hetmacro-solution"), ``format_version``, ``hetmacro_version``, ``jax_version``;
- ``model_class`` ("module:QualName"), ``calibration`` (every field of the model: the parameter
  values and the static settings), ``method``, ``seed``, ``options``;
- the Solution's scalar fields (exploitability and its kind, aggregates, timings), its typed result
  (:mod:`hetmacro.results`) and solver configuration (:mod:`hetmacro.solvers`), and a
  description of every array that follows (``arrays``: shape and dtype), the byte length of the array
  section, and ``sha256``: the SHA-256 of the canonical JSON of every other header field (sorted keys,
  no spaces) followed by a newline and the array section. Any edit of the header or the arrays is
  a :class:`SolutionFileError` on reading (the checksum guards against accidents and careless edits;
  it is not a signature: whoever rewrites the file can also rewrite the checksum).

The rest of the file is the arrays, written with :func:`equinox.tree_serialise_leaves` (numpy's
``.npy`` records, read back with ``allow_pickle=False``): the model's array parameters, the flows,
the policy table, the values, the stationary distribution, the history's columns. Arrays come back
with their bytes unchanged, the model is rebuilt from its class and the saved parameters, and the game
is recompiled in the saved precision, so every table of a reloaded Solution equals the original's bit
for bit. A network policy (RSPG) is saved when it is an equinox Module whose class can be rebuilt with
``type(policy).from_spec(game, **spec)`` from a JSON ``spec()``; otherwise the file says it was not
saved and the reloaded Solution has no policy (tables work, re-simulation does not).

**Nothing in a file runs code.** Reading never imports a module named in a file: the model class is
looked up in an allow-list, the shipped models (:mod:`hetmacro.models`) and the classes registered
with :func:`register_model` or passed as ``hetmacro.load(path, model_class=MyModel)``; a saved policy's
class in the toolkit's own policy classes; typed results and solver configurations in theirs.

:func:`save` writes a file, :func:`read_header` reads its JSON header alone, and :func:`read` checks
and decodes a whole file into the keyword arguments of :class:`~hetmacro.Solution`, which
:meth:`hetmacro.Solution.load` (``hetmacro.load``) turns into a Solution. This module does not import
:mod:`hetmacro.solution`.
"""

from __future__ import annotations

import dataclasses
import hashlib
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

__all__ = ["FORMAT", "FORMAT_VERSION", "SolutionFileError", "read", "read_header", "register_model", "save"]

FORMAT = "hetmacro-solution"
FORMAT_VERSION = 2  # 2: the checksum covers the header too
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
        from .mfg.starts import Starts

        if isinstance(x, Starts):
            return {
                "__starts__": {"mu": self(x.mu), "z": self(x.z), "history": self(x.history), "kind": x.kind}
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
        if "__starts__" in x:
            from .mfg.starts import Starts

            st = x["__starts__"]
            return Starts(self(st["mu"]), self(st["z"]), self(st["history"]), st["kind"])
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


_REGISTERED: dict[str, type] = {}


def register_model(cls: type) -> type:
    """Allow ``hetmacro.load`` to rebuild models of class ``cls`` from a file without being passed it.

    Reading a file never imports the module it names; a model class must be shipped
    (:mod:`hetmacro.models`), registered here, or passed as ``hetmacro.load(path, model_class=cls)``.
    Usable as a class decorator. Returns ``cls``.
    """
    from .model import Model

    if not (isinstance(cls, type) and issubclass(cls, Model)):
        raise TypeError(f"register_model takes a hetmacro.Model subclass, got {cls!r}.")
    _REGISTERED[_class_path(cls)] = cls
    return cls


def _allowed_models() -> dict:
    from . import models
    from .model import Model

    shipped = (getattr(models, n) for n in models.__all__)
    out = {_class_path(c): c for c in shipped if isinstance(c, type) and issubclass(c, Model)}
    return {**out, **_REGISTERED}


def _allowed_policies() -> dict:
    from .mfg.policies import NetworkPolicy
    from .savings.rules import GamePolicy

    return {_class_path(c): c for c in (NetworkPolicy, GamePolicy)}


def _resolve_class(path: str, model_class, allowed: dict, what: str = "model class"):
    """The class a file names, from an allow-list (never by importing the name)."""
    qualname = path.partition(":")[2]
    if model_class is not None:
        if model_class.__qualname__ != qualname:
            raise SolutionFileError(
                f"the file holds a solution of the model class {qualname} ({path}), not "
                f"{model_class.__qualname__} ({_class_path(model_class)}): load it with that class."
            )
        return model_class
    if path not in allowed:
        raise SolutionFileError(
            f"the file names the {what} {path!r}, which is not one this hetmacro rebuilds from a file "
            f"(files never import the modules they name). Pass the class: hetmacro.load(path, "
            "model_class=MyModel), or register it once with hetmacro.register_model(MyModel)."
            if what == "model class"
            else f"the file names the {what} {path!r}; known: {sorted(allowed)}."
        )
    return allowed[path]


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


# --- save and read -------------------------------------------------------------------------------------------
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
    cls = _resolve_class(entry["__policy__"], None, _allowed_policies(), "policy class")
    skeleton = cls.from_spec(game, **dec(entry["spec"]))
    params, static = eqx.partition(skeleton, eqx.is_array)
    leaves, treedef = jax.tree.flatten(params)
    saved = [jnp.asarray(dec(x)) for x in entry["leaves"]]
    if len(saved) != len(leaves):
        raise SolutionFileError(
            f"the saved {cls.__qualname__} has {len(saved)} arrays, the rebuilt one {len(leaves)}."
        )
    return eqx.combine(jax.tree.unflatten(treedef, saved), static)


def _typed_classes(tag: str) -> dict:
    if tag == "__result__":
        from .results import RESULT_TYPES

        return RESULT_TYPES
    from .solvers import SOLVER_TYPES

    return SOLVER_TYPES


def _encode_typed(obj, enc: _Encoder, tag: str):
    """A typed result or solver configuration: its class name (from an allow-list) and its fields.
    Transient result fields, and options that cannot be stored (a callback), are left out."""
    if obj is None:
        return None
    if type(obj).__name__ not in _typed_classes(tag):
        return {"__unsaved__": type(obj).__qualname__}
    fields = {}
    for f in dataclasses.fields(obj):
        if f.metadata.get("transient"):
            continue
        value = getattr(obj, f.name)
        if tag == "__solver__" and type(value).__name__ in _typed_classes(tag):
            fields[f.name] = _encode_typed(value, enc, tag)
            continue
        encoded = enc(value)
        if isinstance(encoded, dict) and "__unsaved__" in encoded:
            continue
        fields[f.name] = encoded
    return {tag: type(obj).__name__, "fields": fields}


def _decode_typed(entry, dec: _Decoder, tag: str):
    if entry is None or (isinstance(entry, dict) and "__unsaved__" in entry):
        return None
    classes = _typed_classes(tag)
    name = entry.get(tag) if isinstance(entry, dict) else None
    if name not in classes:
        raise SolutionFileError(
            f"the file names an unknown {tag.strip('_')} type {name!r}; known: {sorted(classes)}."
        )
    cls = classes[name]
    known = {f.name for f in dataclasses.fields(cls)}
    values = {}
    for k, v in entry["fields"].items():
        if k not in known:
            raise SolutionFileError(f"the file's {name} has a field {k!r} that {name} does not have.")
        values[k] = _decode_typed(v, dec, tag) if isinstance(v, dict) and tag in v else dec(v)
    return cls(**values)


def save(sol, path) -> Path:
    """Write ``sol`` to ``path`` (conventionally ``*.hmx``): a JSON header line, then the arrays.

    Raises:
        TypeError: a model field cannot be stored (see the module docstring).
    """
    from . import __version__

    enc = _Encoder()
    calibration, fields = _encode_model(sol.model, enc)
    game = sol.game
    options = sol.solver.options() if sol.solver is not None else {}
    body = {
        "method": sol.method,
        "game_dtype": None if game is None else str(jnp.dtype(game.dtype)),
        # the value after a truncated infinite horizon (Game.with_continuation), which the game's
        # exploitability and best responses use: recompiling the model alone would lose it
        "continuation": None if game is None else enc(game.continuation),
        "policy": _encode_policy(sol.policy, game, enc),
        "flows": enc(sol.flows),
        "values": enc(sol.values),
        "exploitability": enc(sol.exploitability),
        "exploitability_kind": sol.exploitability_kind,
        "aggregates": enc(sol.aggregates),
        "history": enc(sol.history_frame),
        "timings": enc(sol.timings),
        "stationary": enc(sol.stationary),
        "result": _encode_typed(sol.result, enc, "__result__"),
        "solver": _encode_typed(sol.solver, enc, "__solver__"),
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
        "seed": _plain(options.get("seed")),
        "options": _plain({k: v for k, v in options.items() if not callable(v)}),
        "solution": body,
        "arrays": [{"shape": list(a.shape), "dtype": a.dtype.str} for a in enc.arrays],
        "payload_bytes": len(data),
    }
    header["sha256"] = _digest(header, data)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(json.dumps(header, allow_nan=False).encode("utf-8") + b"\n")
        f.write(data)
    return path


def _digest(header: dict, data: bytes) -> str:
    """SHA-256 of the header's canonical JSON (every field but ``sha256``), a newline and the arrays."""
    fields = {k: v for k, v in header.items() if k != "sha256"}
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8") + b"\n" + data).hexdigest()


def read_header(path) -> dict:
    """The JSON header of a ``.hmx`` file (model class, calibration, versions, method, ...), checked
    against the file's checksum (the whole file is read).

    Raises:
        SolutionFileError: not a Solution file, or its header or arrays were modified or truncated.
    """
    return _read_checked(path)[0]


def _read_checked(path) -> tuple[dict, bytes]:
    with open(path, "rb") as f:
        header = _read_header(f, path)
        data = f.read()
    if not isinstance(header.get("sha256"), str) or header["sha256"] != _digest(header, data):
        raise SolutionFileError(
            f"{path} is corrupt: its header and arrays ({len(data)} bytes) do not match the checksum in its "
            "header: the file was truncated or modified after it was written."
        )
    if len(data) != header.get("payload_bytes"):
        raise SolutionFileError(
            f"{path} is corrupt: {len(data)} bytes of arrays, header says {header.get('payload_bytes')}."
        )
    return header, data


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
    version = header.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise SolutionFileError(
            f"{path} has format version {version!r}, newer than this hetmacro reads ({FORMAT_VERSION}): "
            "upgrade hetmacro."
        )
    if version < FORMAT_VERSION:
        raise SolutionFileError(
            f"{path} has format version {version}, whose checksum does not cover its header: edits to it "
            "could not be detected. Solve the model again and save it with this hetmacro."
        )
    return header


def read(path, model_class=None) -> dict:
    """Read and check a Solution file written by :func:`save`: the keyword arguments of ``Solution(...)``.

    Returns {method, model, game, policy, flows, values, exploitability, exploitability_kind,
    aggregates, history, timings, stationary, result, solver}: the model rebuilt from its class and saved parameters, the
    game recompiled in the saved precision (None if the Solution had none), everything else decoded
    from the header and the arrays. :meth:`hetmacro.Solution.load` builds the Solution from them.

    Args:
        path: the file.
        model_class: the model's class, required unless it is shipped or registered with
            :func:`register_model`; when given it must be the file's class.

    Raises:
        SolutionFileError: not a Solution file; corrupt, truncated or edited (checksum over header and
            arrays); a model class that is neither shipped, registered nor given; or a different model
            class than ``model_class``.
    """
    from .game import compile

    header, data = _read_checked(path)
    cls = _resolve_class(header["model_class"], model_class, _allowed_models())
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
            continuation = dec(body.get("continuation"))  # absent from files written before it was kept
            if continuation is not None:
                game = game.with_continuation(continuation)
    return {
        "method": body["method"],
        "model": model,
        "game": game,
        "policy": _decode_policy(body["policy"], game, dec),
        "flows": dec(body["flows"]),
        "values": dec(body["values"]),
        "exploitability": dec(body["exploitability"]),
        "exploitability_kind": body["exploitability_kind"],
        "aggregates": dec(body["aggregates"]),
        "history": dec(body["history"]),
        "timings": dec(body["timings"]),
        "stationary": dec(body["stationary"]),
        "result": _decode_typed(body["result"], dec, "__result__"),
        "solver": _decode_typed(body["solver"], dec, "__solver__"),
    }
