"""Pseudonyms of a delivery's direct identifiers, made while the rest of the gate runs.

Keyed hashing costs ~1 µs of Python per distinct value and holds the GIL, and it depends on
nothing the checks decide (withheld rows are dropped after, generalisation never touches a
direct identifier). So once the gate has spilled a large delivery, a helper process
(`python -m quality.privacy.pseudonym_batches`) reads the spill's direct-identifier columns
and writes their pseudonyms beside it, one small Arrow file per spill batch, while this
process runs GX and the privacy screen on the other core; release then takes batch i's
pseudonyms as soon as the helper announces it. The key reaches the helper through its stdin,
never argv or the environment (both visible to other users through /proc).

A delivery in memory, or one with few values to hash, is pseudonymised here, batch by batch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.ipc as ipc

from quality.privacy.pseudonyms import Keyring, Pseudonymiser
from quality.spill import Typed, column_batches, num_rows

# Below this many values to hash, starting a process costs more than it saves.
MIN_HELPER_VALUES = 200_000
FOLDER = "pseudonyms"


class PseudonymBatches:
    """The pseudonyms of a typed delivery's `columns` under a sector's current key, per batch.

    Started by the gate as soon as the delivery is typed; asked for as often as a publish is
    attempted. `close` ends a helper still running (the gate failed, or the publish did).
    """

    def __init__(self, typed: Typed, columns: list[str], keyring: Keyring, sector: str) -> None:
        self.typed, self.columns = typed, columns
        self.keyring, self.sector = keyring, sector
        self.version = keyring.current
        self._proc: subprocess.Popen[bytes] | None = None
        self._done = 0  # batches the helper has announced
        self._folder: Path | None = None
        self._pseudonyms: Pseudonymiser | None = None
        if isinstance(typed, Path) and num_rows(typed) * len(columns) >= MIN_HELPER_VALUES:
            self._start(typed)

    def _start(self, spill: Path) -> None:
        self._folder = spill.parent / FOLDER
        self._folder.mkdir(parents=True, exist_ok=True)
        self._log = self._folder / "helper.log"
        with open(self._log, "wb") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", __name__],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
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
        `spill.batches` reads it): the helper's, once it has written them, or made here."""
        if self._folder is None:
            return [self._here(batch[name]) for name in self.columns]
        while i >= self._done:
            self._wait()
        with ipc.open_file(pa.OSFile(str(self._folder / _name(i)))) as reader:
            made = reader.get_batch(0)
        if made.num_rows != batch.num_rows:
            raise RuntimeError(
                f"pseudonyms of batch {i}: {made.num_rows} rows, not {batch.num_rows}"
            )
        return list(made.columns)

    def _here(self, values: pa.Array) -> pa.Array:
        if self._pseudonyms is None:
            self._pseudonyms = Pseudonymiser.of_sector(self.keyring, self.sector, self.version)
        return self._pseudonyms(values)

    def _wait(self) -> None:
        """Wait for the helper's next batch; an error if it ended without writing it."""
        if self._proc is None:
            raise RuntimeError("the pseudonym helper process has ended")
        assert self._proc.stdout is not None
        if self._proc.stdout.readline():
            self._done += 1
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


def serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    """The helper: a job line and the key on stdin; a line on stdout per batch written."""
    job = json.loads(stdin.readline())
    key = stdin.read()
    out = Path(job["out"])
    pseudonyms = Pseudonymiser(key, job["version"])
    for i, batch in enumerate(column_batches(Path(job["spill"]), job["columns"])):
        made = [pseudonyms(column) for column in batch.columns]
        done = pa.RecordBatch.from_arrays(made, names=batch.schema.names)
        tmp = out / f".{_name(i)}.tmp"
        with ipc.new_file(tmp, done.schema) as writer:
            writer.write_batch(done)
        os.replace(tmp, out / _name(i))
        stdout.write(b"%d\n" % i)
        stdout.flush()


if __name__ == "__main__":
    try:
        serve(sys.stdin.buffer, sys.stdout.buffer)
    except BrokenPipeError:
        # The gate stopped reading (it failed, and says why): leave without noise.
        os._exit(1)
