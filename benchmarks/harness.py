"""Run one benchmark case in a fresh process and report its wall time and peak memory."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

CASES: dict[str, Callable[..., dict[str, Any]]] = {}


def case(name: str) -> Callable[[Callable[..., dict[str, Any]]], Callable[..., dict[str, Any]]]:
    """Register a function as a benchmark case runnable in a subprocess by name."""

    def register(fn: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        CASES[name] = fn
        return fn

    return register


def run_in_subprocess(module: str, name: str, **params: Any) -> dict[str, Any]:
    """Run ``module``'s case ``name`` with ``params`` in a new interpreter; its JSON result."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.harness", module, name, json.dumps(params)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark case {module}:{name} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_seconds"] = round(time.perf_counter() - started, 2)
    return result


def _main() -> None:
    import importlib

    module, name, params = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    importlib.import_module(module)
    # run as __main__, this module is not the benchmarks.harness the case registered with
    from benchmarks.harness import CASES as REGISTERED

    result = REGISTERED[name](**params)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    _main()
