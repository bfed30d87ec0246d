"""A faithful local simulator of the read side of the Workato Developer API."""

from workato_simulator.server import (
    DEFAULT_RATE_LIMITS,
    Fault,
    RequestRecord,
    WorkatoSimulator,
)
from workato_simulator.workspace import Workspace

__all__ = ["DEFAULT_RATE_LIMITS", "Fault", "RequestRecord", "WorkatoSimulator", "Workspace"]
