"""Dagster's UI inside the Gongyu app at `/dagster`, behind Gongyu's sign-in (`GONGYU_DAGSTER_UI`).

Dagster's webserver has no sign-in of its own, so it never listens on a port of its own: its ASGI
app runs in the API process (`api.dagster_ui.workspace`) and only the guard (`api.dagster_ui.guard`)
reaches it, for operators (full UI) and stewards (read-only).
"""

from __future__ import annotations

from api.dagster_ui.guard import PREFIX, mount

__all__ = ["PREFIX", "mount"]
