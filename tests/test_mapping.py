"""Connection -> system mapping: catalogue, archy.yaml sections, precedence, evaluation set."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from archy_pipeline.mapping import (
    BUILTIN_PROVIDERS,
    GENERIC_PROVIDERS,
    ConnectionInfo,
    ManualLink,
    MappingConfig,
    System,
    SystemMapping,
    custom_connector_slug,
    is_builtin_provider,
    load_catalogue,
    map_connections,
    normalise_provider,
    parse_mapping_config,
)
from archy_pipeline.settings import ConfigError, environment_of, parse_settings
from tests.support import report_figure

EVAL_CSV = Path(__file__).parent / "fixtures" / "mapping_eval.csv"
WS = "Main Workspace"

# Measured on tests/fixtures/mapping_eval.csv when the matcher was written: 'matched'
# precision 1.00, recall 0.97, environment accuracy 0.976. The floors leave some room for
# catalogue edits; precision is the promise (a wrong 'matched' row misleads an architect).
MIN_PRECISION = 0.95
MIN_RECALL = 0.90
MIN_NAME_ONLY_RECALL = 0.75
MIN_ENVIRONMENT_ACCURACY = 0.95


@pytest.fixture(scope="module")
def catalogue() -> list[System]:
    return load_catalogue()


def conn(
    name: str,
    application: str | None = None,
    connection_id: int = 1,
    folder: str | None = None,
    tags: tuple[str, ...] = (),
    workspace: str = WS,
) -> ConnectionInfo:
    return ConnectionInfo(workspace, connection_id, name, application, folder, tags)


def map_one(connection: ConnectionInfo, catalogue, config: MappingConfig | None = None):
    (row,) = map_connections([connection], catalogue, config)
    return row


def config_of(text: str) -> MappingConfig:
    """The mapping config of an archy.yaml, read as a run reads it: through the settings
    model (which refuses what is invalid, naming the key path)."""
    return parse_mapping_config(parse_settings(yaml.safe_load(text)))


# ---------------------------------------------------------------------- catalogue


def test_catalogue_is_large_and_well_formed(catalogue):
    assert len(catalogue) >= 150
    ids = [s.id for s in catalogue]
    assert len(ids) == len(set(ids))
    for system in catalogue:
        assert re.fullmatch(r"[a-z0-9][a-z0-9._-]*", system.id), system.id
        assert system.name and system.vendor and system.category, system
        assert system.source == "catalogue"
        assert all(p == normalise_provider(p) for p in system.providers), system
    assert len({s.category for s in catalogue}) >= 15


def test_catalogue_providers_are_specific(catalogue):
    """A provider points at one system, or at most a few (the first listed is primary)."""
    owners = Counter(p for s in catalogue for p in s.providers)
    assert max(owners.values()) <= 3, owners.most_common(3)
    for system in catalogue:
        for provider in system.providers:
            assert not is_builtin_provider(provider), (system.id, provider)
            assert provider not in GENERIC_PROVIDERS, (system.id, provider)
            assert not provider.startswith("workato_"), (system.id, provider)


@pytest.mark.parametrize(
    ("provider", "system_id"),
    [
        ("salesforce", "salesforce"),
        ("netsuite", "netsuite"),
        ("mssql", "microsoft-sql-server"),
        ("service_now", "servicenow"),
        ("workday", "workday"),
        ("workday_rest", "workday"),
        ("jira_service_desk", "jira-service-management"),
        ("google_big_query", "google-bigquery"),
        ("slack_bot", "slack"),
        ("teams_bot", "microsoft-teams"),
        ("sap", "sap-erp"),  # primary of two
        ("kafka", "apache-kafka"),
    ],
)
def test_catalogue_knows_workato_providers(catalogue, provider, system_id):
    owners = [s.id for s in catalogue if provider in s.providers]
    assert owners and owners[0] == system_id


@pytest.mark.parametrize(
    "provider",
    [
        *sorted(BUILTIN_PROVIDERS | GENERIC_PROVIDERS),
        *["workato_files", "workato_db_table", "workato_recipe_function"],
    ],
)
def test_builtin_and_generic_providers_are_no_system(catalogue, provider):
    assert not [s.id for s in catalogue if provider in s.providers]


def test_provider_helpers():
    assert normalise_provider("Salesforce_secondary") == "salesforce"
    assert normalise_provider("") is None
    assert custom_connector_slug("cicd_for_git_hub_v3_connector_865610_1730209886") == (
        "cicd_for_git_hub_v3"
    )
    assert custom_connector_slug("salesforce") is None
    assert is_builtin_provider("workato_app") and is_builtin_provider("logger")
    assert not is_builtin_provider("rest")


# ---------------------------------------------------------------------- evidence kinds


@pytest.mark.parametrize(
    ("name", "application", "system_id", "status", "method"),
    [
        # provider, with the name agreeing or silent
        ("ACME Production Salesforce", "salesforce", "salesforce", "matched", "provider"),
        ("Finance DWH", "mssql", "microsoft-sql-server", "matched", "provider"),
        ("sqlserver_fin_prd", "mssql_secondary", "microsoft-sql-server", "matched", "provider"),
        ("SalesforceSandbox", "salesforce_secondary", "salesforce", "matched", "provider"),
        ("WD_REST_PRD", "workday_rest", "workday", "matched", "provider"),
        ("Slack (Salesforce alerts)", "slack", "slack", "matched", "provider"),
        # provider and name disagree
        ("NetSuite prod", "salesforce", "salesforce", "partial", "provider"),
        # aliases in names of generic connections
        ("HTTP - Coupa API", "rest", "coupa", "matched", "alias"),
        ("JDBC Oracle EBS prod", "jdbc", "oracle-ebs", "matched", "alias"),
        ("https://acme.my.salesforce.com", "rest", "salesforce", "matched", "alias"),
        ("sfdc-sales-prd", "rest", "salesforce", "matched", "alias"),
        ("SQL Server STG", "jdbc", "microsoft-sql-server", "matched", "alias"),
        ("NS_FIN_PROD", "rest", "netsuite", "partial", "alias"),  # short alias
        ("Box - Legal", "rest", "box", "partial", "alias"),  # common word
        ("JDBC Oracle - Billing", "jdbc", "oracle-database", "partial", "alias"),  # vendor
        ("Salesforce and NetSuite bridge", "rest", "salesforce", "partial", "alias"),
        ("Pub/Sub - GCP", "rest", "google-cloud-pubsub", "matched", "alias"),
        # fuzzy
        ("Netsuit Prod", "rest", "netsuite", "partial", "fuzzy"),
        ("Salesfroce API", "rest", "salesforce", "partial", "fuzzy"),
        # custom connectors and providers missing from the catalogue
        (
            "CI/CD",
            "cicd_for_git_hub_v3_connector_865610_1730209886",
            "github",
            "partial",
            "provider",
        ),
        (
            "GitHub CI/CD",
            "cicd_for_git_hub_v3_connector_865610_1730209886",
            "github",
            "matched",
            "provider",
        ),
        ("Databricks PROD", "databricks", "databricks", "matched", "provider"),
        ("Team wiki", "notion", "notion", "matched", "provider"),
        # nothing
        ("HTTP - Internal Pricing API", "rest", None, "none", None),
        ("Microsoft Graph API", "rest", None, "none", None),
        ("Pricing Engine", "acme_pricing_connector_77_1699999999", None, "none", None),
        ("Salesforce lookups", "lookup_table", None, "none", None),
        ("RecipeOps", "workato_app", None, "none", None),
        ("", None, None, "none", None),
    ],
)
def test_evidence(catalogue, name, application, system_id, status, method):
    row = map_one(conn(name, application), catalogue)
    assert (row.system_id, row.match_status, row.method) == (system_id, status, method), row.reason
    assert row.reason
    if status == "none":
        assert row.confidence == 0.0
    elif status == "matched":
        assert row.confidence >= 0.85
    else:
        assert 0.4 <= row.confidence <= 0.8


@pytest.mark.parametrize(
    ("name", "application", "confidence", "words"),
    [
        ("Salesforce PROD", "salesforce", 0.97, ["provider 'salesforce'", "'Salesforce'"]),
        ("Integration user", "salesforce", 0.9, ["provider 'salesforce' is Salesforce"]),
        ("HTTP - Coupa API", "rest", 0.85, ["contains 'Coupa'", "'rest' is generic"]),
        ("sfdc_ops", "rest", 0.85, ["alias 'sfdc' of Salesforce"]),
        ("NetSuite prod", "salesforce", 0.5, ["'NetSuite'", "disagree"]),
        ("Netsuit Prod", "rest", None, ["fuzzy name match 'Netsuit' ~ 'NetSuite'", "score 0.9"]),
        ("asdf", "rest", 0.0, ["no rule, provider, alias or name matched"]),
    ],
)
def test_confidence_and_reasons(catalogue, name, application, confidence, words):
    row = map_one(conn(name, application), catalogue)
    if confidence is not None:
        assert row.confidence == pytest.approx(confidence)
    for word in words:
        assert word in row.reason, row.reason


def test_secondary_suffix_is_stripped(catalogue):
    rows = map_connections(
        [conn("A", "mssql"), conn("B", "mssql_secondary"), conn("C", "NetSuite_Secondary")],
        catalogue,
    )
    assert [r.system_id for r in rows] == [
        "microsoft-sql-server",
        "microsoft-sql-server",
        "netsuite",
    ]
    assert rows[1].application == "mssql_secondary"  # reported as Workato gave it


@pytest.mark.parametrize(
    ("name", "system_id", "status", "words"),
    [
        ("SAP S4 PRD", "sap-s4hana", "matched", ["shared by", "S4"]),
        ("SAP RFC PRD", "sap-erp", "matched", ["shared by", "SAP RFC"]),
        ("Plant 7 PRD", "sap-erp", "matched", ["primary"]),
    ],
)
def test_shared_provider_prefers_the_named_system_then_the_primary(
    catalogue, name, system_id, status, words
):
    row = map_one(conn(name, "sap"), catalogue)
    assert (row.system_id, row.match_status) == (system_id, status)
    for word in words:
        assert word in row.reason


def test_shared_provider_prefers_a_user_system(catalogue):
    config = config_of(
        """
        systems:
          - {id: sap-core, name: SAP Core (ECC 6), providers: [sap]}
        """
    )
    assert map_one(conn("Plant 7 PRD", "sap"), catalogue, config).system_id == "sap-core"
    two = config_of(
        """
        systems:
          - {id: sap-eu, name: SAP EU, providers: [sap], aliases: [SAP EMEA]}
          - {id: sap-us, name: SAP US, providers: [sap]}
        """
    )
    rows = map_connections(
        [conn("SAP EMEA PRD", "sap", 1), conn("Plant 7", "sap", 2)], catalogue, two
    )
    assert [(r.system_id, r.match_status) for r in rows] == [
        ("sap-eu", "matched"),
        ("sap-eu", "partial"),  # nothing says which of your two: the first, flagged
    ]
    assert "nothing in the name says which" in rows[1].reason


def test_user_systems_win_ties_and_take_over_their_catalogue_twin(catalogue):
    config = config_of(
        """
        systems:
          - id: sfdc-sales
            name: Salesforce CRM (Sales)
            vendor: Salesforce
            category: CRM
            providers: [salesforce]
            aliases: [SFDC, Sales Cloud]
            tags: [sales]
        """
    )
    rows = map_connections(
        [
            conn("Salesforce PROD", "salesforce", 1),
            conn("SFDC via HTTP", "rest", 2),
            conn("Salesforce REST (composite)", "rest", 3),
        ],
        catalogue,
        config,
    )
    assert [r.system_id for r in rows] == ["sfdc-sales"] * 3
    assert [r.match_status for r in rows] == ["matched"] * 3
    assert rows[0].system_name == "Salesforce CRM (Sales)"


def test_user_system_with_a_catalogue_id_replaces_it(catalogue):
    config = config_of("systems: [{id: netsuite, name: NetSuite OneWorld, aliases: [NSOW]}]")
    rows = map_connections(
        [conn("NSOW prod", "rest", 1), conn("Ledger", "netsuite", 2)], catalogue, config
    )
    assert [r.system_name for r in rows] == ["NetSuite OneWorld", None]
    assert rows[1].match_status == "none"  # the user's record lists no providers


def test_user_system_listing_a_generic_provider(catalogue):
    config = config_of("systems: [{id: pricing, name: Pricing Engine, providers: [rest]}]")
    rows = map_connections(
        [
            conn("Orders API", "rest", 1),
            conn("Pricing Engine PROD", "rest", 2),
            conn("HTTP - Coupa API", "rest", 3),
        ],
        catalogue,
        config,
    )
    assert [(r.system_id, r.match_status) for r in rows] == [
        ("pricing", "partial"),
        ("pricing", "matched"),
        ("pricing", "partial"),
    ]
    assert "disagree" in rows[2].reason


# ---------------------------------------------------------------------- links and rules

PRECEDENCE_CONFIG = """
mapping:
  links:
    - {workspace: Main Workspace, connection_id: 1, system: coupa}
  rules:
    - {name: "(?i)bridge", system: zendesk}
"""


@pytest.mark.parametrize(
    ("connection", "system_id", "method", "status", "confidence"),
    [
        # every layer applies: the manual link wins
        (conn("SFDC bridge", "hubspot", 1), "coupa", "manual", "matched", 1.0),
        # no link: the rule wins over provider, alias and fuzzy
        (conn("SFDC bridge", "hubspot", 2), "zendesk", "rule", "matched", 0.95),
        # no rule: the provider wins over the alias
        (conn("SFDC sync", "hubspot", 2), "hubspot", "provider", "partial", 0.5),
        (conn("Hubspot sync", "hubspot", 2), "hubspot", "provider", "matched", 0.97),
        # generic provider: the alias wins over fuzzy
        (conn("SFDC Netsuit sync", "rest", 2), "salesforce", "alias", "matched", 0.85),
        # no alias: fuzzy
        (conn("Netsuit sync", "rest", 2), "netsuite", "fuzzy", "partial", None),
        # nothing
        (conn("Orders sync", "rest", 2), None, None, "none", 0.0),
    ],
)
def test_precedence(catalogue, connection, system_id, method, status, confidence):
    row = map_one(connection, catalogue, config_of(PRECEDENCE_CONFIG))
    assert (row.system_id, row.method, row.match_status) == (system_id, method, status), row.reason
    if confidence is not None:
        assert row.confidence == pytest.approx(confidence)


def test_links_by_id_by_name_and_reject(catalogue):
    config = config_of(
        """
        mapping:
          links:
            - {workspace: Main Workspace, connection_id: 5012, system: netsuite}
            - {workspace: Main Workspace, connection: "netsuite - sandbox", system: oracle-ebs}
            - {connection_id: 5099, reject: true}
            - {workspace: EU Workspace, connection_id: 7000, system: coupa}
        """
    )
    rows = map_connections(
        [
            conn("Salesforce PROD", "salesforce", 5012),
            conn("NetSuite - Sandbox", "netsuite", 6000),
            conn("NetSuite - Sandbox", "netsuite", 5012),  # id link beats name link
            conn("Salesforce PROD", "salesforce", 5099, workspace="EU Workspace"),
            conn("Salesforce PROD", "salesforce", 7000),  # link is for another workspace
        ],
        catalogue,
        config,
    )
    assert [(r.system_id, r.method, r.match_status) for r in rows] == [
        ("netsuite", "manual", "matched"),
        ("oracle-ebs", "manual", "matched"),
        ("netsuite", "manual", "matched"),
        (None, "manual", "none"),
        ("salesforce", "provider", "matched"),
    ]
    assert "manual link in archy.yaml (mapping.links[0])" == rows[0].reason
    assert "rejected" in rows[3].reason and "mapping.links[2]" in rows[3].reason


@pytest.mark.parametrize(
    ("connection", "system_id", "words"),
    [
        (conn("hr_feed_prd", "sftp"), "workday", ["rule 1 (mapping.rules[0])", "name matches"]),
        (conn("HR-Feed", "sftp"), "workday", ["name matches /(?i)^hr[-_ ]/"]),
        (conn("Jira IT", "jira", folder="Home/IT/Access"), "jira-service-management", ["folder"]),
        (conn("Jira IT", "jira_secondary", folder="Home/IT"), "jira-service-management", []),
        (conn("Jira Eng", "jira", folder="Home/Engineering"), "jira", []),
        (conn("Spend", "rest", tags=("Finance", "p2p")), "coupa", ["tags include finance"]),
        (conn("Spend", "rest", tags=("p2p",)), None, []),
        (conn("Spend", "soap", tags=("finance",)), None, []),
        (conn("Sandbox thing", "foo_connector_1_2", folder="Home/Sandbox/x"), None, ["rejects"]),
        (conn("SNOW PRD", "service_now", folder="Home/Sandbox"), "servicenow", []),
    ],
)
def test_rules(catalogue, connection, system_id, words):
    config = config_of(
        """
        mapping:
          rules:
            - {name: "(?i)^hr[-_ ]", system: workday}
            - {application: jira, folder: "IT*", system: jira-service-management}
            - {tags: [finance], application: rest, system: coupa}
            - {application: "*_connector_*", folder: "Home/Sandbox*", reject: true}
        """
    )
    row = map_one(connection, catalogue, config)
    assert row.system_id == system_id, row.reason
    for word in words:
        assert word in row.reason, row.reason
    assert (row.method == "rule") == row.reason.startswith("rule ")


def test_first_matching_rule_wins(catalogue):
    config = config_of(
        """
        mapping:
          rules:
            - {workspace: EU Workspace, application: rest, system: sap-concur}
            - {application: rest, system: coupa}
            - {application: rest, system: sap-ariba}
        """
    )
    rows = map_connections(
        [conn("X", "rest", 1), conn("X", "rest", 2, workspace="EU Workspace")], catalogue, config
    )
    assert [r.system_id for r in rows] == ["coupa", "sap-concur"]
    assert rows[0].reason.startswith("rule 2 (mapping.rules[1])")


# ---------------------------------------------------------------------- rows and environments


def test_one_row_per_connection_in_order_unmatched_included(catalogue):
    connections = [
        conn("Salesforce PROD", "salesforce", 1),
        conn("asdf", "rest", 2),
        conn("Logger", "logger", 3),
        conn("HTTP - Coupa API", "rest", 4),
        conn("Untitled", None, 5),
    ]
    rows = map_connections(connections, catalogue)
    assert [r.connection_id for r in rows] == [1, 2, 3, 4, 5]
    assert all(isinstance(r, SystemMapping) for r in rows)
    assert [r.match_status for r in rows] == ["matched", "none", "none", "matched", "none"]
    for row in rows:
        if row.match_status == "none":
            assert row.system_id is None and row.system_name is None and row.reason


@pytest.mark.parametrize(
    ("name", "environment"),
    [
        ("ACME Production Salesforce", "production"),
        ("NetSuite - Sandbox", "sandbox"),
        ("slack_ops_prd", "production"),
        ("[HR] Workday PROD", "production"),
        ("CON | Jira | UAT", "staging"),
        ("Salesforce (Sales integration user)", "unknown"),
    ],
)
def test_environment_comes_from_config(catalogue, name, environment):
    row = map_one(conn(name, "salesforce"), catalogue)
    assert row.environment == environment == environment_of(name)


def test_custom_environment_patterns(catalogue):
    environments = {"staging": ("uat", "sit"), "production": ("prod", "prd")}
    (row,) = map_connections([conn("Workday SIT", "workday")], catalogue, None, environments)
    assert row.environment == "staging"


def test_default_catalogue_and_mapping_input(catalogue):
    (row,) = map_connections(
        [{"workspace": WS, "connection_id": 9, "name": "Okta PROD", "application": "okta"}]
    )
    assert (row.system_id, row.environment) == ("okta", "production")


# ---------------------------------------------------------------------- config parsing


def test_parse_full_example(catalogue):
    config = config_of(
        """
        workspaces: [{name: Main Workspace}]      # the whole file is validated
        systems:
          - id: sfdc-sales
            name: Salesforce CRM (Sales)
            vendor: Salesforce
            category: CRM
            providers: [salesforce]
            aliases: [SFDC, Sales Cloud]
            tags: [sales]
        mapping:
          links:
            - {workspace: Main Workspace, connection_id: 5012, system: sfdc-sales}
            - {workspace: Main Workspace, connection: "NetSuite - Sandbox", system: netsuite}
            - {connection_id: 5099, reject: true}
          rules:
            - {name: "(?i)^hr[-_ ]", system: workday}
            - {application: jira, folder: "Home/IT*", system: jira-service-management}
            - {tags: [finance], application: rest, system: coupa}
          fuzzy_threshold: 90
        """
    )
    (system,) = config.systems
    assert system.source == "user" and system.providers == ("salesforce",)
    assert system.tags == ("sales",)
    assert [link.reject for link in config.links] == [False, False, True]
    assert config.rules[1].folder == ("Home/IT*",) and config.rules[2].tags == ("finance",)
    assert config.fuzzy_threshold == 90
    assert config.rules[0].pattern is not None and config.rules[0].pattern.search("HR-Payroll")
    assert parse_mapping_config(parse_settings(None)) == MappingConfig()
    assert parse_mapping_config(parse_settings({"mapping": None})) == MappingConfig()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("systems: {id: x}", "systems: must be a list, not a mapping"),
        ("systems: [{name: X}]", "systems[0].id: is required"),
        ("systems: [{id: Bad Id, name: X}]", "systems[0].id: must be a slug of lowercase letters"),
        ("systems: [{id: x}]", "systems[0].name: is required"),
        (
            "systems: [{id: x, name: X, colour: red}]",
            "systems[0]: unknown key colour; allowed: id, name, vendor",
        ),
        ("systems: [{id: x, name: X, aliases: 3}]", "systems[0].aliases[0]: must be a string"),
        ("systems: [{id: x, name: X}, {id: x, name: Y}]", "systems: system ids must be unique: x"),
        ("mapping: [1]", "mapping: must be a mapping (key: value), not a list"),
        (
            "mapping: {link: []}",
            "mapping: unknown key link; allowed: links, rules, fuzzy_threshold",
        ),
        ("mapping: {links: [{system: x}]}", "mapping.links[0]: needs connection_id or connection"),
        (
            "mapping: {links: [{connection_id: '5', system: x}]}",
            "mapping.links[0].connection_id: must be an integer, not '5'",
        ),
        ("mapping: {links: [{connection_id: 5}]}", "mapping.links[0]: system is required"),
        (
            "mapping: {links: [{connection_id: 5, system: x, reject: true}]}",
            "mapping.links[0]: give either system or reject: true, not both",
        ),
        (
            "mapping: {links: [{connection_id: 5, reject: yes please}]}",
            "mapping.links[0].reject: must be true or false, not 'yes please'",
        ),
        (
            "mapping: {links: [{connection_id: 5, reject: true}, {connection_id: 5, system: x}]}",
            "mapping.links: links[1] names the same connection as links[0]",
        ),
        (
            "mapping: {rules: [{system: netsuite}]}",
            "mapping.rules[0]: needs at least one condition",
        ),
        (
            "mapping: {rules: [{name: '(oops', system: x}]}",
            "mapping.rules[0].name: '(oops' is not a valid regular expression",
        ),
        (
            "mapping: {rules: [{name: x, system: x, when: y}]}",
            "mapping.rules[0]: unknown key when; allowed:",
        ),
        ("mapping: {rules: [{tags: finance}]}", "mapping.rules[0]: system is required"),
        (
            "mapping: {fuzzy_threshold: 10}",
            "mapping.fuzzy_threshold: must be a number from 50 to 100, not 10",
        ),
        ("mapping: {fuzzy_threshold: high}", "mapping.fuzzy_threshold: must be a number"),
        (
            "mapping: {links: [{connection_id: 5, system: nope}]}",
            "mapping.links[0].system: 'nope' is not a known system id",
        ),
        (
            "mapping: {rules: [{name: x, system: nope}]}",
            "mapping.rules[0].system: 'nope' is not a known system id",
        ),
    ],
)
def test_config_errors_name_the_key_path(text, message):
    with pytest.raises(ConfigError) as error:
        config_of(text)
    assert str(error.value).startswith(f"archy.yaml: {message}")
    assert "\n" not in str(error.value)


def test_unknown_system_ids_are_caught_when_mapping(catalogue):
    """A config made in code (not read from archy.yaml) is checked against the catalogue
    ``map_connections`` gets."""
    config = MappingConfig(links=(ManualLink(0, connection_id=5, system="nope"),))
    with pytest.raises(ConfigError, match=r"mapping\.links\[0\]\.system 'nope' is not a known"):
        map_connections([conn("X", "rest", 5)], catalogue, config)


def test_fuzzy_threshold_is_configurable(catalogue):
    strict = config_of("mapping: {fuzzy_threshold: 95}")
    assert map_one(conn("Netsuit Prod", "rest"), catalogue).method == "fuzzy"
    assert map_one(conn("Netsuit Prod", "rest"), catalogue, strict).match_status == "none"


# ---------------------------------------------------------------------- evaluation


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 1.0


def test_evaluation_set(catalogue):
    """Map the hand-labelled set; report and bound precision/recall of 'matched' rows."""
    with EVAL_CSV.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) >= 200
    ids = {s.id for s in catalogue}
    assert {r["expected_system"] for r in rows if r["expected_system"]} <= ids
    connections = [
        conn(r["name"], r["application"] or None, i) for i, r in enumerate(rows, start=1)
    ]
    results = map_connections(connections, catalogue)

    def score(selected):
        matched = [(r, m) for r, m in selected if m.match_status == "matched"]
        correct = sum(1 for r, m in matched if m.system_id == r["expected_system"])
        positives = sum(1 for r, _ in selected if r["expected_system"])
        return correct, len(matched), positives

    pairs = list(zip(rows, results, strict=True))
    correct, matched, positives = score(pairs)
    precision, recall = _ratio(correct, matched), _ratio(correct, positives)
    # The harder half: rows whose provider alone names no system (generic, custom, unknown).
    name_only = [
        (r, m)
        for r, m in pairs
        if not any(normalise_provider(r["application"]) in s.providers for s in catalogue)
    ]
    n_correct, n_matched, n_positives = score(name_only)
    envs_right = sum(1 for r, m in pairs if m.environment == r["expected_environment"])
    statuses = Counter(m.match_status for m in results)
    wrong = [
        f"  {r['name']!r} ({r['application']}): {m.system_id} != {r['expected_system'] or None}"
        for r, m in pairs
        if m.match_status == "matched" and m.system_id != r["expected_system"]
    ]
    env_wrong = [
        f"  {r['name']!r}: {m.environment} != {r['expected_environment']}"
        for r, m in pairs
        if m.environment != r["expected_environment"]
    ]
    summary = (
        f"mapping eval: {len(rows)} connections, {positives} with a system; "
        f"statuses {dict(statuses)}; 'matched' precision {precision:.3f} "
        f"({correct}/{matched}), recall {recall:.3f} ({correct}/{positives}); "
        f"name-only subset ({len(name_only)} rows) precision "
        f"{_ratio(n_correct, n_matched):.3f}, recall {_ratio(n_correct, n_positives):.3f}; "
        f"environment accuracy {_ratio(envs_right, len(rows)):.3f} ({envs_right}/{len(rows)})"
    )
    report_figure(summary)
    print("\n".join(["wrongly matched:", *wrong, "environment misses:", *env_wrong]))  # noqa: T201
    assert precision >= MIN_PRECISION, "\n".join([summary, *wrong])
    assert recall >= MIN_RECALL, summary
    assert _ratio(n_correct, n_positives) >= MIN_NAME_ONLY_RECALL, summary
    assert _ratio(envs_right, len(rows)) >= MIN_ENVIRONMENT_ACCURACY, "\n".join(
        [summary, *env_wrong]
    )
