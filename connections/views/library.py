"""The connection library pages."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def connection_list(request: HttpRequest) -> HttpResponse:
    return render(request, "connections/list.html", {"connections": []})
