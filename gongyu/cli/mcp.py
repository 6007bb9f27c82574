"""`gongyu mcp`: the MCP server over stdio, for a desktop AI assistant that launches a command."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from gongyu.cli.common import WorkspaceOption, err, platform_for, styled, user_errors


def mcp(
    workspace: WorkspaceOption = None,
    token_env: Annotated[
        str,
        typer.Option(
            "--token-env",
            help="The environment variable holding your personal token (gyk_…, from "
            "/account/tokens; the `read` scope is enough).",
        ),
    ] = "GONGYU_TOKEN",
) -> None:
    """Serve the MCP tools (search, describe, SQL, your access requests) on stdin/stdout as
    the token's person, under their policy, limits and audit; refuses to start without a
    valid token. Nothing else may write to stdout: it carries the protocol.

    Example: GONGYU_TOKEN=gyk_… gongyu mcp --workspace /srv/gongyu
    """
    from api.mcp.stdio import InvalidToken, serve_stdio

    token = os.environ.get(token_env, "").strip()
    if not token:
        err.print(styled(("error:", "red"), f" ${token_env} holds no token"))
        raise typer.Exit(1)
    with user_errors():
        platform = platform_for(workspace)
    try:
        serve_stdio(platform, token)
    except InvalidToken as exc:
        err.print(styled(("error:", "red"), f" {exc}"))
        raise typer.Exit(1) from None
