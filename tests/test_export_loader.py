"""Workato export packages loaded into the simulator and served over real HTTP.

Every rule is checked on two sets of packages: the hand-written ones in
``tests/fixtures/exports`` (always) and the genuine exports of ``../shared/corpus/
workato-exports`` (when that folder is there, as in CI; the ``corpus`` marker skips them
otherwise). Both runs go through the same test bodies; :class:`Source` names, per set, the
files and values each rule is checked on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
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

from tests.support import EXPORT_FIXTURES_DIR

REDHAT = "redhat-cbp-workato__workato-devops-workbot"
NORTHWIND = "northwind__workato-ops"


@dataclass(frozen=True)
class Source:
    """A folder of export packages and the files and values each rule is checked on."""

    root: Path
    #: ``*.recipe.json``, ``*.connection.json`` and all ``*.json`` files.
    counts: tuple[int, int, int]
    #: A connection whose reference names a sub-folder of the package: (name, folder path).
    nested_connection: tuple[str, str]
    #: A recipe calling a recipe outside its package, the callee's zip_name and pick-list
    #: label, and the other recipe of the package calling the same callee.
    caller: str
    callee: str
    callee_label: str
    other_caller: str
    #: A recipe whose call steps carry numeric-string flow_ids, and the first one's label.
    numeric_caller: str
    numeric_flow_ids: tuple[str, ...]
    numeric_label: str
    #: A custom SDK connector's connection (provider is an adapter reference).
    custom_connection: str
    custom_provider: str
    custom_folder: str
    custom_file: str
    custom_tunnel: str
    custom_user: str
    #: A connection file copied flat, matched to its reference's zip_name.
    flat_connection: str
    flat_application: str
    flat_folder: str
    flat_user: str
    #: A connection file with tags: (name, application, tags).
    tagged_connection: tuple[str, str, list[str]]
    #: A placeholder connection shared by several recipes: (name, application, folder,
    #: number of recipes using it, zip_name).
    shared_placeholder: tuple[str, str, str, int, str]
    #: The zip_name of a referenced connection that has a file (so no placeholder).
    file_connection_zip: str
    #: A recipe whose trigger input references a connection only from code: (recipe,
    #: connection name, zip_name).
    code_only_connection: tuple[str, str, str]
    #: A lookup table referenced but not in the package: (recipe, zip_name).
    lookup_table: tuple[str, str]
    #: A data table referenced and present: (recipe, zip_name).
    data_table: tuple[str, str]
    #: An API endpoint file, its group file and its path.
    endpoint: tuple[str, str, str]
    #: (recipe file, trigger application, applications; [] when only the trigger's).
    applications: tuple[tuple[str, str, list[str]], ...]
    #: A recipe with tags: (file, tags, version).
    tagged_recipe: tuple[str, list[str], int]
    #: A recipe with a version comment and how that comment starts.
    commented_recipe: tuple[str, str]
    #: A recipe without a description key that calls two out-of-package recipes.
    undescribed_recipe: str


CORPUS = Source(
    root=corpus_dir(),
    counts=(18, 3, 25),
    nested_connection=("rajesh_533_account", "Home/rajeshjanapati__workato-cicd/rajesh"),
    caller="case_group_members_source_deletion_watcher_app_trigger.recipe.json",
    callee=(
        "Legacy=>SCT migration/Case group members/Deletions/"
        "case_group_members_target_delete_by_source_legacy_id_function.recipe.json"
    ),
    callee_label="Case group members | Target | Delete by source (legacy) ID [FUNCTION]",
    other_caller="case_group_members_source_delete_replay_webhook.recipe.json",
    numeric_caller="cicd_func_get_execution_results.recipe.json",
    numeric_flow_ids=("48456885", "48456886"),
    numeric_label="AQS | FUNC | Get Execution Results from Quality Assessment Results Table",
    custom_connection="CICD | CON | CICD for GitHub V3",
    custom_provider="cicd_for_git_hub_v3_connector_865610_1730209886",
    custom_folder=f"Home/{REDHAT}/CICD Automation/Connections",
    custom_file="cicd_con_cicd_for_github_v3.connection.json",
    custom_tunnel="mpp-preprod-spoke-aws-us-east-1-dev",
    custom_user="cicd_func_create_release_in_github.recipe.json",
    flat_connection="[OCSI Migration]|CON|Kafka|Prepod",
    flat_application="kafka",
    flat_folder=f"Home/{REDHAT}/Connections",
    flat_user="mdmpartyupdate_rec_accountupdate_mvp.recipe.json",
    tagged_connection=("S2P | CON |\u00a0XXRHFIN", "oracle", ["QA"]),
    shared_placeholder=(
        "SF_Legacy_Source",
        "salesforce",
        f"Home/{REDHAT}/Connections",
        3,
        "Connections/sf_legacy_source.connection.json",
    ),
    file_connection_zip="Connections/ocsi_migration_con_kafka_prepod.connection.json",
    code_only_connection=(
        "monitor_connection.recipe.json",
        "RecipeOps | http",
        "recipeops_http.connection.json",
    ),
    lookup_table=(
        "cicd_func_create_release_in_github.recipe.json",
        "cicd_lt_project_configuration.lookup_table.json",
    ),
    data_table=(
        "job_auto_reprocess_scheduled.recipe.json",
        "Lookups, helpers, etc/Reprocess/job_reprocess_queue.workato_db_table.json",
    ),
    endpoint=(
        "account_name_search.api_endpoint.json",
        "digital_workforce.api_group.json",
        "account-name-search",
    ),
    applications=(
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
    ),
    tagged_recipe=(
        "case_group_members_source_deletion_watcher_app_trigger.recipe.json",
        ["delete", "driver", "source"],
        4,
    ),
    commented_recipe=("core_crm_rec_get_ebs_accounts.recipe.json", "ECM-119250"),
    undescribed_recipe="upsert_contact_by_email.recipe.json",
)

FIXTURES = Source(
    root=EXPORT_FIXTURES_DIR,
    counts=(14, 3, 21),
    nested_connection=("mlopez_gmail_account", "Home/mlopez__workato-cicd/mlopez"),
    caller="order_cancel_watcher_app_trigger.recipe.json",
    callee="Orders/Cancellations/order_cancel_by_source_id_function.recipe.json",
    callee_label="Orders | Cancel by source ID [FUNCTION]",
    other_caller="order_cancel_replay_webhook.recipe.json",
    numeric_caller="results_collect_function.recipe.json",
    numeric_flow_ids=("51230001", "51230002"),
    numeric_label="QA | FUNC | Collect unit test results",
    custom_connection="REL | CON | DeployHub",
    custom_provider="deployhub_connector_482913_1716200000",
    custom_folder=f"Home/{NORTHWIND}/Release/Connections",
    custom_file="deployhub_release.connection.json",
    custom_tunnel="opa-gw-eu-west-1-staging",
    custom_user="release_create_function.recipe.json",
    flat_connection="[ACCT]|CON|Kafka|Preprod",
    flat_application="kafka",
    flat_folder=f"Home/{NORTHWIND}/Connections",
    flat_user="account_update_from_kafka.recipe.json",
    tagged_connection=("FIN | CON |\u00a0Oracle QA", "oracle", ["QA"]),
    shared_placeholder=(
        "SF_Orders_Source",
        "salesforce",
        f"Home/{NORTHWIND}/Connections",
        3,
        "Connections/sf_orders_source.connection.json",
    ),
    file_connection_zip="Connections/kafka_accounts_preprod.connection.json",
    code_only_connection=(
        "connection_health_monitor.recipe.json",
        "Health | http",
        "health_http.connection.json",
    ),
    lookup_table=("release_create_function.recipe.json", "release_settings.lookup_table.json"),
    data_table=(
        "requeue_failed_jobs_scheduled.recipe.json",
        "Helpers/Requeue/failed_jobs_queue.workato_db_table.json",
    ),
    endpoint=("order_lookup.api_endpoint.json", "partner_portal.api_group.json", "order-lookup"),
    applications=(
        (
            "order_cancel_watcher_app_trigger.recipe.json",
            "salesforce",
            ["salesforce", "workato_recipe_function"],
        ),
        (
            "daily_file_report.recipe.json",
            "clock",
            ["clock", "onprem_files", "csv_parser", "logger", "gmail"],
        ),
        (
            "connection_health_monitor.recipe.json",
            "workato_app",
            ["workato_app", "lookup_table", "email"],
        ),
        (
            "requeue_failed_jobs_scheduled.recipe.json",
            "clock",
            ["clock", "workato_db_table", "workato_app"],
        ),
        ("results_collect_function.recipe.json", "workato_recipe_function", []),
    ),
    tagged_recipe=(
        "order_cancel_watcher_app_trigger.recipe.json",
        ["cancel", "driver", "source"],
        3,
    ),
    commented_recipe=("requisitions_export_scheduled.recipe.json", "HR-4411"),
    undescribed_recipe="guest_upsert_api.recipe.json",
)


# ---------------------------------------------------------------------- helpers


def export_files(root: Path, pattern: str) -> list[Path]:
    return sorted(root.rglob(pattern))


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


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


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(FIXTURES, id="fixtures"),
        pytest.param(CORPUS, id="corpus", marks=pytest.mark.corpus),
    ],
)
def source(request: pytest.FixtureRequest) -> Source:
    return request.param


@pytest.fixture(scope="module")
def report(source: Source) -> LoadReport:
    assert source.root.is_dir(), f"exports missing at {source.root} (set {CORPUS_ENV_VAR})"
    return load_exports(source.root)


@pytest.fixture(scope="module")
def served(report: LoadReport) -> Served:
    return Served(report)


# ---------------------------------------------------------------------- the packages load


def test_every_export_file_loads(source: Source, report: LoadReport) -> None:
    recipe_files = export_files(source.root, "*.recipe.json")
    connection_files = export_files(source.root, "*.connection.json")
    all_json = export_files(source.root, "*.json")
    assert (len(recipe_files), len(connection_files), len(all_json)) == source.counts
    assert report.bad_files == []
    assert sorted(r.file for r in report.recipes) == recipe_files
    assert sorted(c.file for c in report.connections if c.origin == "file") == connection_files
    assert report.loaded_files == set(all_json)
    assert len(report.workspace.recipes) == len(recipe_files)


def test_served_recipes_are_live_form(source: Source, served: Served) -> None:
    recipe_files = export_files(source.root, "*.recipe.json")
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


def test_served_code_and_config_match_the_files(
    source: Source, served: Served, report: LoadReport
) -> None:
    """Code differs from the export only where a reference object was; config maps 1:1."""
    for path in export_files(source.root, "*.recipe.json"):
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


def test_projects_and_folders_per_package(
    source: Source, served: Served, report: LoadReport
) -> None:
    packages = sorted(p.name for p in source.root.iterdir() if p.is_dir())
    assert sorted(p["name"] for p in served.projects) == packages
    for name in packages:
        project = report.packages[name]
        assert served.folder_paths[project.folder_id] == f"Home/{name}"
    # recipe files were copied flat into the folder: they sit at their package's root
    for loaded in report.recipes:
        assert served.folder_paths[loaded.folder_id] == f"Home/{loaded.package}"
        assert served.recipe_by_id[loaded.recipe_id]["project_id"] == (
            report.packages[loaded.package].project_id
        )
    # a connection referenced inside a sub-folder is created in that folder
    name, folder = source.nested_connection
    assert served.folder_paths[served.connection_named(name)["folder_id"]] == folder


# ---------------------------------------------------------------------- worked by hand


def test_call_recipe_to_out_of_package_callee(
    source: Source, served: Served, report: LoadReport
) -> None:
    code = served.code(source.caller)
    (call,) = find_step(code, provider="workato_recipe_function", name="call_recipe")
    flow_id = call["input"]["flow_id"]
    assert isinstance(flow_id, str) and flow_id.isdigit()
    # the callee file is not in the packages: no recipe was invented for it
    assert not export_files(source.root, source.callee.rsplit("/", 1)[1])
    assert int(flow_id) not in served.recipe_by_id
    assert int(flow_id) > EXTERNAL_RECIPE_ID_BASE
    assert call["dynamicPickListSelection"] == {"flow_id": source.callee_label}
    out = [r for r in report.out_of_package_recipes if r.zip_name == source.callee]
    assert {r.source.name for r in out} == {source.caller, source.other_caller}
    assert {r.target_id for r in out} == {flow_id}  # one stable id per zip_name
    replay = served.code(source.other_caller)
    (replay_call,) = find_step(replay, name="call_recipe")
    assert replay_call["input"]["flow_id"] == flow_id


def test_numeric_flow_ids_stay(source: Source, served: Served) -> None:
    code = served.code(source.numeric_caller)
    calls = find_step(code, name="call_recipe")
    assert [c["input"]["flow_id"] for c in calls] == list(source.numeric_flow_ids)
    assert calls[0]["dynamicPickListSelection"]["flow_id"] == source.numeric_label


def test_custom_connector_connection(source: Source, served: Served, report: LoadReport) -> None:
    connection = served.connection_named(source.custom_connection)
    assert connection["application"] == source.custom_provider
    assert connection["provider"] == source.custom_provider
    assert served.folder_paths[connection["folder_id"]] == source.custom_folder
    loaded = report.connection(source.custom_file)
    assert loaded.origin == "file" and loaded.connection_id == connection["id"]
    assert loaded.secure_gateway_tunnel_name == source.custom_tunnel
    recipe = served.recipe(source.custom_user)
    (entry,) = [e for e in recipe["config"] if e["provider"] == source.custom_provider]
    assert entry["account_id"] == connection["id"]
    assert source.custom_provider in recipe["applications"]


def test_flat_connection_file_matches_its_reference(
    source: Source, served: Served, report: LoadReport
) -> None:
    flat = served.connection_named(source.flat_connection)
    assert flat["application"] == source.flat_application
    assert served.folder_paths[flat["folder_id"]] == source.flat_folder
    assert report.connection(flat["name"]).origin == "file"
    recipe = served.recipe(source.flat_user)
    assert {e["provider"]: e["account_id"] for e in recipe["config"]}[
        source.flat_application
    ] == flat["id"]
    name, application, tags = source.tagged_connection
    tagged = served.connection_named(name)
    assert tagged["application"] == application and tagged["tags"] == tags


def test_connections_created_from_references(
    source: Source, served: Served, report: LoadReport
) -> None:
    name, application, folder, users_count, zip_name = source.shared_placeholder
    shared = served.connection_named(name)  # exactly one, shared by several recipes
    assert shared["application"] == application
    assert served.folder_paths[shared["folder_id"]] == folder
    users = [
        r["name"]
        for r in served.recipes
        if any(e["account_id"] == shared["id"] for e in r["config"])
    ]
    assert len(users) == users_count
    placeholders = {c.zip_name: c for c in report.created_from_references}
    assert placeholders[zip_name].connection_id == shared["id"]
    assert source.file_connection_zip not in placeholders
    # every placeholder is served, and every served connection is a file or a placeholder
    assert {c.connection_id for c in report.connections} == set(served.connection_by_id)
    # a connection referenced only from code (RecipeOps trigger input) still resolves
    recipe_file, code_name, code_zip = source.code_only_connection
    code = served.code(recipe_file)
    (app_id,) = code["input"]["apps"]
    code_only = served.connection_by_id[int(app_id)]
    assert code_only["name"] == code_name
    assert code_only["application"] == UNKNOWN_APPLICATION
    assert placeholders[code_zip].connection_id == int(app_id)


def test_tables_get_stable_ids(source: Source, served: Served, report: LoadReport) -> None:
    release_file, lookup_zip = source.lookup_table
    (lookup,) = find_step(served.code(release_file), provider="lookup_table")
    table = report.asset(lookup_zip)
    assert lookup["input"]["lookup_table_id"] == table.asset_id and table.file is None
    reprocess_file, data_zip = source.data_table
    (records,) = find_step(
        served.code(reprocess_file), provider="workato_db_table", name="get_records"
    )
    data_table = report.asset(data_zip)
    assert records["input"]["table_id"] == data_table.asset_id
    assert data_table.asset_id.isdigit() and data_table.asset_id != table.asset_id
    # asset files present in the package get ids and keep their content, refs replaced
    endpoint_file, group_file, path = source.endpoint
    endpoint = report.asset(endpoint_file)
    group = report.asset(group_file)
    assert endpoint.data is not None and endpoint.data["path"] == path
    assert endpoint.data["api_group_id"] == group.asset_id
    assert endpoint.data["recipe_id"] in {r.target_id for r in report.out_of_package_recipes}


def test_applications(source: Source, served: Served) -> None:
    for file_name, trigger, applications in source.applications:
        recipe = served.recipe(file_name)
        assert recipe["trigger_application"] == trigger, file_name
        assert recipe["applications"] == (applications or [trigger]), file_name


def test_recipe_metadata(source: Source, served: Served) -> None:
    file_name, tags, version = source.tagged_recipe
    tagged = served.recipe(file_name)
    assert tagged["tags"] == tags
    assert tagged["running"] is True and tagged["version_no"] == version
    file_name, prefix = source.commented_recipe
    assert served.recipe(file_name)["version_comment"].startswith(prefix)
    undescribed = served.recipe(source.undescribed_recipe)
    assert undescribed["description"] == ""  # no description key in that export
    flow_ids = [
        s["input"]["flow_id"]
        for s in find_step(json.loads(undescribed["code"]), name="call_recipe")
    ]
    assert len(flow_ids) == 2 and all(f.isdigit() for f in flow_ids) and len(set(flow_ids)) == 2


# ---------------------------------------------------------------------- behaviour


def test_loading_twice_gives_the_same_ids(source: Source) -> None:
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

    first, second = load_exports(source.root), load_exports(source.root)
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
