"""Kept only for the modules being split into packages (mapping, notify, analysis), which
import these names from here. Everything else imports :mod:`archy_pipeline.settings`; delete
this module once those three do too.
"""

from archy_pipeline.settings import (
    DEFAULT_ENVIRONMENTS,
    ConfigError,
    config_path,
    environment_of,
)

__all__ = ["DEFAULT_ENVIRONMENTS", "ConfigError", "config_path", "environment_of"]
