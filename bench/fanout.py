"""Event fan-out latency: publish → all matching executions created and handed to the queue."""

from __future__ import annotations

from bench.common import bench_world, heading, report, timed

REPEAT = 20


def main() -> None:
    from django.db import transaction

    from circuits.automation.models.circuit import Circuit
    from circuits.automation.models.trigger import CustomEventType
    from circuits.automation.services.circuits import CreateCircuit
    from circuits.automation.services.tenant_settings import DefineCustomEvent
    from circuits.automation.services.versions import PublishDraft, SaveDraft, SaveTrigger
    from circuits.automation.triggers.kinds.event import publish_event

    tenant, user = bench_world("fanout")
    heading("event fan-out: publish_event → executions created and enqueued (on commit)")
    for count in (1, 10, 100):
        name = f"bench.fanout.{count}"
        if not CustomEventType.objects.for_tenant(tenant).filter(name=name).exists():
            DefineCustomEvent(tenant, user, name=name).execute()  # a trigger may only name a catalogued event
        # A set-up cut short leaves a circuit without its trigger: start it again.
        for unfinished in Circuit.objects.for_tenant(tenant).filter(slug__startswith=f"fan-{count}-", triggers__isnull=True):
            unfinished.delete()
        have = Circuit.objects.for_tenant(tenant).filter(triggers__key=name).count()
        for i in range(have, count):
            circuit = CreateCircuit(tenant, user, name=f"fan {count}-{i}", slug=f"fan-{count}-{i}").execute()
            SaveDraft(
                tenant,
                user,
                circuit,
                {"nodes": [{"key": "a", "action": "util.log", "config": {"message": "x"}}], "edges": [{"source": "trigger", "target": "a"}]},
            ).execute()
            SaveTrigger(tenant, user, circuit, type="event", config={"event": name}).execute()
            PublishDraft(tenant, user, circuit).execute()
        # Other tenants' and other names' triggers must not slow matching: it is an index lookup.

        def publish(name=name, count=count):
            with transaction.atomic():
                _event, started = publish_event(tenant, name, {"x": 1})
            assert len(started) == count

        publish()
        report(f"{count:>3} matching triggers", timed(publish, REPEAT))
