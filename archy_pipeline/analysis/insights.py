"""The :class:`Insight` record, its stable id and table rows, the collector the rules add to,
and what happens to the findings afterwards: per-folder roll-ups, impact figures and the
fix-first order."""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from archy_pipeline.analysis.inputs import as_int
from archy_pipeline.analysis.model import Model, folder_node
from archy_pipeline.analysis.thresholds import Thresholds

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
SEVERITY_ORDER = {s: i for i, s in enumerate(SEVERITIES)}
KIND_ORDER = {k: i for i, k in enumerate(KINDS)}
#: Per-recipe kinds whose findings roll up per folder (see :func:`roll_up`).
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


class Collector:
    """Where the rules add their findings: names subjects from the model and makes the id."""

    def __init__(self, model: Model) -> None:
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


def with_impact(model: Model, insight: Insight) -> Insight:
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
        for connection in connections:
            recipes.update(model.users.get(connection, ()))
    count = max(len(recipes), as_int(insight.evidence.get("dependents"), 0) or 0)
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


def roll_up(model: Model, items: list[Insight], th: Thresholds) -> list[Insight]:
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
