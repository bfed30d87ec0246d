"""Helpers shared by the tests: hand-built workspaces and clients aimed at the simulator."""

from __future__ import annotations

import email
import email.policy
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from aiosmtpd.controller import Controller
from workato_simulator import WorkatoSimulator, Workspace
from workato_simulator.workspace import application_config

from archy_pipeline.settings.variables import SETTING_VARIABLES
from archy_pipeline.workato.client import WorkatoClient

#: Hand-written export packages (Workato's export format) covering every parser and
#: export-loader rule the genuine corpus in ../shared covers; see its README.md.
EXPORT_FIXTURES_DIR = Path(__file__).parent / "fixtures" / "exports"

#: A token distinctive enough that finding it anywhere in captured output is meaningful.
SECRET_TOKEN = "wrkaus-SECRET-7f3a9c1e5b2d4f6a8c0e"

#: Shrinks Workato's minute to 0.6 s in the simulator and the client alike.
TIME_SCALE = 0.01


def simple_code(trigger: str = "salesforce", *actions: str) -> dict[str, Any]:
    """A small live-form recipe tree: a trigger and one action per provider given."""
    return {
        "number": 0,
        "keyword": "trigger",
        "provider": trigger,
        "name": "new_object",
        "as": "a1b2c3d4",
        "input": {"sobject_name": "Opportunity"},
        "block": [
            {"number": i + 1, "keyword": "action", "provider": p, "name": "create_object"}
            for i, p in enumerate(actions or ("slack",))
        ],
    }


def workspace_with_recipes(count: int, **kwargs: Any) -> Workspace:
    ws = Workspace(**kwargs)
    project = ws.add_project("Sales")
    for i in range(count):
        ws.add_recipe(f"Recipe {i}", simple_code(), folder_id=project.folder_id, running=i % 2 == 0)
    return ws


def client_for(sim: WorkatoSimulator, token: str | None = None, **kwargs: Any) -> WorkatoClient:
    """A client aimed at ``sim`` whose pacing and backoff run on the simulator's time scale."""
    kwargs.setdefault("rate_window_seconds", 60 * sim.time_scale)
    kwargs.setdefault("backoff_seconds", 0.01)
    kwargs.setdefault("max_backoff_seconds", 0.05)
    return WorkatoClient(token or sim.token, base_url=sim.base_url, **kwargs)


def materialize_sync(
    resources: dict[str, Any],
    partition: str = "Main Workspace",
    run_config: dict[str, Any] | None = None,
    instance: Any = None,
    raise_on_error: bool = True,
):
    """Materialize the extract assets for one workspace partition, in process.

    Without a ``settings`` resource, archy.yaml is read as a run reads it (``ARCHY_CONFIG``).
    """
    import dagster as dg

    from archy_pipeline.assets.extract import workato_raw_tables
    from archy_pipeline.constants import WORKSPACES
    from archy_pipeline.resources.settings import ArchySettingsResource

    resources = {"settings": ArchySettingsResource(), **resources}

    instance = instance or dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(WORKSPACES.name, [partition])
    return dg.materialize(
        [workato_raw_tables],
        resources=resources,
        partition_key=partition,
        run_config=run_config,
        instance=instance,
        raise_on_error=raise_on_error,
    )


def documented_columns() -> dict[str, list[str]]:
    """``### archy.<table>`` sections of docs/tables.md and the columns their tables list."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "tables.md").read_text()
    tables: dict[str, list[str]] = {}
    for section in re.split(r"^### ", text, flags=re.M)[1:]:
        header, _, body = section.partition("\n")
        name = header.strip().strip("`")
        tables[name] = [m.group(1) for m in re.finditer(r"^\| `([a-z_]+)` \|", body, flags=re.M)]
    return tables


#: Figures tests want shown at the end of every run (precision, recall...).
FIGURES: list[str] = []


def report_figure(line: str) -> None:
    """Show ``line`` in the test run's closing summary (see conftest.pytest_terminal_summary)."""
    FIGURES.append(line)


def materialize_transform(warehouse: Any) -> Any:
    """Rebuild every archy table from what the warehouse holds (no Workato call), in process."""
    import dagster as dg

    from archy_pipeline.assets.mapping import system_mappings, systems
    from archy_pipeline.assets.transform import (
        DEFAULT_MODELS_DIR,
        build_sql_model_assets,
        integration_descriptions,
    )
    from archy_pipeline.resources.settings import ArchySettingsResource

    return dg.materialize(
        [
            integration_descriptions,
            systems,
            system_mappings,
            build_sql_model_assets(DEFAULT_MODELS_DIR),
        ],
        resources={"warehouse": warehouse, "settings": ArchySettingsResource()},
    )


# ---------------------------------------------------------------------- SMTP on loopback


class LoopbackSmtpController(Controller):
    """aiosmtpd's Controller on an ephemeral port: it binds port 0, then learns the port from
    the bound socket before its start-up probe connects (the probe uses ``self.port``)."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpInbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[SimpleNamespace] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            SimpleNamespace(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                message=email.message_from_bytes(envelope.content, policy=email.policy.default),
                authenticated=bool(session.authenticated),
                # session.ssl: after STARTTLS; the transport's ssl_object: implicit TLS
                tls=session.ssl is not None
                or server.transport.get_extra_info("ssl_object") is not None,
            )
        )
        return "250 Message accepted for delivery"


# ---------------------------------------------------------------------- the ACME workspace


STOP = {"stop_with_error": "true"}


def block(number, keyword, provider=None, name=None, *children, **extra):
    return {
        "number": number, "keyword": keyword, "provider": provider, "name": name,
        "block": list(children), **extra,
    }  # fmt: skip


def acme() -> tuple[Workspace, dict[str, int]]:
    """Five recipes and six connections whose expected rows are worked out by hand in
    tests/test_transform.py (check_acme_rows)."""
    ws = Workspace(name="ACME")
    sales = ws.add_project("Sales")
    q2c = ws.add_folder("Quote to Cash", sales.folder_id)
    sf = ws.add_connection("salesforce", "ACME Production Salesforce", sales.folder_id)
    ns = ws.add_connection("netsuite", "NetSuite - Sandbox", sales.folder_id)
    slack = ws.add_connection("slack", "slack_ops_prd")
    jira = ws.add_connection("jira", "Jira UAT")
    hubspot = ws.add_connection(
        "hubspot",
        "HubSpot PROD",
        authorization_status="failed",
        authorization_error="invalid_grant",
    )
    http = ws.add_connection("rest", "Misc HTTP")
    callee = ws.add_recipe(
        "Upsert contact",
        block(0, "trigger", "workato_recipe_function", "execute", block(
            1, "action", "salesforce", "upsert_sobject", input={"sobject_name": "Contact"}),
            block(2, "action", "workato_recipe_function", "return_result")),
        [application_config("workato_recipe_function", None),
         application_config("salesforce", sf.id)],
        sales.folder_id, running=True,
    )  # fmt: skip
    caller = ws.add_recipe(
        "Opportunity to Sales Order",
        block(0, "trigger", "salesforce", "new_object",
              block(1, "action", "netsuite", "add_object", input={"netsuite_object": "salesOrder"}),
              block(2, "action", "slack", "post_message", input={"channel": "#sales"}),
              block(3, "action", "workato_recipe_function", "call_recipe",
                    input={"flow_id": str(callee.id)}),
              input={"sobject_name": "Opportunity"}),
        [application_config("salesforce", sf.id), application_config("netsuite", ns.id),
         application_config("slack", slack.id),
         application_config("workato_recipe_function", None)],
        q2c.id, running=True, description="",
    )  # fmt: skip
    nightly = ws.add_recipe(
        "Nightly sync",
        block(0, "trigger", "clock", "scheduled_event",
              block(1, "try", None, None,
                    block(2, "action", "salesforce", "search_sobjects"),
                    block(3, "action", "netsuite", "upsert_object"),
                    block(4, "catch", None, None, block(5, "stop", input=STOP))),
              block(6, "action", "workato_recipe_function", "call_recipe",
                    input={"flow_id": "=_dp('{\"pill_type\":\"output\"}')"}),
              block(7, "action", "workato_pub_sub", "publish_to_topic", input={"topic_id": "777"})),
        [application_config("clock", None), application_config("salesforce", sf.id),
         application_config("netsuite", ns.id),
         application_config("workato_recipe_function", None),
         application_config("workato_pub_sub", None)],
        sales.folder_id, running=True, description="Copies accounts every night.",
    )  # fmt: skip
    ws.stop_recipe(nightly.id, "trigger_errors_limit")
    subscriber = ws.add_recipe(
        "Order events to Slack",
        block(0, "trigger", "workato_pub_sub", "subscribe_to_topic",
              block(1, "action", "slack", "post_message"), input={"topic_id": "777"}),
        [application_config("workato_pub_sub", None), application_config("slack", slack.id)],
        sales.folder_id, running=True,
    )  # fmt: skip
    both = ws.add_recipe(
        "Account owner sync",
        block(0, "trigger", "salesforce", "updated_object",
              block(1, "action", "salesforce", "update_sobject")),
        [application_config("salesforce", sf.id)], sales.folder_id, running=True,
    )  # fmt: skip
    ids = {
        "sf": sf.id, "ns": ns.id, "slack": slack.id, "jira": jira.id, "hubspot": hubspot.id,
        "http": http.id, "callee": callee.id, "caller": caller.id, "nightly": nightly.id,
        "subscriber": subscriber.id, "both": both.id,
    }  # fmt: skip
    return ws, ids


def sync_resources(sim: WorkatoSimulator, warehouse: Any) -> dict[str, Any]:
    """The extract's resources: the client aimed at ``sim``, unpaced, and ``warehouse``."""
    from dagster_dlt import DagsterDltResource

    from archy_pipeline.resources import WorkatoResource

    return {
        "dlt": DagsterDltResource(),
        "workato": WorkatoResource(
            api_token=sim.token, base_url=sim.base_url, requests_per_minute=0
        ),
        "warehouse": warehouse,
    }


def build_archy(warehouse: Any, models: Path | None = None) -> Any:
    """Build every archy table from what the warehouse holds and run the integrity checks."""
    import dagster as dg

    from archy_pipeline.assets.analysis import analysis_tables
    from archy_pipeline.assets.changes import change_events
    from archy_pipeline.assets.checks import INTEGRITY_CHECKS
    from archy_pipeline.assets.history import history_tables
    from archy_pipeline.assets.mapping import system_mappings, systems
    from archy_pipeline.assets.transform import (
        DEFAULT_MODELS_DIR,
        build_sql_model_assets,
        integration_descriptions,
    )
    from archy_pipeline.resources.settings import ArchySettingsResource

    return dg.materialize(
        [
            integration_descriptions,
            systems,
            system_mappings,
            build_sql_model_assets(models or DEFAULT_MODELS_DIR),
            analysis_tables,
            change_events,
            history_tables,
            *INTEGRITY_CHECKS,
        ],
        resources={"warehouse": warehouse, "settings": ArchySettingsResource()},
        raise_on_error=False,
    )


def run_pipeline(sim: WorkatoSimulator, warehouse: Any, models: Path | None = None) -> Any:
    """Sync ``sim`` into ``warehouse``, then build every archy table and run the checks."""
    assert materialize_sync(sync_resources(sim, warehouse)).success
    return build_archy(warehouse, models)


def rows(warehouse: Any, sql: str) -> list[tuple]:
    return warehouse.query(sql)[1]


# ---------------------------------------------------------------------- synced once per session

#: Settings a developer's shell may hold; no test (nor session fixture) sees them.
ISOLATED_ENV_VARS = SETTING_VARIABLES

#: The local PostgreSQL every machine of this project runs (trust authentication).
POSTGRES_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass
class SyncedWarehouse:
    """A workspace synced once through the real pipeline (the simulator over HTTP, dlt, every
    archy model and check) into a DuckDB file that tests copy and never write to."""

    path: Path
    workspace: Workspace
    ids: dict[str, int]
    #: The sync and the archy build, as ``dg.materialize`` returned them.
    sync: Any
    build: Any
    #: Every request the simulator answered during the sync.
    requests: list[Any]

    def copy_to(self, folder: Path) -> Any:
        """A warehouse resource on a copy of the file in ``folder`` (a test's tmp_path)."""
        from archy_pipeline.resources.warehouse import WarehouseResource

        target = folder / "warehouse.duckdb"
        shutil.copy(self.path, target)
        return WarehouseResource(duckdb_path=str(target))


def sync_once(
    folder: Path, workspace: Workspace, ids: dict[str, int] | None = None
) -> SyncedWarehouse:
    """Sync ``workspace`` into ``folder``/warehouse.duckdb and build the archy tables, with the
    developer's settings hidden and a DAGSTER_HOME of its own (the isolation every test gets
    from conftest's autouse fixture, which a session fixture runs before)."""
    import pytest

    from archy_pipeline.resources.warehouse import WarehouseResource

    home = folder / "dagster_home"
    home.mkdir()
    with pytest.MonkeyPatch.context() as env:
        for name in ISOLATED_ENV_VARS:
            env.delenv(name, raising=False)
        env.setenv("DAGSTER_HOME", str(home))
        sim = WorkatoSimulator(workspace, time_scale=TIME_SCALE, rate_limits=None).start()
        try:
            warehouse = WarehouseResource(duckdb_path=str(folder / "warehouse.duckdb"))
            sync = materialize_sync(sync_resources(sim, warehouse))
            assert sync.success
            build = build_archy(warehouse)
            assert build.success
            requests = list(sim.requests)
        finally:
            sim.stop()
    with warehouse.connect() as con:
        con.execute("checkpoint")  # everything in the file itself: a copy is complete
    return SyncedWarehouse(warehouse.path, workspace, ids or {}, sync, build, requests)
