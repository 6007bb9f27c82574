"""`gongyu grants`: open a dataset to another agency for a purpose until a date; list, revoke."""

from __future__ import annotations

import getpass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from gongyu.cli.common import (
    WorkspaceOption,
    console,
    platform_for,
    print_list,
    user_errors,
)

if TYPE_CHECKING:
    from catalog.access.grants import Grant
app = typer.Typer(
    help="Grant datasets to agencies for a purpose until a date; list and revoke grants.",
    no_args_is_help=True,
)


@app.command("add")
def add(
    dataset: Annotated[str, typer.Argument(metavar="DATASET", help="The dataset id.")],
    agency: Annotated[str, typer.Option(help="The agency granted the dataset.")],
    purpose: Annotated[str, typer.Option(help="What the data will be used for.")],
    expires: Annotated[
        datetime,
        typer.Option(formats=["%Y-%m-%d"], help="Last day of validity (Korean time)."),
    ],
    columns: Annotated[
        str | None,
        typer.Option(help="Comma-separated columns the grant names (unmasks if sensitive)."),
    ] = None,
    row_filter: Annotated[
        str | None,
        typer.Option(
            help="Iceberg filter over the published columns the grantee sees, e.g. "
            "\"sido = '부산' AND n >= 10\"."
        ),
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Grant DATASET to an agency for a purpose, through the end of the expiry date in Korea.

    Example: gongyu grants add police_drunk_driving_detections --agency koroad
    --purpose "road safety study" --expires 2026-12-31 --row-filter "sex = 'F'"
    """
    named = tuple(c.strip() for c in columns.split(",")) if columns is not None else None
    with user_errors():
        platform = platform_for(workspace)
        grant = platform.grants.add(
            platform.contract(dataset),
            agency,
            purpose,
            expires.date(),
            columns=named,
            row_filter=row_filter,
            created_by=getpass.getuser(),
        )
    console.print(
        f"grant {grant.grant_id}: {grant.dataset_id} to {grant.agency} through {grant.expires}",
    )


@app.command("list")
def list_grants(
    dataset: Annotated[str | None, typer.Option(help="Only grants of this dataset.")] = None,
    agency: Annotated[str | None, typer.Option(help="Only grants to this agency.")] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Expired and revoked grants too.")
    ] = False,
    workspace: WorkspaceOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List grants, oldest first: active ones, or every one with --all.

    Example: gongyu grants list --agency koroad --all
    """
    with user_errors():
        grants = platform_for(workspace).grants.list(dataset, agency, show_all)
    columns = ("grant", "dataset", "agency", "purpose", "expires", "columns", "row filter")
    print_list(grants, as_json, columns, _row)


def _row(g: Grant) -> tuple[str, ...]:
    """A grant as a row of `grants list`."""
    expires = f"{g.expires}" + (" (revoked)" if g.revoked_at else "")
    columns = ", ".join(g.columns) if g.columns is not None else ""
    return g.grant_id, g.dataset_id, g.agency, g.purpose, expires, columns, g.row_filter or ""


@app.command("revoke")
def revoke(
    grant_id: Annotated[str, typer.Argument(metavar="GRANT_ID", help="The grant's id.")],
    workspace: WorkspaceOption = None,
) -> None:
    """Revoke a grant: it stops working at once.

    Example: gongyu grants revoke 5e1d0c9a8b7f6e4d
    """
    with user_errors():
        grant = platform_for(workspace).grants.revoke(grant_id)
    console.print(
        f"grant {grant.grant_id} ({grant.dataset_id} to {grant.agency}) is revoked",
    )
