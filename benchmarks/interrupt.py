"""Ctrl-C during compilation: is a segmentation fault after the KeyboardInterrupt ours or the library's?

Starts a child process that compiles, sends it SIGINT (what Ctrl-C sends) after a range of delays, and
counts how each child ended: a KeyboardInterrupt and exit status -2 (clean), a segmentation fault after
the KeyboardInterrupt (status -11), or a finished run (the signal came too late). Two children:

- ``jax``: plain JAX, no hetmacro: ``jax.jit`` of an unrolled chain of 3000 elementwise steps, several
  seconds of XLA compilation;
- ``hetmacro``: ``hm.solve(Aiyagari(n_a=200), method="stationary")`` (import, compile, solve).

If the plain-JAX child faults too, the fault is in the JAX/XLA runtime, not in hetmacro.

Usage::

    python benchmarks/interrupt.py            # 10 delays per child (about 3 minutes)
    python benchmarks/interrupt.py --quick    # 3 delays per child
    python benchmarks/interrupt.py --json
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as bc  # noqa: E402

CHILDREN = {
    "jax": (
        "import jax, jax.numpy as jnp\n"
        "def f(x):\n"
        "    for i in range(3000):\n"
        "        x = jnp.sin(x) * 1.0001 + jnp.cos(x * i)\n"
        "    return x\n"
        "jax.jit(f).lower(jnp.ones(100)).compile()\n"
    ),
    "hetmacro": (
        "import hetmacro as hm\nfrom hetmacro.models import Aiyagari\n"
        "hm.solve(Aiyagari(n_a=200), method='stationary')\n"
    ),
}


def interrupt(code: str, delay: float) -> str:
    """Run ``code`` in a child, SIGINT it after ``delay`` seconds; how it ended."""
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(delay)
    child.send_signal(signal.SIGINT)
    out, _ = child.communicate()
    if child.returncode == -signal.SIGSEGV:
        return "segfault after KeyboardInterrupt" if "KeyboardInterrupt" in out else "segfault"
    if "KeyboardInterrupt" in out:
        return "KeyboardInterrupt"
    return "finished" if child.returncode == 0 else f"status {child.returncode}"


def main(argv=None):
    args = bc.parse_args(__doc__.splitlines()[0], argv)
    delays = [3.0, 4.5, 6.0] if args.quick else [2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0, 6.5]
    results = {}
    for name, code in CHILDREN.items():
        bc.log(f"{name}: {len(delays)} interrupts ...")
        results[name] = [interrupt(code, d) for d in delays]
    kinds = sorted({k for v in results.values() for k in v})
    rows = [[name, *(str(v.count(k)) for k in kinds)] for name, v in results.items()]
    bc.print_table(f"How {len(delays)} children ended after SIGINT at {delays} s", ["child", *kinds], rows)
    if args.json:
        bc.emit_json(
            {"benchmark": "interrupt", "machine": bc.machine(), "delays": delays, "results": results}
        )


if __name__ == "__main__":
    main()
