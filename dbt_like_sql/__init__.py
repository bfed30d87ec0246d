"""The SQL models, shipped as package data so an installed wheel finds them.

One folder per warehouse schema (``archy/``), one ``.sql`` file per model; their dependencies are
read from the SQL with sqlglot (:mod:`archy_pipeline.sql.engine`).
"""

from importlib.resources import files
from pathlib import Path


def models_path() -> Path:
    """The folder holding the bundled models (a real directory: the package is never zipped)."""
    return Path(str(files(__name__)))
