"""URLs of the connection library (namespace ``connections``). ``connections/oauth/`` is reserved."""

from django.urls import path

from .views import alerts, apitokens, consent, credentials, library, planner, schedules, syncs, tokens

app_name = "connections"

urlpatterns = [
    path("", library.connection_list, name="list"),
    path("connections/new/", library.connection_new, name="new"),
    path("connections/<uuid:pk>/", library.connection_detail, name="detail"),
    path("connections/<uuid:pk>/edit/", library.connection_edit, name="edit"),
    path("connections/<uuid:pk>/delete/", library.connection_delete, name="delete"),
    path("connections/<uuid:pk>/audit/", library.audit_trail, name="audit_trail"),
    path("connections/<uuid:pk>/panels/problems/", library.problems_banner, name="problems_banner"),
    path("connections/<uuid:pk>/token/fetch/", tokens.token_fetch, name="token_fetch"),
    path("connections/<uuid:pk>/token/refetch/", tokens.token_refetch, name="token_refetch"),
    path("connections/<uuid:pk>/test/", tokens.connection_test, name="test"),
    path("connections/<uuid:pk>/jobs/<uuid:job_id>/", tokens.job_status, name="job_status"),
    path("connections/<uuid:pk>/panels/token/", tokens.token_panel, name="token_panel"),
    path("connections/<uuid:pk>/oauth/start/", tokens.oauth_start, name="oauth_start"),
    path("connections/oauth/callback", tokens.oauth_callback, name="oauth_callback"),
    path("connections/<uuid:pk>/syncs/", syncs.sync_list, name="sync_list"),
    path("connections/<uuid:pk>/syncs/start/", syncs.sync_start, name="sync_start"),
    path("connections/<uuid:pk>/syncs/panel/", syncs.sync_panel, name="sync_panel"),
    path("connections/<uuid:pk>/syncs/<uuid:run_id>/", syncs.sync_detail, name="sync_detail"),
    path("connections/<uuid:pk>/syncs/<uuid:run_id>/progress/", syncs.sync_progress, name="sync_progress"),
    path("connections/<uuid:pk>/syncs/<uuid:run_id>/changes/", syncs.sync_changes, name="sync_changes"),
    path("connections/<uuid:pk>/syncs/<uuid:run_id>/export/", syncs.sync_export, name="sync_export"),
    path("connections/<uuid:pk>/admin-consent/", consent.consent_start, name="admin_consent"),
    path("connections/<uuid:pk>/permissions/", planner.for_connection, name="connection_permissions"),
    path("permissions/planner/", planner.standalone, name="planner"),
    path("connections/<uuid:pk>/certificate/", credentials.certificate_upload, name="certificate"),
    path("connections/<uuid:pk>/credential/secret/", credentials.use_secret, name="use_secret"),
    path("connections/<uuid:pk>/credential/certificate/", credentials.use_certificate, name="use_certificate"),
    path("connections/<uuid:pk>/panels/credentials/", credentials.credentials_panel, name="credentials_panel"),
    path("accounts/tokens/", apitokens.token_list, name="api_tokens"),
    path("accounts/tokens/new/", apitokens.token_create, name="api_token_new"),
    path("accounts/tokens/<int:token_id>/revoke/", apitokens.token_revoke, name="api_token_revoke"),
    path("alerts/", alerts.alerts_page, name="alerts"),
    path("alerts/channels/new/", alerts.channel_new, name="channel_new"),
    path("alerts/channels/<uuid:channel_id>/test/", alerts.channel_test, name="channel_test"),
    path("alerts/channels/<uuid:channel_id>/delete/", alerts.channel_delete, name="channel_delete"),
    path("connections/<uuid:pk>/syncs/<uuid:run_id>/cancel/", syncs.sync_cancel, name="sync_cancel"),
    path("connections/<uuid:pk>/schedule/", schedules.schedule_panel, name="schedule_panel"),
    path("connections/<uuid:pk>/schedule/form/", schedules.schedule_form, name="schedule_form"),
    path("connections/<uuid:pk>/schedule/save/", schedules.schedule_save, name="schedule_save"),
]
