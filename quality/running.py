"""The suite run out of core: one GX validation per column group, merged into one GX result.

GX's pandas engine filters the whole frame for every metric, so its cost grows with columns ×
metrics × rows, and a frame of the whole delivery is a second copy of it. Here each
expectation runs on a frame of only the columns it needs plus `__row` (for sample rows), loaded
from the typed delivery (usually the spilled Arrow file) one group at a time. Every group is still
a GX suite validated over all rows, so uniqueness stays global; the group results are merged
into the one result GX would have given for the whole suite.
"""

from __future__ import annotations

import gc
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from quality.results import ROW
from quality.spill import Typed, column_names, load
from quality.suite import import_gx

if TYPE_CHECKING:
    import great_expectations as gx
    import pandas as pd
    import pyarrow as pa

COLUMN_KEYS = ("column", "column_A", "column_B")
ONE_GROUP_CELLS = 1 << 20
"""Up to this many cells (rows × columns) the suite runs as one group: GX's fixed cost per
group (a context, a validation graph: ~0.1 s) is then most of a small delivery's gate, and the
frame of every column is small."""


def needed_columns(etype: str, kwargs: dict[str, Any], every: list[str]) -> list[str]:
    """The columns an expectation reads; all of them when that cannot be told from its kwargs."""
    if "row_condition" in kwargs:  # a condition may name any column
        return every
    if etype.startswith("expect_table_row_count"):
        return []  # counts rows: `__row` is enough
    named = [kwargs[k] for k in COLUMN_KEYS if isinstance(kwargs.get(k), str)]
    if isinstance(kwargs.get("column_list"), list):
        named += [c for c in kwargs["column_list"] if isinstance(c, str)]
    if not named:  # a table-level expectation (column count, column order, …)
        return every
    # A column the delivery lacks stays in the group's key, so GX reports it missing.
    return list(dict.fromkeys(named))


def column_groups(
    suite: gx.ExpectationSuite, every: list[str]
) -> list[tuple[list[str], list[Any]]]:
    """The suite's expectations grouped by the columns they read, in first-use order."""
    groups: dict[tuple[str, ...], list[Any]] = {}
    for expectation in suite.expectations:
        config = expectation.configuration
        key = tuple(needed_columns(config.type, dict(config.kwargs), every))
        groups.setdefault(key, []).append(expectation)
    return [(list(key), members) for key, members in groups.items()]


def frame(table: pa.Table) -> pd.DataFrame:
    """The table as pandas: text Arrow-backed; numbers and times as NumPy.

    GX's pandas `between` runs a Python function per value unless the column is NumPy int,
    float or datetime64[ns]; those stay vectorised this way (nullable ints become floats).
    """
    import pandas as pd
    import pyarrow as pa

    def mapper(t: pa.DataType) -> Any:
        fast = pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_temporal(t)
        return None if fast else pd.ArrowDtype(t)

    try:
        return table.to_pandas(
            types_mapper=mapper, date_as_object=False, coerce_temporal_nanoseconds=True
        )
    except (pa.ArrowInvalid, OverflowError):  # a date outside datetime64[ns]'s years
        return table.to_pandas(types_mapper=pd.ArrowDtype)


class GroupFailed(Exception):
    """GX itself failed on one group; `checks` are the plan numbers it was running."""

    def __init__(self, error: Exception, checks: set[int]) -> None:
        super().__init__(str(error))
        self.error, self.checks = error, checks


def run_suite(
    suite: gx.ExpectationSuite, typed: Typed, sample_rows: int
) -> tuple[dict[str, Any], list[GroupFailed]]:
    """Validate `typed` group by group; one merged GX result, and the groups GX failed on."""
    result_format = {
        "result_format": "SUMMARY",
        "unexpected_index_column_names": [ROW],
        "partial_unexpected_count": sample_rows,
    }
    every = [c for c in column_names(typed) if c != ROW]
    rows = load(typed, [ROW]).column(ROW)  # every group's sample rows: read once
    parts: list[dict[str, Any]] = []
    failed: list[GroupFailed] = []
    if len(rows) * len(every) > ONE_GROUP_CELLS:
        groups = column_groups(suite, every)
    else:
        groups = [(every, list(suite.expectations))] if suite.expectations else []
    if not groups:
        return merge(suite, parts), failed
    # Columns in the delivery's order; a column it lacks is left for GX to report missing.
    wanted = [[c for c in every if c in columns] for columns, _ in groups]
    # The collections after each group then scan only what the group made, not every module's
    # objects (a full collection takes ~0.2 s with GX imported).
    gc.freeze()
    try:
        # One group ahead: the next group's columns are read, decompressed and converted to
        # pandas on a worker thread (pyarrow releases the GIL) while GX runs the current one.
        # At most two groups' columns are in memory at once.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="gx-load") as loader:
            ahead = loader.submit(_group_frame, typed, wanted[0], rows)
            for k, (_, members) in enumerate(groups):
                current = ahead
                if k + 1 < len(groups):
                    ahead = loader.submit(_group_frame, typed, wanted[k + 1], rows)
                name = f"{suite.name}#{k}"
                try:
                    data = current.result()
                    parts.append(_run_group(name, members, data, result_format))
                except Exception as exc:  # GX itself failed: this group's plans report it
                    checks = {(e.meta or {}).get("check", -1) for e in members}
                    failed.append(GroupFailed(exc, checks))
                # GX's objects form reference cycles around the frame: free it now, not
                # whenever the cyclic collector next runs (a frame per group would pile up).
                data = current = None  # the future holds the frame too
                gc.collect()
    finally:
        gc.unfreeze()
    return merge(suite, parts), failed


def _group_frame(typed: Typed, columns: list[str], rows: pa.ChunkedArray) -> pd.DataFrame:
    """A group's columns + `__row`, as the frame GX validates."""
    import pyarrow as pa

    # No columns (a row count): `__row` alone; an empty selection would read them all.
    table = load(typed, columns).append_column(ROW, rows) if columns else pa.table({ROW: rows})
    return frame(table)


def _run_group(
    name: str, members: list[Any], data: pd.DataFrame, result_format: dict[str, Any]
) -> dict[str, Any]:
    """One group's expectations as GX suites of their own, on its columns + `__row` only.

    Row-by-row expectations that tolerate no bad row run first with GX's BOOLEAN_ONLY result:
    it counts the bad rows but skips listing their values, row numbers and a query for them,
    each a filtered copy of the frame (about half of GX's time on a passing delivery). For
    them success means no bad row, so a passing result says `unexpected_count: 0`; a failing
    one runs again below with the full `result_format`, for its count and sample rows.
    """
    # A context per group: a context keeps every batch it validated in memory.
    context, batch = _context()
    quick = [_success_means_no_bad_row(e) for e in members]
    # By position, not `in`: comparing expectations compares their whole configurations.
    counted = [e for e, q in zip(members, quick, strict=True) if q]
    again = [e for e, q in zip(members, quick, strict=True) if not q]
    results: list[dict[str, Any]] = []
    first: dict[str, Any] | None = None
    if counted:
        first = _validate(context, batch, f"{name}/counted", counted, data, BOOLEAN_ONLY)
        failed = {_result_key(r) for r in first["results"] if not r["success"]}
        for res in first["results"]:
            if _result_key(res) not in failed:
                res["result"] = {"unexpected_count": 0}
                results.append(res)
        again += [e for e in counted if _expectation_key(e) in failed]
    if again:
        rest = _validate(context, batch, name, again, data, result_format)
        results += rest["results"]
        first = first or rest
    assert first is not None  # a group has members
    return {**first, "results": results}


BOOLEAN_ONLY = {"result_format": "BOOLEAN_ONLY"}


def _success_means_no_bad_row(expectation: Any) -> bool:
    """A row-by-row expectation (one column, a pair or several) that allows no bad row."""
    from great_expectations.expectations.expectation import (
        ColumnMapExpectation,
        ColumnPairMapExpectation,
        MulticolumnMapExpectation,
    )

    kinds = (ColumnMapExpectation, ColumnPairMapExpectation, MulticolumnMapExpectation)
    return isinstance(expectation, kinds) and expectation.mostly >= 1


def _validate(
    context: Any,
    batch: Any,
    name: str,
    members: list[Any],
    data: pd.DataFrame,
    result_format: dict[str, Any],
) -> dict[str, Any]:
    """Some expectations as a suite of the context, validated on `data`: GX's result."""
    gx = import_gx()
    # Fresh copies of the expectations: one keeps a callback to the last suite it joined, and
    # so its context.
    copies = [e.configuration.to_domain_obj() for e in members]
    suite = context.suites.add(gx.ExpectationSuite(name=name, expectations=copies))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=name, data=batch, suite=suite)
    )
    run = definition.run(batch_parameters={"dataframe": data}, result_format=result_format)
    return run.to_json_dict()


def _context() -> tuple[Any, Any]:
    """A throw-away GX context and its dataframe batch definition."""
    gx = import_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    # No tqdm "Calculating Metrics" bars in gate logs.
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    batch = (
        context.data_sources.add_pandas("delivery")
        .add_dataframe_asset("table")
        .add_batch_definition_whole_dataframe("all")
    )
    return context, batch


def merge(suite: gx.ExpectationSuite, parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The groups' GX results as one: results in suite order, statistics over all of them."""
    if not parts:
        return {}
    # Suite order: a result's plan number and expectation type find its expectation.
    position: dict[tuple[Any, Any], int] = {}
    for i, expectation in enumerate(suite.expectations):
        position.setdefault(_expectation_key(expectation), i)

    def place(res: dict[str, Any]) -> int:
        return position.get(_result_key(res), len(position))

    results = sorted((r for p in parts for r in p.get("results", [])), key=place)
    passed = sum(bool(r.get("success")) for r in results)
    return {
        **parts[0],
        "suite_name": suite.name,
        "success": passed == len(results),
        "results": results,
        "statistics": {
            "evaluated_expectations": len(results),
            "successful_expectations": passed,
            "unsuccessful_expectations": len(results) - passed,
            "success_percent": 100 * passed / len(results) if results else None,
        },
    }


def _expectation_key(expectation: Any) -> tuple[Any, Any]:
    """An expectation's plan number and type: what finds its result (`_result_key`)."""
    return (expectation.meta or {}).get("check"), expectation.expectation_type


def _result_key(result: dict[str, Any]) -> tuple[Any, Any]:
    """The plan number and type of the expectation a GX result is for."""
    config = result.get("expectation_config") or {}
    return (config.get("meta") or {}).get("check"), config.get("type")
