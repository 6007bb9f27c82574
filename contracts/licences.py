"""The licences a contract may state (`customProperties.licence`), with what portals show of them.

Korea's public bodies license open data under 공공누리 (KOGL, the Korea Open Government Licence,
types 1–4) or as open licences; `isopen` follows the Open Definition (non-commercial and
no-derivatives terms are not open), as CKAN's `isopen` does.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, HttpUrl


class Licence(StrEnum):
    """A licence id: KOGL types, Creative Commons and the data portal's no-restriction term."""

    kogl_1 = "KOGL-Type1"
    kogl_2 = "KOGL-Type2"
    kogl_3 = "KOGL-Type3"
    kogl_4 = "KOGL-Type4"
    cc0 = "CC0-1.0"
    cc_by = "CC-BY-4.0"
    unrestricted = "data.go.kr-unrestricted"
    internal = "internal"


class LicenceInfo(BaseModel):
    """How a licence is named and linked, and whether it is open."""

    model_config = ConfigDict(frozen=True)

    title_ko: str
    title_en: str
    url: HttpUrl | None
    isopen: bool


LICENCES: dict[Licence, LicenceInfo] = {
    Licence.kogl_1: LicenceInfo(
        title_ko="공공누리 제1유형: 출처표시",
        title_en="KOGL Type 1: Attribution",
        url=HttpUrl("https://www.kogl.or.kr/info/licenseType1.do"),
        isopen=True,
    ),
    Licence.kogl_2: LicenceInfo(
        title_ko="공공누리 제2유형: 출처표시 + 상업적 이용금지",
        title_en="KOGL Type 2: Attribution, non-commercial",
        url=HttpUrl("https://www.kogl.or.kr/info/licenseType2.do"),
        isopen=False,
    ),
    Licence.kogl_3: LicenceInfo(
        title_ko="공공누리 제3유형: 출처표시 + 변경금지",
        title_en="KOGL Type 3: Attribution, no derivatives",
        url=HttpUrl("https://www.kogl.or.kr/info/licenseType3.do"),
        isopen=False,
    ),
    Licence.kogl_4: LicenceInfo(
        title_ko="공공누리 제4유형: 출처표시 + 상업적 이용금지 + 변경금지",
        title_en="KOGL Type 4: Attribution, non-commercial, no derivatives",
        url=HttpUrl("https://www.kogl.or.kr/info/licenseType4.do"),
        isopen=False,
    ),
    Licence.cc0: LicenceInfo(
        title_ko="CC0 1.0 (퍼블릭 도메인)",
        title_en="CC0 1.0 Universal (public domain dedication)",
        url=HttpUrl("https://creativecommons.org/publicdomain/zero/1.0/"),
        isopen=True,
    ),
    Licence.cc_by: LicenceInfo(
        title_ko="CC BY 4.0 (저작자표시)",
        title_en="Creative Commons Attribution 4.0",
        url=HttpUrl("https://creativecommons.org/licenses/by/4.0/"),
        isopen=True,
    ),
    Licence.unrestricted: LicenceInfo(
        title_ko="이용허락범위 제한 없음 (공공데이터포털)",
        title_en="No usage restriction (data.go.kr)",
        url=None,
        isopen=True,
    ),
    Licence.internal: LicenceInfo(
        title_ko="기관 간 이용 한정 (공개 라이선스 없음)",
        title_en="Inter-agency use only (no open licence)",
        url=None,
        isopen=False,
    ),
}
