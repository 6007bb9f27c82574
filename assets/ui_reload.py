"""Tell a running Dagster webserver that the contracts changed, so its UI shows their assets."""

from __future__ import annotations

import logging

from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError
from dagster_graphql.client.utils import ReloadRepositoryLocationStatus
from pydantic import HttpUrl

LOCATION = "gongyu"  # workspace.yaml's location_name
log = logging.getLogger(__name__)


def reload_code_location(url: HttpUrl) -> bool:
    """Reload Gongyu's code location in the webserver at `url`; a failure is logged in one line
    (the runs do not depend on the UI) and returns False."""
    client = DagsterGraphQLClient(
        url.host or "127.0.0.1",
        port_number=url.port,
        use_https=url.scheme == "https",
        timeout=30,
    )
    try:
        info = client.reload_repository_location(LOCATION)
    except (DagsterGraphQLClientError, OSError) as error:
        cause = error.__cause__ or error  # the client's own message repeats the whole query
        log.warning("the Dagster UI at %s was not reloaded: %s", url, str(cause).splitlines()[0])
        return False
    if info.status != ReloadRepositoryLocationStatus.SUCCESS:
        log.warning("the Dagster UI at %s did not reload %s: %s", url, LOCATION, info.message)
        return False
    log.info("the Dagster UI at %s reloaded %s", url, LOCATION)
    return True
