"""CP949 through glibc's iconv: the same text as Python's codec, the same report of bad bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from quality.decoding import DecodeFailure, TextEncoding
from quality.transcoding import IconvStream, Utf8Stream, scan, utf8_stream
from tests.conftest import data_file

CP949 = TextEncoding("cp949", "cp949")
UHC = ["finance_insurance/hira_drug_master_active_ingredients.csv",  # 럄 and other UHC syllables
       "industry_sme/kotra_overseas_korean_companies.csv"]  # fmt: skip


def read_all(stream) -> bytes:
    with stream:
        return b"".join(iter(lambda: stream.read(1 << 20), b""))


@pytest.mark.parametrize("relative", UHC)
def test_iconv_decodes_as_python_does(relative: str) -> None:
    path = data_file(relative)
    stream = utf8_stream(path, CP949)
    assert isinstance(stream, IconvStream)
    assert read_all(stream) == path.read_bytes().decode("cp949").encode("utf-8")


def test_iconv_failure_is_located_by_python(tmp_path: Path) -> None:
    good = data_file(UHC[0]).read_bytes()
    cut = good.index(b"\n", len(good) // 2) + 1
    path = tmp_path / "bad.csv"
    path.write_bytes(good[:cut] + b"\xff\xfe,x\r\n" + good[cut:])
    expected = scan(path, CP949)
    assert expected is not None and expected.offset == cut
    with pytest.raises(DecodeFailure) as failure:
        read_all(utf8_stream(path, CP949))
    got = failure.value
    assert (got.offset, got.line, got.bad) == (expected.offset, expected.line, expected.bad)
    with pytest.raises(DecodeFailure):
        read_all(Utf8Stream(path, CP949))
