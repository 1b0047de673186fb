"""Decoding tokens for display: real claim shapes, and garbage that must not raise."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

import pytest

from microsoft.claims import decode, diff, permissions

TID = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def b64(data: dict | str) -> str:
    raw = data if isinstance(data, str) else json.dumps(data)
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


def jwt(payload: dict) -> str:
    return f"{b64({'typ': 'JWT', 'alg': 'RS256', 'kid': 'k1'})}.{b64(payload)}.c2lnbmF0dXJl"


APP_TOKEN = jwt(
    {
        "aud": "https://graph.microsoft.com",
        "iss": f"https://sts.windows.net/{TID}/",
        "iat": 1717046428,
        "nbf": 1717046428,
        "exp": 1717050328,
        "app_displayname": "downloader",
        "appid": "6731de76-14a6-49ae-97bc-6eba6914391e",
        "appidacr": "1",
        "idtyp": "app",
        "oid": "b1a2c3d4-0000-4000-8000-000000000001",
        "roles": ["User.Read.All", "Mail.Read"],
        "sub": "b1a2c3d4-0000-4000-8000-000000000001",
        "tid": TID,
        "ver": "1.0",
    }
)

USER_TOKEN = jwt(
    {
        "aud": "00000003-0000-0000-c000-000000000000",
        "iss": f"https://login.microsoftonline.com/{TID}/v2.0",
        "iat": 1717046428,
        "nbf": 1717046428,
        "exp": 1717050328,
        "azp": "6731de76-14a6-49ae-97bc-6eba6914391e",
        "scp": "User.Read Mail.Read openid",
        "preferred_username": "adele@contoso.com",
        "name": "Adele Vance",
        "tid": TID,
        "ver": "2.0",
        "oid": "u-1",
    }
)


def test_an_app_token_shows_roles_app_and_lifetime():
    claims = decode(APP_TOKEN)

    assert claims.readable
    assert claims.audience == "https://graph.microsoft.com"
    assert claims.issuer == f"https://sts.windows.net/{TID}/"
    assert claims.tenant_id == TID
    assert claims.app_id == "6731de76-14a6-49ae-97bc-6eba6914391e"
    assert claims.app_display_name == "downloader"
    assert claims.object_id == "b1a2c3d4-0000-4000-8000-000000000001"
    assert claims.issued_at == datetime(2024, 5, 30, 5, 20, 28, tzinfo=timezone.utc)
    assert claims.expires_at == datetime(2024, 5, 30, 6, 25, 28, tzinfo=timezone.utc)
    assert claims.version == "1.0"
    assert claims.token_kind == "app" and claims.grant_kind == "app"
    assert claims.roles == ("User.Read.All", "Mail.Read")
    assert claims.scopes == ()
    assert permissions(claims) == {"User.Read.All", "Mail.Read"}


def test_a_delegated_token_shows_scp_and_the_user():
    claims = decode(USER_TOKEN)

    assert claims.token_kind == "user" and claims.grant_kind == "delegated"
    assert claims.app_id == "6731de76-14a6-49ae-97bc-6eba6914391e"
    assert claims.scopes == ("User.Read", "Mail.Read", "openid")
    assert claims.upn == "adele@contoso.com"
    assert claims.name == "Adele Vance"
    assert permissions(claims) == {"User.Read", "Mail.Read", "openid"}


def test_an_app_token_without_roles_has_no_permissions():
    claims = decode(jwt({"aud": "https://graph.microsoft.com", "appid": "a", "idtyp": "app"}))

    assert claims.readable and claims.roles == () and permissions(claims) == frozenset()


@pytest.mark.parametrize(
    "garbage, reason",
    [
        (None, "No token"),
        ("", "No token"),
        ("opaque-token-without-dots", "opaque"),
        ("a.b.c.d.e", "encrypted"),
        ("!!!.###.$$$", "not base64-encoded JSON"),
        (f"{b64('[1,2]')}.{b64('[3]')}.sig", "not a JSON object"),
        (f"{b64({'alg': 'none'})}.{b64('not json')}.sig", "not base64-encoded JSON"),
    ],
)
def test_garbage_is_not_a_readable_jwt_and_never_raises(garbage, reason):
    claims = decode(garbage)

    assert not claims.readable
    assert reason in claims.problem
    assert permissions(claims) == frozenset()


def test_odd_claim_types_do_not_break_decoding():
    claims = decode(jwt({"aud": ["a", "b"], "exp": "soon", "iat": True, "roles": "User.Read.All", "scp": 5}))

    assert claims.readable
    assert claims.audience == '["a", "b"]'
    assert claims.expires_at is None and claims.issued_at is None
    assert claims.roles == () and claims.scopes == ()


def test_diff_names_gained_and_lost_permissions():
    gained, lost = diff({"User.Read.All", "Mail.Read"}, {"User.Read.All", "GroupMember.Read.All"})

    assert gained == {"GroupMember.Read.All"}
    assert lost == {"Mail.Read"}
