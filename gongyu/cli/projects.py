"""`gongyu projects`: the agencies' AI projects (the AI ledger): import their files, list them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gongyu.cli.common import WorkspaceOption, console, platform_for, print_list, user_errors

if TYPE_CHECKING:
    from catalog.ledger.projects import Project

app = typer.Typer(
    help="AI projects of agencies: import `sectors/projects/<agency>/<id>.yaml`, list them.",
    no_args_is_help=True,
)


@app.command("import")
def import_files(
    directory: Annotated[
        Path | None,
        typer.Argument(
            metavar="[DIR]",
            help="Folder of `<agency>/<id>.yaml` files (default: `projects/` beside the "
            "sectors file, i.e. sectors/projects).",
            show_default=False,
        ),
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Register the new projects and update the changed ones; running it again changes nothing.
    A file that does not validate stops the import with `file: field: message` lines.

    Example: gongyu projects import sectors/projects
    """
    from catalog.ledger.project_files import import_projects, projects_dir

    with user_errors():
        platform = platform_for(workspace)
        root = directory or projects_dir(platform.settings.sectors_file)
        done = import_projects(platform.projects, root, platform.contracts)
    console.print(
        f"projects: {len(done.registered)} registered, {len(done.updated)} updated, "
        f"{len(done.unchanged)} unchanged"
    )
    for verb, ids in (("registered", done.registered), ("updated", done.updated)):
        for project_id in ids:
            console.print(f"  {verb} {project_id}")


@app.command("list")
def list_projects(
    workspace: WorkspaceOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List every project, newest update first.

    Example: gongyu projects list --json
    """
    with user_errors():
        found = platform_for(workspace).projects.list()
    columns = ("project", "title", "lead", "partners", "sectors", "status", "period", "version")
    print_list(found, as_json, columns, _row)


def _row(p: Project) -> tuple[str, ...]:
    """A project as a row of `projects list`."""
    s = p.spec
    period = f"{s.start} – {s.end or ''}"
    return (
        s.id,
        s.title,
        s.lead,
        ", ".join(s.partners),
        ", ".join(s.sectors),
        s.status.value,
        period,
        str(p.version),
    )
