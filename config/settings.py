"""Settings for the course platform, read from the environment (and a local .env)."""

import os
import re
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent

# ENV_FILE names another file, or none when empty (the test run sets it empty, so
# a developer's .env never changes what the tests see). Variables already set in
# the environment win over the file's.
_env_file = os.environ.get("ENV_FILE", str(BASE_DIR / ".env")).strip()
if _env_file:
    load_dotenv(_env_file)


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def env_int_between(name: str, default: int, low: int, high: int) -> int:
    """A whole number in [low, high]; anything else stops the start with a reason."""
    raw = os.environ.get(name, "").strip()
    try:
        value = int(raw) if raw else default
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise ImproperlyConfigured(
            f"{name} must be a whole number from {low} to {high}, not {raw!r}."
        )
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


# --- Core --------------------------------------------------------------------

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY in the environment (or in .env); "
            "only DEBUG=True runs without one."
        )
    # Development only: a fixed, clearly marked key so sessions survive restarts.
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"  # noqa: S105

# Former keys, still accepted for signatures (admin sessions) while SECRET_KEY
# is rotated; emptied once the old sessions have expired (docs/SECURITY.md).
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "corsheaders",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Staff sign-in: lockouts (axes) and authenticator apps (django-otp, TOTP).
    # Before courses, whose admin replaces their admin pages.
    "courses.apps.StaffLockoutsConfig",  # axes
    "django_otp",
    "courses.apps.StaffAuthenticatorsConfig",  # django_otp.plugins.otp_totp
    "courses.apps.CoursesConfig",
]

MIDDLEWARE = [
    # Outermost, so every answer (redirects and refusals included) is logged.
    "courses.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    # Sessions, authentication and messages: Django's, for the admin (every
    # path outside /api/); the API's Bearer-token requests skip them.
    "courses.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # After CORS (browsers can read the refusal) and the locale (it is
    # translated), before anything that reads the body.
    "courses.middleware.ApiInputGuardMiddleware",
    # Django's, with a JSON 404 for a POST to a path missing its final slash.
    "courses.middleware.CommonMiddleware",
    # Django's own class, so that `check --deploy` still sees it; API views
    # are csrf_exempt (DRF), so on /api/ it only reads the absent cookie.
    "django.middleware.csrf.CsrfViewMiddleware",
    "courses.middleware.AuthenticationMiddleware",
    # The staff's second factor: request.user.is_verified(), then the admin's
    # gate (signed in with the password only: the two-factor pages, no more).
    "courses.middleware.OTPMiddleware",
    "courses.middleware.AdminSecondFactorMiddleware",
    "courses.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Answers to signed-in callers are never kept by shared caches.
    "courses.middleware.PrivateAnswersMiddleware",
    # Last, as axes asks: turns a locked-out sign-in into its refusal page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

WSGI_APPLICATION = "config.wsgi.application"

# --- Proxies -------------------------------------------------------------------
# How many proxies in front of the service append to X-Forwarded-For (the
# platform's router, a CDN, a load balancer): 0 = clients connect directly, and
# X-Forwarded-For and X-Forwarded-Proto, which they could write, are ignored.
# courses.http.client_ip and DRF's NUM_PROXIES use the same count.
TRUSTED_PROXY_COUNT = env_int_between("TRUSTED_PROXY_COUNT", 0, 0, 10)

# --- Database ----------------------------------------------------------------
# No DATABASE_URL: an SQLite file, the embedded default for a first run.
# With DATABASE_URL (PostgreSQL, Neon with ?sslmode=require): persistent
# connections with a health check before each reuse.
#
# DATABASE_DIRECT_URL (optional) names the same database without a pooler in
# between. Setting it is what marks DATABASE_URL as pooled (Neon's "-pooler"
# host, PgBouncer in transaction mode): requests then keep no server-side
# cursor open between transactions, and `manage.py release` (migrations and its
# lock) uses the direct URL, as the "direct" database alias.


def _database(
    url: str, *, disable_server_side_cursors: bool, conn_max_age: int
) -> dict:
    database = dj_database_url.parse(
        url, conn_max_age=conn_max_age, conn_health_checks=True
    )
    if database["ENGINE"] == "django.db.backends.postgresql":
        database.setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
        # A transaction pooler lends a server connection for one transaction
        # only; a cursor declared WITH HOLD (QuerySet.iterator() in autocommit)
        # would be looked for on another one.
        database["DISABLE_SERVER_SIDE_CURSORS"] = disable_server_side_cursors
    return database


DATABASE_URL = env_str("DATABASE_URL")
DATABASE_DIRECT_URL = env_str("DATABASE_DIRECT_URL")
DATABASE_IS_POOLED = bool(DATABASE_URL and DATABASE_DIRECT_URL)
if DATABASE_DIRECT_URL and not DATABASE_URL:
    raise ImproperlyConfigured(
        "DATABASE_DIRECT_URL is set without DATABASE_URL. Set DATABASE_URL to the "
        "(pooled) URL the application uses."
    )
if DATABASE_URL:
    DATABASES = {
        "default": _database(
            DATABASE_URL,
            # DB_DISABLE_SERVER_SIDE_CURSORS still decides when it is set, for a
            # pooler reached without a direct URL.
            disable_server_side_cursors=env_bool(
                "DB_DISABLE_SERVER_SIDE_CURSORS", DATABASE_IS_POOLED
            ),
            conn_max_age=env_int("DB_CONN_MAX_AGE", 600),
        )
    }
    if DATABASE_DIRECT_URL:
        # Used by one-off commands only (the release step): no kept connection.
        DATABASES["direct"] = _database(
            DATABASE_DIRECT_URL, disable_server_side_cursors=False, conn_max_age=0
        )
        DATABASES["direct"]["TEST"] = {"MIRROR": "default"}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": BASE_DIR / "db.sqlite3",
        }
    }

# --- Cache -------------------------------------------------------------------
# REDIS_URL: one cache shared by every worker (JWKS, Clerk user look-ups,
# throttling). Without it each process keeps its own local-memory cache.

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's RedisCache, reusing one client per pool (see config/cache.py).
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "courseplatform",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "course-platform",
        }
    }

# --- Staff sign-in (the admin) ------------------------------------------------------
# Where the admin lives: a path prefix ending in "/", "admin/" as in the tutorial.
ADMIN_URL = env_str("ADMIN_URL", "admin/").strip("/") + "/"
_ADMIN_URL_SEGMENT = r"[A-Za-z0-9_~-][A-Za-z0-9._~-]*"
if not re.fullmatch(rf"{_ADMIN_URL_SEGMENT}(/{_ADMIN_URL_SEGMENT})*/", ADMIN_URL):
    raise ImproperlyConfigured(
        f"ADMIN_URL must be a path such as admin/ or staff/back-office/, not "
        f"{os.environ.get('ADMIN_URL')!r}."
    )
if ADMIN_URL.split("/", 1)[0] in {"api", "static"}:
    raise ImproperlyConfigured(
        f"ADMIN_URL {ADMIN_URL!r} would hide the API or the static files: "
        "choose another path."
    )

# Staff must pass a second factor (an authenticator app's code) before any admin
# page; on by default in production.
ADMIN_REQUIRE_2FA = env_bool("ADMIN_REQUIRE_2FA", not DEBUG)

# Lockout of password guessing (django-axes, counted in the database): after
# ADMIN_LOGIN_FAILURE_LIMIT failures for one username from one client IP, that
# pair is refused, the right password included, for ADMIN_LOGIN_COOLOFF_MINUTES.
ADMIN_LOGIN_FAILURE_LIMIT = env_int_between("ADMIN_LOGIN_FAILURE_LIMIT", 5, 1, 100)
ADMIN_LOGIN_COOLOFF_MINUTES = env_int_between(
    "ADMIN_LOGIN_COOLOFF_MINUTES", 15, 1, 7 * 24 * 60
)
AXES_FAILURE_LIMIT = ADMIN_LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=ADMIN_LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The client's address as the API's throttles see it (TRUSTED_PROXY_COUNT).
AXES_CLIENT_IP_CALLABLE = "courses.http.client_ip"
AXES_RESET_ON_SUCCESS = True
# A fixed cool-off: attempts refused while locked are not counted again.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# The refusal page (HTTP 429) and axes' log lines, JSON-encoded.
AXES_LOCKOUT_CALLABLE = "courses.views.staff_access.staff_locked_out"
AXES_CLIENT_STR_CALLABLE = "courses.services.staff_access.staff_client_str"
# The password is always masked; the CSRF token is of no use in a record.
AXES_SENSITIVE_PARAMETERS = ["csrfmiddlewaretoken"]
# Sign-ins are recorded as StaffSignInEvent; axes keeps its lockout counters,
# shown in the admin by courses/admin/staff_access.py.
AXES_DISABLE_ACCESS_LOG = True
AXES_ENABLE_ADMIN = False

AUTHENTICATION_BACKENDS = [
    # First: a locked-out username and IP pair goes no further, so its password
    # is never checked.
    "courses.auth_backends.StaffLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Authenticator apps show this name beside the username.
OTP_TOTP_ISSUER = env_str("ADMIN_2FA_ISSUER", "Course Platform")
# Never show the secrets of staff's devices in the admin.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]

# --- Internationalisation ------------------------------------------------------

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("French")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "courses" / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "America/Toronto")
USE_I18N = True
USE_TZ = True

# --- Static files (WhiteNoise serves them under gunicorn) -----------------------

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Request bodies above this size are refused (webhooks and JSON bodies are small).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 1024 * 1024)

# --- Django REST framework -----------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "courses.authentication.ClerkJWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
    ],
    "DEFAULT_PAGINATION_CLASS": "courses.pagination.StandardPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's JSONParser, with deeply nested bodies a 400 (courses/parsers.py).
    "DEFAULT_PARSER_CLASSES": ["courses.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "courses.schema.AutoSchema",
    "EXCEPTION_HANDLER": "courses.exceptions.api_exception_handler",
    "DEFAULT_FILTER_BACKENDS": ["courses.filters.FilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": [
        "courses.throttling.AnonRateThrottle",
        "courses.throttling.SignedInRateThrottle",
    ],
    "UNAUTHENTICATED_USER": None,
    # The client's address for throttles: the same rule as courses.http.client_ip.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("THROTTLE_ANON_RATE", "120/minute"),
        "user": env_str("THROTTLE_USER_RATE", "600/minute"),
        "checkout": env_str("THROTTLE_CHECKOUT_RATE", "10/minute"),
    },
}

# Seconds the catalog's page count is shared before COUNT(*) runs again (0 = never
# cached): a new or withdrawn course reaches `count` at most this late.
CATALOG_COUNT_CACHE_SECONDS = env_int("CATALOG_COUNT_CACHE_SECONDS", 60)

# --- Caching the public catalog (courses/views/caching.py) -----------------------
# Seconds an anonymous answer of the catalog (course list, detail, outline) is
# served from the shared cache (0 = off). Edits to courses, sections and lessons
# retire the cached answers at once; `enrollment_count` may lag by this long.
CATALOG_CACHE_SECONDS = env_int_between("CATALOG_CACHE_SECONDS", 30, 0, 86400)
# What anonymous catalog answers tell browsers and CDNs (Cache-Control: public,
# max-age, stale-while-revalidate): how long they may reuse an answer without
# asking, and then how long they may still show it while they ask. Signed-in
# answers are always "private, no-store".
CATALOG_HTTP_MAX_AGE = env_int_between("CATALOG_HTTP_MAX_AGE", 30, 0, 86400)
CATALOG_HTTP_STALE_WHILE_REVALIDATE = env_int_between(
    "CATALOG_HTTP_STALE_WHILE_REVALIDATE", 30, 0, 86400
)

SPECTACULAR_SETTINGS = {
    "TITLE": "Course Platform API",
    "DESCRIPTION": "Courses, Clerk sign-in, Stripe payments and enrollments.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Named after what they are, so that another `kind` or `code` never clashes.
    "ENUM_NAME_OVERRIDES": {
        "LessonKindEnum": "courses.models.learning.Lesson.Kind",
        "StudentEnrollmentStatusEnum": "courses.models.payments.Enrollment.Status",
        "OrderStatusEnum": "courses.models.orders.Order.Status",
        "EnrollmentRequiredCodeEnum": [("enrollment_required", "enrollment_required")],
    },
}

# --- CORS ----------------------------------------------------------------------

FRONTEND_URL = env_str("FRONTEND_URL", "http://localhost:3000")
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", [FRONTEND_URL])
# Only the API is shared with the frontend's origins; the admin stays
# same-origin, so no other site can read its pages with a staff session.
CORS_URLS_REGEX = r"^/api/.*$"
# The API authenticates with Bearer tokens, never cookies.
CORS_ALLOW_CREDENTIALS = False

# --- Clerk -----------------------------------------------------------------------

CLERK_SECRET_KEY = env_str("CLERK_SECRET_KEY")
CLERK_PUBLISHABLE_KEY = env_str("CLERK_PUBLISHABLE_KEY")
CLERK_JWKS_URL = env_str("CLERK_JWKS_URL")
CLERK_JWT_KEY = env_str("CLERK_JWT_KEY")
CLERK_ISSUER = env_str("CLERK_ISSUER")
CLERK_AUTHORIZED_PARTIES = env_list("CLERK_AUTHORIZED_PARTIES", CORS_ALLOWED_ORIGINS)
CLERK_API_URL = env_str("CLERK_API_URL", "https://api.clerk.com/v1")
CLERK_CLOCK_SKEW_SECONDS = env_int("CLERK_CLOCK_SKEW_SECONDS", 5)
CLERK_HTTP_TIMEOUT_SECONDS = float(env_str("CLERK_HTTP_TIMEOUT_SECONDS", "3"))
# The Svix signing secret (whsec_...) of the user webhook endpoint.
CLERK_WEBHOOK_SIGNING_SECRET = env_str("CLERK_WEBHOOK_SIGNING_SECRET")
# Development only: the key pair of `manage.py dev_token` (courses/dev_tokens.py),
# created on first use and git-ignored; never read unless DEBUG=True.
DEV_TOKEN_KEY_FILE = BASE_DIR / ".dev-keys" / "dev_token_key.pem"

# --- Stripe ------------------------------------------------------------------------

STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY")
STRIPE_PUBLISHABLE_KEY = env_str("STRIPE_PUBLISHABLE_KEY")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET")
STRIPE_API_BASE = env_str("STRIPE_API_BASE")
STRIPE_CURRENCY = env_str("STRIPE_CURRENCY", "cad").lower()
STRIPE_HTTP_TIMEOUT_SECONDS = float(env_str("STRIPE_HTTP_TIMEOUT_SECONDS", "10"))
STRIPE_MAX_NETWORK_RETRIES = env_int("STRIPE_MAX_NETWORK_RETRIES", 2)
# How long a Checkout Session stays payable; Stripe accepts 30 minutes to 24 hours.
STRIPE_CHECKOUT_EXPIRES_MINUTES = env_int_between(
    "STRIPE_CHECKOUT_EXPIRES_MINUTES", 60, 30, 24 * 60
)
# Checkout shows a promotion code field; codes are made in Stripe's dashboard.
STRIPE_ALLOW_PROMOTION_CODES = env_bool("STRIPE_ALLOW_PROMOTION_CODES", True)
# Checkout makes an invoice of each payment (Stripe bills it as Invoicing).
STRIPE_INVOICE_CREATION = env_bool("STRIPE_INVOICE_CREATION", False)

# --- Production hardening (on when DEBUG is off; each one overridable) -----------

SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Behind a proxy that terminates TLS (Render, Heroku, Fly, nginx...), its
# X-Forwarded-Proto says whether the client used HTTPS. Only a trusted proxy
# can vouch for that: without one, a client could claim HTTPS itself.
if env_bool("SECURE_PROXY_SSL_HEADER", TRUSTED_PROXY_COUNT > 0):
    if TRUSTED_PROXY_COUNT == 0:
        raise ImproperlyConfigured(
            "SECURE_PROXY_SSL_HEADER needs TRUSTED_PROXY_COUNT above 0: set "
            "TRUSTED_PROXY_COUNT to the number of proxies in front of the service "
            "(README, Deploying), or unset SECURE_PROXY_SSL_HEADER."
        )
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The health check answers plain HTTP for the load balancer's probes.
SECURE_REDIRECT_EXEMPT = [r"^api/health/$"]
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# --- Logging -------------------------------------------------------------------------

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "null": {"class": "logging.NullHandler"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        # One line per request (courses.middleware); REQUEST_LOG_LEVEL=WARNING
        # silences it without hiding the application's own warnings.
        "courses.request": {"level": env_str("REQUEST_LOG_LEVEL", "INFO").upper()},
        # That line replaces runserver's own access line ("GET /path" 200) ...
        "django.server": {"handlers": ["null"], "propagate": False},
        # ... and Django's "Not Found: /path" warning for each 4xx; errors
        # (5xx, with their traceback) are still logged.
        "django.request": {"level": "ERROR"},
        # At DEBUG it prints whole template contexts, such as the key of an
        # authenticator being set up.
        "django.template": {"level": "INFO"},
        # axes' lockouts and failures (WARNING); its routine notes stay out.
        "axes": {"level": "WARNING"},
        # At DEBUG the Stripe library prints whole API answers (students' emails
        # and names); its INFO lines say which request went where.
        "stripe": {"level": "INFO"},
    },
}
