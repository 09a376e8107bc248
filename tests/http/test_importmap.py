"""The builder's import map (circuits/web/importmap.py): every bare name its modules import is
mapped, to a file collectstatic wrote — with DEBUG off, to the hashed, cache-forever name."""

from __future__ import annotations

import json
import re
from pathlib import Path

from django.conf import settings
from django.test import override_settings

from circuits.web import importmap
from tests.builder.helpers import flow
from tests.http.test_debug_off import collected  # noqa: F401 — the module-scoped collectstatic run

IMPORT = re.compile(r"""(?:^|[\s;])(?:import|export)\s*(?:[^'";]*?\sfrom\s*)?['"]([^'"]+)['"]""", re.M)
HASHED = re.compile(r"\.[0-9a-f]{12}\.js$")


def bare_imports(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"/\*[\s\S]*?\*/", "", text)  # comments may quote example imports
    return {spec for spec in IMPORT.findall(text) if not spec.startswith((".", "/", "http"))}


def test_every_bare_import_of_every_mapped_module_is_in_the_map():
    imports = importmap.import_map()["imports"]
    assert {"@codemirror/view", "@codemirror/state", "@codemirror/autocomplete", "builder/expressions/editor", "builder/api"} <= set(imports)
    for specifier, url in imports.items():
        if specifier.startswith("/"):  # a module's own unhashed address (its relative imports resolve to it)
            continue
        own = settings.BASE_DIR / "static" / url.removeprefix("/static/")
        path = own if specifier.startswith("builder/") else settings.NODE_MODULES_DIR / settings.NPM_MODULES[specifier]
        assert path.is_file(), (specifier, url)
        missing = bare_imports(path) - set(imports)
        assert not missing, f"{specifier} imports {missing}, which the import map does not name"


def test_with_debug_off_the_map_names_the_hashed_files_collectstatic_wrote(collected):  # noqa: F811
    manifest = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}
    importmap._cached.cache_clear()  # built once per process with DEBUG off: build it for this STATIC_ROOT
    with override_settings(DEBUG=False, STATIC_ROOT=str(collected), STORAGES={**settings.STORAGES, "staticfiles": manifest}):
        imports = importmap.import_map()["imports"]
        tag = importmap.script_tag()
    importmap._cached.cache_clear()
    assert imports["@codemirror/view"].startswith("/static/vendor/npm/")
    for specifier, url in imports.items():
        assert HASHED.search(url), (specifier, url)
        assert (collected / url.removeprefix("/static/").replace("%40", "@")).is_file(), (specifier, url)
    assert json.loads(tag.removeprefix('<script type="importmap">').removesuffix("</script>")) == {"imports": imports}


def test_the_builder_page_carries_the_map_before_its_module_script(world, client_for):
    flow(world)
    html = client_for(world.editor).get("/t/acme/circuits/flow/edit").content.decode()
    at_map = html.index('<script type="importmap">')
    at_module = html.index('<script type="module"')
    assert at_map < at_module
    mapped = json.loads(html[at_map:].split(">", 1)[1].split("</script>", 1)[0])
    assert mapped == importmap.import_map()
