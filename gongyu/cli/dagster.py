"""`gongyu dagster-home`: write the workspace's Dagster instance config and print its folder."""

from __future__ import annotations

import typer

from gongyu.cli.common import WorkspaceOption, settings_for, user_errors


def dagster_home_command(workspace: WorkspaceOption = None) -> None:
    """Write `<workspace>/dagster/dagster.yaml` (storage on PostgreSQL when the catalog database
    is) and print that folder, for DAGSTER_HOME of `dagster-webserver` and `dagster-daemon`.

    Example: export DAGSTER_HOME="$(gongyu dagster-home)"
    """
    from assets.runner import dagster_home  # Dagster loads only for this command
    from gongyu.ground.workspace import Workspace

    with user_errors():
        home = dagster_home(Workspace.from_settings(settings_for(workspace)).create())
    typer.echo(str(home))
