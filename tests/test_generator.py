"""Tests for the deterministic workspace generator (workato_simulator.generator).

Each check walks the generated workspace itself (or what the simulator serves over HTTP) with
its own logic, rather than trusting the generator's bookkeeping.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import networkx as nx
import pytest
from workato_simulator.generator import (
    BUILTIN_PROVIDERS,
    CONNECTION_PROVIDERS,
    MAX_RECIPES,
    SPAN_DAYS,
    describe,
    generate_workspace,
    history_window,
)
from workato_simulator.server import WorkatoSimulator
from workato_simulator.workspace import STOP_CAUSES, Workspace

#: A pinned reference day for tests that look at dates (any instant of the day gives the same).
PINNED_NOW = datetime(2026, 3, 15, 17, 42, tzinfo=timezone.utc)

KEYWORDS = {
    "trigger", "action", "if", "elsif", "else", "foreach", "repeat", "while_condition", "try",
    "catch", "stop",
}  # fmt: skip
CONTROL = KEYWORDS - {"trigger", "action"}
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
ALIAS = re.compile(r"^[0-9a-f]{8}$")
PILL = re.compile(r"_dp\('(\{.*?\})'\)")


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def mid() -> Workspace:
    return generate_workspace(7, recipes=300)


@pytest.fixture(scope="module")
def large() -> Workspace:
    return generate_workspace(2024, recipes=1500)


def served_json(ws: Workspace) -> str:
    """Everything the API would serve about a workspace, as one canonical JSON text."""
    with ws.lock:
        body = {
            "me": ws.user_me(),
            "recipes": [
                r.to_api(ws.tz, exclude_code=False, include_tags=True)
                for r in sorted(ws.recipes.values(), key=lambda r: r.id)
            ],
            "connections": [
                c.to_api(ws.tz, True) for c in sorted(ws.connections.values(), key=lambda c: c.id)
            ],
            "folders": [f.to_api(ws.tz) for f in sorted(ws.folders.values(), key=lambda f: f.id)],
            "projects": [p.to_api() for p in sorted(ws.projects.values(), key=lambda p: p.id)],
        }
    return json.dumps(body, sort_keys=True)


def walk(block: dict[str, Any], parent: dict[str, Any] | None = None):
    """Pre-order (block, parent) pairs, recursively (independent of workspace.iter_blocks)."""
    yield block, parent
    for child in block.get("block") or []:
        yield from walk(child, block)


def call_steps(ws: Workspace):
    for recipe in ws.recipes.values():
        for block, _ in walk(recipe.code):
            if block.get("provider") == "workato_recipe_function" and block.get("name") in (
                "call_recipe",
                "call_recipe_async",
            ):
                yield recipe, block


def call_graph(ws: Workspace) -> nx.DiGraph:
    graph = nx.DiGraph()
    for recipe, block in call_steps(ws):
        flow = block["input"]["flow_id"]
        if isinstance(flow, str) and flow.isdigit():
            graph.add_edge(recipe.id, int(flow))
    return graph


# ---------------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_workspace():
    # pinned: two calls straddling midnight UTC would otherwise differ by a day
    first = generate_workspace(42, recipes=250, now=PINNED_NOW)
    second = generate_workspace(42, recipes=250, now=PINNED_NOW)
    assert served_json(first) == served_json(second)
    # the code trees themselves, not only their served form
    assert [r.code for r in first.recipes.values()] == [r.code for r in second.recipes.values()]


def test_different_seed_gives_different_workspace():
    first = generate_workspace(42, recipes=250)
    other = generate_workspace(43, recipes=250)
    assert served_json(first) != served_json(other)
    assert {r.name for r in first.recipes.values()} != {r.name for r in other.recipes.values()}


def test_history_ends_on_the_reference_day_truncated_to_midnight_utc():
    start, end = history_window(PINNED_NOW)
    assert end == datetime(2026, 3, 15, tzinfo=timezone.utc)
    assert start == end - timedelta(days=SPAN_DAYS)
    # naive is UTC; another time zone is converted first (01:00+02:00 is the day before in UTC)
    assert history_window(datetime(2026, 3, 15, 23, 59)) == (start, end)
    plus2 = timezone(timedelta(hours=2))
    assert history_window(datetime(2026, 3, 16, 1, 0, tzinfo=plus2))[1] == end
    # the default is today
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    assert history_window()[1] in (today, today + timedelta(days=1))  # midnight race


def test_same_seed_and_reference_day_give_identical_workspaces_and_the_day_only_shifts_dates():
    first = generate_workspace(42, recipes=80, now=PINNED_NOW)
    same_day = generate_workspace(42, recipes=80, now=PINNED_NOW.replace(hour=1))
    assert served_json(first) == served_json(same_day)
    later = generate_workspace(42, recipes=80, now=PINNED_NOW + timedelta(days=10))
    assert [r.code for r in first.recipes.values()] == [r.code for r in later.recipes.values()]
    shift = timedelta(days=10)
    for a, b in zip(first.recipes.values(), later.recipes.values(), strict=True):
        assert b.created_at - a.created_at == shift
        assert b.updated_at - a.updated_at == shift
        if a.last_run_at is not None:
            assert b.last_run_at - a.last_run_at == shift


def test_recent_history_makes_only_recipes_generated_quiet_look_idle():
    """History ends on the reference day: most running recipes ran within the last days."""
    ws = generate_workspace(7, recipes=300, now=PINNED_NOW)
    _, end = history_window(PINNED_NOW)
    running = [r for r in ws.recipes.values() if r.running and r.last_run_at is not None]
    idle = [r for r in running if (end - r.last_run_at).days > 30]
    assert running
    assert max(r.last_run_at for r in ws.recipes.values() if r.last_run_at) <= end
    # the generator makes 1 in 5 recipes quiet for 120 days (quiet spells of 1, 1, 3, 30, 120)
    assert 0 < len(idle) < 0.3 * len(running)


def test_timestamps_lie_in_the_history_window_and_later_mutations_come_after():
    ws = generate_workspace(7, recipes=120, now=PINNED_NOW)
    start, end = history_window(PINNED_NOW)
    stamps = []
    for r in ws.recipes.values():
        stamps += [r.created_at, r.updated_at]
        stamps += [t for t in (r.stopped_at, r.last_run_at) if t is not None]
        assert r.created_at <= r.updated_at
        if r.last_run_at is not None:
            assert r.created_at <= r.last_run_at
    for c in ws.connections.values():
        stamps += [c.created_at, c.updated_at]
        assert c.created_at <= c.updated_at
    for f in ws.folders.values():
        if f.id != ws.root_folder_id:
            stamps.append(f.created_at)
    assert min(stamps) >= start
    assert max(stamps) <= end
    # nothing is created in a folder before the folder exists
    for item in [*ws.recipes.values(), *ws.connections.values()]:
        assert ws.folders[item.folder_id].created_at <= item.created_at
    # every mutation after generation is stamped later than all generated history
    updated = ws.update_recipe(next(iter(ws.recipes)), description="touched")
    assert updated.updated_at > max(stamps)


# ---------------------------------------------------------------------------- counts


@pytest.mark.parametrize(
    ("recipes", "connections", "folders"),
    [(37, 13, 9), (0, 3, 1), (120, 55, 40), (1, 1, 2), (25, 0, 3)],
)
def test_requested_counts_are_honoured(recipes, connections, folders):
    ws = generate_workspace(5, recipes=recipes, connections=connections, folders=folders)
    assert len(ws.recipes) == recipes
    assert len(ws.connections) == connections
    assert len(ws.folders) - 1 == folders  # minus Home
    assert 1 <= len(ws.projects) <= folders
    for recipe in ws.recipes.values():  # small and connection-less workspaces stay valid
        assert grammar_errors(recipe.code) == [], recipe.name
        for entry in recipe.config:
            assert entry["account_id"] is None or entry["account_id"] in ws.connections


def test_default_counts_scale_with_recipes():
    ws = generate_workspace(5, recipes=200)
    assert len(ws.connections) == 50
    assert len(ws.folders) - 1 == 25
    small = generate_workspace(5, recipes=8)
    assert len(small.connections) == 10
    assert len(small.folders) - 1 == 5


def test_more_than_workato_limit_raises():
    with pytest.raises(ValueError, match="5000"):
        generate_workspace(1, recipes=MAX_RECIPES + 1)
    with pytest.raises(ValueError):
        generate_workspace(1, recipes=10, folders=0)
    with pytest.raises(ValueError):
        generate_workspace(1, recipes=10, connections=-1)


@pytest.mark.slow
def test_workato_maximum_of_5000_recipes_is_accepted():
    ws = generate_workspace(3, recipes=MAX_RECIPES)
    assert len(ws.recipes) == MAX_RECIPES
    assert len({r.id for r in ws.recipes.values()}) == MAX_RECIPES
    for recipe in ws.recipes.values():
        assert grammar_errors(recipe.code) == []


# ---------------------------------------------------------------------------- grammar


def grammar_errors(code: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    if code.get("keyword") != "trigger":
        errors.append("root is not a trigger")
    expected = 0
    for block, parent in walk(code):
        where = f"step {block.get('number')} ({block.get('keyword')})"
        if block.get("number") != expected:
            errors.append(f"{where}: number should be {expected}")
        expected += 1
        keyword = block.get("keyword")
        if keyword not in KEYWORDS:
            errors.append(f"{where}: unknown keyword")
        if keyword == "trigger" and parent is not None:
            errors.append(f"{where}: trigger below the root")
        if keyword in ("trigger", "action"):
            if not block.get("provider") or not block.get("name"):
                errors.append(f"{where}: app step without provider/name")
            if not ALIAS.match(block.get("as", "")):
                errors.append(f"{where}: alias is not 8 hex characters")
        elif block.get("provider"):
            errors.append(f"{where}: control block with a provider")
        if not UUID4.match(block.get("uuid", "")):
            errors.append(f"{where}: uuid is not a v4 UUID")
        children = block.get("block") or []
        kinds = [c.get("keyword") for c in children]
        # else/elsif: only in if, only as trailing children, else at most once and last
        if ("elsif" in kinds or "else" in kinds) and keyword != "if":
            errors.append(f"{where}: elsif/else outside an if")
        if keyword == "if":
            tail = [i for i, k in enumerate(kinds) if k in ("elsif", "else")]
            if tail and tail != list(range(tail[0], len(kinds))):
                errors.append(f"{where}: elsif/else not the trailing children")
            if kinds.count("else") > 1 or ("else" in kinds and kinds[-1] != "else"):
                errors.append(f"{where}: else is not the single last child")
            if (tail[0] if tail else len(kinds)) == 0:
                errors.append(f"{where}: if without then-steps")
        # catch: exactly one, as the last child of try
        if "catch" in kinds and keyword != "try":
            errors.append(f"{where}: catch outside a try")
        if keyword == "try" and (kinds.count("catch") != 1 or kinds[-1] != "catch"):
            errors.append(f"{where}: try does not end with exactly one catch")
        # while_condition: exactly one, as the last child of repeat
        if "while_condition" in kinds and keyword != "repeat":
            errors.append(f"{where}: while_condition outside a repeat")
        if keyword == "repeat" and (
            kinds.count("while_condition") != 1 or kinds[-1] != "while_condition"
        ):
            errors.append(f"{where}: repeat does not end with exactly one while_condition")
        inp = block.get("input")
        if keyword in ("if", "elsif", "while_condition"):
            if not (inp and inp.get("type") == "compound" and inp.get("conditions")):
                errors.append(f"{where}: condition is not compound")
        if keyword == "catch":
            if not (
                isinstance(inp, dict)
                and isinstance(inp.get("max_retry_count"), str)
                and inp["max_retry_count"].isdigit()
                and isinstance(inp.get("retry_interval"), str)
                and inp["retry_interval"].isdigit()
            ):
                errors.append(f"{where}: catch input is not retry count/interval strings")
        if keyword == "foreach" and not str(block.get("source", "")).startswith("#{_dp("):
            errors.append(f"{where}: foreach without a datapill source")
        if keyword == "stop" and (inp or {}).get("stop_with_error") not in ("true", "false"):
            errors.append(f"{where}: stop without stop_with_error")
        if keyword in ("stop", "while_condition") and children:
            errors.append(f"{where}: leaf keyword with children")
    return errors


def test_every_recipe_obeys_the_recipe_grammar(mid, large):
    for ws in (mid, large):
        for recipe in ws.recipes.values():
            assert grammar_errors(recipe.code) == [], recipe.name


def test_grammar_checker_rejects_broken_trees():
    ws = generate_workspace(9, recipes=60)
    code = next(r.code for r in ws.recipes.values() if any(
        b.get("keyword") == "try" for b, _ in walk(r.code)))  # fmt: skip
    broken = json.loads(json.dumps(code))
    for block, _ in walk(broken):
        if block.get("keyword") == "try":
            block["block"].reverse()  # catch no longer last
            break
    assert any("catch" in e for e in grammar_errors(broken))
    gap = json.loads(json.dumps(code))
    gap["block"][0]["number"] = 99
    assert any("number should be" in e for e in grammar_errors(gap))


def test_all_control_keywords_occur(mid):
    seen = Counter(b.get("keyword") for r in mid.recipes.values() for b, _ in walk(r.code))
    assert set(seen) == KEYWORDS, set(KEYWORDS) - set(seen)
    assert seen["action"] > seen["if"] > 0


def test_datapills_are_valid_json_and_only_point_backwards(mid):
    checked = 0
    for recipe in mid.recipes.values():
        aliases = {b["as"]: b["number"] for b, _ in walk(recipe.code) if "as" in b}
        for block, _ in walk(recipe.code):
            own = {k: v for k, v in block.items() if k != "block"}
            text = json.dumps(own).replace('\\"', '"')
            for match in PILL.finditer(text):
                pill = json.loads(match.group(1))
                assert pill["pill_type"] in {
                    "output", "job_context", "account_property", "project_property",
                }  # fmt: skip
                if pill["pill_type"] != "output":
                    continue
                checked += 1
                assert pill["line"] in aliases, (recipe.name, pill)
                assert aliases[pill["line"]] <= block["number"], (recipe.name, pill)
    assert checked > 1000


def test_triggers_carry_the_object_they_watch(mid):
    objects = 0
    for recipe in mid.recipes.values():
        code = recipe.code
        if code["provider"] == "salesforce":
            assert code["input"]["sobject_name"]
            objects += 1
        if code["provider"] == "workato_pub_sub":
            assert code["name"] == "subscribe_to_topic"
            assert code["input"]["topic_id"].isdigit()
        if code["provider"] == "workato_recipe_function":
            assert code["name"] == "execute"
            assert json.loads(code["input"]["parameters_schema_json"])
        if code["provider"] == "clock":
            assert code["name"] == "scheduled_event"
    assert objects > 0


# ---------------------------------------------------------------------------- connections


def test_connection_catalogue_uses_real_provider_ids():
    assert len(set(CONNECTION_PROVIDERS)) >= 40
    for provider in ("mssql", "service_now", "salesforce", "netsuite", "rest", "slack_bot"):
        assert provider in CONNECTION_PROVIDERS
    for wrong in ("sql_server", "servicenow", "http", "workato_functions"):
        assert wrong not in CONNECTION_PROVIDERS
    assert not set(CONNECTION_PROVIDERS) & BUILTIN_PROVIDERS


def test_large_workspace_uses_at_least_40_connectors(large):
    apps = Counter(c.application for c in large.connections.values())
    assert len(apps) >= 40
    assert set(apps) <= set(CONNECTION_PROVIDERS)
    # popular apps have several connections (prod, sandbox...)
    assert apps.most_common(1)[0][1] >= 5


def test_config_account_ids_refer_to_connections_of_the_same_app(large):
    secondary = 0
    for recipe in large.recipes.values():
        providers = {b["provider"] for b, _ in walk(recipe.code) if b.get("provider")}
        config = {e["provider"]: e for e in recipe.config}
        assert set(config) == providers, recipe.name
        assert len(config) == len(recipe.config), "one config entry per provider"
        for entry in recipe.config:
            assert entry["keyword"] == "application"
            assert entry["name"] == entry["provider"]
            app = entry["provider"].removesuffix("_secondary")
            if app in BUILTIN_PROVIDERS:
                assert entry["account_id"] is None
                continue
            if entry["account_id"] is None:  # a draft recipe never connected
                assert not recipe.running
                continue
            connection = large.connections[entry["account_id"]]
            assert connection.application == app
            if entry["provider"].endswith("_secondary"):
                secondary += 1
                assert entry["account_id"] != config[app]["account_id"]
    assert secondary > 0


def test_some_connections_unused_failed_lost_or_tagged(large):
    used = {e["account_id"] for r in large.recipes.values() for e in r.config}
    unused = set(large.connections) - used
    assert 0 < len(unused) < len(large.connections) / 3
    failed = [c for c in large.connections.values() if c.authorization_status == "failed"]
    assert failed and all(c.authorization_error for c in failed)
    lost = [c for c in large.connections.values() if c.connection_lost_at is not None]
    assert lost and all(c.connection_lost_reason for c in lost)
    tagged = [c for c in large.connections.values() if c.tags]
    assert tagged and all(t.startswith("tag-") for c in tagged for t in c.tags)


def test_connection_names_mix_styles_and_environments(large):
    names = [c.name for c in large.connections.values()]
    assert len(set(names)) == len(names)
    patterns = {
        "company prefix": r"^ACME ",
        "dash env": r" - (Production|Sandbox|Staging|UAT|Test|Development)$",
        "snake case": r"^[a-z0-9_]+_(prd|sbx|stg|uat|tst|dev)$",
        "bracket team": r"^\[[A-Za-z]+\] ",
        "pipes": r"^CON \| .+ \| [A-Z]+$",
    }
    for label, pattern in patterns.items():
        assert any(re.search(pattern, n) for n in names), label
    for env in ("PROD", "Sandbox", "DEV", "UAT"):
        assert any(env in n for n in names), env


def test_connections_and_folders_form_projects(mid):
    assert len(mid.projects) >= 2
    for project in mid.projects.values():
        folder = mid.folders[project.folder_id]
        assert folder.is_project and folder.parent_id == mid.root_folder_id
    depths = [len(mid.ancestors(f)) for f in mid.folders if f != mid.root_folder_id]
    assert max(depths) in (3, 4)  # Home/Project/a/b[/c]
    conn_folders = {mid.folders[c.folder_id].name for c in mid.connections.values()}
    assert "Connections" in conn_folders
    for recipe in mid.recipes.values():
        assert recipe.project_id == mid.folders[recipe.folder_id].project_id
        assert mid.folders[recipe.folder_id].name != "Connections"


# ---------------------------------------------------------------------------- recipe calls


@pytest.mark.parametrize("recipes", [20, 300])
def test_calls_resolve_to_callable_recipes_and_cycles_exist(recipes):
    ws = generate_workspace(11, recipes=recipes)
    static = dynamic = 0
    for recipe, block in call_steps(ws):
        flow = block["input"]["flow_id"]
        if isinstance(flow, str) and flow.isdigit():
            static += 1
            callee = ws.recipes[int(flow)]
            assert callee.code["provider"] == "workato_recipe_function"
            assert callee.code["name"] == "execute"
            assert block["dynamicPickListSelection"]["flow_id"] == callee.name
            schema = json.loads(callee.code["input"]["parameters_schema_json"])
            assert set(block["input"].get("parameters", {})) <= {p["name"] for p in schema}
        else:
            dynamic += 1
            assert isinstance(flow, str) and flow.startswith("=_dp(")
    assert static > 0 and dynamic > 0
    graph = call_graph(ws)
    assert nx.find_cycle(graph)  # raises NetworkXNoCycle if there is none
    cycles = [c for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert describe(ws).call_cycles == len(cycles) >= 1


def test_call_chains_exist(mid):
    graph = call_graph(mid)
    acyclic = nx.condensation(graph)
    assert nx.dag_longest_path_length(acyclic) >= 2  # A -> B -> C


# ---------------------------------------------------------------------------- other features


def test_pubsub_topics_have_publishers_and_subscribers(mid):
    published, subscribed = set(), set()
    for recipe in mid.recipes.values():
        for block, _ in walk(recipe.code):
            if block.get("provider") != "workato_pub_sub":
                continue
            topic = block["input"]["topic_id"]
            assert isinstance(topic, str) and topic.isdigit()
            if block["name"] == "publish_to_topic":
                published.add(topic)
            elif block["name"] == "subscribe_to_topic":
                assert block["keyword"] == "trigger"
                subscribed.add(topic)
    assert published and published == subscribed


def test_http_steps_lookup_tables_and_webhooks(mid):
    hosts = set()
    tables = set()
    for recipe in mid.recipes.values():
        for block, _ in walk(recipe.code):
            if block.get("provider") == "rest":
                assert block["name"] == "make_request_v2"
                request = block["input"]["request"]
                assert request["method"] in {"GET", "POST", "PUT", "PATCH", "DELETE"}
                assert request["url"].startswith("https://api.")
                assert request["content_type"] and isinstance(request["headers"], dict)
                hosts.add(request["url"].split("/")[2])
            if block.get("provider") == "lookup_table":
                assert block["input"]["lookup_table_id"].isdigit()
                tables.add(block["input"]["lookup_table_id"])
        is_webhook = recipe.code["provider"] == "workato_webhooks"
        assert bool(recipe.webhook_url) == is_webhook
        if is_webhook:
            assert recipe.webhook_url.endswith("/" + recipe.code["input"]["webhook_suffix"])
    assert len(hosts) >= 4
    assert len(tables) >= 3


def test_run_status_and_job_counts_are_varied(large):
    recipes = list(large.recipes.values())
    running = [r for r in recipes if r.running]
    by_user = [r for r in recipes if not r.running and r.stop_cause is None]
    by_workato = [r for r in recipes if r.stop_cause is not None]
    assert len(running) > len(recipes) / 2
    assert by_user and by_workato
    assert {r.stop_cause for r in by_workato} <= set(STOP_CAUSES)
    assert len({r.stop_cause for r in by_workato}) >= 3
    for r in running:
        assert r.stopped_at is None and r.stop_cause is None
    for r in by_user + by_workato:
        assert r.stopped_at is not None
    never = [r for r in recipes if r.last_run_at is None]
    assert never and all(r.job_succeeded_count == r.job_failed_count == 0 for r in never)
    failing = [r for r in recipes if r.job_failed_count > r.job_succeeded_count > 0]
    assert failing
    assert all(r.lifetime_task_count >= r.job_succeeded_count for r in recipes)


def test_describe_counts_match_the_workspace(mid):
    stats = describe(mid)
    recipes = list(mid.recipes.values())
    used = {e["account_id"] for r in recipes for e in r.config} - {None}
    assert stats.recipes == len(recipes) == 300
    assert stats.running == sum(r.running for r in recipes)
    assert stats.connections == len(mid.connections)
    assert stats.unused_connections == len(set(mid.connections) - used)
    assert stats.folders == len(mid.folders) - 1
    assert stats.projects == len(mid.projects)
    static_calls = [b for _, b in call_steps(mid) if str(b["input"]["flow_id"]).isdigit()]
    assert stats.calls == len(static_calls) > 0
    assert stats.dynamic_calls == sum(1 for _ in call_steps(mid)) - len(static_calls) > 0
    assert stats.call_cycles >= 1
    assert stats.callable_recipes == sum(
        1 for r in recipes if r.code["provider"] == "workato_recipe_function"
    )


# ---------------------------------------------------------------------------- served over HTTP


def test_served_over_http_page_by_page(mid):
    with WorkatoSimulator(mid, rate_limits=None) as sim:
        headers = {"Authorization": f"Bearer {sim.token}"}
        seen: dict[int, dict[str, Any]] = {}
        with httpx.Client(base_url=sim.base_url, headers=headers, timeout=30) as client:
            page = 1
            while True:
                resp = client.get("/recipes", params={"per_page": 100, "page": page})
                assert resp.status_code == 200
                items = resp.json()["items"]
                for item in items:
                    assert isinstance(item["code"], str)
                    code = json.loads(item["code"])
                    assert isinstance(code, dict)
                    assert code == mid.recipes[item["id"]].code
                    seen[item["id"]] = item
                if len(items) < 100:
                    break
                page += 1
            connections = client.get("/connections").json()
            projects = client.get("/projects").json()
    assert len(seen) == len(mid.recipes) == 300
    assert page == 4  # 100 + 100 + 100 + an empty page
    assert len(connections) == len(mid.connections)
    assert len(projects) == len(mid.projects)
    assert {c["application"] for c in connections} == {
        c.application for c in mid.connections.values()
    }
