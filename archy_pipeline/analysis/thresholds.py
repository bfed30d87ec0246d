"""The thresholds of the insight rules (archy.yaml's ``analysis:`` section)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from archy_pipeline.config import ConfigError


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
