"""Browser tests: Debian's Chromium driven by Playwright against a live HTTP + WebSocket server.

The server is `manage.py serve` (daphne with an embedded Celery worker) in a subprocess on a
free port, pointed at the test database, so it sees what the tests create (they use
`transactional_db`: data is committed). Executions, the engine and the channel layer all live
in that one server process, as in `make run`; with REDIS_URL set the channel layer is Redis.
The test database must be one another process can open: PostgreSQL (always so in CI).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings

from tests.fixtures import IN_CI, needs_postgres
from tests.live import free_port, shared_database_url

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EXPECT_TIMEOUT_MS = 15_000
PASSWORD = "pw-for-tests-123"  # tests.fixtures.make_user's default


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)
            item.add_marker(needs_postgres())


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path.exists() else ""


@pytest.fixture(scope="package")
def asgi_server(django_db_setup, django_db_blocker) -> Iterator[LiveServer]:
    """daphne + embedded worker on a free port, against the test database."""
    if not settings.USES_POSTGRES:
        reason = "browser tests need PostgreSQL (DATABASE_URL): the server process must share the test database"
        if IN_CI:
            pytest.fail(reason)  # CI runs everything: a missing service is a failure, never a skip
        pytest.skip(reason)
    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    log_path = ARTIFACTS / "browser-server.log"
    with django_db_blocker.unblock():
        database_url = shared_database_url()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "circuitos_site.settings_test",
        "DATABASE_URL": database_url,
        # The embedded (in-process) broker: the server's own worker runs the test executions.
        "CELERY_BROKER_URL": "memory://localhost/",
        "CELERY_QUEUE": f"browser-{port}",
        "CHANNELS_PREFIX": f"browser-{port}",
        "DB_CONN_MAX_AGE": "0",  # no idle connections left behind when the test database is dropped
        "ENGINE_RESUME_EVERY": "1",
        "LOG_LEVEL": "WARNING",
        "DEMO_ENDPOINTS": "1",  # the demo's local site, feed and Slack inbox (Lead Processing AI's browser test)
    }
    log = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = LiveServer(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the test server exited ({process.returncode}):\n{server.log()}")
        try:
            with urllib.request.urlopen(server.url + "/health", timeout=2) as response:  # the loopback test server
                if response.status == 200:
                    break
        except Exception:
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"the test server did not answer within 60 s:\n{server.log()}") from None
            time.sleep(0.3)
    yield server
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)
    log.close()


@pytest.fixture(scope="package")
def chromium():
    """One browser for the browser tests only: Playwright's sync API keeps an event loop running
    in this thread while it lives, so it must be gone before the async tests elsewhere run."""
    from playwright.sync_api import expect, sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"Chromium is missing at {CHROMIUM}: run scripts/setup_chromium.sh (as root)")
    # With that loop running, the plain synchronous ORM calls the tests make between page
    # actions would be refused; allow them for exactly as long as the browser lives.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            # expect() waits 5 s by default, page actions 15 s (below): on a busy 2-core machine a
            # save, a validation or a run's next event can take longer, so assertions wait as long.
            expect.set_options(timeout=EXPECT_TIMEOUT_MS)
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@dataclass
class Session:
    """One signed-in browser context, with the console errors and failed requests it saw."""

    context: object
    page: object
    server: LiveServer
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)

    def record_console(self, msg) -> None:
        url = msg.location.get("url", "")
        # The sign-in page (base layout) has no favicon: Chromium's own request for one is not the page's error.
        if msg.type == "error" and not url.endswith("/favicon.ico"):
            self.console_errors.append(f"{msg.text} ({url})")

    def goto(self, path: str):
        return self.page.goto(self.server.url + path)

    def screenshot(self, name: str, *, copy_to_docs: bool = False) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        if copy_to_docs:
            docs = ROOT / "docs" / "screenshots"
            docs.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, docs / f"{name}.png")
        return path


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.browser_failed = report.failed


@pytest.fixture
def browser_session(request, chromium, asgi_server, transactional_db):
    """`browser_session(user=None, viewport=...)` → a Session; signs in through the login form."""
    opened: list[Session] = []

    def _open(user=None, *, width: int = 1280, height: int = 800, password: str = PASSWORD) -> Session:
        context = chromium.new_context(viewport={"width": width, "height": height}, base_url=asgi_server.url)
        page = context.new_page()
        page.set_default_timeout(15_000)
        session = Session(context=context, page=page, server=asgi_server)
        page.on("console", lambda msg: session.record_console(msg))
        page.on("pageerror", lambda exc: session.console_errors.append(f"page error: {exc}"))
        page.on("response", lambda r: session.failed_requests.append(f"{r.status} {r.request.method} {r.url}") if r.status >= 400 else None)
        if user is not None:
            page.goto(asgi_server.url + "/accounts/login/")
            page.fill("input[name=username]", user.get_username())
            page.fill("input[name=password]", password)
            page.click("button[type=submit], input[type=submit]")
            page.wait_for_url(lambda url: "/accounts/login/" not in url)
        opened.append(session)
        return session

    yield _open
    for i, session in enumerate(opened):
        if getattr(request.node, "browser_failed", False):
            session.screenshot(f"failed-{request.node.name[:60]}-{i}")
            # What the page saw go wrong, beside the picture: refused requests and console errors.
            seen = ["failed requests:", *session.failed_requests, "console errors:", *session.console_errors]
            (ARTIFACTS / f"failed-{request.node.name[:60]}-{i}.txt").write_text("\n".join(seen) + "\n")
        session.context.close()
