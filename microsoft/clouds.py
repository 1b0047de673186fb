"""Microsoft's clouds and the identifiers every part of the dashboard recognises: one place each.

Plain data (no Django, no I/O), read by the settings (the default allowed hosts, the sign-in
authority), the outbound policy, the token client, the catalogue and the planner. Sources: the
national cloud deployments page (https://learn.microsoft.com/graph/deployments, login and Graph
hosts), the Azure portal of each cloud, and ``az cloud list`` (the CLI's cloud names).
Microsoft Graph's app id and permission ids come with the shipped permission reference
(``graphpermissions``), which the sandbox reads too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Cloud:
    """One Microsoft cloud: where to sign in, where Graph lives, and which Azure portal to link."""

    name: str
    login_host: str
    graph_hosts: tuple[str, ...]
    portal_host: str
    label: str = ""
    az_cloud: str = ""  # the Azure CLI's name for it (``az cloud set --name``)
    login_aliases: tuple[str, ...] = ()  # other login hosts of the cloud that answer the same

    @property
    def graph_resource(self) -> str:
        """``https://<graph host>``: the v1 ``resource``; ``/.default`` appended, the v2 scope."""
        return f"https://{self.graph_hosts[0]}"

    @property
    def login_base(self) -> str:
        return f"https://{self.login_host}"

    @property
    def graph_base(self) -> str:
        """The Graph service URL of the cloud's v1.0 API."""
        return f"{self.graph_resource}/v1.0"


GLOBAL = "global"
CLOUDS: dict[str, Cloud] = {
    GLOBAL: Cloud(
        "global",
        "login.microsoftonline.com",
        ("graph.microsoft.com",),
        "portal.azure.com",
        "Global (worldwide)",
        "AzureCloud",
        ("login.microsoft.com", "login.windows.net"),
    ),
    "usgov": Cloud(
        "usgov",
        "login.microsoftonline.us",
        ("graph.microsoft.us",),
        "portal.azure.us",
        "US Government (GCC High)",
        "AzureUSGovernment",
    ),
    "usdod": Cloud(
        "usdod",
        "login.microsoftonline.us",
        ("dod-graph.microsoft.us",),
        "portal.azure.us",
        "US Government (DoD)",
        "AzureUSGovernment",
    ),
    "china": Cloud(
        "china",
        "login.chinacloudapi.cn",
        ("microsoftgraph.chinacloudapi.cn",),
        "portal.azure.cn",
        "China (21Vianet)",
        "AzureChinaCloud",
        ("login.partner.microsoftonline.cn",),
    ),
}
DEFAULT_CLOUD = CLOUDS[GLOBAL]

# Login hosts recognised as a cloud's, but never called (not in the default allowed hosts).
_RETIRED_LOGIN_HOSTS = {"login.usgovcloudapi.net": "usgov"}


def login_hosts() -> tuple[str, ...]:
    """Every login host the dashboard may call, each cloud's own first."""
    hosts = [c.login_host for c in CLOUDS.values()] + [a for c in CLOUDS.values() for a in c.login_aliases]
    return tuple(dict.fromkeys(hosts))


def graph_hosts() -> tuple[str, ...]:
    return tuple(dict.fromkeys(h for c in CLOUDS.values() for h in c.graph_hosts))


# What outbound requests may reach when a deployment names no hosts of its own.
ALLOWED_HOSTS: tuple[str, ...] = login_hosts() + graph_hosts()


def cloud_for_graph_host(host: str) -> Cloud:
    """The cloud of a Graph host; any other host (e.g. a stand-in for Graph) counts as global."""
    host = host.lower()
    return next((c for c in CLOUDS.values() if host in c.graph_hosts), DEFAULT_CLOUD)


def cloud_of_login_host(host: str) -> Cloud | None:
    """The cloud a bare login host (no port) belongs to, or None for a host outside Microsoft's
    clouds. ``login.microsoftonline.us`` is the first US Government cloud's (``usgov``)."""
    host = host.lower()
    for cloud in CLOUDS.values():
        if host == cloud.login_host or host in cloud.login_aliases:
            return cloud
    retired = _RETIRED_LOGIN_HOSTS.get(host)
    return CLOUDS[retired] if retired else None


def login_bases_by_graph_host() -> dict[str, str]:
    """``{graph host: https://login host}`` for every cloud (the profile form's helpers use it)."""
    return {h: c.login_base for c in CLOUDS.values() for h in c.graph_hosts}


# --- identifiers ------------------------------------------------------------------------------

# A GUID as Entra ID writes tenant ids, application (client) ids, object ids and secret ids.
GUID_PATTERN = r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"
GUID = re.compile(rf"^{GUID_PATTERN}$")


def is_guid(value: str | None) -> bool:
    """True for a GUID (surrounding spaces allowed)."""
    return bool(GUID.match((value or "").strip()))
