"""Whether the archy tables need a rebuild: Dagster's data versions and code versions.

Nothing changed, nothing rebuilt (issue 13). Three parts, all Dagster's own mechanism:

* Each raw table partition (one workspace's rows of ``workato_raw.<table>``) is materialized
  with a :class:`dagster.DataVersion` that is a fingerprint of its content
  (:func:`table_fingerprint`): an unchanged sync records the same data version again.
* Each asset the rebuild materializes has a ``code_version`` (:func:`build_code_version`):
  a fingerprint of archy-pipeline's code, the SQL models and the archy.yaml sections the
  tables depend on (systems, mapping rules, analysis thresholds, workspaces, access...).
  Dagster records it, with the data versions of the inputs, on every materialization.
* An asset is then *stale* when a dependency's data version or its own code version changed
  since it was last built, *missing* when it was never built (or its last build failed before
  reaching it, which leaves it behind its inputs): :func:`rebuild_decision` asks Dagster's
  stale-status resolver, as the UI's "stale" badge does. The command line rebuilds only when
  some asset is stale or missing; the daemon's automation uses the same versions
  (``data_version_changed`` / ``code_version_changed``, sensors/automation.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

if TYPE_CHECKING:
    from archy_pipeline.resources.warehouse import WarehouseResource
    from archy_pipeline.settings import ArchySettings

PACKAGE_ROOT = Path(__file__).resolve().parent

#: archy.yaml sections no archy table depends on (when things run, who is told, how long
#: old rows are kept): editing them rebuilds nothing.
UNUSED_BY_TABLES = frozenset({"schedules", "notifications", "retention"})

_NULL = "<null>"


def table_fingerprint(warehouse: WarehouseResource, schema: str, table: str, workspace: str) -> str:
    """An order-independent fingerprint of ``workspace``'s rows in ``schema.table``: every
    column but dlt's own bookkeeping (``_dlt_*``, which changes when identical rows are
    loaded again). Portable SQL (DuckDB and PostgreSQL): md5 of each row's values, sorted."""
    columns = [name for name, _ in warehouse.columns(schema, table) if not name.startswith("_dlt")]
    if not columns:
        return "empty"
    values = ", ".join(f"coalesce(cast(\"{c}\" as varchar), '{_NULL}')" for c in columns)
    _, rows = warehouse.query(
        f"select count(*), md5(coalesce(string_agg(h, '' order by h), '')) from ("
        f'select md5(concat_ws(\'|\', {values})) as h from "{schema}"."{table}" '
        f"where workspace = {warehouse.placeholder}) as hashed",
        [workspace],
    )
    count, digest = rows[0]
    return f"{count}-{digest}"


def _hash_files(digest: Any, root: Path, patterns: Iterable[str]) -> None:
    for pattern in patterns:
        for path in sorted(root.rglob(pattern)):
            if "__pycache__" in path.parts:
                continue
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())


def build_code_version(models_dir: str | Path, archy: ArchySettings) -> str:
    """The code version of every asset a rebuild materializes: archy-pipeline's code (the
    package's .py, .sql, .yaml and .json files), the SQL models in ``models_dir``, and every
    archy.yaml section but the schedules and notifications. Conservative: any of these
    changing rebuilds every archy table."""
    digest = hashlib.sha256()
    _hash_files(digest, PACKAGE_ROOT, ("*.py", "*.sql", "*.yaml", "*.yml", "*.json"))
    models = Path(models_dir)
    if models.resolve() != PACKAGE_ROOT and models.exists():
        _hash_files(digest, models, ("*.sql", "*.yml", "*.yaml"))
    settings = archy.model_dump(mode="json", exclude=set(UNUSED_BY_TABLES))
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def with_code_version(code_version: str) -> Callable[[dg.AssetSpec], dg.AssetSpec]:
    """A spec mapper (for ``map_asset_specs``) that sets ``code_version``."""

    def apply(spec: dg.AssetSpec) -> dg.AssetSpec:
        return spec.replace_attributes(code_version=code_version)

    return apply


@dataclass
class RebuildDecision:
    """What :func:`rebuild_decision` found: ``reasons`` empty means nothing to rebuild."""

    reasons: list[str] = field(default_factory=list)
    stale: list[dg.AssetKey] = field(default_factory=list)
    last_build: datetime | None = None

    @property
    def needed(self) -> bool:
        return bool(self.reasons)

    def describe(self) -> str:
        if self.needed:
            return "; ".join(self.reasons)
        when = self.last_build.strftime("%Y-%m-%d %H:%M:%S UTC") if self.last_build else "unknown"
        return f"nothing changed since the last build at {when}"


def _cause_text(cause: Any) -> str:
    """One stale cause in words: 'workato_raw/recipes [ACME] has a new data version'."""
    while cause.children:
        cause = cause.children[0]
    where = f" [{cause.partition_key}]" if cause.partition_key else ""
    return f"{cause.asset_key.to_user_string()}{where} {cause.reason}"


def rebuild_decision(
    instance: dg.DagsterInstance, defs: dg.Definitions, keys: Iterable[dg.AssetKey]
) -> RebuildDecision:
    """Whether any of ``keys`` (the assets a rebuild materializes) is missing or stale.

    Uses Dagster's stale-status resolver (the UI's "stale" badge): an asset is stale when a
    dependency's data version, or its own code version, differs from what its last
    materialization recorded; missing when never materialized.
    """
    # Dagster's own staleness logic (as its schedules' ``stale_assets_only`` run requests use
    # it); it has no public wrapper outside the GraphQL layer.
    from dagster._core.asset_graph_view.asset_graph_view import AssetGraphView, TemporalContext
    from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
    from dagster._time import get_current_datetime

    graph = defs.resolve_asset_graph()
    view = AssetGraphView(
        temporal_context=TemporalContext(effective_dt=get_current_datetime(), last_event_id=None),
        instance=instance,
        asset_graph=graph,
    )
    resolver = CachingStaleStatusResolver(instance, graph, loading_context=view)
    decision = RebuildDecision()
    missing: list[str] = []
    causes: list[str] = []
    for key in sorted(keys, key=lambda k: k.to_user_string()):
        status = resolver.get_status(key)
        if status == StaleStatus.MISSING:
            missing.append(key.to_user_string())
            decision.stale.append(key)
        elif status == StaleStatus.STALE:
            decision.stale.append(key)
            for cause in resolver.get_stale_root_causes(key):
                text = _cause_text(cause)
                if text not in causes:
                    causes.append(text)
        record = instance.get_latest_materialization_event(key)
        if record is not None:
            when = datetime.fromtimestamp(record.timestamp, timezone.utc)
            decision.last_build = max(decision.last_build or when, when)
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        decision.reasons.append(
            f"never built (or the last build failed before): {', '.join(missing[:3])}{more}"
        )
    if causes:
        more = f" and {len(causes) - 3} more" if len(causes) > 3 else ""
        decision.reasons.append(f"{'; '.join(causes[:3])}{more}")
    return decision
