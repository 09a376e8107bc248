"""What every API view shares: the tenant, permissions per method, strict input, lookups."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request

from circuits.automation.models.circuit import Circuit
from circuits.core import logs
from circuits.tenancy.models.tenants import Tenant
from circuits.tenancy.permissions import has_perm
from circuits.tenancy.roles import Perm

CIRCUIT_NAME = OpenApiParameter("name", OpenApiTypes.STR, OpenApiParameter.PATH, description="The circuit's slug.")


def id_param(name: str, what: str) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.INT, OpenApiParameter.PATH, description=f"The {what}'s id.")


class ApiView(GenericAPIView):
    """Base of every tenant-scoped endpoint.

    `perms` maps an HTTP method to the permission the caller needs in the whole tenant;
    a method missing from it (or mapped to None) is decided per object, by the view or by
    the service it calls (so a guardian grant on one circuit counts).
    """

    perms: dict[str, str | None] = {"GET": Perm.VIEW}
    tenant: Tenant

    def required_perm(self, method: str) -> str | None:
        method = "GET" if method in ("HEAD", "OPTIONS") else method
        return self.perms.get(method)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        tenant = getattr(self, "tenant", None)
        if tenant is not None:  # set by the authentication/permission step
            logs.bind(tenant=tenant.slug)
        # DRF silently reads a body without Content-Type as empty; say what is wrong instead.
        if request.method in ("POST", "PUT", "PATCH") and str(request.META.get("CONTENT_LENGTH") or "0") not in ("", "0") and not request.content_type:
            raise exceptions.UnsupportedMediaType("", detail="Send the body as JSON with Content-Type: application/json.")

    # -- helpers ---------------------------------------------------------------------------

    @property
    def actor(self):
        return self.request.user

    def validated(self, serializer_class: type[serializers.Serializer], data: Any = None, **kwargs: Any) -> dict:
        serializer = serializer_class(data=self.request.data if data is None else data, context=self.get_serializer_context(), **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def circuits(self, perm: str = Perm.VIEW):
        return Circuit.objects.restrict(self.actor, perm, self.tenant)

    def get_circuit(self, name: str) -> Circuit:
        """A circuit the caller can see, by slug; 404 otherwise (other tenants' too)."""
        circuit = self.circuits().filter(slug=name).first()
        if circuit is None:
            raise Http404(f"No circuit {name!r}.")
        return circuit

    def require(self, perm: str, obj=None) -> None:
        if not has_perm(self.actor, self.tenant, perm, obj):
            raise exceptions.PermissionDenied(f"You do not have the {perm.replace('_', ' ')} permission here.")
