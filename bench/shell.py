"""The gate as a steward runs it from the shell: `gongyu deliver` then `gongyu run`, each a new
process, nothing warm, against DuckDB's own CSV → Parquet copy of the same rows in UTF-8.

    ./dev bench shell [--narrow-rows N] [--wide-rows N] [--only narrow|wide] [--repeat K]
        [--demo] [--profile]

Inputs (CP949, cached in `bench/.work/`): **narrow**, Seoul's daily air quality of 2022 (8
columns, a primary key of date and station) repeated to N rows with each repetition moved one
year back, so every key stays distinct; **wide**, KoROAD's fatal accidents (23 columns, no key)
repeated byte for byte (the gate benchmark's file). Each measurement is a process started by
this one and timed by its wall clock; its peak RSS is `ru_maxrss` from `wait4` (this process
stays small, so the value carried across `exec` is not the child's). Per input:

1. **duckdb**: `python -m bench._child duckdb` on the UTF-8 copy: interpreter, import, COPY.
2. **deliver**: `gongyu deliver` into a new workspace; **run**: `gongyu run` (must publish N
   rows); **idle**: `gongyu run` again, nothing pending; **one row**: `gongyu deliver` + `gongyu
   run` of a one-row file (narrow only: a new key).
3. **imports**: a process importing what a run needs (Dagster, Great Expectations, pyiceberg,
   pandas, DuckDB) and nothing else: the floor under every `gongyu run`.

`--demo`: `gongyu demo --no-serve` in a new workspace, with the import floor beside it.
Targets: deliver + run ≤ 2.5 × duckdb, peak RSS ≤ 1.5 GiB, idle and one-row ≤ 3 s, demo ≤ 30 s.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import REPO, WORK
from bench.data import KOROAD, Source, build_csv, split_header, transcode, warm
from bench.gate import repeated
from bench.readme import update
from bench.report import save, table, under_load

NARROW = Source(
    dataset_id="seoul_daily_air_quality",
    path=REPO / "data/environment_energy/seoul_daily_air_quality_2022.csv",
    encoding="cp949",
)
GONGYU = str(Path(sys.executable).with_name("gongyu"))
# GX as the gate imports it (`import_gx`: without the modules it defers).
IMPORT_FLOOR = (
    "import dagster, pyiceberg.catalog.sql, pandas, duckdb; "
    "from quality.suite import import_gx; import_gx()"
)
TARGET_RATIO, TARGET_RSS_MIB, TARGET_FIXED_S, TARGET_DEMO_S = 2.5, 1536.0, 3.0, 30.0


def narrow_csv(rows: int) -> Path:
    """Seoul's 2022 rows repeated to `rows`, repetition k dated 2022 − k (keys stay distinct)."""
    out = WORK / f"{NARROW.dataset_id}-{rows}.cp949.csv"
    if out.exists():
        return out
    WORK.mkdir(parents=True, exist_ok=True)
    header, body = split_header(NARROW.path.read_bytes())
    assert all(line[:4] == b"2022" for line in body)  # 측정일시 yyyyMMdd first
    tails = b"".join(line[4:] for line in body)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(header)
        written, year = 0, 2022
        while written < rows:
            take = min(len(body), rows - written)
            block = tails if take == len(body) else b"".join(line[4:] for line in body[:take])
            stamp = str(year).encode()
            # Each line starts with the year: put it back before every tail.
            f.write(stamp + block.replace(b"\n", b"\n" + stamp, take - 1))
            written, year = written + take, year - 1
    os.replace(tmp, out)
    return out


def one_row(rows_file: Path) -> Path:
    """The narrow file's header and one row dated 2023 (a key no repetition holds)."""
    out = WORK / f"{NARROW.dataset_id}-one-row.cp949.csv"
    header, body = split_header(NARROW.path.read_bytes())
    out.write_bytes(header + b"2023" + body[0][4:])
    return out


def timed(cmd: list[str], log: Path) -> dict[str, Any]:
    """Run `cmd` as a new process: wall seconds, its peak RSS (MiB), exit code, output tail."""
    started = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = log.read_text(errors="replace")
    return {
        "ok": proc.returncode == 0,
        "seconds": seconds,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "rc": proc.returncode,
        "output": text[-1500:],
    }


def published_rows(output: str) -> int:
    """The row count `gongyu run` printed for the delivery it published (-1: none)."""
    found = re.search(r"published ([\d,]+) rows", output)
    return int(found.group(1).replace(",", "")) if found else -1


def gongyu_side(name: str, source: Source, csv: Path, rows: int, profile: bool) -> dict[str, Any]:
    """deliver, run, idle run (and for narrow the one-row delivery) in a new workspace."""
    ws = WORK / f"shell-{name}-ws"
    shutil.rmtree(ws, ignore_errors=True)
    at = ["--workspace", str(ws)]
    run_cmd = [GONGYU, "run", *at]
    if profile:
        prof = WORK / f"profile-shell-{name}.pstats"
        run_cmd = [sys.executable, "-m", "cProfile", "-o", str(prof), GONGYU, "run", *at]
    steps: dict[str, Any] = {}
    steps["deliver"] = timed(
        [GONGYU, "deliver", source.dataset_id, str(csv), *at], ws.with_suffix(".deliver.log")
    )
    steps["run"] = timed(run_cmd, ws.with_suffix(".run.log"))
    steps["run"]["rows"] = published_rows(steps["run"]["output"])
    steps["run"]["ok"] &= steps["run"]["rows"] == rows
    steps["idle"] = timed([GONGYU, "run", *at], ws.with_suffix(".idle.log"))
    if source is NARROW:
        steps["one_deliver"] = timed(
            [GONGYU, "deliver", source.dataset_id, str(one_row(csv)), *at],
            ws.with_suffix(".one-deliver.log"),
        )
        steps["one_run"] = timed([GONGYU, "run", *at], ws.with_suffix(".one-run.log"))
        steps["one_run"]["ok"] &= published_rows(steps["one_run"]["output"]) == 1
    shutil.rmtree(ws, ignore_errors=True)
    total = steps["deliver"]["seconds"] + steps["run"]["seconds"]
    peak = max(s["peak_rss_mib"] for s in steps.values())
    return {
        "ok": all(s["ok"] for s in steps.values()),
        "seconds": total,
        "peak_rss_mib": peak,
        **steps,
    }


def measure(name: str, source: Source, rows: int, repeat: int, profile: bool) -> dict[str, Any]:
    """One input: DuckDB on its UTF-8 copy, then Gongyu from the shell, each best of `repeat`."""
    csv = narrow_csv(rows) if source is NARROW else build_csv(source, rows)
    utf8 = csv.with_name(f"{csv.name.removesuffix('.csv')}.utf-8.csv")
    if not utf8.exists():
        transcode(csv, source.encoding)
    warm(csv)
    warm(utf8)
    out = WORK / f"shell-{name}.parquet"
    duck_cmd = [sys.executable, "-m", "bench._child", "duckdb", str(utf8), "--encoding", "utf-8"]
    duck_cmd += ["--out", str(out), "--result", str(WORK / f"shell-{name}-duckdb.json")]
    duck = repeated(lambda: timed(duck_cmd, WORK / f"shell-{name}-duckdb.log"), repeat)
    out.unlink(missing_ok=True)
    gong = repeated(lambda: gongyu_side(name, source, csv, rows, profile), repeat)
    return {
        "rows": rows,
        "file_mib": csv.stat().st_size / 2**20,
        "duckdb": duck,
        "gongyu": gong,
        "ratio": gong["seconds"] / duck["seconds"] if gong["ok"] and duck["ok"] else None,
    }


def demo(repeat: int) -> dict[str, Any]:
    """`gongyu demo --no-serve` in a new workspace (best of `repeat`)."""
    ws = WORK / "shell-demo-ws"

    def once() -> dict[str, Any]:
        shutil.rmtree(ws, ignore_errors=True)
        cmd = [GONGYU, "demo", "--no-serve", "--workspace", str(ws)]
        return timed(cmd, WORK / "shell-demo.log")

    result = repeated(once, repeat)
    shutil.rmtree(ws, ignore_errors=True)
    return result


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with its measured value and PASS/MISS."""
    found = []
    for name in ("narrow", "wide"):
        if name not in results:
            continue
        r = results[name]
        g = r["gongyu"]
        found.append(
            {
                "target": f"{name}: deliver + run ≤ {TARGET_RATIO:g} × duckdb",
                "value": r["ratio"],
                "pass": r["ratio"] is not None and r["ratio"] <= TARGET_RATIO,
            }
        )
        found.append(
            {
                "target": f"{name}: peak RSS ≤ {TARGET_RSS_MIB:,.0f} MiB",
                "value": g["peak_rss_mib"],
                "pass": g["peak_rss_mib"] <= TARGET_RSS_MIB,
            }
        )
        for step in ("idle", "one_run"):
            if step in g:
                s = g[step]["seconds"]
                found.append(
                    {
                        "target": f"{name}: {step} ≤ {TARGET_FIXED_S:g} s",
                        "value": s,
                        "pass": s <= TARGET_FIXED_S,
                    }
                )
    if "demo" in results:
        s = results["demo"]["seconds"]
        found.append(
            {
                "target": f"demo ≤ {TARGET_DEMO_S:g} s",
                "value": s,
                "pass": results["demo"]["ok"] and s <= TARGET_DEMO_S,
            }
        )
    return found


def render(results: dict[str, Any]) -> str:
    """The printed summary: per input its processes, then the targets."""
    lines = []
    floor = results["imports"]
    lines.append(
        f"import floor ({IMPORT_FLOOR}): {floor['seconds']:.2f} s, {floor['peak_rss_mib']:,.0f} MiB"
    )
    for name in ("narrow", "wide"):
        if name not in results:
            continue
        r = results[name]
        rows = [
            [
                "duckdb (utf-8 copy, whole process)",
                f"{r['duckdb']['seconds']:.2f}",
                f"{r['duckdb']['peak_rss_mib']:,.0f}",
            ]
        ]
        g = r["gongyu"]
        for step in ("deliver", "run", "idle", "one_deliver", "one_run"):
            if step in g:
                rows.append(
                    [
                        f"gongyu {step}",
                        f"{g[step]['seconds']:.2f}",
                        f"{g[step]['peak_rss_mib']:,.0f}",
                    ]
                )
        ratio = f"{r['ratio']:.2f}×" if r["ratio"] else "error"
        lines.append(
            f"\n{name}: {r['rows']:,} rows, {r['file_mib']:,.0f} MiB CP949; "
            f"deliver + run / duckdb = {ratio}"
        )
        lines.append(table(["process", "seconds", "peak RSS MiB"], rows))
    if "demo" in results:
        lines.append(
            f"\ndemo --no-serve: {results['demo']['seconds']:.1f} s (ok: {results['demo']['ok']})"
        )
    lines.append("")
    for t in targets(results):
        value = "error" if t["value"] is None else f"{t['value']:,.2f}"
        lines.append(f"{'PASS' if t['pass'] else 'MISS'}  {t['target']}: {value}")
    return "\n".join(lines)


def readme_table(results: dict[str, Any]) -> str:
    """The README's figures: each measurement beside DuckDB's, from this run."""
    n, w = results["narrow"], results["wide"]

    def s(run: dict[str, Any]) -> str:
        return f"{run['seconds']:.1f} s"

    load = results["load_average"]["before"][0]
    rows = [
        "| as run from the shell | Gongyu | DuckDB CSV → Parquet (UTF-8 copy) | ratio |",
        "| --- | ---: | ---: | ---: |",
        f"| {n['rows']:,} narrow CP949 rows (8 columns): `gongyu deliver` + `gongyu run` "
        f"| {s(n['gongyu'])} | {s(n['duckdb'])} | {n['ratio']:.1f}× |",
        f"| {w['rows']:,} wide CP949 rows (23 columns) | {s(w['gongyu'])} "
        f"| {s(w['duckdb'])} | {w['ratio']:.1f}× |",
        f"| `gongyu run`, nothing to do | {s(n['gongyu']['idle'])} | | |",
        f"| `gongyu deliver` + `gongyu run` of one row | "
        f"{n['gongyu']['one_deliver']['seconds'] + n['gongyu']['one_run']['seconds']:.1f} s | | |",
        f"| `./dev demo --no-serve` | {s(results['demo'])} | | |",
    ]
    note = (
        f"\nPeak memory: {max(n['gongyu']['peak_rss_mib'], w['gongyu']['peak_rss_mib']):,.0f} "
        f"MiB. A process's imports alone (Dagster, Great Expectations, pyiceberg, pandas, DuckDB) "
        f"take {results['imports']['seconds']:.1f} s. Written by `./dev bench shell --demo` "
        f"(2 cores, load average {load:.1f}); [Benchmarks](docs/benchmarks.md) has the rest."
    )
    return "\n".join(rows) + "\n" + note


def main(argv: list[str]) -> int:
    """Build the inputs, measure, print, save `results-shell.json`."""
    parser = argparse.ArgumentParser(prog="./dev bench shell", description=__doc__.split("\n\n")[0])
    parser.add_argument("--narrow-rows", type=int, default=5_000_000, help="narrow rows (5M)")
    parser.add_argument("--wide-rows", type=int, default=10_000_000, help="wide rows (10M)")
    parser.add_argument("--only", choices=["narrow", "wide"], help="measure one input only")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each process (best kept)")
    parser.add_argument("--demo", action="store_true", help="also time `gongyu demo --no-serve`")
    parser.add_argument("--profile", action="store_true", help="cProfile each `gongyu run`")
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)

    def run() -> dict[str, Any]:
        found: dict[str, Any] = {}
        floor = [sys.executable, "-c", IMPORT_FLOOR]
        found["imports"] = repeated(lambda: timed(floor, WORK / "shell-imports.log"), args.repeat)
        inputs = {"narrow": (NARROW, args.narrow_rows), "wide": (KOROAD, args.wide_rows)}
        for name, (source, rows) in inputs.items():
            if args.only in (None, name):
                print(f"{name}: {rows:,} rows…", flush=True)
                found[name] = measure(name, source, rows, args.repeat, args.profile)
        if args.demo:
            print("demo…", flush=True)
            found["demo"] = demo(args.repeat)
        return found

    results = under_load(run)
    results["targets"] = targets(results)
    print(render(results))
    save(WORK / "results-shell.json", "shell", vars(args), results)
    defaults = vars(parser.parse_args(["--demo"]))
    if vars(args) == defaults and all(results[n]["gongyu"]["ok"] for n in ("narrow", "wide")):
        update("shell", readme_table(results))
    failed = [n for n in ("narrow", "wide") if n in results and not results[n]["gongyu"]["ok"]]
    for name in failed:
        g = results[name]["gongyu"]
        bad = next(s for s in g.values() if isinstance(s, dict) and not s["ok"])
        print(f"{name}: a gongyu process failed:\n{bad['output']}", file=sys.stderr)
    return 1 if failed else 0
