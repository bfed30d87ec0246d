"""The architecture report: a static site (overview, system map, a page per system and per
integration, insights, impact) and exports (Mermaid, draw.io, Structurizr, GraphML,
Backstage, CSV/Parquet), built from the warehouse.

Pure: no Dagster import, and no settings read here; the ``docs`` asset and
``archy-pipeline report`` pass in the warehouse, the analysis input and what comes from the
settings (the Workato web address of each workspace, the last syncs, the output folder).
See docs/report.md.
"""

from __future__ import annotations

import dataclasses
import gc
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from archy_pipeline.analysis import AnalysisInput, build_graphs
from archy_pipeline.report.model import ReportModel, WarehouseReader, load_model
from archy_pipeline.report.site import ReportDirError, ReportSummary, build_site

__all__ = [
    "ReportDirError",
    "ReportModel",
    "ReportSummary",
    "build_report",
    "long_lived_frozen",
    "only_workspaces",
]


def only_workspaces(inp: AnalysisInput, workspaces: Iterable[str]) -> AnalysisInput:
    """``inp`` with the rows of ``workspaces`` only."""
    keep = set(workspaces)
    frames = {
        f.name: getattr(inp, f.name)[getattr(inp, f.name)["workspace"].isin(keep)]
        for f in dataclasses.fields(inp)
    }
    return AnalysisInput(**frames)


_FROZEN = {"depth": 0}
_FROZEN_LOCK = threading.Lock()


@contextmanager
def long_lived_frozen() -> Iterator[Callable[[], None]]:
    """Keep Python's cyclic garbage collector off the objects that live through the whole build
    (the analysis input, the graphs, the model): ``gc.freeze()`` on entry and each time the
    block calls the function it is given, ``gc.unfreeze()`` when the outermost such block
    ends. Without it, the full collections the growing heap triggers scan them again and again
    (a third of the build's CPU at 5,000 recipes); garbage made meanwhile is still collected
    as usual, and frozen objects are collected after the block if they are garbage by then."""
    with _FROZEN_LOCK:
        _FROZEN["depth"] += 1
        gc.freeze()
    try:
        yield gc.freeze
    finally:
        with _FROZEN_LOCK:
            _FROZEN["depth"] -= 1
            if _FROZEN["depth"] == 0:
                gc.unfreeze()


def build_report(
    warehouse: WarehouseReader,
    inp: AnalysisInput,
    site: Path,
    *,
    placeholder: str,
    now: datetime,
    workato_urls: Mapping[str, str] | None = None,
    last_syncs: Mapping[str, datetime] | None = None,
    workspaces: Iterable[str] | None = None,
    owner: str = "integration-architecture",
) -> ReportSummary:
    """Build the site and the exports into ``site`` (replaced whole) and say what was written.

    ``inp`` is the analysis input (what ``archy-pipeline impact`` reads); ``placeholder`` the
    warehouse's DB-API placeholder; ``workspaces`` limits the report to those workspaces.
    """
    chosen = None if workspaces is None else sorted(set(workspaces))
    with long_lived_frozen() as freeze:
        if chosen is not None:
            inp = only_workspaces(inp, chosen)
        graphs = build_graphs(inp)
        model = load_model(
            warehouse, inp, graphs, now=now, workato_urls=workato_urls, last_syncs=last_syncs,
            workspaces=chosen,
        )  # fmt: skip
        freeze()
        return build_site(model, site, warehouse=warehouse, placeholder=placeholder, owner=owner)
