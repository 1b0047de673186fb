"""Checking API answers against the OpenAPI document the API serves (with Schemathesis)."""

from __future__ import annotations

from typing import Any

import requests
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.test import Client
from schemathesis.core.transport import Response

SCHEMA_URL = "/api/v1/schema"


def document() -> dict[str, Any]:
    response = Client().get(SCHEMA_URL)
    assert response.status_code == 200
    return response.json()


def loaded() -> Any:
    """The served document, loaded by Schemathesis (needs the database: a request is made)."""
    return schemathesis.openapi.from_dict(document())


def for_fuzzing() -> Any:
    """The served document, its cases sent to this process's WSGI app (the test database)."""
    return schemathesis.openapi.from_wsgi(SCHEMA_URL, WSGIHandler())


def conforms(schema: Any, method: str, template: str, response: Any) -> None:
    """Raise unless ``response`` (a Django test response) is what the document says ``method
    template`` answers with that status: declared, with its content type and body schema."""
    operation = schema[template][method.upper()]
    body = b"".join(response.streaming_content) if response.streaming else response.content
    headers = {key: [value] for key, value in response.items()}
    request = requests.Request(method.upper(), "http://testserver" + template).prepare()
    operation.validate_response(Response(response.status_code, headers, body, request, 0.0, True))
