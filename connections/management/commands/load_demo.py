"""Demo data: the demo superuser, a viewer and an operator, the "Demo team", and three sandbox connections
(users and groups with client credentials; the signed-in user's mail with authorization code).

Idempotent: run it again after the sandbox has written var/sandbox/sandbox.json and the sandbox
connections are added (or brought up to date with the sandbox's current app and secret).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from connections.library import audit
from connections.models import ClaimMapping, Connection, Membership, Role, Team
from connections.policy import outbound_policy
from microsoft.clouds import DEFAULT_CLOUD

DEFAULT_PASSWORD = "demo-graphconn"
TEAM_NAME = "Demo team"
GRAPH_SCOPE = f"{DEFAULT_CLOUD.graph_resource}/.default"  # the sandbox answers for the global cloud
DELEGATED_SCOPE = "User.Read Mail.Read"
# name, entity, grant type, scope
SANDBOX_CONNECTIONS = (
    ("Sandbox users", "users", Connection.GrantType.CLIENT_CREDENTIALS, GRAPH_SCOPE),
    ("Sandbox groups", "groups", Connection.GrantType.CLIENT_CREDENTIALS, GRAPH_SCOPE),
    ("Sandbox mail (sign in)", "me/messages", Connection.GrantType.AUTHORIZATION_CODE, DELEGATED_SCOPE),
)
SANDBOX_KEYS = ("base_url", "ca_path", "tenant_id", "tenant_domain", "client_id", "client_secret")
# The sandbox's dashboard sign-in app defines these app roles (graphconn.<team>.<role>).
DEMO_APP_ROLES = (
    ("graphconn.demo.admin", Role.ADMIN),
    ("graphconn.demo.operator", Role.OPERATOR),
    ("graphconn.demo.viewer", Role.VIEWER),
)


class Command(BaseCommand):
    help = "Create the demo users, team and sandbox connections (safe to run again)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--password", default=DEFAULT_PASSWORD, help="password of demo, operator and viewer")
        parser.add_argument(
            "--sandbox-json",
            default=str(settings.BASE_DIR / "var" / "sandbox" / "sandbox.json"),
            help="the file the sandbox writes with its base URL, tenant and demo app",
        )
        parser.add_argument(
            "--sso-env",
            default="",
            help="write the OIDC_* settings for Sign in with Microsoft through the sandbox to this file",
        )

    def handle(self, *args: Any, password: str, sandbox_json: str, sso_env: str = "", **options: Any) -> None:
        with transaction.atomic():
            demo = self.user("demo", password, superuser=True)
            team, _ = Team.objects.get_or_create(name=TEAM_NAME)
            for user, role in (
                (demo, Role.ADMIN),
                (self.user("operator", password), Role.OPERATOR),
                (self.user("viewer", password), Role.VIEWER),
            ):
                Membership.objects.update_or_create(team=team, user=user, defaults={"role": role})
            sandbox = self.read_sandbox(Path(sandbox_json))
            if sandbox is None:
                self.stdout.write(
                    f"No sandbox details at {sandbox_json} yet: created the users and {TEAM_NAME}; "
                    "the sandbox connections will be added on the next run."
                )
            else:
                for name, entity, grant_type, scope in SANDBOX_CONNECTIONS:
                    self.sandbox_connection(demo, team, name, entity, sandbox, grant_type, scope)
                self.warn_if_not_allowed(sandbox["base_url"])
                self.note_permissions_page(sandbox.get("portal_url") or "")
                if sandbox.get("dashboard_client_id"):
                    self.sign_in_mappings(team)
                    if sso_env:
                        self.write_sso_env(Path(sso_env), sandbox)
        base = settings.PUBLIC_BASE_URL
        self.stdout.write(f"Log in at {base}/ as demo / {password}")

    def user(self, username: str, password: str, superuser: bool = False) -> Any:
        user, _ = get_user_model().objects.get_or_create(username=username)
        user.is_superuser = user.is_staff = superuser
        user.is_active = True
        user.set_password(password)
        user.save()
        return user

    def read_sandbox(self, path: Path) -> dict[str, str] | None:
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise CommandError(f"{path} is not readable JSON: {error}") from None
        missing = [key for key in SANDBOX_KEYS if key not in data and key != "ca_path"]
        if missing:
            raise CommandError(f"{path} lacks {', '.join(missing)}")
        return {**data, "base_url": str(data["base_url"]).rstrip("/")}

    def sandbox_connection(
        self, demo: Any, team: Team, name: str, entity: str, sandbox: dict[str, str], grant_type: str, scope: str
    ) -> None:
        base, tenant = sandbox["base_url"], sandbox["tenant_id"]
        fields = {
            "service_url": f"{base}/v1.0",
            "tenant": tenant,
            "client_id": sandbox["client_id"],
            "token_version": Connection.TokenVersion.V2,
            "grant_type": grant_type,
            "token_url": f"{base}/{tenant}/oauth2/v2.0/token",
            "authorize_url": f"{base}/{tenant}/oauth2/v2.0/authorize",
            "scope": scope,
            "entity": entity,
        }
        connection = Connection.objects.filter(team=team, name=name).first()
        if connection is None:
            connection = Connection(team=team, name=name, created_by=demo, **fields)
            connection.client_secret = sandbox["client_secret"]
            connection.updated_by = demo
            connection.save()
            audit.record(demo, connection, audit.Action.CREATED, fields=[*fields, "client_secret"], detail="load_demo")
            self.stdout.write(f"Added the connection “{name}” ({entity}) to {TEAM_NAME}.")
            return
        changed = [key for key, value in fields.items() if getattr(connection, key) != value]
        secret_changed = connection.client_secret != sandbox["client_secret"]
        if not (changed or secret_changed):
            self.stdout.write(f"The connection “{name}” is up to date.")
            return
        for key in changed:
            setattr(connection, key, fields[key])
        if secret_changed:
            connection.client_secret = sandbox["client_secret"]
        connection.updated_by = demo
        connection.save()
        if changed:
            audit.record(demo, connection, audit.Action.EDITED, fields=changed, detail="load_demo")
        if secret_changed:
            audit.record(demo, connection, audit.Action.SECRET_REPLACED, fields=["client_secret"], detail="load_demo")
        self.stdout.write(f"Updated the connection “{name}” to the sandbox's current details.")

    def sign_in_mappings(self, team: Team) -> None:
        """The sandbox's demo app roles give Demo team's roles to whoever holds them in Entra."""
        for value, role in DEMO_APP_ROLES:
            ClaimMapping.objects.update_or_create(
                claim=ClaimMapping.Claim.ROLE, value=value, team=team, defaults={"role": role}
            )
        self.stdout.write(
            f"Sign in with Microsoft: the sandbox's app roles {', '.join(v for v, _ in DEMO_APP_ROLES)} "
            f"map to {TEAM_NAME}'s admin, operator and viewer."
        )

    def write_sso_env(self, path: Path, sandbox: dict[str, str]) -> None:
        """``make run`` reads this file so the dashboard signs people in through the sandbox."""
        lines = {
            "OIDC_TENANT_ID": sandbox["tenant_id"],
            "OIDC_RP_CLIENT_ID": sandbox["dashboard_client_id"],
            "OIDC_RP_CLIENT_SECRET": sandbox["dashboard_client_secret"],
            "OIDC_AUTHORITY_HOST": sandbox["base_url"],
        }
        path.write_text("".join(f"{key}='{value}'\n" for key, value in lines.items()))
        path.chmod(0o600)

    def note_permissions_page(self, portal_url: str) -> None:
        """The API permissions links open the sandbox's portal only when the settings say so."""
        if portal_url and not getattr(settings, "APP_PERMISSIONS_URL_TEMPLATE", ""):
            self.stdout.write(
                f"Note: start the dashboard with APP_PERMISSIONS_URL_TEMPLATE={portal_url} so the "
                "API permissions links of the sandbox connections open the sandbox's portal."
            )

    def warn_if_not_allowed(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        if not outbound_policy().allows(parts.hostname or "", parts.port or 443):
            self.stdout.write(
                f"Note: start the dashboard with GRAPH_SANDBOX_URL={base_url} (and GRAPH_CA_BUNDLE pointing "
                "at the sandbox's CA) so it may call the sandbox."
            )
