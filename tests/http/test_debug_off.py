"""The production shape with DEBUG=0: static files collected, served by whitenoise, every page loads.

Before: with DEBUG off every HTML page answered 500 "Missing staticfiles manifest entry for
'css/app.css'" until someone ran collectstatic. Now scripts/run.sh collects them, `serve`
refuses to start without them, and this test runs the real thing: `collectstatic` and
`manage.py serve` as subprocesses on the production settings module (not settings_test, which
swaps the manifest storage out), the demo tenant loaded, an owner signed in through the login
form, and every page reachable from the tenant's pages fetched — none may answer 500 and every
asset they name must load.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from django.conf import global_settings
from django.core.management import call_command
from django.test import override_settings

from tests.fixtures import needs_postgres
from tests.http.conftest import launch_server, stop_server
from tests.live import free_port

pytestmark = [needs_postgres()]

ROOT = Path(__file__).resolve().parents[2]
MAX_PAGES = 400  # the demo tenant has far fewer; a bound so a link loop cannot hang the suite
# Links that change state or leave the site on a GET are not pages to load.
# Where the crawl starts: the home pages, and pages a menu may only reach through a script.
START = ["/", "/t/acme/", "/t/acme/dashboard/", "/t/acme/events/", "/t/acme/notifications/", "/t/acme/search/", "/api/docs/"]
SKIP = re.compile(r"/accounts/logout/|/export|\.csv$|\.json$")


def inherited_env() -> dict[str, str]:
    """This process's environment less what would make a child a test or debug process."""
    return {key: value for key, value in os.environ.items() if key not in ("DJANGO_SETTINGS_MODULE", "DEBUG", "STATIC_ROOT") and not key.startswith("PYTEST")}


def production_settings(static_root: Path) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "circuitos_site.settings",
        "DEBUG": "0",
        "SECRET_KEY": "debug-off-test-key-not-a-secret-" + "x" * 20,
        "STATIC_ROOT": str(static_root),
        "ALLOWED_HOSTS": "127.0.0.1",
        # Plain HTTP on the loopback: no TLS redirect, cookies without the Secure flag.
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "LOG_LEVEL": "WARNING",
    }


def production_env(static_root: Path) -> dict[str, str]:
    return {**inherited_env(), **production_settings(static_root)}


@pytest.fixture(scope="module")
def collected(tmp_path_factory) -> Path:
    static_root = tmp_path_factory.mktemp("staticfiles")
    done = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=production_env(static_root),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert (static_root / "staticfiles.json").is_file()
    return static_root


@pytest.fixture(scope="module")
def production_server(collected, django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[str]:
    # The test server's variables (its database, queue, channel prefix) over this process's
    # environment less DEBUG and PYTEST_*, and the production settings over them (the production
    # settings module, not the test one).
    with django_db_blocker.unblock():
        server = launch_server(
            "debug-off", tmp_path_factory.mktemp("debug-off-tmp"), {**production_settings(collected), "DB_CONN_MAX_AGE": "0"}, environ=inherited_env()
        )
    yield server.url
    stop_server(server)


def test_serve_refuses_to_start_with_debug_off_until_static_files_are_collected(tmp_path):
    done = subprocess.run(
        [sys.executable, "manage.py", "serve", "--port", str(free_port()), "--no-worker"],
        cwd=ROOT,
        env=production_env(tmp_path / "empty"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "collectstatic" in done.stderr


def sign_in(client: httpx.Client, username: str, password: str) -> None:
    page = client.get("/accounts/login/")
    assert page.status_code == 200, page.text[:500]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = client.post(
        "/accounts/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": str(client.base_url) + "/accounts/login/"},
    )
    assert answer.status_code == 302, answer.text[:500]


def links(html: str, base: str) -> tuple[set[str], set[str]]:
    """(pages, assets) the HTML names on this site: hrefs of anchors, and stylesheet/script/image sources."""
    pages, assets = set(), set()
    for match in re.finditer(r'<a\b[^>]*\bhref="([^"#]+)', html):
        pages.add(urljoin(base, match.group(1).replace("&amp;", "&")))
    for match in re.finditer(r'<(?:link|script|img)\b[^>]*\b(?:href|src)="(/static/[^"]+)"', html):
        assets.add(match.group(1))
    return pages, assets


def test_with_debug_off_every_page_of_the_demo_tenant_loads_with_its_static_files(production_server, transactional_db, tmp_path):
    # The server checks passwords with the production hashers, not the suite's fast MD5.
    with override_settings(VAR_DIR=tmp_path, PASSWORD_HASHERS=global_settings.PASSWORD_HASHERS):
        call_command("load_demo", "--base-url", production_server, stdout=io.StringIO())
        password = json.loads((tmp_path / "demo_logins.json").read_text())["owner@acme.test"]

    with httpx.Client(base_url=production_server, timeout=30, follow_redirects=False) as client:
        sign_in(client, "owner@acme.test", password)
        queue, seen, assets, failures = deque(START), set(), set(), []
        while queue and len(seen) < MAX_PAGES:
            path = queue.popleft()
            if path in seen:
                continue
            seen.add(path)
            response = client.get(path)
            if response.status_code >= 500:
                failures.append(f"{response.status_code} {path}: {response.text[:300]}")
                continue
            if response.is_redirect:
                target = urlsplit(urljoin(production_server + path, response.headers["location"]))
                if target.netloc == urlsplit(production_server).netloc:
                    queue.append(target.path + (f"?{target.query}" if target.query else ""))
                continue
            if "text/html" not in response.headers.get("content-type", ""):
                continue
            found_pages, found_assets = links(response.text, production_server + path)
            assets |= found_assets
            for url in found_pages:
                parts = urlsplit(url)
                local = parts.path + (f"?{parts.query}" if parts.query else "")
                if parts.netloc == urlsplit(production_server).netloc and not SKIP.search(parts.path) and local not in seen:
                    queue.append(local)

        assert not failures, "\n".join(failures)
        tenant_pages = {p for p in seen if p.startswith("/t/acme/")}
        # The crawl really walked the tenant: circuits, builder, executions, records, settings, documents.
        for expected in ("/t/acme/circuits/", "/t/acme/executions/", "/t/acme/records/", "/t/acme/settings/members/"):
            assert expected in tenant_pages, sorted(tenant_pages)
        assert any(re.fullmatch(r"/t/acme/circuits/[\w-]+/edit", p) for p in tenant_pages), sorted(tenant_pages)
        assert len(tenant_pages) >= 15, sorted(tenant_pages)

        # Hashed names from the manifest, served by whitenoise with far-future caching.
        assert any(re.fullmatch(r"/static/css/app\.[0-9a-f]{12}\.css", a) for a in assets), sorted(assets)
        for asset in sorted(assets):
            served = client.get(asset)
            assert served.status_code == 200, asset
            assert "max-age=315360000" in served.headers.get("cache-control", ""), (asset, served.headers)
