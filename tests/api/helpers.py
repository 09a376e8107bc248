"""Clients and data for the API tests: keys per role, a tenant with one of everything."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone
from guardian.shortcuts import assign_perm
from rest_framework.test import APIClient

from circuits.automation.dispatch import create_execution
from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import Execution, ExecutionStatus
from circuits.automation.models.trigger import Trigger
from circuits.records.models import Record
from circuits.records.service import CreateRecord
from circuits.tenancy.credentials import save_credential
from circuits.tenancy.models.access import ApiKey
from circuits.tenancy.models.tenants import Membership
from circuits.tenancy.services.apikeys import CreateApiKey
from tests.engine.helpers import build, chain, node
from tests.fixtures import make_user


def make_key(tenant, user, role: str, *, actor=None, name: str = "") -> str:
    """A raw API key for `user` with `role` (created by an owner of the tenant)."""
    actor = actor or Membership.objects.filter(tenant=tenant, role="owner").first().user
    service = CreateApiKey(tenant, actor, name=name or f"test-{user.pk}-{role}", role=role, user=user)
    service.execute()
    return service.raw_key


def key_client(raw: str, **headers) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}", **headers)
    return client


def client_as(world, role: str) -> APIClient:
    """An API client with a key of `role` for the member of that role in world.tenant."""
    return key_client(make_key(world.tenant, world.user(role), role))


def session_client(user, tenant_slug: str | None = None) -> APIClient:
    client = APIClient()
    client.force_login(user)
    if tenant_slug:
        client.credentials(HTTP_X_TENANT=tenant_slug)
    return client


def simple_circuit(world, slug: str = "greeter", *, tenant=None, actor=None, publish: bool = True, triggers=()) -> Circuit:
    if tenant is not None and tenant != world.tenant:
        # build() works on world.tenant; borrow a world view of the other tenant.
        other = type(world)(**{**world.__dict__, "tenant": tenant, "owner": actor})
        return build(
            other, slug, [node("greet", "util.transform", {"template": {"hello": "{{ trigger.name }}"}})], chain("greet"), publish=publish, triggers=triggers
        )
    return build(
        world, slug, [node("greet", "util.transform", {"template": {"hello": "{{ trigger.name }}"}})], chain("greet"), publish=publish, triggers=triggers
    )


@dataclass
class Objects:
    """One of each kind of object in world.tenant, and a twin in the other tenant."""

    circuit: Circuit
    spare: Circuit  # no executions: can be deleted
    trigger: Trigger
    queued: Execution
    failed: Execution
    finished: Execution
    record: Record
    member: Membership
    api_key: ApiKey
    other_circuit: Circuit
    other_execution: Execution
    other_record: Record
    other_trigger: Trigger
    other_member: Membership
    other_api_key: ApiKey


def make_objects(world) -> Objects:
    circuit = simple_circuit(world, "greeter", triggers=[{"type": "event", "config": {"event": "lead.created"}}])
    # A draft on top of the published version, so draft endpoints have something to read.
    from circuits.automation.services.versions import SaveDraft

    SaveDraft(world.tenant, world.owner, circuit, {"nodes": [node("greet", "util.transform", {"template": "v2"})], "edges": chain("greet")}).execute()
    spare = simple_circuit(world, "spare")
    queued = create_execution(circuit, {"name": "Ada"})
    failed = create_execution(circuit, {"name": "Bob"})
    Execution.objects.filter(pk=failed.pk).update(status=ExecutionStatus.FAILED, finished_at=timezone.now(), error={"message": "boom", "type": "error"})
    finished = create_execution(circuit, {"name": "Cy"})
    Execution.objects.filter(pk=finished.pk).update(status=ExecutionStatus.SUCCEEDED, finished_at=timezone.now(), duration_ms=12)
    record = CreateRecord(world.tenant, world.owner, "lead", {"email": "ada@example.com", "first_name": "Ada", "score": 80}).execute()
    save_credential(world.tenant, "crm-token", "http_bearer", {"token": "s3cr3t"}, user=world.owner)
    extra = make_user("extra-a")
    member = Membership.objects.create(user=extra, tenant=world.tenant, role="viewer")
    assign_perm("circuits.run_circuit", extra, circuit)  # an object grant for the grants endpoints
    api_key = ApiKey.objects.get(prefix=make_key(world.tenant, world.operator, "operator", name="listed")[:12])

    other = world.other_tenant
    other_circuit = simple_circuit(world, "theirs", tenant=other, actor=world.outsider, triggers=[{"type": "event", "config": {"event": "lead.created"}}])
    other_execution = create_execution(other_circuit, {})
    other_record = CreateRecord(other, world.outsider, "lead", {"email": "eve@example.com"}).execute()
    other_user = make_user("other-member")
    other_member = Membership.objects.create(user=other_user, tenant=other, role="viewer")
    other_api_key = ApiKey.objects.get(prefix=make_key(other, world.outsider, "owner", actor=world.outsider, name="theirs")[:12])
    save_credential(other, "their-token", "http_bearer", {"token": "x"}, user=world.outsider)
    return Objects(
        circuit=circuit,
        spare=spare,
        trigger=circuit.triggers.get(),
        queued=queued,
        failed=failed,
        finished=finished,
        record=record,
        member=member,
        api_key=api_key,
        other_circuit=other_circuit,
        other_execution=other_execution,
        other_record=other_record,
        other_trigger=other_circuit.triggers.get(),
        other_member=other_member,
        other_api_key=other_api_key,
    )
