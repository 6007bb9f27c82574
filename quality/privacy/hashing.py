"""HMAC-SHA-256 of many short values, in this process or in a helper process meanwhile.

HMAC(K, m) = H((K0 ^ opad) || H((K0 ^ ipad) || m)) (RFC 2104), as `hmac.new` computes it. The
two keyed SHA-256 states are made once and copied per value, which costs half of copying an
`hmac` object. hashlib holds the GIL for short inputs, so the other core is reached through a
process: `python -m quality.privacy.hashing`, which imports nothing but the standard library,
reads the key and then jobs (offsets and bytes of the values) from stdin, and answers each
with its digests.
"""

from __future__ import annotations

import hashlib
import os
import queue
import struct
import subprocess
import sys
import threading
from contextlib import suppress
from typing import BinaryIO

BLOCK = 64  # SHA-256's block size in bytes: the HMAC key is padded (or hashed) to it
DIGEST = 32
_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))
_HEADER = struct.Struct("<QQ")  # values in the job, bytes of their data
_KEY = struct.Struct("<I")
# Below this many values a column is hashed here: the pipe would cost more than it saves.
MIN_SHARED = 4_000


class Keyed:
    """HMAC-SHA-256 under one key; `digests` of many values, concatenated."""

    def __init__(self, key: bytes) -> None:
        if len(key) > BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(BLOCK, b"\0")
        self._inner = hashlib.sha256(key.translate(_IPAD))
        self._outer = hashlib.sha256(key.translate(_OPAD))

    def digests(self, values: list[bytes]) -> bytes:
        """The 32-byte HMAC of each value, in order, as one bytes object."""
        inner, outer = self._inner.copy, self._outer.copy
        out = []
        for value in values:
            i = inner()
            i.update(value)
            o = outer()
            o.update(i.digest())
            out.append(o.digest())
        return b"".join(out)


def split(offsets: bytes, data: bytes) -> list[bytes]:
    """Values from Arrow's layout: int32 offsets (count + 1 of them) into `data`."""
    ends = memoryview(offsets).cast("i")
    return [data[ends[j] : ends[j + 1]] for j in range(len(ends) - 1)]


class Helper:
    """The helper process, started on first use; `close` ends it (also on exit of `with`).

    Jobs are answered in the order sent. A thread writes them, so sending the next job while
    the helper waits for the last answer to be read cannot block both processes.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._proc: subprocess.Popen[bytes] | None = None
        self._jobs: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._unanswered = 0  # jobs sent and not yet received

    def __enter__(self) -> Helper:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, offsets: bytes, data: bytes) -> None:
        """Hand the helper one job (values as `split` reads them); `receive` gets its digests."""
        if self._proc is None:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
            # The key goes through the pipe, never argv or the environment (both are visible
            # to other users through /proc).
            self._jobs.put(_KEY.pack(len(self._key)) + self._key)
            self._writer = threading.Thread(
                target=self._write, args=(self._proc.stdin,), daemon=True
            )
            self._writer.start()
        count = len(offsets) // 4 - 1
        self._jobs.put(_HEADER.pack(count, len(data)) + offsets + data)
        self._unanswered += 1

    def _write(self, stdin: BinaryIO) -> None:
        # A broken pipe means the helper ended: `receive` and `close` report it.
        with suppress(BrokenPipeError), stdin:
            while (job := self._jobs.get()) is not None:
                stdin.write(job)
                stdin.flush()

    def receive(self, count: int) -> bytes:
        """The digests of the oldest job not yet received (`count` values)."""
        assert self._proc is not None and self._proc.stdout is not None
        self._unanswered -= 1
        return _exactly(self._proc.stdout, count * DIGEST)

    def close(self) -> None:
        """End the helper: it exits when its stdin closes (or, if answers are left unread
        after an error, when it cannot write them)."""
        if self._proc is None:
            return
        proc, self._proc = self._proc, None
        assert self._writer is not None and proc.stdout is not None
        self._jobs.put(None)
        # Closed first, so a helper blocked writing an unread answer fails instead of waiting.
        proc.stdout.close()
        self._writer.join()
        if proc.wait(timeout=10) != 0 and not self._unanswered:
            raise RuntimeError(f"the HMAC helper process exited with {proc.returncode}")


def _exactly(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise RuntimeError("the HMAC helper process ended before answering")
    return data


def serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    """The helper's loop: a key, then jobs until stdin closes; digests answered per job."""
    (size,) = _KEY.unpack(_exactly(stdin, _KEY.size))
    keyed = Keyed(_exactly(stdin, size))
    while header := stdin.read(_HEADER.size):
        count, length = _HEADER.unpack(header)
        offsets = _exactly(stdin, (count + 1) * 4)
        stdout.write(keyed.digests(split(offsets, _exactly(stdin, length))))
        stdout.flush()


if __name__ == "__main__":
    try:
        serve(sys.stdin.buffer, sys.stdout.buffer)
    except BrokenPipeError:
        # The gate stopped reading answers (it failed, and says why): leave without noise.
        os._exit(1)
