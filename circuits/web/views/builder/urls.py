"""Routes under /t/<tenant>/ for the circuit builder."""

from django.urls import path

from circuits.web.views.builder import views

urlpatterns = [
    path("circuits/new", views.NewCircuitView.as_view(), name="builder_new"),
    path("circuits/<slug:slug>/edit", views.BuilderPage.as_view(), name="builder"),
    path("circuits/<slug:slug>/edit/versions", views.VersionsView.as_view(), name="builder_versions"),
    path("circuits/<slug:slug>/edit/diff", views.DiffView.as_view(), name="builder_diff"),
    path("circuits/<slug:slug>/edit/node-form", views.NodeFormView.as_view(), name="builder_node_form"),
    path("circuits/<slug:slug>/edit/trigger-form", views.TriggerFormView.as_view(), name="builder_trigger_form"),
]
