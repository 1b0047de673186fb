"""The tenant's Graph throttle budget on the connection page."""

from __future__ import annotations

from typing import Any

from django import template

from connections import throttle

register = template.Library()


@register.simple_tag
def tenant_throttle_use(connection: Any) -> throttle.TenantUse | None:
    """What this connection's app drew from its tenant's budget in the last minute (None: nothing to show)."""
    return throttle.tenant_use(connection)
