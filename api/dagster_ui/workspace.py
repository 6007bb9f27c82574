"""Dagster's webserver app in this process: one code server for Gongyu's code location (the
repository's `workspace.yaml`, as the daemon loads it), each request read-only unless the guard
says otherwise, reloaded when the contracts change.

The code server is a subprocess that builds the Definitions from the same `GONGYU_*` environment
as this server; `close()` stops it and waits for it to end, so none is left behind at shutdown.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import anyio
from dagster import DagsterInstance
from dagster._core.remote_representation.grpc_server_registry import GrpcServerRegistry
from dagster._core.workspace.context import (
    WEBSERVER_GRPC_SERVER_HEARTBEAT_TTL,
    WorkspaceProcessContext,
    WorkspaceRequestContext,
)
from dagster._core.workspace.load_target import WorkspaceFileTarget
from dagster._grpc.constants import INCREASE_TIMEOUT_DAGSTER_YAML_MSG, GrpcServerCommand
from dagster_webserver.app import create_app_from_workspace_process_context
from dagster_webserver.version import __version__ as webserver_version
from starlette.types import ASGIApp

from gongyu.platform import Platform

CHECKOUT_WORKSPACE = Path(__file__).resolve().parents[2] / "workspace.yaml"
READ_ONLY = "gongyu.dagster_read_only"
"""The ASGI scope key the guard sets: `False` only when this request may change anything."""


def workspace_file() -> Path:
    """The repository's `workspace.yaml`, the daemon's too: beside the code in a checkout, else
    in the working directory (an installed image keeps it there, `deploy/Dockerfile`)."""
    found = CHECKOUT_WORKSPACE if CHECKOUT_WORKSPACE.is_file() else Path.cwd() / "workspace.yaml"
    if not found.is_file():
        raise RuntimeError(f"Dagster UI: no workspace.yaml in {CHECKOUT_WORKSPACE.parent} or here")
    return found


class PerRequestContext(WorkspaceProcessContext):
    """A process context whose request contexts are read-only unless the request's scope says
    `READ_ONLY: False` (Dagster then hides launch buttons and refuses mutations)."""

    def create_request_context(self, source: object | None = None) -> WorkspaceRequestContext:
        """The context of one request (`source` is Starlette's connection, when there is one)."""
        scope = getattr(source, "scope", None)
        # Anything the guard did not mark (Dagster's own background use) is read-only.
        writable = isinstance(scope, dict) and scope.get(READ_ONLY) is False
        return WorkspaceRequestContext(
            instance=self.instance,
            current_workspace=self.get_current_workspace(),
            process_context=self,
            version=self.version,
            source=source,
            read_only=not writable,
        )


class DagsterUi:
    """Dagster's ASGI app over a `PerRequestContext`, and the contracts version its code location
    was loaded at; `open()` and `close()` block (a code server starts or stops)."""

    def __init__(self, platform: Platform, prefix: str) -> None:
        self.platform = platform
        self.prefix = prefix
        self._stack = ExitStack()
        self._lock = anyio.Lock()
        self.version = -1
        self.app: ASGIApp | None = None
        self.context: PerRequestContext | None = None

    def open(self) -> None:
        """Start the code server and build the webserver app."""
        home = self.platform.workspace.dagster_home
        if not (home / "dagster.yaml").is_file():
            raise RuntimeError(
                f"Dagster UI: no {home / 'dagster.yaml'}; write it with `gongyu dagster-home`"
            )
        self.version = self.platform.reload_contracts()  # before the code server reads them
        stack = self._stack
        instance = stack.enter_context(DagsterInstance.from_config(str(home)))
        # Our own registry, so shutdown waits for the code server to end instead of leaving it
        # to its heartbeat (45 s).
        registry = stack.enter_context(
            GrpcServerRegistry(
                instance_ref=instance.get_ref(),
                server_command=GrpcServerCommand.API_GRPC,
                heartbeat_ttl=WEBSERVER_GRPC_SERVER_HEARTBEAT_TTL,
                startup_timeout=instance.code_server_process_startup_timeout,
                wait_for_processes_on_shutdown=True,
                additional_timeout_msg=INCREASE_TIMEOUT_DAGSTER_YAML_MSG,
            )
        )
        self.context = stack.enter_context(
            PerRequestContext(
                instance,
                WorkspaceFileTarget(paths=[str(workspace_file())]),
                version=webserver_version,
                grpc_server_registry=registry,
            )
        )
        self.app = create_app_from_workspace_process_context(self.context, path_prefix=self.prefix)

    def close(self) -> None:
        """Close the code locations, stop the code server and wait for it."""
        self.app = self.context = None
        self._stack.close()

    async def refresh(self, version: int) -> None:
        """Reload the code location when the contracts changed since it was loaded, so a contract
        approved in the catalog shows its asset at once."""
        if version == self.version or self.context is None:
            return
        async with self._lock:
            if version != self.version:
                await anyio.to_thread.run_sync(self.context.reload_workspace)
                self.version = version
