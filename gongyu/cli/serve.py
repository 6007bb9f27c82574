"""`gongyu serve`: the SQL API (and, later, the catalog pages) over HTTP."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from gongyu.cli.common import WorkspaceOption, console, settings_for, user_errors


def serve(
    workspace: WorkspaceOption = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    ssl_certfile: Annotated[
        Path | None, typer.Option(help="TLS certificate (PEM): serve HTTPS, as Trino clients need.")
    ] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option(help="TLS private key (PEM).")] = None,
) -> None:
    """Serve the API (OpenAPI at /docs) on a workspace until interrupted.

    Example: gongyu serve --workspace .gongyu --port 8000
    """
    import uvicorn

    from api.app import SERVER_OPTIONS
    from gongyu.platform import Platform

    settings = settings_for(workspace)
    with user_errors():
        platform = Platform(settings)  # fails early, with a message, on a bad workspace
    # Workers build their own app from the environment: pass the workspace on.
    os.environ["GONGYU_HOME"] = str(platform.workspace.root)
    scheme = "https" if ssl_certfile else "http"
    console.print(
        f"Gongyu API: {scheme}://{host}:{port}/docs  (workspace {platform.workspace.root})"
    )
    uvicorn.run(
        "api.app:app_from_settings",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
        log_level="warning",
        **SERVER_OPTIONS,  # proxy headers only from GONGYU_TRUSTED_PROXIES, read by the app
    )
