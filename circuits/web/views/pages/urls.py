"""Routes under /t/<tenant>/ for the monitoring and admin pages."""

from django.urls import path

from circuits.web.views.pages import dashboard, events, executions, failure, notifications, records, tenant_settings

urlpatterns = [
    path("executions/", executions.ExecutionListView.as_view(), name="execution_list"),
    path("executions/bulk", executions.ExecutionBulkView.as_view(), name="execution_bulk"),
    path("executions/<int:pk>/", executions.ExecutionDetailView.as_view(), name="execution_detail"),
    path("executions/<int:pk>/<slug:action>", executions.ExecutionActionView.as_view(), name="execution_action"),
    path("dashboard/", dashboard.DashboardView.as_view(), name="dashboard"),
    path("records/", records.RecordTypesView.as_view(), name="record_types"),
    # "_types" can never be an object type's slug (those start with a letter).
    path("records/_types/new", records.ObjectTypeFormView.as_view(), name="object_type_new"),
    path("records/_types/<slug:slug>/", records.ObjectTypeFormView.as_view(), name="object_type_edit"),
    path("records/<slug:object_type>/", records.RecordListView.as_view(), name="record_list"),
    path("records/<slug:object_type>/new", records.RecordCreateView.as_view(), name="record_new"),
    path("records/<slug:object_type>/<int:pk>/", records.RecordDetailView.as_view(), name="record_detail"),
    path("records/<slug:object_type>/<int:pk>/edit", records.RecordEditView.as_view(), name="record_edit"),
    path("records/<slug:object_type>/<int:pk>/delete", records.RecordDeleteView.as_view(), name="record_delete"),
    path("events/", events.EventListView.as_view(), name="event_list"),
    path("events/custom", events.CustomEventView.as_view(), name="custom_event"),
    path("notifications/", notifications.NotificationListView.as_view(), name="notification_list"),
    path("notifications/read", notifications.NotificationReadView.as_view(), name="notification_read"),
    path("notifications/bell", notifications.NotificationBellView.as_view(), name="notification_bell"),
    path("settings/api-keys/", tenant_settings.ApiKeysView.as_view(), name="settings_api_keys"),
    path("settings/api-keys/<int:pk>/revoke", tenant_settings.ApiKeyRevokeView.as_view(), name="settings_api_key_revoke"),
    path("settings/credentials/", tenant_settings.CredentialsView.as_view(), name="settings_credentials"),
    path("settings/credentials/<int:pk>/delete", tenant_settings.CredentialDeleteView.as_view(), name="settings_credential_delete"),
    path("settings/outbound/", tenant_settings.AllowListView.as_view(), name="settings_network"),
    path("settings/limits/", tenant_settings.LimitsView.as_view(), name="settings_limits"),
    path("settings/retention/", tenant_settings.RetentionView.as_view(), name="settings_retention"),
    path("settings/audit/", tenant_settings.AuditView.as_view(), name="settings_audit"),
    path("settings/on-failure/", failure.TenantFailureView.as_view(), name="settings_on_failure"),
    path("circuits/<slug:slug>/on-failure/", failure.CircuitFailureView.as_view(), name="circuit_on_failure"),
]
