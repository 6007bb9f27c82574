"""Vectorised checksums and masks for the privacy detectors.

Every check takes an Arrow array of digit-only strings (nulls allowed) and returns a NumPy bool
array, computed over a digit matrix built straight from the Arrow buffers: no Python per row.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

RRN_WEIGHTS = np.array([2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5])
BRN_WEIGHTS = np.array([1, 3, 7, 1, 3, 7, 1, 3, 5])
DAYS = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def digit_matrix(digits: pa.Array, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Right-aligned (n, width) digit matrix (zero padded) and each value's length.

    Reads the string data buffer directly, so a million cells cost a few array operations.
    Nulls count as empty strings.
    """
    if isinstance(digits, pa.ChunkedArray):
        digits = digits.combine_chunks()
    arr = pc.fill_null(digits.cast(pa.large_string()), "")
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + n + 1]
    data_buf = arr.buffers()[2]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, "u1")
    lengths = np.diff(offsets)
    if len(data) == 0:
        return np.zeros((n, width), dtype=np.int64), lengths
    cols = np.arange(width)
    idx = offsets[1:, None] - width + cols  # last digit lands in the last column
    inside = cols >= width - lengths[:, None]
    mat = np.where(inside, data[np.clip(idx, 0, len(data) - 1)].astype(np.int64) - 48, 0)
    return mat, lengths


def _leap(year: np.ndarray) -> np.ndarray:
    return ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)


def rrn_parts(digits: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For 13-digit registration numbers: valid date, G digit, and mod-11 check digit valid."""
    d, lengths = digit_matrix(digits, 13)
    g = d[:, 6]
    yy = d[:, 0] * 10 + d[:, 1]
    mm = d[:, 2] * 10 + d[:, 3]
    dd = d[:, 4] * 10 + d[:, 5]
    # G: 1,2,5,6 born 1900s; 3,4,7,8 born 2000s (9/0 for 1800s are not accepted: no one alive).
    century = np.where(np.isin(g, [3, 4, 7, 8]), 2000, 1900)
    year = century + yy
    month_ok = (mm >= 1) & (mm <= 12)
    max_day = DAYS[np.clip(mm, 0, 12)] - ((mm == 2) & ~_leap(year))
    born = (year <= date.today().year) & (lengths == 13)  # a 2000s G digit with YY=95 is no one
    date_ok = born & month_ok & (dd >= 1) & (dd <= max_day)
    check = (11 - (d[:, :12] @ RRN_WEIGHTS) % 11) % 10
    return date_ok, g, check == d[:, 12]


def brn_valid(digits: pa.Array) -> np.ndarray:
    """사업자등록번호 check digit: weights 1,3,7,1,3,7,1,3,5 plus floor(d9*5/10)."""
    d, lengths = digit_matrix(digits, 10)
    total = d[:, :9] @ BRN_WEIGHTS + (d[:, 8] * 5) // 10
    return (lengths == 10) & ((10 - total % 10) % 10 == d[:, 9])


def luhn_valid(digits: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Luhn check over up to 19 digits; also returns the lengths (for IIN/length rules)."""
    d, lengths = digit_matrix(digits, 19)
    from_right = np.arange(19)[::-1]  # position counted from the last digit
    doubled = d * 2
    doubled = np.where(doubled > 9, doubled - 9, doubled)
    summed = np.where(from_right % 2 == 1, doubled, d).sum(axis=1)
    return (lengths > 0) & (summed % 10 == 0), lengths


def card_prefix_ok(digits: pa.Array, lengths: np.ndarray) -> np.ndarray:
    """Known IIN range with the lengths its schemes issue.

    Lengths are deliberately narrow: a 13-digit Visa would collide with hyphen-less
    resident numbers of people born in the 1940s, and 9-prefixed domestic cards are 16 digits.
    """
    d, _ = digit_matrix(digits, 19)
    # Left-align the first four digits from the right-aligned matrix.
    start = 19 - lengths
    rows = np.arange(len(lengths))
    first4 = np.zeros(len(lengths), dtype=np.int64)
    for k in range(4):  # four columns, not rows: still vectorised
        first4 = first4 * 10 + d[rows, np.clip(start + k, 0, 18)]
    p1, p2 = first4 // 1000, first4 // 100
    n = lengths
    visa = (p1 == 4) & np.isin(n, [16, 19])
    master = (((p2 >= 51) & (p2 <= 55)) | ((first4 >= 2221) & (first4 <= 2720))) & (n == 16)
    amex = np.isin(p2, [34, 37]) & (n == 15)
    jcb = (p2 == 35) & (n >= 16) & (n <= 19)
    six = (p1 == 6) & (n >= 16) & (n <= 19)
    domestic = (p1 == 9) & (n == 16)
    return visa | master | amex | jcb | six | domestic


def mask(detector: str, value: str) -> str:
    """The masked form of one matched value; only these ever leave the detector."""
    digits = "".join(ch for ch in value if ch.isdigit())
    if detector in ("resident_registration_number", "foreigner_registration_number"):
        return f"{digits[:6]}-{digits[6:7]}******"
    if detector == "business_registration_number":
        return f"{digits[:3]}-{digits[3:5]}-*****"
    if detector == "mobile_phone":
        return f"{digits[:3]}-****-{digits[-4:]}"
    if detector == "landline_phone":
        if digits.startswith("02"):
            return f"02-****-{digits[-4:]}"
        if digits.startswith("0"):
            return f"{digits[:3]}-****-{digits[-4:]}"
        return f"{digits[:4]}-****"  # 1588-style service number
    if detector == "email":
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    if detector == "payment_card":
        return f"{digits[:4]} **** **** {digits[-4:]}"
    if detector == "person_name":
        return value[:1] + "*" * (len(value) - 1)
    return "*" * len(value)
