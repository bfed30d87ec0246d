"""The thresholds of the insight rules (archy.yaml's ``analysis:`` section)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from archy_pipeline.settings.sections import AnalysisSettings


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
    #: ...and this score (see docs/analysis.md for the formula).
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


def parse_thresholds(section: AnalysisSettings) -> Thresholds:
    """The thresholds archy.yaml's ``analysis:`` section sets (validated by the settings
    model, which names the key path of a bad one), the defaults for the rest."""
    return Thresholds(**section.model_dump())
