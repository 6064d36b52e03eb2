"""Settings, read from the environment (django-environ).

The defaults are the embedded mode used by `make run`: a SQLite file under `var/`, tasks run
in-process, every vendor integration in its local mode. Production sets `DATABASE_URL`,
`REDIS_URL`, `SECRET_KEY`, `ALLOWED_HOSTS` and `DEBUG=0`; `.env.example` lists every variable.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF, UNSAFE_INLINE

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("CLIENTSFLOW_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)


def _embedded_secret_key() -> str:
    """A per-checkout random key for the embedded mode, so no key is ever committed."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(64))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="") or _embedded_secret_key()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "clientsflow.admin_apps.ClientsFlowAdminConfig",  # django.contrib.admin with our AdminSite
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "csp",
    "django_celery_beat",
    "axes",
    "clientsflow",
    "leads",
    "outreach",
    "classify",
    "bookings",
    "calls",
    "billing",
    "board",
    "reports",
    "privacy",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "clientsflow.middleware.SecurityHeadersMiddleware",
    "clientsflow.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # HTML goes out gzipped (static files are compressed ahead of time by the storage below).
    # BREACH needs a secret in a compressed body and an attacker who can inject text into it and
    # watch the sizes: every page here is behind a staff login, the CSRF token in a body is masked
    # afresh on every response (Django's `get_token`, also in our cached fragments), and Django's
    # GZipMiddleware pads each response by a random length ("Heal The Breach"), so it is acceptable.
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "clientsflow.middleware.PublicBaseUrlMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "clientsflow.middleware.LazyMessageMiddleware",  # Django's, with the storage made on first use
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "clientsflow.middleware.DatabaseUnavailableMiddleware",
    "clientsflow.middleware.OwnerTimezoneMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the "account locked" page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "clientsflow.urls"
WSGI_APPLICATION = "clientsflow.wsgi.application"

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
                # "Needs you" on the admin index: the board's counts, added on that page only.
                "board.context_processors.admin_needs_you",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'clientsflow.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Django's backend, with each statement's placeholders converted once (clientsflow.sqlite_backend).
    DATABASES["default"]["ENGINE"] = "clientsflow.sqlite_backend"
    # Tests run in memory, Django's default for SQLite, said here by name: pytest-django knows that
    # default only by Django's engine name and would otherwise, under xdist, name each worker's
    # test database after this file's path (`test_/…/clientsflow.sqlite3_gw0`), which cannot open.
    DATABASES["default"].setdefault("TEST", {}).setdefault("NAME", ":memory:")
    # WAL + a busy timeout let the web thread and the in-process dispatcher share the file.
    # synchronous=NORMAL with WAL syncs at checkpoints instead of on every commit: the file can
    # never be corrupted, and only the last commits can be lost, and only on a power cut or an OS
    # crash (not when the process dies). https://www.sqlite.org/pragma.html#pragma_synchronous
    # The default 2 MB page cache re-reads the report and board indexes from the file on every
    # request at 100,000 leads: 32 MB per connection and a memory-mapped file keep them in memory.
    # The log is checkpointed every 10,000 pages (40 MB) instead of SQLite's 1,000: a new lead
    # writes about 35 pages (the lead's indexes, the search index, its event, audit and inbox rows),
    # so the default checkpointed every ~30 deliveries, each time copying pages that the next
    # deliveries dirty again (the newest leaf of every index) and waiting for two fsyncs. Measured
    # on intake: a tenth of the checkpoints' writes and fsyncs (less system time and disk wait per
    # delivery), for about 3% more of SQLite's own instructions (a longer log to find pages in).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=10000; "
                "PRAGMA cache_size=-32768; PRAGMA mmap_size=268435456;"
            ),
        }
    )
    # A WSGI server's worker keeps its connection between requests, as on PostgreSQL (opening one
    # costs more than most requests' queries). Django's own server closes each request thread's
    # connection anyway; `clientsflow.sqlite_keeper` keeps those closes cheap.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
    # Prepared statements for the few statements run through `clientsflow.prepared.server_prepared_cursor`,
    # from their second run on a connection (Django's own cursors bind client-side and never prepare).
    # Behind a pooler that cannot keep them (PgBouncer in transaction mode before 1.21) turn them
    # off: `?prepare_threshold=none`.
    _threshold = DATABASES["default"]["OPTIONS"].setdefault("prepare_threshold", 1)
    if isinstance(_threshold, str) and _threshold.lower() in ("none", "off"):
        DATABASES["default"]["OPTIONS"]["prepare_threshold"] = None
IS_POSTGRES = DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Celery -----------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "clientsflow.redis_cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="cf"),
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    # A board render keeps about three entries per card shown (its HTML, its badges, its content's
    # address) besides the columns: Django's default of 300 entries would cull the board's own
    # entries, and its version, on every render.
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 10_000}}
    }

CELERY_BROKER_URL = REDIS_URL or "memory://localhost//"
CELERY_RESULT_BACKEND = None
# Without a broker (the embedded default) tasks run in-process, right after the commit.
# (An empty value counts as unset, so a copied .env.example never turns it off by accident.)
CELERY_TASK_ALWAYS_EAGER = (
    env.bool("CELERY_TASK_ALWAYS_EAGER") if env.str("CELERY_TASK_ALWAYS_EAGER", default="") else not REDIS_URL
)
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "visibility_timeout": 3600}
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="clientsflow")
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Auth, i18n, static ---------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Login throttling (django-axes, see clientsflow/auth.py): after AXES_FAILURE_LIMIT failed logins
# for one username from one address, that pair is refused for AXES_COOLOFF_TIME; the lockout is
# written to the audit log. A successful login clears the count.
AUTHENTICATION_BACKENDS = [
    "clientsflow.auth.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "clientsflow.auth.login_locked_out_response"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False  # its own log lines would carry the username and address on every failure
LOGIN_URL = "/admin/login/"
LOGIN_REDIRECT_URL = "/board/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
OWNER_TIMEZONE = env.str("OWNER_TIMEZONE", default="America/New_York")
PHONE_DEFAULT_REGION = env.str("PHONE_DEFAULT_REGION", default="US")

# Uploaded files (the logo and host photo in settings); `manage.py backup` includes this folder
# when it is set and exists. Only MEDIA_ROOT/branding/ is served, images only (clientsflow.views).
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(VAR_DIR / "media"))
MEDIA_URL = "/media/"

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Front-end packages come from the npm registry (package.json, `npm ci` in the Makefile) and are
# served straight from node_modules: nothing third-party is copied into the repository.
NPM_STATIC = {
    "vendor/htmx": BASE_DIR / "node_modules" / "htmx.org" / "dist",
    "vendor/sortablejs": BASE_DIR / "node_modules" / "sortablejs",
}
STATICFILES_DIRS = [BASE_DIR / "static", *((prefix, path) for prefix, path in NPM_STATIC.items() if path.exists())]
WHITENOISE_USE_FINDERS = True
# Production serves hashed, pre-compressed (gzip, and Brotli when installed) files cached for a
# year: whitenoise's manifest storage, once `manage.py collectstatic` has written the manifest.
# Without one (tests, `make run`, DEBUG) the plain storage serves the files as they are, since
# the manifest storage refuses to render a page whose static file it has not collected.
# `STATIC_MANIFEST=1`/`0` forces it; empty or unset means the default just described.
_static_manifest = env.str("STATIC_MANIFEST", default="").strip().lower()
STATIC_MANIFEST = (
    _static_manifest in {"1", "true", "yes", "on"}
    if _static_manifest
    else not DEBUG and (STATIC_ROOT / "staticfiles.json").exists()
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Security -------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy (django-csp): scripts and styles only from our own static files, on
# every page. No inline <script>, no onclick=, no style= on the board or the public pages, so a
# stored script in lead data has nothing to run with. Paying posts to us and is redirected to
# Stripe Checkout, which form-action must allow.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF, "https://checkout.stripe.com"],
    }
}
# The admin keeps scripts as strict, but Django's own templates (and our review screens) write a
# few inline styles: allowed there only (clientsflow.middleware.ContentSecurityPolicyMiddleware).
CSP_ADMIN_PATH_PREFIX = "/admin/"
CSP_ADMIN_UPDATE = {"style-src": [UNSAFE_INLINE]}
# Browser features no page here uses, off for every page (clientsflow.middleware).
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), midi=(), payment=(), usb=()"
)
if not DEBUG and env.bool("SECURE_HTTPS", default=False):
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
SECURE_REDIRECT_EXEMPT = [r"^healthz/$"]

# The address leads and the owner reach this app at: every absolute link in an email (unsubscribe,
# booking management, proposals, admin links in alerts) starts with it.
# Unset, links follow the address a request came in at, else what `runembedded` serves
# (SERVED_BASE_URL, set by that command): see `clientsflow.site.public_base_url`.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="").rstrip("/")
SERVED_BASE_URL = ""

# Defaults for the settings row (clientsflow.site) on a fresh install; the owner edits them in the admin.
AGENCY_NAME = env.str("AGENCY_NAME", default="Northwind Studio")
OWNER_NAME = env.str("OWNER_NAME", default="Alex Morgan")
DEFAULT_CURRENCY = env.str("DEFAULT_CURRENCY", default="USD").upper()
# Where the owner's notifications and daily digest are emailed (clientsflow.notify).
OWNER_EMAIL = env.str("OWNER_EMAIL", default="owner@localhost")
# How notifications reach the owner at first (email, slack, both or none); then Admin > Settings.
NOTIFY_VIA = env.str("NOTIFY_VIA", default="email")

# --- Outbound and integrations --------------------------------------------------------------
AUTOSEND_ENABLED = env.bool("AUTOSEND_ENABLED", default=False)
SEND_ALLOWLIST = env.list("SEND_ALLOWLIST", default=[])
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
globals().update(EMAIL_CONFIG)
# Any django-anymail provider: EMAIL_BACKEND=anymail.backends.postmark.EmailBackend plus its
# settings as ANYMAIL_<NAME> variables (e.g. ANYMAIL_POSTMARK_SERVER_TOKEN), read below.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="") or EMAIL_CONFIG["EMAIL_BACKEND"]
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="ClientsFlow <owner@localhost>")

LEAD_WEBHOOK_SECRET = env.str("LEAD_WEBHOOK_SECRET", default="")
GHL_PUBLIC_KEY = env.str("GHL_PUBLIC_KEY", default="", multiline=True)
LEAD_WEBHOOK_MAX_BYTES = 1024 * 1024
STRIPE_API_KEY = env.str("STRIPE_API_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
FIREFLIES_API_KEY = env.str("FIREFLIES_API_KEY", default="")
FIREFLIES_WEBHOOK_SECRET = env.str("FIREFLIES_WEBHOOK_SECRET", default="")
GOOGLE_SERVICE_ACCOUNT_FILE = env.str("GOOGLE_SERVICE_ACCOUNT_FILE", default="")
GOOGLE_DELEGATED_USER = env.str("GOOGLE_DELEGATED_USER", default="")
GCAL_DRIVEN_CONFIRMATION = env.bool("GCAL_DRIVEN_CONFIRMATION", default=False)
ANTHROPIC_API_KEY = env.str("ANTHROPIC_API_KEY", default="")
NOTION_TOKEN = env.str("NOTION_TOKEN", default="")
NOTION_CALLS_DATABASE_ID = env.str("NOTION_CALLS_DATABASE_ID", default="")
SLACK_WEBHOOK_URL = env.str("SLACK_WEBHOOK_URL", default="")
IMAP_URL = env.str("IMAP_URL", default="")

# Values the log redaction filter must never let through, whatever logs them.
SECRET_SETTING_NAMES = [
    "SECRET_KEY",
    "SUPPRESSION_HASH_KEY",
    "LEAD_WEBHOOK_SECRET",
    "STRIPE_API_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "FIREFLIES_API_KEY",
    "FIREFLIES_WEBHOOK_SECRET",
    "ANTHROPIC_API_KEY",
    "NOTION_TOKEN",
    "SLACK_WEBHOOK_URL",
    "EMAIL_HOST_PASSWORD",
]

# --- Outbound sequences, sending, unsubscribes and replies ----------------------------------
# Automatic sends happen only on these weekdays and between these hours in OWNER_TIMEZONE.
OUTBOUND_SEND_DAYS = env.list("OUTBOUND_SEND_DAYS", default=["mon", "tue", "wed", "thu", "fri"])
OUTBOUND_SEND_HOURS = env.str("OUTBOUND_SEND_HOURS", default="9-17")  # start hour (incl.) - end hour (excl.)
OUTBOUND_DAILY_CAP = env.int("OUTBOUND_DAILY_CAP", default=50)  # sends per owner-local day, all paths
OUTBOUND_AUTOSEND_BATCH = env.int("OUTBOUND_AUTOSEND_BATCH", default=20)
OUTBOUND_STALE_SENDING_MINUTES = env.int("OUTBOUND_STALE_SENDING_MINUTES", default=15)
# New leads from this source join a sequence on their own ('' = nobody is enrolled automatically).
SEQUENCE_AUTO_ENROLL_SOURCE = env.str("SEQUENCE_AUTO_ENROLL_SOURCE", default="")
SEQUENCE_AUTO_ENROLL_SEQUENCE = env.str("SEQUENCE_AUTO_ENROLL_SEQUENCE", default="")  # name; '' = first active
OUTBOUND_DRAFT_MODEL = env.str("OUTBOUND_DRAFT_MODEL", default="claude-sonnet-5")
OUTBOUND_DRAFT_TIMEOUT_SECONDS = env.float("OUTBOUND_DRAFT_TIMEOUT_SECONDS", default=30.0)
# Inbound replies by webhook (django-anymail's Mailgun inbound): without a key the webhook refuses.
MAILGUN_WEBHOOK_SIGNING_KEY = env.str("MAILGUN_WEBHOOK_SIGNING_KEY", default="")
REPLIES_WEBHOOK_MAX_AGE_SECONDS = 15 * 60
# The authserv-id our own receiving mail server writes in Authentication-Results (RFC 8601), e.g.
# "mx.agency.example". Empty: no Authentication-Results is trusted, so a reply matched only by its
# sender's address waits for a person before it changes the lead.
INBOUND_AUTHSERV_ID = env.str("INBOUND_AUTHSERV_ID", default="")
ANYMAIL = {
    "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_WEBHOOK_SIGNING_KEY,
    **{name[len("ANYMAIL_") :]: value for name, value in os.environ.items() if name.startswith("ANYMAIL_") and value},
}
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)  # seconds; an SMTP hang must not hold a worker
IMAP_TIMEOUT_SECONDS = env.float("IMAP_TIMEOUT_SECONDS", default=20.0)
IMAP_POLL_BATCH = env.int("IMAP_POLL_BATCH", default=100)
SECRET_SETTING_NAMES += ["MAILGUN_WEBHOOK_SIGNING_KEY", "IMAP_URL"]

# --- Bookings: holds, the booking page's rate limit, Google Calendar ------------------------
BOOKING_HOLD_MINUTES = env.int("BOOKING_HOLD_MINUTES", default=10)  # a picked slot is kept this long
BOOKING_HOLDS_PER_ADDRESS = env.int("BOOKING_HOLDS_PER_ADDRESS", default=3)  # live holds per client IP
BOOKING_HOLDS_PER_HOST = env.int("BOOKING_HOLDS_PER_HOST", default=5)  # live holds hiding a host's slots
BOOKING_RATE_LIMIT = env.str("BOOKING_RATE_LIMIT", default="20/m")  # per IP, booking page POSTs and holds
BOOKING_FREEBUSY_CACHE_SECONDS = env.int("BOOKING_FREEBUSY_CACHE_SECONDS", default=60)
BOOKING_GOOGLE_TIMEOUT_SECONDS = env.float("BOOKING_GOOGLE_TIMEOUT_SECONDS", default=15.0)
BOOKING_GOOGLE_RETRIES = env.int("BOOKING_GOOGLE_RETRIES", default=3)  # after the first attempt
BOOKING_GOOGLE_BACKOFF_SECONDS = env.float("BOOKING_GOOGLE_BACKOFF_SECONDS", default=1.0)

# --- Sales calls: Fireflies, Notion call rows, Slack digest, meeting routing ----------------
FIREFLIES_API_URL = env.str("FIREFLIES_API_URL", default="https://api.fireflies.ai/graphql")
FIREFLIES_TIMEOUT_SECONDS = env.float("FIREFLIES_TIMEOUT_SECONDS", default=20.0)
FIREFLIES_WEBHOOK_MAX_BYTES = 256 * 1024
# The backup poll (every 3 min) looks this far back for transcripts a webhook did not deliver.
FIREFLIES_POLL_LOOKBACK_HOURS = env.int("FIREFLIES_POLL_LOOKBACK_HOURS", default=24)
FIREFLIES_POLL_BATCH = env.int("FIREFLIES_POLL_BATCH", default=20)
NOTION_TIMEOUT_SECONDS = env.float("NOTION_TIMEOUT_SECONDS", default=20.0)
NOTION_MAX_RETRIES = env.int("NOTION_MAX_RETRIES", default=3)  # per sync, on 429 (honouring Retry-After)
NOTION_MAX_RETRY_WAIT_SECONDS = env.float("NOTION_MAX_RETRY_WAIT_SECONDS", default=30.0)  # cap on one wait
# Meeting routing (`/webhooks/meet/participant-joined/`): `record_all` asks Fireflies to join every
# meeting; `external_only` only meetings with a participant outside MEETING_INTERNAL_DOMAINS.
MEETING_ROUTING_RULE = env.str("MEETING_ROUTING_RULE", default="record_all")
MEETING_INTERNAL_DOMAINS = [d.lower() for d in env.list("MEETING_INTERNAL_DOMAINS", default=[])]
CALLS_SUGGESTION_MIN_SCORE = env.int("CALLS_SUGGESTION_MIN_SCORE", default=40)

# --- Billing: proposals, e-signature, Stripe ------------------------------------------------
PROPOSAL_LINK_MAX_AGE_DAYS = env.int("PROPOSAL_LINK_MAX_AGE_DAYS", default=90)
STRIPE_TIMEOUT_SECONDS = env.float("STRIPE_TIMEOUT_SECONDS", default=15.0)
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=2)  # Stripe's own backoff
STRIPE_WEBHOOK_TOLERANCE_SECONDS = 300  # older than this, or this far in the future: refused
STRIPE_WEBHOOK_MAX_BYTES = 512 * 1024
STRIPE_RECONCILE_DAYS = env.int("STRIPE_RECONCILE_DAYS", default=3)
STRIPE_RECONCILE_MAX_SESSIONS = env.int("STRIPE_RECONCILE_MAX_SESSIONS", default=500)

# --- Reply classification (classify/) --------------------------------------------------------
# The local model is the default; ANTHROPIC_API_KEY switches the Anthropic backend on.
ANTHROPIC_CLASSIFY_MODEL = env.str("ANTHROPIC_CLASSIFY_MODEL", default="claude-haiku-4-5")
ANTHROPIC_TIMEOUT_SECONDS = env.float("ANTHROPIC_TIMEOUT_SECONDS", default=20.0)
ANTHROPIC_MAX_RETRIES = env.int("ANTHROPIC_MAX_RETRIES", default=2)
# A negative reply moves its lead to Lost only at or above this confidence; below, a person decides.
CLASSIFY_LOST_THRESHOLD = env.float("CLASSIFY_LOST_THRESHOLD", default=0.8)
# Any label below this confidence goes to the review queue.
CLASSIFY_REVIEW_THRESHOLD = env.float("CLASSIFY_REVIEW_THRESHOLD", default=0.55)

# --- Rate limits on the public forms --------------------------------------------------------
# Per client IP, in the shared cache. Booking has its own (BOOKING_RATE_LIMIT, above).
PROPOSAL_SIGN_RATE_LIMIT = env.str("PROPOSAL_SIGN_RATE_LIMIT", default="10/m")
UNSUBSCRIBE_RATE_LIMIT = env.str("UNSUBSCRIBE_RATE_LIMIT", default="30/m")
# The key of the suppression list's HMAC ('' = derived from SECRET_KEY). Set it on its own when
# SECRET_KEY may rotate: entries hashed under a key no longer known stop matching (the old
# SECRET_KEY in SECRET_KEY_FALLBACKS keeps them matching meanwhile).
SUPPRESSION_HASH_KEY = env.str("SUPPRESSION_HASH_KEY", default="")

# --- Dispatcher -----------------------------------------------------------------------------
# The embedded default runs the dispatcher loop inside the web process (see `runembedded`).
DISPATCHER_STALE_WEBHOOK_MINUTES = env.int("DISPATCHER_STALE_WEBHOOK_MINUTES", default=5)
# The daily retention purge empties processed webhook bodies and call transcripts received more
# than this many days ago; the rows themselves (what happened, to whom, when) are kept.
RETENTION_DAYS = env.int("RETENTION_DAYS", default=90)

# --- CSV import from the admin --------------------------------------------------------------
# Larger uploads are refused with a message saying to split the file (the command has no limit).
LEAD_IMPORT_MAX_BYTES = env.int("LEAD_IMPORT_MAX_BYTES", default=10_000_000)

# --- Integration health (clientsflow.integrations: one owner alert per vendor outage) ---------
# A vendor alert is raised after this many failures in a row, or after this long failing (with
# at least two failures).
INTEGRATION_ALERT_AFTER_FAILURES = env.int("INTEGRATION_ALERT_AFTER_FAILURES", default=3)
INTEGRATION_ALERT_AFTER_SECONDS = env.int("INTEGRATION_ALERT_AFTER_SECONDS", default=60)

# --- Logging --------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "clientsflow.logging.RedactSecretsFilter"}},
    "formatters": {"json": {"()": "clientsflow.logging.JsonFormatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["redact"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own defaults give these loggers handlers of their own that bypass the
        # redaction filter (runserver's access line, the DEBUG console): everything goes
        # through the one console handler above instead.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "WARNING"},
        "celery": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},  # a line per rendering step otherwise
        "fontTools": {"level": "WARNING"},  # a line per login otherwise; lockouts stay (and are audited)
    },
}
