"""Genuine Workato export packages loaded into the simulator and served over real HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from workato_simulator.export_loader import (
    CORPUS_ENV_VAR,
    EXTERNAL_RECIPE_ID_BASE,
    UNKNOWN_APPLICATION,
    LoadReport,
    corpus_dir,
    load_corpus,
    load_exports,
)
from workato_simulator.server import WorkatoSimulator
from workato_simulator.workspace import Workspace, iter_blocks

REDHAT = "redhat-cbp-workato__workato-devops-workbot"
CUSTOM_PROVIDER = "cicd_for_git_hub_v3_connector_865610_1730209886"
DELETE_BY_LEGACY_ID = (
    "Legacy=>SCT migration/Case group members/Deletions/"
    "case_group_members_target_delete_by_source_legacy_id_function.recipe.json"
)


# ---------------------------------------------------------------------- helpers


def corpus_files(pattern: str) -> list[Path]:
    return sorted(corpus_dir().rglob(pattern))


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def corpus_file(name: str) -> Path:
    (found,) = [p for p in corpus_files("*.json") if p.name == name]
    return found


def walk_pairs(original: Any, served: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """Walk the export tree and the served tree together.

    Returns ``(path, reference, served value)`` for every reference object of the export;
    fails on any other difference (so numbers, datapills, pick-list labels are unchanged).
    """
    if isinstance(original, dict) and "zip_name" in original:
        return [(path, original, served)]
    if isinstance(original, dict):
        assert isinstance(served, dict), path
        assert set(original) == set(served), path
        found = []
        for key in original:
            found += walk_pairs(original[key], served[key], f"{path}.{key}")
        return found
    if isinstance(original, list):
        assert isinstance(served, list) and len(served) == len(original), path
        found = []
        for i, (a, b) in enumerate(zip(original, served)):
            found += walk_pairs(a, b, f"{path}[{i}]")
        return found
    assert original == served, path
    return []


def has_zip_name(value: Any) -> bool:
    if isinstance(value, dict):
        return "zip_name" in value or any(has_zip_name(v) for v in value.values())
    if isinstance(value, list):
        return any(has_zip_name(v) for v in value)
    return isinstance(value, str) and "zip_name" in value


def find_step(code: dict[str, Any], **match: Any) -> list[dict[str, Any]]:
    return [b for b in iter_blocks(code) if all(b.get(k) == v for k, v in match.items())]


class Served:
    """Everything the simulator answers for a loaded workspace, fetched over HTTP."""

    def __init__(self, report: LoadReport) -> None:
        self.report = report
        with WorkatoSimulator(report.workspace, rate_limits=None) as sim:
            headers = {"Authorization": f"Bearer {sim.token}"}
            with httpx.Client(base_url=sim.base_url, headers=headers, timeout=10) as client:

                def get(path: str, **params: Any) -> Any:
                    answer = client.get(path, params=params)
                    assert answer.status_code == 200, (path, answer.text)
                    return answer.json()

                self.recipes: list[dict[str, Any]] = []
                page = 1
                while True:
                    items = get("/recipes", per_page=100, page=page, **{"includes[]": "tags"})[
                        "items"
                    ]
                    self.recipes += items
                    if len(items) < 100:
                        break
                    page += 1
                self.connections = get("/connections", **{"includes[]": "tags"})
                self.projects = get("/projects")
                root = get("/users/me")["root_folder_id"]
                self.folder_paths = {root: "Home"}
                stack = [root]
                while stack:
                    parent = stack.pop()
                    for folder in get("/folders", parent_id=parent, per_page=100):
                        self.folder_paths[folder["id"]] = (
                            f"{self.folder_paths[parent]}/{folder['name']}"
                        )
                        stack.append(folder["id"])
        self.recipe_by_id = {r["id"]: r for r in self.recipes}
        self.connection_by_id = {c["id"]: c for c in self.connections}

    def recipe(self, file_name: str) -> dict[str, Any]:
        return self.recipe_by_id[self.report.recipe(file_name).recipe_id]

    def code(self, file_name: str) -> dict[str, Any]:
        return json.loads(self.recipe(file_name)["code"])

    def connection_named(self, name: str) -> dict[str, Any]:
        (found,) = [c for c in self.connections if c["name"] == name]
        return found


@pytest.fixture(scope="module")
def report() -> LoadReport:
    assert corpus_dir().is_dir(), f"corpus missing at {corpus_dir()} (set {CORPUS_ENV_VAR})"
    return load_corpus()


@pytest.fixture(scope="module")
def served(report: LoadReport) -> Served:
    return Served(report)


# ---------------------------------------------------------------------- the corpus loads


def test_every_corpus_file_loads(report: LoadReport) -> None:
    recipe_files = corpus_files("*.recipe.json")
    connection_files = corpus_files("*.connection.json")
    all_json = corpus_files("*.json")
    assert len(recipe_files) == 18 and len(connection_files) == 3 and len(all_json) == 25
    assert report.bad_files == []
    assert sorted(r.file for r in report.recipes) == recipe_files
    assert sorted(c.file for c in report.connections if c.origin == "file") == connection_files
    assert report.loaded_files == set(all_json)
    assert len(report.workspace.recipes) == len(recipe_files)


def test_served_recipes_are_live_form(served: Served, report: LoadReport) -> None:
    recipe_files = corpus_files("*.recipe.json")
    assert len(served.recipes) == len(recipe_files)
    assert sorted(r["name"] for r in served.recipes) == sorted(
        read_json(p)["name"] for p in recipe_files
    )
    for recipe in served.recipes:
        assert isinstance(recipe["code"], str)
        code = json.loads(recipe["code"])
        assert isinstance(code, dict) and code["number"] == 0
        assert not has_zip_name(code), recipe["name"]
        assert not has_zip_name(recipe["config"]), recipe["name"]
        for entry in recipe["config"]:
            assert entry["keyword"] == "application" and entry["name"] == entry["provider"]
            account = entry["account_id"]
            assert account is None or account in served.connection_by_id, (recipe["name"], entry)


def test_served_code_and_config_match_the_files(served: Served, report: LoadReport) -> None:
    """Code differs from the export only where a reference object was; config maps 1:1."""
    for path in corpus_files("*.recipe.json"):
        export = read_json(path)
        recipe = served.recipe(path.name)
        for location, ref, value in walk_pairs(export["code"], json.loads(recipe["code"])):
            assert isinstance(value, str) and value.isdigit(), (path.name, location)
            matches = [
                r for r in report.references if r.source == path and r.location == "code" + location
            ]
            assert [(m.zip_name, m.target_id) for m in matches] == [(ref["zip_name"], value)]
            if ref["zip_name"].endswith(".connection.json"):
                assert served.connection_by_id[int(value)]["name"] == ref["name"]
        assert len(recipe["config"]) == len(export["config"])
        for entry, live in zip(export["config"], recipe["config"]):
            assert live["provider"] == entry["provider"]
            assert live["skip_validation"] == entry["skip_validation"]
            if entry["account_id"] is None:
                assert live["account_id"] is None
            else:
                connection = served.connection_by_id[live["account_id"]]
                assert connection["name"] == entry["account_id"]["name"]
                assert connection["application"] == entry["provider"]


def test_projects_and_folders_per_package(served: Served, report: LoadReport) -> None:
    packages = sorted(p.name for p in corpus_dir().iterdir() if p.is_dir())
    assert sorted(p["name"] for p in served.projects) == packages
    for name in packages:
        project = report.packages[name]
        assert served.folder_paths[project.folder_id] == f"Home/{name}"
    # recipe files were copied flat into the corpus: they sit at their package's root
    for loaded in report.recipes:
        assert served.folder_paths[loaded.folder_id] == f"Home/{loaded.package}"
        assert served.recipe_by_id[loaded.recipe_id]["project_id"] == (
            report.packages[loaded.package].project_id
        )
    # the rajesh package names its connections inside the "rajesh/" folder
    gmail = served.connection_named("rajesh_533_account")
    assert served.folder_paths[gmail["folder_id"]] == "Home/rajeshjanapati__workato-cicd/rajesh"


# ---------------------------------------------------------------------- worked by hand


def test_call_recipe_to_out_of_package_callee(served: Served, report: LoadReport) -> None:
    code = served.code("case_group_members_source_deletion_watcher_app_trigger.recipe.json")
    (call,) = find_step(code, provider="workato_recipe_function", name="call_recipe")
    flow_id = call["input"]["flow_id"]
    assert isinstance(flow_id, str) and flow_id.isdigit()
    # the callee file is not part of the corpus: no recipe was invented for it
    assert not corpus_files(DELETE_BY_LEGACY_ID.rsplit("/", 1)[1])
    assert int(flow_id) not in served.recipe_by_id
    assert int(flow_id) > EXTERNAL_RECIPE_ID_BASE
    assert call["dynamicPickListSelection"] == {
        "flow_id": "Case group members | Target | Delete by source (legacy) ID [FUNCTION]"
    }
    out = [r for r in report.out_of_package_recipes if r.zip_name == DELETE_BY_LEGACY_ID]
    assert {r.source.name for r in out} == {
        "case_group_members_source_deletion_watcher_app_trigger.recipe.json",
        "case_group_members_source_delete_replay_webhook.recipe.json",
    }
    assert {r.target_id for r in out} == {flow_id}  # one stable id per zip_name
    replay = served.code("case_group_members_source_delete_replay_webhook.recipe.json")
    (replay_call,) = find_step(replay, name="call_recipe")
    assert replay_call["input"]["flow_id"] == flow_id


def test_numeric_flow_ids_stay(served: Served) -> None:
    code = served.code("cicd_func_get_execution_results.recipe.json")
    calls = find_step(code, name="call_recipe")
    assert [c["input"]["flow_id"] for c in calls] == ["48456885", "48456886"]
    assert calls[0]["dynamicPickListSelection"]["flow_id"] == (
        "AQS | FUNC | Get Execution Results from Quality Assessment Results Table"
    )


def test_custom_connector_connection(served: Served, report: LoadReport) -> None:
    connection = served.connection_named("CICD | CON | CICD for GitHub V3")
    assert connection["application"] == CUSTOM_PROVIDER
    assert connection["provider"] == CUSTOM_PROVIDER
    assert served.folder_paths[connection["folder_id"]] == (
        f"Home/{REDHAT}/CICD Automation/Connections"
    )
    loaded = report.connection("cicd_con_cicd_for_github_v3.connection.json")
    assert loaded.origin == "file" and loaded.connection_id == connection["id"]
    assert loaded.secure_gateway_tunnel_name == "mpp-preprod-spoke-aws-us-east-1-dev"
    recipe = served.recipe("cicd_func_create_release_in_github.recipe.json")
    (entry,) = [e for e in recipe["config"] if e["provider"] == CUSTOM_PROVIDER]
    assert entry["account_id"] == connection["id"]
    assert CUSTOM_PROVIDER in recipe["applications"]


def test_flat_connection_file_matches_its_reference(served: Served, report: LoadReport) -> None:
    kafka = served.connection_named("[OCSI Migration]|CON|Kafka|Prepod")
    assert kafka["application"] == "kafka"
    assert served.folder_paths[kafka["folder_id"]] == f"Home/{REDHAT}/Connections"
    assert report.connection(kafka["name"]).origin == "file"
    recipe = served.recipe("mdmpartyupdate_rec_accountupdate_mvp.recipe.json")
    assert {e["provider"]: e["account_id"] for e in recipe["config"]}["kafka"] == kafka["id"]
    xxrhfin = served.connection_named("S2P | CON |\u00a0XXRHFIN")
    assert xxrhfin["application"] == "oracle" and xxrhfin["tags"] == ["QA"]


def test_connections_created_from_references(served: Served, report: LoadReport) -> None:
    sf = served.connection_named("SF_Legacy_Source")  # exactly one, shared by three recipes
    assert sf["application"] == "salesforce"
    assert served.folder_paths[sf["folder_id"]] == f"Home/{REDHAT}/Connections"
    users = [
        r["name"] for r in served.recipes if any(e["account_id"] == sf["id"] for e in r["config"])
    ]
    assert len(users) == 3
    placeholders = {c.zip_name: c for c in report.created_from_references}
    assert placeholders["Connections/sf_legacy_source.connection.json"].connection_id == sf["id"]
    assert "Connections/ocsi_migration_con_kafka_prepod.connection.json" not in placeholders
    # every placeholder is served, and every served connection is a file or a placeholder
    assert {c.connection_id for c in report.connections} == set(served.connection_by_id)
    # a connection referenced only from code (RecipeOps trigger input) still resolves
    code = served.code("monitor_connection.recipe.json")
    (app_id,) = code["input"]["apps"]
    http_conn = served.connection_by_id[int(app_id)]
    assert http_conn["name"] == "RecipeOps | http"
    assert http_conn["application"] == UNKNOWN_APPLICATION
    assert placeholders["recipeops_http.connection.json"].connection_id == int(app_id)


def test_tables_get_stable_ids(served: Served, report: LoadReport) -> None:
    release = served.code("cicd_func_create_release_in_github.recipe.json")
    (lookup,) = find_step(release, provider="lookup_table")
    table = report.asset("cicd_lt_project_configuration.lookup_table.json")
    assert lookup["input"]["lookup_table_id"] == table.asset_id and table.file is None
    reprocess = served.code("job_auto_reprocess_scheduled.recipe.json")
    (records,) = find_step(reprocess, provider="workato_db_table", name="get_records")
    data_table = report.asset(
        "Lookups, helpers, etc/Reprocess/job_reprocess_queue.workato_db_table.json"
    )
    assert records["input"]["table_id"] == data_table.asset_id
    assert data_table.asset_id.isdigit() and data_table.asset_id != table.asset_id
    # asset files present in the package get ids and keep their content, refs replaced
    endpoint = report.asset("account_name_search.api_endpoint.json")
    group = report.asset("digital_workforce.api_group.json")
    assert endpoint.data is not None and endpoint.data["path"] == "account-name-search"
    assert endpoint.data["api_group_id"] == group.asset_id
    assert endpoint.data["recipe_id"] in {r.target_id for r in report.out_of_package_recipes}


@pytest.mark.parametrize(
    ("file_name", "trigger", "applications"),
    [
        (
            "case_group_members_source_deletion_watcher_app_trigger.recipe.json",
            "salesforce",
            ["salesforce", "workato_recipe_function"],
        ),
        (
            "opa_linux.recipe.json",
            "clock",
            ["clock", "onprem_files", "csv_parser", "logger", "gmail"],
        ),
        ("monitor_connection.recipe.json", "workato_app", ["workato_app", "lookup_table", "email"]),
        (
            "job_auto_reprocess_scheduled.recipe.json",
            "clock",
            ["clock", "workato_db_table", "workato_app"],
        ),
        ("cicd_func_get_execution_results.recipe.json", "workato_recipe_function", []),
    ],
)
def test_applications(
    served: Served, file_name: str, trigger: str, applications: list[str]
) -> None:
    recipe = served.recipe(file_name)
    assert recipe["trigger_application"] == trigger
    assert recipe["applications"] == (applications or [trigger])


def test_recipe_metadata(served: Served) -> None:
    watcher = served.recipe("case_group_members_source_deletion_watcher_app_trigger.recipe.json")
    assert watcher["tags"] == ["delete", "driver", "source"]
    assert watcher["running"] is True and watcher["version_no"] == 4
    ebs = served.recipe("core_crm_rec_get_ebs_accounts.recipe.json")
    assert ebs["version_comment"].startswith("ECM-119250")
    dewy = served.recipe("upsert_contact_by_email.recipe.json")
    assert dewy["description"] == ""  # no description key in that export
    flow_ids = [
        s["input"]["flow_id"] for s in find_step(json.loads(dewy["code"]), name="call_recipe")
    ]
    assert len(flow_ids) == 2 and all(f.isdigit() for f in flow_ids) and len(set(flow_ids)) == 2


# ---------------------------------------------------------------------- behaviour


def test_loading_twice_gives_the_same_ids() -> None:
    def ids(report: LoadReport) -> dict[str, Any]:
        return {
            "recipes": {(r.package, r.zip_name): r.recipe_id for r in report.recipes},
            "connections": {(c.package, c.zip_name): c.connection_id for c in report.connections},
            "assets": {(a.package, a.zip_name): a.asset_id for a in report.assets},
            "folders": dict(report.folders),
            "refs": [(r.source, r.location, r.target_id) for r in report.references],
            "code": {r.id: r.code for r in report.workspace.recipes.values()},
            "config": {r.id: r.config for r in report.workspace.recipes.values()},
        }

    first, second = load_corpus(), load_corpus()
    assert first.workspace is not second.workspace
    assert ids(first) == ids(second)


def test_bad_files_are_reported_and_skipped(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "Recipes").mkdir(parents=True)
    good = {
        "name": "Good",
        "code": {"number": 0, "keyword": "trigger", "provider": "clock", "name": "scheduled_event"},
        "config": [{"keyword": "application", "provider": "clock", "account_id": None}],
    }
    (package / "Recipes" / "good.recipe.json").write_text(json.dumps(good))
    (package / "broken.recipe.json").write_text('{"name": "Broken", "code": {')
    (package / "nocode.recipe.json").write_text(json.dumps({"name": "No code"}))
    (package / "array.recipe.json").write_text("[1, 2]")
    (package / "latin1.recipe.json").write_bytes(b'{"name": "caf\xe9"}')
    (package / "noname.connection.json").write_text(json.dumps({"provider": "jira"}))

    report = load_exports(tmp_path)  # auto: tmp_path holds no JSON, so pkg is a package
    assert [r.name for r in report.recipes] == ["Good"]
    assert [r.name for r in report.workspace.recipes.values()] == ["Good"]
    errors = {b.path.name: b.error for b in report.bad_files}
    assert set(errors) == {
        "broken.recipe.json",
        "nocode.recipe.json",
        "array.recipe.json",
        "latin1.recipe.json",
        "noname.connection.json",
    }
    assert "invalid JSON" in errors["broken.recipe.json"]
    assert "code" in errors["nocode.recipe.json"]
    assert "object" in errors["array.recipe.json"]
    assert "UTF-8" in errors["latin1.recipe.json"]
    assert all(b.path.is_absolute() for b in report.bad_files)
    assert report.workspace.folder_path(report.recipes[0].folder_id) == "Home/pkg/Recipes"


def _recipe(name: str, steps: list[dict[str, Any]], config: list[Any] | None = None) -> str:
    code = {"number": 0, "keyword": "trigger", "provider": "clock", "name": "scheduled_event"}
    code["block"] = steps
    return json.dumps({"name": name, "code": code, "config": config or []})


def _call(ref: Any) -> dict[str, Any]:
    return {
        "keyword": "action",
        "provider": "workato_recipe_function",
        "name": "call_recipe",
        "input": {"flow_id": ref},
    }


def test_in_package_references_and_numbering(tmp_path: Path) -> None:
    (tmp_path / "Funcs").mkdir()
    callee_ref = {"zip_name": "Funcs/callee.recipe.json", "name": "Callee", "folder": "Funcs"}
    flat_ref = {"zip_name": "Deep/Path/helper.recipe.json", "name": "Helper", "folder": "Deep/Path"}
    topic_ref = {"zip_name": "Events/orders.topic.json", "name": "Orders", "folder": "Events"}
    publish = {
        "keyword": "action",
        "provider": "workato_pub_sub",
        "name": "publish_to_topic",
        "input": {"topic_id": topic_ref},
    }
    # no step numbers at all: renumbered in pre-order
    (tmp_path / "caller.recipe.json").write_text(
        _recipe("Caller", [_call(callee_ref), _call(flat_ref), publish])
    )
    callee = json.loads(_recipe("Callee", [{"number": 7, "keyword": "stop", "input": {}}]))
    (tmp_path / "Funcs" / "callee.recipe.json").write_text(json.dumps(callee))
    (tmp_path / "helper.recipe.json").write_text(_recipe("Helper", []))  # flat copy

    report = load_exports(tmp_path, running=False)  # JSON at the top: one package
    ws = report.workspace
    assert list(report.packages) == [tmp_path.name]
    by_name = {r.name: r for r in report.recipes}
    caller = ws.recipes[by_name["Caller"].recipe_id]
    steps = caller.code["block"]
    assert [b["number"] for b in iter_blocks(caller.code)] == [0, 1, 2, 3]
    assert by_name["Caller"].renumbered and not by_name["Callee"].renumbered
    assert steps[0]["input"]["flow_id"] == str(by_name["Callee"].recipe_id)
    assert steps[1]["input"]["flow_id"] == str(by_name["Helper"].recipe_id)
    assert steps[2]["input"]["topic_id"] == report.asset("Events/orders.topic.json").asset_id
    assert report.out_of_package_recipes == []
    assert report.aliases == {(tmp_path.name, "helper.recipe.json"): flat_ref["zip_name"]}
    # original (non-contiguous) numbers are kept when every block has one
    assert [b["number"] for b in iter_blocks(ws.recipes[by_name["Callee"].recipe_id].code)] == [
        0,
        7,
    ]
    assert ws.folder_path(by_name["Callee"].folder_id) == f"Home/{tmp_path.name}/Funcs"
    assert ws.folder_path(by_name["Helper"].folder_id) == f"Home/{tmp_path.name}/Deep/Path"
    assert not any(r.running for r in ws.recipes.values())


def test_packages_do_not_collide(tmp_path: Path) -> None:
    ref = {"zip_name": "Connections/jira.connection.json", "name": "Jira", "folder": "Connections"}
    config = [{"keyword": "application", "provider": "jira", "account_id": ref}]
    for package in ("alpha", "beta"):
        (tmp_path / package / "Connections").mkdir(parents=True)
        (tmp_path / package / "Connections" / "jira.connection.json").write_text(
            json.dumps({"name": "Jira", "provider": "jira", "root_folder": False})
        )
        (tmp_path / package / "r.recipe.json").write_text(_recipe("R", [], config))
    existing = Workspace()
    existing.add_recipe("Already there", {"keyword": "trigger", "number": 0})
    report = load_exports(tmp_path, existing)
    assert report.workspace is existing and len(existing.recipes) == 3
    assert len(existing.projects) == 2 and len(existing.connections) == 2
    for package in ("alpha", "beta"):
        recipe = existing.recipes[report.recipe("r.recipe.json", package).recipe_id]
        connection = report.connection("jira.connection.json", package)
        assert recipe.config[0]["account_id"] == connection.connection_id
        assert existing.folder_path(connection.folder_id) == f"Home/{package}/Connections"
        assert recipe.project_id == report.packages[package].project_id


def test_corpus_dir_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "x.recipe.json").write_text(_recipe("X", []))
    monkeypatch.setenv(CORPUS_ENV_VAR, str(tmp_path))
    assert corpus_dir() == tmp_path.resolve()
    assert [r.name for r in load_corpus().recipes] == ["X"]
    monkeypatch.delenv(CORPUS_ENV_VAR)
    assert corpus_dir().name == "workato-exports" and corpus_dir().parent.name == "corpus"


def test_explicit_packages_layout_reports_stray_files(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.recipe.json").write_text(_recipe("A", []))
    (tmp_path / "stray.recipe.json").write_text(_recipe("Stray", []))
    report = load_exports(tmp_path, layout="packages")
    assert [r.name for r in report.recipes] == ["A"] and list(report.packages) == ["pkg"]
    assert [(b.path.name, b.error) for b in report.bad_files] == [
        ("stray.recipe.json", "file outside any package folder")
    ]
    # the same folder in auto layout is one package holding both recipes
    assert sorted(r.name for r in load_exports(tmp_path).recipes) == ["A", "Stray"]
    with pytest.raises(FileNotFoundError):
        load_exports(tmp_path / "missing")
