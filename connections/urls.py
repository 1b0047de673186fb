"""URLs of the connection library (namespace ``connections``). ``connections/oauth/`` is reserved."""
from django.urls import path

from .views import library, tokens

app_name = "connections"

urlpatterns = [
    path("", library.connection_list, name="list"),
    path("connections/new/", library.connection_new, name="new"),
    path("connections/<uuid:pk>/", library.connection_detail, name="detail"),
    path("connections/<uuid:pk>/edit/", library.connection_edit, name="edit"),
    path("connections/<uuid:pk>/delete/", library.connection_delete, name="delete"),
    path("connections/<uuid:pk>/token/fetch/", tokens.token_fetch, name="token_fetch"),
    path("connections/<uuid:pk>/token/refetch/", tokens.token_refetch, name="token_refetch"),
    path("connections/<uuid:pk>/test/", tokens.connection_test, name="test"),
    path("connections/<uuid:pk>/jobs/<uuid:job_id>/", tokens.job_status, name="job_status"),
    path("connections/<uuid:pk>/panels/token/", tokens.token_panel, name="token_panel"),
    path("connections/<uuid:pk>/oauth/start/", tokens.oauth_start, name="oauth_start"),
    path("connections/oauth/callback", tokens.oauth_callback, name="oauth_callback"),
]
