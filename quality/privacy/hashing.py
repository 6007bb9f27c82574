"""HMAC-SHA-256 of many short values.

HMAC(K, m) = H((K0 ^ opad) || H((K0 ^ ipad) || m)) (RFC 2104), as `hmac.new` computes it. The
two keyed SHA-256 states are made once and copied per value, which costs half of copying an
`hmac` object. hashlib holds the GIL for short inputs: the other core is reached through a
process (`pseudonym_batches`).
"""

from __future__ import annotations

import hashlib

BLOCK = 64  # SHA-256's block size in bytes: the HMAC key is padded (or hashed) to it
DIGEST = 32
_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))


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
