"""Routes of /api/ (included from the root URLconf as `api/`)."""

from __future__ import annotations

from django.urls import include, path, re_path, register_converter

from circuits.web.api.views import (
    actions,
    apikeys,
    audit,
    circuits,
    credentials,
    demo,
    draft_runs,
    events,
    executions,
    expressions,
    grants,
    members,
    metrics,
    records,
    root,
    tenant_settings,
    triggers,
    versions,
)
from intelligence import api as rag_api
from intelligence.graph import api as graph_api


class IdConverter:
    """A database id: at most 18 digits, so a longer number is a 404, not an integer overflow."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "api_id")

app_name = "api"

v1 = [
    path("", root.ApiRootView.as_view(), name="root"),
    path("circuits", circuits.CircuitListView.as_view(), name="circuits"),
    path("circuits/<slug:name>", circuits.CircuitDetailView.as_view(), name="circuit"),
    path("circuits/<slug:name>/enable", circuits.CircuitEnableView.as_view(), name="circuit-enable"),
    path("circuits/<slug:name>/disable", circuits.CircuitDisableView.as_view(), name="circuit-disable"),
    path("circuits/<slug:name>/export", circuits.CircuitExportView.as_view(), name="circuit-export"),
    path("circuits/<slug:name>/versions", versions.VersionListView.as_view(), name="versions"),
    path("circuits/<slug:name>/versions/<api_id:number>", versions.VersionDetailView.as_view(), name="version"),
    path(
        "circuits/<slug:name>/versions/<api_id:number>/diff/<api_id:other>",
        versions.VersionDiffView.as_view(),
        name="version-diff",
    ),
    path("circuits/<slug:name>/grants", grants.GrantListView.as_view(), name="grants"),
    path("circuits/<slug:name>/grants/<api_id:user>/<slug:permission>", grants.GrantDetailView.as_view(), name="grant"),
    path("circuits/<slug:name>/draft", versions.DraftView.as_view(), name="draft"),
    path("circuits/<slug:name>/draft/validate", versions.DraftValidateView.as_view(), name="draft-validate"),
    path("circuits/<slug:name>/draft/nodes/<slug:key>/run", draft_runs.NodeRunView.as_view(), name="draft-node-run"),
    path("circuits/<slug:name>/test-runs", draft_runs.TestRunView.as_view(), name="test-runs"),
    path("circuits/<slug:name>/test-runs/listen", draft_runs.ListenView.as_view(), name="test-runs-listen"),
    path("circuits/<slug:name>/publish", versions.PublishView.as_view(), name="publish"),
    path("circuits/<slug:name>/rollback", versions.RollbackView.as_view(), name="rollback"),
    path("circuits/<slug:name>/expressions/preview", expressions.ExpressionPreviewView.as_view(), name="expression-preview"),
    path("circuits/<slug:name>/expressions/paths", expressions.ExpressionPathsView.as_view(), name="expression-paths"),
    path("circuits/<slug:name>/triggers", triggers.TriggerListView.as_view(), name="triggers"),
    path("circuits/<slug:name>/triggers/<api_id:id>", triggers.TriggerDetailView.as_view(), name="trigger"),
    path("import", circuits.CircuitImportView.as_view(), name="import"),
    path("execute", executions.ExecuteView.as_view(), name="execute"),
    path("executions", executions.ExecutionListView.as_view(), name="executions"),
    path("executions/<api_id:id>", executions.ExecutionDetailView.as_view(), name="execution"),
    path("executions/<api_id:id>/cancel", executions.ExecutionCancelView.as_view(), name="execution-cancel"),
    path("executions/<api_id:id>/rerun", executions.ExecutionRerunView.as_view(), name="execution-rerun"),
    path("executions/<api_id:id>/rerun-from-step", executions.ExecutionRerunFromStepView.as_view(), name="execution-rerun-from-step"),
    path("executions/<api_id:id>/retry", executions.ExecutionRetryView.as_view(), name="execution-retry"),
    path("audit", audit.AuditListView.as_view(), name="audit"),
    path("events", events.EventCatalogueView.as_view(), name="events"),
    path("events/publish", events.EventPublishView.as_view(), name="events-publish"),
    path("events/custom", events.CustomEventView.as_view(), name="events-custom"),
    path("metrics", metrics.MetricsView.as_view(), name="metrics"),
    path("metrics/reset", metrics.MetricsResetView.as_view(), name="metrics-reset"),
    path("actions", actions.ActionListView.as_view(), name="actions"),
    path("object-types", records.ObjectTypeListView.as_view(), name="object-types"),
    path("object-types/<slug:object_type>", records.ObjectTypeDetailView.as_view(), name="object-type"),
    path("records/<slug:object_type>", records.RecordListView.as_view(), name="records"),
    path("records/<slug:object_type>/upsert", records.RecordUpsertView.as_view(), name="records-upsert"),
    path("records/<slug:object_type>/<api_id:id>", records.RecordDetailView.as_view(), name="record"),
    path("credentials", credentials.CredentialListView.as_view(), name="credentials"),
    path("credentials/<slug:name>", credentials.CredentialDetailView.as_view(), name="credential"),
    path("members", members.MemberListView.as_view(), name="members"),
    path("members/<api_id:id>", members.MemberDetailView.as_view(), name="member"),
    path("roles", members.RoleListView.as_view(), name="roles"),
    path("api-keys", apikeys.ApiKeyListView.as_view(), name="api-keys"),
    path("api-keys/<api_id:id>", apikeys.ApiKeyDetailView.as_view(), name="api-key"),
    path("api-keys/<api_id:id>/revoke", apikeys.ApiKeyRevokeView.as_view(), name="api-key-revoke"),
    path("demo/lead-processing", demo.LeadProcessingDemoView.as_view(), name="demo-lead-processing"),
    path("demo/hot-lead", demo.HotLeadDemoView.as_view(), name="demo-hot-lead"),
    path("tenant/settings", tenant_settings.TenantSettingsView.as_view(), name="tenant-settings"),
    *rag_api.urlpatterns,  # documents, search, feedback (intelligence/api.py)
    *graph_api.urlpatterns,  # graph/… (intelligence/graph/api.py)
]

urlpatterns = [
    path("v1/", include(v1)),
    # Anything else under /api/ is a problem+json 404, never Django's HTML page.
    re_path(r"^(?P<path>[\s\S]*)$", root.not_found, name="not-found"),
]
