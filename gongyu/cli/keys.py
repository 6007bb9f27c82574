"""`gongyu keys`: create, list and revoke API keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from catalog.access.principal import Role
from gongyu.cli.common import WorkspaceOption, console, err, platform_for, print_list, user_errors

if TYPE_CHECKING:
    from catalog.access.keys import ApiKey

app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)


@app.command("create")
def create(
    agency: Annotated[str, typer.Option(help="The agency the key acts for (sectors.yaml id).")],
    role: Annotated[Role, typer.Option(help="What the key may do.")],
    name: Annotated[str, typer.Option(help="A label: who or what uses the key.")] = "",
    workspace: WorkspaceOption = None,
) -> None:
    """Create an API key and print it once: only its digest is kept.

    The key goes in `Authorization: Bearer <key>` or `X-API-Key: <key>`.
    Example: gongyu keys create --agency kotsa --role analyst --name "traffic team"
    """
    with user_errors():
        key, token = platform_for(workspace).keys.create(agency, role, name)
    typer.echo(token)
    err.print(
        f"created key {key.key_id} for {key.agency} ({key.role.value}). This is the only time "
        "it is shown: store it now.",
        soft_wrap=True,
    )


@app.command("list")
def list_keys(
    workspace: WorkspaceOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List every API key (revoked ones too): id, agency, role, name, created, revoked.

    Example: gongyu keys list --json
    """
    with user_errors():
        keys = platform_for(workspace).keys.list()
    columns = ("key id", "agency", "role", "name", "created", "revoked")
    print_list(keys, as_json, columns, _row)


def _row(k: ApiKey) -> tuple[str, ...]:
    """A key as a row of `keys list`."""
    revoked = f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else ""
    return k.key_id, k.agency, k.role.value, k.name, f"{k.created_at:%Y-%m-%d %H:%M}", revoked


@app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(metavar="KEY_ID", help="The key's id.")],
    workspace: WorkspaceOption = None,
) -> None:
    """Revoke an API key: requests with it get 401 from now on.

    Example: gongyu keys revoke 3f9c2a7d41e0b865
    """
    with user_errors():
        key = platform_for(workspace).keys.revoke(key_id)
    console.print(f"key {key.key_id} ({key.agency}, {key.role.value}) is revoked")
