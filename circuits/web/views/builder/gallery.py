"""The templates gallery: example circuits kept as circuit documents in `circuits/automation/gallery/`.

Each file is an ordinary export (format circuitos.circuit/v1), so a template is created with
the same ImportCircuit service as an uploaded file, and a test checks every file against the
document schema and the graph validator.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

GALLERY_DIR = Path(__file__).resolve().parents[3] / "automation" / "gallery"


@dataclass(frozen=True)
class GalleryTemplate:
    id: str  # the file name without .json
    name: str
    description: str
    tags: tuple[str, ...]
    trigger: str
    actions: tuple[str, ...]
    document_json: str  # kept as text so every use gets a fresh dict

    @property
    def document(self) -> dict:
        return json.loads(self.document_json)


@lru_cache(maxsize=1)
def templates() -> tuple[GalleryTemplate, ...]:
    found = []
    for path in sorted(GALLERY_DIR.glob("*.json")):
        document = json.loads(path.read_text())
        triggers = document.get("triggers") or [{"type": "manual"}]
        found.append(
            GalleryTemplate(
                id=path.stem,
                name=document.get("name", path.stem),
                description=document.get("description", ""),
                tags=tuple(document.get("tags", [])),
                trigger=triggers[0]["type"],
                actions=tuple(dict.fromkeys(n["action"] for n in document.get("nodes", []))),
                document_json=json.dumps(document),
            )
        )
    return tuple(found)


def get_template(template_id: str) -> GalleryTemplate | None:
    return next((t for t in templates() if t.id == template_id), None)
