"""The import map that lets the builder's ES modules load under hashed names (no bundler).

With DEBUG=0 the static files are served with content-hashed names and far-future cache
headers (whitenoise). The modules import each other as `./util.js`; from the hashed
`/static/builder/main.<hash>.js` that resolves to the unhashed `/static/builder/util.js`.
The page's import map sends each of those addresses to the hashed file. Rewriting the
imports inside the files instead cannot work here: the modules import each other in a cycle
(canvas ↔ document ↔ panels), so each file's hash would depend on its own (Django's
post-processing gives up: "Max post-process passes exceeded").

The map is part of the HTML (never cached forever), each hashed module is immutable, and a
module added to static/builder/ is in the map without further ado.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.templatetags.static import static
from django.utils.safestring import SafeString, mark_safe

FOLDER = "builder"


def module_names(folder: str = FOLDER) -> list[str]:
    """The .js files of a static folder (from the source tree, which collectstatic reads too)."""
    source = Path(settings.BASE_DIR) / "static" / folder
    return sorted(p.name for p in source.glob("*.js"))


def import_map(folder: str = FOLDER) -> dict:
    base = settings.STATIC_URL.rstrip("/") + "/"
    return {"imports": {f"{base}{folder}/{name}": static(f"{folder}/{name}") for name in module_names(folder)}}


def import_map_script(folder: str = FOLDER) -> SafeString:
    """`<script type="importmap">…</script>`: before any module script of the page."""
    text = json.dumps(import_map(folder), separators=(",", ":")).replace("<", "\\u003c")  # never closes the script
    return mark_safe(f'<script type="importmap">{text}</script>')  # noqa: S308 - JSON of our own file names, "<" escaped
