"""The Dagster UI, as a person sees it: headless Chromium against a materialized demo.

Syncs a small generated workspace from the simulator into a temporary DuckDB file and
DAGSTER_HOME, starts ``dagster-webserver`` on loopback against ``workspace.yaml``, and checks
the asset graph (the three groups and the key assets) and the automation page (both
schedules), keeping PNG screenshots in the test's temporary folder.

Chromium is Debian's ``/usr/bin/chromium`` driven by Playwright (never ``playwright install``).
Only 127.0.0.1 is ever contacted: the browser has no proxy and any other request is aborted.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Locator, Page, Route, expect, sync_playwright
from workato_simulator.generator import generate_workspace

from archy_pipeline.cli import main

pytestmark = pytest.mark.ui

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
WEBSERVER = ROOT / ".venv" / "bin" / "dagster-webserver"

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
]

GROUPS = ("extract", "mapping", "archy")
#: A few assets of each group that the graph must show once its groups are expanded.
KEY_ASSETS = (
    "recipes",
    "connections",
    "systems",
    "system_mappings",
    "integrations",
    "system_instances",
)
SCHEDULES = ("daily_sync_schedule", "weekly_sync_schedule", "retention_schedule")
SENSORS = ("workspace_partitions_sensor", "rebuild_after_sync_sensor")

SERVER_START_SECONDS = 120
UI_TIMEOUT_MS = 30_000


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int = 60) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def _stop(process: subprocess.Popen) -> None:
    """Terminate the webserver and the code server it spawned (its own process group)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    try:  # a code server still alive after its parent exited
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture
def webserver(demo: Path, tmp_path: Path) -> Iterator[str]:
    """dagster-webserver on a free loopback port against the demo; yields its base URL."""
    port = _free_port()
    log = tmp_path / "webserver.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(WEBSERVER), "-w", str(ROOT / "workspace.yaml"), "-h", "127.0.0.1",
             "-p", str(port)],
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        with httpx.Client(trust_env=False, timeout=5) as client:
            while True:
                if process.poll() is not None:
                    pytest.fail(f"dagster-webserver exited ({process.returncode}):\n{_tail(log)}")
                try:
                    if client.get(f"{base_url}/server_info").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"dagster-webserver did not answer /server_info within "
                        f"{SERVER_START_SECONDS} s:\n{_tail(log)}"
                    )
                time.sleep(0.5)
        yield base_url
    finally:
        _stop(process)


def _loopback_only(base_url: str, blocked: list[str]):
    def handle(route: Route) -> None:
        url = route.request.url
        if url.startswith((base_url + "/", "data:", "blob:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    return handle


def _graph_text(page: Page, name: str) -> Locator:
    """A label in the asset graph (an SVG canvas) that reads exactly ``name``."""
    return page.locator("svg").get_by_text(name, exact=True).first


#: True when the element's centre is inside the window and nothing covers it (the page header
#: lies over the top of the graph canvas, so "in the viewport" alone is not enough).
_UNCOVERED_JS = """e => {
    const r = e.getBoundingClientRect();
    const x = r.left + r.width / 2, y = r.top + r.height / 2;
    if (!r.width || x < 0 || y < 0 || x > innerWidth || y > innerHeight) return false;
    const hit = document.elementFromPoint(x, y);
    const node = e.closest("foreignObject");
    if (!hit) return false;
    return hit === e || e.contains(hit) || (!!node && hit.closest("foreignObject") === node);
}"""


def _in_view(page: Page, name: str) -> bool:
    """Whether a person sees ``name`` in the graph (it also draws some nodes out of view)."""
    label = _graph_text(page, name)
    return label.count() > 0 and label.evaluate(_UNCOVERED_JS)


def _screenshot(page: Page, path: Path) -> Path:
    page.screenshot(path=str(path))
    assert path.stat().st_size > 20_000, f"{path.name} is suspiciously small"
    return path


def _check_asset_graph(page: Page, base_url: str, tmp_path: Path) -> None:
    page.goto(f"{base_url}/asset-groups")
    for group in GROUPS:  # collapsed group nodes
        expect(_graph_text(page, group)).to_be_visible()
    expect(page.get_by_text("fetching statuses")).to_have_count(0)
    _screenshot(page, tmp_path / "asset-groups.png")

    # Graph settings (the gear beside the zoom buttons; the last one on the page, after the
    # navigation's Settings) -> "Expand all groups".
    page.locator('button:has([aria-label="settings"])').last.click()
    page.get_by_role("menuitem", name="Expand all groups").click()
    page.keyboard.press("Escape")
    # The graph draws only what is in (or near) the window: zoom out, a bounded number of
    # times, until the three groups and every key asset are inside it.
    for _ in range(15):
        page.wait_for_timeout(500)
        if all(_in_view(page, name) for name in GROUPS + KEY_ASSETS):
            break
        page.locator('button:has([aria-label="zoom_out"])').click()
    out_of_view = [name for name in GROUPS + KEY_ASSETS if not _in_view(page, name)]
    assert not out_of_view, f"not shown in the asset graph: {out_of_view}"
    _screenshot(page, tmp_path / "asset-graph.png")


def _check_catalog(page: Page, base_url: str, tmp_path: Path) -> None:
    page.goto(f"{base_url}/assets")
    expect(page.get_by_text("archy / integrations").first).to_be_visible()
    expect(page.get_by_text("workato_raw / recipes").first).to_be_visible()
    expect(page.get_by_text("Materialized", exact=True).first).to_be_visible()
    expect(page.get_by_text("1 partition", exact=True).first).to_be_visible()  # extract assets
    _screenshot(page, tmp_path / "catalog.png")


def _check_automation(page: Page, base_url: str, tmp_path: Path) -> None:
    page.goto(f"{base_url}/automation")
    for name in SCHEDULES + SENSORS:
        expect(page.get_by_text(name, exact=True).first).to_be_visible()
    # Each schedule's row says when it runs ("Scheduled At 02:00 AM UTC") once loaded.
    expect(page.get_by_text("Scheduled At")).to_have_count(len(SCHEDULES))
    _screenshot(page, tmp_path / "automation.png")


def _browser(playwright, tmp_path: Path, base_url: str, blocked: list[str]) -> BrowserContext:
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "chromium-profile"),  # --user-data-dir
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_FLAGS,
        viewport={"width": 2400, "height": 2000},
    )
    context.set_default_timeout(UI_TIMEOUT_MS)
    expect.set_options(timeout=UI_TIMEOUT_MS)
    context.route("**/*", _loopback_only(base_url, blocked))
    # Dagster's one-off "Join the Dagster community" dialog would cover the screenshots:
    # mark it dismissed in this fresh profile, as clicking "Skip" would.
    context.add_init_script("window.localStorage.setItem('communityNux', JSON.stringify('1'))")
    return context


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium; in CI (CI set) a missing one fails the test before any setup."""
    assert CHROMIUM.exists(), f"CI must run this test: install Debian's chromium ({CHROMIUM})"
    return CHROMIUM


@pytest.fixture
def demo(simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> Path:
    """A small generated workspace synced into a temp DuckDB file and DAGSTER_HOME."""
    home = Path(os.environ["DAGSTER_HOME"])
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    sim = simulator(generate_workspace(7, recipes=40), rate_limits=None)
    config = tmp_path / "archy.yaml"
    config.write_text(f"workspaces:\n  - name: Demo\n    base_url: {sim.base_url}\n")
    duckdb_path = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("ARCHY_CONFIG", str(config))
    monkeypatch.setenv("ARCHY_DUCKDB_PATH", str(duckdb_path))
    monkeypatch.setenv("WORKATO_API_TOKEN", sim.token)
    assert main(["sync"]) == 0, capsys.readouterr().err[-3000:]
    assert "== archy tables:" in capsys.readouterr().out
    return duckdb_path


@pytest.mark.slow
@pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"),
    reason="needs Debian's chromium at /usr/bin/chromium (make test installs it)",
)
def test_dagster_ui_shows_asset_groups_and_schedules(chromium, webserver, tmp_path):
    blocked: list[str] = []
    with sync_playwright() as playwright:
        context = _browser(playwright, tmp_path, webserver, blocked)
        page = context.new_page()
        try:
            _check_asset_graph(page, webserver, tmp_path)
            _check_catalog(page, webserver, tmp_path)
            _check_automation(page, webserver, tmp_path)
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"))
            raise
        finally:
            context.close()

    shots = sorted(p.name for p in tmp_path.glob("*.png"))
    assert shots == ["asset-graph.png", "asset-groups.png", "automation.png", "catalog.png"]
    assert not blocked, f"the UI tried to reach beyond loopback: {blocked}"
