"""Resources: the Workato client and the warehouse."""

from archy_pipeline.resources.workato import WorkatoResource
from archy_pipeline.workato.client import WorkatoClient, WorkatoError

__all__ = ["WorkatoClient", "WorkatoError", "WorkatoResource"]
