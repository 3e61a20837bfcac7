"""The compilation cache: a second process loads what the first compiled instead of compiling again."""

import json
import os
import subprocess
import sys

SCRIPT = """
import json
from jax._src import monitoring
events = {}
monitoring.register_event_listener(lambda name, **kw: events.__setitem__(name, events.get(name, 0) + 1))
import hetmacro as hm
from hetmacro.models import Aiyagari
sol = hm.solve(Aiyagari.from_calibration("aiyagari_1994", n_a=40, n_e=2), method="stationary")
print(json.dumps({"r": sol.aggregates["r"], "hits": events.get("/jax/compilation_cache/cache_hits", 0),
                  "misses": events.get("/jax/compilation_cache/cache_misses", 0)}))
"""


def _run(cache_dir):
    env = dict(os.environ, HETMACRO_CACHE_DIR=str(cache_dir), JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_second_process_compiles_nothing(tmp_path):
    first = _run(tmp_path / "cache")
    assert first["misses"] > 0 and any((tmp_path / "cache").iterdir())
    second = _run(tmp_path / "cache")
    assert second["misses"] == 0, second  # every compiled function came from the folder
    assert second["hits"] >= first["misses"]
    assert second["r"] == first["r"]
