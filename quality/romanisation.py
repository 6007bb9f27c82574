"""Lakehouse column names from Korean headers: a glossary of public-data words, else romanised.

`column_name('측정일시')` is `measured_datetime`; `column_name('소재지전체주소')` is
`location_full_address`; a word the glossary lacks is written in the Revised Romanization of
Korean (국어의 로마자 표기법, 2000), syllable by syllable with liaison (금액 → geumaek) and
ㄹㄹ → ll. Further sound changes (assimilation: 국립 is gungnip in RR, gukrip here) are left out:
the name only has to be readable, stable and ASCII, and a steward edits it in the draft anyway.

Written here rather than taken from a package: the maintained Python romanisers are GPL-3.0
(`korean-romanizer`) or unmaintained since 2020 (`hangul-romanize`), and Gongyu is Apache-2.0.
"""

from __future__ import annotations

import re
import unicodedata


def _table(letters: str) -> tuple[str, ...]:
    return tuple(letters.split())


# Revised Romanization: initial consonants, vowels, final consonants (Unicode syllable order).
# `_` stands for nothing (ㅇ as an initial, no final): the tables stay aligned by position.
INITIALS = _table("g kk n d tt r m b pp s ss _ j jj ch k t p h")
VOWELS = _table("a ae ya yae eo e yeo ye o wa wae oe yo u wo we wi yu eu ui i")
# A final before a consonant or at the end (its representative sound) ...
FINALS = _table("_ k k k n n n t l k m l l l p l m p p t t ng t t k t p t")
# ... and before a vowel, where it is carried over as the next syllable's initial (liaison).
FINALS_LIAISON = _table("_ g kk ks n nj n d r lg lm lb ls lt lp r m b ps s ss ng j ch k t p _")
_FIRST, _LAST = 0xAC00, 0xD7A3
_SILENT = 11  # ㅇ as an initial
_RIEUL = 5  # ㄹ as an initial
_RIEUL_FINAL = 8  # ㄹ as a final

# Words common in Korean public-data headers, longest match first (see `_words`). Translations
# are snake_case English; the list is deliberately small: what it lacks is romanised.
GLOSSARY: dict[str, str] = {
    # time
    "연도": "year",
    "년도": "year",
    "연월일시": "datetime",
    "년월일시": "datetime",
    "연월일": "date",
    "년월일": "date",
    "연월": "year_month",
    "년월": "year_month",
    "일시": "datetime",
    "일자": "date",
    "날짜": "date",
    "시각": "time",
    "시간": "time",
    "시간대": "time_band",
    "시점": "time",
    "요일": "weekday",
    "분기": "quarter",
    "기간": "period",
    "기준일": "reference_date",
    "기준": "reference",
    "주야": "day_night",
    # people
    "성별": "sex",
    "나이": "age",
    "연령": "age",
    "연령대": "age_group",
    "생년월일": "birth_date",
    "출생": "birth",
    "이름": "name",
    "성명": "name",
    "국적": "nationality",
    "직업": "occupation",
    "대표자": "representative",
    "담당자": "contact_person",
    "전화번호": "phone",
    "전화": "phone",
    "연락처": "contact",
    "휴대폰": "mobile",
    "휴대전화": "mobile",
    "팩스": "fax",
    "이메일": "email",
    "주민등록번호": "resident_registration_number",
    "인원": "people",
    "남성": "male",
    "여성": "female",
    "남자": "male",
    "여자": "female",
    "종사자": "workers",
    "직원": "staff",
    "피해자": "victim",
    "가해자": "offender",
    "사망자": "deaths",
    "부상자": "injured",
    "환자": "patients",
    # places
    "시도": "sido",
    "시군구": "sigungu",
    "읍면동": "eupmyeondong",
    "행정동": "admin_dong",
    "법정동": "legal_dong",
    "지역": "region",
    "주소": "address",
    "도로명": "road",
    "지번": "lot",
    "소재지": "location",
    "위치": "location",
    "우편번호": "postcode",
    "위도": "latitude",
    "경도": "longitude",
    "좌표": "coord",
    "경찰서": "police_station",
    "관할": "jurisdiction",
    "측정소": "station",
    "정류장": "stop",
    "정류소": "stop",
    "역명": "station_name",
    "호선": "line",
    "전국": "national",
    # things and measures
    "번호": "no",
    "관리번호": "management_no",
    "코드": "code",
    "구분": "type",
    "분류": "category",
    "대분류": "category_major",
    "중분류": "category_middle",
    "소분류": "category_minor",
    "유형": "type",
    "종류": "kind",
    "명칭": "name",
    "상호": "business_name",
    "사업장": "business",
    "업소": "business",
    "업체": "company",
    "업종": "industry",
    "업태": "business_type",
    "기관": "institution",
    "자치단체": "local_gov",
    "시설": "facility",
    "상태": "status",
    "여부": "flag",
    "내용": "content",
    "비고": "note",
    "합계": "total",
    "총계": "total",
    "전체": "full",
    "평균": "average",
    "금액": "amount",
    "가격": "price",
    "비율": "ratio",
    "면적": "area",
    "규모": "size",
    "횟수": "count",
    "건수": "count",
    "개수": "count",
    "농도": "concentration",
    "측정": "measured",
    "발생": "occurrence",
    "적발": "detection",
    "사고": "accident",
    "범죄": "crime",
    "알콜": "alcohol",
    "알코올": "alcohol",
    "인허가": "licence",
    "허가": "permit",
    "영업": "business",
    "폐업": "closure",
    "휴업": "suspension",
    "개업": "opening",
    "시작": "start",
    "종료": "end",
    "정보": "info",
    "홈페이지": "homepage",
    "데이터": "data",
    "갱신": "update",
    "수정": "modified",
    "최종": "last",
    "이산화질소": "no2",
    "오존": "o3",
    "일산화탄소": "co",
    "이산화탄소": "co2",
    "아황산가스": "so2",
    "미세먼지": "pm10",
    "초미세먼지": "pm25",
}
# One-syllable words, only as the last syllable of a word of three or more (측정소명 →
# station_name); elsewhere they are parts of other words (명 in 명동, 수 in 수원, 광명).
SUFFIXES = {
    "명": "name",
    "수": "count",
    "일": "date",
    "액": "amount",
    "율": "rate",
    "률": "rate",
    "량": "volume",
    "년": "year",
    "월": "month",
    "자": "person",
}
# Unit signs that are not letters: ㎍/㎥ → ug_m3.
SIGNS = {"㎍": "ug", "㎥": "m3", "㎡": "m2", "㎞": "km", "㎏": "kg", "℃": "c", "%": "pct"}
_LONGEST = max(map(len, GLOSSARY))
MAX_NAME = 63  # the longest identifier PostgreSQL keeps; DuckDB and Iceberg take it as is
_HANGUL_RUN = re.compile(r"[\uac00-\ud7a3]+")
_CLOCK = re.compile(r"(?<![0-9])([0-9]{1,2})시\s*(?:([0-9]{1,2})분)?(?![가-힣])")


def _parts(syllable: str) -> tuple[int, int, int]:
    code = ord(syllable) - _FIRST
    return code // 588, (code % 588) // 28, code % 28


def romanise(text: str) -> str:
    """Hangul syllables in the Revised Romanization; anything else is kept as it is."""
    out: list[str] = []
    for i, ch in enumerate(text):
        if not _FIRST <= ord(ch) <= _LAST:
            out.append(ch)
            continue
        initial, vowel, final = _parts(ch)
        prev = text[i - 1] if i else ""
        prev_final = _parts(prev)[2] if prev and _FIRST <= ord(prev) <= _LAST else 0
        # ㄹㄹ is written ll (일련 → illyeon).
        head = "l" if initial == _RIEUL and prev_final == _RIEUL_FINAL else INITIALS[initial]
        nxt = text[i + 1] if i + 1 < len(text) else ""
        before_vowel = bool(nxt) and _FIRST <= ord(nxt) <= _LAST and _parts(nxt)[0] == _SILENT
        tail = (FINALS_LIAISON if before_vowel else FINALS)[final]
        out.append(head.replace("_", "") + VOWELS[vowel] + tail.replace("_", ""))
    return "".join(out)


Parse = tuple[int, int, list[str]]  # syllables romanised, pieces, the pieces


def _words(run: str) -> list[str]:
    """A run of Hangul as English words where the glossary knows them, else romanised.

    The run is cut to leave the fewest syllables outside glossary words, then into the fewest
    pieces: 판매업종류 is 판매업 + 종류 (panmaeeop_kind), not 판매 + 업종 + 류.
    """
    n = len(run)
    # worded[i]: the best parse of run[i:] that starts with a glossary word (or is empty);
    # best[i]: the best parse of run[i:], which may start with syllables to romanise.
    worded: list[Parse | None] = [None] * (n + 1)
    best: list[Parse] = [(0, 0, [])] * (n + 1)
    worded[n] = (0, 0, [])
    for i in range(n - 1, -1, -1):
        options: list[Parse] = [
            (best[i + k][0], best[i + k][1] + 1, [GLOSSARY[run[i : i + k]], *best[i + k][2]])
            for k in range(2, min(_LONGEST, n - i) + 1)
            if run[i : i + k] in GLOSSARY
        ]
        if i == n - 1 and n >= 3 and run[i] in SUFFIXES:
            options.append((0, 1, [SUFFIXES[run[i]]]))
        worded[i] = min(options, key=lambda o: o[:2]) if options else None
        options += [
            (rest[0] + j - i, rest[1] + 1, [romanise(run[i:j]), *rest[2]])
            for j in range(i + 1, n + 1)
            if (rest := worded[j]) is not None
        ]
        best[i] = min(options, key=lambda o: o[:2])
    return best[0][2]


def column_name(header: str) -> str:
    """A snake_case ASCII name for a header (may be empty: the header had nothing to keep)."""
    text = unicodedata.normalize("NFC", header).strip()
    text = re.sub(r"[·ㆍ・]", "", text)  # 시·도 is 시도
    # A time of day: 5시30분 → t0530 (a column per half hour in congestion tables).
    text = _CLOCK.sub(lambda m: f" t{int(m.group(1)):02d}{int(m.group(2) or 0):02d} ", text)
    for sign, word in SIGNS.items():
        text = text.replace(sign, f" {word} ")
    # Letters glued to Hangul are words of their own: 발생위치X_UTMK → 발생위치 X UTMK.
    text = _HANGUL_RUN.sub(lambda m: " " + " ".join(_words(m.group(0))) + " ", text)
    # Compatibility forms (full-width letters, ㎜) to plain ASCII where they have one.
    text = unicodedata.normalize("NFKC", text).lower()
    name = re.sub(r"[^a-z0-9]+", "_", text).strip("_")
    if name and name[0].isdigit():
        name = "c_" + name  # SQL identifiers start with a letter
    return name[:MAX_NAME].rstrip("_")


def unique_names(headers: list[str]) -> list[str]:
    """`column_name` of each header, made unique (`sido`, `sido_2`) and never empty."""
    names: list[str] = []
    taken: set[str] = set()
    for i, header in enumerate(headers):
        base = column_name(header) or f"column_{i + 1}"
        name, n = base, 2
        while name in taken:
            suffix = f"_{n}"
            name = base[: MAX_NAME - len(suffix)] + suffix
            n += 1
        taken.add(name)
        names.append(name)
    return names
