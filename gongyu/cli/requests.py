"""`gongyu requests`: access requests from the server's shell — list, ask, approve, deny.

The shell acts for an agency in a role (`--agency`, `--role`), recorded as `cli:<user>`: the
same routing and checks as the API and the pages apply (nobody decides their own agency's
request; the contract's policy says who decides).
"""

from __future__ import annotations

import getpass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from catalog.access.principal import Principal, Role
from gongyu.cli.common import WorkspaceOption, console, platform_for, print_list, user_errors

if TYPE_CHECKING:
    from catalog.access.requests import AccessRequest

app = typer.Typer(
    help="Access requests (이용 신청): list them, ask for a dataset, approve or deny.",
    no_args_is_help=True,
)
AgencyOption = Annotated[str, typer.Option(help="The agency you act for (sectors.yaml id).")]
RoleOption = Annotated[Role, typer.Option(help="Your role in that agency.")]
DayOption = Annotated[
    datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Last day (Korean time).")
]
ColumnsOption = Annotated[str | None, typer.Option(help="Comma-separated column names.")]


def acting(agency: str, role: Role) -> Principal:
    """The shell's user acting for an agency in a role."""
    return Principal(subject=f"cli:{getpass.getuser()}", agency=agency, role=role, via="api_key")


def _columns(text: str | None) -> tuple[str, ...] | None:
    return tuple(c.strip() for c in text.split(",")) if text is not None else None


@app.command("list")
def list_requests(
    agency: AgencyOption,
    role: RoleOption = Role.steward,
    workspace: WorkspaceOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """Requests the agency made, decides or oversees: those waiting for you first.

    Example: gongyu requests list --agency knpa --role steward
    """
    principal = acting(agency, role)
    with user_errors():
        found = platform_for(workspace).requests.listed(principal)
    columns = ("id", "dataset", "from", "state", "waiting for", "until", "purpose")
    print_list(found, as_json, columns, _row)


def _row(r: AccessRequest) -> tuple[str, ...]:
    waiting = ", ".join(s.value for s in r.waiting_for)
    return (
        r.request_id,
        r.dataset_id,
        r.requester_agency,
        r.state.value,
        waiting,
        str(r.until),
        r.purpose[:60],
    )


@app.command("ask")
def ask(
    dataset: Annotated[str, typer.Argument(metavar="DATASET", help="The dataset id.")],
    agency: AgencyOption,
    purpose: Annotated[str, typer.Option(help="What the data will be used for.")],
    legal_basis: Annotated[
        str,
        typer.Option(
            help="consent, pseudonymised_research, public_task, statute or other "
            "(the last two with --legal-basis-detail)."
        ),
    ],
    legal_basis_detail: Annotated[str | None, typer.Option(help="Statute and article.")] = None,
    role: RoleOption = Role.analyst,
    columns: ColumnsOption = None,
    row_filter: Annotated[str | None, typer.Option(help="Iceberg filter over the rows.")] = None,
    until: DayOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Ask for DATASET for the agency; prints the request's id and state.

    Example: gongyu requests ask police_drunk_driving_detections --agency koroad
    --purpose "음주운전 사고 분석" --legal-basis pseudonymised_research
    """
    from catalog.access.requests import LegalBasis

    with user_errors():
        platform = platform_for(workspace)
        made = platform.requests.create(
            acting(agency, role),
            platform.contract(dataset),
            purpose=purpose,
            legal_basis=LegalBasis(legal_basis),
            legal_basis_detail=legal_basis_detail,
            columns=_columns(columns),
            row_filter=row_filter,
            until=until.date() if until else None,
        )
    console.print(f"request {made.request_id}: {made.state.value}")


@app.command("approve")
def approve(
    request_id: Annotated[str, typer.Argument(metavar="ID", help="The request's id.")],
    agency: AgencyOption,
    role: RoleOption = Role.steward,
    columns: ColumnsOption = None,
    row_filter: Annotated[str | None, typer.Option(help="Narrow the rows further.")] = None,
    until: DayOption = None,
    note: Annotated[str | None, typer.Option(help="A note on the decision.")] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Approve your step of a request, optionally narrowing it; the last approval grants it.

    Example: gongyu requests approve 3f9c2a7d41e0 --agency knpa --until 2027-03-31
    """
    with user_errors():
        done = platform_for(workspace).requests.approve(
            acting(agency, role),
            request_id,
            columns=_columns(columns),
            row_filter=row_filter,
            until=until.date() if until else None,
            note=note,
        )
    grant = f", grant {done.grant_id}" if done.grant_id else ""
    waiting = ", ".join(s.value for s in done.waiting_for)
    console.print(
        f"request {done.request_id}: {done.state.value}{grant}"
        + (f" (waiting for {waiting})" if waiting else "")
    )


@app.command("deny")
def deny(
    request_id: Annotated[str, typer.Argument(metavar="ID", help="The request's id.")],
    agency: AgencyOption,
    reason: Annotated[str, typer.Option(help="Why: the requester reads it.")],
    role: RoleOption = Role.steward,
    workspace: WorkspaceOption = None,
) -> None:
    """Deny a request at your step, with a reason.

    Example: gongyu requests deny 3f9c2a7d41e0 --agency knpa --reason "목적 불분명"
    """
    with user_errors():
        done = platform_for(workspace).requests.deny(acting(agency, role), request_id, reason)
    console.print(f"request {done.request_id}: {done.state.value}")
