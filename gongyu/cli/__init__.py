"""The `gongyu` command line: parses options, calls the library, turns its errors into messages."""

from __future__ import annotations

import signal
import sys

import typer

from gongyu.cli import (
    audit,
    contracts,
    dagster,
    deliver,
    demo,
    engines,
    grants,
    keys,
    mcp,
    people,
    privacy,
    projects,
    requests,
    run,
    serve,
    status,
    worker,
)

app = typer.Typer(
    name="gongyu",
    help="Gongyu (공유): the data commons of Korea's public institutions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("demo")(demo.demo)
app.command("deliver")(deliver.deliver)
app.command("run")(run.run)
app.command("status")(status.status)
app.command("serve")(serve.serve)
app.command("worker")(worker.worker)
app.command("mcp")(mcp.mcp)
app.command("dagster-home")(dagster.dagster_home_command)
app.add_typer(contracts.app, name="contracts")
app.add_typer(privacy.app, name="privacy")
app.add_typer(keys.app, name="keys")
app.add_typer(people.app, name="people")
app.add_typer(grants.app, name="grants")
app.add_typer(requests.app, name="requests")
app.add_typer(projects.app, name="projects")
app.add_typer(audit.app, name="audit")
app.add_typer(engines.app, name="engines")


def main() -> None:
    """Console-script entry point."""
    hear_interrupts()
    sys.exit(app())


def hear_interrupts() -> None:
    """Make SIGINT interrupt this process (and the Dagster processes it starts) again.

    A script that starts `gongyu demo` in the background leaves SIGINT ignored, and Dagster maps
    SIGTERM onto SIGINT's handler: the demo, `dagster dev` and its children would then ignore the
    SIGTERM a service manager sends to stop them. An ignored SIGINT is inherited across exec, a
    handler is not, so restoring Python's own handler here reaches every child too.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
