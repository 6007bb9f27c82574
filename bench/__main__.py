"""`python -m bench [NAME [OPTIONS...]]`: run one benchmark by name, or all of them."""

from __future__ import annotations

import importlib
import sys

from bench import BENCHMARKS


def main(argv: list[str]) -> int:
    """Dispatch to the named benchmark (its own options follow the name); none = all."""
    if argv and argv[0] in {"-h", "--help"}:
        print(__doc__)
        print("benchmarks: " + ", ".join(BENCHMARKS))
        print("options of one: python -m bench NAME --help")
        return 0
    if argv and not argv[0].startswith("-"):
        name, rest = argv[0], argv[1:]
        if name not in BENCHMARKS:
            print(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
            return 2
        return _run(name, rest)
    rc = 0
    for name in BENCHMARKS:
        rc = max(rc, _run(name, argv))
    return rc


def _run(name: str, argv: list[str]) -> int:
    module = importlib.import_module(BENCHMARKS[name])
    return int(module.main(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
