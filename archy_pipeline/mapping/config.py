"""The ``systems:`` and ``mapping:`` sections of archy.yaml, as the matcher reads them::

    systems:                      # your own architecture records; they win over the catalogue
      - id: sfdc-sales            # slug: lowercase letters, digits, '.', '_' or '-'
        name: Salesforce CRM (Sales)          # required
        vendor: Salesforce
        category: CRM
        providers: [salesforce]   # Workato provider ids; catalogue systems sharing one of
                                  # them defer to this record when it is the only one
        aliases: [SFDC, Sales Cloud]          # win over catalogue aliases when they tie
        tags: [sales]
      # an id that is also a catalogue id replaces that catalogue entry
    mapping:
      links:                      # manual links: always win, survive re-syncs
        - {workspace: Main Workspace, connection_id: 5012, system: sfdc-sales}
        - {workspace: Main Workspace, connection: "NetSuite - Sandbox", system: netsuite}
        - {connection_id: 5099, reject: true}   # never map this connection
        # keys: workspace (optional: any workspace), connection_id and/or connection (exact
        # name, case-insensitive), and exactly one of system (an id) or reject: true;
        # a link by connection_id beats one by name
      rules:                      # then rules, in order; first match wins
        - {name: "(?i)^hr[-_ ]", system: workday}                  # regex on the name (search)
        - {application: jira, folder: "Home/IT*", system: jira-service-management}
        - {tags: [finance], application: rest, system: coupa}
        - {application: "*_connector_*", folder: "Home/Sandbox*", reject: true}
        # conditions (all given ones must hold, at least one): name (regex), application
        # (provider globs, '_secondary' stripped), folder (path globs; a folder's sub-folders
        # follow it; "IT*" means "Home/IT*"), tags (all must be on the connection),
        # workspace; then exactly one of system or reject: true
      fuzzy_threshold: 85         # 50-100; raise it for fewer fuzzy guesses

The settings model validates both sections before any run (:mod:`archy_pipeline.settings`,
errors name the key path); this module only turns them into the matcher's types.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from archy_pipeline.mapping.model import (
    ManualLink,
    MappingConfig,
    MappingRule,
    System,
    normalise_provider,
)

if TYPE_CHECKING:
    from archy_pipeline.settings import ArchySettings
    from archy_pipeline.settings.sections import MappingLink
    from archy_pipeline.settings.sections import MappingRule as RuleSettings


def parse_mapping_config(settings: ArchySettings) -> MappingConfig:
    """The validated ``systems:`` and ``mapping:`` sections of ``settings`` as a
    :class:`MappingConfig`: provider ids normalised, folder globs made absolute, tags
    lower-cased, name patterns compiled."""
    mapping = settings.mapping
    return MappingConfig(
        systems=tuple(System.from_record(record, "user") for record in settings.systems),
        links=tuple(_link(index, link) for index, link in enumerate(mapping.links)),
        rules=tuple(_rule(index, rule) for index, rule in enumerate(mapping.rules)),
        fuzzy_threshold=mapping.fuzzy_threshold,
        source=settings.source,
    )


def _link(index: int, link: MappingLink) -> ManualLink:
    return ManualLink(
        index=index,
        workspace=link.workspace,
        connection_id=link.connection_id,
        connection=link.connection,
        system=link.system.strip() if link.system is not None else None,
        reject=link.reject,
    )


def _rule(index: int, rule: RuleSettings) -> MappingRule:
    folders = []
    for glob in rule.folder:
        glob = glob.strip().rstrip("/")
        folders.append(glob if glob.startswith("Home") else f"Home/{glob.lstrip('/')}")
    return MappingRule(
        index=index,
        system=rule.system.strip() if rule.system is not None else None,
        reject=rule.reject,
        name=rule.name,
        application=tuple(p for p in map(normalise_provider, rule.application) if p),
        folder=tuple(folders),
        tags=tuple(t.lower() for t in rule.tags),
        workspace=rule.workspace,
        pattern=re.compile(rule.name) if rule.name is not None else None,
    )
