"""`gongyu people`: the people and service accounts of each agency, from a server's shell (the
operator's console does the same in the browser)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from catalog.access.principal import Role, Scope
from gongyu.cli.common import WorkspaceOption, console, err, platform_for, print_list, user_errors

if TYPE_CHECKING:
    from catalog.people.people import Person

app = typer.Typer(help="Create and manage people and service accounts.", no_args_is_help=True)

PersonArgument = Annotated[str, typer.Argument(metavar="PERSON_ID", help="The person's id.")]
RolesOption = Annotated[
    list[Role],
    typer.Option("--role", help="A role held (repeat for several; the first is used at sign-in)."),
]


@app.command("create")
def create(
    agency: Annotated[str, typer.Option(help="The person's agency (sectors.yaml id).")],
    name: Annotated[str, typer.Option(help="Full name, as colleagues know it.")],
    roles: RolesOption,
    login: Annotated[str, typer.Option(help="Sign-in name, e.g. the official e-mail.")],
    email: Annotated[str, typer.Option(help="Where notices go.")] = "",
    workspace: WorkspaceOption = None,
) -> None:
    """Create a person with a one-time initial password, printed once: they sign in with it,
    enrol their second factor (stewards, secretariats, operators) and change it at /account.

    Example: gongyu people create --agency koroad --name 김민지 --role steward --login kim@koroad.kr
    """
    password = secrets.token_urlsafe(12)
    with user_errors():
        person = platform_for(workspace).people.create(
            agency, name, roles, login=login, email=email or None, password=password
        )
    typer.echo(password)
    err.print(
        f"created {person.person_id} ({person.name}, {person.agency}: "
        f"{', '.join(r.value for r in person.roles)}), login {person.login}. The initial "
        "password above is shown only now.",
        soft_wrap=True,
    )


@app.command("service")
def service(
    agency: Annotated[str, typer.Option(help="The agency the machine acts for.")],
    name: Annotated[str, typer.Option(help="What the machine is, e.g. 'nightly loader'.")],
    roles: RolesOption,
    workspace: WorkspaceOption = None,
) -> None:
    """Create a service account (a machine identity of the agency; it has tokens, never a
    password). `gongyu people token` gives it a token.

    Example: gongyu people service --agency kpx --name "hourly loader" --role steward
    """
    with user_errors():
        person = platform_for(workspace).people.create(agency, name, roles, kind="service")
    console.print(f"created service account {person.person_id} ({person.name}, {person.agency})")


@app.command("token")
def token(
    person_id: PersonArgument,
    role: Annotated[Role, typer.Option(help="The role the token acts in (one held).")],
    name: Annotated[str, typer.Option(help="A label: what the token is for.")] = "",
    scopes: Annotated[
        list[Scope] | None,
        typer.Option("--scope", help="What it may do (repeat; none given: all the role may)."),
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=365, help="Days until it expires.")] = 90,
    workspace: WorkspaceOption = None,
) -> None:
    """Create a token of a person or service account and print it once.

    Example: gongyu people token svc-3f9c2a7d41e0 --role steward --scope deliver --days 30
    """
    with user_errors():
        platform = platform_for(workspace)
        owner = platform.people.get(person_id)
        key, secret = platform.keys.create(
            owner.agency,
            role,
            name,
            person_id=owner.person_id,
            scopes=scopes or None,
            expires_at=datetime.now(UTC) + timedelta(days=days),
        )
    typer.echo(secret)
    err.print(
        f"created token {key.key_id} of {owner.person_id} ({role.value}), expires "
        f"{key.expires_at:%Y-%m-%d}. This is the only time it is shown: store it now.",
        soft_wrap=True,
    )


@app.command("list")
def list_people(
    agency: Annotated[str, typer.Option(help="Only this agency's.")] = "",
    workspace: WorkspaceOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List people and service accounts: id, kind, agency, name, login, roles, MFA, state.

    Example: gongyu people list --agency koroad
    """
    with user_errors():
        found = platform_for(workspace).people.list(agency or None)
    columns = ("id", "kind", "agency", "name", "login", "roles", "MFA", "state")
    print_list(found, as_json, columns, _row)


def _row(p: Person) -> tuple[str, ...]:
    """A person as a row of `people list`."""
    state = "disabled" if p.disabled_at else ("locked" if p.locked_until else "active")
    mfa = "yes" if p.mfa_enrolled else ("SSO" if p.oidc_issuer else "")
    roles = ", ".join(r.value for r in p.roles)
    return p.person_id, p.kind, p.agency, p.name, p.login or "", roles, mfa, state


@app.command("disable")
def disable(person_id: PersonArgument, workspace: WorkspaceOption = None) -> None:
    """Disable a person or service account: sign-in refused, their sessions and tokens stop.

    Example: gongyu people disable p-1a2b3c4d5e6f
    """
    with user_errors():
        person = platform_for(workspace).people.disable(person_id)
    console.print(f"{person.person_id} ({person.name}) is disabled")


@app.command("enable")
def enable(person_id: PersonArgument, workspace: WorkspaceOption = None) -> None:
    """Enable a disabled (or locked-out) person again.

    Example: gongyu people enable p-1a2b3c4d5e6f
    """
    with user_errors():
        person = platform_for(workspace).people.enable(person_id)
    console.print(f"{person.person_id} ({person.name}) is enabled")


@app.command("reset-mfa")
def reset_mfa(person_id: PersonArgument, workspace: WorkspaceOption = None) -> None:
    """Remove a person's second factor and recovery codes (a lost phone): they enrol anew at
    their next sign-in.

    Example: gongyu people reset-mfa p-1a2b3c4d5e6f
    """
    with user_errors():
        person = platform_for(workspace).people.reset_mfa(person_id)
    console.print(f"{person.person_id} ({person.name}) enrols a new second factor at next sign-in")


@app.command("roles")
def roles(person_id: PersonArgument, roles: RolesOption, workspace: WorkspaceOption = None) -> None:
    """Replace the roles a person holds; sessions and tokens in a role dropped stop at once.

    Example: gongyu people roles p-1a2b3c4d5e6f --role analyst --role steward
    """
    with user_errors():
        person = platform_for(workspace).people.set_roles(person_id, roles)
    console.print(f"{person.person_id} holds {', '.join(r.value for r in person.roles)}")
