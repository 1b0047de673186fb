"""A request that got no usable answer: unreachable, timed out, untrusted TLS, a host the policy
forbids, redirects, or something other than the service answering. Token requests
(``token.*``) and Graph requests (``graph.*``) share these."""

from __future__ import annotations

from microsoft.diagnoses._wording import _edit_connection_step, _status_text, _time
from microsoft.diagnoses.core import Action, Context, Diagnosis, Severity, Step, register
from microsoft.outbound import OutboundError

_SUFFIXES = {
    "unreachable": (Action.EDIT_CONNECTION, Action.RETRY),
    "timeout": (Action.RETRY,),
    "tls_untrusted": (Action.RETRY,),
    "host_not_allowed": (Action.EDIT_CONNECTION,),
    "too_many_redirects": (Action.EDIT_CONNECTION,),
    "bad_response": (Action.EDIT_CONNECTION, Action.RETRY),
    "transport": (Action.RETRY,),
}
KINDS = {
    f"{prefix}.{suffix}": register(f"{prefix}.{suffix}", Severity.ERROR, *actions)
    for prefix in ("token", "graph")
    for suffix, actions in _SUFFIXES.items()
}


def diagnose_transport_error(err: OutboundError, ctx: Context, service: str = "Microsoft Graph") -> Diagnosis:
    """Explain an ``OutboundError`` from a Graph request (token requests come via TokenError)."""
    return _transport(err.kind, err.message, ctx, service, None)


def _transport(kind: str, message: str, ctx: Context, service: str, status: int | None) -> Diagnosis:
    evidence = [
        ("HTTP status", _status_text(status)),
        ("AADSTS or Graph code", "none (no answer from the service)" if not status else "none"),
        ("What happened", message),
        ("Request ID", "none"),
        ("Time", _time(None, ctx)),
    ]
    message = message if message.endswith((".", "!", "?", ")")) else f"{message}."
    retry = Step("Try again.", action=Action.RETRY)
    edit = _edit_connection_step("Check the URLs saved in the connection.")
    texts: dict[str, tuple[str, str, str, list[Step]]] = {
        "unreachable": (
            "unreachable",
            f"Could not reach {service}",
            f"{message} The dashboard server could not open a connection. Check the URL in the "
            "connection, and the server's network: DNS, firewall, outbound proxy. The dashboard "
            "retried a few times before giving up.",
            [edit, retry],
        ),
        "timeout": (
            "timeout",
            f"{service[0].upper()}{service[1:]} did not answer in time",
            f"{message} The service accepted the connection, or tried to, but sent no answer in "
            "time. This is usually a temporary problem on the network or at the service.",
            [retry],
        ),
        "tls": (
            "tls_untrusted",
            f"The TLS certificate of {service} is not trusted",
            f"{message} The dashboard always verifies certificates. A proxy that inspects TLS "
            "traffic replaces Microsoft's certificates with its own; add that proxy's CA "
            "certificate to GRAPH_CA_BUNDLE. For a sandbox, point GRAPH_CA_BUNDLE at its CA file.",
            [retry],
        ),
        "disallowed": (
            "host_not_allowed",
            "The URL points to a host the dashboard may not call",
            f"{message} To protect the server, outbound requests go only to Microsoft's login and "
            "Graph hosts and to hosts the operator lists in GRAPH_ALLOWED_HOSTS, always over "
            "https. Correct the URL, or ask the operator to allow the host.",
            [_edit_connection_step("Correct the token, authorise or Graph URL in the connection.")],
        ),
        "redirect": (
            "too_many_redirects",
            f"{service[0].upper()}{service[1:]} redirected too often",
            f"{message} The URL probably points at a sign-in page or a proxy rather than the API.",
            [edit],
        ),
        "bad_response": (
            "bad_response",
            f"{service[0].upper()}{service[1:]} sent an unexpected answer",
            f"{message} Something other than Entra ID answered: often a proxy, a captive portal "
            "or a wrong token URL. Check the token URL; if it is right, try again later.",
            [edit, retry],
        ),
    }
    suffix, title, explanation, steps = texts.get(
        kind,
        (
            "transport",
            f"The request to {service} failed",
            message,
            [retry],
        ),
    )
    prefix = "token" if service == "the token endpoint" else "graph"
    return KINDS[f"{prefix}.{suffix}"].build(title=title, explanation=explanation, evidence=evidence, steps=steps)
