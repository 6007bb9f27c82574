"""One measurement in its own process, so its peak RSS is its own.

    python -m bench._child duckdb FILE --encoding cp949 --out OUT.parquet --result R.json
    python -m bench._child gongyu FILE --dataset ID --rows N --result R.json [--profile P]
        [--contracts-dir DIR] [--no-privacy] [--database-url URL]

Other settings (S3: `GONGYU_S3_*`) come from the environment, as `Settings` reads it.

Writes the result (or the error) as JSON to `--result`; exit 1 on error.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path
from typing import Any

from bench.memory import peak_rss_mib


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The measurement `args.kind` names."""
    if args.kind == "duckdb":
        from bench.baseline import copy_to_parquet

        return copy_to_parquet(args.file, args.out, args.encoding)
    from bench.gongyu_run import deliver_and_publish, without_privacy

    if args.no_privacy:
        without_privacy()
    run = (args.file, args.dataset, args.rows, args.contracts_dir, args.database_url)
    if args.profile is None:
        return deliver_and_publish(*run)
    import cProfile

    profiler = cProfile.Profile()
    result = profiler.runcall(deliver_and_publish, *run)
    profiler.dump_stats(args.profile)
    return result


def main(argv: list[str]) -> int:
    """Parse, measure, write the JSON result."""
    parser = argparse.ArgumentParser(prog="python -m bench._child")
    parser.add_argument("kind", choices=["duckdb", "gongyu"])
    parser.add_argument("file", type=Path)
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--encoding", default="cp949")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--dataset")
    parser.add_argument("--rows", type=int, default=0)
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--contracts-dir", type=Path)
    parser.add_argument("--no-privacy", action="store_true")
    parser.add_argument("--database-url")
    args = parser.parse_args(argv)
    try:
        result: dict[str, Any] = {"ok": True, **run(args)}
        rc = 0
    except Exception as err:
        result = {"ok": False, "error": f"{type(err).__name__}: {err}"}
        traceback.print_exc()
        rc = 1
    result["peak_rss_mib"] = peak_rss_mib()
    args.result.write_text(json.dumps(result, indent=1, ensure_ascii=False))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
