"""Workspace partitions: the one place that decides which ones are missing and adds them.

Every Workato workspace in archy.yaml is a partition of :data:`constants.WORKSPACES`. Four
callers need a workspace's partition to exist before they run or request a sync of it: the
command line (``archy-pipeline sync``), the ``workspace_partitions_sensor``, the
``activity_log_sensor`` and the ``webhook_sensor``. The command line adds partitions directly;
the sensors return the same list as a request Dagster applies with their tick.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

from archy_pipeline.constants import WORKSPACES


def missing_workspaces(instance: dg.DagsterInstance, names: Iterable[str]) -> list[str]:
    """The workspaces in ``names`` without a partition yet, in the order given, each once."""
    known = set(instance.get_dynamic_partitions(WORKSPACES.name))
    missing: list[str] = []
    for name in names:
        if name not in known and name not in missing:
            missing.append(name)
    return missing


def add_workspaces_requests(
    instance: dg.DagsterInstance, names: Iterable[str]
) -> list[dg.AddDynamicPartitionsRequest]:
    """For a sensor's result: one request adding the missing partitions, or none."""
    missing = missing_workspaces(instance, names)
    return [WORKSPACES.build_add_request(missing)] if missing else []


def add_workspaces(instance: dg.DagsterInstance, names: Iterable[str]) -> list[str]:
    """Add the missing partitions now (the command line runs without a sensor); the added."""
    missing = missing_workspaces(instance, names)
    if missing:
        instance.add_dynamic_partitions(WORKSPACES.name, missing)
    return missing
