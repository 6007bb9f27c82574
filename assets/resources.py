"""The Dagster resource that hands assets and sensors the Gongyu platform of a workspace."""

from __future__ import annotations

from functools import cache

import dagster as dg

from gongyu.platform import Platform
from gongyu.settings import Settings


@cache
def _platform(home: str) -> Platform:
    # One Platform per workspace and process: contracts and catalog connections are reused.
    return Platform(Settings(home=home))


class GongyuResource(dg.ConfigurableResource):
    """A Gongyu workspace (`home`); defaults to the `GONGYU_HOME` setting."""

    home: str

    def platform(self) -> Platform:
        """The workspace's platform facade."""
        return _platform(self.home)
