"""The command line: test-connection and simulator serve, as a user runs them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import httpx
import pytest

from archy_pipeline.cli import main
from tests.support import SECRET_TOKEN, simple_code, workspace_with_recipes


def test_test_connection_prints_workspace_and_exits_0(simulator, monkeypatch, capsys):
    sim = simulator(workspace_with_recipes(12, name="ACME Integrations", workspace_id=4242))
    monkeypatch.setenv("WORKATO_API_TOKEN", sim.token)
    monkeypatch.setenv("WORKATO_BASE_URL", sim.base_url)
    assert main(["test-connection"]) == 0
    out = capsys.readouterr().out
    assert "ACME Integrations (id 4242)" in out
    assert "12 (6 running)" in out


def test_test_connection_with_a_bad_token_exits_1_with_the_fix(simulator, monkeypatch, capsys):
    sim = simulator(workspace_with_recipes(1))
    monkeypatch.setenv("WORKATO_API_TOKEN", SECRET_TOKEN)
    assert main(["test-connection", "--base-url", sim.base_url]) == 1
    captured = capsys.readouterr()
    assert "authentication failed" in captured.err
    assert "WORKATO_API_TOKEN" in captured.err
    assert SECRET_TOKEN not in captured.err + captured.out


def test_test_connection_to_an_unreachable_host_exits_1(monkeypatch, capsys):
    monkeypatch.setenv("WORKATO_API_TOKEN", SECRET_TOKEN)
    assert main(["test-connection", "--base-url", "http://127.0.0.1:9/api", "--timeout", "1"]) == 1
    assert "Cannot reach Workato" in capsys.readouterr().err


def test_test_connection_catches_the_wrong_workspace(simulator, monkeypatch, capsys):
    sim = simulator(workspace_with_recipes(1, workspace_id=1))
    monkeypatch.setenv("WORKATO_API_TOKEN", sim.token)
    assert main(["test-connection", "--base-url", sim.base_url, "--user-id", "2"]) == 1
    assert "not to user id 2" in capsys.readouterr().err


def test_simulator_serve_prints_base_url_and_token_and_serves(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "archy_pipeline.cli", "simulator", "serve", "--recipes", "120",
         "--port", "0", "--seed", "3"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )  # fmt: skip
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if "Ctrl+C" in line or not line:
                break
        text = "".join(lines)
        base_url = re.search(r"base URL: (\S+)", text).group(1)
        token = re.search(r"token:\s+(\S+)", text).group(1)
        assert base_url.startswith("http://127.0.0.1:")
        me = httpx.get(f"{base_url}/users/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["recipes_count"] == 120
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode == 0


@pytest.mark.parametrize("argv", [[], ["simulator"], ["nonsense"]])
def test_usage_errors_exit_2(argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2


def _config_for(sim, tmp_path, monkeypatch, name: str = "ACME") -> None:
    path = tmp_path / "archy.yaml"
    path.write_text(f"workspaces:\n  - name: {name}\n    base_url: {sim.base_url}\n")
    monkeypatch.setenv("ARCHY_CONFIG", str(path))
    monkeypatch.setenv("ARCHY_DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("WORKATO_API_TOKEN", sim.token)


def test_progress_lines_are_at_most_one_per_stage_every_few_seconds(
    simulator, tmp_path, monkeypatch, capsys
):
    """Each progress line is a Dagster event written to the event log: a stage says where it
    is at once, then at most every PROGRESS_SECONDS, not once per page."""
    from archy_pipeline.assets import extract

    sim = simulator(workspace_with_recipes(230), rate_limits=None)
    _config_for(sim, tmp_path, monkeypatch)
    monkeypatch.setattr(extract, "PROGRESS_SECONDS", 3600.0)
    assert main(["sync", "--full"]) == 0
    err = capsys.readouterr().err
    assert "recipes: 100 items so far, 1 page" in err
    assert "recipes: 200 items so far" not in err and "recipes: 230 items so far" not in err
    monkeypatch.setattr(extract, "PROGRESS_SECONDS", 0.0)
    assert main(["sync", "--full"]) == 0
    err = capsys.readouterr().err
    for line in ("recipes: 100 items so far, 1 page", "recipes: 200 items so far, 2 pages",
                 "recipes: 230 items so far, 3 pages"):  # fmt: skip
        assert line in err


def test_sync_shows_progress_and_what_it_loaded(simulator, tmp_path, monkeypatch, capsys):
    sim = simulator(workspace_with_recipes(130), rate_limits=None)
    _config_for(sim, tmp_path, monkeypatch)
    assert main(["sync"]) == 0
    out = capsys.readouterr()
    assert "== Syncing workspace 'ACME' (incremental)" in out.out
    assert "recipes 130 (+130)" in out.out
    assert "recipes: 100 items so far, 1 page" in out.err, "progress per page in the run log"
    # Each recipe: a Salesforce trigger (read) and a Slack create_object (write).
    access = "step access: 260 steps on external apps: 50% read, 50% write, 0% unknown"
    assert f"== 'ACME' {access}\n" in out.out

    assert main(["sync", "--workspace", "ACME"]) == 0
    out = capsys.readouterr()
    assert "recipes 130 (+0)" in out.out, "nothing new the second time"
    assert f"== 'ACME' {access}\n" in out.out, "the share covers the workspace, every sync"

    assert main(["sql", "select count(*) as n from workato_raw.recipes"]) == 0
    assert "130" in capsys.readouterr().out


def test_sync_says_a_project_left_the_scope_and_accept_deletions_applies_it(
    simulator, tmp_path, monkeypatch, capsys
):
    ws = workspace_with_recipes(6)
    hr = ws.add_project("HR")
    for i in range(3):
        ws.add_recipe(f"HR {i}", simple_code("workday", "sftp"), folder_id=hr.folder_id)
    sim = simulator(ws, rate_limits=None)
    _config_for(sim, tmp_path, monkeypatch)
    assert main(["sync"]) == 0
    capsys.readouterr()
    sales = min(ws.projects)
    ws.set_token_scope(sim.token, project_ids=frozenset({sales}))

    assert main(["sync"]) == 0
    out = capsys.readouterr().out
    assert "project 'HR' (Home/HR) is no longer visible to this API client" in out
    assert "3 recipe(s) and 0 connection(s) were kept" in out
    assert (
        main(["sql", "select count(*) as n from workato_raw.recipes where deleted_at is null"]) == 0
    )
    assert "9" in capsys.readouterr().out

    assert main(["sync", "--accept-deletions"]) == 0
    assert "held deletions applied: 1 folders, 1 projects, 3 recipes" in capsys.readouterr().out
    assert (
        main(["sql", "select count(*) as n from workato_raw.recipes where deleted_at is null"]) == 0
    )
    assert "6" in capsys.readouterr().out


def test_sync_failure_exits_1_with_a_one_line_reason(simulator, tmp_path, monkeypatch, capsys):
    sim = simulator(workspace_with_recipes(3), rate_limits=None)
    _config_for(sim, tmp_path, monkeypatch)
    monkeypatch.setenv("WORKATO_API_TOKEN", SECRET_TOKEN)
    assert main(["sync"]) == 1
    err = capsys.readouterr().err
    (line,) = [line for line in err.splitlines() if line.startswith("sync of")]
    assert line.startswith("sync of 'ACME' failed: Workato authentication failed (401")
    assert SECRET_TOKEN not in err


def test_sync_of_an_unknown_workspace_names_the_known_ones(
    simulator, tmp_path, monkeypatch, capsys
):
    sim = simulator(workspace_with_recipes(1), rate_limits=None)
    _config_for(sim, tmp_path, monkeypatch)
    assert main(["sync", "--workspace", "Nope"]) == 2
    err = capsys.readouterr().err
    assert "no workspace named 'Nope'; it lists 'ACME'" in err
    assert sim.requests == []


def test_webhooks_serve_receives_a_signed_event(tmp_path):
    from archy_pipeline.webhooks import Inbox, sign

    secret = "a-webhook-secret-of-enough-length"
    config = tmp_path / "archy.yaml"
    config.write_text("workspaces:\n  - name: ACME\n")
    inbox = tmp_path / "elsewhere" / "inbox.sqlite"
    # The secret from the variable --secret-env names, the inbox from ARCHY_WEBHOOK_INBOX.
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TEAM_HOOK_SECRET": secret,
           "ARCHY_CONFIG": str(config), "ARCHY_WEBHOOK_INBOX": str(inbox)}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "archy_pipeline.cli", "webhooks", "serve", "--port", "0",
         "--secret-env", "TEAM_HOOK_SECRET"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )  # fmt: skip
    try:
        line = process.stdout.readline()
        url = re.search(r"POST events to (\S+)", line).group(1)
        body = (
            b'{"event_id": "e-1", "workspace": "ACME", "type": "recipe_stopped", '
            b'"recipe_id": 42, "occurred_at": "2026-11-29T10:00:00Z"}'
        )
        answer = httpx.post(url, content=body, headers={"X-Archy-Signature": sign(body, secret)})
        assert answer.status_code == 202
        unsigned = httpx.post(url, content=body)
        assert unsigned.status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode == 0
    assert [e.event_id for e in Inbox(inbox).since(0)] == ["e-1"]
