"""Inbound webhooks: POST /hooks/<token>.

The URL's token is unguessable (the "secret token" mode); with `auth: hmac` the body must
also carry `X-Circuit-Signature: sha256=<hex HMAC-SHA256 of the raw body>` computed with the
tenant's webhook_secret credential. The body (JSON or form) is size-limited. The answer is
202 with the execution id at once, or — `respond: wait` — the circuit's output after it ran
in this process, bounded by `wait_timeout_seconds`.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from circuits.credentials import read_credential
from circuits.engine.start import NotRunnable, create_execution, enqueue, run_now
from circuits.models import ExecutionStatus, Trigger, TriggerType, VersionStatus


def _problem(status: int, title: str, detail: str) -> JsonResponse:
    response = JsonResponse({"type": "about:blank", "title": title, "status": status, "detail": detail}, status=status)
    response["Content-Type"] = "application/problem+json"
    return response


def _parse_body(request: HttpRequest, raw: bytes) -> dict | None:
    content_type = request.content_type or ""
    if not raw:
        return {}
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return {k: v[0] if len(v) == 1 else v for k, v in request.POST.lists()}
    parsed = json.loads(raw)
    return parsed if isinstance(parsed, dict) else {"data": parsed}


@csrf_exempt
@require_http_methods(["POST"])
def inbound_webhook(request: HttpRequest, token: str):
    trigger = Trigger.objects.select_related("circuit", "tenant").filter(webhook_token=token, type=TriggerType.WEBHOOK).first()
    if trigger is None:
        return _problem(404, "Not Found", "No webhook at this address.")
    if not (trigger.enabled and trigger.circuit.enabled):
        return _problem(409, "Disabled", "This webhook's circuit or trigger is disabled.")
    config = trigger.config or {}
    max_bytes = int(config.get("max_bytes", 1_000_000))
    length = int(request.headers.get("Content-Length") or 0)
    if length > max_bytes:
        return _problem(413, "Payload Too Large", f"The body is {length} bytes; this webhook accepts at most {max_bytes}.")
    raw = request.body
    if len(raw) > max_bytes:
        return _problem(413, "Payload Too Large", f"The body is larger than {max_bytes} bytes.")
    if config.get("auth") == "hmac":
        try:
            secret = read_credential(trigger.tenant, config["secret_credential"], "webhook_secret")["secret"]
        except Exception:
            return _problem(500, "Misconfigured", "The webhook's HMAC secret credential is missing.")
        expected = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
        given = request.headers.get("X-Circuit-Signature", "")
        if not hmac.compare_digest(expected, given):
            return _problem(401, "Bad Signature", "X-Circuit-Signature must be sha256=<HMAC-SHA256 of the raw body with the webhook secret>.")
    try:
        payload = _parse_body(request, raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return _problem(400, "Malformed JSON", f"The body is not valid JSON: {exc}")
    payload = {"body": payload, "query": dict(request.GET.items()), "headers": {"content-type": request.content_type}}
    if not trigger.circuit.versions.filter(status=VersionStatus.PUBLISHED).exists():
        return _problem(409, "Not Published", "The circuit has no published version.")
    try:
        execution = create_execution(trigger.circuit, payload, trigger=trigger)
    except NotRunnable as exc:
        return _problem(409, "Not Runnable", str(exc))
    if config.get("respond", "immediately") != "wait":
        enqueue(execution)
        return JsonResponse({"execution_id": execution.pk, "status": execution.status}, status=202)
    execution = run_now(execution, budget_seconds=float(config.get("wait_timeout_seconds", 10)))
    body = {"execution_id": execution.pk, "status": execution.status, "output": execution.output}
    if execution.status == ExecutionStatus.FAILED:
        body["error"] = execution.error
        # A circuit that failed is the server side failing (502); Stop(failed) is a deliberate refusal (422).
        return JsonResponse(body, status=502 if (execution.error or {}).get("type") != "stop" else 422)
    return JsonResponse(body, status=200 if execution.status == ExecutionStatus.SUCCEEDED else 202)
