"""Graphs, rankings and insights over the archy tables: what the integrations look like as a
whole, and what deserves attention.

Pure: pandas and networkx only, no Dagster or dlt import. The input is an
:class:`AnalysisInput`: one DataFrame per table, with the columns documented in
``docs/tables.md`` (``archy.integrations``, ``archy.integration_systems``,
``archy.integration_calls``, ``archy.system_instances``, ``archy.system_mappings``) and
``docs/extract.md`` (``workato_raw.recipe_steps``). Extra columns are ignored. Rows of deleted
recipes (``deleted_at`` set) are ignored everywhere; deleted connections are ignored unless a
current recipe still uses them. Several workspaces may be present: every node id carries its
workspace.

Graphs (:func:`build_graphs`)
=============================

Node ids: ``recipe:<workspace>:<recipe_id>``, ``connection:<workspace>:<connection_id>`` and
``system:<workspace>:<key>``, where ``key`` is the mapped ``system_id`` when
``archy.system_mappings.match_status`` is ``matched`` or ``partial``, else the connection's
application (so unmapped connections of one connector share a system node).

* ``calls``: every current recipe; an edge caller -> callee per resolved
  ``integration_calls`` row between current recipes. Edge attributes: ``kind`` (``pub_sub``
  when every call on the edge is Pub/Sub, else ``calls``), ``via`` (sorted list),
  ``detail`` (list), ``step_numbers``, ``recipe_ids`` (the caller).
* ``instances``: every current recipe and connection; an edge connection -> recipe
  (``reads``) for role ``source``, recipe -> connection (``writes``) for ``target``, both
  edges for ``both``.
* ``systems``: a node per system; an edge system -> system (``flows_to``) for every recipe
  whose trigger connection (role ``source``/``both``) and an action connection
  (``target``/``both``) are different connections. Edge attributes ``recipe_ids`` (sorted)
  and ``recipe_count``. Two connections of one system make a self-loop.

Node metrics (:func:`graph_tables`, one row per graph and node)
================================================================

``degree``/``in_degree``/``out_degree``; ``pagerank`` (damping 0.85, unweighted, dangling
nodes spread evenly; a numpy power iteration, since networkx's needs scipy; sums to 1 per
graph); ``component``: the weakly connected component's index, components ordered by their
smallest node id (as text), so the same graph gives the same numbers; ``betweenness``:
normalised shortest-path betweenness (directed). Isolated nodes lie on no path, so it is
computed on the graph without them and normalised by the whole graph's size. Exact when that
graph has at most ``BETWEENNESS_EXACT_MAX_NODES`` (1,000) nodes; above, an estimate from
``BETWEENNESS_SAMPLES`` (128) source nodes drawn with the fixed seed ``BETWEENNESS_SEED`` (42),
scaled by nodes/samples, so runs on the same input agree (the three are keyword arguments of
:func:`build_graphs`). Exact betweenness is O(V·E); the estimate is O(k·E). Brandes' algorithm
is implemented here over integer adjacency lists: it gives networkx's exact figures about four
times faster, which is what makes the sampled 50,000-edge case take seconds, not minutes.

Insights (:func:`find_insights`)
================================

Each :class:`Insight` has a kind, a category (``health``: how recipes run; ``architecture``:
how they fit together), a severity (``high``, ``medium``, ``low``), a title, detail and
recommendation for people, subjects (``{"id", "type", "name"}``), JSON-serialisable evidence
and its workspace; :func:`insights_table` makes rows of them. Its
``insight_id`` is the first 12 hex digits of the sha1 of ``"<kind>/<rule>|"`` followed by the
sorted subject ids joined with ``|``: the same finding keeps its id across runs, and one kind's
two rules about the same subject (a recipe both stopped and never called) get two ids. The
rule is also ``evidence["rule"]``. Thresholds are :class:`Thresholds` fields (``analysis:`` in
archy.yaml, :func:`parse_thresholds`).

``circular_dependency`` (architecture)
    rule ``call_cycle``: each strongly connected component of the call graph with more than one
    recipe, or a recipe calling itself, is one insight whose subjects are all its members.
    ``evidence.cycle`` is one simple cycle through the component's smallest member, in call
    order (a breadth-first search inside the component: O(V+E), never an enumeration of
    cycles). High when a synchronous call (``call_recipe``, ``call_service``) lies inside the
    component, else medium (only async calls or Pub/Sub).
    rule ``system_loop`` (Workato's "infinite loop"): recipes triggered by connection a that
    write connection b while others triggered by b write a (``integration_systems.by_trigger``;
    a lookup starts nothing, so it never makes a loop; a message or alert posted to a channel
    of :data:`NOTIFY_APPLICATIONS` is not a record copied back, so it does not close one).
    The tables do
    not say which object a step touches, so the same pair of connections both ways is the
    evidence used; the detail asks to check the objects. One insight per pair of systems
    (subjects: the system or two), listing the connection pairs and the recipes each way. High
    when an active recipe runs each way, else medium.
``unused_connection`` (health)
    rule ``unused``: a current connection with ``recipe_count`` 0 and no
    ``integration_systems`` row. Medium when active (live credentials nobody needs), low when
    inactive.
``duplicate_connection`` (health)
    rule ``same_application_environment``: two or more current connections in a workspace with
    the same application and environment. Medium; low when the environment is ``unknown``
    (the names do not say, so they may well differ).
``inactive_recipe`` (health)
    rule ``stopped``: a stopped recipe. High when Workato stopped it (``stop_cause`` set), any
    age; when a user stopped it, low and only after ``stopped_days`` days since ``updated_at``.
    rule ``no_recent_jobs``: an active recipe whose last job (``last_run_at``) is more than
    ``inactive_days`` old, or that never ran and was last changed more than ``inactive_days``
    ago. Low.
    rule ``uncalled_callable``: a current recipe whose trigger application is
    ``workato_recipe_function`` or ``workato_service`` that no current recipe calls (resolved
    calls). Medium; low when the workspace has unresolved (dynamic) calls that might be it.
``missing_error_handling`` (health)
    rule ``unhandled_errors``: one insight per recipe, listing in its evidence the
    ``step_numbers`` (and ``applications``, ``connections``) of unprotected steps and the
    ``catch_steps`` that swallow errors, and the number of ``try_blocks``. Title "No error
    handling" when the recipe has no try block, else "Errors not handled". High when active
    with unprotected steps and failed jobs, medium when active, low when stopped.
    *Unprotected steps*: non-skipped action steps (not the trigger) on a connection that run
    outside any try (``protected`` and ``in_catch`` both false), except alert and log steps
    (:data:`NOTIFY_APPLICATIONS` with an action not named like a read): an alert that fails
    has nowhere to alert.
    *A catch swallows* unless: it retries (``retry_count`` above 0, Workato's
    ``max_retry_count``); or a non-skipped step inside it stops the job with an error
    (``stop_with_error`` true or unknown), answers the caller (:data:`RETURN_ACTIONS`:
    ``return_result``, ``return_response``, ``send_reply``), calls another recipe or publishes
    (:data:`CALL_REFERENCE_KINDS`), logs or notifies (:data:`NOTIFY_APPLICATIONS`), records
    (a write to ``workato_db_table`` or ``lookup_table``, or any write on a connection: a data
    store, a compensating action); or it only collects the error in a variable or list
    (``workato_variable``) and, after the try block, a step outside any catch reports (as
    above) from inside an if/elsif/else, or stops with an error. Which variable that condition
    reads is not followed: a report about something else is taken for handling. Steps that
    only read (the step's ``access``, else ``vocabulary.classify_step`` on
    its name) never count as recording or alerting.
    ``retry_count`` and ``stop_with_error`` are optional ``steps`` columns
    (:data:`STEP_DETAIL_COLUMNS`), read from the recipes' code by :func:`add_step_details`;
    without them no retry is counted and every stop counts as stopping with an error.
``failing_recipe`` (health)
    rule ``failure_ratio``: ``job_failed_count / (succeeded + failed)`` at or above
    ``failure_ratio`` with at least ``failure_min_jobs`` jobs. High at or above
    ``failure_high_ratio``, else medium.
``high_coupling`` (architecture)
    rule ``system``: per workspace, systems ranked by the current recipes using any of their
    connections, then by neighbour systems in the flow graph; the first ``coupling_top_n`` with
    at least ``coupling_min_recipes`` recipes. High when at least ``coupling_high_share`` of
    the workspace's recipes use it, else medium.
    rule ``instance``: the same ranking over connections, reported only for connections whose
    system has several current connections (otherwise it repeats the system's insight).
``bottleneck`` (architecture)
    rule ``single_point_of_failure``: candidates are articulation points of the undirected
    instance graph (connections) and call graph (called recipes) and of the undirected flow
    graph (systems), and nodes of those kinds whose betweenness is at least
    ``bottleneck_min_betweenness``. A candidate is reported when at least
    ``bottleneck_min_dependents`` recipes depend on it: for a connection, the recipes using
    it plus their callers (transitively, see :func:`impact`); for a system, the same over its
    connections; for a recipe, its transitive callers (for every recipe at once: bitsets
    OR-ed along the condensation of the breaking calls). High at three times that minimum,
    else medium.
``high_complexity`` (architecture)
    rule ``complexity_score``: ``score = steps + 2·max_depth + 2·branches + 3·loops + 2·calls +
    3·systems`` where steps and max_depth are ``integrations.step_count`` and ``max_depth``,
    branches count non-skipped ``if``/``elsif``/``else`` steps, loops ``foreach``/``repeat``
    steps, calls the steps calling recipes or publishing to Pub/Sub (``reference_kind``
    ``call_*`` or ``pub_sub_publish``), and systems the connections the recipe uses. The
    percentile is the share of the workspace's recipes scoring at most as much (0-100].
    Reported at or above ``complexity_percentile`` and ``complexity_min_score``; high at twice
    that score, else medium.
``consolidation_candidate`` (architecture)
    rule ``same_trigger_and_targets``: two or more current recipes with the same trigger
    application, the same trigger connection(s) and the same non-empty set of target
    applications (the object is not in the tables). Low.
    rule ``near_duplicate``: recipes with the same trigger application whose step sequences
    (``application.action_name`` for triggers and actions, the keyword for control steps,
    skipped steps left out) have a difflib ratio of at least ``similarity_threshold``, both at
    least ``similarity_min_steps`` long. Only recipes of one trigger application are compared,
    sorted by length, and a pair is skipped as soon as the lengths alone rule the ratio out
    (``2·min/(a+b)``), then when the multiset bound of difflib's ``quick_ratio`` does (computed
    with numpy for a whole window of candidates at once). Pairs are joined into groups;
    a group inside one ``same_trigger_and_targets`` group is not repeated. Low.
``performance_opportunity`` (health)
    rule ``polling_trigger``: the trigger is a polling trigger of a connector that also offers
    a real-time one, from :data:`POLLING_TRIGGERS`. Low.
    rule ``single_record_loop``: inside a ``foreach``/``repeat``, a single-record action that
    has a batch or bulk counterpart, from :data:`BATCH_ACTIONS`. Medium.
    rule ``high_task_count``: ``lifetime_task_count`` at or above ``task_count_high``. Medium.
    Both lists are curated by hand from Workato's connector documentation and the names
    recipes use; they are short and certainly incomplete, and a connector missing from them
    simply gives no insight. The suggested action names are what to look for in the
    connector, not ids read from Workato.

Roll-ups
========

Findings of :data:`ROLLUP_KINDS` (``inactive_recipe``, ``missing_error_handling``,
``performance_opportunity``) whose only subject is a recipe are grouped per workspace, kind,
rule and the recipe's folder. A group of at least ``rollup_min_recipes`` (5; 0: never) becomes
one finding about the folder: subjects the folder (``folder:<workspace>:<folder_path>``) then
the member recipes; severity the worst member's; ``evidence`` ``rolled_up``, ``folder_path``,
``member_count`` and ``members`` (each member's id, name, own ``insight_id``, severity, title
and evidence). Its id is ``insight_id(kind, "<rule>/folder", [folder node])``: it stays while
members come and go; once the folder falls below the threshold it resolves and the members
are reported one by one again, under their own ids.

What to fix first (:func:`priority_key`)
========================================

Every insight carries ``affected_recipes`` (the current recipes among its subjects, a roll-up's
members included; the recipes its evidence lists in :data:`IMPACT_RECIPE_LISTS` (a sync loop's
recipes both ways, a bottleneck's dependents, whose full count ``dependents`` is used); else the
recipes using its connection or system subjects), ``failed_jobs`` (their
``job_failed_count``) and ``production`` (a connection whose environment is ``production`` is a
subject or used by an affected recipe). Insights are sorted by severity, then production first,
then more affected recipes, then more failed jobs, then kind (the order of :data:`KINDS`),
workspace, title and id; ``archy.v_recommendations`` numbers them in the same order.

Impact (:func:`impact`)
=======================

What breaks when a system, connection or recipe goes down: the recipes using it directly, then
every recipe calling an affected recipe (``call_recipe``, ``call_recipe_async``,
``call_service``; a Pub/Sub publisher does not wait for its subscribers, so it does not break),
transitively; and the systems the affected recipes write to.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import random
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timezone
from typing import Any, NamedTuple

import networkx as nx
import numpy as np
import pandas as pd

from archy_pipeline.config import ConfigError
from archy_pipeline.workato.vocabulary import classify_step

__all__ = [
    "BATCH_ACTIONS",
    "BETWEENNESS_EXACT_MAX_NODES",
    "BETWEENNESS_SAMPLES",
    "BETWEENNESS_SEED",
    "INPUT_COLUMNS",
    "INPUT_TABLES",
    "KINDS",
    "POLLING_TRIGGERS",
    "AnalysisInput",
    "Graphs",
    "ImpactReport",
    "ImpactTargetError",
    "Insight",
    "Thresholds",
    "add_step_details",
    "build_graphs",
    "connection_node",
    "error_handling_details",
    "find_insights",
    "format_impact",
    "graph_tables",
    "impact",
    "insight_id",
    "insights_table",
    "pagerank",
    "parse_thresholds",
    "priority_key",
    "ranking_tables",
    "recipe_node",
    "system_node",
]

# ---------------------------------------------------------------------- constants

#: Above this many non-isolated nodes, betweenness is estimated from sampled sources.
BETWEENNESS_EXACT_MAX_NODES = 1_000
#: Source nodes sampled for the estimate.
BETWEENNESS_SAMPLES = 128
#: Seed of the sampling, fixed so two runs on the same input agree.
BETWEENNESS_SEED = 42

GRAPH_NAMES = ("calls", "instances", "systems")

#: Insight kinds and their category.
KINDS: dict[str, str] = {
    "circular_dependency": "architecture",
    "unused_connection": "health",
    "duplicate_connection": "health",
    "inactive_recipe": "health",
    "missing_error_handling": "health",
    "failing_recipe": "health",
    "high_coupling": "architecture",
    "bottleneck": "architecture",
    "high_complexity": "architecture",
    "consolidation_candidate": "architecture",
    "performance_opportunity": "health",
}
SEVERITIES = ("high", "medium", "low")

#: ``integration_calls.via`` values where the caller breaks when the callee breaks.
BREAKING_CALLS = frozenset({"call_recipe", "call_recipe_async", "call_service"})
#: Synchronous calls: the caller waits, so a cycle of them can recurse without end.
SYNC_CALLS = frozenset({"call_recipe", "call_service"})
CALLABLE_TRIGGERS = frozenset({"workato_recipe_function", "workato_service"})
MAPPED_STATUSES = frozenset({"matched", "partial"})
BRANCH_KEYWORDS = frozenset({"if", "elsif", "else"})
LOOP_KEYWORDS = frozenset({"foreach", "repeat"})
CALL_REFERENCE_KINDS = frozenset(
    {"call_recipe", "call_recipe_async", "call_service", "call_service_async", "pub_sub_publish"}
)
#: Alerting and logging connectors: in a catch they report the failure; outside a try their
#: own failure is not counted as missing error handling (an alert has nowhere to alert).
NOTIFY_APPLICATIONS = frozenset(
    {
        "logger", "email", "gmail", "outlook", "slack", "slack_bot", "teams", "teams_bot",
        "microsoft_teams", "twilio", "pagerduty", "opsgenie", "splunk", "datadog",
    }
)  # fmt: skip
#: Workato's own stores: a write there records the failure (data tables, lookup tables).
RECORD_APPLICATIONS = frozenset({"workato_db_table", "lookup_table"})
#: Steps that count as handling an error inside a catch block (besides ``stop`` with error,
#: returns to the caller, recipe calls, writes and retries: see :func:`_handles`).
HANDLER_APPLICATIONS = NOTIFY_APPLICATIONS | RECORD_APPLICATIONS
#: Actions that answer the caller (reference §3.6): in a catch, the answer carries the error.
RETURN_ACTIONS = frozenset(
    {
        ("workato_recipe_function", "return_result"),
        ("workato_api_platform", "return_response"),
        ("workato_service", "send_reply"),
    }
)
#: Variables and lists: a catch that only collects the error there handles it when a later
#: step reports (see :func:`_error_handling`).
VARIABLE_APPLICATIONS = frozenset({"workato_variable"})
#: Optional columns of the ``steps`` frame, read from each recipe's code by
#: :func:`error_handling_columns`: a catch's ``max_retry_count`` and a stop's
#: ``stop_with_error`` (reference §3.3). Missing: retries unknown (none counted), a stop counts
#: as stopping with an error.
STEP_DETAIL_COLUMNS = ("retry_count", "stop_with_error")
#: Per-recipe kinds whose findings roll up per folder (see :func:`_roll_up`).
ROLLUP_KINDS = frozenset({"inactive_recipe", "missing_error_handling", "performance_opportunity"})
#: How a rolled-up finding names what its members have in common, per (kind, rule).
ROLLUP_LABELS = {
    ("inactive_recipe", "stopped"): "stopped recipes",
    ("inactive_recipe", "no_recent_jobs"): "running recipes without recent jobs",
    ("inactive_recipe", "uncalled_callable"): "callable recipes nobody calls",
    ("missing_error_handling", "unhandled_errors"): "recipes without error handling",
    ("performance_opportunity", "polling_trigger"): "polling triggers with a real-time option",
    ("performance_opportunity", "single_record_loop"): "single-record actions in loops",
    ("performance_opportunity", "high_task_count"): "recipes with very high task counts",
}


class TriggerAlternatives(NamedTuple):
    """A connector's polling triggers and the real-time triggers to use instead."""

    polling: frozenset[str]
    realtime: tuple[str, ...]


def _alt(polling: str, realtime: str) -> TriggerAlternatives:
    return TriggerAlternatives(frozenset(polling.split()), tuple(realtime.split()))


#: Curated: application -> polling trigger names and the real-time alternatives to look for.
POLLING_TRIGGERS: dict[str, TriggerAlternatives] = {
    "salesforce": _alt(
        "new_object updated_object new_updated_object sobject_deleted",
        "new_object_realtime new_updated_object_realtime",
    ),
    "netsuite": _alt(
        "new_object updated_object new_updated_object",
        "new_object_realtime updated_object_realtime",
    ),
    "service_now": _alt("new_object updated_object", "new_object_realtime updated_object_realtime"),
    "jira": _alt("new_issue updated_issue", "new_issue_realtime updated_issue_realtime"),
    "jira_service_desk": _alt(
        "new_request updated_request", "new_request_realtime updated_request_realtime"
    ),
    "zendesk": _alt("new_ticket updated_ticket", "new_updated_ticket_realtime"),
    "hubspot": _alt("new_contact updated_contact new_deal", "new_contact_webhook new_deal_webhook"),
    "google_sheets": _alt("new_spreadsheet_row_v4", "new_spreadsheet_row_v4_realtime"),
    "github": _alt(
        "new_issue new_pull_request new_commit", "new_issue_webhook new_pull_request_webhook"
    ),
}

_DATABASES = ("mssql", "postgresql", "mysql", "snowflake", "redshift", "oracle", "jdbc")

#: Curated: (application, single-record action) -> the batch or bulk action to use in a loop.
BATCH_ACTIONS: dict[tuple[str, str], str] = {
    ("salesforce", "create_object"): "create_objects_batch / create_objects_bulk",
    ("salesforce", "update_sobject"): "update_objects_batch / update_objects_bulk",
    ("salesforce", "upsert_sobject"): "upsert_objects_batch / upsert_objects_bulk",
    ("netsuite", "add_object"): "add_objects_batch",
    ("netsuite", "update_object"): "update_objects_batch",
    ("netsuite", "upsert_object"): "upsert_objects_batch",
    ("google_big_query", "insert_row"): "insert_rows",
    ("google_sheets", "add_spreadsheet_row_v4"): "add_spreadsheet_rows_v4",
    **{(db, "insert_row"): "insert_rows_batch" for db in _DATABASES},
    **{(db, "upsert_row"): "upsert_rows" for db in _DATABASES},
}

#: Required columns of each :class:`AnalysisInput` frame (extra columns are ignored).
INPUT_COLUMNS: dict[str, tuple[str, ...]] = {
    "integrations": (
        "workspace", "recipe_id", "name", "status", "stop_cause", "folder_path",
        "trigger_application", "step_count", "max_depth", "job_succeeded_count",
        "job_failed_count", "lifetime_task_count", "last_run_at", "updated_at", "deleted_at",
    ),
    "integration_systems": (
        "workspace", "recipe_id", "connection_id", "application", "role", "step_numbers",
    ),
    "integration_calls": (
        "workspace", "caller_recipe_id", "callee_recipe_id", "via", "detail", "step_number",
        "resolved",
    ),
    "system_instances": (
        "workspace", "connection_id", "name", "application", "status", "environment",
        "folder_path", "recipe_count", "deleted_at",
    ),
    "system_mappings": (
        "workspace", "connection_id", "system_id", "system_name", "match_status",
    ),
    "steps": (
        "workspace", "recipe_id", "number", "parent_number", "depth", "keyword", "application",
        "action_name", "skipped", "protected", "in_catch", "connection_id", "reference_kind",
    ),
}  # fmt: skip

#: Where each :class:`AnalysisInput` frame comes from in the warehouse: (schema, table).
INPUT_TABLES: dict[str, tuple[str, str]] = {
    "integrations": ("archy", "integrations"),
    "integration_systems": ("archy", "integration_systems"),
    "integration_calls": ("archy", "integration_calls"),
    "system_instances": ("archy", "system_instances"),
    "system_mappings": ("archy", "system_mappings"),
    "steps": ("workato_raw", "recipe_steps"),
}


# ---------------------------------------------------------------------- input


@dataclass(frozen=True)
class AnalysisInput:
    """The tables the analysis reads, as DataFrames (see :data:`INPUT_TABLES`)."""

    integrations: pd.DataFrame
    integration_systems: pd.DataFrame
    integration_calls: pd.DataFrame
    system_instances: pd.DataFrame
    system_mappings: pd.DataFrame
    steps: pd.DataFrame

    def __post_init__(self) -> None:
        for name, columns in INPUT_COLUMNS.items():
            frame = getattr(self, name)
            if not isinstance(frame, pd.DataFrame):
                raise TypeError(f"AnalysisInput.{name} must be a pandas DataFrame")
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise ValueError(f"AnalysisInput.{name} lacks columns: {', '.join(missing)}")

    @classmethod
    def empty(cls, **frames: pd.DataFrame) -> AnalysisInput:
        """Empty frames with the required columns, except those given."""
        return cls(
            **{
                name: frames.get(name, pd.DataFrame(columns=list(columns)))
                for name, columns in INPUT_COLUMNS.items()
            }
        )


def _rows(frame: pd.DataFrame, columns: Iterable[str]) -> list[dict[str, Any]]:
    """The rows as dicts, every missing value (NaN, NA, NaT) as None.

    Column by column: about four times faster than ``to_dict("records")`` on 74,000 steps.
    """
    names = list(columns)
    lists = []
    for name in names:
        series = frame[name]
        values = series.to_numpy(dtype=object, na_value=None).tolist()
        if series.dtype.kind in "mM":  # NaT survives na_value in naive datetime columns
            values = [None if v is pd.NaT else v for v in values]
        lists.append(values)
    return [dict(zip(names, values)) for values in zip(*lists)]


def _int(value: Any, default: int | None = None) -> int | None:
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _flag(value: Any) -> bool | None:
    """True/False from a boolean or Workato's ``"true"``/``"false"``; None when unknown."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return True if text == "true" else False if text == "false" else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _timestamp(value: Any) -> pd.Timestamp | None:
    if value is None:
        return None
    stamp = pd.Timestamp(value)
    if stamp is pd.NaT:
        return None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp


def recipe_node(workspace: str, recipe_id: Any) -> str:
    return f"recipe:{workspace}:{int(recipe_id)}"


def connection_node(workspace: str, connection_id: Any) -> str:
    return f"connection:{workspace}:{int(connection_id)}"


def system_node(workspace: str, key: str) -> str:
    return f"system:{workspace}:{key}"


@dataclass(slots=True)
class _Recipe:
    node: str
    workspace: str
    recipe_id: int
    name: str
    status: str
    stop_cause: str | None
    folder_path: str | None
    trigger_application: str | None
    step_count: int
    max_depth: int
    succeeded: int
    failed: int
    tasks: int | None
    last_run_at: pd.Timestamp | None
    updated_at: pd.Timestamp | None
    uses: dict[str, str] = field(default_factory=dict)  # connection node -> role
    #: Connections whose events start the recipe (its trigger's connection); None when the
    #: input does not say (integration_systems without ``by_trigger``).
    triggered_by: set[str] | None = None

    @property
    def active(self) -> bool:
        return self.status == "active"

    @property
    def callable(self) -> bool:
        return self.trigger_application in CALLABLE_TRIGGERS

    def sources(self) -> list[str]:
        return [c for c, role in self.uses.items() if role in ("source", "both")]

    def targets(self) -> list[str]:
        return [c for c, role in self.uses.items() if role in ("target", "both")]

    def trigger_sources(self) -> list[str]:
        """Sources whose changes start the recipe (a lookup does not start anything)."""
        if self.triggered_by is None:
            return self.sources()
        return [c for c in self.sources() if c in self.triggered_by]


@dataclass(slots=True)
class _Connection:
    node: str
    workspace: str
    connection_id: int
    name: str
    application: str | None
    status: str | None
    environment: str
    folder_path: str | None
    recipe_count: int | None
    current: bool
    system: str = ""


@dataclass(slots=True)
class _System:
    node: str
    workspace: str
    key: str
    label: str
    system_id: str | None
    connections: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Call:
    caller: str
    callee: str
    via: str
    detail: str | None
    step_number: int | None


@dataclass(slots=True)
class _Step:
    number: int
    parent: int | None
    depth: int
    keyword: str
    application: str | None
    action: str | None
    skipped: bool
    protected: bool
    in_catch: bool
    connection: str | None
    reference_kind: str | None
    retries: int | None = None
    stop_error: bool | None = None
    #: ``recipe_steps.access`` (read, write, unknown; None before access was recorded).
    access: str | None = None


@dataclass
class _Model:
    recipes: dict[str, _Recipe]
    connections: dict[str, _Connection]
    systems: dict[str, _System]
    calls: list[_Call]
    unresolved_calls: Counter
    workspaces: list[str]


def _prepare(inp: AnalysisInput) -> _Model:
    recipes: dict[str, _Recipe] = {}
    for row in _rows(inp.integrations, INPUT_COLUMNS["integrations"]):
        if row["deleted_at"] is not None or row["recipe_id"] is None:
            continue
        ws = str(row["workspace"])
        node = recipe_node(ws, row["recipe_id"])
        recipes[node] = _Recipe(
            node=node,
            workspace=ws,
            recipe_id=int(row["recipe_id"]),
            name=_text(row["name"]) or str(row["recipe_id"]),
            status=_text(row["status"]) or "active",
            stop_cause=_text(row["stop_cause"]),
            folder_path=_text(row["folder_path"]),
            trigger_application=_text(row["trigger_application"]),
            step_count=_int(row["step_count"], 0) or 0,
            max_depth=_int(row["max_depth"], 0) or 0,
            succeeded=_int(row["job_succeeded_count"], 0) or 0,
            failed=_int(row["job_failed_count"], 0) or 0,
            tasks=_int(row["lifetime_task_count"]),
            last_run_at=_timestamp(row["last_run_at"]),
            updated_at=_timestamp(row["updated_at"]),
        )
    recipes = dict(sorted(recipes.items(), key=lambda kv: (kv[1].workspace, kv[1].recipe_id)))

    connections: dict[str, _Connection] = {}
    for row in _rows(inp.system_instances, INPUT_COLUMNS["system_instances"]):
        if row["connection_id"] is None:
            continue
        ws = str(row["workspace"])
        node = connection_node(ws, row["connection_id"])
        connections[node] = _Connection(
            node=node,
            workspace=ws,
            connection_id=int(row["connection_id"]),
            name=_text(row["name"]) or str(row["connection_id"]),
            application=_text(row["application"]),
            status=_text(row["status"]),
            environment=_text(row["environment"]) or "unknown",
            folder_path=_text(row["folder_path"]),
            recipe_count=_int(row["recipe_count"]),
            current=row["deleted_at"] is None,
        )
    used: set[str] = set()
    by_trigger = "by_trigger" in inp.integration_systems.columns
    extra = ["by_trigger"] if by_trigger else []
    for row in _rows(inp.integration_systems, [*INPUT_COLUMNS["integration_systems"], *extra]):
        if row["recipe_id"] is None or row["connection_id"] is None:
            continue
        ws = str(row["workspace"])
        recipe = recipes.get(recipe_node(ws, row["recipe_id"]))
        if recipe is None:
            continue
        cnode = connection_node(ws, row["connection_id"])
        if cnode not in connections:  # not visible to the API client: known only by its use
            connections[cnode] = _Connection(
                cnode, ws, int(row["connection_id"]), str(row["connection_id"]),
                _text(row["application"]), None, "unknown", None, None, current=False,
            )  # fmt: skip
        role = _text(row["role"]) or "target"
        previous = recipe.uses.get(cnode)
        recipe.uses[cnode] = role if previous in (None, role) else "both"
        if by_trigger:
            if recipe.triggered_by is None:
                recipe.triggered_by = set()
            if row["by_trigger"]:
                recipe.triggered_by.add(cnode)
        used.add(cnode)
    connections = {
        node: conn
        for node, conn in sorted(
            connections.items(), key=lambda kv: (kv[1].workspace, kv[1].connection_id)
        )
        if conn.current or node in used
    }

    mappings = {
        (str(row["workspace"]), int(row["connection_id"])): row
        for row in _rows(inp.system_mappings, INPUT_COLUMNS["system_mappings"])
        if row["connection_id"] is not None
    }
    systems: dict[str, _System] = {}
    for conn in connections.values():
        mapping = mappings.get((conn.workspace, conn.connection_id)) or {}
        system_id = _text(mapping.get("system_id"))
        if system_id and mapping.get("match_status") in MAPPED_STATUSES:
            key, label = system_id, _text(mapping.get("system_name")) or system_id
        else:
            key = conn.application or "unknown"
            label, system_id = key, None
        snode = system_node(conn.workspace, key)
        system = systems.setdefault(snode, _System(snode, conn.workspace, key, label, system_id))
        system.connections.append(conn.node)
        conn.system = snode
    systems = dict(sorted(systems.items()))

    calls: list[_Call] = []
    unresolved: Counter = Counter()
    for row in _rows(inp.integration_calls, INPUT_COLUMNS["integration_calls"]):
        ws = str(row["workspace"])
        if row["caller_recipe_id"] is None:
            continue
        caller = recipe_node(ws, row["caller_recipe_id"])
        if caller not in recipes:
            continue
        if not row["resolved"] or row["callee_recipe_id"] is None:
            unresolved[ws] += 1
            continue
        callee = recipe_node(ws, row["callee_recipe_id"])
        if callee in recipes:
            calls.append(
                _Call(
                    caller,
                    callee,
                    _text(row["via"]) or "call_recipe",
                    _text(row["detail"]),
                    _int(row["step_number"]),
                )
            )
    calls.sort(
        key=lambda c: (
            recipes[c.caller].workspace,
            recipes[c.caller].recipe_id,
            recipes[c.callee].recipe_id,
            c.via,
            c.step_number or 0,
        )
    )
    workspaces = sorted(
        {r.workspace for r in recipes.values()} | {c.workspace for c in connections.values()}
    )
    return _Model(recipes, connections, systems, calls, unresolved, workspaces)


def _steps_by_recipe(inp: AnalysisInput, model: _Model) -> dict[str, list[_Step]]:
    out: dict[str, list[_Step]] = defaultdict(list)
    recipe_nodes: dict[tuple[Any, Any], str | None] = {}
    connection_nodes: dict[tuple[Any, Any], str] = {}
    details = [c for c in (*STEP_DETAIL_COLUMNS, "access") if c in inp.steps.columns]
    for row in _rows(inp.steps, [*INPUT_COLUMNS["steps"], *details]):
        key = (row["workspace"], row["recipe_id"])
        node = recipe_nodes.get(key, "")
        if node == "":  # first step of this recipe: is it a current one?
            node = None if key[1] is None else recipe_node(str(key[0]), key[1])
            node = recipe_nodes[key] = node if node in model.recipes else None
        if node is None or row["number"] is None:
            continue
        conn = row["connection_id"]
        if conn is not None:
            conn_key = (row["workspace"], conn)
            conn = connection_nodes.get(conn_key)
            if conn is None:
                conn = connection_nodes[conn_key] = connection_node(str(conn_key[0]), conn_key[1])
        out[node].append(
            _Step(
                number=int(row["number"]),
                parent=_int(row["parent_number"]),
                depth=_int(row["depth"], 0) or 0,
                keyword=_text(row["keyword"]) or "",
                application=_text(row["application"]),
                action=_text(row["action_name"]),
                skipped=bool(row["skipped"]),
                protected=bool(row["protected"]),
                in_catch=bool(row["in_catch"]),
                connection=conn,
                reference_kind=_text(row["reference_kind"]),
                retries=_int(row.get("retry_count")),
                stop_error=_flag(row.get("stop_with_error")),
                access=_text(row.get("access")),
            )
        )
    for steps in out.values():
        steps.sort(key=lambda s: s.number)
    return out


def error_handling_details(code: Any) -> dict[int, dict[str, Any]]:
    """``step number -> {"retry_count", "stop_with_error"}`` for the ``catch`` and ``stop``
    blocks of a recipe's code (JSON text or decoded; reference §3.3: ``catch.input``
    ``max_retry_count``, ``stop.input`` ``stop_with_error``, both strings).

    Numbers follow the parser's: the block's ``number`` when it is an integer, else its
    pre-order index. Unreadable code gives ``{}`` (the parser reports it)."""
    import json

    if isinstance(code, (str, bytes, bytearray)):
        try:
            code = json.loads(code)
        except ValueError:
            return {}
    if not isinstance(code, Mapping):
        return {}
    found: dict[int, dict[str, Any]] = {}
    stack: list[Any] = [code]
    index = 0
    while stack:
        block = stack.pop()
        if not isinstance(block, Mapping):
            continue
        given = block.get("number")
        number = given if isinstance(given, int) and not isinstance(given, bool) else index
        index += 1
        keyword = block.get("keyword")
        inp = block.get("input") if isinstance(block.get("input"), Mapping) else {}
        if keyword == "catch":
            found[number] = {"retry_count": _int(inp.get("max_retry_count")),
                             "stop_with_error": None}  # fmt: skip
        elif keyword == "stop":
            found[number] = {"retry_count": None,
                             "stop_with_error": _flag(inp.get("stop_with_error"))}  # fmt: skip
        kids = block.get("block")
        if isinstance(kids, list):
            stack.extend(reversed(kids))
    return found


def add_step_details(steps: pd.DataFrame, recipes: pd.DataFrame) -> pd.DataFrame:
    """``steps`` with the :data:`STEP_DETAIL_COLUMNS` read from ``recipes``' code
    (columns ``workspace``, ``recipe_id`` and ``code``, e.g. ``workato_raw.recipes`` with
    ``id`` renamed); steps of recipes without code get nulls."""
    details: dict[tuple[str, int], dict[int, dict[str, Any]]] = {}
    for row in _rows(recipes, ("workspace", "recipe_id", "code")):
        if row["recipe_id"] is not None and row["code"] is not None:
            found = error_handling_details(row["code"])
            if found:
                details[(str(row["workspace"]), int(row["recipe_id"]))] = found
    retry: list[int | None] = []
    stop: list[bool | None] = []
    for ws, rid, number in zip(steps["workspace"], steps["recipe_id"], steps["number"]):
        detail = details.get((str(ws), int(rid)), {}).get(int(number), {})
        retry.append(detail.get("retry_count"))
        stop.append(detail.get("stop_with_error"))
    out = steps.copy()
    out["retry_count"] = pd.array(retry, dtype="Int64")
    out["stop_with_error"] = pd.array(stop, dtype="boolean")
    return out


# ---------------------------------------------------------------------- graphs


@dataclass
class Graphs:
    """The three graphs (see the module docstring) and how betweenness is computed."""

    calls: nx.DiGraph
    instances: nx.DiGraph
    systems: nx.DiGraph
    betweenness_exact_max_nodes: int = BETWEENNESS_EXACT_MAX_NODES
    betweenness_samples: int = BETWEENNESS_SAMPLES
    betweenness_seed: int = BETWEENNESS_SEED
    _model: _Model | None = field(default=None, repr=False, compare=False)
    _input: AnalysisInput | None = field(default=None, repr=False, compare=False)
    _metrics: dict[str, _Metrics] | None = field(default=None, repr=False, compare=False)
    _closure: _Closure | None = field(default=None, repr=False, compare=False)

    def by_name(self) -> dict[str, nx.DiGraph]:
        return {"calls": self.calls, "instances": self.instances, "systems": self.systems}


def build_graphs(
    inp: AnalysisInput,
    *,
    betweenness_exact_max_nodes: int = BETWEENNESS_EXACT_MAX_NODES,
    betweenness_samples: int = BETWEENNESS_SAMPLES,
    betweenness_seed: int = BETWEENNESS_SEED,
) -> Graphs:
    """The recipe call graph, the recipe <-> connection graph and the system flow graph."""
    model = _prepare(inp)
    calls = nx.DiGraph(name="calls")
    instances = nx.DiGraph(name="instances")
    systems = nx.DiGraph(name="systems")
    for recipe in model.recipes.values():
        attrs = {
            "type": "recipe",
            "workspace": recipe.workspace,
            "label": recipe.name,
            "key": recipe.recipe_id,
            "status": recipe.status,
            "trigger_application": recipe.trigger_application,
            "callable": recipe.callable,
        }
        calls.add_node(recipe.node, **attrs)
        instances.add_node(recipe.node, **attrs)
    for conn in model.connections.values():
        instances.add_node(
            conn.node,
            type="connection",
            workspace=conn.workspace,
            label=conn.name,
            key=conn.connection_id,
            application=conn.application,
            environment=conn.environment,
            status=conn.status,
            system=conn.system,
            current=conn.current,
        )
    for system in model.systems.values():
        systems.add_node(
            system.node,
            type="system",
            workspace=system.workspace,
            label=system.label,
            key=system.key,
            system_id=system.system_id,
            applications=sorted(
                {model.connections[c].application or "" for c in system.connections} - {""}
            ),
        )

    for call in model.calls:
        recipe_id = model.recipes[call.caller].recipe_id
        if calls.has_edge(call.caller, call.callee):
            data = calls.edges[call.caller, call.callee]
            data["via"].add(call.via)
            data["detail"].append(call.detail)
            data["step_numbers"].append(call.step_number)
        else:
            calls.add_edge(
                call.caller,
                call.callee,
                via={call.via},
                detail=[call.detail],
                step_numbers=[call.step_number],
                recipe_ids=[recipe_id],
            )
    for _, _, data in calls.edges(data=True):
        data["kind"] = "pub_sub" if data["via"] == {"pub_sub"} else "calls"
        data["via"] = sorted(data["via"])

    flows: dict[tuple[str, str], set[int]] = defaultdict(set)
    for recipe in model.recipes.values():
        for cnode, role in sorted(recipe.uses.items()):
            if role in ("source", "both"):
                instances.add_edge(cnode, recipe.node, kind="reads", recipe_ids=[recipe.recipe_id])
            if role in ("target", "both"):
                instances.add_edge(recipe.node, cnode, kind="writes", recipe_ids=[recipe.recipe_id])
        for source in recipe.sources():
            for target in recipe.targets():
                if source != target:
                    pair = (model.connections[source].system, model.connections[target].system)
                    flows[pair].add(recipe.recipe_id)
    for (source, target), recipe_ids in sorted(flows.items()):
        ids = sorted(recipe_ids)
        systems.add_edge(source, target, kind="flows_to", recipe_ids=ids, recipe_count=len(ids))
    return Graphs(
        calls,
        instances,
        systems,
        betweenness_exact_max_nodes,
        betweenness_samples,
        betweenness_seed,
        _model=model,
        _input=inp,
    )


def _model_for(inp: AnalysisInput, graphs: Graphs) -> _Model:
    if graphs._model is not None and graphs._input is inp:
        return graphs._model
    return _prepare(inp)


@dataclass
class _Metrics:
    betweenness: dict[str, float]
    pagerank: dict[str, float]
    component: dict[str, int]
    articulation: set[str]


def pagerank(graph: nx.DiGraph, alpha: float = 0.85, tol: float = 1e-10) -> dict[str, float]:
    """PageRank by numpy power iteration (networkx's own needs scipy); unweighted, dangling
    nodes spread evenly, as :func:`networkx.pagerank` does."""
    nodes = list(graph)
    n = len(nodes)
    if n == 0:
        return {}
    index = {node: i for i, node in enumerate(nodes)}
    m = graph.number_of_edges()
    src = np.fromiter((index[u] for u, _ in graph.edges()), dtype=np.int64, count=m)
    dst = np.fromiter((index[v] for _, v in graph.edges()), dtype=np.int64, count=m)
    out_degree = np.bincount(src, minlength=n).astype(float)
    dangling = out_degree == 0
    weights = np.zeros(m) if m == 0 else 1.0 / out_degree[src]
    x = np.full(n, 1.0 / n)
    for _ in range(1000):
        previous = x
        spread = np.bincount(dst, weights=previous[src] * weights, minlength=n)
        x = alpha * (spread + previous[dangling].sum() / n) + (1 - alpha) / n
        if np.abs(x - previous).sum() < n * tol:
            break
    x = x / x.sum()
    return {node: float(value) for node, value in zip(nodes, x)}


def _brandes(successors: list[list[int]], sources: Iterable[int], n: int) -> list[float]:
    """Unnormalised betweenness (Brandes 2001) accumulated from ``sources`` only.

    The same sums as :func:`networkx.betweenness_centrality` (directed, unweighted), over
    integer adjacency lists and dicts that hold only the nodes a source reaches: about four
    times faster than networkx's, which matters on the sampled 50,000-edge graphs.
    """
    result = [0.0] * n
    for source in sources:
        order: list[int] = []
        preds: dict[int, list[int]] = {source: []}
        sigma: dict[int, int] = {source: 1}
        dist: dict[int, int] = {source: 0}
        queue = deque([source])
        while queue:
            v = queue.popleft()
            order.append(v)
            next_dist, paths = dist[v] + 1, sigma[v]
            for w in successors[v]:
                seen = dist.get(w)
                if seen is None:
                    dist[w] = next_dist
                    sigma[w] = paths
                    preds[w] = [v]
                    queue.append(w)
                elif seen == next_dist:
                    sigma[w] += paths
                    preds[w].append(v)
        delta = dict.fromkeys(order, 0.0)
        for w in reversed(order):
            share = (1.0 + delta[w]) / sigma[w]
            for v in preds[w]:
                delta[v] += sigma[v] * share
            if w != source:
                result[w] += delta[w]
    return result


def _betweenness(graph: nx.DiGraph, exact_max: int, samples: int, seed: int) -> dict[str, float]:
    """Normalised directed betweenness; sampled sources above ``exact_max`` linked nodes."""
    n = graph.number_of_nodes()
    result = dict.fromkeys(graph, 0.0)
    if n < 3:
        return result
    # Isolated nodes (a self-loop does not count) lie on no path and start none.
    active = sorted(v for v in graph if any(w != v for w in nx.all_neighbors(graph, v)))
    if len(active) < 3:
        return result
    index = {node: i for i, node in enumerate(active)}
    successors = [[index[w] for w in graph.successors(v) if w != v] for v in active]
    if len(active) <= exact_max:
        sources: Iterable[int] = range(len(active))
        scale = 1.0
    else:
        k = min(samples, len(active))
        sources = random.Random(seed).sample(range(len(active)), k)
        scale = len(active) / k
    raw = _brandes(successors, sources, len(active))
    norm = scale / ((n - 1) * (n - 2))
    for node, value in zip(active, raw):
        result[node] = value * norm
    return result


def _components(graph: nx.DiGraph) -> dict[str, int]:
    parts = sorted((sorted(c) for c in nx.weakly_connected_components(graph)), key=lambda c: c[0])
    return {node: i for i, part in enumerate(parts) for node in part}


def _metrics(graphs: Graphs) -> dict[str, _Metrics]:
    if graphs._metrics is None:
        graphs._metrics = {
            name: _Metrics(
                betweenness=_betweenness(
                    graph,
                    graphs.betweenness_exact_max_nodes,
                    graphs.betweenness_samples,
                    graphs.betweenness_seed,
                ),
                pagerank=pagerank(graph),
                component=_components(graph),
                articulation=set(nx.articulation_points(graph.to_undirected(as_view=True))),
            )
            for name, graph in graphs.by_name().items()
        }
    return graphs._metrics


NODE_COLUMNS = (
    "graph", "id", "workspace", "type", "label", "degree", "in_degree", "out_degree",
    "betweenness", "pagerank", "component",
)  # fmt: skip
EDGE_COLUMNS = ("graph", "source", "target", "workspace", "kind", "recipe_ids", "recipe_count")


def graph_tables(graphs: Graphs) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows for ``archy.graph_nodes`` and ``archy.graph_edges``, one per graph and node/edge.

    A recipe is a node of both ``calls`` and ``instances``, so both tables carry a ``graph``
    column (``calls``, ``instances`` or ``systems``); metrics are per graph.
    """
    metrics = _metrics(graphs)
    node_rows: list[tuple] = []
    edge_rows: list[tuple] = []
    for name, graph in graphs.by_name().items():
        m = metrics[name]
        for node, data in sorted(graph.nodes(data=True)):
            node_rows.append(
                (
                    name, node, data["workspace"], data["type"], data["label"],
                    graph.degree(node), graph.in_degree(node), graph.out_degree(node),
                    m.betweenness[node], m.pagerank[node], m.component[node],
                )
            )  # fmt: skip
        for source, target, data in sorted(graph.edges(data=True), key=lambda e: (e[0], e[1])):
            ids = sorted(data.get("recipe_ids", ()))
            edge_rows.append(
                (
                    name, source, target, graph.nodes[source]["workspace"], data["kind"],
                    ",".join(str(i) for i in ids), len(ids),
                )
            )  # fmt: skip
    nodes = pd.DataFrame(node_rows, columns=list(NODE_COLUMNS))
    edges = pd.DataFrame(edge_rows, columns=list(EDGE_COLUMNS))
    return nodes, edges


# ---------------------------------------------------------------------- thresholds


@dataclass(frozen=True)
class Thresholds:
    """Knobs of :func:`find_insights`; archy.yaml's ``analysis:`` section overrides them."""

    #: A running recipe with no job for this many days is inactive.
    inactive_days: int = 30
    #: A recipe a user stopped is reported after this many days (Workato-stopped: at once).
    stopped_days: int = 90
    #: Share of failed jobs from which a recipe is failing...
    failure_ratio: float = 0.2
    #: ...once it has run at least this many jobs...
    failure_min_jobs: int = 20
    #: ...and from which it is high severity.
    failure_high_ratio: float = 0.5
    #: Systems (and connections) reported per workspace as most coupled...
    coupling_top_n: int = 10
    #: ...when at least this many recipes use them...
    coupling_min_recipes: int = 10
    #: ...high severity from this share of the workspace's recipes.
    coupling_high_share: float = 0.25
    #: A bottleneck needs at least this many dependent recipes...
    bottleneck_min_dependents: int = 10
    #: ...and to be an articulation point or have at least this normalised betweenness.
    bottleneck_min_betweenness: float = 0.05
    #: Complexity is reported from this percentile of the workspace...
    complexity_percentile: float = 95.0
    #: ...and this score (see the module docstring for the formula).
    complexity_min_score: float = 60.0
    #: Near-duplicate recipes: difflib ratio of their step sequences...
    similarity_threshold: float = 0.9
    #: ...both sequences at least this long.
    similarity_min_steps: int = 5
    #: Lifetime tasks from which a recipe is worth a performance look.
    task_count_high: int = 1_000_000
    #: From this many recipes of one folder with findings of one kind and rule, they roll up
    #: into one finding about the folder, members in its evidence (0: never roll up).
    rollup_min_recipes: int = 5


_RATIOS = {"failure_ratio", "failure_high_ratio", "coupling_high_share"}
_BETWEEN_0_1 = _RATIOS | {"bottleneck_min_betweenness", "similarity_threshold"}


def parse_thresholds(data: Mapping[str, Any] | None, source: str = "archy.yaml") -> Thresholds:
    """Validate the ``analysis:`` section of archy.yaml (pass the section, not the file).

    Every key is a :class:`Thresholds` field; unknown keys and values of the wrong type or
    range raise :class:`~archy_pipeline.config.ConfigError` naming the key and what it allows.
    """
    if data is None:
        return Thresholds()
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: analysis must be a mapping of thresholds (key: value)")
    defaults = Thresholds()
    allowed = {f.name: f for f in fields(Thresholds)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in allowed:
            raise ConfigError(
                f"{source}: analysis.{key} is not a setting; allowed: {', '.join(allowed)}"
            )
        default = getattr(defaults, key)
        where = f"{source}: analysis.{key}"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            kind = "an integer" if isinstance(default, int) else "a number"
            raise ConfigError(f"{where} must be {kind}, not {value!r}")
        if isinstance(default, int) and not float(value).is_integer():
            raise ConfigError(f"{where} must be an integer, not {value!r}")
        if key in _BETWEEN_0_1 and not 0 <= value <= 1:
            raise ConfigError(f"{where} must be from 0 to 1, not {value!r}")
        if key == "complexity_percentile" and not 0 <= value <= 100:
            raise ConfigError(f"{where} must be from 0 to 100, not {value!r}")
        minimum = 1 if key in {"coupling_top_n", "similarity_min_steps"} else 0
        if value < minimum:
            raise ConfigError(f"{where} must be at least {minimum}, not {value!r}")
        values[key] = int(value) if isinstance(default, int) else float(value)
    return Thresholds(**values)


# ---------------------------------------------------------------------- insights


@dataclass(frozen=True)
class Insight:
    """One finding: what, how bad, about which recipes/connections/systems, and the proof."""

    insight_id: str
    kind: str
    category: str
    severity: str
    title: str
    detail: str
    recommendation: str
    subjects: list[dict[str, str]]
    evidence: dict[str, Any]
    workspace: str = ""
    #: Current recipes affected: the recipe subjects (members of a roll-up); the recipes a
    #: finding lists (a sync loop's both ways, a bottleneck's dependents, counted in full);
    #: else the recipes using a connection or system subject.
    affected_recipes: int = 0
    #: Failed jobs of the affected recipes (Workato's lifetime ``job_failed_count``).
    failed_jobs: int = 0
    #: Whether a production connection is involved (a subject, or used by an affected recipe).
    production: bool = False


def insight_id(kind: str, rule: str, subject_ids: Iterable[str]) -> str:
    """12 hex digits of sha1("<kind>/<rule>|" + sorted subject ids joined with "|")."""
    text = f"{kind}/{rule}|" + "|".join(sorted(set(subject_ids)))
    return hashlib.sha1(text.encode()).hexdigest()[:12]


INSIGHT_COLUMNS = (
    "insight_id", "workspace", "kind", "category", "severity", "title", "detail",
    "recommendation", "subjects", "evidence", "affected_recipes", "failed_jobs", "production",
)  # fmt: skip


def insights_table(insights: Iterable[Insight]) -> pd.DataFrame:
    """Rows for an insights table: subjects and evidence as JSON text."""
    import json

    return pd.DataFrame(
        [
            (
                i.insight_id, i.workspace, i.kind, i.category, i.severity, i.title, i.detail,
                i.recommendation, json.dumps(i.subjects), json.dumps(i.evidence, sort_keys=True),
                i.affected_recipes, i.failed_jobs, i.production,
            )
            for i in insights
        ],
        columns=list(INSIGHT_COLUMNS),
    )  # fmt: skip


class _Collector:
    def __init__(self, model: _Model) -> None:
        self.model = model
        self.items: list[Insight] = []

    def subject(self, node: str) -> dict[str, str]:
        m = self.model
        if node in m.recipes:
            return {"id": node, "type": "recipe", "name": m.recipes[node].name}
        if node in m.connections:
            return {"id": node, "type": "connection", "name": m.connections[node].name}
        if node in m.systems:
            return {"id": node, "type": "system", "name": m.systems[node].label}
        return {"id": node, "type": node.split(":", 1)[0], "name": node}

    def name(self, node: str) -> str:
        return self.subject(node)["name"]

    def add(
        self,
        kind: str,
        rule: str,
        severity: str,
        workspace: str,
        subjects: list[str],
        title: str,
        detail: str,
        recommendation: str,
        evidence: dict[str, Any],
    ) -> None:
        self.items.append(
            Insight(
                insight_id=insight_id(kind, rule, subjects),
                kind=kind,
                category=KINDS[kind],
                severity=severity,
                title=title,
                detail=detail,
                recommendation=recommendation,
                subjects=[self.subject(s) for s in subjects],
                evidence={"rule": rule, **evidence},
                workspace=workspace,
            )
        )


def _now(now: datetime | None) -> pd.Timestamp:
    stamp = pd.Timestamp(now or datetime.now(timezone.utc))
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp


def _days(now: pd.Timestamp, then: pd.Timestamp | None) -> int | None:
    return None if then is None else int((now - then).total_seconds() // 86400)


def _iso(stamp: pd.Timestamp | None) -> str | None:
    return None if stamp is None else stamp.isoformat()


def find_insights(
    inp: AnalysisInput,
    graphs: Graphs,
    thresholds: Thresholds | None = None,
    now: datetime | None = None,
) -> list[Insight]:
    """Every insight of every kind (see the module docstring), in fix-first order.

    ``now`` (default: the current time, UTC) is what ages are measured against; naive
    datetimes are taken as UTC.
    """
    th = thresholds or Thresholds()
    model = _model_for(inp, graphs)
    steps = _steps_by_recipe(inp, model)
    out = _Collector(model)
    moment = _now(now)
    _circular_dependencies(model, graphs, out)
    _system_loops(model, out)
    _connection_hygiene(model, out)
    _inactive_recipes(model, graphs, th, moment, out)
    _error_handling(model, steps, out)
    _failing_recipes(model, th, out)
    _coupling(model, graphs, th, out)
    _bottlenecks(model, graphs, th, out)
    complexity = _complexity(model, steps)
    _high_complexity(complexity, th, out)
    _consolidation(model, steps, th, out)
    _performance(model, steps, th, out)
    items = [_with_impact(model, i) for i in _roll_up(model, out.items, th)]
    return sorted(items, key=priority_key)


def priority_key(insight: Insight) -> tuple:
    """What to fix first (``archy.v_recommendations`` orders the same way): severity; then a
    production connection involved; then more affected recipes; then more failed jobs; then
    kind (the order of :data:`KINDS`), workspace, title and id, so the order is total."""
    return (
        SEVERITY_ORDER[insight.severity],
        not insight.production,
        -insight.affected_recipes,
        -insight.failed_jobs,
        KIND_ORDER[insight.kind],
        insight.workspace,
        insight.title,
        insight.insight_id,
    )


PRODUCTION_ENVIRONMENTS = frozenset({"production"})
#: Evidence lists of recipe node ids that say which recipes a finding concerns; without them,
#: a connection or system subject concerns every recipe using it.
IMPACT_RECIPE_LISTS = ("recipes_one_way", "recipes_other_way", "dependent_recipes")
SEVERITY_ORDER = {s: i for i, s in enumerate(SEVERITIES)}
KIND_ORDER = {k: i for i, k in enumerate(KINDS)}


def _with_impact(model: _Model, insight: Insight) -> Insight:
    """The insight with ``affected_recipes``, ``failed_jobs`` and ``production`` filled in."""
    recipes: set[str] = set()
    connections: set[str] = set()
    for subject in insight.subjects:
        node = subject["id"]
        if node in model.recipes:
            recipes.add(node)
        elif node in model.connections:
            connections.add(node)
        elif node in model.systems:
            connections.update(model.systems[node].connections)
    listed = [
        node
        for key in IMPACT_RECIPE_LISTS
        if isinstance(insight.evidence.get(key), list)
        for node in insight.evidence[key]
    ]
    if listed:  # the finding names the recipes concerned (a loop's, a bottleneck's dependents)
        recipes.update(node for node in listed if node in model.recipes)
    elif connections:
        recipes.update(r.node for r in model.recipes.values() if connections & r.uses.keys())
    count = max(len(recipes), _int(insight.evidence.get("dependents"), 0) or 0)
    used = set(connections)
    for node in recipes:
        used.update(model.recipes[node].uses)
    production = any(
        model.connections[c].environment in PRODUCTION_ENVIRONMENTS
        for c in used
        if c in model.connections
    )
    failed = sum(model.recipes[node].failed for node in recipes)
    return replace(insight, affected_recipes=count, failed_jobs=failed, production=production)


def folder_node(workspace: str, folder_path: str | None) -> str:
    return f"folder:{workspace}:{folder_path or ''}"


def _roll_up(model: _Model, items: list[Insight], th: Thresholds) -> list[Insight]:
    """Findings of one kind and rule about single recipes of one folder, at least
    ``rollup_min_recipes`` of them, become one finding about the folder."""
    if th.rollup_min_recipes <= 0:
        return items
    groups: dict[tuple[str, str, str, str], list[Insight]] = defaultdict(list)
    kept: list[Insight] = []
    for item in items:
        ids = [subject["id"] for subject in item.subjects]
        if item.kind in ROLLUP_KINDS and len(ids) == 1 and ids[0] in model.recipes:
            folder = model.recipes[ids[0]].folder_path or ""
            groups[(item.workspace, item.kind, item.evidence["rule"], folder)].append(item)
        else:
            kept.append(item)
    for (workspace, kind, rule, folder), members in groups.items():
        if len(members) < th.rollup_min_recipes:
            kept.extend(members)
            continue
        members = sorted(members, key=lambda i: (SEVERITY_ORDER[i.severity], i.title))
        node = folder_node(workspace, folder)
        where = folder or "the workspace root"
        label = ROLLUP_LABELS.get((kind, rule), f"{kind.replace('_', ' ')} ({rule})")
        names = [m.subjects[0]["name"] for m in members]
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        counts = Counter(m.severity for m in members)
        kept.append(
            Insight(
                insight_id=insight_id(kind, f"{rule}/folder", [node]),
                kind=kind,
                category=KINDS[kind],
                severity=members[0].severity,
                title=f"{len(members)} {label} in {where}",
                detail=f"{len(members)} recipes in {where} share this finding "
                f"({', '.join(f'{counts[s]} {s}' for s in SEVERITIES if counts[s])}): "
                f"{shown}. Each member's own finding is in the evidence.",
                recommendation=members[0].recommendation,
                subjects=[{"id": node, "type": "folder", "name": where}]
                + [m.subjects[0] for m in members],
                evidence={
                    "rule": rule,
                    "rolled_up": True,
                    "folder_path": folder,
                    "member_count": len(members),
                    "members": [
                        {
                            "id": m.subjects[0]["id"],
                            "name": m.subjects[0]["name"],
                            "insight_id": m.insight_id,
                            "severity": m.severity,
                            "title": m.title,
                            **{k: v for k, v in m.evidence.items() if k != "rule"},
                        }
                        for m in members
                    ],
                },
                workspace=workspace,
            )
        )
    return kept


# -- circular_dependency


def _cycle_through(graph: nx.DiGraph, start: str) -> list[str]:
    """A shortest simple cycle through ``start`` (breadth-first: O(V+E))."""
    if graph.has_edge(start, start):
        return [start]
    parents: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for succ in sorted(graph.successors(node)):
            if succ == start:
                path = [node]
                while parents[path[-1]] is not None:
                    path.append(parents[path[-1]])  # type: ignore[arg-type]
                return path[::-1]
            if succ not in parents:
                parents[succ] = node
                queue.append(succ)
    return [start]


def _circular_dependencies(model: _Model, graphs: Graphs, out: _Collector) -> None:
    graph = graphs.calls
    for component in nx.strongly_connected_components(graph):
        members = sorted(component)
        start = members[0]
        if len(members) == 1 and not graph.has_edge(start, start):
            continue
        sub = graph.subgraph(members)
        cycle = _cycle_through(sub, start)
        vias = sorted({v for _, _, d in sub.edges(data=True) for v in d["via"]})
        severity = "high" if SYNC_CALLS & set(vias) else "medium"
        names = [out.name(n) for n in cycle]
        loop = " -> ".join([*names, names[0]])
        ws = model.recipes[start].workspace
        size = len(members)
        what = "The recipe calls itself" if size == 1 else f"{size} recipes call each other"
        out.add(
            "circular_dependency",
            "call_cycle",
            severity,
            ws,
            members,
            f"Circular calls: {names[0]}" + ("" if size == 1 else f" and {size - 1} more"),
            f"{what} ({', '.join(vias)}), e.g. {loop}. A job can call back into a recipe "
            "that is still running, recurse without end and exhaust the workspace's jobs.",
            "Break the cycle: move the shared logic into a recipe function that calls no one, "
            "or guard the call with a condition that cannot hold on the way back.",
            {
                "size": size,
                "cycle": cycle,
                "cycle_names": names,
                "members": members,
                "via": vias,
                "edges": sub.number_of_edges(),
            },
        )


def _system_loops(model: _Model, out: _Collector) -> None:
    # Only event-driven flows can ping-pong: a recipe triggered by a change in A that writes B,
    # and one triggered by a change in B that writes A. A lookup starts nothing, and a message
    # or alert posted to a channel (NOTIFY_APPLICATIONS) is not a record copied back.
    flows: dict[tuple[str, str], list[str]] = defaultdict(list)
    for recipe in model.recipes.values():
        for source in recipe.trigger_sources():
            for target in recipe.targets():
                if model.connections[target].application in NOTIFY_APPLICATIONS:
                    continue
                if source != target:
                    flows[(source, target)].append(recipe.node)
    by_systems: dict[tuple[str, ...], list[tuple[str, str]]] = defaultdict(list)
    for a, b in flows:
        if a < b and (b, a) in flows:
            key = tuple(sorted({model.connections[a].system, model.connections[b].system}))
            by_systems[key].append((a, b))
    for key, pairs in sorted(by_systems.items()):
        pairs.sort()
        forward = sorted({r for a, b in pairs for r in flows[(a, b)]})
        backward = sorted({r for a, b in pairs for r in flows[(b, a)]})
        both_active = any(model.recipes[r].active for r in forward) and any(
            model.recipes[r].active for r in backward
        )
        ws = model.systems[key[0]].workspace
        names = [out.name(s) for s in key]
        between = names[0] if len(names) == 1 else f"{names[0]} and {names[1]}"
        out.add(
            "circular_dependency",
            "system_loop",
            "high" if both_active else "medium",
            ws,
            list(key),
            f"Sync loop between {between}",
            f"Recipes triggered by changes in one write to the other, and others triggered "
            f"there write back ({len(forward)} one way, {len(backward)} the other). When they "
            "handle the same object, each write triggers the other recipe again: Workato's "
            "infinite loop.",
            "Check whether both directions sync the same object. If so, filter the trigger "
            "(e.g. skip records last changed by the integration user) or keep one direction.",
            {
                "connection_pairs": [
                    {
                        "a": a,
                        "b": b,
                        "a_name": out.name(a),
                        "b_name": out.name(b),
                        "recipes_a_to_b": sorted(flows[(a, b)]),
                        "recipes_b_to_a": sorted(flows[(b, a)]),
                    }
                    for a, b in pairs
                ],
                "recipes_one_way": forward,
                "recipes_other_way": backward,
                "both_directions_active": both_active,
            },
        )


# -- connections


def _connection_hygiene(model: _Model, out: _Collector) -> None:
    users = Counter(c for r in model.recipes.values() for c in r.uses)
    groups: dict[tuple[str, str, str], list[_Connection]] = defaultdict(list)
    for conn in model.connections.values():
        if not conn.current:
            continue
        if not users[conn.node] and not conn.recipe_count:
            active = conn.status == "active"
            out.add(
                "unused_connection",
                "unused",
                "medium" if active else "low",
                conn.workspace,
                [conn.node],
                f"Unused connection: {conn.name}",
                f"No current recipe uses this {conn.application or 'unknown'} connection "
                f"({conn.environment}, {conn.status or 'unknown status'}).",
                "Delete it, or document why it is kept"
                + (": its credentials stay live while nothing needs them." if active else "."),
                {
                    "application": conn.application,
                    "environment": conn.environment,
                    "status": conn.status,
                    "folder_path": conn.folder_path,
                    "recipe_count": conn.recipe_count or 0,
                },
            )
        if conn.application:
            groups[(conn.workspace, conn.application, conn.environment)].append(conn)
    for (ws, application, environment), conns in sorted(groups.items()):
        if len(conns) < 2:
            continue
        nodes = [c.node for c in conns]
        out.add(
            "duplicate_connection",
            "same_application_environment",
            "low" if environment == "unknown" else "medium",
            ws,
            nodes,
            f"{len(conns)} {application} connections in {environment}",
            f"{', '.join(repr(c.name) for c in conns)} all connect to {application} in "
            f"{environment}"
            + (" (their names do not say which environment)" if environment == "unknown" else "")
            + ". Unless they reach different accounts, each extra one is another credential to "
            "rotate and another place for recipes to drift apart.",
            "Move recipes to one connection per account and environment, then delete the rest.",
            {
                "application": application,
                "environment": environment,
                "connections": [
                    {
                        "id": c.node,
                        "name": c.name,
                        "status": c.status,
                        "recipe_count": users[c.node],
                    }
                    for c in conns
                ],
            },
        )


# -- inactive_recipe


def _inactive_recipes(
    model: _Model, graphs: Graphs, th: Thresholds, now: pd.Timestamp, out: _Collector
) -> None:
    called = {callee for _, callee in graphs.calls.edges()}
    for recipe in model.recipes.values():
        days = _days(now, recipe.updated_at)
        base = {
            "status": recipe.status,
            "stop_cause": recipe.stop_cause,
            "updated_at": _iso(recipe.updated_at),
            "last_run_at": _iso(recipe.last_run_at),
        }
        if not recipe.active:
            by_workato = recipe.stop_cause is not None
            if by_workato or (days is not None and days >= th.stopped_days):
                since = f" for {days} days" if days is not None else ""
                why = f"Workato stopped it ({recipe.stop_cause})" if by_workato else "stopped"
                out.add(
                    "inactive_recipe",
                    "stopped",
                    "high" if by_workato else "low",
                    recipe.workspace,
                    [recipe.node],
                    f"Stopped recipe: {recipe.name}",
                    f"{why}{since}."
                    + (" Its trigger events pile up until it restarts." if by_workato else ""),
                    "Fix the cause and restart it."
                    if by_workato
                    else "Delete or archive it if nobody needs it any more.",
                    {**base, "days_stopped": days},
                )
        else:
            last = _days(now, recipe.last_run_at)
            stale = (last is not None and last > th.inactive_days) or (
                last is None and days is not None and days > th.inactive_days
            )
            if stale:
                when = f"its last job was {last} days ago" if last is not None else "never ran"
                out.add(
                    "inactive_recipe",
                    "no_recent_jobs",
                    "low",
                    recipe.workspace,
                    [recipe.node],
                    f"Running but idle: {recipe.name}",
                    f"The recipe is running, but {when} (threshold {th.inactive_days} days).",
                    "Check that its trigger still fires; stop it if the flow is no longer used.",
                    {**base, "days_since_last_job": last, "days_since_update": days},
                )
        if recipe.callable and recipe.node not in called:
            dynamic = model.unresolved_calls[recipe.workspace]
            out.add(
                "inactive_recipe",
                "uncalled_callable",
                "low" if dynamic else "medium",
                recipe.workspace,
                [recipe.node],
                f"Callable recipe nobody calls: {recipe.name}",
                f"Its trigger is {recipe.trigger_application}, but no recipe calls it"
                + (
                    f" (the workspace has {dynamic} dynamic calls whose callee is unknown)."
                    if dynamic
                    else "."
                ),
                "Delete it if it is not called from outside the workspace (API or another "
                "workspace).",
                {**base, "trigger_application": recipe.trigger_application,
                 "unresolved_calls_in_workspace": dynamic},
            )  # fmt: skip


# -- missing_error_handling


def _descendants(children: Mapping[int | None, list[_Step]], root: int) -> list[_Step]:
    found: list[_Step] = []
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), ()):
            found.append(child)
            stack.append(child.number)
    return found


def _reads(step: _Step) -> bool:
    """The step only reads (the vocabulary's verdict, as the sync recorded it or by name)."""
    access = step.access
    if access is None:
        access = classify_step(
            step.keyword, step.application, step.action, has_connection=True
        ).access
    return access == "read"


def _reports(step: _Step) -> bool:
    """The step makes a failure known: stops with an error, answers the caller, hands it to
    another recipe, logs or notifies, or writes it to a data table or lookup table."""
    if step.skipped:
        return False
    if step.keyword == "stop":
        return step.stop_error is not False
    if step.keyword != "action":
        return False
    if (step.application, step.action) in RETURN_ACTIONS:
        return True
    if step.reference_kind in CALL_REFERENCE_KINDS:
        return True
    return step.application in HANDLER_APPLICATIONS and not _reads(step)


def _handles(step: _Step) -> bool:
    """A step inside a catch that handles the error by itself: :func:`_reports`, or any other
    write on a connection (recording the failure in a data store, compensating)."""
    if _reports(step):
        return True
    return (
        not step.skipped
        and step.keyword == "action"
        and step.connection is not None
        and step.application not in VARIABLE_APPLICATIONS
        and not _reads(step)
    )


def _collects(step: _Step) -> bool:
    """Keeps the error for later: writes a variable or list."""
    return (
        not step.skipped
        and step.keyword == "action"
        and step.application in VARIABLE_APPLICATIONS
        and not _reads(step)
    )


def _conditional(step: _Step, by_number: Mapping[int, _Step], after: int) -> bool:
    """A stop with an error, or a step inside an if/elsif/else that comes after ``after``."""
    if step.keyword == "stop":
        return True
    parent = step.parent
    while parent is not None and parent in by_number and parent > after:
        if by_number[parent].keyword in BRANCH_KEYWORDS:
            return True
        parent = by_number[parent].parent
    return False


def _error_handling(model: _Model, steps: dict[str, list[_Step]], out: _Collector) -> None:
    """One ``missing_error_handling`` finding per recipe (rule ``unhandled_errors``)."""
    for node, recipe_steps in steps.items():
        recipe = model.recipes[node]
        unprotected = [
            s
            for s in recipe_steps
            if s.keyword == "action"
            and s.number != 0
            and s.connection is not None
            and not s.skipped
            and not s.protected
            and not s.in_catch
            and not (s.application in NOTIFY_APPLICATIONS and not _reads(s))
        ]
        children: dict[int | None, list[_Step]] = defaultdict(list)
        by_number = {s.number: s for s in recipe_steps}
        for step in recipe_steps:
            if step.parent != step.number:
                children[step.parent].append(step)
        swallowing: list[int] = []
        for catch in recipe_steps:
            if catch.keyword != "catch" or catch.skipped:
                continue
            if catch.retries:
                continue  # Workato retries the try block: a retry is handling
            inside = [d for d in _descendants(children, catch.number) if not d.skipped]
            if any(_handles(d) for d in inside):
                continue
            if any(_collects(d) for d in inside):
                # collected in a variable or list: handled when a step after the try block
                # (outside any catch) reports under a condition (an if after the loop), or
                # stops with an error. Which variable the condition reads is not followed.
                try_block = by_number.get(catch.parent) if catch.parent is not None else None
                root = try_block.number if try_block is not None else catch.number
                last = max([root, *(d.number for d in _descendants(children, root))])
                if any(
                    _reports(s) and not s.in_catch and _conditional(s, by_number, last)
                    for s in recipe_steps
                    if s.number > last
                ):
                    continue
            swallowing.append(catch.number)
        if not unprotected and not swallowing:
            continue
        tries = sum(1 for s in recipe_steps if s.keyword == "try" and not s.skipped)
        severity = "low"
        if recipe.active:
            severity = "high" if unprotected and recipe.failed > 0 else "medium"
        apps = sorted({s.application or "?" for s in unprotected})
        numbers = [s.number for s in unprotected]
        parts = []
        if unprotected:
            parts.append(
                f"{len(numbers)} step(s) calling {', '.join(apps)} run outside any try block "
                f"(steps {', '.join(map(str, numbers))}): a failure there fails the job with "
                "nothing logged, retried or reported."
            )
        if swallowing:
            parts.append(
                f"Catch block(s) at step(s) {', '.join(map(str, swallowing))} neither retry, "
                "stop with an error, answer the caller, log, notify, record the error, nor "
                "hand it to another recipe: failures vanish and the job reports success."
            )
        recommendation = []
        if unprotected:
            recommendation.append(
                "Wrap the external calls in a try/catch block that retries, logs or notifies, "
                "and stops with an error or returns one."
            )
        if swallowing:
            recommendation.append(
                "In each catch, retry, log or notify, and end with 'Stop job' (with error) or "
                "return the error to the caller."
            )
        out.add(
            "missing_error_handling",
            "unhandled_errors",
            severity,
            recipe.workspace,
            [node],
            (f"No error handling: {recipe.name}" if not tries
             else f"Errors not handled: {recipe.name}"),
            " ".join(parts),
            " ".join(recommendation),
            {
                "step_numbers": numbers,
                "applications": apps,
                "connections": sorted({s.connection for s in unprotected if s.connection}),
                "catch_steps": swallowing,
                "try_blocks": tries,
                "status": recipe.status,
                "job_failed_count": recipe.failed,
            },
        )  # fmt: skip


# -- failing_recipe


def _failing_recipes(model: _Model, th: Thresholds, out: _Collector) -> None:
    for recipe in model.recipes.values():
        total = recipe.succeeded + recipe.failed
        if total < max(th.failure_min_jobs, 1):
            continue
        ratio = recipe.failed / total
        if ratio < th.failure_ratio:
            continue
        out.add(
            "failing_recipe",
            "failure_ratio",
            "high" if ratio >= th.failure_high_ratio else "medium",
            recipe.workspace,
            [recipe.node],
            f"Failing recipe: {recipe.name} ({ratio:.0%} of jobs fail)",
            f"{recipe.failed} of {total} jobs failed ({ratio:.1%}; threshold "
            f"{th.failure_ratio:.0%} from {th.failure_min_jobs} jobs).",
            "Open the failed jobs in Workato, fix the most common error, and add error "
            "handling for the rest.",
            {
                "job_failed_count": recipe.failed,
                "job_succeeded_count": recipe.succeeded,
                "failure_ratio": round(ratio, 4),
                "status": recipe.status,
            },
        )


# -- high_coupling and bottleneck


def _callers(graph: nx.DiGraph, recipes: Iterable[str]) -> dict[str, str]:
    """Recipes broken through calls when ``recipes`` break: caller -> the callee breaking it."""
    broken = set(recipes)
    found: dict[str, str] = {}
    queue = deque(sorted(broken))
    while queue:
        node = queue.popleft()
        for caller in sorted(graph.predecessors(node)):
            if caller in broken:
                continue
            if not BREAKING_CALLS & set(graph.edges[caller, node]["via"]):
                continue
            broken.add(caller)
            found[caller] = node
            queue.append(caller)
    return found


@dataclass
class _Closure:
    """For every recipe, the recipes that break when it breaks (itself and its transitive
    callers over breaking calls) as a bitset over ``nodes`` (sorted recipe ids)."""

    nodes: list[str]
    index: dict[str, int]
    bits: dict[str, int]

    def union(self, recipes: Iterable[str]) -> int:
        value = 0
        for recipe in recipes:
            value |= self.bits[recipe]
        return value

    def decode(self, value: int, limit: int | None = None) -> list[str]:
        """The recipes in ``value``, smallest ids first, at most ``limit`` of them."""
        found: list[str] = []
        while value and (limit is None or len(found) < limit):
            low = value & -value
            found.append(self.nodes[low.bit_length() - 1])
            value ^= low
        return found


def _closure(graphs: Graphs) -> _Closure:
    """Dependents of every recipe at once: one pass over the condensation of the breaking
    calls in topological order (callers first), OR-ing bitsets; O(E·V/64) word operations,
    where a breadth-first search per candidate would cost O(E) each."""
    if graphs._closure is None:
        calls = graphs.calls
        breaking = nx.DiGraph()
        breaking.add_nodes_from(calls)
        breaking.add_edges_from(
            (u, v) for u, v, data in calls.edges(data=True) if BREAKING_CALLS & set(data["via"])
        )
        nodes = sorted(calls)
        index = {node: i for i, node in enumerate(nodes)}
        condensed = nx.condensation(breaking)
        component_bits: dict[int, int] = {}
        for component in nx.topological_sort(condensed):
            value = 0
            for member in condensed.nodes[component]["members"]:
                value |= 1 << index[member]
            for caller in condensed.predecessors(component):
                value |= component_bits[caller]
            component_bits[component] = value
        mapping = condensed.graph["mapping"]
        graphs._closure = _Closure(nodes, index, {n: component_bits[mapping[n]] for n in nodes})
    return graphs._closure


def _system_stats(model: _Model, graphs: Graphs) -> dict[str, dict[str, Any]]:
    users: dict[str, set[str]] = defaultdict(set)
    for recipe in model.recipes.values():
        for cnode in recipe.uses:
            users[model.connections[cnode].system].add(recipe.node)
    stats = {}
    for node, system in model.systems.items():
        neighbours = (
            set(graphs.systems.predecessors(node)) | set(graphs.systems.successors(node))
        ) - {node}
        stats[node] = {
            "recipes": sorted(users[node]),
            "neighbours": sorted(neighbours),
            "upstream": sorted(set(graphs.systems.predecessors(node)) - {node}),
            "downstream": sorted(set(graphs.systems.successors(node)) - {node}),
            "connections": list(system.connections),
        }
    return stats


def _coupling(model: _Model, graphs: Graphs, th: Thresholds, out: _Collector) -> None:
    stats = _system_stats(model, graphs)
    workspace_recipes = Counter(r.workspace for r in model.recipes.values())
    conn_users: dict[str, set[str]] = defaultdict(set)
    for recipe in model.recipes.values():
        for cnode in recipe.uses:
            conn_users[cnode].add(recipe.node)
    for ws in model.workspaces:
        total = workspace_recipes[ws] or 1
        ranked = sorted(
            (s for s in model.systems if model.systems[s].workspace == ws),
            key=lambda s: (-len(stats[s]["recipes"]), -len(stats[s]["neighbours"]), s),
        )
        for rank, node in enumerate(ranked[: th.coupling_top_n], start=1):
            count = len(stats[node]["recipes"])
            if count < th.coupling_min_recipes:
                break
            share = count / total
            neighbours = stats[node]["neighbours"]
            out.add(
                "high_coupling",
                "system",
                "high" if share >= th.coupling_high_share else "medium",
                ws,
                [node],
                f"Highly coupled system: {out.name(node)} (#{rank})",
                f"{count} recipes ({share:.0%} of the workspace) use {out.name(node)} through "
                f"{len(stats[node]['connections'])} connection(s), and it exchanges data with "
                f"{len(neighbours)} other system(s). Changes and outages there ripple widely.",
                "Give it an owner and a change process; consider an API or event layer "
                "(recipe functions, Pub/Sub) so recipes stop calling it directly.",
                {
                    "rank": rank,
                    "recipe_count": count,
                    "share": round(share, 4),
                    "connections": stats[node]["connections"],
                    "neighbour_systems": neighbours,
                    "upstream_systems": stats[node]["upstream"],
                    "downstream_systems": stats[node]["downstream"],
                },
            )
        conns = sorted(
            (c for c in model.connections.values() if c.workspace == ws and conn_users[c.node]),
            key=lambda c: (-len(conn_users[c.node]), c.node),
        )
        for rank, conn in enumerate(conns[: th.coupling_top_n], start=1):
            count = len(conn_users[conn.node])
            if count < th.coupling_min_recipes:
                break
            if len(model.systems[conn.system].connections) < 2:
                continue
            share = count / total
            out.add(
                "high_coupling",
                "instance",
                "high" if share >= th.coupling_high_share else "medium",
                ws,
                [conn.node],
                f"Highly coupled connection: {conn.name} (#{rank})",
                f"{count} recipes ({share:.0%} of the workspace) use this connection to "
                f"{out.name(conn.system)}.",
                "Spread the load or split by purpose (one integration user per domain), so one "
                "expired credential or rate limit does not stop them all.",
                {
                    "rank": rank,
                    "recipe_count": count,
                    "share": round(share, 4),
                    "system": conn.system,
                    "environment": conn.environment,
                },
            )


def _bottlenecks(model: _Model, graphs: Graphs, th: Thresholds, out: _Collector) -> None:
    metrics = _metrics(graphs)
    conn_users: dict[str, set[str]] = defaultdict(set)
    for recipe in model.recipes.values():
        for cnode in recipe.uses:
            conn_users[cnode].add(recipe.node)
    candidates: list[tuple[str, str, set[str]]] = []  # (node, graph, direct recipes)
    inst = metrics["instances"]
    for node in model.connections:
        if node in inst.articulation or inst.betweenness[node] >= th.bottleneck_min_betweenness:
            candidates.append((node, "instances", conn_users[node]))
    calls = metrics["calls"]
    for node in model.recipes:
        if graphs.calls.in_degree(node) == 0:
            continue
        if node in calls.articulation or calls.betweenness[node] >= th.bottleneck_min_betweenness:
            candidates.append((node, "calls", set()))
    sysm = metrics["systems"]
    for node, system in model.systems.items():
        if node in sysm.articulation or sysm.betweenness[node] >= th.bottleneck_min_betweenness:
            direct = set().union(*(conn_users[c] for c in system.connections))
            candidates.append((node, "systems", direct))
    closure = _closure(graphs)
    for node, graph_name, direct in candidates:
        if graph_name == "calls":  # its callers, not itself
            bits = closure.bits[node] & ~(1 << closure.index[node])
        else:
            bits = closure.union(direct)
        count = bits.bit_count()
        if count < th.bottleneck_min_dependents:
            continue
        dependents = closure.decode(bits, 50)
        callers_count = count - len(direct)
        m = metrics[graph_name]
        subject = out.subject(node)
        severity = "high" if count >= 3 * th.bottleneck_min_dependents else "medium"
        reasons = []
        if node in m.articulation:
            reasons.append("its loss splits the graph in two")
        if m.betweenness[node] >= th.bottleneck_min_betweenness:
            reasons.append(f"it lies on many paths (betweenness {m.betweenness[node]:.3f})")
        out.add(
            "bottleneck",
            "single_point_of_failure",
            severity,
            _subject_workspace(model, node),
            [node],
            f"Single point of failure: {subject['name']} ({subject['type']})",
            f"{count} recipes break if this {subject['type']} goes down "
            f"({len(direct)} use it directly, {callers_count} call those), and "
            + " and ".join(reasons)
            + ".",
            "Monitor it, document a fallback, and avoid routing unrelated flows through it "
            "(separate connections or recipe functions per domain).",
            {
                "graph": graph_name,
                "articulation_point": node in m.articulation,
                "betweenness": round(m.betweenness[node], 6),
                "dependents": count,
                "direct_recipes": len(direct),
                "caller_recipes": callers_count,
                "dependent_recipes": dependents[:50],
            },
        )


def _subject_workspace(model: _Model, node: str) -> str:
    for table in (model.recipes, model.connections, model.systems):
        if node in table:
            return table[node].workspace  # type: ignore[attr-defined]
    return ""


# -- high_complexity


COMPLEXITY_WEIGHTS = {
    "steps": 1,
    "max_depth": 2,
    "branches": 2,
    "loops": 3,
    "calls": 2,
    "systems": 3,
}
COMPLEXITY_COLUMNS = (
    "workspace", "recipe_id", "recipe", "name", "score", "percentile", "steps", "max_depth",
    "branches", "loops", "calls", "systems",
)  # fmt: skip


def _complexity(model: _Model, steps: dict[str, list[_Step]]) -> pd.DataFrame:
    rows = []
    for node, recipe in model.recipes.items():
        live = [s for s in steps.get(node, ()) if not s.skipped]
        parts = {
            "steps": recipe.step_count,
            "max_depth": recipe.max_depth,
            "branches": sum(1 for s in live if s.keyword in BRANCH_KEYWORDS),
            "loops": sum(1 for s in live if s.keyword in LOOP_KEYWORDS),
            "calls": sum(1 for s in live if s.reference_kind in CALL_REFERENCE_KINDS),
            "systems": len(recipe.uses),
        }
        score = sum(COMPLEXITY_WEIGHTS[k] * v for k, v in parts.items())
        rows.append(
            (recipe.workspace, recipe.recipe_id, node, recipe.name, score, 0.0, *parts.values())
        )
    frame = pd.DataFrame(rows, columns=list(COMPLEXITY_COLUMNS))
    if not frame.empty:
        frame["score"] = frame["score"].astype(float)
        frame["percentile"] = (
            frame.groupby("workspace")["score"].rank(method="max", pct=True) * 100
        ).round(2)
    return frame.sort_values(["workspace", "score", "recipe_id"], ascending=[True, False, True])


def _high_complexity(frame: pd.DataFrame, th: Thresholds, out: _Collector) -> None:
    for row in frame.itertuples(index=False):
        if row.percentile < th.complexity_percentile or row.score < th.complexity_min_score:
            continue
        parts = {k: int(getattr(row, k)) for k in COMPLEXITY_WEIGHTS}
        out.add(
            "high_complexity",
            "complexity_score",
            "high" if row.score >= 2 * th.complexity_min_score else "medium",
            row.workspace,
            [row.recipe],
            f"Complex recipe: {row.name} (score {row.score:.0f})",
            f"Score {row.score:.0f}, percentile {row.percentile:.1f} in the workspace: "
            f"{parts['steps']} steps, depth {parts['max_depth']}, {parts['branches']} branches, "
            f"{parts['loops']} loops, {parts['calls']} calls, {parts['systems']} systems.",
            "Split it into a small orchestrating recipe and recipe functions, one per system "
            "or step of the process; flatten deep if/else nesting.",
            {"score": float(row.score), "percentile": float(row.percentile), **parts},
        )


# -- consolidation_candidate


def _tokens(steps: list[_Step]) -> tuple[str, ...]:
    return tuple(
        f"{s.application}.{s.action}" if s.keyword in ("trigger", "action") else s.keyword
        for s in steps
        if not s.skipped
    )


def _similar_pairs(
    sequences: list[tuple[str, tuple[str, ...]]], threshold: float
) -> list[tuple[str, str, float]]:
    """Pairs at or above ``threshold`` (difflib ratio), pruned before difflib runs.

    Sorted by length, a sequence is only compared with the next ones while the lengths alone
    allow the ratio (``2·min/(a+b)``); then the multiset bound difflib's ``quick_ratio`` uses
    (``2·Σ min(count_a, count_b)/(a+b)``) is computed for the whole window at once with numpy;
    only pairs passing both get the exact (quadratic) ratio.
    """
    ordered = sorted(sequences, key=lambda item: (len(item[1]), item[0]))
    if len(ordered) < 2:
        return []
    vocabulary: dict[str, int] = {}
    encoded = [[vocabulary.setdefault(t, len(vocabulary)) for t in seq] for _, seq in ordered]
    counts = np.zeros((len(ordered), len(vocabulary)), dtype=np.int32)
    for i, tokens in enumerate(encoded):
        counts[i] = np.bincount(tokens, minlength=len(vocabulary))
    lengths = np.array([len(seq) for _, seq in ordered], dtype=np.int64)
    limit = (2 - threshold) / threshold if threshold > 0 else math.inf
    matcher = difflib.SequenceMatcher(None, autojunk=False)
    pairs = []
    for i, (node_a, seq_a) in enumerate(ordered):
        end = int(np.searchsorted(lengths, lengths[i] * limit, side="right"))
        if end <= i + 1:
            continue
        matches = np.minimum(counts[i], counts[i + 1 : end]).sum(axis=1)
        bound = 2.0 * matches / (lengths[i] + lengths[i + 1 : end])
        candidates = np.nonzero(bound >= threshold)[0]
        if not len(candidates):
            continue
        matcher.set_seq2(seq_a)
        for j in candidates + i + 1:
            node_b, seq_b = ordered[j]
            matcher.set_seq1(seq_b)
            ratio = matcher.ratio()
            if ratio >= threshold:
                a, b = sorted((node_a, node_b))
                pairs.append((a, b, ratio))
    return pairs


def _consolidation(
    model: _Model, steps: dict[str, list[_Step]], th: Thresholds, out: _Collector
) -> None:
    shapes: dict[tuple, list[str]] = defaultdict(list)
    for node, recipe in model.recipes.items():
        sources = tuple(sorted(recipe.sources()))
        targets = frozenset(model.connections[c].application or "?" for c in recipe.targets())
        if sources and targets:
            shapes[(recipe.workspace, recipe.trigger_application, sources, targets)].append(node)
    group_of: dict[str, int] = {}
    for index, ((ws, trigger, sources, targets), members) in enumerate(
        sorted(shapes.items(), key=str)
    ):
        if len(members) < 2:
            continue
        for member in members:
            group_of[member] = index
        out.add(
            "consolidation_candidate",
            "same_trigger_and_targets",
            "low",
            ws,
            members,
            f"{len(members)} recipes with the same trigger and targets: "
            + ", ".join(out.name(m) for m in members[:3])
            + ("..." if len(members) > 3 else ""),
            f"They are triggered by {trigger} on {', '.join(out.name(s) for s in sources)} and "
            f"write to {', '.join(sorted(targets))}. If they watch the same object, one "
            "recipe with branches does the work once per event instead of once per recipe.",
            "Compare their trigger objects and filters; merge them into one recipe (or one "
            "trigger recipe calling functions) if they overlap.",
            {
                "trigger_application": trigger,
                "trigger_connections": list(sources),
                "target_applications": sorted(targets),
            },
        )

    groups: dict[tuple[str, str | None], list[tuple[str, tuple[str, ...]]]] = defaultdict(list)
    for node, recipe in model.recipes.items():
        tokens = _tokens(steps.get(node, []))
        if len(tokens) >= th.similarity_min_steps:
            groups[(recipe.workspace, recipe.trigger_application)].append((node, tokens))
    for (ws, trigger), sequences in sorted(groups.items(), key=str):
        pairs = _similar_pairs(sequences, th.similarity_threshold)
        if not pairs:
            continue
        graph = nx.Graph()
        graph.add_weighted_edges_from(pairs)
        for component in sorted(sorted(c) for c in nx.connected_components(graph)):
            shape_groups = {group_of.get(m) for m in component}
            if None not in shape_groups and len(shape_groups) == 1:
                continue  # already one same_trigger_and_targets insight
            ratios = [d["weight"] for _, _, d in graph.subgraph(component).edges(data=True)]
            out.add(
                "consolidation_candidate",
                "near_duplicate",
                "low",
                ws,
                component,
                f"{len(component)} near-duplicate recipes: "
                + ", ".join(out.name(m) for m in component[:3])
                + ("..." if len(component) > 3 else ""),
                f"Their steps match at {min(ratios):.0%} or more (triggered by {trigger}). "
                "Copies drift apart: a fix made in one is missing in the others.",
                "Turn the common steps into a recipe function called by each, or merge the "
                "recipes with a parameter or lookup table for what differs.",
                {
                    "trigger_application": trigger,
                    "min_similarity": round(min(ratios), 4),
                    "max_similarity": round(max(ratios), 4),
                    "pairs": [
                        {"a": a, "b": b, "similarity": round(d["weight"], 4)}
                        for a, b, d in sorted(graph.subgraph(component).edges(data=True))
                    ][:50],
                },
            )


# -- performance_opportunity


def _loop_ancestor(steps: list[_Step]) -> dict[int, int]:
    """Step number -> the number of its nearest enclosing foreach/repeat step."""
    by_number = {s.number: s for s in steps}
    memo: dict[int, int | None] = {}
    for step in steps:
        path: list[int] = []
        number = step.number
        while number not in memo:
            parent = by_number[number].parent
            if parent is None or parent not in by_number or parent in path or parent == number:
                memo[number] = None
            elif by_number[parent].keyword in LOOP_KEYWORDS:
                memo[number] = parent
            else:
                path.append(number)
                number = parent
        for walked in path:  # no loop between them and ``number``: they share its answer
            memo[walked] = memo[number]
    return {number: loop for number, loop in memo.items() if loop is not None}


def _performance(
    model: _Model, steps: dict[str, list[_Step]], th: Thresholds, out: _Collector
) -> None:
    for node, recipe in model.recipes.items():
        recipe_steps = steps.get(node, [])
        trigger = next((s for s in recipe_steps if s.keyword == "trigger" and s.number == 0), None)
        if trigger and not trigger.skipped:
            alternatives = POLLING_TRIGGERS.get(trigger.application or "")
            if alternatives and trigger.action in alternatives.polling:
                out.add(
                    "performance_opportunity",
                    "polling_trigger",
                    "low",
                    recipe.workspace,
                    [node],
                    f"Polling trigger: {recipe.name}",
                    f"The trigger {trigger.application} {trigger.action} polls on a schedule "
                    "(every 5 minutes by default), which delays events and spends API calls "
                    "when nothing changed. The connector also has real-time triggers.",
                    f"Consider a real-time trigger ({', '.join(alternatives.realtime)}) if the "
                    "object and your setup support it.",
                    {
                        "application": trigger.application,
                        "trigger": trigger.action,
                        "realtime_alternatives": list(alternatives.realtime),
                    },
                )
        loops = _loop_ancestor(recipe_steps)
        single = [
            (s, loops[s.number])
            for s in recipe_steps
            if s.keyword == "action"
            and not s.skipped
            and s.number in loops
            and (s.application, s.action) in BATCH_ACTIONS
        ]
        if single:
            out.add(
                "performance_opportunity",
                "single_record_loop",
                "medium",
                recipe.workspace,
                [node],
                f"One record at a time in a loop: {recipe.name}",
                "Inside a loop, "
                + "; ".join(
                    f"step {s.number} calls {s.application} {s.action} (loop at step {loop})"
                    for s, loop in single
                )
                + ": one API call and one task per record.",
                "Collect the records into a list and use the batch action instead: "
                + "; ".join(
                    f"{s.application} {BATCH_ACTIONS[(s.application, s.action)]}"  # type: ignore[index]
                    for s, _ in single
                )
                + ".",
                {
                    "steps": [
                        {
                            "step": s.number,
                            "loop_step": loop,
                            "application": s.application,
                            "action": s.action,
                            "batch_action": BATCH_ACTIONS[(s.application, s.action)],  # type: ignore[index]
                        }
                        for s, loop in single
                    ]
                },
            )
        if recipe.tasks is not None and recipe.tasks >= th.task_count_high:
            out.add(
                "performance_opportunity",
                "high_task_count",
                "medium",
                recipe.workspace,
                [node],
                f"Very high task count: {recipe.name}",
                f"{recipe.tasks:,} tasks since 2021-03-19 (threshold {th.task_count_high:,}). "
                "Tasks are what Workato bills.",
                "Filter events at the trigger, batch per record operations, and skip steps "
                "that change nothing.",
                {"lifetime_task_count": recipe.tasks},
            )


# ---------------------------------------------------------------------- rankings


SYSTEM_RANKING_COLUMNS = (
    "workspace", "system", "system_key", "name", "rank", "recipe_count", "connection_count",
    "upstream_systems", "downstream_systems", "neighbour_systems", "dependent_recipes",
)  # fmt: skip


def ranking_tables(inp: AnalysisInput, graphs: Graphs) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-recipe complexity, per-system dependency ranking), for views.

    Complexity: :data:`COMPLEXITY_COLUMNS`, the score's components and its percentile in the
    workspace, highest first. Systems: :data:`SYSTEM_RANKING_COLUMNS`, ranked per workspace by
    the recipes using them, then neighbour systems; ``dependent_recipes`` adds the recipes that
    call those (what :func:`impact` counts).
    """
    model = _model_for(inp, graphs)
    complexity = _complexity(model, _steps_by_recipe(inp, model)).reset_index(drop=True)
    stats = _system_stats(model, graphs)
    closure = _closure(graphs)
    rows = []
    for ws in model.workspaces:
        ranked = sorted(
            (s for s in model.systems if model.systems[s].workspace == ws),
            key=lambda s: (-len(stats[s]["recipes"]), -len(stats[s]["neighbours"]), s),
        )
        for rank, node in enumerate(ranked, start=1):
            s = stats[node]
            system = model.systems[node]
            dependents = closure.union(s["recipes"]).bit_count()
            rows.append(
                (
                    ws, node, system.key, system.label, rank, len(s["recipes"]),
                    len(s["connections"]), len(s["upstream"]), len(s["downstream"]),
                    len(s["neighbours"]), dependents,
                )
            )  # fmt: skip
    return complexity, pd.DataFrame(rows, columns=list(SYSTEM_RANKING_COLUMNS))


# ---------------------------------------------------------------------- impact


class ImpactTargetError(ValueError):
    """The impact target matches nothing, or several things (``candidates`` lists them)."""

    def __init__(self, message: str, candidates: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.candidates = candidates or []


@dataclass(frozen=True)
class ImpactReport:
    """What breaks when ``target`` goes down."""

    target: dict[str, str]
    #: The connections going down with it (a system's connections; a connection itself).
    connections: list[dict[str, str]]
    #: Recipes using it directly (the recipe itself for a recipe).
    direct_recipes: list[dict[str, str]]
    #: Recipes breaking because they call an affected recipe; ``calls`` names that callee.
    caller_recipes: list[dict[str, str]]
    #: Systems the affected recipes write to, through connections that are not down.
    downstream_systems: list[dict[str, str]]

    @property
    def affected_recipes(self) -> list[dict[str, str]]:
        return [*self.direct_recipes, *self.caller_recipes]


def _candidates(model: _Model) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for r in model.recipes.values():
        items.append(
            {"id": r.node, "type": "recipe", "name": r.name, "workspace": r.workspace,
             "keys": {str(r.recipe_id)}}
        )  # fmt: skip
    for c in model.connections.values():
        items.append(
            {"id": c.node, "type": "connection", "name": c.name, "workspace": c.workspace,
             "keys": {str(c.connection_id)}}
        )  # fmt: skip
    for s in model.systems.values():
        apps = {(model.connections[c].application or "").lower() for c in s.connections} - {""}
        keys = {s.key.lower(), *apps} | ({s.system_id.lower()} if s.system_id else set())
        items.append(
            {"id": s.node, "type": "system", "name": s.label, "workspace": s.workspace,
             "keys": keys}
        )  # fmt: skip
    return items


def _resolve(
    model: _Model, target: str, items: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    wanted = target.strip()
    lowered = wanted.lower()
    items = _candidates(model) if items is None else items
    stages = [
        lambda c: c["id"] == wanted,
        lambda c: lowered in c["keys"],
        lambda c: c["name"].lower() == lowered,
        lambda c: lowered in c["name"].lower(),
    ]
    for test in stages:
        found = [c for c in items if test(c)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            shown = [{k: c[k] for k in ("id", "type", "name")} for c in found]
            listing = "\n".join(f"  {c['id']}  ({c['type']}) {c['name']}" for c in shown[:30])
            more = f"\n  ... and {len(shown) - 30} more" if len(shown) > 30 else ""
            raise ImpactTargetError(
                f"{target!r} is ambiguous: {len(found)} matches; name one by its id:\n"
                f"{listing}{more}",
                shown,
            )
    if not wanted:
        raise ImpactTargetError("no target given: name a system, connection or recipe")
    raise ImpactTargetError(
        f"{target!r} matches no system, connection or recipe (by id, name or application)"
    )


def impact(graphs: Graphs, inp: AnalysisInput, target: str) -> ImpactReport:
    """What breaks if ``target`` goes down.

    ``target``: a node id (``connection:<ws>:<id>``), a connection or recipe id, a system id
    or application name, or a connection/recipe/system name (case-insensitive exact, else a
    unique substring). Several matches raise :class:`ImpactTargetError` listing them.
    """
    return impacts(graphs, inp, [target])[0]


def impacts(graphs: Graphs, inp: AnalysisInput, targets: Iterable[str]) -> list[ImpactReport]:
    """:func:`impact` of each of ``targets``, in order; what the targets share (the lookup of
    names and who uses each connection) is computed once, so a report on every system and
    connection of a large workspace takes seconds, not minutes."""
    model = _model_for(inp, graphs)
    items = _candidates(model)
    users: dict[str, set[str]] = defaultdict(set)
    for recipe in model.recipes.values():
        for cnode in recipe.uses:
            users[cnode].add(recipe.node)
    out = _Collector(model)

    def key(n: str) -> tuple:
        return (out.name(n).lower(), n)

    reports = []
    for target in targets:
        found = _resolve(model, target, items)
        node, kind = found["id"], found["type"]
        if kind == "recipe":
            connections: list[str] = []
            direct = {node}
        elif kind == "connection":
            connections = [node]
            direct = set(users[node])
        else:
            connections = list(model.systems[node].connections)
            direct = set().union(*(users[c] for c in connections)) if connections else set()
        callers = _callers(graphs.calls, direct)
        affected = direct | set(callers)
        down = set(connections)
        downstream = sorted(
            {
                model.connections[c].system
                for r in affected
                for c in model.recipes[r].targets()
                if c not in down and model.connections[c].system != node
            }
        )
        reports.append(
            ImpactReport(
                target=out.subject(node),
                connections=[out.subject(c) for c in sorted(connections, key=key)],
                direct_recipes=[out.subject(r) for r in sorted(direct, key=key)],
                caller_recipes=[
                    {**out.subject(r), "calls": out.name(callers[r])}
                    for r in sorted(callers, key=key)
                ],
                downstream_systems=[out.subject(s) for s in downstream],
            )
        )
    return reports


def format_impact(report: ImpactReport) -> str:
    """The report as plain text for the command line."""
    t = report.target
    lines = [
        f"Impact of {t['type']} {t['name']!r} ({t['id']}) going down:",
        f"  {len(report.affected_recipes)} recipe(s) affected: {len(report.direct_recipes)} "
        f"directly, {len(report.caller_recipes)} through calls; "
        f"{len(report.downstream_systems)} downstream system(s).",
    ]
    if report.connections and t["type"] == "system":
        lines.append("\nConnections:")
        lines += [f"  - {c['name']} ({c['id']})" for c in report.connections]
    lines.append(
        "\nThe recipe itself:" if t["type"] == "recipe" else "\nRecipes using it directly:"
    )
    lines += [f"  - {r['name']} ({r['id']})" for r in report.direct_recipes] or ["  (none)"]
    lines.append("\nRecipes breaking through calls:")
    lines += [
        f"  - {r['name']} ({r['id']}), calls {r['calls']!r}" for r in report.caller_recipes
    ] or ["  (none)"]
    lines.append("\nDownstream systems (written to by affected recipes):")
    lines += [f"  - {s['name']} ({s['id']})" for s in report.downstream_systems] or ["  (none)"]
    return "\n".join(lines)
