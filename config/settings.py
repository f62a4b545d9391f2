"""Settings read from the environment, with embedded defaults that run the demo as is."""

import datetime
import os
from pathlib import Path
from urllib.parse import urlparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on", "sim"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY não definido: com DEBUG desligado, defina a variável de ambiente "
            "SECRET_KEY com um valor longo e aleatório."
        )
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])  # old keys, while rotating (see the README)

PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
# In production the public address's host is allowed unless ALLOWED_HOSTS says otherwise.
ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [urlparse(PUBLIC_BASE_URL).hostname or ""]
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [PUBLIC_BASE_URL])

# Fernet key for secrets at rest (3C Plus tokens). The development default is public on purpose:
# production must set its own (see the README on rotation).
FIELD_ENCRYPTION_KEY = os.environ.get(
    "FIELD_ENCRYPTION_KEY", "" if not DEBUG else "ZGV2ZWxvcG1lbnQta2V5LWRvLW5vdC11c2UtcHJvZCE="
)
_KEY_HELP = "gere uma com `python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`."
if not FIELD_ENCRYPTION_KEY:
    raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEY não definido: {_KEY_HELP}")
try:
    from cryptography.fernet import Fernet

    for _key in FIELD_ENCRYPTION_KEY.split(","):
        Fernet(_key.strip().encode())
except ValueError:
    raise ImproperlyConfigured(
        f"FIELD_ENCRYPTION_KEY inválida (chaves Fernet separadas por vírgula): {_KEY_HELP}"
    ) from None

INSTALLED_APPS = [
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "unfold.contrib.import_export",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "import_export",
    "django_htmx",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "tenants",
    "core",
    "attendance",
    "dialer",
    "payments",
    "messaging",
    "anymail",
    "statements",
    "dashboard",
    "config",  # the project's own commands (demo), above every app
    "benchmarks",  # the bench* commands (manage.py bench and its steps), above every app
    "django_tasks_db",  # after core: core's db_worker (with the heartbeat) overrides its command
]

MIDDLEWARE = [
    "core.observability.RequestIdMiddleware",
    "config.pages.NotFoundInPortugueseMiddleware",
    "common.middleware.RefuseControlCharactersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "attendance.middleware.CrossSiteRequestsMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "common.replica.ReadYourWritesMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "tenants.middleware.TenantMiddleware",
    "tenants.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "attendance.middleware.AttendanceFramingMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

# Login throttling (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one user from one
# address, that pair is locked for AXES_COOLOFF_TIME. Per pair, not per address: a call centre's
# operators share one public IP, and one person's typos must not lock everybody out.
# TenantModelBackend is ModelBackend reading the user with their membership and their permissions in fewer
# statements; ModelBackend stays last for the sessions opened before it (their backend is recorded in the session).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "tenants.backends.TenantModelBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = datetime.timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "core.views.locked_out"
# The second factor's code field: a wrong code counts as a failed login (see core/two_factor_views.py), and what was
# typed is not kept in the attempt's record.
AXES_SENSITIVE_PARAMETERS = ["code"]

# Second factor (django-otp): the name authenticator apps show beside the code.
OTP_TOTP_ISSUER = "Cobrança"


def proxy_settings(proxies: int) -> dict:
    """How django-axes (through django-ipware) finds the client's address behind `proxies` reverse proxies.

    Each proxy appends the address it received the request from to X-Forwarded-For: the outermost appends the
    client's, each further one its predecessor's, and the nearest is REMOTE_ADDR. So the header lists
    `proxies - 1` proxies after the client, which is the count django-ipware takes. Entries a client wrote
    itself stand left of those; not strict, ipware skips them instead of distrusting the whole header.
    Without proxies X-Forwarded-For is never read (anyone could write it).
    """
    if proxies <= 0:
        return {"AXES_IPWARE_META_PRECEDENCE_ORDER": ("REMOTE_ADDR",), "AXES_IPWARE_PROXY_COUNT": None}
    return {
        "AXES_IPWARE_META_PRECEDENCE_ORDER": ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"),
        "AXES_IPWARE_PROXY_ORDER": "left-most",
        "AXES_IPWARE_PROXY_COUNT": proxies - 1,
        "IPWARE_STRICT": False,
    }


# Read as AXES_PROXY_COUNT from the environment, never as a setting of that name (axes would take it as
# ipware's count).
globals().update(proxy_settings(int(os.environ.get("AXES_PROXY_COUNT", "0"))))

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}", conn_max_age=60, conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The demo runs a server and a worker on one SQLite file: wait for locks instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # The test database is a file (pytest-xdist gives each worker its own: test-db.sqlite3_gw0, ...), as the demo's
    # is: an in-memory one is a single connection that the live server's request threads share, and two requests
    # a page makes at once (htmx loads) then met on it ("bad parameter or other API misuse").
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "test-db.sqlite3")}
    # The Carteira's covering indexes carry extra columns on PostgreSQL; SQLite builds them without, as it should.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("DATABASE_POOL", False):
    # A pool of connections per server process (psycopg_pool), on by default under uvicorn (config/asgi.py): there
    # each request runs its database work on a thread of its own, so a persistent connection (CONN_MAX_AGE) would
    # be a new connection per request. The pool lends each request one of at most DATABASE_POOL_SIZE.
    from common.db_pool import check_unless_recent

    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": int(os.environ.get("DATABASE_POOL_SIZE", "12")),
        "timeout": 10,
        # Checked before it is lent, unless lent in the last seconds (common/db_pool.py).
        "check": check_unless_recent,
    }

# A streaming replica of the primary (docs/database.md): the Carteira's and the dashboard's reads go there while it
# lags by at most DATABASE_REPLICA_MAX_LAG seconds (checked at most once every DATABASE_REPLICA_LAG_CHECK_SECONDS),
# except for a user who wrote in the last DATABASE_REPLICA_STICKY_SECONDS (common/replica.py).
if os.environ.get("DATABASE_REPLICA_URL"):
    DATABASES["replica"] = dj_database_url.parse(
        os.environ["DATABASE_REPLICA_URL"], conn_max_age=60, conn_health_checks=True
    )
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["common.replica.ReplicaRouter"]
DATABASE_REPLICA_MAX_LAG = float(os.environ.get("DATABASE_REPLICA_MAX_LAG", "5"))
DATABASE_REPLICA_LAG_CHECK_SECONDS = float(os.environ.get("DATABASE_REPLICA_LAG_CHECK_SECONDS", "1"))
DATABASE_REPLICA_STICKY_SECONDS = float(os.environ.get("DATABASE_REPLICA_STICKY_SECONDS", "15"))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "pt-br"
# django-unfold ships no translations: its visible strings are translated here (locale/pt_BR).
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGES = [("pt-br", _("Português (Brasil)"))]
TIME_ZONE = "America/Sao_Paulo"
USE_I18N = True
USE_TZ = True
# Off: ids in templates (data attributes, "Acordo #1234") must not become "1.234"; money goes through
# common.parsing.format_brl, which writes R$ 1.234,56 itself.
USE_THOUSAND_SEPARATOR = False

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
WORKER_HEARTBEAT_SECONDS = 10
WORKER_STALE_SECONDS = int(os.environ.get("WORKER_STALE_SECONDS", "60"))  # /healthz: no beat for this long = down
# Run by every worker at each heartbeat (django-tasks-db has no scheduler); each must be safe to run
# from several workers at once.
WORKER_PERIODIC = [
    "core.task_leases.sweep_orphaned_tasks",
    "dialer.exports.sweep_exports",
    "dialer.removals.sweep_removals",
    "dialer.projection.sweep_projection",
    "dialer.calls.reconcile_due_tenants",
    "core.daily.queue_daily_tasks",
    "core.import_jobs.sweep_imports",
    "attendance.services.sweep_qualifications",
    "payments.charges.sweep_charges",
    "payments.receiving.pull_due_tenants",
]
# /healthz: a removal, qualification or import with no progress for this long is stuck.
WORKER_STUCK_SECONDS = int(os.environ.get("WORKER_STUCK_SECONDS", "300"))
# Queued once a day by the workers (see core/daily.py): no cron needed.
WORKER_DAILY = [
    "dashboard.tasks.roll_up_yesterday",
    "attendance.tasks.break_overdue_agreements",
    "dialer.tasks.prune_webhook_deliveries",
    "core.tasks.prune_import_reports",
    "messaging.tasks.run_cadence",
]
# A daily task whose run failed (the database restarted under it) is queued again after this long; /healthz
# reports one with no successful run today once a worker has been up this long since midnight.
WORKER_DAILY_RETRY_SECONDS = int(os.environ.get("WORKER_DAILY_RETRY_SECONDS", "300"))
WORKER_DAILY_GRACE_SECONDS = int(os.environ.get("WORKER_DAILY_GRACE_SECONDS", "3600"))
# An import's error report (its refused rows) is kept this many days after the import ends; the import's record
# and counts stay.
WALLET_IMPORT_REPORT_DAYS = int(os.environ.get("WALLET_IMPORT_REPORT_DAYS", "90"))
# Uploads are bounded before anything parses them (common/uploads.py). The Carteira import takes files up to
# IMPORT_MAX_UPLOAD_MB and imports them in the worker, streaming; a file read whole in the request (a preview, the
# payment and WhatsApp imports) takes up to IMPORT_INLINE_MAX_UPLOAD_MB. An XLSX is a zip: its members together may
# expand to the *_XLSX_MAX_UNCOMPRESSED_MB figures, and each member openpyxl reads whole (the shared strings, the
# styles: all but the sheets) to IMPORT_XLSX_MAX_LOADED_MEMBER_MB.
IMPORT_MAX_UPLOAD_MB = int(os.environ.get("IMPORT_MAX_UPLOAD_MB", "100"))
IMPORT_XLSX_MAX_UNCOMPRESSED_MB = int(os.environ.get("IMPORT_XLSX_MAX_UNCOMPRESSED_MB", "1024"))
IMPORT_XLSX_MAX_LOADED_MEMBER_MB = int(os.environ.get("IMPORT_XLSX_MAX_LOADED_MEMBER_MB", "16"))
IMPORT_INLINE_MAX_UPLOAD_MB = int(os.environ.get("IMPORT_INLINE_MAX_UPLOAD_MB", "5"))
IMPORT_INLINE_XLSX_MAX_UNCOMPRESSED_MB = int(os.environ.get("IMPORT_INLINE_XLSX_MAX_UNCOMPRESSED_MB", "25"))

# Production security defaults; DEBUG keeps plain HTTP on localhost usable.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain HTTP
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = 0 if DEBUG else 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"

# Origins allowed to frame the atendimento pages (the 3C Plus agent screen). Framed pages need the
# session cookie sent cross-site, so it becomes SameSite=None; Secure (HTTPS only: not with DEBUG).
ATTENDANCE_FRAME_ANCESTORS = env_list("ATTENDANCE_FRAME_ANCESTORS", ["https://*.3c.plus", "https://app.3c.plus"])
if ATTENDANCE_FRAME_ANCESTORS and not DEBUG:
    SESSION_COOKIE_SAMESITE = "None"
    CSRF_COOKIE_SAMESITE = "None"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Content Security Policy (Django's own). Nothing loads from or talks to another origin: a script
# injected into a page could not send the wallet anywhere (connect-src, form-action, img-src). The
# admin (django-unfold) runs Alpine.js, which needs 'unsafe-eval' and inline handlers, so scripts
# cannot be nonce-only yet. The atendimento's frame-ancestors is widened per page by
# attendance.middleware.AttendanceFramingMiddleware.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.UNSAFE_INLINE, CSP.UNSAFE_EVAL],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.SELF],
}
SECURE_REFERRER_POLICY = "same-origin"

# The fake 3C Plus under /sandbox/3cplus/ (the demo's dialer); never on in production by default.
DIALER_SANDBOX = env_bool("DIALER_SANDBOX", DEBUG)
# Payments provider (payments/): the pull of received PIX runs this often per tenant; the webhook's body limit; the
# header the TLS proxy sets to SUCCESS when the PSP's client certificate verified (nginx: $ssl_client_verify).
PAYMENTS_PULL_EVERY_SECONDS = int(os.environ.get("PAYMENTS_PULL_EVERY_SECONDS", "300"))
PAYMENTS_WEBHOOK_MAX_BYTES = int(os.environ.get("PAYMENTS_WEBHOOK_MAX_BYTES", str(256 * 1024)))
PAYMENTS_MTLS_HEADER = os.environ.get("PAYMENTS_MTLS_HEADER", "HTTP_X_SSL_CLIENT_VERIFY")
if DIALER_SANDBOX:
    # Its app (and so its state table) only where the sandbox runs: never in a production schema.
    INSTALLED_APPS.insert(INSTALLED_APPS.index("config"), "sandbox")
# The 3C Plus API URL of a tenant must be https://<company>.3c.plus; these hosts are allowed besides
# (a staging stand-in), in ALLOWED_HOSTS syntax (".exemplo.com.br" takes its subdomains). The sandbox allows any.
THREECPLUS_ALLOWED_HOSTS = env_list("THREECPLUS_ALLOWED_HOSTS", [])
# The WhatsApp access token goes only to graph.facebook.com, or to these hosts (a stand-in; the sandbox allows any).
WHATSAPP_ALLOWED_HOSTS = env_list("WHATSAPP_ALLOWED_HOSTS", [])
# E-mail to debtors goes through django-anymail: set EMAIL_BACKEND to an ESP's backend (for example
# "anymail.backends.amazon_ses.EmailBackend") and its ANYMAIL keys; locally the console shows them.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "cobranca@localhost")
ANYMAIL = {"WEBHOOK_SECRET": os.environ.get("ANYMAIL_WEBHOOK_SECRET", "")}
# The régua runs again this often during the day (messaging.tasks.run_cadence), reaching each debtor inside their hours.
MESSAGING_CADENCE_EVERY_MINUTES = int(os.environ.get("MESSAGING_CADENCE_EVERY_MINUTES", "30"))
MESSAGING_WEBHOOK_MAX_BYTES = int(os.environ.get("MESSAGING_WEBHOOK_MAX_BYTES", str(1024 * 1024)))

# Enviar para discador: contacts per mailing.json request, and how long a client sent to a
# campaign is skipped by the next export to the same campaign.
# 3C Plus documents no maximum; its guide keeps JSON for batches under ~10,000 lines (CSV above).
DIALER_BATCH_SIZE = int(os.environ.get("DIALER_BATCH_SIZE", "1000"))
# The dial lists' projection (dialer/projection.py): each tenant swept at most this often, and a client taken off
# the list this long before its window closes. The lead must cover the tick plus the time the removals of everyone
# closing at once take (bench_dial_projection: ~20 s per 100,000 contacts on a loaded 2-core machine, so ~200 s at
# 1,000,000): 10 minutes, dialling stops a little early rather than a little late.
DIALER_PROJECTION_TICK_SECONDS = int(os.environ.get("DIALER_PROJECTION_TICK_SECONDS", "60"))
DIALER_PROJECTION_LEAD_SECONDS = int(os.environ.get("DIALER_PROJECTION_LEAD_SECONDS", "600"))
DIALER_RESEND_AFTER_HOURS = int(os.environ.get("DIALER_RESEND_AFTER_HOURS", "24"))
# How many mailing.json uploads of one export may be in flight at once (over the client's kept-alive connections).
DIALER_EXPORT_UPLOADS_IN_FLIGHT = int(os.environ.get("DIALER_EXPORT_UPLOADS_IN_FLIGHT", "4"))
# A running export renews its lease every second or so; the workers' sweep (every heartbeat) re-queues one
# whose lease ran out and whose worker is gone. 3C Plus failing for now pauses an export, which resumes
# after a backoff doubling from BASE up to MAX seconds; after MAX_PAUSES pauses in a row it fails.
DIALER_EXPORT_LEASE_SECONDS = int(os.environ.get("DIALER_EXPORT_LEASE_SECONDS", "45"))
DIALER_EXPORT_BACKOFF_BASE_SECONDS = int(os.environ.get("DIALER_EXPORT_BACKOFF_BASE_SECONDS", "30"))
DIALER_EXPORT_BACKOFF_MAX_SECONDS = int(os.environ.get("DIALER_EXPORT_BACKOFF_MAX_SECONDS", "1800"))
DIALER_EXPORT_MAX_PAUSES = int(os.environ.get("DIALER_EXPORT_MAX_PAUSES", "12"))
# Removing contacts who must not be called: a failed removal is tried again after BASE × 2^n seconds,
# at most MAX_ATTEMPTS times (each attempt already retries transient errors inside the HTTP client).
DIALER_REMOVAL_BACKOFF_BASE_SECONDS = int(os.environ.get("DIALER_REMOVAL_BACKOFF_BASE_SECONDS", "15"))
DIALER_REMOVAL_MAX_ATTEMPTS = int(os.environ.get("DIALER_REMOVAL_MAX_ATTEMPTS", "8"))
# Reconciliation (GET /calls): each configured tenant every EVERY seconds, reading again OVERLAP seconds
# before its watermark (reports can land late); a tenant's first run reads FIRST_HOURS back.
DIALER_RECONCILE_EVERY_SECONDS = int(os.environ.get("DIALER_RECONCILE_EVERY_SECONDS", "300"))
DIALER_RECONCILE_OVERLAP_SECONDS = int(os.environ.get("DIALER_RECONCILE_OVERLAP_SECONDS", "900"))
DIALER_RECONCILE_FIRST_HOURS = int(os.environ.get("DIALER_RECONCILE_FIRST_HOURS", "24"))
# Pages of GET /calls (100 reports each) one run reads at most: a longer pass goes on at the tenant's next run, so
# one tenant never holds the shared worker. A tenant whose runs all failed for FAILING seconds shows in /healthz.
DIALER_RECONCILE_MAX_PAGES = int(os.environ.get("DIALER_RECONCILE_MAX_PAGES", "50"))
DIALER_RECONCILE_FAILING_SECONDS = int(os.environ.get("DIALER_RECONCILE_FAILING_SECONDS", "3600"))
# A webhook delivery is answered 2xx only once it is on PostgreSQL's disk (a synchronous commit), the deliveries of
# a few milliseconds committed together (dialer/group_commit.py): one flush per group, not per delivery. Groups of
# at most GROUP_COMMIT_MAX deliveries gathered for GROUP_COMMIT_MS; at most GROUP_COMMIT_BATCHES committing at once
# per process. GROUP_COMMIT=0: each delivery commits alone (as the Django view always does).
DIALER_WEBHOOK_GROUP_COMMIT = env_bool("DIALER_WEBHOOK_GROUP_COMMIT", True)
DIALER_WEBHOOK_GROUP_COMMIT_MS = float(os.environ.get("DIALER_WEBHOOK_GROUP_COMMIT_MS", "2"))
DIALER_WEBHOOK_GROUP_COMMIT_MAX = int(os.environ.get("DIALER_WEBHOOK_GROUP_COMMIT_MAX", "64"))
DIALER_WEBHOOK_GROUP_COMMIT_BATCHES = int(os.environ.get("DIALER_WEBHOOK_GROUP_COMMIT_BATCHES", "4"))
# DIALER_WEBHOOK_ASYNC_COMMIT=1 answers before the disk (synchronous_commit off for the webhook's transactions):
# a PostgreSQL crash then loses the deliveries answered in its last 3 × wal_writer_delay (600 ms by default), and a
# lost "call connected" never comes back (its screen pop is gone; histories come back with the reconciliation).
# Off by default: with group commit it buys little (docs/deploy.md has the figures).
DIALER_WEBHOOK_ASYNC_COMMIT = env_bool("DIALER_WEBHOOK_ASYNC_COMMIT", False)
# The webhook's statement is prepared once per connection (a third of its database cost). Behind PgBouncer in
# transaction mode that needs 1.22 or newer with max_prepared_statements set; 0 turns it off for older poolers.
DIALER_WEBHOOK_PREPARED = env_bool("DIALER_WEBHOOK_PREPARED", True)
# A webhook delivery's body is read up to this many bytes (an event is a few KiB), and only once its secret is
# known good; while the database does not answer within the timeout the delivery gets a 503 (3C Plus retries).
DIALER_WEBHOOK_MAX_BYTES = int(os.environ.get("DIALER_WEBHOOK_MAX_BYTES", str(512 * 1024)))
DIALER_WEBHOOK_DB_TIMEOUT_SECONDS = float(os.environ.get("DIALER_WEBHOOK_DB_TIMEOUT_SECONDS", "2"))
# /healthz answers 503 while an export has made no progress (or missed its resume) for this long.
DIALER_EXPORT_STUCK_SECONDS = int(os.environ.get("DIALER_EXPORT_STUCK_SECONDS", "300"))

# The operator console waits for the next call on a server-sent event stream when served over ASGI (uvicorn)
# with PostgreSQL (LISTEN/NOTIFY); elsewhere, or with this off, it asks every second. The streams' database
# reads and, under uvicorn, the webhook's statements run on ASYNC_DB_THREADS threads per server process.
ATTENDANCE_CALL_STREAM = env_bool("ATTENDANCE_CALL_STREAM", True)
ASYNC_DB_THREADS = int(os.environ.get("ASYNC_DB_THREADS", "8"))
# One signed-in session holds at most this many call streams per server process (a console and a few client
# tabs); opening another closes its oldest.
ATTENDANCE_STREAMS_PER_SESSION = int(os.environ.get("ATTENDANCE_STREAMS_PER_SESSION", "3"))
# Under uvicorn the call streams' sync parts (middleware: session, user, tenant) run on this many threads shared by
# all the streams of a process (config/asgi.py), not on a thread per open stream.
ATTENDANCE_STREAM_THREADS = int(os.environ.get("ATTENDANCE_STREAM_THREADS", "2"))
# A console that reconnects is sent every call connected since the last one it received, at most this far back.
ATTENDANCE_CALL_REPLAY_MINUTES = int(os.environ.get("ATTENDANCE_CALL_REPLAY_MINUTES", "15"))

# The Carteira counts at most this many rows exactly; past it the count is an estimate.
WALLET_EXACT_COUNT_LIMIT = int(os.environ.get("WALLET_EXACT_COUNT_LIMIT", "10000"))

# One line per event with the request id; JSON in production (LOG_FORMAT=json), readable text in DEBUG.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "core.observability.RequestIdFilter"},
        "redact_secrets": {"()": "core.observability.RedactSecretsFilter"},
        "one_line_client_errors": {"()": "core.observability.OneLineClientErrors"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["request_id", "redact_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own handlers (its console, runserver's request lines) would print paths unredacted:
        # configured here without handlers, their records reach the console handler above.
        "django": {"level": "INFO"},
        "django.server": {"level": "INFO", "propagate": True},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        "django.request": {"filters": ["one_line_client_errors"]},
    },
}

from config.unfold_config import UNFOLD  # noqa: E402,F401
