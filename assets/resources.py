"""The Dagster resource that hands assets and sensors the Gongyu platform of a workspace."""

from __future__ import annotations

from functools import cache

import dagster as dg

from gongyu.platform import Platform
from gongyu.settings import Settings


@cache
def _platform(home: str, database_url: str | None) -> Platform:
    # One Platform per workspace and process: contracts and catalog connections are reused.
    given = {"database_url": database_url} if database_url else {}
    return Platform(Settings(home=home, **given))


class GongyuResource(dg.ConfigurableResource):
    """A Gongyu workspace (`home`, and its catalog database unless the environment's
    `GONGYU_DATABASE_URL` holds it); defaults to the `GONGYU_HOME` setting."""

    home: str
    database_url: str | None = None

    def platform(self) -> Platform:
        """The workspace's platform facade."""
        return _platform(self.home, self.database_url)
