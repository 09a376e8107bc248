"""Routes under /t/<tenant>/ for the circuit builder."""

from django.urls import path

from circuits.web.views.builder import views

urlpatterns = [
    path("circuits/new", views.NewCircuitView.as_view(), name="builder_new"),
    path("circuits/<slug:slug>/edit", views.BuilderPage.as_view(), name="builder"),
    path("circuits/<slug:slug>/edit/save", views.SaveDraftView.as_view(), name="builder_save"),
    path("circuits/<slug:slug>/edit/validate", views.ValidateView.as_view(), name="builder_validate"),
    path("circuits/<slug:slug>/edit/publish", views.PublishView.as_view(), name="builder_publish"),
    path("circuits/<slug:slug>/edit/versions", views.VersionsView.as_view(), name="builder_versions"),
    path("circuits/<slug:slug>/edit/diff", views.DiffView.as_view(), name="builder_diff"),
    path("circuits/<slug:slug>/edit/rollback", views.RollbackView.as_view(), name="builder_rollback"),
    path("circuits/<slug:slug>/edit/export", views.ExportView.as_view(), name="builder_export"),
    path("circuits/<slug:slug>/edit/node-form", views.NodeFormView.as_view(), name="builder_node_form"),
    path("circuits/<slug:slug>/edit/trigger-form", views.TriggerFormView.as_view(), name="builder_trigger_form"),
    path("circuits/<slug:slug>/edit/test-run", views.TestRunView.as_view(), name="builder_test_run"),
    path("circuits/<slug:slug>/edit/listen", views.ListenView.as_view(), name="builder_listen"),
    path("circuits/<slug:slug>/edit/executions/<int:execution_id>/steps", views.StepsView.as_view(), name="builder_steps"),
]
