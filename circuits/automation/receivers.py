"""What automation does when a lower layer signals a change (connected in `CircuitsConfig.ready`)."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.dispatch import receiver
from guardian.models import UserObjectPermission

from circuits.automation.models.circuit import Circuit
from circuits.tenancy.signals import member_left


@receiver(member_left, dispatch_uid="automation.drop_circuit_grants")
def drop_circuit_grants(sender, tenant, user, **kwargs) -> None:
    """Guardian grants on this tenant's circuits would come back to life if the user were re-added."""
    circuit_pks = [str(pk) for pk in Circuit.objects.for_tenant(tenant).values_list("pk", flat=True)]
    UserObjectPermission.objects.filter(user=user, content_type=ContentType.objects.get_for_model(Circuit), object_pk__in=circuit_pks).delete()
