"""Microsoft Graph's permission reference (derived data, MIT) and lookups over it, without Django."""

from .reference import APPLICATION, DELEGATED, GRAPH_APP_ID, Permission, Reference, reference

__all__ = ["APPLICATION", "DELEGATED", "GRAPH_APP_ID", "Permission", "Reference", "reference"]
