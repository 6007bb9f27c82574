"""Report: a quarantined delivery's reasons in Korean or English from its `report.json`, the
ledger's words where it has none, and the way's own checks worded in both languages."""

from __future__ import annotations

from pathlib import Path

from catalog.deliveries import DeliveryState
from catalog.lakehouse import Audit
from gongyu.delivery.admit import gave_up
from gongyu.delivery.publish import audit_check
from gongyu.delivery.report import reasons, results_prefix, stored_findings
from gongyu.delivery.way import process_delivery
from gongyu.platform import Platform
from quality.wording import render
from tests.conftest import data_file

KOTSA = "transport_logistics/kotsa_car_inspection_centers_20210927.csv"
DATASET = "kotsa_car_inspection_centers"


def test_reasons_come_from_the_report_in_the_language_asked(
    platform: Platform, tmp_path: Path
) -> None:
    broken = tmp_path / "kotsa.csv"
    data = data_file(KOTSA).read_bytes().decode("cp949")
    header, _, rest = data.partition("\n")
    broken.write_text(header + "\n" + rest.replace(",", ";", 1), encoding="utf-8")
    delivery, _ = platform.deliver(DATASET, broken)
    outcome = process_delivery(platform, delivery.delivery_id)
    quarantined = outcome.delivery
    assert quarantined.state == DeliveryState.quarantined
    korean, english = (reasons(platform, quarantined, lang) for lang in ("ko", "en"))
    assert english == quarantined.reasons  # the ledger keeps the English
    assert len(korean) == len(english) and korean != english
    assert all(any("가" <= ch <= "힣" for ch in r) for r in korean)
    found = stored_findings(platform, quarantined, "ko")
    assert found and found[0].blocking and found[0].hint
    # Without a report (a refusal before the gate, a run that stopped) the ledger speaks.
    platform.results.path(results_prefix(quarantined) + "report.json").unlink()
    assert reasons(platform, quarantined, "ko") == quarantined.reasons


def test_the_ways_own_checks_are_worded_in_korean(platform: Platform) -> None:
    delivery, _ = platform.deliver(DATASET, data_file(KOTSA))
    stopped = delivery.model_copy(update={"reasons": ["MemoryError: killed"]})
    for check in (gave_up(stopped), audit_check(Audit(rows=3, problems=["rows differ"]))):
        message, hint = render(check, "ko")
        assert check.key and message != check.message and hint != check.hint
    assert "MemoryError: killed" in render(gave_up(stopped), "ko")[0]
    assert audit_check(Audit(rows=3, problems=["rows differ"])).message == "rows differ"
