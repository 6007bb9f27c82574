"""Whole files to UTF-8 for the Arrow readers: glibc's iconv for CP949, Python's codecs else.

CP949 is the usual legacy encoding of Korean deliveries, and Python's codec decodes it at
~90 MB/s while holding the GIL, so the parser and the caster wait for it. glibc's `iconv`
decodes it in a child process (~350 MB/s, on the other core) and maps every CP949 code exactly
as Python's `cp949` does (checked over the whole code space: 17,176 codes, invalid pairs
rejected by both). When iconv stops at bad bytes, Python's codec locates them for the report.
"""

from __future__ import annotations

import codecs
import contextlib
import fcntl
import io
import shutil
import subprocess
from pathlib import Path

from quality.decoding import DecodeFailure, TextEncoding

CHUNK_BYTES = 1 << 18  # small: decoding holds the GIL, and the caster needs it often
ICONV_NAMES = {"cp949": "CP949"}  # Python codec → iconv name, where both map identically
PIPE_BYTES = 1 << 20  # a larger pipe: fewer wake-ups between iconv and the reader
F_SETPIPE_SZ = 1031  # Linux fcntl; not exported by Python 3.11's fcntl module


def utf8_stream(path: Path, enc: TextEncoding) -> io.RawIOBase:
    """`path` as a UTF-8 byte stream: through iconv when it decodes `enc` exactly, else Python."""
    name = ICONV_NAMES.get(enc.codec)
    if name and not enc.bom and shutil.which("iconv"):
        return IconvStream(path, enc, name)
    return Utf8Stream(path, enc)


class IconvStream(io.RawIOBase):
    """A file decoded by `iconv -f <name> -t UTF-8` in a child process.

    At the end of the output, a failed iconv means bytes it could not decode: the file is then
    decoded again with Python's codec to raise `DecodeFailure` at exactly the place (offset,
    line, bytes) a Python-decoded read reports.
    """

    def __init__(self, path: Path, enc: TextEncoding, name: str) -> None:
        super().__init__()
        self._path, self._enc = path, enc
        self._proc = subprocess.Popen(
            ["iconv", "-f", name, "-t", "UTF-8", str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self._proc.stdout is not None
        self._out = self._proc.stdout
        with contextlib.suppress(OSError):  # the default 64 KiB pipe still works
            fcntl.fcntl(self._out.fileno(), F_SETPIPE_SZ, PIPE_BYTES)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._out.read(size) if size >= 0 else self._out.read()
        at_end = size < 0 or len(data) < size  # end of iconv's output
        if at_end and self._proc.wait() != 0:
            raise scan(self._path, self._enc) or DecodeFailure(self._enc.label, 0, 1, b"")
        return data

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if self._proc.poll() is None:  # left early (a bad row, an error): stop iconv
            self._proc.kill()
        self._out.close()
        self._proc.wait()
        super().close()


class Utf8Stream(io.RawIOBase):
    """A file decoded with `enc` and re-encoded as UTF-8, chunk by chunk (for pyarrow readers).

    Raises `DecodeFailure` (through pyarrow, which re-raises Python errors) at the first byte
    the encoding cannot decode. Serves exactly the bytes asked for, so callers never mistake a
    short read for the end of the file.
    """

    def __init__(self, path: Path, enc: TextEncoding, chunk: int = CHUNK_BYTES) -> None:
        super().__init__()
        self._file = open(path, "rb")  # noqa: SIM115 - closed in close()
        self._file.seek(enc.bom)
        self._enc = enc
        self._decoder = codecs.getincrementaldecoder(enc.codec)("strict")
        self._chunk = chunk
        self._offset = enc.bom  # file offset of the next raw chunk
        self._lines = 0  # newlines already decoded, for error positions
        self._parts: list[bytes] = []
        self._size = 0
        self._eof = False

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._file.close()
        super().close()

    def _fill(self) -> None:
        raw = self._file.read(self._chunk)
        pending = self._decoder.getstate()[0]
        try:
            text = self._decoder.decode(raw, final=not raw)
        except UnicodeDecodeError as err:
            self._fail(pending + raw, err, self._offset - len(pending))
        self._offset += len(raw)
        self._eof = not raw
        out = text.encode("utf-8")
        if out:
            self._lines += out.count(b"\n")
            self._parts.append(out)
            self._size += len(out)

    def _fail(self, data: bytes, err: UnicodeDecodeError, base: int) -> None:
        good = data[: err.start].decode(self._enc.codec, "replace")
        line = self._lines + good.count("\n") + 1
        raise DecodeFailure(self._enc.label, base + err.start, line, data[err.start : err.end])

    def read(self, size: int = -1) -> bytes:
        while (size < 0 or self._size < size) and not self._eof:
            self._fill()
        data = b"".join(self._parts)
        if 0 <= size < len(data):
            data, rest = data[:size], data[size:]
            self._parts, self._size = [rest], len(rest)
        else:
            self._parts, self._size = [], 0
        return data

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def scan(path: Path, enc: TextEncoding) -> DecodeFailure | None:
    """Decode the whole file with Python's codec without keeping it; the first failure, if any."""
    with Utf8Stream(path, enc) as stream:
        try:
            while stream.read(CHUNK_BYTES * 4):
                pass
        except DecodeFailure as failure:
            return failure
    return None
