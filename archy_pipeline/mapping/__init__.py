"""Which system does each Workato connection reach? Connection -> system mapping.

A Workato connection says little about the system behind it: a provider id (``salesforce``,
``mssql``, ``rest``, ``coupa_connector_812_1699``) and a name people typed ("ACME Production
Salesforce", "HTTP - Coupa API", "[HR] Workday PROD"). :func:`map_connections` turns each
connection into exactly one :class:`SystemMapping` row, using a catalogue of well-known systems
(``archy_pipeline/data/systems.yaml``, :func:`load_catalogue`) plus the user's own records and
overrides from ``archy.yaml``. Connections nothing matches are listed with status ``none``:
they are never hidden.

Modules: ``model`` (the data), ``config`` (archy.yaml's validated ``systems:`` and
``mapping:`` sections as that data), ``catalogue`` (the shipped catalogue), ``names`` (name
evidence: aliases and fuzzy matches), ``matching`` (the evidence order and
:func:`map_connections`).

No Dagster import: pure functions over plain data.
"""

from archy_pipeline.mapping.catalogue import load_catalogue
from archy_pipeline.mapping.config import parse_mapping_config
from archy_pipeline.mapping.matching import map_connections
from archy_pipeline.mapping.model import (
    BUILTIN_PROVIDERS,
    DEFAULT_FUZZY_THRESHOLD,
    ConnectionInfo,
    ManualLink,
    MappingConfig,
    MappingRule,
    System,
    SystemMapping,
    is_builtin_provider,
    merge_systems,
    normalise_provider,
)
from archy_pipeline.settings import DEFAULT_ENVIRONMENTS
from archy_pipeline.workato.vocabulary import GENERIC_PROVIDERS, custom_connector_slug

__all__ = [
    "BUILTIN_PROVIDERS",
    "DEFAULT_ENVIRONMENTS",
    "DEFAULT_FUZZY_THRESHOLD",
    "GENERIC_PROVIDERS",
    "ConnectionInfo",
    "ManualLink",
    "MappingConfig",
    "MappingRule",
    "System",
    "SystemMapping",
    "custom_connector_slug",
    "is_builtin_provider",
    "load_catalogue",
    "map_connections",
    "merge_systems",
    "normalise_provider",
    "parse_mapping_config",
]
