"""Record writes under an idempotency key: a repeat of the same key is not applied again.

The engine hands every side-effecting step a key that stays the same when the step runs
again after its worker died; these tests call the services and the data actions with a
key twice, as that re-run would.
"""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from actions.sdk import registry
from circuits.records.models import Record, RecordChange
from circuits.records.service import CreateRecord, DeleteRecord, UpdateRecord, UpsertRecord
from circuits.tenancy.models.effects import AppliedWrite
from tests.fixtures import needs_postgres
from tests.records.helpers import bare_execution, context

KEY = "0123456789abcdef" * 3


@pytest.mark.django_db
def test_a_create_repeated_with_its_key_returns_the_first_record_and_writes_nothing(world):
    execution = bare_execution(world.tenant)
    first = CreateRecord(world.tenant, None, "lead", {"email": "ada@example.com"}, execution=execution, idempotency_key=KEY).execute()
    again = CreateRecord(world.tenant, None, "lead", {"email": "ada@example.com"}, execution=execution, idempotency_key=KEY).execute()
    other = CreateRecord(world.tenant, None, "lead", {"email": "ada@example.com"}, execution=execution, idempotency_key=KEY[::-1]).execute()
    assert again.pk == first.pk != other.pk
    assert Record.objects.filter(tenant=world.tenant).count() == 2
    assert RecordChange.objects.filter(record=first).count() == 1  # one history row, one trigger
    assert AppliedWrite.objects.filter(tenant=world.tenant).count() == 2


@pytest.mark.django_db
def test_an_update_delete_and_upsert_repeated_with_their_keys_apply_once(world):
    record = CreateRecord(world.tenant, world.editor, "lead", {"email": "ada@example.com", "score": 1}).execute()
    for _ in range(2):
        UpdateRecord(world.tenant, None, record, {"score": 2}, idempotency_key="update-key").execute()
    assert record.changes.filter(operation="updated").count() == 1

    created = [UpsertRecord(world.tenant, None, "lead", ["email"], {"email": "bob@example.com"}, idempotency_key="upsert-key").execute() for _ in range(2)]
    assert created[0][0].pk == created[1][0].pk
    assert [c[1] for c in created] == [True, True]  # the repeat answers like the first: "created"

    assert DeleteRecord(world.tenant, None, record, idempotency_key="delete-key").execute() == record.pk
    assert DeleteRecord(world.tenant, None, record, idempotency_key="delete-key").execute() == record.pk
    assert RecordChange.objects.filter(record_key=record.pk, operation="deleted").count() == 1


@pytest.mark.django_db
def test_a_key_is_the_tenants_own(world):
    """The same key in another tenant is another write (keys are unique per tenant)."""
    CreateRecord(world.tenant, None, "lead", {"email": "a@example.com"}, idempotency_key=KEY).execute()
    CreateRecord(world.other_tenant, None, "lead", {"email": "a@example.com"}, idempotency_key=KEY).execute()
    assert Record.objects.filter(tenant=world.tenant).count() == 1
    assert Record.objects.filter(tenant=world.other_tenant).count() == 1


@pytest.mark.django_db
def test_a_failed_write_does_not_use_up_its_key(world):
    with pytest.raises(ValidationError):
        CreateRecord(world.tenant, None, "lead", {"email": "not an address"}, idempotency_key=KEY).execute()
    record = CreateRecord(world.tenant, None, "lead", {"email": "ok@example.com"}, idempotency_key=KEY).execute()
    assert record.data["email"] == "ok@example.com"


@pytest.mark.django_db
def test_the_data_actions_pass_the_steps_key_so_a_re_run_step_answers_like_the_first(world):
    execution = bare_execution(world.tenant)
    ctx = context(world.tenant, execution)
    ctx.idempotency_key = KEY
    create = registry.get("data.create_record")()
    first = create.run(ctx, {"object_type": "lead", "fields": {"email": "ada@example.com"}})
    assert create.run(ctx, {"object_type": "lead", "fields": {"email": "ada@example.com"}}) == first
    assert Record.objects.filter(tenant=world.tenant).count() == 1

    ctx.idempotency_key = "delete-" + KEY
    delete = registry.get("data.delete_record")()
    config = {"object_type": "lead", "record_id": first["id"]}
    assert delete.run(ctx, config) == {"deleted": True, "id": first["id"]}
    # The record is gone, yet the re-run answers as the first run did, instead of "not found".
    assert delete.run(ctx, config) == {"deleted": True, "id": first["id"]}


@needs_postgres()
@pytest.mark.django_db(transaction=True)
def test_two_runners_repeating_one_key_at_the_same_time_apply_it_once(world):
    """The unique key makes the second transaction wait for the first, then find its write."""
    barrier = threading.Barrier(2)
    results: list = []

    def write() -> None:
        try:
            barrier.wait()
            results.append(CreateRecord(world.tenant, None, "lead", {"email": "race@example.com"}, idempotency_key=KEY).execute().pk)
        except Exception as exc:  # collected: the assertion below shows it
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 2 and results[0] == results[1], results
    assert Record.objects.filter(tenant=world.tenant).count() == 1
