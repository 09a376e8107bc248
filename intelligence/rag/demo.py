"""The demo tenant's documents: account briefs, a competitor battlecard and a price list, so
*Retrieve Company Intel* in Lead Processing AI has the tenant's own knowledge to cite.

`load_demo` calls `load_demo_documents(tenant)` after the rest of the demo is committed: each
file of `data/demo/` is ingested like an upload (unchanged files are skipped, so loading again
changes nothing) and embedded here, in one batch, so the first search finds them without a worker.
"""

from __future__ import annotations

from pathlib import Path

from intelligence.rag.ingest import IngestDocument
from intelligence.rag.tasks import collected_embedding

DEMO_DIR = Path(__file__).resolve().parent / "data" / "demo"
TAGS = {"globex-battlecard": ["competitor"], "acme-pricing": ["pricing"]}


def load_demo_documents(tenant) -> int:
    """Ingest (or keep) the demo documents; returns how many changed."""
    changed = 0
    with collected_embedding():
        for path in sorted(DEMO_DIR.glob("*.md")):
            tags = ["demo", *TAGS.get(path.stem, ["account-brief"])]
            ingest = IngestDocument.from_text(tenant, None, text=path.read_text(encoding="utf-8"), source=f"demo/{path.name}", tags=tags, authority=0.9)
            changed += ingest.execute().changed
    return changed
