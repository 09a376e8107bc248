"""Executions list (filters, search, paging, live rows, bulk actions) and the execution page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from circuits.automation.models.execution import Execution, ExecutionStatus, StepRun
from circuits.automation.services.versions import PublishDraft, SaveDraft
from tests.engine.helpers import chain, node
from tests.pages.helpers import circuit, execution, other_tenant_execution

pytestmark = pytest.mark.django_db
LIST = "/t/acme/executions/"


def ids_in(response) -> set[int]:
    return {e.pk for e in response.context["executions"]}


def test_the_list_shows_this_tenants_executions_newest_first(client_for, world):
    older, newer = execution(world), execution(world)
    theirs = other_tenant_execution(world)
    response = client_for(world.viewer).get(LIST)
    assert [e.pk for e in response.context["executions"]] == [newer.pk, older.pk]
    assert f'id="exec-{theirs.pk}"' not in response.content.decode()


def test_filters_by_status_circuit_and_trigger_type(client_for, world):
    ok = execution(world, ExecutionStatus.SUCCEEDED)
    failed = execution(world, ExecutionStatus.FAILED)
    other = execution(world, ExecutionStatus.FAILED, slug="other-circuit", trigger_type="api")
    client = client_for(world.viewer)
    assert ids_in(client.get(LIST, {"status": "failed"})) == {failed.pk, other.pk}
    assert ids_in(client.get(LIST, {"circuit": "other-circuit"})) == {other.pk}
    assert ids_in(client.get(LIST, {"trigger": "api"})) == {other.pk}
    assert ids_in(client.get(LIST, {"status": "succeeded", "circuit": "pages-demo"})) == {ok.pk}


def test_the_date_range_includes_both_end_days(client_for, world):
    today = timezone.localdate()
    inside = execution(world)
    old = execution(world)
    Execution.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))
    client = client_for(world.viewer)
    assert ids_in(client.get(LIST, {"since": str(today), "until": str(today)})) == {inside.pk}
    assert ids_in(client.get(LIST, {"until": str(today - timedelta(days=5))})) == {old.pk}


def test_a_backwards_date_range_is_a_400_naming_the_field(client_for, world):
    execution(world)
    response = client_for(world.viewer).get(LIST, {"since": "2024-05-02", "until": "2024-05-01"})
    assert response.status_code == 400
    assert "The end date is before the start date." in response.content.decode()
    response = client_for(world.viewer).get(LIST, {"since": "not-a-date"})
    assert response.status_code == 400 and "Enter a valid date." in response.content.decode()


def test_search_finds_an_execution_by_id_or_by_a_value_in_its_payload(client_for, world):
    ada = execution(world, payload={"email": "ada@lovelace.test", "plan": "pro"})
    grace = execution(world, payload={"email": "grace@hopper.test"})
    client = client_for(world.viewer)
    assert ids_in(client.get(LIST, {"q": "lovelace"})) == {ada.pk}
    assert ids_in(client.get(LIST, {"q": "HOPPER"})) == {grace.pk}
    assert grace.pk in ids_in(client.get(LIST, {"q": str(grace.pk)}))
    assert ids_in(client.get(LIST, {"q": f"#{ada.pk}"})) >= {ada.pk}
    assert ids_in(client.get(LIST, {"q": "nobody-has-this"})) == set()


def test_the_list_pages_by_fifty_and_keeps_the_filters_in_page_links(client_for, world):
    for _ in range(55):
        execution(world, ExecutionStatus.FAILED, steps=False)
    client = client_for(world.viewer)
    first = client.get(LIST, {"status": "failed"})
    assert len(first.context["executions"]) == 50
    assert "status=failed&amp;page=2" in first.content.decode()
    assert 'hx-get="?status=failed&amp;page=2" hx-target="#exec-results"' in first.content.decode()  # swapped in place
    second = client.get(LIST, {"status": "failed", "page": "2"})
    assert len(second.context["executions"]) == 5
    assert second.context["live"] is False  # only the first page takes live rows


def test_the_list_uses_a_fixed_number_of_queries_however_many_rows(client_for, world, django_assert_max_num_queries):
    for _ in range(60):
        execution(world, ExecutionStatus.FAILED, steps=False)
    client = client_for(world.operator)
    client.get(LIST)  # warm the session and the caches
    # session, user, tenant, role, circuits, count, page, memberships (menu), session save (3)
    with django_assert_max_num_queries(11):
        response = client.get(LIST, {"status": "failed", "q": "ada"})
    assert response.status_code == 200 and len(response.context["executions"]) == 50


def test_htmx_filtering_renders_only_the_results_partial(client_for, world):
    execution(world)
    response = client_for(world.viewer).get(LIST, {"status": "succeeded"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "<html" not in body and body.lstrip().startswith('<div id="exec-results"')


def test_live_rows_are_fetched_by_id_and_still_obey_the_filters(client_for, world):
    ok = execution(world)
    failed = execution(world, ExecutionStatus.FAILED)
    theirs = other_tenant_execution(world)
    client = client_for(world.viewer)
    response = client.get(LIST, {"ids": f"{ok.pk},{failed.pk},{theirs.pk}"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert f'id="exec-{ok.pk}"' in body and f'id="exec-{failed.pk}"' in body
    assert f'id="exec-{theirs.pk}"' not in body and "<table" not in body
    filtered = client.get(LIST, {"status": "failed", "ids": f"{ok.pk},{failed.pk}"}, HTTP_HX_REQUEST="true").content.decode()
    assert f'id="exec-{failed.pk}"' in filtered and f'id="exec-{ok.pk}"' not in filtered


def test_operators_see_checkboxes_and_bulk_buttons_viewers_do_not(client_for, world):
    e = execution(world)
    assert f'name="ids" value="{e.pk}"' in client_for(world.operator).get(LIST).content.decode()
    page = client_for(world.viewer).get(LIST).content.decode()
    assert 'name="ids"' not in page and "Re-run selected" not in page


def test_bulk_rerun_starts_a_rerun_of_each_selected_finished_execution(client_for, world):
    a, b = execution(world), execution(world, ExecutionStatus.FAILED)
    response = client_for(world.operator).post(f"{LIST}bulk", {"action": "rerun", "ids": [a.pk, b.pk], "next": f"{LIST}?status=failed"})
    assert response.status_code == 302 and response["Location"] == f"{LIST}?status=failed"
    reruns = Execution.objects.filter(rerun_of__in=[a, b])
    assert sorted(r.rerun_of_id for r in reruns) == [a.pk, b.pk]
    assert all(r.started_by == world.operator and r.status == ExecutionStatus.QUEUED for r in reruns)


def test_bulk_cancel_cancels_running_ones_and_explains_the_finished_ones(client_for, world):
    running, done = execution(world, ExecutionStatus.RUNNING), execution(world)
    client = client_for(world.operator)
    response = client.post(f"{LIST}bulk", {"action": "cancel", "ids": [running.pk, done.pk]}, follow=True)
    running.refresh_from_db()
    done.refresh_from_db()
    assert running.status == ExecutionStatus.CANCELLED and done.status == ExecutionStatus.SUCCEEDED
    page = response.content.decode()
    assert "Cancelled 1 execution." in page and f"#{done.pk}: The execution already succeeded" in page


def test_bulk_actions_never_touch_another_tenants_execution(client_for, world):
    theirs = other_tenant_execution(world)
    response = client_for(world.owner).post(f"{LIST}bulk", {"action": "rerun", "ids": [theirs.pk]}, follow=True)
    assert f"#{theirs.pk}: not found." in response.content.decode()
    assert not Execution.objects.filter(rerun_of=theirs).exists()


def test_bulk_without_a_selection_or_with_a_bad_action_is_a_400_naming_the_field(client_for, world):
    client = client_for(world.operator)
    response = client.post(f"{LIST}bulk", {"action": "rerun"})
    assert response.status_code == 400 and b"ids: select at least one execution" in response.content
    response = client.post(f"{LIST}bulk", {"action": "explode", "ids": [execution(world).pk]})
    assert response.status_code == 400 and b"action: choose rerun or cancel" in response.content


def test_bulk_over_htmx_reloads_the_results_in_place(client_for, world):
    e = execution(world)
    response = client_for(world.operator).post(f"{LIST}bulk", {"action": "rerun", "ids": [e.pk], "next": LIST}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert '"target": "#exec-results"' in response["HX-Location"] and f'"path": "{LIST}"' in response["HX-Location"]


def test_bulk_next_cannot_redirect_off_site(client_for, world):
    response = client_for(world.operator).post(f"{LIST}bulk", {"action": "rerun", "ids": [execution(world).pk], "next": "https://evil.test/"})
    assert response["Location"] == LIST


# --- the execution page -------------------------------------------------------------------------


def test_the_execution_page_shows_a_timeline_with_retries_as_separate_bars(client_for, world):
    e = execution(world, ExecutionStatus.FAILED)
    response = client_for(world.viewer).get(f"{LIST}{e.pk}/")
    lanes = response.context["timeline"]["lanes"]
    assert [(lane.node, len(lane.bars)) for lane in lanes] == [("a", 1), ("b", 2)]
    first, retry = lanes[1].bars
    assert float(first.left) < float(retry.left) and retry.step.attempt == 2
    assert float(lanes[0].bars[0].left) == 0 and abs(float(lanes[0].bars[0].width) - 15) < 0.01  # 300 ms of 2 s
    page = response.content.decode()
    assert 'class="timeline-bar failed"' in page and '<span class="attempt">#2</span>' in page


def test_the_execution_page_shows_inputs_outputs_and_errors_in_collapsible_blocks(client_for, world):
    e = execution(world, ExecutionStatus.FAILED, payload={"email": "ada@example.com"})
    page = client_for(world.viewer).get(f"{LIST}{e.pk}/").content.decode()
    assert "<summary>Input (trigger payload)</summary>" in page and "&quot;email&quot;: &quot;ada@example.com&quot;" in page
    assert "<summary>Output</summary>" in page and "&quot;y&quot;: 2" in page
    assert "boom at b" in page and 'href="#node-b"' in page and "first try failed" in page


def test_the_execution_page_links_to_the_version_that_ran_in_the_builder(client_for, world):
    e = execution(world)
    page = client_for(world.viewer).get(f"{LIST}{e.pk}/").content.decode()
    assert f'href="/t/acme/circuits/pages-demo/edit?version=1&amp;execution={e.pk}"' in page


def test_action_buttons_follow_the_role_and_the_status(client_for, world):
    failed = execution(world, ExecutionStatus.FAILED)
    running = execution(world, ExecutionStatus.RUNNING)
    operator = client_for(world.operator).get(f"{LIST}{failed.pk}/").content.decode()
    assert "Re-run" in operator and "Retry from failed step" in operator and ">Cancel<" not in operator
    assert ">Cancel<" in client_for(world.operator).get(f"{LIST}{running.pk}/").content.decode()
    viewer = client_for(world.viewer).get(f"{LIST}{failed.pk}/").content.decode()
    assert "Re-run" not in viewer and "Retry from failed step" not in viewer


def test_retry_from_the_failed_step_keeps_finished_steps_and_opens_the_new_execution(client_for, world):
    failed = execution(world, ExecutionStatus.FAILED)
    response = client_for(world.operator).post(f"{LIST}{failed.pk}/retry")
    retry = Execution.objects.get(rerun_of=failed)
    assert response.status_code == 302 and response["Location"] == f"{LIST}{retry.pk}/"
    assert list(StepRun.objects.filter(execution=retry).values_list("node_key", "status")) == [("a", "succeeded")]


def publish_a_fix(world) -> None:
    """v2 of the pages' demo circuit: step b changed (a as it was)."""
    c = circuit(world)
    nodes = [node("a", "util.transform", {"template": 1}), node("b", "util.transform", {"template": "fixed"})]
    SaveDraft(world.tenant, world.owner, c, {"nodes": nodes, "edges": chain("a", "b")}).execute()
    PublishDraft(world.tenant, world.owner, c).execute()


def test_the_retry_offers_the_published_version_once_a_fix_is_published(client_for, world):
    failed = execution(world, ExecutionStatus.FAILED)
    page = client_for(world.operator).get(f"{LIST}{failed.pk}/").content.decode()
    assert 'value="original"' in page and 'value="published"' not in page  # nothing else to retry on yet
    publish_a_fix(world)
    page = client_for(world.operator).get(f"{LIST}{failed.pk}/").content.decode()
    assert f'hx-post="{LIST}{failed.pk}/retry"' in page
    assert 'value="original"' in page and 'name="version" value="published"' in page and "Retry on published v2" in page
    viewer = client_for(world.viewer).get(f"{LIST}{failed.pk}/").content.decode()
    assert 'value="published"' not in viewer and 'value="original"' not in viewer


def test_retrying_on_the_published_version_from_the_page_runs_the_fix_keeping_the_unchanged_steps(client_for, world):
    failed = execution(world, ExecutionStatus.FAILED)
    publish_a_fix(world)
    response = client_for(world.operator).post(f"{LIST}{failed.pk}/retry", {"version": "published"}, HTTP_HX_REQUEST="true")
    retry = Execution.objects.get(rerun_of=failed)
    assert response.status_code == 204 and response["HX-Redirect"] == f"{LIST}{retry.pk}/"
    assert retry.version.number == 2
    assert list(StepRun.objects.filter(execution=retry).values_list("node_key", "status")) == [("a", "succeeded")]
    page = client_for(world.operator).get(f"{LIST}{retry.pk}/").content.decode()
    assert "Retrying from the failed step on the published v2" in page


def test_a_retry_with_an_unknown_version_choice_explains_itself_and_starts_nothing(client_for, world):
    failed = execution(world, ExecutionStatus.FAILED)
    response = client_for(world.operator).post(f"{LIST}{failed.pk}/retry", {"version": "newest"}, follow=True)
    assert "Choose &#x27;original&#x27;" in response.content.decode()
    assert not Execution.objects.filter(rerun_of=failed).exists()


def test_cancelling_a_finished_execution_explains_why_not(client_for, world):
    done = execution(world)
    response = client_for(world.operator).post(f"{LIST}{done.pk}/cancel", follow=True)
    assert "already succeeded; it cannot be cancelled" in response.content.decode()


def test_an_unknown_action_is_404(client_for, world):
    assert client_for(world.operator).post(f"{LIST}{execution(world).pk}/explode").status_code == 404


def test_another_tenants_execution_is_404_on_every_execution_url(client_for, world):
    theirs = other_tenant_execution(world)
    client = client_for(world.owner)
    assert client.get(f"{LIST}{theirs.pk}/").status_code == 404
    for action in ("rerun", "retry", "cancel"):
        assert client.post(f"{LIST}{theirs.pk}/{action}").status_code == 404
    assert not Execution.objects.filter(rerun_of=theirs).exists()


def test_htmx_gets_only_the_live_part_of_the_execution_page(client_for, world):
    e = execution(world, ExecutionStatus.RUNNING)
    body = client_for(world.viewer).get(f"{LIST}{e.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert body.lstrip().startswith('<div id="execution-live" data-status="running"') and "<html" not in body


def test_the_execution_page_subscribes_to_its_own_websocket(client_for, world):
    e = execution(world)
    page = client_for(world.viewer).get(f"{LIST}{e.pk}/").content.decode()
    assert f'data-socket="/ws/t/acme/executions/{e.pk}/"' in page and "pages/execution.js" in page


def test_a_running_execution_draws_its_open_step_up_to_now(client_for, world):
    e = execution(world, ExecutionStatus.RUNNING, steps=False)
    StepRun.objects.create(execution=e, node_key="slow", action="util.wait", status="running", started_at=e.started_at)
    lanes = client_for(world.viewer).get(f"{LIST}{e.pk}/").context["timeline"]["lanes"]
    assert lanes[0].bars[0].running and float(lanes[0].bars[0].width) > 50


def test_the_execution_page_query_count_does_not_grow_with_steps(client_for, world, django_assert_max_num_queries):
    e = execution(world, ExecutionStatus.FAILED)
    StepRun.objects.bulk_create([StepRun(execution=e, node_key=f"n{i}", action="util.log", status="succeeded", started_at=e.started_at) for i in range(100)])
    client = client_for(world.viewer)
    client.get(f"{LIST}{e.pk}/")
    # A viewer's "run" check on the circuit also asks guardian (user and group grants): 2 queries.
    with django_assert_max_num_queries(13):
        client.get(f"{LIST}{e.pk}/")


def test_the_circuit_filter_only_offers_this_tenants_circuits(client_for, world):
    circuit(world)
    other_tenant_execution(world)
    choices = dict(client_for(world.viewer).get(LIST).context["form"].fields["circuit"].choices)
    assert "pages-demo" in choices and "theirs" not in choices


def test_a_viewer_granted_run_on_one_circuit_can_rerun_its_executions_only(client_for, world):
    from guardian.shortcuts import assign_perm

    granted = execution(world)
    other = execution(world, slug="not-granted")
    assign_perm("circuits.run_circuit", world.viewer, granted.circuit)
    client = client_for(world.viewer)
    assert "Re-run" in client.get(f"{LIST}{granted.pk}/").content.decode()
    assert client.post(f"{LIST}{granted.pk}/rerun").status_code == 302
    assert Execution.objects.filter(rerun_of=granted).exists()
    assert client.post(f"{LIST}{other.pk}/rerun").status_code == 403
    assert not Execution.objects.filter(rerun_of=other).exists()
