"""Forged, replayed and mis-issued callbacks are refused with a plain message, and nobody is created."""

from __future__ import annotations

import time
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from connections.models import ClaimMapping, EntraIdentity

from .conftest import ROLES, callback_url, query_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(sso_app, entra_user, team_a):
    ClaimMapping.objects.create(claim="roles", value=ROLES[0], team=team_a, role="admin")
    return entra_user("Ada Admin", role=ROLES[0], app=sso_app)


def token_endpoint(sandbox) -> str:
    return f"/{sandbox.tenant_id}/oauth2/v2.0/token"


def assert_refused(response, reason: str, words: str, client: Client) -> None:
    text = response.content.decode()
    assert response.status_code in (400, 403, 502), (response.status_code, text[:300])
    assert "Sign-in refused" in text and f'data-reason="{reason}"' in text, text[:2000]
    assert words in text
    assert not EntraIdentity.objects.exists()
    assert not get_user_model().objects.filter(entra_identity__isnull=False).exists()
    assert client.get(reverse("connections:list")).status_code == 302  # nobody signed in


def test_a_callback_with_an_unknown_state_is_refused(clean_sandbox, ada):
    client = Client()
    url = callback_url(clean_sandbox, client, ada)
    code = url.split("code=", 1)[1].split("&", 1)[0]
    forged = Client().get(f"/sso/callback/?code={code}&state=not-from-this-browser")
    assert_refused(forged, "state", "does not belong to a sign-in started in this browser", client)


def test_a_callback_from_another_browser_session_is_refused(clean_sandbox, ada):
    victim = Client()
    url = callback_url(clean_sandbox, Client(), ada)  # started in the attacker's session
    assert_refused(victim.get(url), "state", "does not belong to a sign-in started in this browser", victim)


def test_a_replayed_callback_is_refused_the_second_time(clean_sandbox, ada, sign_in):
    client = Client()
    url = callback_url(clean_sandbox, client, ada)
    assert client.get(url).status_code == 302
    client.post(reverse("logout"))
    EntraIdentity.objects.all().delete()
    get_user_model().objects.filter(username__contains="ada").delete()

    assert_refused(client.get(url), "state", "it was already used", client)


@pytest.mark.smoke
def test_a_token_with_another_nonce_is_refused(clean_sandbox, ada, sign_in):
    client = Client()
    response = sign_in(client, ada, tamper={"nonce": "an-attackers-nonce"})
    assert_refused(response, "nonce", "does not carry the one-time value (nonce) this sign-in sent", client)


def test_an_account_of_another_tenant_is_refused(clean_sandbox, ada, sign_in, settings):
    settings.OIDC_TENANT_ID = "organizations"
    allowed = str(uuid.uuid4())
    settings.OIDC_ALLOWED_TENANTS = [allowed]
    client = Client()
    response = sign_in(client, ada)
    assert_refused(response, "tenant", f"another organisation (tenant {clean_sandbox.tenant_id})", client)
    assert allowed in response.content.decode()


def test_an_allowed_tenant_signs_in_through_organizations(clean_sandbox, ada, sign_in, settings):
    settings.OIDC_TENANT_ID = "organizations"
    settings.OIDC_ALLOWED_TENANTS = [str(uuid.uuid4()), clean_sandbox.tenant_id]
    assert sign_in(Client(), ada).status_code == 302
    assert EntraIdentity.objects.get().tenant_id == clean_sandbox.tenant_id


@pytest.mark.parametrize(
    ("claims", "reason", "words"),
    [
        (
            {"exp": int(time.time()) - 600, "iat": int(time.time()) - 4200, "nbf": int(time.time()) - 4200},
            "expired",
            "has expired",
        ),
        ({"aud": "00000000-1111-2222-3333-444444444444"}, "audience", "issued to another application"),
        (
            {"iss": "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"},
            "issuer",
            "was not issued by",
        ),
        ({"tid": "9188040d-6c67-4c5b-b112-36a304b66dad"}, "tenant", "another organisation"),
    ],
)
def test_a_mis_issued_id_token_is_refused(clean_sandbox, ada, sign_in, claims, reason, words):
    clean_sandbox.control.post("/_sandbox/faults", {"path": token_endpoint(clean_sandbox), "id_token_claims": claims})
    client = Client()
    assert_refused(sign_in(client, ada), reason, words, client)


def test_a_token_without_an_object_id_is_refused(clean_sandbox, ada, sign_in):
    clean_sandbox.control.post(
        "/_sandbox/faults", {"path": token_endpoint(clean_sandbox), "id_token_claims": {"oid": None}}
    )
    client = Client()
    assert_refused(sign_in(client, ada), "claims", "lacks the oid claim", client)


def test_a_wrong_client_secret_is_explained(clean_sandbox, ada, sign_in, settings):
    settings.OIDC_RP_CLIENT_SECRET = "not-the-secret"
    client = Client()
    response = sign_in(client, ada)
    assert_refused(response, "token_endpoint", "AADSTS7000215", client)
    assert "OIDC_RP_CLIENT_SECRET" in response.content.decode() and "not-the-secret" not in response.content.decode()


def test_cancelling_on_microsofts_page_says_so(clean_sandbox, ada):
    client = Client()
    start = client.get("/sso/login/")
    endpoint = start["Location"].split("?", 1)[0]
    answer = clean_sandbox.session().post(
        endpoint, data={**query_of(start["Location"]), "action": "cancel"}, allow_redirects=False, timeout=30
    )
    response = client.get(answer.headers["Location"].split("testserver", 1)[1])
    assert response.status_code == 200 and "Sign-in was cancelled" in response.content.decode()
    assert not EntraIdentity.objects.exists()


def test_a_sign_in_older_than_ten_minutes_is_refused(clean_sandbox, ada):
    client = Client()
    url = callback_url(clean_sandbox, client, ada)
    session = client.session
    for entry in session["oidc_states"].values():
        entry["added_on"] -= 601
    session.save()
    assert_refused(client.get(url), "state_expired", "longer than ten minutes", client)


def test_a_callback_without_a_code_is_refused(clean_sandbox, ada):
    client = Client()
    assert_refused(client.get("/sso/callback/"), "state", "Start again", client)
    state = query_of(client.get("/sso/login/")["Location"])["state"]
    assert_refused(client.get(f"/sso/callback/?state={state}"), "no_code", "carried no authorization code", client)


def test_sign_in_is_a_plain_404_page_when_not_configured(settings, db):
    settings.OIDC_TENANT_ID = ""
    response = Client().get("/sso/login/")
    assert response.status_code == 404 and "not set up on this server" in response.content.decode()
    assert "Sign in with Microsoft" not in Client().get(reverse("login")).content.decode()


def test_a_token_signed_with_another_key_is_refused(sso_app):
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa
    from django.conf import settings

    from connections.sso.backend import EntraBackend
    from connections.sso.refusals import SignInRefused

    signer, other = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    now = int(time.time())
    token = jwt.encode(
        {
            "aud": settings.OIDC_RP_CLIENT_ID,
            "iss": f"{settings.OIDC_AUTHORITY_HOST}/{settings.OIDC_TENANT_ID}/v2.0",
            "tid": settings.OIDC_TENANT_ID,
            "oid": str(uuid.uuid4()),
            "iat": now,
            "nbf": now,
            "exp": now + 600,
        },
        signer,
        algorithm="RS256",
        headers={"kid": "not-a-published-key"},
    )
    backend = EntraBackend()
    with pytest.raises(SignInRefused) as refused:
        backend.get_payload_data(token, other.public_key())
    assert refused.value.reason == "signature" and "does not match the tenant's published keys" in refused.value.message
    with pytest.raises(SignInRefused) as unknown:
        backend.retrieve_matching_jwk(token)  # asks the sandbox's JWKS for that kid
    assert unknown.value.reason == "signature" and "a key the tenant does not publish" in unknown.value.message


def test_too_many_groups_for_the_token_is_explained(clean_sandbox, ada, sign_in):
    clean_sandbox.control.post(
        "/_sandbox/faults",
        {
            "path": token_endpoint(clean_sandbox),
            "id_token_claims": {
                "_claim_names": {"groups": "src1"},
                "_claim_sources": {"src1": {"endpoint": "https://graph.microsoft.com/v1.0/users/x/getMemberObjects"}},
            },
        },
    )
    client = Client()
    assert_refused(sign_in(client, ada), "groups_overage", "more groups than a token can list", client)


def test_a_second_first_sign_in_of_the_same_person_takes_the_same_user(clean_sandbox, ada):
    from connections.sso import mapping

    person = mapping.Person(
        tenant_id=clean_sandbox.tenant_id,
        object_id=ada["id"],
        upn=ada["userPrincipalName"],
        display_name="Ada Admin",
        roles=(ROLES[0],),
        groups=(),
    )
    first = mapping.create_user(person)
    second = mapping.create_user(person)  # as if the lookup had raced the first creation
    assert first.pk == second.pk and EntraIdentity.objects.count() == 1
    assert second.memberships.get().role == "admin"
