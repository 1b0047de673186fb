"""The sandbox's Entra ID state: the tenant, app registrations, secrets, grants, codes, refresh tokens.

Everything derived from ``--seed`` (tenant id, demo app id and secret) is the same on every start,
so a dashboard profile saved against the sandbox keeps working after a restart or a reset.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import secrets
import string
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from . import generator

DEMO_DOMAIN = "graphconn-demo.onmicrosoft.com"
DEMO_APP_NAME = "graphconn demo"
DEMO_REDIRECT_URIS = (
    "http://127.0.0.1:8000/connections/oauth/callback",
    "http://localhost:8000/connections/oauth/callback",
)
DEMO_ROLES = ("User.Read.All",)
DEMO_REQUESTED_ROLES = ("User.Read.All", "Group.Read.All", "GroupMember.Read.All")
DEMO_SCOPES = ("User.Read", "Mail.Read", "offline_access", "openid", "profile")
# The dashboard's own app registration (its users sign in to graphconn with it): app roles
# named graphconn.<team>.<role>, assigned to the first directory users (``demo_assignments``;
# what the roles put in an ID token: approles.py).
DASHBOARD_APP_NAME = "graphconn dashboard sign-in"
DASHBOARD_REDIRECT_URIS = tuple(
    f"http://{host}:8000{path}"
    for host in ("127.0.0.1", "localhost")
    for path in ("/sso/callback/", "/accounts/login/")
)
DASHBOARD_APP_ROLES = ("graphconn.demo.admin", "graphconn.demo.operator", "graphconn.demo.viewer")

_SECRET_ALPHABET = string.ascii_letters + string.digits + "_-.~"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso(value: dt.datetime) -> str:
    """Graph's DateTimeOffset form: ``2024-05-01T10:00:00Z``."""
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rng_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def demo_assignments(seed: int, domain: str, roles: tuple[str, ...]) -> dict[str, set[str]]:
    """The first directory users get one role each (admin, operator, viewer); later users none."""
    return {generator.user(seed, domain, i)["id"]: {role} for i, role in enumerate(roles)}


def _secret_value(rng: random.Random | None = None) -> str:
    """Entra's secret shape: 3 characters, ``8Q~``, then 34 more (40 in all)."""
    pick = (lambda: rng.choice(_SECRET_ALPHABET)) if rng else (lambda: secrets.choice(_SECRET_ALPHABET))
    return "".join(pick() for _ in range(3)) + "8Q~" + "".join(pick() for _ in range(34))


@dataclass
class Secret:
    key_id: str
    display_name: str
    start: dt.datetime
    end: dt.datetime
    digest: str  # sha256 of the value; the value itself is never kept
    hint: str  # first 3 characters, as Graph's passwordCredential.hint

    def public(self) -> dict[str, Any]:
        return {
            "secret_id": self.key_id,
            "display_name": self.display_name,
            "start_date_time": iso(self.start),
            "end_date_time": iso(self.end),
            "hint": self.hint,
            "expired": self.end <= utcnow(),
        }


@dataclass
class KeyCredential:
    """A certificate uploaded to an app registration (Certificates & secrets → Certificates).

    Entra keeps only the public part; its validity is the certificate's own notBefore/notAfter.
    """

    key_id: str
    display_name: str
    start: dt.datetime
    end: dt.datetime
    sha1: bytes  # thumbprint of the DER encoding (x5t)
    sha256: bytes  # x5t#S256
    public_key: Any  # a cryptography public key, to verify client assertions
    der: bytes = b""  # the certificate itself (DER): Graph's keyCredential ``key``, base64

    @property
    def thumbprint(self) -> str:
        """The SHA-1 thumbprint in hex, as the Azure portal and AADSTS700027 print it."""
        return self.sha1.hex().upper()

    def public(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "display_name": self.display_name,
            "thumbprint": self.thumbprint,
            "start_date_time": iso(self.start),
            "end_date_time": iso(self.end),
            "expired": self.end <= utcnow(),
        }


@dataclass
class App:
    client_id: str
    object_id: str  # the application object
    sp_id: str  # its service principal in the tenant
    display_name: str
    created: dt.datetime
    redirect_uris: list[str] = field(default_factory=list)
    secrets: list[Secret] = field(default_factory=list)
    roles: dict[str, dt.datetime] = field(default_factory=dict)  # granted app roles -> grant time
    requested_roles: set[str] = field(default_factory=set)
    scopes: set[str] = field(default_factory=set)  # consented delegated scopes
    # The app's own appRoles (values) for users, their assignments (user or group id -> values)
    # and groupMembershipClaims ("SecurityGroup", "All" or None): see approles.py.
    app_roles: list[str] = field(default_factory=list)
    assignments: dict[str, set[str]] = field(default_factory=dict)
    group_membership_claims: str | None = None
    certificates: list[KeyCredential] = field(default_factory=list)  # public parts only
    owners: set[str] = field(default_factory=set)  # client IDs of apps owning this registration

    def public(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "object_id": self.object_id,
            "service_principal_id": self.sp_id,
            "display_name": self.display_name,
            "redirect_uris": list(self.redirect_uris),
            "granted_roles": sorted(self.roles),
            "requested_roles": sorted(self.requested_roles),
            "scopes": sorted(self.scopes),
            "secrets": [s.public() for s in self.secrets],
            "certificates": [c.public() for c in self.certificates],
            "owners": sorted(self.owners),
            "app_roles": list(self.app_roles),
            "group_membership_claims": self.group_membership_claims,
            "assignments": {p: sorted(r) for p, r in sorted(self.assignments.items())},
        }


@dataclass(frozen=True)
class SignedInUser:
    id: str
    upn: str
    name: str
    given_name: str
    surname: str


@dataclass
class AuthCode:
    client_id: str
    redirect_uri: str
    user: SignedInUser
    scopes: tuple[str, ...]  # as requested at /authorize (v2) or () for v1
    resource: str | None  # v1 only
    challenge: str | None
    challenge_method: str
    nonce: str | None
    v1: bool
    expires: float
    used: bool = False


@dataclass
class RefreshGrant:
    client_id: str
    user: SignedInUser
    scopes: tuple[str, ...]
    issued: dt.datetime
    last_used: float


@dataclass
class Settings:
    token_lifetime: int = 3600
    refresh_token_lifetime: int = 90 * 24 * 3600
    code_lifetime: int = 600
    clock_offset: int = 0  # seconds Entra's clock is ahead of true time (client assertion checks only)


class Registry:
    """All Entra-side state, guarded by one lock (requests run on many threads)."""

    def __init__(self, *, seed: int, token_lifetime: int = 3600, extra_redirect_uris: tuple[str, ...] = ()) -> None:
        self.seed = seed
        rng = random.Random(f"graphsandbox-tenant-{seed}")
        self.tenant_id = _rng_uuid(rng)
        self.domain = DEMO_DOMAIN
        self.display_name = "graphconn demo tenant"
        self.graph_sp_id = _rng_uuid(rng)
        self.created = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
        self._initial_lifetime = token_lifetime
        self._extra_redirect_uris = extra_redirect_uris
        self.lock = threading.RLock()
        self.apps: dict[str, App] = {}
        self.codes: dict[str, AuthCode] = {}
        self.refresh: dict[str, RefreshGrant] = {}
        self.settings = Settings(token_lifetime=token_lifetime)
        self.demo_client_id = ""
        self.demo_secret = ""
        self.dashboard_client_id = ""
        self.dashboard_secret = ""
        self.reset()

    # -- start state -----------------------------------------------------------------------
    def reset(self) -> None:
        """Back to the start state: only the demo app, nothing issued, start-up settings."""
        rng = random.Random(f"graphsandbox-demo-app-{self.seed}")
        with self.lock:
            self.apps.clear()
            self.codes.clear()
            self.refresh.clear()
            self.settings = Settings(token_lifetime=self._initial_lifetime)
            client_id, object_id, sp_id, key_id = (_rng_uuid(rng) for _ in range(4))
            value = _secret_value(rng)
            app = App(
                client_id=client_id,
                object_id=object_id,
                sp_id=sp_id,
                display_name=DEMO_APP_NAME,
                created=self.created,
                redirect_uris=list(dict.fromkeys(DEMO_REDIRECT_URIS + self._extra_redirect_uris)),
                roles={r: self.created for r in DEMO_ROLES},
                requested_roles=set(DEMO_REQUESTED_ROLES),
                scopes=set(DEMO_SCOPES),
            )
            app.secrets.append(
                _make_secret(value, key_id, "demo secret", self.created, self.created + dt.timedelta(days=3650))
            )
            self.apps[client_id] = app
            self.demo_client_id, self.demo_secret = client_id, value
            self._add_dashboard_app()

    def _add_dashboard_app(self) -> None:
        """The dashboard's sign-in app: same id and secret for a seed; roles on the first users."""
        rng = random.Random(f"graphsandbox-dashboard-app-{self.seed}")
        client_id, object_id, sp_id, key_id = (_rng_uuid(rng) for _ in range(4))
        value = _secret_value(rng)
        app = App(
            client_id=client_id,
            object_id=object_id,
            sp_id=sp_id,
            display_name=DASHBOARD_APP_NAME,
            created=self.created,
            redirect_uris=list(DASHBOARD_REDIRECT_URIS),
            scopes={"openid", "profile"},
            app_roles=list(DASHBOARD_APP_ROLES),
            assignments=demo_assignments(self.seed, self.domain, DASHBOARD_APP_ROLES),
        )
        app.secrets.append(
            _make_secret(
                value, key_id, "dashboard sign-in secret", self.created, self.created + dt.timedelta(days=3650)
            )
        )
        self.apps[client_id] = app
        self.dashboard_client_id, self.dashboard_secret = client_id, value

    # -- tenants ---------------------------------------------------------------------------
    def resolves(self, tenant: str) -> bool:
        """True when a path's tenant segment names this tenant (id, domain, common, organizations)."""
        return tenant.lower() in {self.tenant_id, self.domain, "common", "organizations"}

    def tenant_public(self) -> dict[str, Any]:
        return {"tenant_id": self.tenant_id, "domain": self.domain, "display_name": self.display_name}

    # -- apps ------------------------------------------------------------------------------
    def app(self, client_id: str) -> App | None:
        return self.apps.get(client_id.strip().lower())

    def create_app(
        self,
        *,
        display_name: str,
        roles: list[str],
        scopes: list[str],
        redirect_uris: list[str],
        requested_roles: list[str],
        secret_expires: dt.datetime | None,
    ) -> tuple[App, str]:
        now = utcnow()
        app = App(
            client_id=str(uuid.uuid4()),
            object_id=str(uuid.uuid4()),
            sp_id=str(uuid.uuid4()),
            display_name=display_name,
            created=now,
            redirect_uris=list(redirect_uris),
            roles={r: now for r in roles},
            requested_roles=set(requested_roles),
            scopes=set(scopes),
        )
        value = self._add_secret(app, secret_expires or now + dt.timedelta(days=180))
        with self.lock:
            self.apps[app.client_id] = app
        return app, value

    def delete_app(self, client_id: str) -> bool:
        with self.lock:
            return self.apps.pop(client_id.lower(), None) is not None

    def add_secret(self, app: App, expires: dt.datetime, display_name: str = "") -> tuple[Secret, str]:
        value = self._add_secret(app, expires, display_name)
        return app.secrets[-1], value

    def _add_secret(self, app: App, expires: dt.datetime, display_name: str = "") -> str:
        value = _secret_value()
        start = min(utcnow(), expires)
        with self.lock:
            app.secrets.append(_make_secret(value, str(uuid.uuid4()), display_name or "sandbox secret", start, expires))
        return value

    def add_certificate(self, app: App, pem: str | bytes, display_name: str = "") -> KeyCredential:
        """Register a certificate's public part; ValueError when it is not one PEM/DER certificate."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        data = pem.encode() if isinstance(pem, str) else pem
        try:
            cert = (
                x509.load_pem_x509_certificate(data) if b"-----BEGIN" in data else x509.load_der_x509_certificate(data)
            )
        except ValueError:
            raise ValueError("that is not an X.509 certificate (PEM or DER)") from None
        if not isinstance(cert.public_key(), rsa.RSAPublicKey):
            raise ValueError("only RSA certificates are supported for client assertions")
        credential = KeyCredential(
            key_id=str(uuid.uuid4()),
            display_name=display_name or cert.subject.rfc4514_string(),
            start=cert.not_valid_before_utc,
            end=cert.not_valid_after_utc,
            sha1=cert.fingerprint(hashes.SHA1()),
            sha256=cert.fingerprint(hashes.SHA256()),  # noqa: S303
            public_key=cert.public_key(),
            der=cert.public_bytes(serialization.Encoding.DER),
        )
        with self.lock:
            app.certificates.append(credential)
        return credential

    def remove_credential(self, app: App, key_id: str) -> bool:
        """Delete a secret or certificate by its keyId (rotation)."""
        with self.lock:
            before = len(app.secrets) + len(app.certificates)
            app.secrets = [s for s in app.secrets if s.key_id != key_id]
            app.certificates = [c for c in app.certificates if c.key_id != key_id]
            return len(app.secrets) + len(app.certificates) < before

    def check_secret(self, app: App, value: str) -> str:
        """``ok``, ``expired`` (only expired secrets match) or ``wrong``."""
        digest = hashlib.sha256(value.encode()).hexdigest()
        matches = [s for s in app.secrets if secrets.compare_digest(s.digest, digest)]
        if not matches:
            return "wrong"
        return "ok" if any(s.end > utcnow() for s in matches) else "expired"

    def grant(self, app: App, roles: list[str], scopes: list[str]) -> None:
        now = utcnow()
        with self.lock:
            for role in roles:
                app.roles.setdefault(role, now)
                app.requested_roles.add(role)
            app.scopes.update(scopes)

    def revoke(self, app: App, roles: list[str], scopes: list[str]) -> None:
        with self.lock:
            for role in roles:
                app.roles.pop(role, None)
            app.scopes.difference_update(scopes)

    # -- codes and refresh tokens ----------------------------------------------------------
    def new_code(self, code: AuthCode) -> str:
        value = "1.A" + secrets.token_urlsafe(96)
        with self.lock:
            self._prune()
            self.codes[value] = code
        return value

    def new_refresh_token(self, client_id: str, user: SignedInUser, scopes: tuple[str, ...]) -> str:
        value = "1.A" + secrets.token_urlsafe(160)
        with self.lock:
            self.refresh[value] = RefreshGrant(client_id, user, scopes, utcnow(), time.time())
        return value

    def _prune(self) -> None:
        now = time.time()
        for key in [k for k, c in self.codes.items() if c.expires + 3600 < now]:
            del self.codes[key]


def _make_secret(value: str, key_id: str, name: str, start: dt.datetime, end: dt.datetime) -> Secret:
    return Secret(
        key_id=key_id,
        display_name=name,
        start=start,
        end=end,
        digest=hashlib.sha256(value.encode()).hexdigest(),
        hint=value[:3],
    )
