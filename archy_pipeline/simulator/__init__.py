"""A faithful local simulator of the read side of the Workato Developer API."""

from archy_pipeline.simulator.server import (
    DEFAULT_RATE_LIMITS,
    Fault,
    RequestRecord,
    WorkatoSimulator,
)
from archy_pipeline.simulator.workspace import Workspace

__all__ = ["DEFAULT_RATE_LIMITS", "Fault", "RequestRecord", "WorkatoSimulator", "Workspace"]
