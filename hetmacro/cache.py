"""Compiled functions kept on disk: a new process reuses them instead of compiling again.

A first solve in a fresh process spends most of its time compiling (the stationary solver's evaluation,
the linear solver's Jacobians, RSPG's training step). JAX can keep every compiled function in a folder,
keyed by the program and the compiler's flags, and load it in later processes:
:func:`use_compilation_cache` switches that on. Setting the environment variable ``HETMACRO_CACHE_DIR``
to a folder does the same when hetmacro is imported (handy for scripts, the command line and workers of
a cluster). The folder can be shared by processes of one machine; delete it to start afresh (JAX also
ignores entries from another JAX version or another device).

Reference: JAX documentation, "Persistent compilation cache".
"""

from __future__ import annotations

import os
from pathlib import Path

import jax

__all__ = ["ENV", "default_cache_dir", "use_compilation_cache"]

ENV = "HETMACRO_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/hetmacro/jax`` (``~/.cache/hetmacro/jax`` when XDG_CACHE_HOME is unset)."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "hetmacro" / "jax"


def use_compilation_cache(folder=None) -> Path:
    """Keep every compiled function in ``folder`` and reuse those already there; returns the folder.

    Args:
        folder: where to keep them (created if missing); default ``$HETMACRO_CACHE_DIR`` or
            :func:`default_cache_dir`.

    Every compilation is kept, however short: a first solve compiles dozens of small functions whose
    compile times add up to about a second.
    """
    path = Path(folder or os.environ.get(ENV) or default_cache_dir()).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path
