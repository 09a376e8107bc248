"""With DEBUG=0 the builder's ES modules load under hashed names, and so do their imports.

`collectstatic` runs for real (a subprocess on the production settings, as scripts/run.sh runs
it). The builder page, rendered with that manifest storage, must load its entry module by its
hashed name, and its import map must send every relative import of every collected module
(`./util.js` resolves to /static/builder/util.js) to a hashed file that was collected — else
the browser would load an unhashed or stale module behind whitenoise's far-future caching.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urljoin

import pytest
from django.test import override_settings

from tests.builder.helpers import flow
from tests.http.test_debug_off import ROOT, production_env

IMPORT = re.compile(r"""^\s*(?:import|export)\b[^;]*?\bfrom\s*['"](?P<url>\.[^'"]+)['"]\s*;""", re.M | re.S)
HASHED = re.compile(r"/static/builder/\w+\.[0-9a-f]{12}\.js")
PRODUCTION_STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}


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
    return static_root


@pytest.mark.django_db
def test_the_builder_page_loads_hashed_modules_and_maps_every_relative_import_to_a_hashed_file(collected, world, client_for):
    flow(world)
    with override_settings(STORAGES=PRODUCTION_STORAGES, STATIC_ROOT=collected, STATIC_URL="/static/"):
        page = client_for(world.viewer).get("/t/acme/circuits/flow/edit").content.decode()
    entry = re.search(r'<script type="module" src="([^"]+)"', page).group(1)
    assert HASHED.fullmatch(entry), entry
    imports = json.loads(re.search(r'<script type="importmap">(.*?)</script>', page, re.S).group(1))["imports"]
    own = {address: target for address, target in imports.items() if address.startswith("/static/builder/")}
    sources = ROOT / "static" / "builder"
    assert set(own) == {f"/static/builder/{path.relative_to(sources).as_posix()}" for path in sources.rglob("*.js")}
    for target in imports.values():  # ours and npm's: every one a collected, hashed file
        assert re.search(r"\.[0-9a-f]{12}\.(m?js)$", target) and (collected / target.removeprefix("/static/")).is_file(), target
    # Follow every module from the entry, as the browser would: each import is in the map.
    seen, queue = set(), [entry]
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        seen.add(url)
        source = (collected / url.removeprefix("/static/")).read_text()
        for match in IMPORT.finditer(source):
            address = urljoin(url, match.group("url"))  # what the browser resolves `./x.js` to
            unhashed = re.sub(r"\.[0-9a-f]{12}\.js$", ".js", address)
            assert address.startswith("/static/builder/") and unhashed in imports, f"{url} imports {match.group('url')}"
            queue.append(imports[unhashed])
    # main, util, document, canvas, panels, runs and the API client: all reached, none twice under two names.
    assert {re.sub(r"\.[0-9a-f]{12}\.js$", ".js", u).rsplit("/", 1)[1] for u in seen} >= {
        "main.js",
        "util.js",
        "document.js",
        "canvas.js",
        "panels.js",
        "runs.js",
        "api.js",
    }


def test_the_builder_is_modules_and_builder_js_is_gone():
    template = (ROOT / "templates/builder/builder.html").read_text()
    assert """<script type="module" src="{% static 'builder/main.js' %}"></script>""" in template
    assert "builder.js" not in template and not (ROOT / "static/builder/builder.js").exists()
