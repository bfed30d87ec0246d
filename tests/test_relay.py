"""The relay recipe package: importable, read by our parser and the simulator's export loader,
and what it posts is what the webhook receiver accepts."""

from __future__ import annotations

import http.client
import json
import re
import zipfile

import pytest
from workato_simulator import Workspace
from workato_simulator.export_loader import load_exports

from archy_pipeline.webhooks import EVENT_TYPES, RELAY_PACKAGE, WebhookReceiver, sign
from archy_pipeline.workato.recipe_parser import parse_recipe

SOURCES = RELAY_PACKAGE.parent / "archy_realtime_relay"
SECRET = "whsec-relay-0123456789abcdef"
PILL = re.compile(r"#\{_dp\('(\{.*?\})'\)\}")
#: A value for each trigger output the relay bodies use (the last element of the pill path).
SAMPLES = {
    "recipe_id": "4242", "id": "5001", "root_recipe_id": "4000", "calling_recipe_id": "4001",
    "error_count": "60", "is_authorization_error": "true", "is_rate_limit_error": "false",
    "user_id": "7", "error_id": "err-1", "job_id": "j-abc",
    "stopped_at": "2026-11-30T09:15:00.000-08:00", "started_at": "2026-11-30T09:16:00.000-08:00",
    "authorized_at": "2026-11-01T08:00:00.000-08:00",
}  # fmt: skip


def recipes() -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted(SOURCES.glob("*.recipe.json"))}


def test_the_zip_holds_exactly_the_package_sources():
    with zipfile.ZipFile(RELAY_PACKAGE) as package:
        members = {name: package.read(name) for name in package.namelist()}
    assert members == {p.name: p.read_bytes() for p in SOURCES.iterdir()}, (
        "rebuild archy_realtime_relay.zip from archy_realtime_relay/ (files at the zip's root)"
    )
    assert len([m for m in members if m.endswith(".recipe.json")]) == 5


def test_one_relay_recipe_per_recipeops_trigger_the_receiver_accepts():
    triggers = {}
    for name, data in recipes().items():
        code = data["code"]
        assert set(data) >= {"name", "version", "private", "concurrency", "code", "config"}
        assert (code["keyword"], code["provider"]) == ("trigger", "workato_app"), name
        (step,) = code["block"]
        assert (step["provider"], step["name"]) == ("rest", "make_request_v2")
        assert step["input"]["request"]["method"] == "POST"
        assert step["input"]["request"]["url"].endswith("/events")
        triggers[code["name"]] = name
    assert sorted(triggers) == sorted(EVENT_TYPES)


@pytest.mark.parametrize("name", sorted(recipes()))
def test_our_parser_reads_each_relay_recipe(name):
    parsed = parse_recipe(recipes()[name])
    assert [s.provider for s in parsed.steps] == ["workato_app", "rest"]
    assert {c.provider for c in parsed.connections} == {"workato_app", "rest"}


def test_the_simulator_export_loader_reads_the_unzipped_package(tmp_path):
    with zipfile.ZipFile(RELAY_PACKAGE) as package:
        package.extractall(tmp_path / "archy_realtime_relay")
    report = load_exports(tmp_path / "archy_realtime_relay", Workspace())
    assert not report.bad_files
    assert not report.unresolved_references
    assert len(report.recipes) == 5
    assert sorted(c.name for c in report.connections) == [
        "archy relay | RecipeOps", "archy relay | receiver"
    ]  # fmt: skip
    ws = report.workspace
    for recipe in ws.recipes.values():
        bound = {c["provider"]: c["account_id"] for c in recipe.config}
        assert all(isinstance(bound[p], int) for p in ("workato_app", "rest")), recipe.name


def render(body: str) -> str:
    """The body as Workato would send it, each output pill replaced by a sample value."""
    return PILL.sub(lambda m: SAMPLES[json.loads(m.group(1))["path"][-1]], body)


@pytest.mark.parametrize("name", sorted(recipes()))
def test_what_each_relay_posts_is_accepted_by_the_receiver(name, tmp_path):
    code = recipes()[name]["code"]
    body = render(code["block"][0]["input"]["request"]["body"]).encode()
    event = json.loads(body)
    with WebhookReceiver(
        port=0, inbox_path=tmp_path / "inbox.sqlite", secret=SECRET, workspaces=["Main Workspace"]
    ) as receiver:
        connection = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=10)
        connection.request(
            "POST", "/events", body=body,
            headers={"Content-Type": "application/json", "X-Archy-Signature": sign(body, SECRET)},
        )  # fmt: skip
        answer = connection.getresponse()
        assert answer.status == 202, answer.read()
        (stored,) = receiver.inbox.since(0, 10)
    assert stored.type == code["name"]
    assert stored.subject_id in {"4242", "5001"}
    assert "#{" not in stored.event_id and stored.event_id.startswith(code["name"])
    assert event["workspace"] == "Main Workspace"
