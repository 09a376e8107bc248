"""web.http_request against real local servers."""

from __future__ import annotations

import base64
import json
import time

import pytest

from actions.net import BlockedDestinationError, OutboundTimeoutError
from actions.sdk import ActionError, ConfigError, registry
from circuits.tenancy.credentials import save_credential

from .server import Reply, echo, redirect, reply, serve


def action():
    return registry.get("web.http_request")()


def api(seen, raw):
    return Reply(200, json.dumps({"items": [1, 2, 3], "page": seen.query.get("page", [""])[0]}), "application/json; charset=utf-8", {"X-Rate-Limit": "99"})


def test_http_request_gets_json_and_parses_it(ctx, allow):
    with serve({"/api": api}) as server:
        allow(server.allow)
        output = action().run(ctx, {"url": server.url("/api"), "query": {"page": 2}, "headers": {"Accept": "application/json"}})
    assert output["status"] == 200
    assert output["body"] == {"items": [1, 2, 3], "page": "2"}
    assert output["headers"]["x-rate-limit"] == "99"
    assert output["url"] == server.url("/api?page=2")
    assert isinstance(output["elapsed_ms"], int)
    assert server.requests[0].headers["accept"] == "application/json"
    assert ctx.logs[-1]["message"].startswith(f"GET http://127.0.0.1:{server.port}/api?… → 200")
    json.dumps(output)  # the output is JSON-serialisable


@pytest.mark.parametrize(
    ("body_type", "body", "content_type", "received"),
    [
        ("json", {"name": "Ada", "tags": ["x"]}, "application/json", '{"name":"Ada","tags":["x"]}'),
        ("form", {"name": "Ada Lovelace", "vip": True, "ids": [1, 2]}, "application/x-www-form-urlencoded", "name=Ada+Lovelace&vip=true&ids=1&ids=2"),
        ("raw", "plain <text>", None, "plain <text>"),
    ],
)
def test_http_request_sends_each_body_type(ctx, allow, body_type, body, content_type, received):
    with serve({"/echo": echo}) as server:
        allow(server.allow)
        output = action().run(ctx, {"method": "POST", "url": server.url("/echo"), "body_type": body_type, "body": body})
    seen = output["body"]
    assert seen["method"] == "POST"
    if body_type == "json":
        assert json.loads(seen["body"]) == body
    else:
        assert seen["body"] == received
    if content_type:
        assert seen["headers"]["content-type"] == content_type


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_http_request_uses_the_method_it_is_given(ctx, allow, method):
    with serve({"/echo": echo}) as server:
        allow(server.allow)
        assert action().run(ctx, {"method": method, "url": server.url("/echo")})["body"]["method"] == method


def test_http_request_head_returns_headers_and_no_body(ctx, allow):
    with serve({"/doc": reply(200, "a body", "text/plain", ETag='"v1"')}) as server:
        allow(server.allow)
        output = action().run(ctx, {"method": "HEAD", "url": server.url("/doc")})
    assert output["body"] is None
    assert output["headers"]["etag"] == '"v1"'


@pytest.mark.parametrize(
    ("kind", "secret", "header", "expected"),
    [
        ("http_bearer", {"token": "tok-123"}, "authorization", "Bearer tok-123"),
        ("http_basic", {"username": "ada", "password": "pw:1"}, "authorization", "Basic " + base64.b64encode(b"ada:pw:1").decode()),
        ("http_header", {"header": "X-Api-Key", "value": "key-456"}, "x-api-key", "key-456"),
    ],
)
def test_http_request_authenticates_with_a_credential_and_never_logs_it(ctx, allow, world, kind, secret, header, expected):
    save_credential(world.tenant, "api-auth", kind, secret)
    with serve({"/echo": echo}) as server:
        allow(server.allow)
        output = action().run(ctx, {"url": server.url("/echo"), "auth": "api-auth", "headers": {"X-Api-Key": "overridden"}})
    assert output["body"]["headers"][header] == expected
    logged = json.dumps(ctx.logs)
    for value in secret.values():
        assert value not in logged
    assert expected not in logged


def test_http_request_does_not_send_the_credential_to_another_origin_after_a_redirect(ctx, allow, world):
    save_credential(world.tenant, "api-auth", "http_header", {"header": "X-Api-Key", "value": "key-456"})
    with serve({"/echo": echo}) as other, serve({"/go": redirect(other.url("/echo"))}) as server:
        allow(server.allow, other.allow)
        output = action().run(ctx, {"url": server.url("/go"), "auth": "api-auth"})
    assert output["url"] == other.url("/echo")
    assert "x-api-key" not in output["body"]["headers"]


def test_http_request_with_a_missing_or_wrong_kind_of_credential_fails(ctx, allow, world):
    save_credential(world.tenant, "mail", "smtp", {"host": "smtp.example.test"})
    with serve({"/echo": echo}) as server:
        allow(server.allow)
        with pytest.raises(ActionError, match="No credential named 'nope'"):
            action().run(ctx, {"url": server.url("/echo"), "auth": "nope"})
        with pytest.raises(ActionError, match="'mail' is a smtp, expected http_basic or http_bearer or http_header"):
            action().run(ctx, {"url": server.url("/echo"), "auth": "mail"})
    assert server.requests == []


def test_http_request_fails_on_an_error_status_with_the_status_and_an_excerpt(ctx, allow):
    with serve({"/missing": reply(404, '{"error": "no such order"}', "application/json")}) as server:
        allow(server.allow)
        with pytest.raises(ActionError) as caught:
            action().run(ctx, {"url": server.url("/missing")})
        assert str(caught.value) == f'HTTP 404 Not Found from GET http://127.0.0.1:{server.port}/missing: {{"error": "no such order"}}'
        output = action().run(ctx, {"url": server.url("/missing"), "fail_on_status": False})
    assert output["status"] == 404
    assert output["body"] == {"error": "no such order"}


def test_http_request_response_type_decides_how_the_body_is_read(ctx, allow):
    routes = {"/json": reply(200, '{"a": 1}', "application/json"), "/text": reply(200, "just text"), "/broken": reply(200, "{nope", "application/json")}
    with serve(routes) as server:
        allow(server.allow)
        run = action().run
        assert run(ctx, {"url": server.url("/json"), "response_type": "text"})["body"] == '{"a": 1}'
        assert run(ctx, {"url": server.url("/text")})["body"] == "just text"
        assert run(ctx, {"url": server.url("/broken")})["body"] == "{nope"  # auto: keeps what is not JSON as text
        with pytest.raises(ActionError, match="is not valid JSON"):
            run(ctx, {"url": server.url("/text"), "response_type": "json"})


def test_http_request_refuses_loopback_without_allowlist(ctx):
    with serve({"/": reply(200, "internal")}) as server, pytest.raises(BlockedDestinationError, match=r"127\.0\.0\.1 is a loopback address; add it to the"):
        action().run(ctx, {"url": server.url("/")})
    assert server.requests == []


def test_http_request_refuses_a_redirect_to_a_port_outside_the_allowlist(ctx, allow):
    with serve({"/": reply(200, "internal")}) as internal, serve({"/go": redirect(internal.url("/"))}) as server:
        allow(server.allow)
        with pytest.raises(BlockedDestinationError):
            action().run(ctx, {"url": server.url("/go")})
    assert internal.requests == []


def test_http_request_stops_at_its_timeout_and_at_the_step_deadline(ctx, allow):
    def sleepy(seen, raw):
        server.stopping.wait(10)
        return Reply(200, "late")

    with serve({"/slow": sleepy}) as server:
        allow(server.allow)
        started = time.monotonic()
        with pytest.raises(OutboundTimeoutError):
            action().run(ctx, {"url": server.url("/slow"), "timeout_seconds": 0.5})
        assert time.monotonic() - started < 2
        ctx.deadline = time.monotonic() + 0.5
        started = time.monotonic()
        with pytest.raises(OutboundTimeoutError):
            action().run(ctx, {"url": server.url("/slow"), "timeout_seconds": 60})
        assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, "config: 'url' is a required property"),
        ({"url": "http://example.com", "method": "FETCH"}, "method: 'FETCH' is not one of"),
        ({"url": "ftp://example.com/file"}, "url: must be an http:// or https:// URL"),
        ({"url": ""}, "url: '' should be non-empty"),
        ({"url": "http://example.com", "body": {"a": 1}}, "body: set body_type to json, form or raw"),
        ({"url": "http://example.com", "body_type": "form", "body": [1]}, "body: a form body must be an object"),
        ({"url": "http://example.com", "timeout_seconds": 0}, "timeout_seconds:"),
        ({"url": "http://example.com", "headers": {"X-N": 1}}, "headers.X-N:"),
        ({"url": "http://example.com", "verb": "GET"}, "config: Additional properties are not allowed ('verb' was unexpected)"),
    ],
)
def test_http_request_bad_config_errors_name_the_field(config, expected):
    errors = registry.get("web.http_request").validate_config(config)
    assert any(error.startswith(expected) for error in errors), errors


def test_http_request_accepts_templates_at_save_time_and_checks_them_when_run(ctx):
    cls = registry.get("web.http_request")
    assert cls.validate_config({"url": "{{ trigger.url }}", "method": "POST", "body_type": "json", "body": "{{ trigger.payload }}"}) == []
    with pytest.raises(ConfigError, match="url: must be an http:// or https:// URL"):
        cls().run(ctx, {"url": "file:///etc/passwd"})


def test_http_request_sends_the_steps_idempotency_key_on_unsafe_methods_only(ctx, allow):
    ctx.idempotency_key = "f00d" * 12
    with serve({"/echo": echo}) as server:
        allow(server.allow)
        posted = action().run(ctx, {"method": "POST", "url": server.url("/echo"), "body_type": "json", "body": {"a": 1}})
        fetched = action().run(ctx, {"url": server.url("/echo")})
        chosen = action().run(ctx, {"method": "PUT", "url": server.url("/echo"), "headers": {"Idempotency-Key": "mine"}})
    assert posted["body"]["headers"]["idempotency-key"] == "f00d" * 12
    assert "idempotency-key" not in fetched["body"]["headers"]  # a GET changes nothing: no key
    assert chosen["body"]["headers"]["idempotency-key"] == "mine"  # a key the circuit sets itself wins
