"""Pseudonyms of a delivery's direct identifiers, made while the rest of the gate runs.

Keyed hashing costs ~1 µs of Python per distinct value and holds the GIL, and it depends on
nothing the checks decide (withheld rows are dropped after, generalisation never touches a
direct identifier). So once the gate has spilled a large delivery, a helper process
(`python -m quality.privacy.pseudonym_batches`) reads the spill's direct-identifier columns
and writes their pseudonyms beside it, one small Arrow file per spill batch, while this
process runs GX and the privacy screen on the other core; release then takes batch i's
pseudonyms as soon as the helper announces it, and while it waits makes the last batches
itself, so the two meet in the middle. The key reaches the helper through its stdin,
never argv or the environment (both visible to other users through /proc).

A delivery in memory, or one with few values to hash, is pseudonymised here, batch by batch.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
from functools import cached_property
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.ipc as ipc

from quality.privacy.pseudonyms import Keyring, Pseudonymiser
from quality.spill import Typed, batch_count, column_batch, column_batches, num_rows

# Below this many values to hash, starting a process costs more than it saves.
MIN_HELPER_VALUES = 200_000
FOLDER_PREFIX = "pseudonyms-"


class PseudonymBatches:
    """The pseudonyms of a typed delivery's `columns` under a sector's current key, per batch.

    Started by the gate as soon as the delivery is typed; asked for as often as a publish is
    attempted. While the publish waits for the helper, this process makes the last batches
    nobody has made yet, so both cores work to the end. `close` ends a helper still running
    (the gate failed, the publish did, or the helper reached the batches made here).
    """

    def __init__(self, typed: Typed, columns: list[str], keyring: Keyring, sector: str) -> None:
        self.typed, self.columns = typed, columns
        self.keyring, self.sector = keyring, sector
        self.version = keyring.current
        self._proc: subprocess.Popen[bytes] | None = None
        self._folder: Path | None = None
        # Batches below `_done` the helper has written; from `_tail` on, this process has.
        self._done = self._tail = 0
        if isinstance(typed, Path) and num_rows(typed) * len(columns) >= MIN_HELPER_VALUES:
            self._start(typed)

    def _start(self, spill: Path) -> None:
        self._spill, self._tail = spill, batch_count(spill)
        # A folder of this run's own: a helper left by a killed run of the same delivery (it
        # ends at its next announcement) can never write into it.
        self._folder = Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX, dir=spill.parent))
        self._log = self._folder / "helper.log"
        with open(self._log, "wb") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", __name__],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                bufsize=0,  # its announcements are polled: nothing may wait in a buffer
            )
        assert self._proc.stdin is not None
        job = {
            "spill": str(spill),
            "out": str(self._folder),
            "columns": self.columns,
            "version": self.version,
        }
        key = self.keyring.sector_key(self.sector, self.version)
        with self._proc.stdin as stdin:
            stdin.write(json.dumps(job).encode() + b"\n" + key)

    def for_batch(self, i: int, batch: pa.RecordBatch) -> list[pa.Array]:
        """The pseudonyms of the direct-identifier columns of batch `i` (`batch`, as
        `spill.batches` reads it): from the files the helper and this process wrote, or made
        here when there is no helper."""
        if self._folder is None:
            return [self._pseudonyms(batch[name]) for name in self.columns]
        while self._done <= i < self._tail:
            self._catch_up()
        with ipc.open_file(pa.OSFile(str(self._folder / _name(i)))) as reader:
            made = reader.get_batch(0)
        if made.num_rows != batch.num_rows:
            rows = f"{made.num_rows} rows, not {batch.num_rows}"
            raise RuntimeError(f"the pseudonyms of batch {i} have {rows}")
        return list(made.columns)

    @cached_property
    def _pseudonyms(self) -> Pseudonymiser:
        """This process's pseudonymiser, made on first use."""
        return Pseudonymiser.of_sector(self.keyring, self.sector, self.version)

    def _catch_up(self) -> None:
        """Take the helper's news; while it has none, make the last batch nobody has made."""
        if self._proc is None:
            raise RuntimeError("the pseudonym helper process has ended")
        assert self._proc.stdout is not None and self._folder is not None
        out = self._proc.stdout.fileno()
        news = select.select([out], [], [], 0)[0]
        if not news and self._tail - 1 > self._done:  # the helper works on batch `_done`
            self._tail -= 1
            batch = column_batch(self._spill, self.columns, self._tail)
            _write(self._folder, self._tail, batch, self._pseudonyms)
            return
        announced = os.read(out, 4096)
        if announced:
            self._done += announced.count(b"\n")
            if self._done >= self._tail:  # it reached the batches made here: all are written
                self.close()
            return
        code = self._proc.wait()
        self.close()
        tail = self._log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"the pseudonym helper process ended ({code}) early:\n{tail}")

    def close(self) -> None:
        """End the helper if it still runs (its files go with the work folder)."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            assert self._proc.stdout is not None
            self._proc.stdout.close()
            self._proc = None


def _name(i: int) -> str:
    return f"{i:08d}.arrow"


def _write(folder: Path, i: int, batch: pa.RecordBatch, pseudonyms: Pseudonymiser) -> None:
    """Batch `i`'s pseudonyms to its file, whole or not at all (both processes may write it:
    the same bytes, each through a temporary file of its own)."""
    made = [pseudonyms(column) for column in batch.columns]
    done = pa.RecordBatch.from_arrays(made, names=batch.schema.names)
    tmp = folder / f".{_name(i)}.{os.getpid()}.tmp"
    with ipc.new_file(tmp, done.schema) as writer:
        writer.write_batch(done)
    os.replace(tmp, folder / _name(i))


def serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    """The helper: a job line and the key on stdin; a line on stdout per batch written."""
    job = json.loads(stdin.readline())
    key = stdin.read()
    out = Path(job["out"])
    pseudonyms = Pseudonymiser(key, job["version"])
    for i, batch in enumerate(column_batches(Path(job["spill"]), job["columns"])):
        _write(out, i, batch, pseudonyms)
        stdout.write(b"%d\n" % i)
        stdout.flush()


if __name__ == "__main__":
    try:
        serve(sys.stdin.buffer, sys.stdout.buffer)
    except BrokenPipeError:
        # The gate stopped reading (it failed, and says why): leave without noise.
        os._exit(1)
