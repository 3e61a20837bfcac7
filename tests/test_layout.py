"""The package's layering, checked on its source: no import cycles between its modules, no solver that
imports a shipped model, and no solver that probes a model for methods (``hasattr``) instead of reading
the structure it declares."""

from __future__ import annotations

import ast
from pathlib import Path

import hetmacro

ROOT = Path(hetmacro.__file__).resolve().parent
SOLVERS = ("hetmacro.mfg", "hetmacro.savings", "hetmacro.solvers", "hetmacro.equilibrium", "hetmacro.market")


def _modules() -> dict:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set:
    """Modules of the package that ``name`` imports anywhere (module level or inside functions)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            for alias in node.names:
                target = f"{base}.{alias.name}"
                out.add(target if target in MODULES else base)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
    return {m for m in out if m in MODULES and m != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def test_there_are_no_import_cycles():
    """Depth-first search for a back edge; the package's ``__init__`` (which only re-exports) is left out."""
    state: dict = {}
    cycles = []

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(GRAPH[node] - {"hetmacro"}):
            if state.get(nxt) == "open":
                cycles.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(GRAPH):
        if node != "hetmacro" and node not in state:
            visit(node, [node])
    assert not cycles, cycles


def test_no_solver_imports_a_shipped_model():
    for name, targets in GRAPH.items():
        if name.startswith(SOLVERS):
            assert not any(t.startswith("hetmacro.models") for t in targets), (name, targets)
            source = MODULES[name].read_text()
            assert "from hetmacro.models" not in source and "import hetmacro.models" not in source, name


def test_no_solver_probes_the_model_for_methods():
    """A solver reads what a model declares (its class, its market, its declared hooks); it never asks
    ``hasattr(model, ...)`` or reads a model attribute with a fallback, ``getattr(model, name, default)``."""
    for name, path in MODULES.items():
        if not name.startswith(SOLVERS):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            if node.func.id == "hasattr" or (node.func.id == "getattr" and len(node.args) == 3):
                target = ast.unparse(node.args[0])
                assert "model" not in target, f"{name}:{node.lineno}: {ast.unparse(node)}"


def _resolves(root, dotted: str) -> bool:
    import importlib

    obj = root
    for part in dotted.split("."):
        if hasattr(obj, part):
            obj = getattr(obj, part)
            continue
        try:  # a submodule not imported yet
            obj = importlib.import_module(f"{obj.__name__}.{part}")
        except (ImportError, AttributeError):
            return False
    return True


def test_messages_and_docstrings_name_only_what_exists():
    """Every ``hm.X`` / ``hetmacro.X`` / ``sol.X(`` in the package's strings (error messages, docstrings)
    names something that exists: a message once advised calling a function that did not."""
    import re

    import hetmacro.models  # noqa: F401

    package = re.compile(r"\b(?:hm|hetmacro)\.([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)")
    solution = re.compile(r"\bsol\.([A-Za-z_]\w*)\(")
    missing = []
    for path in [*ROOT.rglob("*.py"), *(ROOT.parent / "models").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            for m in package.finditer(node.value):
                if not _resolves(hetmacro, m.group(1)):
                    missing.append(f"{path.name}: {m.group(0)}")
            for m in solution.finditer(node.value):
                if not hasattr(hetmacro.Solution, m.group(1)):
                    missing.append(f"{path.name}: {m.group(0)}")
    assert not missing, missing
