"""Shared fixtures: the Workato simulator over real loopback HTTP, isolated environments."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from workato_simulator import WorkatoSimulator, Workspace

from tests.support import (
    ISOLATED_ENV_VARS,
    POSTGRES_ADMIN_DSN,
    TIME_SCALE,
    LoopbackSmtpController,
    SmtpInbox,
    SyncedWarehouse,
    acme,
    sync_once,
)

#: Session fixtures whose users run on one xdist worker, so each is built once, not per worker.
SHARED_SESSION_FIXTURES = ("acme_warehouse", "generated_warehouse")


@pytest.hookimpl(tryfirst=True)  # before xdist reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``corpus`` tests when the genuine-export corpus is not beside the clone; group the
    users of each shared session fixture on one xdist worker; start the longest tests first
    (the browser test, then the ``slow`` ones) so no worker is left with them at the end."""
    from workato_simulator.export_loader import CORPUS_ENV_VAR, corpus_dir

    root = corpus_dir()
    skip = pytest.mark.skip(
        reason=f"genuine-export corpus not found at {root} (../shared beside the clone, or "
        f"{CORPUS_ENV_VAR}); tests/fixtures/exports checks the same rules"
    )
    for item in items:
        if item.get_closest_marker("corpus") is not None and not root.is_dir():
            item.add_marker(skip)
        shared = [f for f in SHARED_SESSION_FIXTURES if f in getattr(item, "fixturenames", ())]
        if shared:
            item.add_marker(pytest.mark.xdist_group(shared[0]))
        elif item.get_closest_marker("ui") is not None:
            item.add_marker(pytest.mark.xdist_group("ui"))

    def cost(item: pytest.Item) -> int:
        if item.get_closest_marker("ui") is not None:
            return 0
        return 1 if item.get_closest_marker("slow") is not None else 2

    items.sort(key=cost)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    """No test sees the developer's Workato or archy settings."""
    for name in ISOLATED_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path_factory.mktemp("dagster_home")))


@pytest.fixture
def simulator() -> Iterator[Callable[..., WorkatoSimulator]]:
    """Start simulators on ephemeral loopback ports; all are stopped after the test."""
    started: list[WorkatoSimulator] = []

    def start(workspace: Workspace, **kwargs: Any) -> WorkatoSimulator:
        kwargs.setdefault("time_scale", TIME_SCALE)
        sim = WorkatoSimulator(workspace, **kwargs).start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture(scope="session")
def acme_warehouse(tmp_path_factory: pytest.TempPathFactory) -> SyncedWarehouse:
    """The hand-built ACME workspace (support.acme), synced and built once per session; its
    users share one xdist worker. Tests that only read the result copy the file
    (``acme_warehouse.copy_to(tmp_path)``) and never change ``acme_warehouse.workspace``."""
    workspace, ids = acme()
    return sync_once(tmp_path_factory.mktemp("acme_warehouse"), workspace, ids)


@pytest.fixture(scope="session")
def generated_warehouse(tmp_path_factory: pytest.TempPathFactory) -> SyncedWarehouse:
    """A generated 200-recipe workspace (seed 31), synced and built once per session; used as
    ``acme_warehouse`` is."""
    from workato_simulator.generator import generate_workspace

    workspace = generate_workspace(31, recipes=200)
    return sync_once(tmp_path_factory.mktemp("generated_warehouse"), workspace)


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., SimpleNamespace]]:
    """Start aiosmtpd servers on 127.0.0.1, ephemeral ports; all stopped after the test."""
    started: list[LoopbackSmtpController] = []

    def start(**smtp_kwargs: Any) -> SimpleNamespace:
        inbox = SmtpInbox()
        controller = LoopbackSmtpController(
            inbox, hostname="127.0.0.1", port=0, server_hostname="smtp.test", **smtp_kwargs
        )
        controller.start()
        started.append(controller)
        return SimpleNamespace(port=controller.port, messages=inbox.messages)

    yield start
    for controller in started:
        controller.stop()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On an xdist worker, hand the figures its tests measured to the controller."""
    from tests.support import FIGURES

    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["archy_figures"] = list(FIGURES)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """On the xdist controller, collect the figures of a worker that finished."""
    from tests.support import FIGURES

    FIGURES.extend(getattr(node, "workeroutput", {}).get("archy_figures", []))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the figures tests measured (mapping precision and recall...) after every run."""
    from tests.support import FIGURES

    if FIGURES:
        terminalreporter.section("archy-pipeline figures")
        for line in sorted(FIGURES):
            terminalreporter.write_line(line)


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A PostgreSQL database made for one test, dropped afterwards; yields its DSN.

    A database rather than a schema: the pipeline writes fixed schema names (workato_raw,
    archy), and tests must never see each other's tables.
    """
    import uuid

    import psycopg2

    name = f"archy_test_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(POSTGRES_ADMIN_DSN)
    admin.autocommit = True
    admin.cursor().execute(f'create database "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.cursor().execute(f'drop database if exists "{name}" with (force)')
        admin.close()
