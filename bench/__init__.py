"""Gongyu's benchmarks: `./dev bench [name] [options]` (= `python -m bench`).

Each benchmark is a module with `main(argv) -> int`; `BENCHMARKS` maps its name to it.
Benchmarks report figures and targets; they do not fail on a missed target (tests check
behaviour, benchmarks measure it), except `load`, whose targets are correctness (errors, audit).
"""

from __future__ import annotations

from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
WORK = BENCH_DIR / ".work"
"""Generated inputs, outputs and results (git-ignored)."""

BENCHMARKS: dict[str, str] = {
    "gate": "bench.gate",
    "privacy": "bench.privacy",
    "api": "bench.api",
    "search": "bench.search",
    "relevance": "bench.relevance",
    "scaleout": "bench.scaleout",
    "load": "bench.load",
    "steward_loop": "bench.steward_loop",
    "products": "bench.products",
    "shell": "bench.shell",
}
"""Benchmark name → module exposing `main(argv: list[str]) -> int`."""
