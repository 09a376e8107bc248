"""POST /api/v1/circuits/<slug>/expressions/preview and GET …/expressions/paths: the expression
editor's live preview and autocomplete, rendered by the engine's sandbox against the newest
test run of the circuit (its trigger payload, step outputs, vars) or a node's pinned data."""

from __future__ import annotations

import pytest

from circuits.automation.dispatch import create_execution
from circuits.automation.engine.runner import run_now
from circuits.automation.services.versions import SaveDraft, current_version
from tests.api.access import assert_problem
from tests.api.helpers import client_as, session_client
from tests.engine.helpers import build, chain, edge, node

V = "/api/v1"
PREVIEW = f"{V}/circuits/scorer/expressions/preview"
PATHS = f"{V}/circuits/scorer/expressions/paths"
NODES = [
    node("score", "util.transform", {"template": {"score": "{{ trigger.score * 2 }}", "email": "{{ trigger.email }}", "tags": ["a", "b"]}}),
    node("remember", "util.set_variable", {"variables": {"queue": "{{ 'hot' if steps.score.output.score > 100 else 'cold' }}"}}),
    node("notify", "util.log", {"message": "{{ steps.score.output.email }}"}),
]
PAYLOAD = {"email": "ada@example.com", "score": 60, "profile": {"first name": "Ada", "city": "Paris"}}


@pytest.fixture
def scorer(world):
    """A circuit whose newest test run scored Ada (score 120, queue hot); the draft it ran is current."""
    circuit = build(world, "scorer", NODES, chain("score", "remember", "notify"), publish=False)
    run_now(create_execution(circuit, PAYLOAD, version=current_version(circuit), is_test=True))
    return circuit


@pytest.fixture
def editor(world, scorer):
    return client_as(world, "editor")


def post(client, body, path=PREVIEW):
    return client.post(path, body, format="json")


def error_of(response) -> dict:
    assert response.status_code == 200, response.content[:300]
    return response.json()["error"]


# --- values ------------------------------------------------------------------------------


def test_a_single_expression_previews_its_value_with_its_type(world, scorer, editor):
    response = post(editor, {"expression": "{{ steps.score.output.score }}", "node": "notify"})
    assert response.status_code == 200
    body = response.json()
    assert body["value"] == 120 and body["type"] == "number"
    assert body["execution"] == scorer.executions.get(is_test=True).pk


def test_text_with_expressions_previews_as_text(world, scorer, editor):
    body = post(editor, {"expression": "Mail {{ trigger.email }} ({{ vars.queue }})"}).json()
    assert body == {"value": "Mail ada@example.com (hot)", "type": "string", "execution": body["execution"]}


def test_lists_and_objects_keep_their_shape(world, scorer, editor):
    body = post(editor, {"expression": "{{ steps.score.output }}", "node": "notify"}).json()
    assert body["type"] == "object" and body["value"]["tags"] == ["a", "b"] and body["value"]["email"] == "ada@example.com"


def test_a_step_that_ran_many_times_reads_its_last_result(world, editor):
    loop = node("each", "control.loop", {"items": "{{ trigger.items }}"})
    body = node("double", "util.transform", {"template": {"n": "{{ loop.item * 2 }}"}})
    after = node("after", "util.log", {"message": "done"})
    edges = [edge("trigger", "each"), edge("each", "double", "each"), edge("each", "after", "done")]
    circuit = build(world, "looped", [loop, body, after], edges, publish=False)
    run_now(create_execution(circuit, {"items": [1, 2, 3]}, version=current_version(circuit), is_test=True))
    body_ = post(editor, {"expression": "{{ steps.double.output.n }}", "node": "after"}, f"{V}/circuits/looped/expressions/preview").json()
    assert body_["value"] == 6, body_


def test_text_without_expressions_is_its_own_value(world, scorer, editor):
    assert post(editor, {"expression": "plain words"}).json()["value"] == "plain words"


def test_a_nodes_pinned_data_takes_the_place_of_its_last_result(world, scorer, editor):
    nodes = [{**NODES[0], "pinned": {"output": {"score": 7, "email": "pinned@example.com"}, "port": "next"}}, *NODES[1:]]
    SaveDraft(world.tenant, world.owner, scorer, {"nodes": nodes, "edges": chain("score", "remember", "notify")}).execute()
    body = post(editor, {"expression": "{{ steps.score.output.email }}", "node": "notify"}).json()
    assert body["value"] == "pinned@example.com"


def test_the_newest_test_run_is_read_not_an_older_or_a_real_one(world, scorer, editor):
    run_now(create_execution(scorer, {**PAYLOAD, "email": "newer@example.com"}, version=current_version(scorer), is_test=True))
    assert post(editor, {"expression": "{{ trigger.email }}"}).json()["value"] == "newer@example.com"


def test_without_a_test_run_the_data_is_empty_and_reads_as_missing(world, editor):
    build(world, "fresh", NODES[:1], chain("score"), publish=False)
    body = post(editor, {"expression": "{{ trigger.email | default('none yet') }}"}, f"{V}/circuits/fresh/expressions/preview").json()
    assert body["value"] == "none yet" and body["execution"] is None


# --- errors, with where they are -------------------------------------------------------------------


def test_an_unknown_step_is_an_inline_error_at_its_reference(world, scorer, editor):
    source = "Hi {{ steps.scroe.output.email }}"
    error = error_of(post(editor, {"expression": source, "node": "notify"}))
    assert error["kind"] == "unknown_step"
    assert "'scroe'" in error["message"] and "did you mean 'score'" in error["message"]
    assert source[error["start"] : error["end"]] == "steps.scroe.output.email"
    assert error["line"] == 1


def test_a_step_that_runs_later_is_an_error_naming_the_order(world, scorer, editor):
    error = error_of(post(editor, {"expression": "{{ steps.notify.output }}", "node": "score"}))
    assert error["kind"] == "step_order" and "runs after this step" in error["message"]


def test_loop_outside_a_loop_body_is_a_scope_error(world, scorer, editor):
    error = error_of(post(editor, {"expression": "{{ loop.item }}", "node": "notify"}))
    assert error["kind"] == "scope" and "inside the body of a Loop" in error["message"]


def test_a_syntax_error_points_at_its_block_and_line(world, scorer, editor):
    source = "ok {{ trigger.email }}\nthen {{ trigger.score + }}"
    error = error_of(post(editor, {"expression": source}))
    assert error["kind"] == "syntax"
    assert source[error["start"] : error["end"]] == "{{ trigger.score + }}"
    assert error["line"] == 2


def test_an_unclosed_expression_is_a_syntax_error_to_the_end(world, scorer, editor):
    source = "Hi {{ trigger.email"
    error = error_of(post(editor, {"expression": source}))
    assert error["kind"] == "syntax" and error["start"] == 3 and error["end"] == len(source)


def test_an_unknown_name_is_an_undefined_error(world, scorer, editor):
    error = error_of(post(editor, {"expression": "{{ trigegr.email }}"}))
    assert error["kind"] == "undefined" and "trigegr" in error["message"]


def test_a_limit_is_an_error_of_its_own_kind(world, scorer, editor):
    error = error_of(post(editor, {"expression": "{{ 'x' * 5000000 }}"}))
    assert error["kind"] == "limit"


# --- attacker payloads: refused by the sandbox, never a 500, never a leak ----------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__ }}",
        "{{ trigger.__class__.__init__.__globals__ }}",
        "{{ '{0.__class__}'.format(trigger) }}",
        "{{ '{0.__class__.__mro__}'.format('') }}",
        "{{ trigger | attr('__class__') }}",
        "{{ cycler.__init__.__globals__ }}",
        "{% include '/etc/passwd' %}",
        "{{ range.__self__ }}",
    ],
)
def test_escape_attempts_are_refused_by_the_sandbox(world, scorer, editor, source):
    error = error_of(post(editor, {"expression": source}))
    assert error["kind"] in ("sandbox", "undefined", "syntax"), error
    text = str(error)
    assert "<class" not in text and "built-in" not in text and "object at 0x" not in text


def test_a_format_string_in_the_data_reaches_no_attribute(world, editor):
    circuit = build(world, "formats", NODES[:1], chain("score"), publish=False)
    run_now(create_execution(circuit, {"fmt": "{0.__class__}"}, version=current_version(circuit), is_test=True))
    error = error_of(post(editor, {"expression": "{{ trigger.fmt.format(trigger) }}"}, f"{V}/circuits/formats/expressions/preview"))
    assert error["kind"] == "sandbox"
    # The data itself is just text: printing it is fine.
    assert post(editor, {"expression": "{{ trigger.fmt }}"}, f"{V}/circuits/formats/expressions/preview").json()["value"] == "{0.__class__}"


def test_another_tenants_step_data_is_never_reachable(world, scorer, editor):
    # Globex has a circuit of the same slug whose test run holds a secret step output.
    other = type(world)(**{**world.__dict__, "tenant": world.other_tenant, "owner": world.outsider})
    theirs = build(other, "scorer", [node("secret", "util.transform", {"template": {"token": "globex-secret"}})], chain("secret"), publish=False)
    run_now(create_execution(theirs, {"email": "eve@globex.test"}, version=current_version(theirs), is_test=True))
    error = error_of(post(editor, {"expression": "{{ steps.secret.output.token }}"}))
    assert error["kind"] == "unknown_step"
    assert post(editor, {"expression": "{{ trigger.email }}"}).json()["value"] == "ada@example.com"
    paths = [p["path"] for p in editor.get(PATHS).json()["paths"]]
    assert not any("secret" in p for p in paths)
    assert all("globex" not in str(p) for p in editor.get(PATHS).json()["paths"])


def test_the_other_tenants_circuit_is_a_404_even_by_session_with_their_slug(world, scorer):
    client = session_client(world.editor, world.tenant.slug)
    assert_problem(post(client, {"expression": "{{ trigger }}"}, f"{V}/circuits/theirs/expressions/preview"), 404)


def test_typed_sources_never_enter_the_engines_compile_cache(world, scorer, editor):
    from circuits.automation.engine.expressions import _compiled

    before = _compiled.cache_info().currsize
    for i in range(5):
        assert post(editor, {"expression": f"{{{{ trigger.score + {i} }}}} and {{{{ 'x{i}' }}}}"}).json()["type"] == "string"
    assert _compiled.cache_info().currsize == before


# --- bad bodies: 400 naming what is wrong --------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "expression"),
        ({"expression": 42}, "expression"),
        ({"expression": None}, "expression"),
        ({"expression": ["{{ x }}"]}, "expression"),
        ({"expression": "{{ x }}", "node": "Not A Key"}, "node"),
        ({"expression": "{{ x }}", "execution": 1}, "execution"),
        ({"expression": "x" * 20_001}, "expression"),
    ],
)
def test_a_bad_body_is_a_400_naming_the_field(world, scorer, editor, body, field):
    body_ = assert_problem(post(editor, body), 400)
    assert field in body_["errors"], body_


def test_nan_in_the_body_is_a_400(world, scorer, editor):
    response = editor.post(PREVIEW, b'{"expression": NaN}', content_type="application/json")
    assert_problem(response, 400)


def test_a_body_that_is_not_an_object_is_a_400(world, scorer, editor):
    assert_problem(editor.post(PREVIEW, b'["{{ trigger }}"]', content_type="application/json"), 400)


def test_a_huge_body_is_refused_before_it_is_read(world, scorer, editor, settings):
    settings.API_MAX_BODY_BYTES = 10_000
    response = editor.post(PREVIEW, {"expression": "x" * 20_000}, format="json")
    assert_problem(response, 413)


def test_a_node_not_in_the_draft_reads_like_no_node(world, scorer, editor):
    body = post(editor, {"expression": "{{ steps.score.output.score }}", "node": "added_just_now"}).json()
    assert body["value"] == 120


# --- completion paths --------------------------------------------------------------------------


def test_paths_list_the_real_data_of_the_last_run(world, scorer, editor):
    response = editor.get(PATHS)
    assert response.status_code == 200
    paths = {p["path"]: p for p in response.json()["paths"]}
    assert paths["trigger.email"]["sample"] == "ada@example.com" and paths["trigger.email"]["type"] == "string"
    assert paths['trigger.profile["first name"]']["sample"] == "Ada"
    assert paths["steps.score.output.score"]["type"] == "number"
    assert paths["steps.score.output.tags[0]"]["sample"] == "a"
    assert paths["vars.queue"]["sample"] == "hot"


def test_paths_for_a_node_hold_only_the_steps_upstream_of_it(world, scorer, editor):
    paths = [p["path"] for p in editor.get(PATHS + "?node=remember").json()["paths"]]
    assert "steps.score.output.score" in paths
    assert not any(p.startswith(("steps.notify", "steps.remember")) for p in paths)


def test_paths_of_a_branch_leave_out_the_other_branch(world, editor):
    nodes = [
        node("check", "control.if", {"condition": "{{ trigger.score > 10 }}"}),
        node("yes", "util.transform", {"template": {"said": "yes"}}),
        node("no", "util.transform", {"template": {"said": "no"}}),
    ]
    circuit = build(world, "branches", nodes, [edge("trigger", "check"), edge("check", "yes", "true"), edge("check", "no", "false")], publish=False)
    run_now(create_execution(circuit, {"score": 50}, version=current_version(circuit), is_test=True))
    paths = [p["path"] for p in editor.get(f"{V}/circuits/branches/expressions/paths?node=no").json()["paths"]]
    assert "steps.check.output.result" in paths and not any(p.startswith("steps.yes") for p in paths)


def test_a_malformed_node_in_the_paths_query_is_a_400(world, scorer, editor):
    assert "node" in assert_problem(editor.get(PATHS + "?node=Bad%20Key"), 400)["errors"]
