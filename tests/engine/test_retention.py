"""Execution history retention (#15): finished executions past a tenant's window, or beyond its
count per circuit, go with their steps, in small batches; nothing unfinished ever goes, nor
anything an unfinished execution may still read, nor another tenant's history.

Before: executions and step runs grew without end (n8n's most common operations complaint).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from circuits.automation import retention
from circuits.automation.dispatch import create_execution
from circuits.automation.models.execution import Execution, ExecutionStatus, StepRun
from circuits.automation.services.tenant_settings import UpdateTenantSettings
from circuits.automation.tasks import prune_executions
from tests.engine.helpers import build, chain, node

pytestmark = pytest.mark.django_db


def _execution(circuit, *, days_old: float, status: str = ExecutionStatus.SUCCEEDED, **fields) -> Execution:
    execution = create_execution(circuit, {})
    created = timezone.now() - timedelta(days=days_old)
    Execution.objects.filter(pk=execution.pk).update(created_at=created, status=status, **fields)
    StepRun.objects.create(execution=execution, node_key="t", action="util.transform", status="succeeded")
    return execution


@pytest.fixture
def circuit(world):
    return build(world, "kept", [node("t", "util.transform", {"template": "x"})], chain("t"))


def test_finished_executions_past_the_window_go_with_their_steps_and_younger_ones_stay(world, circuit, settings):
    settings.EXECUTION_RETENTION_DAYS = 30
    old = [_execution(circuit, days_old=31 + i) for i in range(3)]
    young = _execution(circuit, days_old=29)
    assert prune_executions() == 3
    assert not Execution.objects.filter(pk__in=[e.pk for e in old]).exists()
    assert not StepRun.objects.filter(execution_id__in=[e.pk for e in old]).exists()
    assert Execution.objects.filter(pk=young.pk).exists() and StepRun.objects.filter(execution=young).exists()


def test_unfinished_executions_are_never_pruned_however_old(world, circuit):
    kept = [_execution(circuit, days_old=400, status=s) for s in (ExecutionStatus.QUEUED, ExecutionStatus.RUNNING, ExecutionStatus.WAITING)]
    assert retention.prune_tenant(world.tenant) == 0
    assert Execution.objects.filter(pk__in=[e.pk for e in kept]).count() == 3


def test_an_old_execution_stays_while_a_child_or_rerun_of_it_has_not_finished(world, circuit):
    parent = _execution(circuit, days_old=100)
    _execution(circuit, days_old=0, status=ExecutionStatus.RUNNING, parent=parent)
    rerun_source = _execution(circuit, days_old=100)
    rerun = _execution(circuit, days_old=0, status=ExecutionStatus.QUEUED, rerun_of=rerun_source)
    assert retention.prune_tenant(world.tenant) == 0
    Execution.objects.filter(pk=rerun.pk).update(status=ExecutionStatus.SUCCEEDED)
    assert retention.prune_tenant(world.tenant) == 1  # the re-run finished: its source may go now
    assert Execution.objects.filter(pk=parent.pk).exists()


def test_a_tenants_own_window_and_count_per_circuit_apply_and_the_newest_are_kept(world, circuit):
    UpdateTenantSettings(world.tenant, world.owner, retention={"days": 7, "per_circuit": 3}).execute()
    other = build(world, "other", [node("t", "util.transform", {"template": "x"})], chain("t"))
    ages = [0.1, 0.2, 0.3, 0.4, 0.5, 8]
    mine = [_execution(circuit, days_old=a) for a in ages]
    theirs = [_execution(other, days_old=a) for a in (0.1, 0.2)]
    assert retention.prune_tenant(world.tenant) == 3  # the 8-day-old one by age, then two beyond the newest three
    assert set(Execution.objects.filter(circuit=circuit).values_list("pk", flat=True)) == {e.pk for e in mine[:3]}
    assert Execution.objects.filter(circuit=other).count() == len(theirs)


def test_pruning_one_tenant_never_touches_another_tenants_history(world, circuit):
    theirs = build(world, "theirs", [node("t", "util.transform", {"template": "x"})], chain("t"), actor=world.owner)
    theirs.tenant = world.other_tenant
    theirs.save(update_fields=["tenant"])
    foreign = _execution(theirs, days_old=400)
    Execution.objects.filter(pk=foreign.pk).update(tenant=world.other_tenant)
    world.other_tenant.retention = {"days": 365}
    world.other_tenant.save()
    mine = _execution(circuit, days_old=400)
    assert retention.prune_tenant(world.tenant) == 1
    assert Execution.objects.filter(pk=foreign.pk).exists() and not Execution.objects.filter(pk=mine.pk).exists()


def test_pruning_goes_in_small_batches_each_in_its_own_transaction(world, circuit):
    for i in range(5):
        _execution(circuit, days_old=100 + i)
    with CaptureQueriesContext(connection) as captured:
        assert retention.prune_tenant(world.tenant, batch=2) == 5
    deletes = [q["sql"] for q in captured.captured_queries if q["sql"].startswith('DELETE FROM "circuits_execution"')]
    assert len(deletes) == 3  # 2 + 2 + 1


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"days": 0}, "days"),
        ({"days": 366}, "days"),
        ({"days": "nan"}, "days"),
        ({"per_circuit": 1.5}, "per_circuit"),
        ({"keep": 3}, "unknown retention setting 'keep'"),
        ([30], "must be an object"),
    ],
)
def test_a_retention_outside_the_platforms_bounds_is_refused_by_name_and_nothing_is_saved(world, value, message):
    with pytest.raises(ValidationError) as caught:
        UpdateTenantSettings(world.tenant, world.owner, retention=value).execute()
    assert message in str(caught.value.message_dict["retention"])
    world.tenant.refresh_from_db()
    assert world.tenant.retention == {}


def test_only_owners_and_admins_change_retention(world):
    with pytest.raises(Exception, match="owners and admins"):
        UpdateTenantSettings(world.tenant, world.editor, retention={"days": 3}).execute()
    UpdateTenantSettings(world.tenant, world.admin, retention={"days": 3}).execute()
    world.tenant.refresh_from_db()
    assert world.tenant.retention == {"days": 3}


def test_the_retention_page_saves_and_shows_errors_by_field(world, client):
    client.force_login(world.owner)
    response = client.post("/t/acme/settings/retention/", {"days": "0"})
    assert response.status_code == 400 and "days" in response.content.decode()
    response = client.post("/t/acme/settings/retention/", {"days": "14", "per_circuit": ""})
    assert response.status_code == 302
    world.tenant.refresh_from_db()
    assert world.tenant.retention == {"days": 14}
    assert 'value="14"' in client.get("/t/acme/settings/retention/").content.decode()


def test_pruning_walks_the_history_by_keyset_past_what_it_must_keep_without_offset(world, circuit):
    # The oldest is still read by a running child: kept, and later batches start after it.
    held = _execution(circuit, days_old=200)
    _execution(circuit, days_old=0, status=ExecutionStatus.RUNNING, parent=held)
    prunable = [_execution(circuit, days_old=150 - i) for i in range(4)]
    with CaptureQueriesContext(connection) as captured:
        assert retention.prune_tenant(world.tenant, batch=1, max_batches=4) == 4
    assert Execution.objects.filter(pk=held.pk).exists()
    assert not Execution.objects.filter(pk__in=[e.pk for e in prunable]).exists()
    selects = [q["sql"] for q in captured.captured_queries if q["sql"].startswith('SELECT "circuits_execution"."created_at"')]
    assert len(selects) == 4 and not any("OFFSET" in sql for sql in selects)
    assert all('"circuits_execution"."created_at" >' in sql for sql in selects[1:])  # each after the last one taken


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the partial index and its plan are PostgreSQL's")
def test_the_executions_an_unfinished_one_still_needs_are_found_through_the_partial_index(world, circuit):
    _execution(circuit, days_old=100)
    query = retention.prunable_batch(world.tenant, timezone.now(), 500)
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        # A tiny table: make the planner show what it can use (until the test's transaction ends).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert plan.count("execution_unfinished_idx") == 3, plan  # parent, re-run source, cause
