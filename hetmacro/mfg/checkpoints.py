"""Checkpoints of a training run: the parameters and optimiser state (equinox serialisation) and a JSON
record of the run (its settings' signature, the iteration, the history), written atomically after
every chunk, so an interrupted run resumes where it stopped, bit for bit."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import equinox as eqx
import jax
import numpy as np

__all__ = ["fingerprint", "load_checkpoint", "save_checkpoint", "checkpoint_record"]


def fingerprint(model) -> str:
    """A short hash of a model's parameters and structure: a checkpoint belongs to one model."""
    leaves, treedef = jax.tree.flatten(model)
    h = hashlib.sha256(str(treedef).encode())
    for leaf in leaves:
        h.update(np.asarray(leaf).tobytes() if eqx.is_array_like(leaf) else repr(leaf).encode())
    return h.hexdigest()[:16]


def save_checkpoint(path: Path, tree, meta: dict) -> None:
    """Write ``tree`` to ``path`` and ``meta`` to ``path.json``, each through a temporary file."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        eqx.tree_serialise_leaves(f, tree)
    os.replace(tmp, path)
    tmp_json = path.with_name(path.name + ".json.tmp")
    tmp_json.write_text(json.dumps(meta, indent=1, default=float))
    os.replace(tmp_json, path.with_name(path.name + ".json"))


def load_checkpoint(path: Path, like, signature: dict):
    """(tree, meta) from ``path`` shaped like ``like``, or None when there is none; a checkpoint of a run
    with other settings is an error naming them."""
    meta_path = path.with_name(path.name + ".json")
    if not (path.exists() and meta_path.exists()):
        return None
    meta = json.loads(meta_path.read_text())
    old = meta.get("signature", {})
    differ = sorted(k for k in set(old) | set(signature) if old.get(k) != signature.get(k))
    if differ:
        raise ValueError(
            f"checkpoint '{path}' was written by a different run (settings that differ: {differ}). "
            "Delete it, or pass another checkpoint path, to start afresh."
        )
    with open(path, "rb") as f:
        tree = eqx.tree_deserialise_leaves(f, like)
    return tree, meta


def checkpoint_record(signature, it, rows, evals, train_wall, train_cpu):
    """The JSON record beside the arrays: the run's signature, the iteration, the history, the time."""
    return {
        "signature": signature,
        "iteration": it,
        "history": rows,
        "evaluations": evals,
        "train_seconds": train_wall,
        "train_cpu_seconds": train_cpu,
    }
