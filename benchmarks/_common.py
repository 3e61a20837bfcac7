"""Shared helpers for the benchmark scripts in ``benchmarks/``.

Every benchmark script follows one convention (issue 3, later issues rely on it):

- ``--quick`` finishes in under a minute at reduced sizes (a smoke test of the script itself);
- ``--json`` prints one JSON object with the results (case, sizes, timings in seconds, machine) as the
  **last line of stdout**; the human-readable table is still printed above it;
- the default run prints a readable table.

Progress messages go to stderr so that stdout holds only the table and, with ``--json``, the JSON line.

Timing: a warm-up call (which also triggers any lazy work) and then the **median** of several
repetitions, each timed with ``time.perf_counter`` (wall) and ``time.process_time`` (CPU time of the
whole process: on a shared, loaded machine the CPU time is the steadier figure, and with two busy
cores it can exceed wall time). JAX results are waited for with ``jax.block_until_ready``.

Usage::

    import _common as bc

    args = bc.parse_args("what this benchmark measures")
    compiled, compile_s = bc.compile_timed(jax.jit(f), x)
    t = bc.measure(compiled, x, reps=bc.reps(args, full=9, quick=3))
    print(bc.fmt_seconds(t.median))
    bc.print_table("title", ["case", "time"], [["a", bc.fmt_seconds(t.median)]])
    if args.json:
        bc.emit_json({"benchmark": "name", "machine": bc.machine(), "results": [...]})
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence

__all__ = [
    "Timing",
    "compile_timed",
    "describe_machine",
    "emit_json",
    "fmt_bytes",
    "fmt_ratio",
    "fmt_seconds",
    "log",
    "machine",
    "measure",
    "memory_analysis",
    "parse_args",
    "peak_rss_bytes",
    "print_table",
    "reps",
]


# --- command line ---------------------------------------------------------------------------------
def parse_args(
    description: str, argv: Sequence[str] | None = None, extra: Callable | None = None, shares: bool = False
):
    """The common command line: ``--quick``, ``--json``, ``--reps N`` (and ``--share-grid``).

    Args:
        description: one line on what the benchmark measures (shown by ``--help``).
        argv: arguments to parse (default ``sys.argv[1:]``).
        extra: ``extra(parser)`` adds script-specific options.
        shares: add ``--share-grid``, the spacing of a savings economy's consumption shares.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick", action="store_true", help="reduced sizes and repetitions: finishes in under a minute"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="also print the results as one JSON object, the last line of stdout",
    )
    parser.add_argument(
        "--reps", type=int, default=None, help="timed repetitions per measurement (median is reported)"
    )
    if shares:
        parser.add_argument(
            "--share-grid",
            choices=("geometric", "uniform"),
            default="geometric",
            help="spacing of the game's consumption shares (default geometric, the model's default)",
        )
    if extra is not None:
        extra(parser)
    args = parser.parse_args(argv)
    if args.reps is not None and args.reps < 1:
        parser.error("--reps must be at least 1")
    return args


def reps(args, full: int, quick: int) -> int:
    """Number of timed repetitions: ``--reps`` if given, else ``quick`` or ``full``."""
    if getattr(args, "reps", None):
        return int(args.reps)
    return quick if getattr(args, "quick", False) else full


def log(*parts) -> None:
    """A progress message on stderr (stdout is kept for the table and the JSON line)."""
    print(*parts, file=sys.stderr, flush=True)


# --- timing -----------------------------------------------------------------------------------------
@dataclasses.dataclass
class Timing:
    """Repeated timings of one call, in seconds."""

    wall: list[float]
    cpu: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.wall)

    @property
    def min(self) -> float:
        return min(self.wall)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)

    def as_dict(self, per: float = 1.0) -> dict:
        """Median, min, CPU median and all wall times, each divided by ``per`` (e.g. steps)."""
        return {
            "median_s": self.median / per,
            "min_s": self.min / per,
            "cpu_median_s": self.cpu_median / per,
            "reps": len(self.wall),
            "all_s": [w / per for w in self.wall],
        }


def _block(out):
    try:
        import jax
    except ImportError:  # a benchmark without JAX
        return out
    return jax.block_until_ready(out)


def measure(fn: Callable, *args, reps: int = 7, warmup: int = 1) -> Timing:
    """Call ``fn(*args)`` ``warmup`` times untimed, then ``reps`` times timed (wall and CPU)."""
    for _ in range(warmup):
        _block(fn(*args))
    wall, cpu = [], []
    for _ in range(reps):
        c0, w0 = time.process_time(), time.perf_counter()
        _block(fn(*args))
        w1, c1 = time.perf_counter(), time.process_time()
        wall.append(w1 - w0)
        cpu.append(c1 - c0)
    return Timing(wall, cpu)


def compile_timed(jitted, *args):
    """Lower and compile a ``jax.jit``-wrapped function for ``args``: (compiled, seconds).

    The time covers tracing, lowering and XLA compilation, i.e. the first-call overhead.
    """
    t0 = time.perf_counter()
    compiled = jitted.lower(*args).compile()
    return compiled, time.perf_counter() - t0


# --- memory -----------------------------------------------------------------------------------------
def peak_rss_bytes() -> int:
    """The process's peak resident set size so far (``getrusage`` ru_maxrss), in bytes.

    A high-water mark: the growth between two readings is the memory a case added *beyond* the
    earlier peak, so it is informative for the largest case run so far, and 0 for smaller ones.
    """
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024  # Linux reports KiB


def memory_analysis(compiled) -> dict | None:
    """XLA's buffer assignment for a compiled executable (``compiled.memory_analysis()``), in bytes.

    ``peak_bytes`` = arguments + outputs + temporaries - aliased: the device memory the call needs
    at once by XLA's static buffer assignment (on CPU, host memory). None where unavailable.
    """
    try:
        stats = compiled.memory_analysis()
    except Exception:  # noqa: BLE001 - not every backend or version implements it
        return None
    if stats is None:
        return None
    get = lambda name: int(getattr(stats, name, 0) or 0)  # noqa: E731
    out = {
        "argument_bytes": get("argument_size_in_bytes"),
        "output_bytes": get("output_size_in_bytes"),
        "temp_bytes": get("temp_size_in_bytes"),
        "alias_bytes": get("alias_size_in_bytes"),
        "generated_code_bytes": get("generated_code_size_in_bytes"),
    }
    out["peak_bytes"] = out["argument_bytes"] + out["output_bytes"] + out["temp_bytes"] - out["alias_bytes"]
    return out


# --- the machine ------------------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_flags() -> list[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return sorted(x for x in ("avx2", "avx512f", "fma", "sse4_2") if x in flags)
    except OSError:
        pass
    return []


def _mem_total() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def machine() -> dict:
    """What the figures were measured on: CPU, cores, load, memory, Python, JAX and its backend."""
    info = {
        "cpu": _cpu_model(),
        "cpu_flags": _cpu_flags(),
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average_1_5_15": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "memory_bytes": _mem_total(),
        "os": platform.platform(),
        "python": platform.python_version(),
    }
    try:
        import jax
        import jaxlib

        info.update(
            {
                "jax": jax.__version__,
                "jaxlib": jaxlib.__version__,
                "platform": jax.default_backend(),
                "devices": [str(d) for d in jax.devices()],
                "x64": bool(jax.config.jax_enable_x64),
            }
        )
    except ImportError:
        info["jax"] = None
    if os.environ.get("XLA_FLAGS"):
        info["xla_flags"] = os.environ["XLA_FLAGS"]
    return info


def describe_machine(info: dict | None = None) -> str:
    """One line describing the machine, for the head of a table."""
    info = machine() if info is None else info
    load = info.get("load_average_1_5_15")
    load_s = f", load {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}" if load else ""
    mem = info.get("memory_bytes")
    mem_s = f", {fmt_bytes(mem)} RAM" if mem else ""
    jax_s = f"; jax {info['jax']} on {info.get('platform')}" if info.get("jax") else ""
    return (
        f"{info['cpu']} ({info['usable_cores']} of {info['logical_cores']} logical cores{load_s}{mem_s}); "
        f"Python {info['python']}{jax_s}"
    )


# --- output -------------------------------------------------------------------------------------------
def fmt_seconds(s: float | None) -> str:
    """A duration with a readable unit: '17.9 us', '1.47 ms', '2.31 s'."""
    if s is None or (isinstance(s, float) and math.isnan(s)):
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if abs(s) >= scale or unit == "ns":
            v = s / scale
            return f"{v:.3g} {unit}" if v < 100 else f"{v:.0f} {unit}"
    return f"{s} s"


def fmt_bytes(b: float | None) -> str:
    """A size with a binary unit: '512 B', '3.2 MiB'."""
    if b is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(b) < 1024 or unit == "GiB":
            return f"{b:.0f} {unit}" if unit == "B" else f"{b:.3g} {unit}"
        b /= 1024.0
    return f"{b} B"


def fmt_ratio(r: float | None) -> str:
    """A ratio: '3.2x', '0.41x'."""
    if r is None or (isinstance(r, float) and (math.isnan(r) or math.isinf(r))):
        return "-"
    return f"{r:.3g}x" if r < 100 else f"{r:.0f}x"


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence], notes: Sequence[str] = ()):
    """Print an aligned text table (first column left-aligned, the others right-aligned)."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))

    print(title)
    print(line(cells[0]))
    print("  ".join("-" * w for w in widths))
    for r in cells[1:]:
        print(line(r))
    for n in notes:
        print(n)
    print(flush=True)


def _json_default(x):
    try:
        import numpy as np

        if isinstance(x, np.generic):
            return x.item()
        if isinstance(x, np.ndarray):
            return x.tolist()
    except ImportError:
        pass
    if dataclasses.is_dataclass(x):
        return dataclasses.asdict(x)
    return str(x)


def _sanitize(obj):
    """Non-finite floats become None (strict JSON has no NaN or Infinity)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _sanitize(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_sanitize(v) for v in obj]
    return obj


def emit_json(obj: dict) -> None:
    """Print ``obj`` as one line of strict JSON on stdout (the benchmark convention: the last line)."""
    sys.stdout.flush()
    print(json.dumps(_sanitize(obj), default=_json_default, allow_nan=False), flush=True)
