"""HTTP caching of the public catalog: anonymous answers from the shared cache,
with ETag and Cache-Control for the caches in front; signed-in answers never.

`catalog_answer` wraps a view handler (the course list and detail, the
outline). It runs after DRF's authentication, permissions and throttles, so a
cached answer is still throttled like any other. For an anonymous GET:

- the rendered body is kept in the shared cache per URL (host and query
  string included) and language, for CATALOG_CACHE_SECONDS, and served from
  there without touching the database (courses/catalog_cache.py);
- the answer carries a strong ETag (a hash of the language and the body) and
  `Cache-Control: public, max-age=CATALOG_HTTP_MAX_AGE,
  stale-while-revalidate=CATALOG_HTTP_STALE_WHILE_REVALIDATE`;
- `If-None-Match` naming the current ETag is a 304 with no body, without
  touching the database when the answer is cached.

A request with an Authorization header (or any signed-in caller) never reads
or writes that cache: its answer holds `is_enrolled` for that caller, and is
`Cache-Control: private, no-store`. Every catalog answer varies on
Accept-Language and Authorization, so that shared caches keep them apart.
"""

import functools
import hashlib
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpResponse, HttpResponseNotModified
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.http import parse_etags
from rest_framework.request import Request
from rest_framework.response import Response

from courses import catalog_cache

VARY = ("Accept-Language", "Authorization")
PRIVATE = "private, no-store"


def catalog_answer(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Cache the anonymous answers of a view handler (see the module docstring).

    The view's `cached_query_params` names the query parameters it reads; an
    answer to a URL with any other parameter is not stored (it is computed,
    and still carries its ETag), so made-up parameters cannot fill the cache.
    """

    @functools.wraps(handler)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Any:
        if is_signed_in(request):
            response = handler(view, request, *args, **kwargs)
            response["Cache-Control"] = PRIVATE
            patch_vary_headers(response, VARY)
            return response
        language = translation.get_language() or settings.LANGUAGE_CODE
        key = _entry_key(view, request, language)
        version = None
        if key is not None:
            version, entry = catalog_cache.entry_get(key)
            if entry is not None:
                return _answer(request, entry)
        response = handler(view, request, *args, **kwargs)
        if response.status_code != 200:
            patch_vary_headers(response, VARY)
            return response
        body = _rendered(view, request, response)
        entry = catalog_cache.Entry(
            etag=_etag(language, body),
            content_type=response["Content-Type"],
            body=body,
        )
        if key is not None:
            catalog_cache.entry_set(key, version, entry)
        return _answer(request, entry, response)

    # For the schema (courses/schema.py): ETag, Cache-Control and the 304.
    wrapper.is_catalog_answer = True
    return wrapper


def is_signed_in(request: Request) -> bool:
    """A caller with credentials: an Authorization header, or a signed-in user."""
    if "HTTP_AUTHORIZATION" in request.META:
        return True
    return bool(getattr(request.user, "is_authenticated", False))


def _entry_key(view: Any, request: Request, language: str) -> str | None:
    if catalog_cache.cache_seconds() <= 0:
        return None
    allowed = getattr(view, "cached_query_params", frozenset())
    if any(name not in allowed for name in request.query_params):
        return None
    # The whole URL: `next` and `previous` are absolute, so host and scheme
    # are part of the answer.
    return catalog_cache.entry_key(request.build_absolute_uri(), language)


def _rendered(view: Any, request: Request, response: Response) -> bytes:
    """The body DRF would send: rendered now, so that it can be kept.

    DRF's finalize_response sets the same renderer again afterwards; a
    rendered response is not rendered twice.
    """
    response.accepted_renderer = request.accepted_renderer
    response.accepted_media_type = request.accepted_media_type
    response.renderer_context = view.get_renderer_context()
    response.render()
    return response.content


def _etag(language: str, body: bytes) -> str:
    digest = hashlib.blake2b(body, digest_size=16, person=language.encode()[:16])
    return f'"{digest.hexdigest()}"'


def _answer(
    request: Request,
    entry: catalog_cache.Entry,
    computed: HttpResponse | None = None,
) -> HttpResponse:
    """The 304 or 200 for `entry`; `computed`: the view's own 200, if it ran."""
    if _matches(request, entry.etag):
        response = HttpResponseNotModified()
    elif computed is None:
        response = HttpResponse(entry.body, content_type=entry.content_type)
    else:
        response = computed
    response["ETag"] = entry.etag
    response["Cache-Control"] = _public_cache_control()
    patch_vary_headers(response, VARY)
    return response


def _matches(request: Request, etag: str) -> bool:
    """If-None-Match names this ETag (weak comparison, as RFC 9110 asks), or *."""
    header = request.META.get("HTTP_IF_NONE_MATCH")
    if not header:
        return False
    candidates = parse_etags(header)
    if "*" in candidates:
        return True
    return etag in {tag.removeprefix("W/") for tag in candidates}


def _public_cache_control() -> str:
    directives = ["public", f"max-age={settings.CATALOG_HTTP_MAX_AGE}"]
    if settings.CATALOG_HTTP_STALE_WHILE_REVALIDATE > 0:
        directives.append(
            f"stale-while-revalidate={settings.CATALOG_HTTP_STALE_WHILE_REVALIDATE}"
        )
    return ", ".join(directives)
