"""`gongyu deliver`: land a file for a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gongyu.cli.common import WorkspaceOption, console, platform_for, user_errors


def deliver(
    dataset_id: Annotated[str, typer.Argument(help="Dataset id (see `gongyu contracts list`).")],
    file: Annotated[Path, typer.Argument(help="The file to deliver (CSV, XLSX, Parquet, JSONL).")],
    workspace: WorkspaceOption = None,
) -> None:
    """Deliver FILE for DATASET_ID: stored immutably under its content hash, then `gongyu run`.

    Example: gongyu deliver kotsa_car_inspection_centers data/transport_logistics/kotsa.csv
    """
    with user_errors():
        if not file.is_file():
            raise FileNotFoundError(f"{file}: no such file")
        from gongyu.delivery.landing import accept

        delivery, new = accept(platform_for(workspace), dataset_id, file)
    if new:
        console.print(
            f"received {delivery.delivery_id} ({delivery.size_bytes:,} bytes) for "
            f"{dataset_id}; a running `gongyu serve` (its worker) processes it within seconds, "
            "else run `gongyu run`"
        )
    else:
        console.print(
            f"same bytes already delivered as {delivery.delivery_id} "
            f"({delivery.state.value}); nothing to do"
        )
