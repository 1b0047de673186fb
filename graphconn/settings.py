"""graphconn settings, read from the environment (django-environ).

Every value has a safe development default so that ``make run`` works on a bare machine
(SQLite under var/, kombu's filesystem broker under var/, generated keys under var/);
with DEBUG off the secrets must be given and ``manage.py check --deploy`` is clean.
"""

from __future__ import annotations

import ipaddress as _ipaddress
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from microsoft import clouds as _clouds  # Microsoft's hosts (Django-free data)

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
if (BASE_DIR / ".env").exists():
    env.read_env(BASE_DIR / ".env")

VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# https://docs.djangoproject.com/en/5.2/ref/settings/#debug
DEBUG = env.bool("DEBUG", default=True)


def _dev_secret(name: str, make: Callable[[], str]) -> str:
    """A development-only secret, generated once into var/ so restarts keep sessions and data.

    Processes starting together (web, worker and beat; test processes side by side) must all read
    the same value: the first one to link its complete file in place wins, the others read it."""
    path = VAR_DIR / name
    if not path.exists():
        draft = VAR_DIR / f".{name}.{os.getpid()}"
        draft.write_text(make())
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


# https://docs.djangoproject.com/en/5.2/ref/settings/#secret-key
if env.str("SECRET_KEY", default=""):
    SECRET_KEY = env.str("SECRET_KEY")
elif DEBUG:
    SECRET_KEY = _dev_secret("secret_key", lambda: secrets.token_urlsafe(50))
else:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

# Field encryption keys (Fernet), newest first; rotation: prepend a key, run
# `manage.py rotate_encryption_keys`, then drop the old key.
FIELD_ENCRYPTION_KEYS: list[str] = env.list("FIELD_ENCRYPTION_KEYS", default=[])
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must be set when DEBUG is off (comma-separated Fernet keys, newest first)."
        )
    FIELD_ENCRYPTION_KEYS = [_dev_secret("field_encryption_key", lambda: Fernet.generate_key().decode())]
for _index, _key in enumerate(FIELD_ENCRYPTION_KEYS):
    try:
        Fernet(_key)
    except (ValueError, TypeError):
        raise ImproperlyConfigured(
            f"FIELD_ENCRYPTION_KEYS entry #{_index + 1} is not a valid Fernet key "
            "(32 url-safe base64-encoded bytes; make one with "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)."
        ) from None

# https://docs.djangoproject.com/en/5.2/ref/settings/#allowed-hosts
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "whitenoise.runserver_nostatic",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_celery_beat",
    "ninja",  # the API's browsable docs, served from our own static files
    "connections",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "graphconn.input_guard.ControlCharacterMiddleware",
    "graphconn.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "graphconn.errorpages.StyledErrorPagesMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "graphconn.urls"
WSGI_APPLICATION = "graphconn.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "connections.accounts.context.signed_in",
            ],
        },
    },
]

# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-db-url
DATABASE_URL = env.str("DATABASE_URL", default="") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so that a real worker process sees what the tests write.
    # One file per test process, so parallel runs on one machine never share a test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
    # Keep a web process's connection rather than opening the file and setting WAL on every request.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # A page's queries are small but their estimates can pass PostgreSQL's JIT threshold, and
        # compiling a query to machine code then takes far longer than running it.
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
        # Pages run the same few queries over and over, and planning one (many joins) costs the
        # database more than running it: with the parameters sent apart from the SQL (server-side
        # binding), psycopg prepares a query its connection has run 5 times, and PostgreSQL plans it
        # once. The web process turns it on (docker/start-web). Off elsewhere: a sync's queries
        # depend on their values (how many versions a key range holds), and the generic plan
        # PostgreSQL settles on for a prepared one can make a delta run several times slower; and
        # off behind a pooler in transaction mode (PgBouncer), which cannot keep them.
        # https://docs.djangoproject.com/en/5.2/ref/databases/#server-side-parameters-binding
        # https://www.psycopg.org/psycopg3/docs/advanced/prepare.html
        if env.bool("DATABASE_PREPARED_STATEMENTS", default=False):
            DATABASES["default"]["OPTIONS"].update({"server_side_binding": True, "prepare_threshold": 5})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
# After this many failed log-ins for one username from one address within the window, that
# pair is locked until the oldest failure leaves the window.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
LOGIN_FAILURE_WINDOW_SECONDS = env.int("LOGIN_FAILURE_WINDOW_SECONDS", default=15 * 60)
LOGIN_REDIRECT_URL = "connections:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# https://whitenoise.readthedocs.io/en/stable/django.html
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Caches — https://docs.djangoproject.com/en/5.2/topics/cache/
# Redis when the broker is Redis (one server for every process); otherwise each process keeps its
# template fragments in memory (their keys name the rows they show, so a copy is never stale), and
# sessions go to files under VAR_DIR, shared by every process on the machine: a session ended in
# one web process must be gone in the others.
_CACHE_REDIS = next(
    (url for url in (env.str("CELERY_BROKER_URL", default=""), env.str("REDIS_URL", default="")) if url),
    "",
)
_CACHE_PREFIX = env.str("CACHE_KEY_PREFIX", default="graphconn")
if _CACHE_REDIS.startswith(("redis://", "rediss://")):
    _redis_cache = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _CACHE_REDIS}
    CACHES = {
        "default": {**_redis_cache, "KEY_PREFIX": _CACHE_PREFIX},
        "sessions": {**_redis_cache, "KEY_PREFIX": f"{_CACHE_PREFIX}-sessions"},
    }
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "KEY_PREFIX": _CACHE_PREFIX},
        "sessions": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "sessions-cache"),
            "OPTIONS": {"MAX_ENTRIES": 10_000},
        },
    }

# Django's database sessions, read through the cache; the database stays the record.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_CACHE_ALIAS = "sessions"

# Security: strict when DEBUG is off (`manage.py check --deploy` is clean).
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz(/live|/ready)?$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
# Preloading is a one-way commitment (browsers ship the host as HTTPS-only for months): only on request.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# check --deploy suggests preload (security.W021); off by default it is a choice, not an oversight.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
# Scripts and styles come only from our own static files: no inline code, no eval.
CONTENT_SECURITY_POLICY = env.str(
    "CONTENT_SECURITY_POLICY",
    default="default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'",
)
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# /metrics: a bearer token (METRICS_TOKEN) or client addresses/networks (METRICS_ALLOWED_IPS); neither: refused.
# https://prometheus.io/docs/prometheus/latest/configuration/configuration/#scrape_config
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS: list[str] = env.list("METRICS_ALLOWED_IPS", default=[])
for _network in METRICS_ALLOWED_IPS:
    try:
        _ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"METRICS_ALLOWED_IPS: {_network!r} is not an address or network (e.g. 10.0.0.0/8)."
        ) from None
# Personal API tokens: the longest validity a person may choose.
API_TOKEN_MAX_DAYS = env.int("API_TOKEN_MAX_DAYS", default=366)
# The audit log records REMOTE_ADDR; trust X-Forwarded-For only behind a proxy you run.
AUDIT_TRUST_X_FORWARDED_FOR = env.bool("AUDIT_TRUST_X_FORWARDED_FOR", default=False)
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Celery — https://docs.celeryq.dev/en/stable/userguide/configuration.html
# No broker configured: kombu's filesystem transport under var/ (one machine, no server),
# consumed by a real worker process. REDIS_URL or CELERY_BROKER_URL switch to Redis.
BROKER_DIR = Path(env.str("BROKER_DIR", default=str(VAR_DIR / "broker")))
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or env.str("REDIS_URL", default="") or "filesystem://"
if CELERY_BROKER_URL.startswith("filesystem://"):
    for _sub in ("queue", "processed", "control"):
        (BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": 0.2,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Tasks are acks_late: a task a dead worker held comes back after this long, so it must be
        # longer than the longest task (the hard time limit); the reaper ends such runs long before.
        "visibility_timeout": env.int("CELERY_TASK_TIME_LIMIT", default=30 * 60) + 10 * 60,
        "global_keyprefix": env.str("CELERY_KEY_PREFIX", default="graphconn:"),
        # A stopped or frozen Redis costs a request at most about this long, never the whole site.
        "socket_timeout": env.float("BROKER_TIMEOUT_SECONDS", default=2.0),
        "socket_connect_timeout": env.float("BROKER_TIMEOUT_SECONDS", default=2.0),
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Connecting to the broker from a web request gives up after this (all retries included); a job
# that could not be sent waits in the database and is sent again by beat or a starting worker.
BROKER_TIMEOUT_SECONDS = env.float("BROKER_TIMEOUT_SECONDS", default=2.0)
CELERY_BROKER_CONNECTION_TIMEOUT = BROKER_TIMEOUT_SECONDS
CELERY_TASK_PUBLISH_RETRY = False
CELERY_TASK_IGNORE_RESULT = True  # job state lives in our own models, not a result backend
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=25 * 60)
CELERY_TASK_ALWAYS_EAGER = False
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's reliability guidance for long, idempotent tasks: acknowledge after the task ran (a task a
# dead worker held comes back after the visibility timeout), reserve one task at a time, and do not
# re-queue a task whose pool process was killed (it could kill the next worker too): its sync run is
# ended in words instead (connections/jobs/reaper.py).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = False
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="graphconn")
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "prune-sync-runs": {
        "task": "connections.prune_sync_runs",
        "schedule": 6 * 60 * 60.0,
        "options": {"expires": 60 * 60},
    },
    "check-credentials": {
        "task": "connections.check_credentials",
        "schedule": 24 * 60 * 60.0,
        "options": {"expires": 60 * 60},
    },
    "reap-stale-work": {
        "task": "connections.reap_stale_work",
        "schedule": float(env.int("REAPER_SECONDS", default=30)),
        "options": {"expires": 25},
    },
    "resend-waiting-jobs": {
        "task": "connections.resend_waiting_jobs",
        "schedule": 30.0,
        "options": {"expires": 25},
    },
    "resend-waiting-alerts": {
        "task": "connections.resend_waiting_alerts",
        "schedule": 30.0,
        "options": {"expires": 25},
    },
    "refresh-due-tokens": {
        "task": "connections.refresh_due_tokens",
        "schedule": 60.0,
        "options": {"expires": 50},  # a missed beat is dropped, never piled up
    },
}
# Beat reads its schedule from the database (django-celery-beat): the entries above are copied in
# at start, and each connection's sync schedule is a PeriodicTask there, edited on the detail page.
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
DJANGO_CELERY_BEAT_TZ_AWARE = True
# Sync runs kept per connection (plus each entity's newest successful run, the delta base).
SYNC_RUNS_KEPT = env.int("SYNC_RUNS_KEPT", default=20)
# A sync page that fails with 429/500/502/503/504 or a lost connection is asked again (Retry-After
# honoured, else capped exponential backoff with jitter) for at most this many seconds.
# Items per sync page ($top); 0: the entity's largest page (999 for users). Smaller pages use less
# memory per page and report progress more often.
SYNC_PAGE_SIZE = env.int("SYNC_PAGE_SIZE", default=0)
# A full read of a large collection with a range property (users, groups, devices, applications,
# service principals) reads this many partitions at once (threads of the worker); 1: one page after
# another. Collections under SYNC_PARTITIONS_FROM items are read serially. A page of users costs 2
# resource units, so even many partitions stay far inside a large tenant's budget; the threads' CPU
# (parsing pages) is what bounds them.
SYNC_PARTITIONS = env.int("SYNC_PARTITIONS", default=24)
SYNC_PARTITIONS_FROM = env.int("SYNC_PARTITIONS_FROM", default=5000)
# ...and only where Graph takes its time: a count answered faster than this means pages come fast
# too, and one chain is then quicker than partitions.
SYNC_PARTITIONS_SLOWER_THAN_MS = env.float("SYNC_PARTITIONS_SLOWER_THAN_MS", default=50.0)
SYNC_PAGE_RETRY_SECONDS = env.float("SYNC_PAGE_RETRY_SECONDS", default=120.0)
SYNC_PAGE_BACKOFF_BASE = env.float("SYNC_PAGE_BACKOFF_BASE", default=1.0)
SYNC_PAGE_BACKOFF_CAP = env.float("SYNC_PAGE_BACKOFF_CAP", default=30.0)
# Graph's throttle budget per app + tenant, shared by every worker (connections/throttle.py): in Redis
# when the broker is Redis, else in an SQLite file under VAR_DIR (the processes of one machine).
GRAPH_THROTTLE_BUDGET = env.bool("GRAPH_THROTTLE_BUDGET", default=True)
# The part of Graph's budget graphconn lets itself use (Graph may count requests it does not see).
GRAPH_THROTTLE_FRACTION = env.float("GRAPH_THROTTLE_FRACTION", default=0.9)
# Resource units per 10 s; 0: by the tenant's size (3,500 / 5,000 / 8,000; unknown: 3,500).
GRAPH_THROTTLE_UNITS = env.int("GRAPH_THROTTLE_UNITS", default=0)
# Graph's budget for named tenants, before the two above: "<tenant id>=<units>,…" (a tenant whose
# budget you know, such as one smaller than its size says).
GRAPH_THROTTLE_TENANT_UNITS: dict[str, int] = {}
for _pair in env.list("GRAPH_THROTTLE_TENANT_UNITS", default=[]):
    _tenant, _, _units = _pair.partition("=")
    if not _tenant.strip() or not _units.strip().isdigit() or int(_units) < 1:
        raise ImproperlyConfigured(
            "GRAPH_THROTTLE_TENANT_UNITS is a list of <tenant id>=<units per 10 s>, separated by commas "
            "(for example 72f988bf-86f1-41af-91ab-2d7cd011db47=2000)."
        )
    GRAPH_THROTTLE_TENANT_UNITS[_tenant.strip().lower()] = int(_units)
GRAPH_THROTTLE_STORE = env.str("GRAPH_THROTTLE_STORE", default="")  # redis://… or a file path; "": as above
GRAPH_THROTTLE_PREFIX = env.str("GRAPH_THROTTLE_PREFIX", default="graphconn:throttle:")
if not 0 < GRAPH_THROTTLE_FRACTION <= 1:
    raise ImproperlyConfigured("GRAPH_THROTTLE_FRACTION must be more than 0 and at most 1 (for example 0.9).")
if GRAPH_THROTTLE_UNITS < 0:
    raise ImproperlyConfigured("GRAPH_THROTTLE_UNITS must be 0 (by the tenant's size) or Graph's budget per 10 s.")
WORKER_HEARTBEAT_SECONDS = env.int("WORKER_HEARTBEAT_SECONDS", default=10)
WORKER_STALE_AFTER_SECONDS = env.int("WORKER_STALE_AFTER_SECONDS", default=45)
# A running sync writes its heartbeat after every page and every few seconds while it waits to ask a
# page again; one silent for this long is interrupted by the reaper (beat, every REAPER_SECONDS).
# At most 2 minutes; at least a slow page (two outbound timeouts) plus a few heartbeats.
SYNC_STALE_AFTER_SECONDS = env.int(
    "SYNC_STALE_AFTER_SECONDS",
    default=min(120, max(int(2 * env.float("GRAPH_HTTP_TIMEOUT", default=15.0)) + 6 * WORKER_HEARTBEAT_SECONDS, 60)),
)
# /healthz reports work queued longer than this as stuck.
QUEUED_STUCK_AFTER_SECONDS = env.int("QUEUED_STUCK_AFTER_SECONDS", default=10 * 60)

# Outbound Graph / Entra ID requests: only these hosts (Microsoft's clouds by default),
# plus the sandbox when GRAPH_SANDBOX_URL is set; TLS always verified (GRAPH_CA_BUNDLE
# adds trust for the sandbox's own CA).
GRAPH_SANDBOX_URL = env.str("GRAPH_SANDBOX_URL", default="").rstrip("/")
GRAPH_CA_BUNDLE = env.str("GRAPH_CA_BUNDLE", default="") or None
GRAPH_HTTP_TIMEOUT = env.float("GRAPH_HTTP_TIMEOUT", default=15.0)
GRAPH_ALLOWED_HOSTS: list[str] = env.list("GRAPH_ALLOWED_HOSTS", default=list(_clouds.ALLOWED_HOSTS))
# The app registration's API permissions page for connections that sign in outside Microsoft's
# clouds (a stand-in for Entra ID, such as the sandbox `make run` starts); {client_id} and {tenant}
# are filled in. Connections in Microsoft's clouds always link to their cloud's Azure portal, and
# so do the others while this is empty.
APP_PERMISSIONS_URL_TEMPLATE = env.str("APP_PERMISSIONS_URL_TEMPLATE", default="")
if GRAPH_SANDBOX_URL:
    from urllib.parse import urlsplit as _urlsplit

    _sandbox = _urlsplit(GRAPH_SANDBOX_URL)
    GRAPH_ALLOWED_HOSTS = [*GRAPH_ALLOWED_HOSTS, f"{_sandbox.hostname}:{_sandbox.port or 443}"]

# The dashboard's own public base URL, used for OAuth redirect URIs.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

# Logging: configured once; every handler redacts secrets, bearer tokens and client_secret= fields.
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "graphconn.redaction.RedactSecretsFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "celery": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# Alerts: email through Django's backend (EMAIL_URL, e.g. smtp://user:pw@host:587 or
# consolemail:// which prints mails, the development default); webhooks only to these hosts
# (exact host or host:port, checked like every outbound call; Teams webhooks live on a
# per-tenant host such as contoso.webhook.office.com, so add yours).
_email = env.email_url("EMAIL_URL", default="consolemail://" if DEBUG else "smtp://localhost:25")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS"))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL"))
EMAIL_TIMEOUT = 10
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default="") or _email.get("EMAIL_FILE_PATH") or str(VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="graphconn <graphconn@localhost>")
ALERT_WEBHOOK_HOSTS: list[str] = env.list("ALERT_WEBHOOK_HOSTS", default=["hooks.slack.com"])
# Microsoft Teams channels may also post to the hosts Microsoft gives Teams webhooks: connector
# incoming webhooks and Workflows (Power Automate) URLs. docs/teams-webhooks.md has the sources.
ALERT_TEAMS_WEBHOOK_HOSTS: list[str] = env.list(
    "ALERT_TEAMS_WEBHOOK_HOSTS",
    default=["*.webhook.office.com", "*.logic.azure.com", "*.environment.api.powerplatform.com"],
)

# Sign in with Microsoft: OpenID Connect against the organisation's Entra ID tenant through
# mozilla-django-oidc (connections/sso/). Off until OIDC_TENANT_ID and OIDC_RP_CLIENT_ID are set.
# https://mozilla-django-oidc.readthedocs.io/en/stable/settings.html
OIDC_TENANT_ID = env.str("OIDC_TENANT_ID", default="")
OIDC_ALLOWED_TENANTS: list[str] = env.list("OIDC_ALLOWED_TENANTS", default=[])
OIDC_RP_CLIENT_ID = env.str("OIDC_RP_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = env.str("OIDC_RP_CLIENT_SECRET", default="")
OIDC_RP_CLIENT_CERTIFICATE_FILE = env.str("OIDC_RP_CLIENT_CERTIFICATE_FILE", default="")  # instead of the secret
OIDC_AUTHORITY_HOST = env.str("OIDC_AUTHORITY_HOST", default=_clouds.DEFAULT_CLOUD.login_base).rstrip("/")
# Whom a signed-in person with no team is told to ask (an address or a name); default: the site admins.
SSO_ACCESS_CONTACT = env.str("SSO_ACCESS_CONTACT", default="")
# A Microsoft sign-in lasts this long (then the person signs in again and Entra's changes apply).
SSO_SESSION_SECONDS = env.int("SSO_SESSION_SECONDS", default=8 * 60 * 60)
# Password log-in on the dashboard's page; Django admin's log-in keeps working for superusers.
LOCAL_LOGIN_ENABLED = env.bool("LOCAL_LOGIN_ENABLED", default=True)
# Passwords: Django's ModelBackend.
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend", "connections.sso.backend.EntraBackend"]
import sys as _sys  # noqa: E402

from connections.sso.config import EntraSignIn as _EntraSignIn  # noqa: E402  (plain module, no models)

_sso = _EntraSignIn.from_settings(_sys.modules[__name__])
if _sso.problems():
    raise ImproperlyConfigured("Sign in with Microsoft: " + " ".join(_sso.problems()))
if not LOCAL_LOGIN_ENABLED and not _sso.enabled:
    raise ImproperlyConfigured(
        "LOCAL_LOGIN_ENABLED=False needs Sign in with Microsoft (OIDC_TENANT_ID, "
        "OIDC_RP_CLIENT_ID and a secret or certificate); only superusers could log in otherwise."
    )
