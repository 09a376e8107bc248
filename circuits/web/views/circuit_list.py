from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render

from circuits.automation.models.circuit import Circuit
from circuits.automation.services.circuits import CreateCircuit, SetCircuitEnabled
from circuits.tenancy.permissions import has_perm
from circuits.web.forms import CircuitForm
from circuits.web.views.base import TenantView, render_page
from circuits.web.views.form_errors import apply_errors


class CircuitListView(TenantView):
    def context(self, form=None):
        q = self.request.GET.get("q", "").strip()
        circuits = Circuit.objects.restrict(self.request.user, "view", self.tenant)
        if q:
            circuits = circuits.filter(name__icontains=q)
        circuits = list(circuits)
        for circuit in circuits:  # the switch is live only for who may flip it (a grant on one circuit counts)
            circuit.can_toggle = has_perm(self.request.user, self.tenant, "run", circuit)
        return {
            "circuits": circuits,
            "q": q,
            "form": form or CircuitForm(),
            "can_create": has_perm(self.request.user, self.tenant, "edit"),
        }

    def get(self, request):
        return render_page(request, "circuits/circuit_list.html", self.context(), partial="circuits/partials/circuit_rows.html")

    def post(self, request):
        self.require("edit")
        form = CircuitForm(request.POST)
        if form.is_valid():
            try:
                circuit = CreateCircuit(self.tenant, request.user, **{k: form.cleaned_data[k] for k in ("name", "slug", "description", "enabled")}).execute()
            except ValidationError as error:
                apply_errors(form, error)
            else:
                messages.success(request, f"Circuit “{circuit.name}” created.")
                return redirect("circuit_list", tenant_slug=self.tenant.slug)
        return render_page(request, "circuits/circuit_list.html", self.context(form), status=400)


class CircuitToggleView(TenantView):
    def post(self, request, slug: str):
        circuit = get_object_or_404(Circuit.objects.restrict(request.user, "view", self.tenant), slug=slug)
        enabled = request.POST.get("enabled") == "on"
        try:
            SetCircuitEnabled(self.tenant, request.user, circuit, enabled).execute()
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        if request.htmx:
            circuit.refresh_from_db(fields=["enabled"])  # a refused change shows the real state again
            circuit.can_toggle = True
            return render(request, "circuits/partials/circuit_row.html", {"circuit": circuit, "tenant": self.tenant})
        return redirect("circuit_list", tenant_slug=self.tenant.slug)
