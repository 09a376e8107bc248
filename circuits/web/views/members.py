"""Settings → Members, and the invitation link (accept or decline)."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from circuits.tenancy.models.tenants import Invitation, Membership
from circuits.tenancy.services.members import AcceptInvitation, AddMember, ChangeRole, DeclineInvitation, RemoveMember, is_addressed_to
from circuits.web.forms import AcceptInviteForm, AddMemberForm, RoleForm
from circuits.web.views.base import TenantView, render_page
from circuits.web.views.form_errors import apply_errors


class MembersView(TenantView):
    """Settings → Members: everyone can see the list; owners/admins can change it."""

    def context(self, form=None):
        return {
            "memberships": Membership.objects.for_tenant(self.tenant).select_related("user"),
            "invitations": [i for i in Invitation.objects.for_tenant(self.tenant) if i.is_open],
            "form": form or AddMemberForm(),
            "role_form": RoleForm(),
        }

    def get(self, request):
        return render_page(request, "circuits/members.html", self.context(), partial="circuits/partials/members.html")

    def post(self, request):
        self.require("manage_members")
        form = AddMemberForm(request.POST)
        if form.is_valid():
            service = AddMember(
                self.tenant,
                request.user,
                form.cleaned_data["identifier"],
                form.cleaned_data["role"],
                accept_url_builder=request.build_absolute_uri,
            )
            try:
                invitation = service.execute()
            except ValidationError as error:
                apply_errors(form, error)
            else:
                # The same words whether or not the address has an account: nothing is revealed.
                messages.success(request, f"Invitation sent to {invitation.email}. They join as {invitation.role} once they accept.")
                return redirect("members", tenant_slug=self.tenant.slug)
        return render_page(request, "circuits/members.html", self.context(form), partial="circuits/partials/members.html", status=400)


class MemberDetailView(TenantView):
    def _membership(self, pk: int) -> Membership:
        return get_object_or_404(Membership.objects.for_tenant(self.tenant).select_related("user"), pk=pk)

    def post(self, request, pk: int):
        self.require("manage_members")
        membership = self._membership(pk)
        if request.POST.get("action") == "remove":
            service = RemoveMember(self.tenant, request.user, membership)
            done = f"{membership.user.get_username()} removed."
        else:
            form = RoleForm(request.POST)
            if not form.is_valid():
                messages.error(request, "Choose a valid role.")
                return redirect("members", tenant_slug=self.tenant.slug)
            service = ChangeRole(self.tenant, request.user, membership, form.cleaned_data["role"])
            done = f"{membership.user.get_username()} is now {form.cleaned_data['role']}."
        try:
            service.execute()
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, done)
        return redirect("members", tenant_slug=self.tenant.slug)


def accept_invite(request, token: str):
    """The link of an invitation e-mail: accept or decline, as the account of the invited address.

    Signed in as that account: accept or decline. Signed out: sign in when an account with
    the address exists, otherwise create one (the token proves the mailbox). Signed in as
    someone else: refused. Only whoever holds the link learns any of this.
    """
    invitation = get_object_or_404(Invitation.objects.select_related("tenant"), token=token)
    if not invitation.is_open:
        return render(request, "circuits/invite_closed.html", {"invitation": invitation}, status=410)
    here = reverse("accept_invite", args=[token])
    login_url = f"{reverse('login')}?{urlencode({'next': here})}"
    if request.user.is_authenticated:
        if not is_addressed_to(invitation, request.user):
            return render(request, "circuits/accept_invite.html", {"invitation": invitation, "wrong_account": True, "login_url": login_url}, status=403)
        if request.method == "POST":
            return _answer(request, invitation)
        return render(request, "circuits/accept_invite.html", {"invitation": invitation})
    User = get_user_model()
    if User.objects.filter(email__iexact=invitation.email).exists():
        # One account per address: its owner signs in to answer, no second account is made.
        status = 400 if request.method == "POST" else 200
        return render(request, "circuits/accept_invite.html", {"invitation": invitation, "sign_in": True, "login_url": login_url}, status=status)
    form = AcceptInviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if User.objects.filter(username=form.cleaned_data["username"]).exists():
            form.add_error("username", "That username is taken.")
        else:
            try:
                with transaction.atomic():
                    user = User.objects.create_user(form.cleaned_data["username"], invitation.email, form.cleaned_data["password"])
                    AcceptInvitation(invitation, user).execute()
            except ValidationError as error:
                return render(request, "circuits/invite_closed.html", {"invitation": invitation, "reason": " ".join(error.messages)}, status=410)
            login(request, user, backend="circuits.tenancy.auth.EmailOrUsernameBackend")
            return redirect("tenant_home", tenant_slug=invitation.tenant.slug)
    return render(request, "circuits/accept_invite.html", {"invitation": invitation, "form": form, "login_url": login_url})


def _answer(request, invitation: Invitation):
    decline = request.POST.get("action") == "decline"
    service = DeclineInvitation(invitation, request.user) if decline else AcceptInvitation(invitation, request.user)
    try:
        service.execute()
    except ValidationError as error:
        return render(request, "circuits/invite_closed.html", {"invitation": invitation, "reason": " ".join(error.messages)}, status=410)
    if decline:
        messages.info(request, f"You declined the invitation to {invitation.tenant.name}.")
        return redirect("home")
    messages.success(request, f"Welcome to {invitation.tenant.name}.")
    return redirect("tenant_home", tenant_slug=invitation.tenant.slug)
