"""URLs of the connection library (namespace ``connections``). ``connections/oauth/`` is reserved."""
from django.urls import path

from .views import library

app_name = "connections"

urlpatterns = [
    path("", library.connection_list, name="list"),
    path("connections/new/", library.connection_new, name="new"),
    path("connections/<uuid:pk>/", library.connection_detail, name="detail"),
    path("connections/<uuid:pk>/edit/", library.connection_edit, name="edit"),
    path("connections/<uuid:pk>/delete/", library.connection_delete, name="delete"),
]
