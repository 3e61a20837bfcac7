"""Command line: ``hetmacro solve MODEL ...``, ``hetmacro list`` and ``hetmacro show FILE``.

``hetmacro solve`` (also what ``hetmacro`` alone runs) solves a shipped model, prints a short summary
table and writes into ``--out`` (default ``out/``): every table as CSV with a README of units
(:func:`hetmacro.export.to_csv`), the figures as PNG (:mod:`hetmacro.plot`), the Solution itself
(``solution.hmx``, reload it with ``hetmacro.load``) and ``run.json`` (the command, settings, options,
version and times of the run). The folder is written beside its target and moved into place when
complete; a non-empty ``--out`` is refused unless ``--overwrite`` replaces it whole. ``--set`` and
``--option`` values are checked against the model's fields and the method's options before anything
is compiled. With no arguments it solves the Beach Bar game (bar at cell 50, no closure) by exact DP:
about 10 seconds on a laptop CPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import os
import re
import shutil
import sys
import tempfile
import time
import tomllib
import types
import typing
from datetime import UTC, datetime
from pathlib import Path

from .model import load_calibration, shipped_calibrations
from .solvers import METHODS, solve

DEFAULT_MODEL = "krusell_smith"
#: The method each model is solved by when --method is not given.
DEFAULT_METHOD = {"krusell_smith": "rspg", "aiyagari": "stationary", "beach_bar": "dp", "lq": "dp"}
# Settings applied when solving a model by a method without --calibration (DP needs no common noise).
DEFAULT_SETTINGS = {
    ("beach_bar", "dp"): {"closure": False, "bar": 50},
    ("lq", "dp"): {"aggregate_risk": False},
    ("krusell_smith", "rspg"): {"grid_kind": "geometric", "n_a": 100},
}
#: The calibration used when none is given (the flagship: SSJ's Krusell-Smith calibration, AR(1) TFP).
DEFAULT_CALIBRATION = {("krusell_smith", "rspg"): "krusell_smith_1998:ssj"}
#: Solver options used unless --option sets them (the main job: under 3 minutes on 2 CPU cores). The
#: network starts from a fit to the linear rule and trains on 80 quarters. Its exploitability and level
#: of capital match the linear rule's economy; its IRFs of K, C and r differ from the linear ones by
#: 2-25% of their peaks, depending on the seed (docs/rspg.md §10).
DEFAULT_OPTIONS = {
    ("krusell_smith", "rspg"): {
        "horizon": 80,
        "iterations": 100,
        "init_policy": "linear",
        "ergodic_policy": "linear",
        "init_steps": 200,
        "eval_paths": 8,
        "keep_paths": 4,
    }
}
_TYPE_WORDS = {
    bool: "true or false",
    int: "an integer",
    float: "a number",
    str: "a string",
    dict: "a table {key = value}",
    list: "a list [...]",
    type(None): "none",
}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower().replace("linear_quadratic", "lq")


def _plain(text: str) -> str:
    """reST ``literal`` and :role:`target` markup rendered as plain text."""
    return re.sub(r":\w+:`~?([^`]+)`", r"\1", text).replace("``", "")


def shipped_models() -> dict:
    """{command-line name: model class} for every model in ``hetmacro.models``."""
    from . import models
    from .model import Model

    classes = (getattr(models, n) for n in models.__all__)
    return {_snake(c.__name__): c for c in classes if isinstance(c, type) and issubclass(c, Model)}


def describe_model(cls) -> str:
    """One line on a model: its class docstring's first line, or, where that only points to the module
    docstring, the module docstring's first paragraph."""
    line = (cls.__doc__ or "").strip().split("\n\n")[0]
    if not line or "module docstring" in line:
        line = (sys.modules[cls.__module__].__doc__ or "").strip().split("\n\n")[0]
    return _plain(" ".join(line.split()))


def _parse_value(text: str):
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # a bare word is a string


def _parse_settings(pairs: list[str], flag: str = "--set") -> list[tuple[str, str, object]]:
    """``KEY=VALUE`` pairs as (label for messages, key, TOML value)."""
    out = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"{flag} expects key=value, got {pair!r}")
        out.append((f"{flag} {pair}", key.strip(), _parse_value(value.strip())))
    return out


def _allowed(hint) -> tuple:
    """The types an annotation admits; () when it admits anything (object, Any, unresolved)."""
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        members = typing.get_args(hint)
    else:
        members = (hint,)
    members = tuple(typing.get_origin(m) or m for m in members)  # dict[str, float] -> dict
    if any(m is object or m is typing.Any or not isinstance(m, type) for m in members):
        return ()
    return members


def _fit(value, allowed: tuple):
    """``value`` as one of the ``allowed`` types (an int is a number; "none" is None where None is
    allowed); raises ValueError saying what is allowed."""
    if not allowed:
        return value
    if type(None) in allowed and isinstance(value, str) and value.lower() == "none":
        return None
    for t in allowed:
        if t is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if t is int and isinstance(value, bool):
            continue
        if isinstance(value, t):
            return value
    raise ValueError(" or ".join(_TYPE_WORDS.get(t, f"a {t.__name__} (Python only)") for t in allowed))


def check_fields(cls, items: list[tuple[str, str, object]], what: str = "field") -> dict:
    """{key: value} from (label, key, value) items, each checked against the fields of the dataclass
    ``cls``: the key must be one of its fields and the value fit the field's annotation. A mismatch
    raises SystemExit naming the label, the field and what it takes."""
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # an annotation that does not resolve admits anything
        hints = {}
    out = {}
    for label, key, value in items:
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise SystemExit(
                f"{label}: {cls.__name__} has no {what} {key!r}{hint}; {what}s: {', '.join(sorted(fields))}"
            )
        try:
            out[key] = _fit(value, _allowed(hints.get(key)))
        except ValueError as err:
            raise SystemExit(f"{label}: {key} is {err}; got {value!r}") from None
    return out


def _cmd_list(_args) -> int:
    print("models:")
    for name, cls in shipped_models().items():
        print(f"  {name:<16} {describe_model(cls)}")
    print("calibrations:")
    for name in shipped_calibrations():
        print(f"  {name}")
    print("methods:")
    for name, cls in METHODS.items():
        print(f"  {name:<16} {_plain(cls.describe())}")
    return 0


def write_figures(sol, out: Path, irf_frames: dict | None = None) -> list[Path]:
    """Write the Solution's figures as PNG into ``out``; a figure that does not apply is skipped."""
    from . import plot

    figures = {
        "paths": lambda: plot.paths(sol),
        "policy": lambda: plot.policy(sol),
        "distribution": lambda: plot.distribution(sol, t=-1),
        "history": lambda: plot.history(sol),
    }
    for name, frame in (irf_frames or {}).items():
        figures[name] = lambda frame=frame: plot.irf(frame=frame)
    written = []
    for name, make in figures.items():
        try:
            fig = make()
        except (ValueError, KeyError, IndexError, NotImplementedError) as err:
            print(f"  (no {name} figure: {err})")
            continue
        path = out / f"{name}.png"
        fig.savefig(path, dpi=110)
        written.append(path)
    return written


def _check_out(out: Path, overwrite: bool) -> None:
    """Refuse an ``--out`` that is a file, a non-empty folder (without ``overwrite``), the current folder
    or one above it, or one whose nearest existing ancestor is a file or not writable."""
    if out.exists() and not out.is_dir():
        raise SystemExit(f"--out {out}: is a file, not a folder")
    if out.resolve() in (Path.cwd().resolve(), *Path.cwd().resolve().parents):
        raise SystemExit(f"--out {out}: is the current folder or one above it; name a folder of its own")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise SystemExit(
            f"--out {out}: the folder exists and is not empty; pass --overwrite to replace it whole "
            "or name another folder"
        )
    ancestor = out.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise SystemExit(f"--out {out}: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise SystemExit(f"--out {out}: cannot write in {ancestor} (permission denied)")


def _staging(out: Path) -> tuple[Path, list[Path]]:
    """A fresh folder beside ``out`` to write the run into, and the missing parents created for it."""
    parent = out.absolute().parent
    created = [p for p in (parent, *parent.parents) if not p.exists()]
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=parent))
    except OSError as err:
        _remove_empty(created)
        raise SystemExit(f"--out {out}: cannot create a folder in {parent}: {err.strerror or err}") from None
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp's 0700 would otherwise become the output folder's mode
    return tmp, created


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders (deepest first) this run created, stopping at the first that is not empty."""
    for folder in folders:  # deepest first
        try:
            folder.rmdir()
        except OSError:
            break


def _publish(tmp: Path, out: Path) -> None:
    """Move the complete folder ``tmp`` to ``out``, replacing an existing ``out`` whole."""
    if not out.exists():
        os.replace(tmp, out)
        return
    trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=tmp.parent))
    os.replace(out, trash / "old")
    try:
        os.replace(tmp, out)
    except BaseException:
        os.replace(trash / "old", out)  # put the earlier run back
        trash.rmdir()
        raise
    shutil.rmtree(trash, ignore_errors=True)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def flagship_tables(sol) -> dict:
    """For an economy with an AR(1) TFP shock solved by a method that re-simulates its policy (rspg, spg,
    ks): the paths of consumption, the interest rate and the wage, and the IRF to a 1% TFP shock beside
    the linear solution's (``method="linear"`` on the same model). Printed and returned as tables."""
    import numpy as np
    import pandas as pd

    from . import solve as hm_solve
    from .noise import AR1

    if sol.method not in ("rspg", "spg", "ks") or not isinstance(sol.game.noise, AR1) or sol.flows is None:
        return {}
    paths = sol.paths()
    cols = [c for c in ("C", "r", "w", "K", "Y") if c in paths.columns]
    mean = paths[cols].groupby(level="t").mean()
    shown = mean.iloc[np.unique(np.linspace(0, len(mean) - 1, 9).astype(int))]
    print("\nmean paths over the evaluation paths (C, K, Y, w in model units; r per period):")
    print(shown.to_string(float_format=lambda x: f"{x:.5f}"))
    print("\nimpulse response to a 1% TFP shock (log TFP +0.01, then its own persistence):", flush=True)
    lin = hm_solve(sol.model, method="linear", horizon=40)
    own = sol.irf("z", 0.01, horizon=min(40, (sol.horizon or 41) - 1), paths=16, se=True)
    series = [
        c for c in ("C (%)", "K (%)", "r (pp)", "w (%)") if c in own.columns and c in lin.result.irf.columns
    ]
    both = pd.concat({sol.method: own[series], "linear": lin.result.irf[series].iloc[: len(own)]}, axis=1)
    both.attrs.update(own.attrs)
    both.attrs["description"] = f"IRF to a 1% TFP shock: {sol.method} (from its evaluation starts) and linear"
    print(
        both.iloc[[h for h in (0, 1, 2, 4, 8, 12, 20, 30, 39) if h < len(both)]].to_string(
            float_format=lambda x: f"{x:.4f}"
        )
    )
    mean.attrs.update(
        {"description": "mean over evaluation paths by date", "units": "model units; r per period"}
    )
    return {"paths_mean": mean, "irf_comparison": both}


def _comparison_figure(frame, path: Path) -> list[Path]:
    """One panel per series, one line per method (the IRF comparison of :func:`flagship_tables`)."""
    from matplotlib.figure import Figure

    methods = list(dict.fromkeys(frame.columns.get_level_values(0)))
    series = list(dict.fromkeys(frame.columns.get_level_values(1)))
    fig = Figure(figsize=(3.2 * len(series), 3.0), layout="constrained")
    for ax, col in zip(fig.subplots(1, len(series)), series):
        for m, style in zip(methods, ("-", "--", ":")):
            ax.plot(frame.index, frame[(m, col)], style, label=m)
        ax.axhline(0, color="0.8", lw=0.8)
        ax.set_title(col)
        ax.set_xlabel("quarters since the shock")
    fig.axes[0].legend(fontsize=8)
    fig.suptitle("Response to a 1% TFP shock")
    fig.savefig(path, dpi=110)
    return [path]


def _cmd_solve(args) -> int:
    from . import __version__, export, hmx

    models = shipped_models()
    if args.model not in models:
        raise SystemExit(f"unknown model {args.model!r}; shipped models: {sorted(models)}")
    cls = models[args.model]
    args.method = args.method or DEFAULT_METHOD.get(args.model, "dp")
    settings = {} if args.calibration else dict(DEFAULT_SETTINGS.get((args.model, args.method), {}))
    args.calibration = args.calibration or DEFAULT_CALIBRATION.get((args.model, args.method))
    settings.update(check_fields(cls, _parse_settings(args.set)))
    if args.calibration:
        try:
            values = load_calibration(args.calibration)
        except (OSError, KeyError, ValueError) as err:
            reason = err.args[0] if isinstance(err, KeyError) else err  # a KeyError's str() is quoted
            raise SystemExit(f"--calibration {args.calibration}: {reason}") from None
        check_fields(cls, [(f"--calibration {args.calibration}", k, v) for k, v in values.items()])
    options = dict(DEFAULT_OPTIONS.get((args.model, args.method), {}))
    options.update(check_fields(METHODS[args.method], _parse_settings(args.option, "--option"), "option"))
    if args.verbose:
        options.setdefault("verbose", True)
    try:
        model = cls.from_calibration(args.calibration, **settings) if args.calibration else cls(**settings)
    except (ValueError, TypeError) as err:
        raise SystemExit(str(err)) from None
    try:
        config = METHODS[args.method](**options)
    except (ValueError, TypeError) as err:
        raise SystemExit(f"--option: {err}") from None
    out = Path(args.out)
    _check_out(out, args.overwrite)
    started = _now()
    tmp, created = _staging(out)
    try:
        described = ", ".join(f"{k}={v}" for k, v in settings.items())
        print(f"solving {cls.__name__}({described}) by {args.method} ...", flush=True)
        t0 = time.perf_counter()
        sol = solve(model, config)
        print(sol.summary().to_string())
        tables = export.tables(sol)
        tables.update(flagship_tables(sol))
        export.to_csv(sol, tmp, tables=tables)
        n_figures = 0
        if not args.no_figures:
            irfs = {k: v for k, v in tables.items() if k.startswith("irf_") and k != "irf_comparison"}
            n_figures = len(write_figures(sol, tmp, irfs))
            if "irf_comparison" in tables:
                n_figures += len(_comparison_figure(tables["irf_comparison"], tmp / "irf_comparison.png"))
        hmx.save(sol, tmp / "solution.hmx")
        run = {
            "argv": ["hetmacro", *args.argv],
            "model": args.model,
            "model_class": f"{cls.__module__}:{cls.__qualname__}",
            "calibration": args.calibration,
            "method": args.method,
            "settings": settings,
            "options": options,
            "solver": config.options(),
            "hetmacro_version": __version__,
            "started_utc": started,
            "finished_utc": _now(),
        }
        (tmp / "run.json").write_text(json.dumps(run, indent=2, default=repr) + "\n")
        _publish(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_empty(created)
        raise
    print(
        f"wrote {len(tables)} tables (CSV), {n_figures} figures (PNG) and solution.hmx to {out}/ "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    return 0


def _cmd_show(args) -> int:
    from . import load
    from .hmx import read_header

    header = read_header(args.file)
    print(
        f"{args.file}: {header['model_class']} solved by {header['method']} (hetmacro {header['hetmacro_version']})"
    )
    print("calibration: " + ", ".join(f"{k}={v}" for k, v in header["calibration"].items()))
    sol = load(args.file)
    print(sol.summary().to_string())
    return 0


def main(argv: list[str] | None = None) -> int:
    first, _, rest = _plain(__doc__ or "hetmacro: solve a shipped model").partition("\n\n")
    parser = argparse.ArgumentParser(
        prog="hetmacro", description=first, epilog=rest, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command")
    p_solve = sub.add_parser("solve", help="solve a shipped model and write its tables and figures")
    p_solve.add_argument("model", nargs="?", default=DEFAULT_MODEL, help="model name (see 'hetmacro list')")
    p_solve.add_argument("--calibration", help="shipped calibration name or path to a .toml file")
    p_solve.add_argument(
        "--method",
        default=None,
        choices=sorted(METHODS),
        help="solver (default: rspg for krusell_smith, stationary for aiyagari, dp for the toy games)",
    )
    p_solve.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a model parameter"
    )
    p_solve.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE", help="a solver option (e.g. tol=1e-8)"
    )
    p_solve.add_argument("--out", default="out", help="output folder (default: out)")
    p_solve.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder whole")
    p_solve.add_argument("--no-figures", action="store_true", help="write tables only")
    p_solve.add_argument("-v", "--verbose", action="store_true", help="print the solver's progress")
    sub.add_parser("list", help="list shipped models, calibrations and methods")
    p_show = sub.add_parser("show", help="print the header and summary of a saved solution (.hmx)")
    p_show.add_argument("file")
    argv = sys.argv[1:] if argv is None else list(argv)
    given = list(argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["solve", *argv]
    args = parser.parse_args(argv)
    args.argv = given
    if args.command == "list":
        return _cmd_list(args)
    if args.command == "show":
        return _cmd_show(args)
    return _cmd_solve(args)


if __name__ == "__main__":
    sys.exit(main())
