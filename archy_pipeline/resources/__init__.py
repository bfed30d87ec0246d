"""Resources: the Workato client, the warehouse and the validated settings."""

from archy_pipeline.resources.settings import ArchySettingsResource
from archy_pipeline.resources.workato import WorkatoResource
from archy_pipeline.workato.client import WorkatoClient
from archy_pipeline.workato.errors import WorkatoError

__all__ = ["ArchySettingsResource", "WorkatoClient", "WorkatoError", "WorkatoResource"]
