"""The outbound HTTP policy the deployment configured: allowed hosts, CA bundle, timeout.

Read from Django settings on each call (cheap, and tests can override settings).
"""

from __future__ import annotations

from django.conf import settings

from microsoft.outbound import DEFAULT_ALLOWED_HOSTS, OutboundPolicy


def outbound_policy() -> OutboundPolicy:
    """The policy every outbound request of the dashboard goes out under."""
    hosts = getattr(settings, "GRAPH_ALLOWED_HOSTS", None) or DEFAULT_ALLOWED_HOSTS
    return OutboundPolicy(
        allowed_hosts=frozenset(hosts),
        ca_bundle=getattr(settings, "GRAPH_CA_BUNDLE", None) or None,
        timeout=float(getattr(settings, "GRAPH_HTTP_TIMEOUT", 10.0)),
    )
