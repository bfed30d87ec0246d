"""Settings: an invalid archy.yaml is one line naming the key, from the CLI and from Dagster,
before any request; the validated sections reach mapping, analysis and notify as they read them;
settings flow one way (no module below the resources reads archy.yaml or the environment)."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
import yaml
from dagster_dlt import DagsterDltResource

from archy_pipeline.analysis import Thresholds, parse_thresholds
from archy_pipeline.cli import main
from archy_pipeline.definitions import build_defs
from archy_pipeline.mapping import System, parse_mapping_config
from archy_pipeline.notify import parse_notify_settings
from archy_pipeline.resources import ArchySettingsResource, WorkatoResource
from archy_pipeline.resources.warehouse import WarehouseResource
from archy_pipeline.settings import (
    ConfigError,
    check_environment,
    parse_settings,
    read_environment,
)
from archy_pipeline.settings.model import valid_cron
from tests.support import materialize_sync, workspace_with_recipes

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------- invalid files

#: Each invalid archy.yaml (``{url}``: the simulator's base URL) and the end of its one line.
INVALID = [
    pytest.param(
        "workspaces:\n  - name: ACME\n    base_url: {url}\n    schedule: daily\n",
        "workspaces[0]: unknown key schedule; allowed: name, data_center, base_url, token_env, "
        "user_email, user_id, sync",
        id="unknown-key",
    ),
    pytest.param(
        "workspaces:\n  - name: ACME\n    base_url: {url}\n    user_id: '12'\n",
        "workspaces[0].user_id: must be an integer, not '12'",
        id="wrong-type",
    ),
    pytest.param(
        "schedules:\n  daily: '99 99 * * *'\n",
        "schedules.daily: '99 99 * * *' is not a valid cron expression (minute 0-59, hour 0-23, "
        "day 1-31, month 1-12, weekday 0-6), e.g. '0 2 * * *'",
        id="cron",
    ),
    pytest.param(
        "schedules:\n  timezone: Mars/Olympus\n",
        "schedules.timezone: 'Mars/Olympus' is not an IANA time zone such as 'UTC' or "
        "'Europe/Berlin'",
        id="time-zone",
    ),
    pytest.param(
        "sync:\n  folders:\n    include: ['Home/[Sales']\n",
        "sync.folders.include[0]: 'Home/[Sales' is not a valid folder glob: it opens a '[' at "
        "position 6 that is never closed (write [[] for '[')",
        id="glob",
    ),
    pytest.param(
        "mapping:\n  rules:\n    - {name: '(?i)^hr[', system: workday}\n",
        "mapping.rules[0].name: '(?i)^hr[' is not a valid regular expression: unterminated "
        "character set at position 7",
        id="regex",
    ),
    pytest.param(
        "mapping:\n  fuzzy_threshold: 120\n",
        "mapping.fuzzy_threshold: must be a number from 50 to 100, not 120",
        id="fuzzy-threshold",
    ),
    pytest.param(
        "notifications:\n  email:\n    host: smtp.acme.example\n    port: smtp\n"
        "    sender: archy@acme.example\n    recipients: [architects@acme.example]\n",
        "notifications.email.port: must be a port number from 1 to 65535, not 'smtp'",
        id="smtp-port",
    ),
    pytest.param(
        "workspaces:\n  - name: ACME\n    base_url: {url}\n  - name: EU\n    token_env: EU_TOKEN\n",
        "workspaces[1].token_env: environment variable EU_TOKEN is not set; set it to the "
        "workspace's API client token (Workspace admin > API clients), or store the token "
        "encrypted with `archy-pipeline connect --workspace EU`",
        id="missing-env-var",
    ),
    pytest.param(
        "workspaces:\n  - name: ACME\n    base_url: {url}\n  sync: {recipes: all}\n",
        "line 4, column 3: not valid YAML (expected <block end>, but found '?')",
        id="yaml-syntax",
    ),
]


@pytest.fixture
def setup(simulator, tmp_path, monkeypatch):
    """A simulator with recipes to sync and an archy.yaml to break; returns (sim, write)."""
    sim = simulator(workspace_with_recipes(3), rate_limits=None)
    monkeypatch.setenv("WORKATO_API_TOKEN", sim.token)
    monkeypatch.setenv("WORKATO_BASE_URL", sim.base_url)
    monkeypatch.setenv("ARCHY_DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    path = tmp_path / "archy.yaml"
    monkeypatch.setenv("ARCHY_CONFIG", str(path))

    def write(text: str) -> str:
        path.write_text(text.replace("{url}", sim.base_url))
        return str(path)

    return sim, write


def _materialize_sync(tmp_path: Path, partition: str) -> None:
    materialize_sync(
        {
            "dlt": DagsterDltResource(),
            "workato": WorkatoResource(requests_per_minute=0, max_attempts=1),
            "warehouse": WarehouseResource(duckdb_path=str(tmp_path / "dagster.duckdb")),
            "settings": ArchySettingsResource(),
        },
        partition=partition,
    )


@pytest.mark.parametrize(("text", "problem"), INVALID)
def test_an_invalid_archy_yaml_is_one_line_from_the_cli_and_from_dagster(
    setup, tmp_path, capsys, text, problem
):
    sim, write = setup
    source = write(text)
    line = f"{source}: {problem}"

    # The CLI: one line on stderr, exit code 2, no traceback, nothing sent.
    assert main(["sync"]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [line]
    assert "Traceback" not in captured.out + captured.err
    assert sim.requests == []

    # Dagster: the code location refuses to load with the same line (the environment is
    # not read when it loads: a missing variable stops the run instead)...
    if "environment variable" not in problem:
        with pytest.raises(ConfigError) as loading:
            build_defs()
        assert str(loading.value) == line
    else:
        assert build_defs().resolve_job_def("sync_job") is not None
    # ...and a run the settings resource serves stops at the same line, before any request.
    partition = "EU" if "EU" in text else "ACME" if "ACME" in text else "Main Workspace"
    with pytest.raises(ConfigError) as running:
        _materialize_sync(tmp_path, partition)
    assert str(running.value) == line
    assert sim.requests == []


def test_test_connection_refuses_an_invalid_file_before_any_request(setup, capsys):
    sim, write = setup
    source = write("schedules:\n  weekly: '0 4 * * 8'\n")
    assert main(["test-connection"]) == 2
    assert capsys.readouterr().err == (
        f"{source}: schedules.weekly: '0 4 * * 8' is not a valid cron expression (minute 0-59, "
        "hour 0-23, day 1-31, month 1-12, weekday 0-6), e.g. '0 2 * * *'\n"
    )
    assert sim.requests == []


def test_a_missing_token_without_a_file_names_the_variable(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)  # no archy.yaml: one workspace from the environment
    assert main(["test-connection", "--base-url", "http://127.0.0.1:9/api"]) == 2
    assert capsys.readouterr().err == (
        "environment variable WORKATO_API_TOKEN is not set; set it to the workspace's API "
        "client token (Workspace admin > API clients), or store the token encrypted with "
        "`archy-pipeline connect --workspace 'Main Workspace'`\n"
    )


def test_a_bad_smtp_port_in_the_environment_is_refused_naming_the_variable(
    setup, monkeypatch, capsys
):
    sim, write = setup
    write(
        "notifications:\n  email:\n    sender: archy@acme.example\n"
        "    recipients: [architects@acme.example]\n"
    )
    monkeypatch.setenv("ARCHY_SMTP_HOST", "smtp.acme.example")
    monkeypatch.setenv("ARCHY_SMTP_PORT", "25x")
    assert main(["sync"]) == 2
    assert capsys.readouterr().err == (
        "environment: ARCHY_SMTP_PORT: must be a port number from 1 to 65535, not '25x'\n"
    )
    monkeypatch.delenv("ARCHY_SMTP_HOST")
    monkeypatch.delenv("ARCHY_SMTP_PORT")
    assert main(["sync"]) == 2
    assert "notifications.email.host: is required" in capsys.readouterr().err
    assert sim.requests == []


def test_a_secret_pasted_as_a_variable_name_is_never_echoed(setup, capsys):
    _, write = setup
    pasted = "wrkaus-1f2e3d4c5b6a-pasted"
    write(f"workspaces:\n  - name: ACME\n    token_env: {pasted}\n")
    assert main(["sync"]) == 2
    err = capsys.readouterr().err
    assert "token_env: must be the NAME of an environment variable" in err
    assert pasted not in err


def test_cron_strings_are_checked_as_dagster_checks_them():
    from dagster._utils.schedules import is_valid_cron_string

    samples = [
        "0 2 * * *", "30 1 * * 1-5", "*/15 * * * *", "0 0 30 2 *", "0 0 31 2 *", "99 99 * * *",
        "0 4 * * 8", "0 0 L * *", "0 2 * *", "@daily", "0 0 1 1 * 2020",
    ]  # fmt: skip
    assert [valid_cron(s) for s in samples] == [
        is_valid_cron_string(s) and len(s.split()) == 5 for s in samples
    ]


# ---------------------------------------------------------------------- sections handed on


def test_sections_reach_mapping_analysis_and_notify_as_they_read_them():
    text = """
systems:
  - {id: sfdc-sales, name: Salesforce CRM (Sales), providers: Salesforce_secondary,
     aliases: [SFDC, " "]}
mapping:
  links:
    - {workspace: Main Workspace, connection_id: 5012, system: sfdc-sales}
    - {connection: " NetSuite - Sandbox ", system: netsuite}
    - {connection_id: 5099, reject: true}
  rules:
    - {name: "(?i)^hr[-_ ]", system: workday}
    - {application: Jira_secondary, folder: "IT*/", tags: [Finance],
       system: jira-service-management}
  fuzzy_threshold: 90
analysis: {inactive_days: 10.0, failure_ratio: 0.3}
notifications:
  email: {host: h, tls: off, username_env: SMTP_USER, sender: a@b.c, recipients: [d@e.f]}
  webhook: {}
  on: [sync_error, new_recipe]
"""
    settings = parse_settings(yaml.safe_load(text))

    mapping = parse_mapping_config(settings)
    assert mapping.systems == (
        System("sfdc-sales", "Salesforce CRM (Sales)", "", "", ("salesforce",), ("SFDC",), (),
               "user"),
    )  # fmt: skip
    assert [(k.connection_id, k.connection, k.system, k.reject) for k in mapping.links] == [
        (5012, None, "sfdc-sales", False),
        (None, "NetSuite - Sandbox", "netsuite", False),
        (5099, None, None, True),
    ]
    hr, jira = mapping.rules
    assert hr.pattern is not None and hr.pattern.search("HR-Payroll")
    assert (jira.application, jira.folder, jira.tags) == (("jira",), ("Home/IT*",), ("finance",))
    assert mapping.fuzzy_threshold == 90.0

    thresholds = parse_thresholds(settings.analysis)
    assert thresholds == dataclasses.replace(Thresholds(), inactive_days=10, failure_ratio=0.3)
    assert isinstance(thresholds.inactive_days, int)

    env = read_environment({"SMTP_USER": "archy", "ARCHY_WEBHOOK_URL": "https://hooks.example/x"})
    handed = parse_notify_settings(settings.notifications, env)
    assert handed.email is not None and handed.webhook is not None
    assert (handed.email.host, handed.email.port, handed.email.tls) == ("h", 25, "none")
    assert handed.email.username.get_secret_value() == "archy"
    assert handed.email.login_required, "username_env was written, so a login is required"
    assert handed.webhook.url.get_secret_value() == "https://hooks.example/x"
    assert handed.on == ("new_recipe", "sync_error")  # in digest order


def test_analysis_settings_are_the_thresholds_with_their_defaults():
    from archy_pipeline.settings.sections import AnalysisSettings

    assert AnalysisSettings().model_dump() == dataclasses.asdict(Thresholds())


def test_an_smtp_host_may_come_from_the_environment_only():
    settings = parse_settings(
        {"notifications": {"email": {"sender": "a@b.c", "recipients": ["d@e.f"]}}}
    )
    token = {"WORKATO_API_TOKEN": "t"}
    with pytest.raises(ConfigError, match=r"notifications\.email\.host: is required"):
        check_environment(settings, read_environment(token))
    check_environment(settings, read_environment({**token, "ARCHY_SMTP_HOST": "smtp.x"}))


# ---------------------------------------------------------------------- one way


#: Where archy.yaml and the environment may be read.
#: (The package's __init__ only writes: it switches third-party telemetry off.)
ALLOWED = ("archy_pipeline/settings/", "archy_pipeline/resources/", "archy_pipeline/cli/",
           "archy_pipeline/definitions.py", "archy_pipeline/__init__.py")  # fmt: skip
#: Names that read archy.yaml or the environment.
READERS = {"load_config", "load_settings", "config_path", "read_environment", "getenv",
           "environ", "putenv", "load_notify_settings", "load_schedule_settings"}  # fmt: skip


def _reads(tree: ast.AST) -> list[tuple[int, str]]:
    """``(line, what)`` for each read of settings outside the layer, in source order."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.ImportFrom) and node.module in ("os", "archy_pipeline.settings"):
            for alias in node.names:
                if alias.name in READERS:
                    found.append((node.lineno, f"import of {alias.name}"))
        elif isinstance(node, ast.Attribute) and node.attr in READERS:
            found.append((node.lineno, ast.unparse(node)))
        elif isinstance(node, ast.Name) and node.id in READERS:
            found.append((node.lineno, node.id))
        elif isinstance(node, ast.Call) and any(
            isinstance(a, ast.Constant) and a.value == "archy.yaml" for a in node.args
        ):
            found.append((node.lineno, ast.unparse(node)))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def test_no_module_below_the_resources_reads_archy_yaml_or_the_environment():
    offences = []
    for path in sorted((ROOT / "archy_pipeline").rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        if not name.startswith(ALLOWED):
            tree = ast.parse(path.read_text(), name)
            offences += [f"{name}:{line}: {what}" for line, what in _reads(tree)]
    assert offences == [], "settings must come from the resources: " + "; ".join(offences)


def test_the_one_way_check_finds_what_it_looks_for():
    tree = ast.parse(
        "import os\nfrom os import getenv\n"
        "def f():\n    return os.environ.get('X'), open('archy.yaml'), load_config()\n"
    )
    assert _reads(tree) == [
        (2, "import of getenv"), (4, "os.environ"), (4, "open('archy.yaml')"), (4, "load_config"),
    ]  # fmt: skip
