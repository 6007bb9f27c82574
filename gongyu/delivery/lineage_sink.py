"""Where OpenLineage events go: always a JSON Lines file, and an HTTP endpoint when one is set."""

from __future__ import annotations

import fcntl
import logging
import os
from importlib.metadata import version
from pathlib import Path

from openlineage.client.event_v2 import RunEvent, set_producer
from openlineage.client.serde import Serde
from openlineage.client.transport.http import (
    ApiKeyTokenProvider,
    HttpConfig,
    HttpTransport,
    TokenProvider,
)

import gongyu
from gongyu.ground.settings import Settings
from gongyu.ground.workspace import Workspace

log = logging.getLogger(__name__)

GONGYU_VERSION = gongyu.__version__
OPENLINEAGE_VERSION = version("openlineage-python")
PRODUCER = f"urn:gongyu:{GONGYU_VERSION}"
# The client stamps every facet with one process-wide producer; Gongyu is the only OpenLineage
# producer in its processes.
set_producer(PRODUCER)

# No retries: the file already holds the event, and a delivery must not wait for a lineage
# server that is down.
NO_RETRY = {"total": 0, "connect": 0, "read": 0, "status": 0, "status_forcelist": []}


def events_file(settings: Settings, workspace: Workspace) -> Path:
    """The events file: `GONGYU_LINEAGE_FILE`, else `<home>/lineage/events.jsonl`."""
    return settings.lineage_file or workspace.root / "lineage" / "events.jsonl"


class LineageSink:
    """Appends each event to the file, then POSTs it to the endpoint if set; never raises."""

    def __init__(
        self, file: Path, url: str | None = None, api_key: str | None = None, timeout: float = 2.0
    ) -> None:
        self.file = file
        self.http: HttpTransport | None = None
        if url:
            auth = ApiKeyTokenProvider({"apiKey": api_key}) if api_key else TokenProvider({})
            # `endpoint=""`: the setting is the whole URL (Marquez and DataHub differ in path).
            config = HttpConfig(url=url, endpoint="", timeout=timeout, auth=auth, retry=NO_RETRY)
            self.http = HttpTransport(config)

    @classmethod
    def from_settings(cls, settings: Settings, workspace: Workspace) -> LineageSink:
        """The sink the settings describe."""
        key = settings.lineage_api_key.get_secret_value() if settings.lineage_api_key else None
        return cls(
            events_file(settings, workspace),
            str(settings.lineage_url) if settings.lineage_url else None,
            key,
            settings.lineage_timeout_seconds,
        )

    def emit(self, event: RunEvent) -> None:
        """Record the event in the file and send it on; failures are logged, not raised."""
        try:
            self._append(Serde.to_json(event, ensure_ascii=False) + "\n")
        except OSError:
            log.exception("could not append a lineage event to %s", self.file)
        if self.http is None:
            return
        try:
            self.http.emit(event)
        except Exception as error:
            log.warning(
                "lineage endpoint %s refused the %s event of run %s (kept in %s): %s",
                self.http.url,
                event.eventType.value if event.eventType else "?",
                event.run.runId,
                self.file,
                error,
            )

    def _append(self, line: str) -> None:
        # One locked write per event: runs in several processes (Dagster's run workers, API
        # uploads) append to the same file, and a buffered write could split a long line.
        self.file.parent.mkdir(parents=True, exist_ok=True)
        data = line.encode("utf-8")
        fd = os.open(self.file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)  # closing releases the lock
