"""Turn a failed token or Graph request (or a sync the dashboard had to stop) into a plain
explanation and the next steps.

Pure functions: no I/O, no Django, no clock other than a default "now" for the evidence. The
caller passes what it knows (the error, the connection's context, the token's permissions, what
the tenant has granted when that is readable, and the diagnosis before a re-fetch) and renders the
``Diagnosis``: a title, an explanation, evidence rows and steps, where a step's ``action`` names a
dashboard button (``Action``) and its ``url`` a page to open. Nothing here ever holds a secret or
a token.

One module per domain, each registering its kinds in ``REGISTRY`` (key, severity, the actions
its steps may offer): ``token_endpoint`` (Entra ID's AADSTS errors), ``transport`` (no usable
answer), ``graph`` (Graph's refusals), ``credentials`` (a credential the dashboard cannot use),
``signin``, ``consent`` and ``sync``.
"""

from __future__ import annotations

from microsoft.diagnoses import consent, credentials, graph, signin, sync, token_endpoint, transport
from microsoft.diagnoses._wording import SERVICE_HEALTH_URL
from microsoft.diagnoses.core import (
    REGISTRY,
    Action,
    Context,
    Diagnosis,
    Kind,
    PreviousAttempt,
    Severity,
    Step,
    looks_like_guid,
)
from microsoft.diagnoses.graph import diagnose_graph_error
from microsoft.diagnoses.token_endpoint import diagnose_token_error
from microsoft.diagnoses.transport import diagnose_transport_error

__all__ = [
    "REGISTRY",
    "SERVICE_HEALTH_URL",
    "Action",
    "Context",
    "Diagnosis",
    "Kind",
    "PreviousAttempt",
    "Severity",
    "Step",
    "consent",
    "credentials",
    "diagnose_graph_error",
    "diagnose_token_error",
    "diagnose_transport_error",
    "graph",
    "looks_like_guid",
    "signin",
    "sync",
    "token_endpoint",
    "transport",
]
