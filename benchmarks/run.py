"""`make bench`: every benchmark in turn; each prints its own table.

Each benchmark module has `main(argv) -> int`. `make bench BENCH=api` runs one.
"""

from __future__ import annotations

import importlib
import os
import sys

# name -> module; a new benchmark adds one line.
BENCHMARKS: dict[str, str] = {
    "api": "benchmarks.api",
    "analytics": "benchmarks.analytics",
    "alerts": "benchmarks.alerts",
    "workflows": "benchmarks.workflows",
    "models": "benchmarks.models",
    "search": "benchmarks.search",
    "console": "benchmarks.console",
    "console_incident": "benchmarks.console_incident",
}


def main() -> int:
    wanted = [b for b in os.environ.get("BENCH", "").split(",") if b] or list(BENCHMARKS)
    unknown = [b for b in wanted if b not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    status = 0
    for name in wanted:
        print(f"\n=== benchmark: {name} ===", flush=True)
        status |= importlib.import_module(BENCHMARKS[name]).main(sys.argv[1:])
    return status


if __name__ == "__main__":
    sys.exit(main())
