"""Deterministic labelled test set for the privacy detectors: synthetic positives and near-misses.

Every positive is made up here from a seeded RNG (correct check digits, realistic formats);
none belongs to a real person. Cell-level detectors are labelled per cell (`CELLS`); the name
detector judges whole columns, so it is labelled per column (`NAME_COLUMNS`).
Run `python -m tests.quality.privacy.labelled` to print a few of each.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

SEED = 20260927
N = 150  # positives per detector

RRN_W = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5]
BRN_W = [1, 3, 7, 1, 3, 7, 1, 3, 5]


def rrn(rng: random.Random, foreign: bool, valid_check: bool = True) -> str:
    """A made-up registration number with a real birth date and (optionally) its check digit."""
    born = date(1940, 1, 1) + timedelta(days=rng.randrange(0, 365 * 79))
    base = 5 if foreign else 1
    g = base + (2 if born.year >= 2000 else 0) + rng.randrange(2)
    body = f"{born:%y%m%d}{g}{rng.randrange(10**5):05d}"
    check = (11 - sum(int(c) * w for c, w in zip(body, RRN_W, strict=True)) % 11) % 10
    if not valid_check:  # post-Oct-2020 style: any last digit but the checksum's
        check = (check + rng.randrange(1, 10)) % 10
    digits = f"{body}{check}"
    hyphen = not valid_check or rng.random() < 0.7
    return f"{digits[:6]}-{digits[6:]}" if hyphen else digits


def brn(rng: random.Random) -> str:
    """A made-up 사업자등록번호 with a valid check digit."""
    body = f"{rng.randrange(101, 1000)}{rng.randrange(1, 100):02d}{rng.randrange(10**4):04d}"
    total = sum(int(c) * w for c, w in zip(body, BRN_W, strict=True)) + int(body[8]) * 5 // 10
    digits = f"{body}{(10 - total % 10) % 10}"
    return f"{digits[:3]}-{digits[3:5]}-{digits[5:]}" if rng.random() < 0.7 else digits


def _sep(rng: random.Random) -> str:
    return rng.choice(["-", "-", " ", ".", ""])


def mobile(rng: random.Random) -> str:
    """A made-up Korean mobile number in one of the usual spellings."""
    s = _sep(rng)
    if rng.random() < 0.8:
        return f"010{s}{rng.randrange(2000, 10000)}{s}{rng.randrange(10000):04d}"
    prefix = rng.choice(["011", "016", "017", "018", "019"])
    return f"{prefix}{s}{rng.randrange(200, 10000)}{s}{rng.randrange(10000):04d}"


def landline(rng: random.Random) -> str:
    """A made-up landline, internet (070) or 1588-style service number."""
    s = rng.choice(["-", "-", " ", ".", ")"])
    kind = rng.random()
    if kind < 0.15:
        return f"{rng.choice(['1588', '1577', '1544', '1600', '1899'])}-{rng.randrange(10000):04d}"
    if kind < 0.25:
        return f"070{s if s != ')' else '-'}{rng.randrange(2000, 10000)}-{rng.randrange(10000):04d}"
    area = rng.choice(["02", "031", "032", "033", "041", "042", "043", "044", "051", "052"])
    area = rng.choice([area, "053", "054", "055", "061", "062", "063", "064"])
    middle = rng.randrange(200, 10000)
    text = f"{area}{s}{middle}-{rng.randrange(10000):04d}"
    return f"({text}" if s == ")" else text


def email(rng: random.Random) -> str:
    """A made-up address on a reserved example domain."""
    local = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randrange(3, 10)))
    local += rng.choice(["", ".kim", "_01", "+news", "77"])
    return f"{local}@{rng.choice(['example.com', 'example.kr', 'example.go.kr', 'test.example'])}"


def _luhn_digit(body: str) -> int:
    total = 0
    for i, c in enumerate(reversed(body)):
        d = int(c) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10


def card(rng: random.Random, valid: bool = True) -> str:
    """A made-up card number with a known IIN prefix, Luhn-valid unless asked otherwise."""
    prefix, length = rng.choice(
        [
            ("4", 16),
            ("51", 16),
            ("55", 16),
            ("2221", 16),
            ("2720", 16),
            ("34", 15),
            ("37", 15),
            ("3528", 16),
            ("6011", 16),
            ("65", 16),
            ("9410", 16),
            ("9490", 16),
            ("4", 19),
        ]
    )
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    check = _luhn_digit(body)
    digits = f"{body}{check if valid else (check + rng.randrange(1, 10)) % 10}"
    sep = rng.choice([" ", "-", ""])
    if length == 16:
        return sep.join(digits[i : i + 4] for i in range(0, 16, 4))
    if length == 15:
        return sep.join([digits[:4], digits[4:10], digits[10:]])
    return digits


IN_TEXT = [
    "연락처: {}",
    "문의 {} (평일 9~18시)",
    "담당 {} 으로 연락 바랍니다",
    "{}",
    "{} ",
]


def _positives(rng: random.Random) -> list[tuple[str, str]]:
    makers = {
        "resident_registration_number": lambda: rrn(rng, False, rng.random() < 0.85),
        "foreigner_registration_number": lambda: rrn(rng, True, rng.random() < 0.85),
        "business_registration_number": lambda: brn(rng),
        "mobile_phone": lambda: mobile(rng),
        "landline_phone": lambda: landline(rng),
        "email": lambda: email(rng),
        "payment_card": lambda: card(rng),
    }
    cases = []
    for label, make in makers.items():
        for _ in range(N):
            cases.append((rng.choice(IN_TEXT).format(make()), label))
    return cases


def _near_misses(rng: random.Random) -> list[str]:
    out: list[str] = []
    for _ in range(60):
        day = date(2000, 1, 1) + timedelta(days=rng.randrange(9000))
        out += [f"{day:%Y-%m-%d}", f"{day:%Y%m%d}", f"{day:%Y.%m.%d}", f"{day:%Y-%m-%d} 13:45:01"]
        out += [f"{day:%Y%m%d}{rng.randrange(10**6):06d}"]  # timestamp yyyyMMddHHmmss-like
        out += [
            f"ORD-{day:%Y%m%d}-{rng.randrange(10**6):06d}",
            f"{day:%Y%m%d}{rng.randrange(10**5):05d}",
        ]
        out += [
            f"{rng.randrange(10**5):05d}",
            f"{rng.randrange(1000, 10**4)}-{rng.randrange(10**4):04d}",
        ]
        out += [f"{rng.randrange(10**9, 10**10):,}", f"{rng.randrange(10**6, 10**9):,}원"]
        out += [f"{rng.uniform(33, 38.6):.8f}", f"{rng.uniform(124.6, 131.9):.7f}"]
        out += [f"({rng.uniform(33, 38):.6f}, {rng.uniform(125, 130):.6f})"]
        out += [f"{rng.randrange(10**8, 10**9)}", f"0{rng.randrange(10**7, 10**8)}"]  # 9 digits
        out += [card(rng, valid=False), f"{rng.randrange(100000, 999999)}A{rng.choice('GLT')}N"]
        out += [f"192.168.{rng.randrange(256)}.{rng.randrange(256)}", f"v{rng.randrange(9)}.0.1"]
        out += [f"{rng.randrange(10**4):04d}-{rng.randrange(100):02d}-{rng.randrange(10**4):04d}"]
        out += [f"{rng.randrange(10)}.{rng.randrange(10**10):010d}"]  # small decimals
        out += [
            f"{rng.randrange(10**6, 10**7)}-111-{day:%Y}-{rng.randrange(10**5):05d}"
        ]  # 관리번호
    out += [
        "user at example dot com",
        "@gongyu",
        "a@b",
        "서울특별시 강남구 헌릉로745길 13 (율현동)",
    ]
    return out


def cells() -> list[tuple[str, str | None]]:
    """(value, detector or None) for every cell-level case, shuffled deterministically."""
    rng = random.Random(SEED)
    cases: list[tuple[str, str | None]] = [*_positives(rng)]
    cases += [(v, None) for v in _near_misses(rng)]
    rng.shuffle(cases)
    return cases


def _words(text: str) -> list[str]:
    """Space-separated words (kept as one string so the lists stay readable)."""
    return text.split()


SURNAMES = "김이박최정강조윤장임한오서신권황안송류전홍고문양손배백허유남심노하곽성차주우구민진나지"
GIVEN_NAMES = _words(
    "민준 서준 도윤 예준 시우 하준 주원 지호 지후 준우 현우 준서 도현 지훈 건우 우진 선우 "
    "서진 민재 현준 연우 유준 정우 승우 승현 시윤 준혁 은우 지환 승민 지우 유찬 서연 서윤 "
    "지유 서현 민서 하은 하윤 윤서 지민 채원 수아 지아 지윤 은서 다은 예은 수빈 소율 예린 "
    "하린 영수 영희 정호 미경 성민 은지 동현 상훈 태민 유진 혜진 재원 민수 영호 경숙 순자 "
    "영자 정숙 미숙 성호 준호 현정 은영 미영 지영 수진 혜원 성훈 재현 민호 동욱 승철 광수 "
    "명희 춘자 "
)
PLACES = _words(
    "강남구 강동구 강북구 강서구 관악구 광진구 구로구 금천구 노원구 도봉구 동대문구 동작구 "
    "마포구 서대문구 서초구 성동구 성북구 송파구 양천구 영등포구 용산구 은평구 종로구 중구 "
    "중랑구 수원시 성남시 고양시 용인시 부천시 안산시 안양시 남양주시 화성시 평택시 "
    "의정부시 시흥시 파주시 김포시 광명시 광주시 군포시 하남시 오산시 이천시 안성시 의왕시 "
    "양주시 포천시 여주시 동두천시 과천시 율현동 홍제동 정자동 서현동 신림동 역삼동 삼성동 "
    "대치동 세종로 한강로 을지로 종로 명동 성수동 "
)
WORDS = _words(
    "공원 주차장 도서관 사과 가방 도로 소나무 전기 고속도로 정보 한국 이용 방문 안내 조사 "
    "기타 전화 학교 병원 시장 공항 항구 하천 교량 터널 주유소 약국 은행 우체국 경찰서 "
    "소방서 주민센터 승용차 화물차 보행자 자전거 이륜차 단일로 교차로 횡단보도 차대사람 "
    "차대차 추돌 측면충돌 과립제 세립 액제 정제 캡슐제 주사제 내복 외용 상황균사체엑스 "
    "아스피린 해열제 진통제 최빈국 기타저소득국 중저소득국 고중소득국 공공 민간 평일 "
    "토요일 일요일 공휴일 오전 오후 장학금 국가장학금 대학교 전문대학 유아 아동 청소년 "
    "성인 노인 남자 여자 합계 소계 전체 "
)


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN_NAMES)


def name_columns() -> list[tuple[list[str | None], bool]]:
    """(cells, holds names) per column: name lists, cued free text, places and words."""
    rng = random.Random(SEED + 1)
    columns: list[tuple[list[str | None], bool]] = []
    cues = ["담당자 {}", "성명: {}", "{}님 요청 건", "{} 과장 확인", "작성자 {} / 검토 완료"]
    for _ in range(60):  # plain name columns, some nulls
        n = rng.randrange(5, 60)
        columns.append(([_name(rng) if rng.random() > 0.1 else None for _ in range(n)], True))
    for _ in range(40):  # free-text remarks, about half naming someone next to a cue
        n = rng.randrange(10, 60)
        text = [
            rng.choice(cues).format(_name(rng))
            if rng.random() < 0.5
            else rng.choice(["이상 없음", "재검사 필요", "서류 보완 요청", "확인 완료"])
            for _ in range(n)
        ]
        columns.append((text, True))
    for pool in (PLACES, WORDS, PLACES + WORDS):
        for _ in range(35):
            columns.append(([rng.choice(pool) for _ in range(rng.randrange(5, 60))], False))
    for _ in range(20):  # remarks with no names at all
        remarks = ["이상 없음", "재검사 필요", "서류 보완 요청", "확인 완료", "강남구 소재 업체"]
        columns.append(([rng.choice(remarks) for _ in range(30)], False))
    return columns


if __name__ == "__main__":
    for value, label in cells()[:40]:
        print(f"{label or '-':32} {value}")
