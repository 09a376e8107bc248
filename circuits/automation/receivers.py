"""What automation does when a lower layer signals a change (connected in `CircuitsConfig.ready`)."""

from __future__ import annotations

import logging

from celery import current_app
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.dispatch import receiver
from guardian.models import UserObjectPermission

from circuits.automation.engine.signals import execution_finished
from circuits.automation.models.circuit import Circuit
from circuits.automation.models.execution import Execution, ExecutionStatus
from circuits.tenancy.signals import member_left

log = logging.getLogger(__name__)

# Sent by name: the tasks module sits in the same layer as this one (pyproject's import contracts).
DELIVER_FAILURE_TASK = "circuits.automation.tasks.deliver_failure_alerts"


@receiver(member_left, dispatch_uid="automation.drop_circuit_grants")
def drop_circuit_grants(sender, tenant, user, **kwargs) -> None:
    """Guardian grants on this tenant's circuits would come back to life if the user were re-added."""
    circuit_pks = [str(pk) for pk in Circuit.objects.for_tenant(tenant).values_list("pk", flat=True)]
    UserObjectPermission.objects.filter(user=user, content_type=ContentType.objects.get_for_model(Circuit), object_pk__in=circuit_pks).delete()


def _send_failure(execution_id: int) -> None:
    try:
        current_app.tasks[DELIVER_FAILURE_TASK].apply_async((execution_id,))
    except Exception:  # a broker hiccup loses an alert, never the engine's run
        log.exception("could not enqueue the failure alerts of execution %s", execution_id)


@receiver(execution_finished, sender=Execution, dispatch_uid="automation.failure_alerts")
def alert_on_failure(sender, execution: Execution, **kwargs) -> None:
    """A failed, non-test execution: its "on failure" policy runs in a task, once the failure is committed."""
    if execution.is_test or execution.status != ExecutionStatus.FAILED:
        return
    execution_id = execution.pk
    transaction.on_commit(lambda: _send_failure(execution_id))
