"""archy.yaml: parsing, validation errors a user can act on, environment naming patterns."""

from __future__ import annotations

import pytest

from archy_pipeline.config import (
    ConfigError,
    FolderSelection,
    environment_of,
    load_config,
    parse_config,
)


@pytest.mark.parametrize(
    ("name", "environment"),
    [
        pytest.param("ACME Production Salesforce", "production", id="word"),
        pytest.param("NetSuite - Sandbox", "sandbox", id="dash"),
        pytest.param("slack_ops_prd", "production", id="snake-abbrev"),
        pytest.param("[HR] Workday PROD", "production", id="upper"),
        pytest.param("SalesforceSandbox", "sandbox", id="camel"),
        pytest.param("[OCSI Migration]|CON|Kafka|Prepod", "staging", id="prepod-before-prod"),
        pytest.param("Snowflake DEV", "development", id="dev"),
        pytest.param("CON | Jira | UAT", "staging", id="uat"),
        pytest.param("Oracle QA", "test", id="qa"),
        pytest.param("Salesforce pre-prod", "staging", id="hyphenated"),
        pytest.param("Snowflake Connection - PeopleAnalytics_DB", "unknown", id="nothing"),
        pytest.param("Product catalogue DB", "unknown", id="prod-inside-a-word"),
        pytest.param("Devices inventory", "unknown", id="dev-inside-a-word"),
        pytest.param(None, "unknown", id="none"),
    ],
)
def test_environment_from_connection_names(name, environment):
    assert environment_of(name) == environment


def test_environment_patterns_can_be_changed_in_archy_yaml():
    config = parse_config({"environments": {"production": ["prod", "prd", "p1"]}})
    assert config.environment_of("Salesforce P1") == "production"
    assert config.environment_of("Salesforce live") == "unknown", "'live' was dropped"


def test_without_a_file_one_workspace_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORKATO_BASE_URL", "http://127.0.0.1:9/api")
    config = load_config()
    assert config.names == ["Main Workspace"]
    assert config.workspaces[0].base_url == "http://127.0.0.1:9/api"
    assert config.workspaces[0].token_env == "WORKATO_API_TOKEN"


def test_a_full_file_parses(tmp_path, monkeypatch):
    path = tmp_path / "archy.yaml"
    path.write_text(
        """
workspaces:
  - name: Main Workspace
    data_center: us
  - name: EU Workspace
    base_url: https://app.eu.workato.com/api
    token_env: WORKATO_EU_TOKEN
    sync:
      recipes: running
sync:
  folders:
    include: ["Sales*", 123]
    exclude: ["Home/Sales/Sandbox"]
  connections:
    exclude_names: ["*test*"]
    environments: [production]
  max_vanished_share: 0.2
  held_deletions_grace_days: 7
"""
    )
    monkeypatch.setenv("ARCHY_CONFIG", str(path))
    config = load_config()
    main, eu = config.workspaces
    assert main.sync.folders.include == ("Home/Sales*", 123)
    assert main.sync.recipes == "all"
    assert eu.sync.recipes == "running"
    assert eu.sync.folders == main.sync.folders, "workspace sync blocks override, not replace"
    assert eu.sync.max_vanished_share == 0.2
    assert eu.sync.held_deletions_grace_days == 7.0
    assert eu.token_env == "WORKATO_EU_TOKEN"
    with pytest.raises(ConfigError, match="WORKATO_EU_TOKEN is not set"):
        eu.token()
    monkeypatch.setenv("WORKATO_EU_TOKEN", "eu-token")
    assert eu.token() == "eu-token"
    assert config.workspace("EU Workspace") is eu
    with pytest.raises(ConfigError, match="no workspace named 'Asia'"):
        config.workspace("Asia")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param({"workspace": []}, "unknown key(s) workspace", id="typo"),
        pytest.param({"workspaces": []}, "non-empty list", id="empty"),
        pytest.param({"workspaces": [{"data_center": "eu"}]}, "name is required", id="no-name"),
        pytest.param(
            {"workspaces": [{"name": "A"}, {"name": "A"}]}, "must be unique: A", id="duplicate"
        ),
        pytest.param(
            {"workspaces": [{"name": "A", "token_env": "wrkaus-abc-123"}]},
            "NAME of an environment variable",
            id="token-instead-of-variable",
        ),
        pytest.param({"sync": {"recipes": "some"}}, "'all' or 'running'", id="status"),
        pytest.param(
            {"sync": {"connections": {"environments": ["prod"]}}}, "prod not one of", id="env"
        ),
        pytest.param({"sync": {"max_vanished_share": 2}}, "from 0 to 1", id="share"),
        pytest.param({"sync": {"held_deletions_grace_days": "2w"}}, "number of days", id="grace"),
        pytest.param({"sync": {"folders": {"include": [True]}}}, "neither a folder id", id="rule"),
        pytest.param({"environments": {"prod": ["p"]}}, "environments.prod is not", id="envname"),
    ],
)
def test_invalid_files_say_what_is_wrong(data, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_config(data)


def test_an_explicit_missing_file_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv("ARCHY_CONFIG", str(tmp_path / "nope.yaml"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_config()


def test_folder_rules_cover_sub_folders():
    selection = FolderSelection(include=("Home/Sales", 7), exclude=("Home/Sales/Private*",))
    assert selection.includes(1, "Home/Sales")
    assert selection.includes(2, "Home/Sales/Quote to Cash/Deep")
    assert not selection.includes(3, "Home/Salesforce Ops")
    assert selection.includes(7, "Home/Anything")
    assert selection.excludes(4, "Home/Sales/Private Stuff")
    assert not selection.excludes(5, "Home/Sales")
