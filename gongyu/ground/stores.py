"""The one place that chooses where zones and the warehouse live: a folder or an S3 bucket."""

from __future__ import annotations

from gongyu.ground.settings import Settings
from gongyu.ground.storage import FolderStore, Store
from gongyu.ground.workspace import Workspace


def open_store(settings: Settings, workspace: Workspace) -> Store:
    """The store the settings choose: a bucket when `s3_endpoint` is set, else the folder."""
    if settings.s3_endpoint:
        from gongyu.ground.s3 import S3Store  # minio and httpfs are only needed for a bucket

        return S3Store(settings, scratch=workspace.staging)
    return FolderStore(workspace)
