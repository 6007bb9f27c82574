"""Passwords, kept only as argon2id hashes (OWASP's first choice for password storage)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_CHARS = 12
MAX_CHARS = 256
_hasher = PasswordHasher()
# Verified against when a login is unknown, so a wrong login takes as long as a wrong password.
_DECOY = _hasher.hash("not a password of anyone's")


class WeakPassword(ValueError):
    """A password the platform does not accept; the message says which rule it breaks."""


def check_strength(password: str, login: str | None = None) -> None:
    """Raise WeakPassword unless the password is 12–256 characters and not the login."""
    if len(password) < MIN_CHARS:
        raise WeakPassword(f"a password has at least {MIN_CHARS} characters")
    if len(password) > MAX_CHARS:
        raise WeakPassword(f"a password has at most {MAX_CHARS} characters")
    if login and password.strip().lower() == login.strip().lower():
        raise WeakPassword("a password may not be the login")


def hash_password(password: str) -> str:
    """The argon2id hash to store."""
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Whether `password` matches the stored hash; a missing hash never matches (and costs
    the same time as a wrong password)."""
    try:
        return _hasher.verify(stored or _DECOY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False
