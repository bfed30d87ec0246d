"""archy.yaml: parsing, validation errors a user can act on, environment naming patterns."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from archy_pipeline.settings import (
    ConfigError,
    FolderSelection,
    WorkatoOverrides,
    environment_of,
    load_settings,
    parse_settings,
    read_environment,
    workato_target,
)
from archy_pipeline.settings.sections import AnalysisSettings


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
    config = parse_settings({"environments": {"production": ["prod", "prd", "p1"]}})
    assert config.environment_of("Salesforce P1") == "production"
    assert config.environment_of("Salesforce live") == "unknown", "'live' was dropped"


def test_without_a_file_one_workspace_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORKATO_BASE_URL", "http://127.0.0.1:9/api")
    monkeypatch.setenv("WORKATO_API_TOKEN", "env-token")
    config = load_settings()
    assert config.names == ["Main Workspace"]
    assert not config.from_file
    (workspace,) = config.workspaces
    assert (workspace.base_url, workspace.token_env) == (None, "WORKATO_API_TOKEN")
    target = workato_target(workspace, read_environment())
    assert target.base_url == "http://127.0.0.1:9/api"
    assert target.token.get_secret_value() == "env-token"
    assert "env-token" not in repr(target)


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
    config = load_settings()
    main, eu = config.workspaces
    assert main.sync.folders.include == ("Home/Sales*", 123)
    assert main.sync.recipes == "all"
    assert eu.sync.recipes == "running"
    assert eu.sync.folders == main.sync.folders, "workspace sync blocks override, not replace"
    assert eu.sync.max_vanished_share == 0.2
    assert eu.sync.held_deletions_grace_days == 7.0
    assert eu.token_env == "WORKATO_EU_TOKEN"
    with pytest.raises(
        ConfigError, match=r"workspaces\[1\]\.token_env: .*WORKATO_EU_TOKEN is not set"
    ):
        workato_target(eu, read_environment())
    monkeypatch.setenv("WORKATO_EU_TOKEN", "eu-token")
    assert workato_target(eu, read_environment()).token.get_secret_value() == "eu-token"
    assert config.workspace("EU Workspace") is eu
    with pytest.raises(ConfigError, match="no workspace named 'Asia'"):
        config.workspace("Asia")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param({"workspace": []}, "unknown key workspace; allowed: sync", id="typo"),
        pytest.param({"workspaces": []}, "non-empty list", id="empty"),
        pytest.param(
            {"workspaces": [{"data_center": "eu"}]}, "workspaces[0].name: is required", id="no-name"
        ),
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
            {"sync": {"connections": {"environments": ["prod"]}}}, "'prod' is not one of", id="env"
        ),
        pytest.param({"sync": {"max_vanished_share": 2}}, "from 0 to 1", id="share"),
        pytest.param({"sync": {"held_deletions_grace_days": "2w"}}, "number of days", id="grace"),
        pytest.param({"sync": {"folders": {"include": [True]}}}, "neither a folder id", id="rule"),
        pytest.param(
            {"environments": {"prod": ["p"]}}, "environments.prod: 'prod' is not", id="envname"
        ),
        pytest.param(
            {"workspaces": [{"name": "A", "data_center": "mars"}]},
            "workspaces[0].data_center: 'mars' is not a Workato data center",
            id="data-center",
        ),
        pytest.param(
            {"workspaces": [{"name": "A", "base_url": "ftp://x"}]},
            "workspaces[0].base_url: 'ftp://x' is not an http(s) URL",
            id="base-url",
        ),
        pytest.param(
            {"workspaces": [{"name": "A", "user_id": True}]},
            "workspaces[0].user_id: must be an integer, not True",
            id="user-id",
        ),
        pytest.param(
            {"sync": {"max_vanished_share": 2}, "workspaces": [{"name": "A", "sync": {}}]},
            "archy.yaml: sync.max_vanished_share:",
            id="top-level-sync-error-named-there",
        ),
        pytest.param(
            {"workspaces": [{"name": "A", "sync": {"recipes": "some"}}]},
            "workspaces[0].sync.recipes: must be 'all' or 'running'",
            id="workspace-sync",
        ),
    ],
)
def test_invalid_files_say_what_is_wrong(data, message):
    with pytest.raises(ConfigError) as info:
        parse_settings(data)
    assert message in str(info.value)
    assert str(info.value).startswith("archy.yaml: ")
    assert "\n" not in str(info.value)


def test_an_explicit_missing_file_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv("ARCHY_CONFIG", str(tmp_path / "nope.yaml"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings()


def test_empty_sections_are_their_defaults():
    config = parse_settings({"sync": None, "mapping": None, "analysis": None, "schedules": None})
    assert config.workspaces[0].sync.recipes == "all"
    assert config.schedules.daily == "0 2 * * *"
    assert config.analysis == AnalysisSettings()
    assert config.notifications is None
    assert parse_settings(None).names == ["Main Workspace"]


# ---------------------------------------------------------------------- host and token


def test_host_and_token_follow_one_precedence_rule(monkeypatch):
    """Resource > the workspace's archy.yaml entry > environment > default data center; at
    each level base_url wins over data_center."""
    config = parse_settings(
        {
            "workspaces": [
                {"name": "EU", "data_center": "eu", "token_env": "EU_TOKEN"},
                {"name": "Own", "base_url": "https://workato.acme.internal/api"},
                {"name": "Plain"},
            ]
        }
    )
    eu, own, plain = config.workspaces
    env = {
        "WORKATO_BASE_URL": "http://127.0.0.1:9/api",
        "WORKATO_API_TOKEN": "default-token",
        "EU_TOKEN": "eu-token",
    }
    variables = read_environment(env)
    resource = WorkatoOverrides(base_url="http://127.0.0.1:8/api")

    def host(workspace, overrides=None, environ=variables):
        return workato_target(workspace, environ, overrides).base_url

    assert host(eu, resource) == host(plain, resource) == "http://127.0.0.1:8/api"
    assert host(eu, WorkatoOverrides(data_center="jp")) == "https://app.jp.workato.com/api"
    assert host(eu) == "https://app.eu.workato.com/api", "archy.yaml beats the environment"
    assert host(own) == "https://workato.acme.internal/api"
    assert host(plain) == "http://127.0.0.1:9/api", "the environment when archy.yaml is silent"
    only_dc = read_environment({**env, "WORKATO_BASE_URL": "", "WORKATO_DATA_CENTER": "au"})
    assert host(plain, environ=only_dc) == "https://app.au.workato.com/api"
    no_host = read_environment({"WORKATO_API_TOKEN": "default-token"})
    assert host(plain, environ=no_host) == "https://www.workato.com/api"
    assert workato_target(plain, variables).host_from == "environment: WORKATO_BASE_URL"

    def token(workspace, overrides=None):
        return workato_target(workspace, variables, overrides).token.get_secret_value()

    assert token(eu) == "eu-token"
    assert token(plain) == "default-token"
    assert token(eu, WorkatoOverrides(api_token=SecretStr("resource-token"))) == "resource-token"
    with pytest.raises(ConfigError, match=r"^environment: WORKATO_DATA_CENTER: 'mars'"):
        workato_target(plain, read_environment({"WORKATO_DATA_CENTER": "mars"}))


def test_a_named_token_variable_never_falls_back_to_the_default_one():
    config = parse_settings({"workspaces": [{"name": "EU", "token_env": "EU_TOKEN"}]})
    variables = read_environment({"WORKATO_API_TOKEN": "another-workspaces-token"})
    with pytest.raises(ConfigError) as info:
        workato_target(config.workspaces[0], variables)
    assert str(info.value) == (
        "archy.yaml: workspaces[0].token_env: environment variable EU_TOKEN is not set; set it "
        "to the workspace's API client token (Workspace admin > API clients), or store the "
        "token encrypted with `archy-pipeline connect --workspace EU`"
    )


def test_folder_rules_cover_sub_folders():
    selection = FolderSelection(include=("Home/Sales", 7), exclude=("Home/Sales/Private*",))
    assert selection.includes(1, "Home/Sales")
    assert selection.includes(2, "Home/Sales/Quote to Cash/Deep")
    assert not selection.includes(3, "Home/Salesforce Ops")
    assert selection.includes(7, "Home/Anything")
    assert selection.excludes(4, "Home/Sales/Private Stuff")
    assert not selection.excludes(5, "Home/Sales")
