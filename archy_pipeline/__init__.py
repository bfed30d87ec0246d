"""archy-pipeline: a Workato workspace turned into living architecture documentation."""

__version__ = "0.1.0"
