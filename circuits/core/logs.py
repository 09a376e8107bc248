"""Structured logs (structlog): one JSON object a line, carrying where it happened.

Every log line — ours, Django's, Celery's — goes through structlog's ProcessorFormatter
(settings.LOGGING), which merges the context bound in this thread or task: `request_id` and
`route` (circuits/web/observability.py), `tenant`, and while the engine runs `circuit`,
`execution_id`, and per step `step` / `step_id` (circuits/automation/engine/runner.py). A
request's id travels to the Celery task it enqueues in a message header (`connect_celery`), so a
webhook's request and the worker's execution lines share it.

Secrets never reach a line: `redact_secrets` masks values under secret-sounding keys
(authorization, password, secret, token, credential, cookie, signature, api key) at any depth,
and bearer tokens, Circuit OS API keys and HMAC signatures inside any text, the message included.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import structlog
from structlog.contextvars import bind_contextvars, bound_contextvars, clear_contextvars, get_contextvars

from circuits.core import tracing

MASK = "[redacted]"
SECRET_KEY = re.compile(r"authorization|passw|secret|token|credential|cookie|signature|api[_-]?key|private[_-]?key", re.IGNORECASE)
# Keys that look like secrets by the pattern above but hold none.
NOT_SECRET = frozenset({"secret_credential", "credential_name", "credential_id", "token_count"})
SECRET_TEXT = [
    (re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{6,}"), r"\1 " + MASK),
    (re.compile(r"\bcos_[A-Za-z0-9_-]{8,}"), MASK),  # Circuit OS API keys
    (re.compile(r"\bsha256=[0-9a-fA-F]{16,}"), "sha256=" + MASK),  # webhook signatures
    (re.compile(r"(?i)\b(password|secret|token|api[_-]?key)=([^&\s\"']+)"), r"\1=" + MASK),  # in query strings and URLs
    (re.compile(r"/hooks/[^/\s\"'?]+"), "/hooks/" + MASK),  # a webhook's address is its credential
]
# Context a log line carries (also what the Celery header carries from web to worker).
CONTEXT_KEYS = ("request_id", "tenant", "circuit", "execution_id", "step", "step_id", "route")
HEADER = "circuitos_log_context"


def _scrub_text(text: str) -> str:
    for pattern, replacement in SECRET_TEXT:
        text = pattern.sub(replacement, text)
    return text


def scrub(value: Any, key: str = "", depth: int = 0) -> Any:
    if key and key.lower() not in NOT_SECRET and SECRET_KEY.search(key):
        return MASK
    if depth > 8:
        return "…"
    if isinstance(value, str):
        return _scrub_text(value)
    if isinstance(value, Mapping):
        return {k: scrub(v, str(k), depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [scrub(v, "", depth + 1) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    # Anything else (Django's `request` extra, an exception) is written as its text: scrub that.
    return _scrub_text(str(value))


def redact_secrets(_logger: Any, _method: str, event_dict: dict) -> dict:
    """structlog processor: the last word before a line is written."""
    return {k: (scrub(v) if k in ("event", "exception") else scrub(v, k)) for k, v in event_dict.items()}


def _drop_duplicates(_logger: Any, _method: str, event_dict: dict) -> dict:
    # A stdlib record's "%s" arguments are rendered into `event` already, and `message` (which
    # logging.Formatter sets on the record, so ExtraAdder copies it) repeats it.
    event_dict.pop("positional_args", None)
    event_dict.pop("message", None)
    return event_dict


def shared_processors() -> list:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
    ]


def formatter(json: bool) -> dict:
    """The LOGGING formatter entry: JSON lines, or key=value lines for a developer's console."""
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    return {
        "()": structlog.stdlib.ProcessorFormatter,
        "foreign_pre_chain": shared_processors(),
        "processors": [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _drop_duplicates,
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
    }


def configure() -> None:
    """structlog's own loggers hand their lines to stdlib logging, formatted like everyone's."""
    structlog.configure(
        processors=[*shared_processors(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def bind(**values: Any) -> None:
    bind_contextvars(**{k: v for k, v in values.items() if v is not None})
    tracing.annotate(**values)  # the same ids on the current span, when tracing is on


@contextmanager
def bound(**values: Any) -> Iterator[None]:
    with bound_contextvars(**{k: v for k, v in values.items() if v is not None}):
        tracing.annotate(**values)
        yield


def clear() -> None:
    clear_contextvars()


def carried_context() -> dict[str, Any]:
    """What a task enqueued now should log with (the request's id, the tenant, the execution)."""
    context = get_contextvars()
    return {k: context[k] for k in CONTEXT_KEYS if k in context and k != "route"}


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)


# --- web → Celery → engine: the context rides in a message header ----------------------------


def _add_context_header(headers: dict | None = None, **_kwargs: Any) -> None:
    context = carried_context()
    if context and headers is not None:
        headers[HEADER] = context


def _bind_task_context(task: Any = None, task_id: str | None = None, **_kwargs: Any) -> None:
    clear()
    request = getattr(task, "request", None)
    carried = getattr(request, HEADER, None) or (getattr(request, "headers", None) or {}).get(HEADER)
    if isinstance(carried, dict):
        bind(**{k: carried[k] for k in CONTEXT_KEYS if k in carried})
    bind(task=getattr(task, "name", None), task_id=task_id)


def _clear_task_context(**_kwargs: Any) -> None:
    clear()


def connect_celery() -> None:
    from celery.signals import before_task_publish, task_postrun, task_prerun

    before_task_publish.connect(_add_context_header, weak=False, dispatch_uid="circuitos-log-context-out")
    task_prerun.connect(_bind_task_context, weak=False, dispatch_uid="circuitos-log-context-in")
    task_postrun.connect(_clear_task_context, weak=False, dispatch_uid="circuitos-log-context-done")
