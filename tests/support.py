"""Helpers shared by the tests: hand-built workspaces and clients aimed at the simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workato_simulator import WorkatoSimulator, Workspace

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
    """Materialize the extract assets for one workspace partition, in process."""
    import dagster as dg

    from archy_pipeline.assets.extract import workato_raw_tables
    from archy_pipeline.constants import WORKSPACES

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

    return dg.materialize(
        [
            integration_descriptions,
            systems,
            system_mappings,
            build_sql_model_assets(DEFAULT_MODELS_DIR),
        ],
        resources={"warehouse": warehouse},
    )
