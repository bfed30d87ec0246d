"""The insight rules, one module per family, and :func:`find_insights`, which runs them all.

Each rule reads the :class:`~archy_pipeline.analysis.model.Model` (and the graphs or
thresholds it needs) and adds its findings to a
:class:`~archy_pipeline.analysis.insights.Collector`. What each rule finds, and at which
severity: docs/analysis.md.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd

from archy_pipeline.analysis.graph import Graphs
from archy_pipeline.analysis.inputs import AnalysisInput
from archy_pipeline.analysis.insights import Collector, Insight, priority_key, roll_up, with_impact
from archy_pipeline.analysis.metrics import complexity_table
from archy_pipeline.analysis.rules import (
    consolidation,
    error_handling,
    health,
    performance,
    structure,
)
from archy_pipeline.analysis.thresholds import Thresholds


def find_insights(
    inp: AnalysisInput,
    graphs: Graphs,
    thresholds: Thresholds | None = None,
    now: datetime | None = None,
) -> list[Insight]:
    """Every insight of every kind (see docs/analysis.md), in fix-first order.

    ``now`` (default: the current time, UTC) is what ages are measured against; naive
    datetimes are taken as UTC.
    """
    th = thresholds or Thresholds()
    model = graphs.model_for(inp)
    out = Collector(model)
    moment = _now(now)
    structure.circular_dependencies(model, graphs, out)
    structure.system_loops(model, out)
    health.connection_hygiene(model, out)
    health.inactive_recipes(model, graphs, th, moment, out)
    error_handling.error_handling(model, out)
    health.failing_recipes(model, th, out)
    structure.coupling(model, graphs, th, out)
    structure.bottlenecks(model, graphs, th, out)
    structure.high_complexity(complexity_table(model), th, out)
    consolidation.consolidation(model, th, out)
    performance.performance(model, th, out)
    items = [with_impact(model, i) for i in roll_up(model, out.items, th)]
    return sorted(items, key=priority_key)


def _now(now: datetime | None) -> pd.Timestamp:
    stamp = pd.Timestamp(now or datetime.now(timezone.utc))
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
