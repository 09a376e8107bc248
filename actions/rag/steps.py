"""rag.* — the retrieval half of AI steps, over the tenant's own documents.

Every step works inside `ctx.tenant` only (documents, chunks and feedback are scoped by the
services they call), with the engine as the actor: the circuit was allowed to run.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_datetime

from actions.sdk import Action, ActionError, Context, register
from circuits.records.models import Record
from intelligence.rag.ingest import IngestDocument, RecordFeedback
from intelligence.rag.search import search

_QUERY = {"type": "string", "minLength": 1, "maxLength": 1000, "title": "Query", "description": "What to look for, e.g. {{ trigger.company }} pricing."}
_K = {"type": "integer", "minimum": 1, "maximum": 20, "default": 5, "title": "Passages", "description": "How many passages to return."}
_FILTERS = {
    "type": "object",
    "title": "Filters",
    "description": "Restrict to documents: tags (all of), source_types, documents (ids), published_after/before (ISO dates), min_authority (0–1).",
    "additionalProperties": False,
    "properties": {
        "tags": {"type": "array", "items": {"type": "string"}},
        "source_types": {"type": "array", "items": {"type": "string", "enum": ["text", "markdown", "html", "pdf", "url", "record"]}},
        "documents": {"type": "array", "items": {"type": "integer", "minimum": 1}},
        "published_after": {"type": "string"},
        "published_before": {"type": "string"},
        "min_authority": {"type": "number", "minimum": 0, "maximum": 1},
    },
}
_ANSWER = {"type": "boolean", "default": True, "title": "Extractive answer", "description": "Also return the best sentences with their citations."}
_RETRIEVE_OUT = {
    "type": "object",
    "properties": {
        "query": {"type": "string"},
        "route": {"type": "object", "description": "The route the router chose and why (name, reason, weights)."},
        "passages": {"type": "array", "description": "Each passage: text, title, heading, score, scores (breakdown), citation."},
        "citations": {"type": "array", "description": "document_id, chunk_id, start, end, url of each passage."},
        "answer": {"type": "object", "description": "text and sentences, each with its citation."},
    },
}


def _error(exc: ValidationError) -> ActionError:
    if hasattr(exc, "message_dict"):
        return ActionError("; ".join(f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items()))
    return ActionError(" ".join(exc.messages))


class _Retrieve(Action):
    category = "rag"
    side_effects = False
    intents: frozenset[str] = frozenset()
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["query"],
        "properties": {"query": _QUERY, "k": _K, "filters": _FILTERS, "answer": _ANSWER},
    }
    output_schema = _RETRIEVE_OUT

    def run(self, ctx: Context, config: dict) -> dict:
        try:
            response = search(
                ctx.tenant, str(config["query"]), k=int(config.get("k", 5)), mode="auto", filters=config.get("filters"),
                intents=set(self.intents), answer=bool(config.get("answer", True)),
            )  # fmt: skip
        except ValidationError as exc:
            raise _error(exc) from None
        route = response["route"] or {}
        ctx.log(f"route {route.get('name')}: {route.get('reason')} — {len(response['results'])} passages in {response['took_ms']} ms")
        return {
            "query": response["query"],
            "route": route,
            "passages": response["results"],
            "citations": [r["citation"] for r in response["results"]],
            "answer": response.get("answer") or {"text": "", "sentences": []},
        }


@register
class RetrieveCompanyIntel(_Retrieve):
    name = "rag.retrieve_company_intel"
    label = "Retrieve Company Intel"
    description = "Search your documents for facts about companies, competitors and recent news (the router picks the route), with citations."
    intents = frozenset({"company_facts", "competitor", "recent_news"})


@register
class RetrieveBestPractices(_Retrieve):
    name = "rag.retrieve_best_practices"
    label = "Retrieve Best Practices"
    description = "Search your playbooks and how-to guides for the best practice on a topic (the router picks the route), with citations."
    intents = frozenset({"best_practice", "how_to"})


@register
class IngestDocumentAction(Action):
    name = "rag.ingest_document"
    category = "rag"
    label = "Ingest Document"
    description = "Add text, a web page (fetched through the outbound guard) or a record to the tenant's documents; unchanged content is skipped."
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "text": {"type": "string", "minLength": 1, "title": "Text", "description": "Markdown or plain text to ingest."},
            "url": {"type": "string", "minLength": 1, "title": "URL", "description": "An http(s) page or file to fetch and ingest."},
            "object_type": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,49}$", "title": "Record type", "description": "With record_id: ingest a record."},
            "record_id": {"type": ["integer", "string"], "title": "Record id", "description": "The record to ingest, e.g. {{ trigger.record.id }}."},
            "source": {
                "type": "string",
                "minLength": 1,
                "maxLength": 1000,
                "title": "Source",
                "description": "Names the document: the same source again replaces it. Defaults to the URL or record key.",
            },
            "title": {"type": "string", "maxLength": 300, "title": "Title", "description": "Defaults to the document's own title."},
            "tags": {
                "type": "array",
                "items": {"type": "string", "maxLength": 50},
                "maxItems": 20,
                "title": "Tags",
                "description": "Labels to filter by, e.g. competitor.",
            },
            "authority": {"type": "number", "minimum": 0, "maximum": 1, "title": "Authority", "description": "How much to trust it, 0–1 (default 0.5)."},
            "published_at": {"type": "string", "title": "Published", "description": "An ISO 8601 date; newer documents rank higher for recent questions."},
        },
    }
    output_schema = {
        "type": "object",
        "properties": {
            "document_id": {"type": "integer"},
            "source": {"type": "string"},
            "changed": {"type": "boolean", "description": "False when the same content was already there."},
            "chunk_count": {"type": "integer"},
            "status": {"type": "string", "description": "embedding (vectors are being computed) or ready."},
        },
    }

    @classmethod
    def check_config(cls, config: dict) -> list[str]:
        given = [name for name in ("text", "url", "object_type") if config.get(name) not in (None, "")]
        if len(given) != 1:
            return ["config: give exactly one of text, url or object_type (with record_id)"]
        if given == ["object_type"] and config.get("record_id") in (None, ""):
            return ["record_id: is required with object_type"]
        if given == ["text"] and not config.get("source"):
            return ["source: is required with text (it names the document)"]
        return []

    def run(self, ctx: Context, config: dict) -> dict:
        errors = self.validate_config(config, rendered=True)
        if errors:
            raise ActionError("; ".join(errors))
        meta: dict[str, Any] = {k: config[k] for k in ("title", "tags", "authority") if k in config}
        if config.get("published_at"):
            value = str(config["published_at"])
            try:
                when = parse_datetime(value + ("T00:00:00+00:00" if len(value) == 10 else ""))
            except ValueError:  # well formed but no such day (2025-02-30)
                when = None
            if when is None:
                raise ActionError(f"published_at: {value!r} is not an ISO 8601 date")
            meta["published_at"] = when
        if config.get("source"):
            meta["source"] = config["source"]
        try:
            if config.get("text"):
                service = IngestDocument.from_text(ctx.tenant, None, text=str(config["text"]), **meta)
            elif config.get("url"):
                service = IngestDocument.from_url(ctx.tenant, None, url=str(config["url"]), timeout=ctx.time_left(30), **meta)
            else:
                record_id = str(config["record_id"]).strip()
                # ASCII digits only: '²' and '١٢' pass isdigit(), and int('²') raises.
                pk = int(record_id) if record_id.isascii() and record_id.isdigit() else 0
                record = Record.objects.for_tenant(ctx.tenant).filter(object_type=config["object_type"], pk=pk).first()
                if record is None:
                    raise ActionError(f"{config['object_type']} record {record_id} not found")
                service = IngestDocument.from_record(ctx.tenant, None, record, **meta)
            result = service.execute()
        except ValidationError as exc:
            raise _error(exc) from None
        document = result.document
        ctx.log(f"{'ingested' if result.changed else 'unchanged'}: {document.source} ({document.chunk_count} chunks)")
        return {
            "document_id": document.pk,
            "source": document.source,
            "changed": result.changed,
            "chunk_count": document.chunk_count,
            "status": document.status,
        }


@register
class RecordRetrievalFeedback(Action):
    name = "rag.record_feedback"
    category = "rag"
    label = "Record Retrieval Feedback"
    description = "Give a passage a thumbs up or down; feedback moves passages up or down in later searches of this tenant."
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["chunk_id", "value"],
        "properties": {
            "chunk_id": {
                "type": ["integer", "string"],
                "title": "Passage",
                "description": "A passage's chunk_id, e.g. {{ steps.intel.output.passages[0].chunk_id }}.",
            },
            "value": {"type": "string", "enum": ["up", "down"], "title": "Feedback", "description": "up or down."},
            "query": {"type": "string", "maxLength": 1000, "title": "Query", "description": "The query the passage answered."},
        },
    }
    output_schema = {"type": "object", "properties": {"feedback_id": {"type": "integer"}, "chunk_id": {"type": "integer"}, "value": {"type": "integer"}}}

    def run(self, ctx: Context, config: dict) -> dict:
        chunk_id = config["chunk_id"]
        if isinstance(chunk_id, str) and chunk_id.strip().isascii() and chunk_id.strip().isdigit():
            chunk_id = int(chunk_id.strip())
        try:
            feedback = RecordFeedback(ctx.tenant, None, chunk_id=chunk_id, value=config["value"], query=config.get("query", "")).execute()
        except ValidationError as exc:
            raise _error(exc) from None
        return {"feedback_id": feedback.pk, "chunk_id": feedback.chunk_id, "value": feedback.value}
