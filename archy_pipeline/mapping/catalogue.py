"""The shipped catalogue of well-known systems (``archy_pipeline/data/systems.yaml``)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import yaml
from pydantic import ValidationError

from archy_pipeline.mapping.model import System
from archy_pipeline.settings import ConfigError
from archy_pipeline.settings.base import Section
from archy_pipeline.settings.errors import one_line
from archy_pipeline.settings.sections import Systems


class _CatalogueFile(Section):
    """systems.yaml: its records have the shape (and rules) of archy.yaml's ``systems:``."""

    version: int
    systems: Systems


def load_catalogue() -> list[System]:
    """The shipped catalogue (``archy_pipeline/data/systems.yaml``), in file order."""
    return list(_catalogue())


@lru_cache(maxsize=1)
def _catalogue() -> tuple[System, ...]:
    text = resources.files("archy_pipeline.data").joinpath("systems.yaml").read_text("utf-8")
    try:
        catalogue = _CatalogueFile.model_validate(yaml.safe_load(text))
    except ValidationError as error:
        raise ConfigError(one_line(error, "archy_pipeline/data/systems.yaml")) from None
    return tuple(System.from_record(record, "catalogue") for record in catalogue.systems)
