"""Time-based one-time passwords (RFC 6238, as authenticator apps make them) and recovery codes.

A code is accepted for its 30-second step and the one either side (clock drift), and only once:
the step of the last code used is kept, and a code of that step or an earlier one is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pyotp

STEP_SECONDS = 30
DRIFT_STEPS = 1
RECOVERY_CODES = 10
# Crockford-like: no 0/O, 1/I/L to misread on paper.
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_secret() -> str:
    """A new shared secret (160 bits, base32) for an authenticator app."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """The `otpauth://` address an authenticator app reads from a QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step whose code `code` is (now, or one step either side); None if none."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = int((time.time() if now is None else now) // STEP_SECONDS)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Ten one-time codes to print and keep (60 bits each), as `XXXX-XXXX-XXXX`."""
    return [
        "-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(3))
        for _ in range(RECOVERY_CODES)
    ]


def recovery_digest(code: str) -> str:
    """What is stored of a recovery code: the SHA-256 of its normalised form (60 random bits
    and a lockout leave nothing for a slow hash to protect)."""
    normal = code.strip().upper().replace("-", "").replace(" ", "")
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()
