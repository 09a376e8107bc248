"""Members of the tenant and their roles (owners and admins manage them).

Adding a member sends an invitation: the answer is the same 202 whether or not an account
with the address exists, and the person joins only by accepting it.
"""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response

from circuits.tenancy.models.tenants import Membership
from circuits.tenancy.roles import ROLE_PERMISSIONS, Perm, Role
from circuits.tenancy.services.members import AddMember, ChangeRole, RemoveMember
from circuits.web.api.pagination import PagePagination
from circuits.web.api.serializers.tenant import InvitationSerializer, MemberAddSerializer, MemberRoleSerializer, MemberSerializer, RoleSerializer
from circuits.web.api.views.base import ApiView, id_param

TAG = ["members"]
MEMBER_EXAMPLE = OpenApiExample(
    "A member",
    response_only=True,
    value={"id": 12, "user": {"id": 5, "username": "editor@acme.test", "email": "editor@acme.test"}, "role": "editor", "created_at": "2025-01-06T09:30:00Z"},
)


@extend_schema(tags=TAG)
class RoleListView(ApiView):
    serializer_class = RoleSerializer

    @extend_schema(
        summary="The roles and what each may do",
        responses={200: RoleSerializer(many=True)},
        examples=[OpenApiExample("Roles", response_only=True, value=[{"role": "operator", "label": "Operator", "permissions": ["view", "run"]}])],
    )
    def get(self, request):
        body = [{"role": role.value, "label": role.label, "permissions": [p.value for p in Perm if p in ROLE_PERMISSIONS[role]]} for role in Role]
        return Response(body)


@extend_schema(tags=TAG)
class MemberListView(ApiView):
    perms = {"GET": Perm.VIEW, "POST": Perm.MANAGE_MEMBERS}
    serializer_class = MemberSerializer
    pagination_class = PagePagination

    def get_queryset(self):
        return Membership.objects.for_tenant(self.tenant).select_related("user").order_by("user__username", "pk")

    @extend_schema(summary="List members and their roles", examples=[MEMBER_EXAMPLE])
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        summary="Invite someone by e-mail address; they become a member when they accept",
        description=(
            "Always an invitation, for people with an account (in this or another tenant) and without one alike, "
            "and always the same answer: it does not tell whether an account with the address exists."
        ),
        request=MemberAddSerializer,
        responses={202: OpenApiResponse(InvitationSerializer, description="An invitation was e-mailed; nobody was added yet.")},
        examples=[
            OpenApiExample("Invite", request_only=True, value={"identifier": "grace@acme.test", "role": "operator"}),
            OpenApiExample(
                "Invited", response_only=True, status_codes=[202], value={"email": "grace@acme.test", "role": "operator", "expires_at": "2025-01-13T09:30:00Z"}
            ),
        ],
    )
    def post(self, request):
        data = self.validated(MemberAddSerializer)
        invitation = AddMember(self.tenant, self.actor, data["identifier"], data["role"], accept_url_builder=request.build_absolute_uri).execute()
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=TAG, parameters=[id_param("id", "membership")])
class MemberDetailView(ApiView):
    perms = {"GET": Perm.VIEW, "PATCH": Perm.MANAGE_MEMBERS, "DELETE": Perm.MANAGE_MEMBERS}
    serializer_class = MemberSerializer

    def get_membership(self, pk: int) -> Membership:
        membership = Membership.objects.for_tenant(self.tenant).select_related("user").filter(pk=pk).first()
        if membership is None:
            raise Http404(f"No member {pk}.")
        return membership

    @extend_schema(summary="Read a membership", examples=[MEMBER_EXAMPLE])
    def get(self, request, id: int):
        return Response(MemberSerializer(self.get_membership(id)).data)

    @extend_schema(
        summary="Change a member's role (only owners grant or take away the owner role)",
        request=MemberRoleSerializer,
        examples=[OpenApiExample("Promote", request_only=True, value={"role": "admin"}), MEMBER_EXAMPLE],
    )
    def patch(self, request, id: int):
        membership = self.get_membership(id)
        data = self.validated(MemberRoleSerializer)
        ChangeRole(self.tenant, self.actor, membership, data["role"]).execute()
        return Response(MemberSerializer(membership).data)

    @extend_schema(summary="Remove a member (a tenant keeps at least one owner)", request=None, responses={204: None})
    def delete(self, request, id: int):
        RemoveMember(self.tenant, self.actor, self.get_membership(id)).execute()
        return Response(status=status.HTTP_204_NO_CONTENT)
