"""Crash consistency: SIGKILL `process_delivery` at random points, then check and recover.

`python -m tests.crash.run --kills 50` prints the figure: kills, converged, lost, double-published.

Each trial delivers a new slice of a real append-mode file (KoROAD fatal accidents, so publishing
a delivery twice would show as extra rows), starts a child process on it, and kills it after a
seeded random delay spread over an uninterrupted run's duration. After each kill: `main` is its
old snapshot or the complete publish of that delivery, never partial; no delivery is in `main`'s
history twice; the ledger holds the delivery in a recoverable state; the raw file's bytes and
hash are intact. Recovery then processes every pending delivery again. At the end the table
equals the one an uninterrupted workspace built from the same deliveries.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from catalog.deliveries import PENDING, Delivery, DeliveryState
from catalog.lakehouse import SUMMARY_PREFIX, main_history, row_count
from gongyu.delivery.way import process_delivery
from gongyu.ground.settings import Settings
from gongyu.platform import Platform

REPO = Path(__file__).resolve().parents[2]
DATASET = "koroad_fatal_traffic_accidents"
SOURCE = REPO / "data" / "welfare_safety" / "koroad_fatal_traffic_accidents_2020.csv"
SLICE_ROWS = 600  # rows per delivery: each trial delivers a different slice of the file
LEASE_SECONDS = 1.0  # short, so a killed run's delivery is pending again soon after the kill


@dataclass
class Figure:
    """What a crash run found."""

    kills: int = 0
    survived: int = 0  # the child finished before its kill came
    after_publish: int = 0  # kills that came after `main` moved to the delivery
    converged: int = 0
    lost: int = 0
    double_published: int = 0
    partial: int = 0
    raw_damaged: int = 0
    run_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing was lost, doubled, partial or damaged and every trial converged."""
        return not self.problems and self.converged == self.kills + self.survived

    def line(self) -> str:
        """The figure as one line."""
        return (
            f"crash consistency: {self.kills} kills (+{self.survived} runs finished first), "
            f"{self.after_publish} of them after main moved, {self.converged} converged, "
            f"lost {self.lost}, double-published {self.double_published}, "
            f"partial {self.partial}, raw damaged {self.raw_damaged}; "
            f"uninterrupted run {self.run_seconds:.2f} s"
        )


def delivery_file(folder: Path, trial: int) -> Path:
    """The trial's delivery: the header and a slice of rows of the real file, in its encoding."""
    lines = SOURCE.read_bytes().splitlines(keepends=True)
    header, rows = lines[0], [ln for ln in lines[1:] if ln.strip()]
    start = (trial * 7) % (len(rows) - SLICE_ROWS)  # distinct bytes for hundreds of trials
    path = folder / f"koroad_{trial:03d}.csv"
    path.write_bytes(header + b"".join(rows[start : start + SLICE_ROWS]))
    return path


def workspace(home: Path) -> Platform:
    """A fresh platform on `home` with the shipped contracts."""
    return Platform(Settings(home=home, delivery_lease_seconds=LEASE_SECONDS))


def main_state(platform: Platform) -> tuple[int | None, int, list[str]]:
    """`main`'s snapshot id, its rows, and the deliveries in its history (newest first)."""
    table = platform.lakehouse.table(platform.contract(DATASET))
    key = f"{SUMMARY_PREFIX}delivery"
    history = main_history(table)
    named = [(table.snapshot_by_id(s).summary or {}).get(key) for s in history]  # type: ignore[union-attr]
    current = table.metadata.current_snapshot_id
    return current, row_count(table, current), [d for d in named if d]


def child(home: Path, delivery_id: str) -> subprocess.Popen[str]:
    """Start the child process on a delivery and wait until it is ready to work."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "GONGYU_DELIVERY_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.crash.child", str(home), delivery_id],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        raise RuntimeError(f"crash child did not start: {line!r}")
    return proc


def uninterrupted(home: Path, files: list[Path], *, timed: bool = False) -> tuple[pa.Table, float]:
    """The table built from `files` without a crash, and (when `timed`) the mean run time of
    the child process after it is ready, in seconds; untimed runs stay in this process."""
    platform = workspace(home)
    contract = platform.contract(DATASET)
    times = []
    for file in files:
        delivery, _ = platform.deliver(contract.id, file)
        if timed:
            proc = child(home, delivery.delivery_id)
            started = time.perf_counter()
            proc.wait()
            times.append(time.perf_counter() - started)
            assert proc.returncode == 0, f"uninterrupted run failed for {file.name}"
        else:
            process_delivery(platform, delivery.delivery_id)
        assert platform.deliveries.get(delivery.delivery_id).state == DeliveryState.published
    return table_rows(platform), sum(times) / len(times) if times else 0.0


def table_rows(platform: Platform) -> pa.Table:
    """`main`'s rows in a fixed order, to compare two workspaces."""
    table = platform.lakehouse.table(platform.contract(DATASET)).scan().to_arrow()
    return table.sort_by([(name, "ascending") for name in table.column_names])


def raw_intact(platform: Platform, delivery: Delivery, file: Path) -> bool:
    """The landed raw file still holds the delivered bytes and hash."""
    with platform.landing.local(delivery.landing_key) as landed:
        data = landed.read_bytes()
    return data == file.read_bytes() and hashlib.sha256(data).hexdigest() == delivery.content_hash


def trial(
    platform: Platform, home: Path, file: Path, delay: float, figure: Figure, number: int
) -> float | None:
    """Deliver `file`, kill its run after `delay` seconds, check, recover, check again.

    Returns how long the run took when it finished before the kill came."""
    delivery, _ = platform.deliver(DATASET, file)
    before_id, before_rows, _ = main_state(platform)
    proc = child(home, delivery.delivery_id)
    started = time.perf_counter()
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finished = time.perf_counter() - started if proc.returncode == 0 else None
    if proc.returncode == -signal.SIGKILL:
        figure.kills += 1
    else:
        figure.survived += 1
    where = f"trial {number} ({delay:.3f} s)"

    current, rows, history = main_state(platform)
    state = platform.deliveries.get(delivery.delivery_id)
    in_main = history.count(delivery.delivery_id)
    if in_main > 1 or len(history) != len(set(history)):
        figure.double_published += 1
        figure.problems.append(f"{where}: delivery twice in main's history")
    if current == before_id:
        if rows != before_rows:
            figure.partial += 1
            figure.problems.append(f"{where}: main at its old snapshot with {rows} rows")
    elif in_main == 1 and history[0] == delivery.delivery_id:
        figure.after_publish += proc.returncode == -signal.SIGKILL
    else:
        figure.partial += 1
        figure.problems.append(f"{where}: main moved to a snapshot not of this delivery")
    if state.state not in PENDING and not (state.state == DeliveryState.published and in_main == 1):
        figure.lost += 1
        figure.problems.append(f"{where}: ledger says {state.state.value}, main disagrees")
    if not raw_intact(platform, state, file):
        figure.raw_damaged += 1
        figure.problems.append(f"{where}: the raw file changed")

    # Recovery: once the killed worker's lease lapses the delivery is pending again (what the
    # sensor launches runs for), and is processed again.
    if state.state == DeliveryState.validating and state.lease_until is not None:
        until = state.lease_until.replace(tzinfo=state.lease_until.tzinfo or UTC)  # SQLite: naive
        time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.05)
    pending = platform.deliveries.pending(DATASET)
    if state.state in PENDING and [d.delivery_id for d in pending] != [delivery.delivery_id]:
        figure.lost += 1
        figure.problems.append(f"{where}: {state.state.value} but not picked up again")
    for waiting in pending:
        process_delivery(platform, waiting.delivery_id)
    state = platform.deliveries.get(delivery.delivery_id)
    current, rows, history = main_state(platform)
    if state.state != DeliveryState.published or history.count(delivery.delivery_id) != 1:
        figure.lost += state.state != DeliveryState.published
        figure.problems.append(f"{where}: after recovery {state.state.value}, in main {history}")
    elif rows != before_rows + state.rows:
        figure.double_published += 1
        figure.problems.append(f"{where}: {rows} rows after recovery, expected base + delivery")
    elif str(current) != state.snapshot_id:
        figure.problems.append(f"{where}: ledger snapshot {state.snapshot_id}, main {current}")
    else:
        figure.converged += 1
    stale = [
        b for b in platform.lakehouse.table(platform.contract(DATASET)).metadata.refs if b != "main"
    ]
    if stale:
        figure.problems.append(f"{where}: branches left after recovery: {stale}")
    return finished


def crash_run(kills: int, seed: int = 8, folder: Path | None = None) -> Figure:
    """Run `kills` crash trials; returns the figure."""
    figure = Figure()
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        root = Path(tmp)
        # Timing first, on a workspace of its own: the kills are spread over a run's duration.
        timing = [delivery_file(root, i) for i in range(2)]
        _, figure.run_seconds = uninterrupted(root / "timing", timing, timed=True)
        rng = random.Random(seed)
        home = root / "crashed"
        platform = workspace(home)
        # A little past the measured run: the last steps (reports, ledger) are killed too.
        spread, files = 1.1 * figure.run_seconds, []
        while figure.kills < kills and len(files) < 3 * kills:
            files.append(delivery_file(root, len(files)))
            delay = rng.uniform(0, spread)
            finished = trial(platform, home, files[-1], delay, figure, len(files) - 1)
            if finished is not None:  # a run that beat its kill: the spread follows real runs
                spread = 0.5 * spread + 0.5 * 1.1 * finished
        expected, _ = uninterrupted(root / "reference", files)
        if not table_rows(platform).equals(expected):
            figure.problems.append("the recovered table differs from the uninterrupted one")
            figure.converged = 0
    return figure


def main() -> None:
    """Print the crash figure; exit 1 when anything was lost, doubled or partial."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args()
    figure = crash_run(args.kills, args.seed)
    print(figure.line())
    for problem in figure.problems:
        print(" ", problem)
    sys.exit(0 if figure.ok else 1)


if __name__ == "__main__":
    main()
