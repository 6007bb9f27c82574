"""Plain-text tables for benchmark results."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import REPO
from bench.gongyu_run import STAGES


def under_load(run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """`run()`'s results with the machine's load average before and after: the machine is
    shared, and the load says how far to trust absolute figures."""
    before = os.getloadavg()
    results = run()
    results["load_average"] = {"before": before, "after": os.getloadavg()}
    return results


def save(out: Path, benchmark: str, options: dict[str, Any], results: dict[str, Any]) -> None:
    """Write a benchmark's options and results (targets included) as JSON, and say where."""
    saved = {"benchmark": benchmark, "options": options, "cpus": os.cpu_count(), **results}
    out.write_text(json.dumps(saved, indent=1, ensure_ascii=False, default=float))
    print(f"results: {out.relative_to(REPO)}")


def table(header: list[str], rows: list[list[str]]) -> str:
    """Columns padded to width: the first left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def _measure_row(run: dict[str, Any], rows: int, file_mib: float) -> list[str]:
    if not run["ok"]:
        return [run["label"], "error", "", "", f"{run.get('peak_rss_mib', 0):,.0f}"]
    seconds = run["seconds"]
    return [
        run["label"],
        f"{seconds:,.2f}",
        f"{rows / seconds:,.0f}",
        f"{file_mib / seconds:,.1f}",
        f"{run['peak_rss_mib']:,.0f}",
    ]


def render(results: dict[str, Any]) -> str:
    """The gate benchmark's summary: measurements, ratio, Gongyu's stages, targets."""
    rows, mib = results["rows"], results["file_mib"]
    duck, gong = results["duckdb"], results["gongyu"]
    out = [
        "",
        f"rows {rows:,} · file {mib:,.1f} MiB ({results['encoding']}) · {results['dataset']}",
        "",
        table(
            ["measurement", "seconds", "rows/s", "MiB/s", "peak RSS MiB"],
            [_measure_row(duck, rows, mib), _measure_row(gong, rows, mib)],
        ),
    ]
    for run in (duck, gong):
        if not run["ok"]:
            out += ["", f"{run['label']} FAILED: {run['error']}", f"  log: {run.get('log')}"]
    if "cp949_failure" in duck:
        why = duck["cp949_failure"].splitlines()[0]
        out += ["", f"NOTE: DuckDB's CP949 reader failed on this file: {why}"]
        out += ["      the baseline above is DuckDB on a UTF-8 transcode of the same rows."]
    if results["ratio"] is not None:
        out += [
            "",
            f"ratio gongyu/duckdb (time): {results['ratio']:.2f}x "
            f"({results['ratio_without_landing']:.2f}x without landing the file)",
        ]
        if results.get("ratio_vs_duckdb_plus_transcode") is not None:
            transcode = results["duckdb"]["transcode_seconds"]
            out.append(
                f"  vs DuckDB + the UTF-8 transcode it needed ({transcode:.1f}s): "
                f"{results['ratio_vs_duckdb_plus_transcode']:.2f}x"
            )
    if gong["ok"]:
        imports = gong.get("untimed_import_seconds", 0.0)
        out += ["", f"gongyu by stage (not timed: {imports:.1f}s importing GX, once a process):"]
        out += [_stages(gong)]
        if gong.get("warnings"):
            out += [f"gate warnings (non-blocking): {', '.join(gong['warnings'])}"]
    out += ["", "targets (set at 10,000,000 rows):"]
    for t in results["targets"]:
        value = "n/a" if t["value"] is None else f"{t['value']:,.2f}"
        verdict = "PASS" if t["pass"] else "MISS"
        note = "" if t["at_target_rows"] else f"  (indicative: measured at {rows:,} rows)"
        out.append(f"  {t['target']:<32} {value:>10}  {verdict}{note}")
    if "profile" in results:
        out += ["", f"cProfile of gongyu: {results['profile']}"]
    return "\n".join(out)


def _stages(run: dict[str, Any]) -> str:
    stages = run["stages"]
    total = run["seconds"]
    order = ["land", *STAGES, "other"]
    rows = []
    for name in order:
        if name not in stages:
            continue
        s = stages[name]
        rows.append(
            [
                "  " + name,
                f"{s['seconds']:,.2f}",
                f"{100 * s['seconds'] / total:.0f}%",
                f"{s['peak_rss_mib']:,.0f}",
            ]
        )
    rows.append(["  total", f"{total:,.2f}", "100%", f"{run['peak_rss_mib']:,.0f}"])
    return table(["  stage", "seconds", "share", "peak RSS MiB"], rows)
