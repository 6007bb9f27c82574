"""A schema column's examples as the gate publishes them, worked out by the gate's own code."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from api.browse.dataset import PSEUDONYM_EXAMPLE, columns, published_examples
from catalog.entries import PublishedAs
from contracts.loader import load_contracts
from contracts.model import Classification, Column, LogicalType
from quality.privacy.pseudonyms import PSEUDONYM_PATTERN


def column(logical: LogicalType, *examples: object, fmt: str | None = None) -> Column:
    return Column(
        name="x",
        physical_name="x",
        logical_type=logical,
        format=fmt,
        classification=Classification.quasi_identifier,
        examples=examples,
    )


@pytest.mark.parametrize(
    ("col", "level", "published"),
    [
        (column(LogicalType.integer, 29, -3), "age_band_5", ["25-29", "-5--1"]),
        (column(LogicalType.integer, "47"), "age_band_10", ["40-49"]),
        (
            column(LogicalType.timestamp, "2022-07-09 02:30", fmt="yyyy-MM-dd HH:mm"),
            "month",
            ["2022-07"],
        ),
        (column(LogicalType.date, dt.date(2021, 3, 4)), "year", ["2021"]),
        (
            column(LogicalType.timestamp, "2022-07-09 02:30", fmt="yyyy-MM-dd HH:mm"),
            "hour",
            [dt.datetime(2022, 7, 9, 2)],
        ),
        (column(LogicalType.string, "서울특별시 강남구 역삼동"), "first_token", ["서울특별시"]),
        (column(LogicalType.integer, 1234), "round_100", [1200]),
        (column(LogicalType.string, "평택경찰서"), "suppress", []),
        # Not castable, a null marker, or a level that does not apply: nothing, never raw.
        (column(LogicalType.integer, "스물아홉", "불명", 31), "age_band_5", ["30-34"]),
        (column(LogicalType.string, "29"), "age_band_5", []),
    ],
)
def test_examples_are_generalised_as_the_gate_does(
    col: Column, level: str, published: list[object]
) -> None:
    assert published_examples(col, level, ("", "불명")) == published


def test_no_shipped_contract_shows_a_raw_example_of_a_column_it_does_not_publish_as_is() -> None:
    for contract in load_contracts():
        for owner in (True, False):
            for raw, entry in zip(contract.columns, columns(contract, None, owner), strict=True):
                if entry.published_as is PublishedAs.as_delivered:
                    continue
                assert not set(map(str, raw.examples)) & set(map(str, entry.examples)), (
                    contract.id,
                    entry.name,
                )
                if entry.published_as is PublishedAs.pseudonymised:
                    assert entry.examples in ([], [PSEUDONYM_EXAMPLE])
    assert re.fullmatch(PSEUDONYM_PATTERN, PSEUDONYM_EXAMPLE)
