"""Command line: ``hetmacro solve MODEL ...`` and ``hetmacro list``."""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

from .api import METHODS, solve
from .model import shipped_calibrations

DEFAULT_MODEL = "beach_bar"
DEFAULT_SETTINGS = {"beach_bar": {"closure": False, "bar": 50}}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower().replace("linear_quadratic", "lq")


def shipped_models() -> dict:
    """{command-line name: model class} for every model in ``hetmacro.models``."""
    from . import models

    return {_snake(n): getattr(models, n) for n in models.__all__}


def _parse_value(text: str):
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # a bare word is a string


def _parse_settings(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set expects key=value, got {pair!r}")
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
    for name, (_, _, doc) in METHODS.items():
        print(f"  {name:<16} {doc}")
    return 0


def _cmd_solve(args) -> int:
    models = shipped_models()
    if args.model not in models:
        raise SystemExit(f"unknown model {args.model!r}; shipped models: {sorted(models)}")
    cls = models[args.model]
    settings = dict(DEFAULT_SETTINGS.get(args.model, {})) if not args.calibration else {}
    settings.update(_parse_settings(args.set))
    model = cls.from_calibration(args.calibration, **settings) if args.calibration else cls(**settings)
    options = {"verbose": True} if args.method == "dp" else {}
    sol = solve(model, method=args.method, **options)
    print(sol.summary().to_string())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sol.summary().to_csv(out / "summary.csv")
    if len(sol.history):
        sol.history.to_csv(out / "history.csv", index=False)
    print(f"wrote {out}/")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hetmacro", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    p_solve = sub.add_parser("solve", help="solve a shipped model and write its tables and figures")
    p_solve.add_argument("model", nargs="?", default=DEFAULT_MODEL, help="model name (see 'hetmacro list')")
    p_solve.add_argument("--calibration", help="shipped calibration name or path to a .toml file")
    p_solve.add_argument("--method", default="dp", choices=sorted(METHODS))
    p_solve.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a parameter"
    )
    p_solve.add_argument("--out", default="out", help="output folder (default: out)")
    sub.add_parser("list", help="list shipped models, calibrations and methods")
    args = parser.parse_args(argv)
    if args.command == "list":
        return _cmd_list(args)
    if args.command in (None, "solve"):
        if args.command is None:
            args = parser.parse_args(["solve", *(argv or [])])
        return _cmd_solve(args)
    return 1


if __name__ == "__main__":
    sys.exit(main())
