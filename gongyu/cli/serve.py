"""`gongyu serve`: the API over HTTP, and beside it the delivery worker that runs uploads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from gongyu.cli.common import WorkspaceOption, console, settings_for, user_errors
from gongyu.cli.supervise import supervise


def serve(
    workspace: WorkspaceOption = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="API worker processes (uvicorn).")] = 1,
    ssl_certfile: Annotated[
        Path | None, typer.Option(help="TLS certificate (PEM): serve HTTPS, as Trino clients need.")
    ] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option(help="TLS private key (PEM).")] = None,
    no_worker: Annotated[
        bool,
        typer.Option(
            "--no-worker",
            help="Serve only: uploads wait for a `gongyu worker` or Dagster's daemon elsewhere.",
        ),
    ] = False,
) -> None:
    """Serve the API (OpenAPI at /docs) on a workspace until interrupted, with a delivery worker
    (`gongyu worker`) that runs each upload through the gate as it lands.

    Example: gongyu serve --workspace .gongyu --port 8000
    """
    from gongyu.platform import Platform

    settings = settings_for(workspace)
    with user_errors():
        platform = Platform(settings)  # fails early, with a message, on a bad workspace
    if settings.dagster_ui:  # the API's Dagster UI reads the workspace's instance file
        from assets.runner import dagster_home

        dagster_home(platform.workspace)
    root = str(platform.workspace.root)
    # Workers build their own app from the environment: pass the workspace on.
    os.environ["GONGYU_HOME"] = root
    if no_worker:
        api(host, port, workers, ssl_certfile, ssl_keyfile, root)
        return
    # The API and the worker each in a process of its own (a run holds the GIL for seconds,
    # requests must not wait on it); this one only supervises them.
    gongyu = str(Path(sys.executable).with_name("gongyu"))
    options = ["--workspace", root, "--host", host, "--port", str(port), "--workers", str(workers)]
    if ssl_certfile:
        options += ["--ssl-certfile", str(ssl_certfile)]
    if ssl_keyfile:
        options += ["--ssl-keyfile", str(ssl_keyfile)]
    children = {
        "the API (gongyu serve)": subprocess.Popen([gongyu, "serve", "--no-worker", *options]),
        "the delivery worker (gongyu worker)": subprocess.Popen(
            [gongyu, "worker", "--workspace", root]
        ),
    }
    raise typer.Exit(supervise(children, whole="gongyu serve"))


def api(
    host: str,
    port: int,
    workers: int,
    ssl_certfile: Path | None,
    ssl_keyfile: Path | None,
    root: str,
) -> None:
    """Run uvicorn on the API app until interrupted."""
    import uvicorn

    from api.app import SERVER_OPTIONS

    scheme = "https" if ssl_certfile else "http"
    console.print(f"Gongyu API: {scheme}://{host}:{port}/docs  (workspace {root})")
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
