"""Values nested deeper than JSON tools recurse, anywhere in an API page (issue 12, point 8).

A recipe's ``config`` arrives as a JSON array inside the recipes page, a connection's ``tags``
inside the connections page, and Workato may add fields to any item. One of them nested
10,000 levels deep must not fail the page, the sync or a later step: the client decodes pages
without recursion, the row keeps such a field whole as JSON text in ``deep_fields`` (null in
its own column), a recipe whose config is not the array of connection entries Workato serves
is quarantined in ``workato_raw.recipe_errors`` with the reason, and everything else lands.
Served by the simulator over HTTP, synced with ``materialize()`` into a real DuckDB file, then
every archy table is built.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from workato_simulator import Workspace
from workato_simulator.workspace import RawJSON, application_config

from archy_pipeline.extract.state import MAX_STORED_DEPTH
from archy_pipeline.resources.warehouse import WarehouseResource
from archy_pipeline.workato import json_tree
from tests.support import build_archy, materialize_sync, simple_code, sync_resources

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

DEPTH = 10_000


def _nested_arrays(depth: int) -> str:
    return "[" * depth + "]" * depth


def _nested_objects(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def _deep_code(depth: int) -> str:
    """A trigger, ``depth`` nested ``if`` blocks and an action, as JSON text."""
    head = '{"keyword":"trigger","provider":"salesforce","name":"new_object","block":['
    leaf = '{"keyword":"action","provider":"slack","name":"post_message"}'
    return head + '{"keyword":"if","block":[' * depth + leaf + "]}" * depth + "]}"


def _workspace() -> tuple[Workspace, dict[str, int]]:
    ws = Workspace(name="Deep")
    project = ws.add_project("Sales")
    sf = ws.add_connection("salesforce", "Salesforce Prod", project.folder_id)
    slack = ws.add_connection("slack", "Slack", project.folder_id)
    config = [application_config("salesforce", sf.id), application_config("slack", slack.id)]
    ids = {
        f"good {i}": ws.add_recipe(
            f"Good {i}", simple_code("salesforce", "slack"), config, project.folder_id
        ).id
        for i in range(3)
    }
    deep_config = ws.add_recipe(
        "Deep config", simple_code("salesforce", "slack"), config, project.folder_id
    )
    deep_config.raw_config = _nested_arrays(DEPTH)
    ids["deep config"] = deep_config.id
    # Shallow enough to keep as JSON, but not the array of connection entries either.
    odd_config = ws.add_recipe(
        "Config an object", simple_code("salesforce", "slack"), config, project.folder_id
    )
    odd_config.raw_config = '{"keyword":"application","provider":"salesforce"}'
    ids["odd config"] = odd_config.id
    deep_code = ws.add_recipe("Deep code", {"keyword": "trigger"}, config, project.folder_id)
    deep_code.raw_code = _deep_code(DEPTH)
    ids["deep code"] = deep_code.id
    # A documented JSON field and a field Workato might add, both nested 10,000 levels.
    slack.extra["tags"] = RawJSON(_nested_arrays(DEPTH))
    ws.folders[project.folder_id].extra["layout"] = RawJSON(_nested_objects(DEPTH))
    ids["deep connection"] = slack.id
    ids["deep folder"] = project.folder_id
    return ws, ids


def _query(path: Path, sql: str, *params: object) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def test_values_nested_10000_levels_in_any_page_are_kept_whole_and_the_sync_lands(
    simulator, tmp_path: Path
) -> None:
    ws, ids = _workspace()
    sim = simulator(ws, rate_limits=None)
    warehouse = WarehouseResource(duckdb_path=str(tmp_path / "warehouse.duckdb"))
    path = warehouse.path

    assert materialize_sync(sync_resources(sim, warehouse)).success
    assert build_archy(warehouse).success

    # Every recipe lands; only the two whose config is not the array of entries are
    # quarantined, each with a reason that says what is wrong with it.
    landed = {i for (i,) in _query(path, "select id from workato_raw.recipes")}
    assert landed == {v for k, v in ids.items() if k not in ("deep connection", "deep folder")}
    errors = dict(_query(path, "select recipe_id, error from workato_raw.recipe_errors"))
    assert set(errors) == {ids["deep config"], ids["odd config"]}, errors
    assert errors[ids["deep config"]].startswith("config is nested 10,000 levels deep")
    assert errors[ids["odd config"]].startswith("config is an object, not the array")
    # Nothing is lost: the deep config is null in its column and whole in deep_fields.
    config, kept = _query(
        path, "select config, deep_fields from workato_raw.recipes where id = ?", ids["deep config"]
    )[0]
    assert config is None
    assert kept == '{"config":' + _nested_arrays(DEPTH) + "}"
    assert json_tree.depth(json_tree.loads(kept)["config"]) == DEPTH
    odd = _query(path, "select config from workato_raw.recipes where id = ?", ids["odd config"])
    assert json.loads(odd[0][0]) == {"keyword": "application", "provider": "salesforce"}

    # The recipes that are not quarantined have their steps (the deep one all 10,002), the
    # quarantined ones none.
    steps = dict(
        _query(path, "select recipe_id, count(*) from workato_raw.recipe_steps group by 1")
    )
    assert steps[ids["deep code"]] == DEPTH + 2
    assert {k for k, v in ids.items() if v in steps} == {
        "good 0", "good 1", "good 2", "deep code"
    }  # fmt: skip

    # The connection and the folder land, their deep field null and kept whole.
    tags, kept = _query(
        path,
        "select tags, deep_fields from workato_raw.connections where id = ?",
        ids["deep connection"],
    )[0]
    assert tags is None and kept == '{"tags":' + _nested_arrays(DEPTH) + "}"
    (kept,) = _query(
        path, "select deep_fields from workato_raw.folders where id = ?", ids["deep folder"]
    )[0]
    assert kept == '{"layout":' + _nested_objects(DEPTH) + "}"
    issues = {
        subject: message
        for subject, message in _query(
            path, "select subject, message from workato_raw.sync_issues where kind = 'deep_value'"
        )
    }
    assert set(issues) == {
        f"recipes {ids['deep config']}",
        f"connections {ids['deep connection']}",
        f"folders {ids['deep folder']}",
    }
    assert "tags (10,000 levels)" in issues[f"connections {ids['deep connection']}"]

    # The archy tables are built, from every recipe that was read.
    described = {i for (i,) in _query(path, "select recipe_id from archy.integration_descriptions")}
    assert described == landed
    integrations = {i for (i,) in _query(path, "select recipe_id from archy.integrations")}
    assert {ids[k] for k in ("good 0", "good 1", "good 2", "deep code")} <= integrations
    instances = {i for (i,) in _query(path, "select connection_id from archy.system_instances")}
    assert ids["deep connection"] in instances

    # The next (daily) sync finds nothing changed: the deep rows are not loaded again.
    loads_before = dict(_query(path, "select id, _dlt_load_id from workato_raw.recipes"))
    assert materialize_sync(sync_resources(sim, warehouse)).success
    assert dict(_query(path, "select id, _dlt_load_id from workato_raw.recipes")) == loads_before
    errors_after = {i for (i,) in _query(path, "select recipe_id from workato_raw.recipe_errors")}
    assert errors_after == {ids["deep config"], ids["odd config"]}

    # Another deep config is seen as a change (the config column is null both times).
    ws.update_recipe(ids["deep config"], raw_config=_nested_arrays(DEPTH - 1000))
    assert materialize_sync(sync_resources(sim, warehouse)).success
    errors = dict(_query(path, "select recipe_id, error from workato_raw.recipe_errors"))
    assert errors[ids["deep config"]].startswith("config is nested 9,000 levels deep")

    # Fixed in Workato, the recipe leaves the quarantine and gets its steps.
    ws.update_recipe(ids["deep config"], raw_config=None)
    assert materialize_sync(sync_resources(sim, warehouse)).success
    (config, kept) = _query(
        path, "select config, deep_fields from workato_raw.recipes where id = ?", ids["deep config"]
    )[0]
    assert kept is None and len(json.loads(config)) == 2
    errors_after = {i for (i,) in _query(path, "select recipe_id from workato_raw.recipe_errors")}
    assert errors_after == {ids["odd config"]}
    (count,) = _query(
        path,
        "select count(*) from workato_raw.recipe_connections where recipe_id = ?",
        ids["deep config"],
    )[0]
    assert count == 2


def test_the_storage_bound_sits_below_every_recursive_json_tool() -> None:
    """dlt writes json columns with orjson (255 levels at most); json.dumps and json.loads
    recurse about 1,000 levels: a value at the bound passes all three."""
    import orjson

    value = json_tree.loads(_nested_arrays(MAX_STORED_DEPTH))
    assert json.loads(orjson.dumps(value)) == value
    with pytest.raises(orjson.JSONEncodeError):
        orjson.dumps(json_tree.loads(_nested_arrays(256)))
