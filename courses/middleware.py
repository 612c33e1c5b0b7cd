"""Request middleware: one structured log line per request, input guards,
Django's CommonMiddleware with a JSON answer for a missing trailing slash,
`private, no-store` for answers to signed-in callers, Django's session,
authentication and messages middleware (and django-otp's) for the pages outside
/api/ only, and the admin's gate before the second factor.

RequestLogMiddleware logs what an operator needs (method, path, status,
duration, Clerk user id, client IP as courses.http.client_ip finds it) and
nothing a client sent beyond the path: no query string, headers or body, so
tokens, webhook signatures and payloads stay out of the logs.
ApiInputGuardMiddleware refuses, before any view runs, request bodies over
DATA_UPLOAD_MAX_MEMORY_SIZE (413), NUL bytes in the path (404) and in the
admin's query strings (400), with DRF's JSON error shape.

AdminSecondFactorMiddleware keeps staff who signed in with their password only
on the two-factor pages until they enter an authenticator code.
"""

import json
import logging
import time
from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.middleware import common
from django.urls import reverse
from django.utils.functional import LazyObject
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django_otp import middleware as otp

from courses.http import client_ip
from courses.second_factor import second_factor_passed, second_factor_required

logger = logging.getLogger("courses.request")

API_PREFIX = "/api/"


def _clerk_user_id(request: HttpRequest) -> str | None:
    # DRF's Request.user setter also sets the user on the underlying
    # HttpRequest, so an API view's authenticated ClerkUser is visible here.
    # Django's own lazy user (admin pages) is skipped rather than evaluated:
    # evaluating it would cost a session query just for a log line.
    user = request.__dict__.get("user")
    if user is None or isinstance(user, LazyObject):
        return None
    return getattr(user, "clerk_user_id", None)


class RequestLogMiddleware:
    """Log one line per request: `request {json}`, never headers or bodies."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        fields = {
            "method": request.method,
            # The path only: query strings can carry session ids and tokens.
            "path": request.path,
            "status": response.status_code,
            "duration_ms": duration_ms,
            "user_id": _clerk_user_id(request),
            # Behind TRUSTED_PROXY_COUNT proxies: never a spoofed header value.
            "client_ip": client_ip(request),
        }
        # JSON-encoded, so a path holding quotes or newlines cannot forge
        # another log line.
        logger.info(
            "request %s",
            json.dumps(fields, ensure_ascii=True, separators=(",", ":")),
            extra={"http": fields},
        )
        return response


def _json_error(detail: str, status: int) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


class ApiInputGuardMiddleware:
    """Refuse oversized bodies (413) and NUL bytes in the path (404) up front.

    Django only enforces DATA_UPLOAD_MAX_MEMORY_SIZE when `request.body` is
    read, and answers a bare 400; DRF's parsers read the stream without that
    check at all. The Content-Length header is checked here instead, for
    every path, so the webhook and the JSON endpoints share one limit. An
    unreadable Content-Length is a 400 here: `request.body` would raise
    ValueError on it (gunicorn already refuses one; other servers may not).

    PostgreSQL refuses NUL in text (psycopg raises ValueError: a 500), and no
    course slug or id holds one, so such a path is a 404 before any lookup.
    The API's query parameters are left to its filters and serializers, which
    refuse NUL with a 400 naming the parameter (the documented shape) and
    ignore parameters they do not know; elsewhere (the admin) a NUL anywhere
    in the query string is a 400.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        length = _content_length(request)
        if length is None:
            return _json_error(_("Invalid Content-Length header."), 400)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and length > limit:
            detail = _("Request body too large (limit: %(limit)d bytes).")
            return _json_error(detail % {"limit": limit}, 413)
        if "\x00" in request.path:
            return _json_error(_("Not found."), 404)
        if not request.path.startswith(API_PREFIX) and _query_has_nul(request):
            # The admin's search and list filters pass values straight to
            # the database; the API's filters refuse NUL themselves.
            return _json_error(_("Null characters are not allowed."), 400)
        return self.get_response(request)


def _query_has_nul(request: HttpRequest) -> bool:
    return b"\x00" in unquote_to_bytes(request.META.get("QUERY_STRING", ""))


def _content_length(request: HttpRequest) -> int | None:
    """The announced body size; None when the header is not a whole number."""
    raw = request.META.get("CONTENT_LENGTH") or "0"
    return int(raw) if raw.isascii() and raw.isdigit() else None


class CommonMiddleware(common.CommonMiddleware):
    """Django's CommonMiddleware, except for a request with a body (POST, PUT,
    PATCH, DELETE) to a path that exists only with a trailing slash.

    Django would redirect it, which loses the body (and raises RuntimeError, an
    HTML 500, under DEBUG); here it is a JSON 404 naming the right path, in
    every mode. GET and HEAD are still redirected.
    """

    def process_response(
        self, request: HttpRequest, response: HttpResponse
    ) -> HttpResponse:
        if (
            response.status_code == 404
            and request.method not in ("GET", "HEAD", "OPTIONS")
            and self.should_redirect_with_slash(request)
        ):
            detail = _(
                "Not found. This path ends with a slash: %(method)s %(path)s"
            ) % {"method": request.method, "path": f"{request.path}/"}
            return _json_error(detail, 404)
        return super().process_response(request, response)


class PrivateAnswersMiddleware:
    """`Cache-Control: private, no-store` on every /api/ answer to a caller with
    credentials (an Authorization header, or a signed-in user), unless the
    view set its own.

    Such an answer can be about that caller alone (`is_enrolled`, their
    enrollments, a 401 about their token): neither a shared cache (CDN, proxy)
    nor the browser's disk may keep it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.path_info.startswith(API_PREFIX)
            and "Cache-Control" not in response
            and (
                "HTTP_AUTHORIZATION" in request.META
                or _clerk_user_id(request) is not None
            )
        ):
            response["Cache-Control"] = "private, no-store"
        return response


# --- Django's middleware for the admin only ----------------------------------------


class _OutsideApiOnly:
    """Skips the middleware for /api/ paths, which authenticate with Bearer tokens.

    The API reads no session, no Django user and no messages; the admin (and
    any page outside /api/) gets the middleware as Django ships it. The split
    is on the path, so that a page added outside /api/ keeps it by default.
    """

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(API_PREFIX):
            return self.get_response(request)
        return super().__call__(request)


class SessionMiddleware(_OutsideApiOnly, sessions.SessionMiddleware):
    """Django's SessionMiddleware, outside /api/ only."""


class AuthenticationMiddleware(_OutsideApiOnly, auth.AuthenticationMiddleware):
    """Django's AuthenticationMiddleware, outside /api/ only: API views get
    their user from DRF's authentication (courses.authentication)."""


class MessageMiddleware(_OutsideApiOnly, messages.MessageMiddleware):
    """Django's MessageMiddleware, outside /api/ only."""


class OTPMiddleware(_OutsideApiOnly, otp.OTPMiddleware):
    """django-otp's OTPMiddleware (request.user.is_verified()), outside /api/ only."""


# The admin's pages a staff member may reach before the second factor: signing
# in (as someone else) and out. The two-factor pages are not the admin's own.
_ADMIN_PAGES_BEFORE_SECOND_FACTOR = frozenset({"login", "logout"})


class AdminSecondFactorMiddleware:
    """With ADMIN_REQUIRE_2FA, an admin page asked for by a staff member who has
    not passed the second factor in this session redirects to the two-factor
    page (which sends a staff member without an authenticator to set one up).

    Placed after django-otp's OTPMiddleware. Only the admin's own views are
    concerned (resolved by namespace, wherever ADMIN_URL puts them); the user is
    not even loaded for any other request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Callable, view_args, view_kwargs
    ) -> HttpResponse | None:
        match = request.resolver_match
        if (
            match is None
            or "admin" not in match.app_names
            or match.url_name in _ADMIN_PAGES_BEFORE_SECOND_FACTOR
            or not second_factor_required()
        ):
            return None
        user = request.user
        if not (user.is_authenticated and user.is_active and user.is_staff):
            return None  # the admin sends them to its sign-in page
        if second_factor_passed(request):
            return None
        query = urlencode({"next": request.get_full_path()})
        return HttpResponseRedirect(f"{reverse('staff_second_factor')}?{query}")
