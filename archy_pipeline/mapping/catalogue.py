"""The shipped catalogue of well-known systems (``archy_pipeline/data/systems.yaml``)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import yaml

from archy_pipeline.config import ConfigError
from archy_pipeline.mapping.config import _system, _unique_ids
from archy_pipeline.mapping.model import System


def load_catalogue() -> list[System]:
    """The shipped catalogue (``archy_pipeline/data/systems.yaml``), in file order."""
    return list(_catalogue())


@lru_cache(maxsize=1)
def _catalogue() -> tuple[System, ...]:
    text = resources.files("archy_pipeline.data").joinpath("systems.yaml").read_text("utf-8")
    data = yaml.safe_load(text) or {}
    where = "archy_pipeline/data/systems.yaml"
    items = data.get("systems") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ConfigError(f"{where}: systems must be a list")
    systems = [_system(item, f"{where}: systems[{i}]", "catalogue") for i, item in enumerate(items)]
    _unique_ids(systems, f"{where}: systems")
    return tuple(systems)
