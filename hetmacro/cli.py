"""Command line: ``hetmacro solve MODEL ...``, ``hetmacro list`` and ``hetmacro show FILE``.

``hetmacro solve`` (also what ``hetmacro`` alone runs) solves a shipped model, prints a short summary
table and writes into ``--out`` (default ``out/``): every table as CSV with a README of units
(:func:`hetmacro.export.to_csv`), the figures as PNG (:mod:`hetmacro.plot`) and the Solution itself
(``solution.hmx``, reload it with ``hetmacro.load``). With no arguments it solves the Beach Bar game
(bar at cell 50, no closure) by exact DP: about 10 seconds on a laptop CPU.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import tomllib
from pathlib import Path

from .model import shipped_calibrations
from .solvers import METHODS, solve

DEFAULT_MODEL = "beach_bar"
# Settings applied when solving a model by a method without --calibration (DP needs no common noise).
DEFAULT_SETTINGS = {
    ("beach_bar", "dp"): {"closure": False, "bar": 50},
    ("lq", "dp"): {"aggregate_risk": False},
}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower().replace("linear_quadratic", "lq")


def shipped_models() -> dict:
    """{command-line name: model class} for every model in ``hetmacro.models``."""
    from . import models
    from .model import Model

    classes = (getattr(models, n) for n in models.__all__)
    return {_snake(c.__name__): c for c in classes if isinstance(c, type) and issubclass(c, Model)}


def _parse_value(text: str):
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # a bare word is a string


def _parse_settings(pairs: list[str], flag: str = "--set") -> dict:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"{flag} expects key=value, got {pair!r}")
        out[key.strip()] = _parse_value(value.strip())
    return out


def _cmd_list(_args) -> int:
    print("models:")
    for name, cls in shipped_models().items():
        doc = (cls.__doc__ or "").strip().splitlines()[0]
        print(f"  {name:<16} {doc}")
    print("calibrations:")
    for name in shipped_calibrations():
        print(f"  {name}")
    print("methods:")
    for name, cls in METHODS.items():
        print(f"  {name:<16} {cls.describe()}")
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


def _cmd_solve(args) -> int:
    from . import export, hmx

    models = shipped_models()
    if args.model not in models:
        raise SystemExit(f"unknown model {args.model!r}; shipped models: {sorted(models)}")
    cls = models[args.model]
    settings = {} if args.calibration else dict(DEFAULT_SETTINGS.get((args.model, args.method), {}))
    settings.update(_parse_settings(args.set))
    model = cls.from_calibration(args.calibration, **settings) if args.calibration else cls(**settings)
    options = _parse_settings(args.option, "--option")
    if args.verbose:
        options.setdefault("verbose", True)
    described = ", ".join(f"{k}={v}" for k, v in settings.items())
    print(f"solving {cls.__name__}({described}) by {args.method} ...", flush=True)
    t0 = time.perf_counter()
    sol = solve(model, method=args.method, **options)
    print(sol.summary().to_string())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tables = export.tables(sol)
    export.to_csv(sol, out, tables=tables)
    n_figures = 0
    if not args.no_figures:
        irfs = {k: v for k, v in tables.items() if k.startswith("irf_")}
        n_figures = len(write_figures(sol, out, irfs))
    hmx.save(sol, out / "solution.hmx")
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
    parser = argparse.ArgumentParser(prog="hetmacro", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    p_solve = sub.add_parser("solve", help="solve a shipped model and write its tables and figures")
    p_solve.add_argument("model", nargs="?", default=DEFAULT_MODEL, help="model name (see 'hetmacro list')")
    p_solve.add_argument("--calibration", help="shipped calibration name or path to a .toml file")
    p_solve.add_argument("--method", default="dp", choices=sorted(METHODS))
    p_solve.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a model parameter"
    )
    p_solve.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE", help="a solver option (e.g. tol=1e-8)"
    )
    p_solve.add_argument("--out", default="out", help="output folder (default: out)")
    p_solve.add_argument("--no-figures", action="store_true", help="write tables only")
    p_solve.add_argument("-v", "--verbose", action="store_true", help="print the solver's progress")
    sub.add_parser("list", help="list shipped models, calibrations and methods")
    p_show = sub.add_parser("show", help="print the header and summary of a saved solution (.hmx)")
    p_show.add_argument("file")
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["solve", *argv]
    args = parser.parse_args(argv)
    if args.command == "list":
        return _cmd_list(args)
    if args.command == "show":
        return _cmd_show(args)
    return _cmd_solve(args)


if __name__ == "__main__":
    sys.exit(main())
