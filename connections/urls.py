"""URLs of the connection library (namespace ``connections``)."""
from django.urls import path

from .views import library

app_name = "connections"

urlpatterns = [
    path("", library.connection_list, name="list"),
]
