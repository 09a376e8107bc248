"""Inbound webhooks: POST /hooks/<token>.

The URL's token is unguessable (the "secret token" mode). With `auth: hmac` the sender also
signs each delivery with the tenant's webhook_secret credential:

    X-Circuit-Timestamp: <Unix time in seconds when it signed>
    X-Circuit-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." followed by the raw body>

A signature is accepted within WEBHOOK_SIGNATURE_TOLERANCE_SECONDS of its timestamp, and
only once: a replayed delivery (same signature) is refused, so a captured request cannot be
sent again. The body (JSON or form) is size-limited (the ASGI layer enforces the site-wide
limit while reading; `max_bytes` of the trigger is the webhook's own) and parsed strictly:
NaN, out-of-range numbers, NUL characters, lone surrogates or nesting deeper than
JSON_MAX_DEPTH get 400 problem+json naming the problem. A worker runs the execution and the
answer is 202 with the execution id and its API `url` (also `Location`) at once; or — with
`respond: wait` — the circuit runs right here, written once at the end
(circuits/automation/engine/inline.py), and the answer is its output once it finished, if it
does within `wait_timeout_seconds`; otherwise 202 as before and the run goes on in a worker
(the wait bounds the answer, never the run). Where inline runs are not available a worker runs
it and the request watches (circuits/automation/engine/waiting.py).

POST /hooks/<token>/test is the webhook's test URL, like n8n's: it is accepted only while
someone listens for a test event in the builder (`listen()`, a flag in the shared cache for
LISTEN_SECONDS), and the one delivery that takes the flag starts a *test* run of the draft, as
the listening user, with the same payload shape. Otherwise it answers 404 and runs nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import time
from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import SuspiciousOperation, ValidationError
from django.http import HttpRequest, JsonResponse
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from circuits.automation.dispatch import NotRunnable, create_execution, enqueue
from circuits.automation.engine import inline
from circuits.automation.engine.waiting import wait_for_outcome
from circuits.automation.models.execution import Execution, ExecutionStatus
from circuits.automation.models.trigger import Trigger
from circuits.automation.services.executions import StartExecution
from circuits.automation.triggers.kinds.webhook import WebhookTrigger
from circuits.automation.triggers.lookup import webhook_target
from circuits.core import logs, metrics, strict_json
from circuits.core.problems import problem_response
from circuits.tenancy.credentials import read_credential
from circuits.web.locations import execution_url

log = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-Circuit-Timestamp"
SIGNATURE_HEADER = "X-Circuit-Signature"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _problem(status: int, title: str, detail: str, code: str = "") -> JsonResponse:
    # The reason label is the (fixed) title: "Bad Signature" → bad_signature; a small, closed set.
    metrics.webhook_rejected(title.lower().replace(" ", "_"))
    return problem_response(status, detail, title=title, code=code)


def signature_for(secret: str, timestamp: str | int, body: bytes) -> str:
    """The X-Circuit-Signature value a sender computes (documented; used by tests and examples)."""
    return "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def tolerance_seconds() -> int:
    return int(getattr(settings, "WEBHOOK_SIGNATURE_TOLERANCE_SECONDS", 300))


def _check_signature(request: HttpRequest, trigger: Trigger, secret: str, raw: bytes) -> JsonResponse | None:
    """None when the delivery is signed, fresh and new; otherwise the refusal."""
    window = tolerance_seconds()
    stamp = request.headers.get(TIMESTAMP_HEADER, "").strip()
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        return _problem(
            401,
            "Bad Signature",
            f"{TIMESTAMP_HEADER} must be the Unix time in seconds at which the delivery was signed, and "
            f'{SIGNATURE_HEADER} must be sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>" with the webhook secret>.',
        )
    age = int(time.time()) - int(stamp)
    if abs(age) > window:
        when = f"{age} s ago" if age > 0 else f"{-age} s in the future"
        detail = f"The delivery was signed {when}; signatures are accepted for {window} s. Sign each delivery when sending it (and check the sender's clock)."
        return _problem(401, "Stale Signature", detail)
    given = request.headers.get(SIGNATURE_HEADER, "")
    if not hmac.compare_digest(signature_for(secret, stamp, raw), given):
        detail = f'{SIGNATURE_HEADER} must be sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>" with the secret>; <timestamp> is {TIMESTAMP_HEADER}.'
        return _problem(401, "Bad Signature", detail)
    # Remember the signature until its timestamp leaves the window: within it, the same
    # signature a second time is a replay. cache.add is atomic (SET NX in Redis), so two
    # concurrent copies of one delivery cannot both pass.
    remember = max(1, int(stamp) + window - int(time.time()) + 1)
    key = "webhook-signature:" + hashlib.sha256(f"{trigger.pk}:{given}".encode()).hexdigest()
    try:
        first = cache.add(key, 1, timeout=remember)
    except Exception:  # the shared cache is unreachable: refuse (retryably) rather than risk a replay
        log.warning("webhook replay check failed for trigger %s", trigger.pk, exc_info=True)
        return _problem(503, "Service Unavailable", "The delivery cannot be checked for replays right now; send it again shortly.")
    if not first:
        detail = "This signature was already used; a delivery is accepted once. Send a new delivery with a new timestamp and signature."
        return _problem(409, "Replayed Delivery", detail)
    return None


def _form(request: HttpRequest, raw: bytes, content_type: str) -> dict[str, Any]:
    """Form fields, decoded strictly: invalid UTF-8 or text the database cannot store is refused."""
    if content_type == "multipart/form-data":
        try:
            fields, _files = MultiPartParser(request.META, io.BytesIO(raw), request.upload_handlers, "utf-8").parse()
        except (MultiPartParserError, SuspiciousOperation, UnicodeDecodeError, ValueError) as exc:
            raise strict_json.JSONRefused(f"The multipart form body is malformed: {exc}.") from None
        pairs = list(fields.lists())
    else:
        try:
            text = raw.decode("utf-8")
            flat = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS)
        except UnicodeDecodeError:
            raise strict_json.JSONRefused("The form body is not valid UTF-8 (after percent-decoding).") from None
        except ValueError as exc:  # more fields than DATA_UPLOAD_MAX_NUMBER_FIELDS
            raise strict_json.JSONRefused(f"The form body is refused: {exc}.") from None
        grouped: dict[str, list[str]] = {}
        for key, value in flat:
            grouped.setdefault(key, []).append(value)
        pairs = list(grouped.items())
    for key, values in pairs:
        strict_json.check_text(key, "A form field name")
        for value in values:
            strict_json.check_text(value, f"The form field {key!r}")
    return {k: v[0] if len(v) == 1 else v for k, v in pairs}


def _parse_body(request: HttpRequest, raw: bytes) -> dict:
    content_type = request.content_type or ""
    if not raw:
        return {}
    if content_type in FORM_TYPES:
        return _form(request, raw, content_type)
    parsed = strict_json.loads(raw)
    return parsed if isinstance(parsed, dict) else {"data": parsed}


def _query(request: HttpRequest) -> dict[str, str]:
    query = dict(request.GET.items())
    for key, value in query.items():
        strict_json.check_text(key, "A query parameter name")
        strict_json.check_text(value, f"The query parameter {key!r}")
    return query


def _receive(request: HttpRequest, trigger: Trigger) -> dict | JsonResponse:
    """The delivery's payload ({body, query, headers}), or the refusal: size, signature, parsing."""
    config = trigger.config or {}
    max_bytes = int(config.get("max_bytes", 1_000_000))
    declared = request.META.get("CONTENT_LENGTH") or "0"
    length = int(declared) if declared.isdigit() else 0
    if length > max_bytes:
        return _problem(413, "Payload Too Large", f"The body is {length} bytes; this webhook accepts at most {max_bytes}.", "payload_too_large")
    # Read the stream (not request.body): the webhook's own max_bytes may exceed Django's
    # DATA_UPLOAD_MAX_MEMORY_SIZE, and the site-wide cap was enforced while it arrived.
    raw = request.read(max_bytes + 1)
    if len(raw) > max_bytes:
        return _problem(413, "Payload Too Large", f"The body is larger than {max_bytes} bytes.", "payload_too_large")
    if config.get("auth") == "hmac":
        try:
            secret = read_credential(trigger.tenant, config["secret_credential"], "webhook_secret")["secret"]
        except Exception:
            return _problem(500, "Misconfigured", "The webhook's HMAC secret credential is missing.")
        refused = _check_signature(request, trigger, secret, raw)
        if refused is not None:
            return refused
    content_type = request.content_type or ""
    try:
        body = _parse_body(request, raw)
    except strict_json.JSONRefused as exc:
        title = "Invalid Form Body" if content_type in FORM_TYPES else "Malformed JSON"
        metrics.webhook_rejected("invalid_body")
        return problem_response(400, exc.detail, code="parse_error", title=title, line=exc.line, column=exc.column, path=exc.path)
    try:
        query = _query(request)
    except strict_json.JSONRefused as exc:
        metrics.webhook_rejected("invalid_query")
        return problem_response(400, exc.detail, code="bad_request", title="Invalid Query String", path=exc.path)
    return {"body": body, "query": query, "headers": {"content-type": content_type}}


def _trigger(token: str) -> Trigger | None:
    trigger = Trigger.objects.select_related("circuit", "tenant").filter(webhook_token=token, type=WebhookTrigger.type).first()
    if trigger is not None:
        logs.bind(tenant=trigger.tenant.slug, circuit=trigger.circuit.slug, trigger_id=trigger.pk)
    return trigger


@csrf_exempt
@require_http_methods(["POST"])
def inbound_webhook(request: HttpRequest, token: str):
    # From this process's memory after the first call, until a trigger, circuit or version changes.
    target = webhook_target(token)
    if target is None:
        return _problem(404, "Not Found", "No webhook at this address.")
    trigger = target.trigger
    logs.bind(tenant=trigger.tenant.slug, circuit=trigger.circuit.slug, trigger_id=trigger.pk)
    if not (trigger.enabled and trigger.circuit.enabled):
        return _problem(409, "Disabled", "This webhook's circuit or trigger is disabled.")
    config = trigger.config or {}
    payload = _receive(request, trigger)
    if isinstance(payload, JsonResponse):
        return payload
    if target.version is None:
        return _problem(409, "Not Published", "The circuit has no published version.")
    waits = config.get("respond", "immediately") == "wait"
    wait_seconds = float(config.get("wait_timeout_seconds", 10))
    try:
        # A caller that waits: the run happens here, written once (circuits/automation/engine/inline.py);
        # None where inline runs are not available — then a worker runs it and the caller watches.
        execution = None
        if waits:
            execution = inline.run_waited(trigger.circuit, payload, version=target.version, trigger=trigger, tenant=trigger.tenant, wait_seconds=wait_seconds)
        if execution is None:
            execution = create_execution(trigger.circuit, payload, version=target.version, trigger=trigger)
            logs.bind(execution_id=execution.pk)  # carried to the worker's task with the request id
            log.info("webhook delivery accepted: execution %s", execution.pk)
            # A worker runs it in every mode (the sender's wait never bounds the run); a waiting sender's on the interactive queue.
            enqueue(execution, "interactive" if waits else None)
            if not waits:
                return _accepted(request, execution)
            execution = wait_for_outcome(execution.pk, wait_seconds)
    except NotRunnable as exc:
        return _problem(409, "Not Runnable", str(exc))
    return _answer(request, execution)


def _answer(request: HttpRequest, execution: Execution) -> JsonResponse:
    """What a waiting sender hears: the output, a refusal, a failure, or 202 while the run goes on."""
    if execution.status == ExecutionStatus.FAILED:
        error = execution.error or {}
        if error.get("type") == "stop":
            # Stop(failed) is a deliberate refusal (422) whose message and output the circuit's author wrote for the sender.
            refusal = {"type": "stop", "message": error.get("message")}
            return JsonResponse({"execution_id": execution.pk, "status": execution.status, "output": execution.output, "error": refusal}, status=422)
        # Any other failure is the server side failing (502). The sender is anonymous: an error
        # message can carry internal addresses, a step's configuration or a remote server's
        # answer, so it stays on the execution page for the tenant's members.
        failure = {"type": error.get("type", "error"), "message": "The circuit failed."}
        return JsonResponse({"execution_id": execution.pk, "status": execution.status, "output": None, "error": failure}, status=502)
    if execution.status == ExecutionStatus.SUCCEEDED:
        return JsonResponse({"execution_id": execution.pk, "status": execution.status, "output": execution.output}, status=200)
    return _accepted(request, execution)  # still running (or parked) when the wait ran out: it goes on in the worker


# --- the test URL ---------------------------------------------------------------------------------

LISTEN_SECONDS = 120


def _listen_key(trigger: Trigger) -> str:
    return f"webhook-test-listen:{trigger.pk}"


def _result_key(listen_id: str) -> str:
    return f"webhook-test-result:{listen_id}"


def listen(trigger: Trigger, user, listen_id: str) -> None:
    """Wait for the next delivery to the trigger's test URL (replacing an earlier listener)."""
    cache.set(_listen_key(trigger), {"user": user.pk, "listen": listen_id}, timeout=LISTEN_SECONDS)


def stop_listening(trigger: Trigger, listen_id: str) -> None:
    current = cache.get(_listen_key(trigger))
    if current and current.get("listen") == listen_id:
        cache.delete(_listen_key(trigger))


def listen_result(trigger: Trigger, listen_id: str) -> dict:
    """{"execution": id} or {"error": text} once a delivery came; {"waiting": bool} before."""
    result = cache.get(_result_key(listen_id))
    if result is not None:
        return result
    current = cache.get(_listen_key(trigger))
    return {"waiting": bool(current and current.get("listen") == listen_id)}


@csrf_exempt
@require_http_methods(["POST"])
def test_webhook(request: HttpRequest, token: str):
    trigger = _trigger(token)
    if trigger is None:
        return _problem(404, "Not Found", "No webhook at this address.")
    listener = cache.get(_listen_key(trigger))
    if not listener:
        return _problem(404, "Not Listening", 'Nobody is listening for a test event: press "Listen for test event" in the builder, then call this URL.')
    payload = _receive(request, trigger)
    if isinstance(payload, JsonResponse):
        return payload
    # One delivery per listen: the one that deletes the flag runs (DEL is atomic in Redis).
    if not cache.delete(_listen_key(trigger)):
        return _problem(404, "Not Listening", "Another test event was taken first; listen again for the next one.")
    result_key = _result_key(listener["listen"])
    user = get_user_model().objects.filter(pk=listener["user"], is_active=True).first()
    try:
        if user is None:
            raise ValidationError("The user who was listening is gone.")
        execution = StartExecution(trigger.tenant, user, trigger.circuit, payload, test=True, trigger_type=WebhookTrigger.type).execute()
    except ValidationError as exc:
        message = " ".join(exc.messages)
        cache.set(result_key, {"error": message, "payload": payload}, timeout=LISTEN_SECONDS)
        return _problem(409, "Not Runnable", f"The test event arrived but the draft could not run: {message}")
    cache.set(result_key, {"execution": execution.pk}, timeout=LISTEN_SECONDS)
    log.info("webhook test event accepted: test execution %s", execution.pk)
    return _accepted(request, execution)


def _accepted(request: HttpRequest, execution: Execution) -> JsonResponse:
    url = execution_url(request, execution.pk)
    response = JsonResponse({"execution_id": execution.pk, "status": execution.status, "url": url}, status=202)
    response["Location"] = url
    return response
