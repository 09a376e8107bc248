"""The import map that lets the browser load ES modules by bare name, without a bundler.

`settings.NPM_MODULES` names each npm module (`@codemirror/view` → its file under
node_modules), served as static files under `vendor/npm/` (settings.STATICFILES_DIRS); our own
modules are the files under `static/builder/`, imported as `builder/<path without .js>`
(`builder/api`, `builder/expressions/editor`), or by a relative path (`./util.js`) that
resolves to their unhashed address, which the map sends to the hashed file too.
Every address goes through `static()`, so with DEBUG off (collectstatic, the manifest storage)
the map points at the hashed, cache-forever names; the map itself is part of the HTML, which is
never cached forever.
"""

from __future__ import annotations

import json
from functools import lru_cache

from django.conf import settings
from django.templatetags.static import static
from django.utils.safestring import SafeString, mark_safe

OWN_MODULES_DIR = "builder"  # under static/


def _own_modules() -> dict[str, str]:
    """builder/<path> → its static name, for every script under static/builder/ (a classic
    script among them is simply never imported)."""
    static_dir = settings.BASE_DIR / "static"
    files = [path.relative_to(static_dir) for path in sorted((static_dir / OWN_MODULES_DIR).rglob("*.js"))]
    return {file.with_suffix("").as_posix(): file.as_posix() for file in files}


@lru_cache(maxsize=1)
def _cached() -> dict:
    return _build()


def _build() -> dict:
    imports = {}
    for specifier, file in settings.NPM_MODULES.items():
        if (settings.NODE_MODULES_DIR / file).is_file():  # an npm package not installed yet is left out
            imports[specifier] = static(f"vendor/npm/{file}")
    base = settings.STATIC_URL.rstrip("/") + "/"
    for specifier, file in _own_modules().items():
        imports[specifier] = static(file)
        # The builder's modules import each other as `./x.js` (resolved to the unhashed
        # /static/builder/x.js): their cycle (canvas ↔ document ↔ panels) rules out
        # rewriting the imports inside the files (collectstatic: "Max post-process passes
        # exceeded"), so the map sends each unhashed address to the hashed file instead.
        imports[f"{base}{file}"] = static(file)
    return {"imports": imports}


def import_map() -> dict:
    """{"imports": {specifier: URL}}; built once per process when files no longer change (DEBUG off)."""
    return _build() if settings.DEBUG else _cached()


def script_tag() -> SafeString:
    """The `<script type="importmap">` for a page's head (before any module script)."""
    # "</" cannot appear inside the script element: escape it as JSON allows.
    text = json.dumps(import_map(), indent=None).replace("</", "<\\/")
    return mark_safe(f'<script type="importmap">{text}</script>')  # noqa: S308 — our own JSON, "</" escaped
