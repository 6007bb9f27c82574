"""Keyed pseudonyms: HKDF vectors, key files, stability, sectors, rotation and nulls."""

from __future__ import annotations

import base64
import hashlib
import hmac
import stat
from pathlib import Path

import pyarrow as pa
import pytest

from quality.privacy.hashing import MIN_SHARED
from quality.privacy.pseudonyms import (
    INFO_PREFIX,
    Keyring,
    Pseudonymiser,
    generate_key_file,
    hkdf,
    hkdf_expand,
    hkdf_extract,
    load_keyring,
    pseudonymise,
    save_keyring,
)

RRNS = ["8001011234567", "9002022345678", "8001011234567", None, " 8001011234567 "]


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "pseudonym.key"
    generate_key_file(path)
    return path


def test_hkdf_rfc5869_vector_1() -> None:
    ikm = bytes([0x0B] * 22)
    salt = bytes(range(13))
    info = bytes(range(0xF0, 0xFA))
    prk = hkdf_extract(salt, ikm)
    assert prk.hex() == "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5"
    okm = hkdf_expand(prk, info, 42)
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


def test_hkdf_rfc5869_vector_3_empty_salt_and_info() -> None:
    okm = hkdf(bytes([0x0B] * 22), b"", 42)
    assert okm.hex() == (
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
    )


def test_key_file_mode_0600_and_no_overwrite(key_file: Path) -> None:
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):
        generate_key_file(key_file)
    save_keyring(load_keyring(key_file).rotate(), key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [p.name for p in key_file.parent.iterdir()] == [key_file.name]  # no temp left


def test_stable_across_calls_and_loads(key_file: Path) -> None:
    a = pseudonymise(pa.array(RRNS), load_keyring(key_file), "welfare_safety").to_pylist()
    b = pseudonymise(
        pa.chunked_array([RRNS[:2], RRNS[2:]]), load_keyring(key_file), "welfare_safety"
    ).to_pylist()
    assert a == b
    assert a[0] == a[2] == a[4]  # NFC + strip: surrounding spaces do not matter
    assert a[0] != a[1]
    assert a[0].startswith("p1_") and len(a[0]) == 3 + 32


def test_sectors_differ(key_file: Path) -> None:
    keyring = load_keyring(key_file)
    welfare = pseudonymise(pa.array(RRNS[:2]), keyring, "welfare_safety").to_pylist()
    health = pseudonymise(pa.array(RRNS[:2]), keyring, "health").to_pylist()
    assert set(welfare).isdisjoint(health)


def test_rotation(key_file: Path) -> None:
    old = load_keyring(key_file)
    before = pseudonymise(pa.array(RRNS), old, "health").to_pylist()
    save_keyring(old.rotate(), key_file)
    rotated = load_keyring(key_file)
    assert rotated.current == 2
    assert [v for v, _ in rotated.rotations] == [1, 2]
    assert rotated.rotations[0][1] <= rotated.rotations[1][1]
    after = pseudonymise(pa.array(RRNS), rotated, "health").to_pylist()
    assert after[0].startswith("p2_")
    assert after[0][3:] != before[0][3:]
    assert pseudonymise(pa.array(RRNS), rotated, "health", version=1).to_pylist() == before
    with pytest.raises(KeyError):
        pseudonymise(pa.array(RRNS), rotated, "health", version=3)


def test_nulls_stay_null(key_file: Path) -> None:
    keyring = load_keyring(key_file)
    out = pseudonymise(pa.array([None, "a", None], pa.string()), keyring, "health")
    assert out.type == pa.string()
    assert out.to_pylist()[0] is None and out.to_pylist()[2] is None
    assert out.null_count == 2
    assert len(pseudonymise(pa.array([], pa.string()), keyring, "health")) == 0
    assert pseudonymise(pa.nulls(3, pa.string()), keyring, "health").null_count == 3


def test_no_secrets_in_repr_str_or_output(key_file: Path) -> None:
    keyring = load_keyring(key_file).rotate()
    raw = [k.key.get_secret_value() for k in keyring.keys.values()]
    shown = [repr(keyring), str(keyring), repr(keyring.keys[1]), str(keyring.keys[1])]
    shown += [keyring.model_dump_json(), str(keyring.model_dump())]
    out = pseudonymise(pa.array(RRNS), keyring, "health").to_pylist()
    for text in [*shown, str(out)]:
        for key in raw:
            assert base64.b64encode(key).decode() not in text
            assert key.hex() not in text
            assert repr(key) not in text
        assert "8001011234567" not in text


def test_short_key_rejected(tmp_path: Path) -> None:
    path = tmp_path / "short.key"
    short = base64.b64encode(b"x" * 16).decode()
    path.write_text(
        f'{{"current": 1, "keys": {{"1": {{"key": "{short}", '
        f'"created_at": "2026-01-01T00:00:00+00:00"}}}}}}'
    )
    with pytest.raises(ValueError, match="at least 32 bytes"):
        load_keyring(path)


def test_many_rows_few_distinct_match_direct_hmac(key_file: Path) -> None:
    keyring = load_keyring(key_file)
    distinct = [f"{800101 + i:06d}{1000000 + i:07d}" for i in range(1_000)]
    rows = [distinct[(i * 7919) % 1_000] for i in range(100_000)]
    out = pseudonymise(pa.array(rows), keyring, "welfare_safety").to_pylist()
    assert len(out) == 100_000 and len(set(out)) == 1_000
    master = keyring.keys[1].key.get_secret_value()
    sector_key = hkdf(master, INFO_PREFIX + b"welfare_safety")
    for i in range(0, 100_000, 997):
        mac = hmac.new(sector_key, rows[i].encode(), hashlib.sha256).hexdigest()
        assert out[i] == "p1_" + mac[:32]


def test_integer_column_is_cast_to_text(key_file: Path) -> None:
    keyring = load_keyring(key_file)
    ints = pseudonymise(pa.array([8001011234567, None]), keyring, "health").to_pylist()
    text = pseudonymise(pa.array(["8001011234567", None]), keyring, "health").to_pylist()
    assert ints == text


def test_keyring_needs_current_version() -> None:
    fresh = Keyring.new()
    with pytest.raises(ValueError, match="not in the keyring"):
        Keyring(current=5, keys=fresh.keys)


def test_columns_hashed_by_the_helper_process_match_direct_hmac(key_file: Path) -> None:
    """Enough distinct values to go to the helper process; several columns submitted before
    any is collected, each answered in its order and equal to `hmac.new`'s."""
    keyring = load_keyring(key_file)
    master = keyring.keys[1].key.get_secret_value()
    sector_key = hkdf(master, INFO_PREFIX + b"health")
    columns = [
        [f"{900101 + i:06d}{2000000 + i * (c + 1):07d}" for i in range(12_000)] for c in range(3)
    ]
    columns[1][5] = None  # a null stays null on the helper's path too
    assert len(set(columns[0])) > MIN_SHARED  # the helper's path, not this process's
    with Pseudonymiser(keyring, "health") as pseudonyms:
        pending = [pseudonyms.submit(pa.array(column)) for column in columns]
        out = [pseudonyms.collect(p).to_pylist() for p in pending]
    for column, got in zip(columns, out, strict=True):
        assert len(got) == len(column) == len(set(v for v in got if v)) + (None in column)
        for i in range(0, len(column), 499):
            if column[i] is None:
                assert got[i] is None
                continue
            mac = hmac.new(sector_key, column[i].encode(), hashlib.sha256).hexdigest()
            assert got[i] == "p1_" + mac[:32]
    assert out[1][5] is None
