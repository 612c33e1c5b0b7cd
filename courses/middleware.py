"""Request middleware: one structured log line per request, and input guards.

RequestLogMiddleware logs what an operator needs (method, path, status,
duration, Clerk user id) and nothing a client sent beyond the path: no query
string, headers or body, so tokens, webhook signatures and payloads stay out
of the logs. ApiInputGuardMiddleware refuses, before any view runs, request
bodies over DATA_UPLOAD_MAX_MEMORY_SIZE (413) and NUL bytes in the path or
query string (400), with DRF's JSON error shape.
"""

import json
import logging
import time
from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.functional import LazyObject
from django.utils.translation import gettext as _

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
    """Refuse oversized bodies (413) and NUL bytes (400) before any view runs.

    Django only enforces DATA_UPLOAD_MAX_MEMORY_SIZE when `request.body` is
    read, and answers a bare 400; DRF's parsers read the stream without that
    check at all. The Content-Length header is checked here instead, for
    every path, so the webhook and the JSON endpoints share one limit.
    PostgreSQL refuses NUL in text (psycopg raises ValueError, a 500), so
    a NUL in the path or the query string never reaches a filter or a lookup.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        return self.get_response(request)

    def _refusal(self, request: HttpRequest) -> HttpResponse | None:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw_length = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw_length)
        except ValueError:
            return _json_error(_("Invalid Content-Length header."), 400)
        if length < 0:
            return _json_error(_("Invalid Content-Length header."), 400)
        if limit is not None and length > limit:
            detail = _("Request body too large (limit: %(limit)d bytes).")
            return _json_error(detail % {"limit": limit}, 413)
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or b"\x00" in unquote_to_bytes(query):
            return _json_error(_("Null characters are not allowed."), 400)
        return None
