"""Keyed pseudonyms: HKDF vectors, key files, stability, sectors, rotation and nulls."""

from __future__ import annotations

import base64
import hashlib
import hmac
import stat
from pathlib import Path

import pyarrow as pa
import pytest

from quality.privacy.pseudonym_batches import FOLDER_PREFIX, PseudonymBatches
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
from quality.results import ROW
from quality.spill import SPILL_NAME, Spill, batches

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


def test_pseudonyms_made_by_the_helper_process_match_direct_hmac(
    key_file: Path, tmp_path: Path
) -> None:
    """A spill with enough values to go to the helper process: each batch's pseudonyms, asked
    for twice (a publish attempted again), equal `hmac.new`'s and those made in this process,
    whichever process made them."""
    keyring = load_keyring(key_file)
    master = keyring.keys[1].key.get_secret_value()
    sector_key = hkdf(master, INFO_PREFIX + b"health")
    rows = 150_000
    rrn = [f"{900101 + i % 9999:06d}{2000000 + i:07d}" for i in range(rows)]
    phone = [
        None if i % 1000 == 5 else f"010-{i // 10000:04d}-{i % 10000:04d}" for i in range(rows)
    ]
    table = pa.table({"rrn": rrn, "phone": phone, ROW: pa.array(range(rows), pa.int64())})
    spill = tmp_path / "work" / SPILL_NAME
    with Spill(spill, table.schema) as out:
        for start in range(0, rows, 40_000):  # pieces as the caster writes them
            out.write(table.slice(start, 40_000))
    made = PseudonymBatches(spill, ["rrn", "phone"], keyring, "health")
    try:
        assert list(spill.parent.glob(FOLDER_PREFIX + "*"))  # the helper's path, not this one's
        here = Pseudonymiser.of_sector(keyring, "health")
        for _ in range(2):
            read = batches(spill, table.schema)
            for i, batch in enumerate(read):
                got = made.for_batch(i, batch)
                assert [c.to_pylist() for c in got] == [
                    here(batch["rrn"]).to_pylist(),
                    here(batch["phone"]).to_pylist(),
                ]
            assert i == 3
        # Asked at once, before the helper had started: this process made the last batches
        # while it waited, the helper the first (they met in the middle).
        assert made._done >= 1 and made._tail < 4
    finally:
        made.close()
    first = made.for_batch(0, next(iter(batches(spill, table.schema))))
    for j in range(0, 40_000, 997):
        mac = hmac.new(sector_key, rrn[j].encode(), hashlib.sha256).hexdigest()
        assert first[0][j].as_py() == "p1_" + mac[:32]
        assert (first[1][j].as_py() is None) == (phone[j] is None)


def test_a_failed_pseudonym_helper_is_an_error_not_a_wait(key_file: Path, tmp_path: Path) -> None:
    """A helper that fails (here: asked for a column the spill lacks) ends; asking for its
    batch says so, with the helper's own error."""
    spill = tmp_path / SPILL_NAME
    table = pa.table({"rrn": [f"{i:013d}" for i in range(250_000)], ROW: range(250_000)})
    with Spill(spill, table.schema) as out:
        out.write(table)
    made = PseudonymBatches(spill, ["mobile"], load_keyring(key_file), "health")
    try:
        with pytest.raises(RuntimeError, match=r"(?s)pseudonym helper process ended.*mobile"):
            made.for_batch(0, table.to_batches()[0])
    finally:
        made.close()
