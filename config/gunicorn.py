"""Gunicorn settings: `gunicorn -c config/gunicorn.py config.wsgi:application`.

Threaded workers (gthread), not gunicorn's default sync workers. A sync worker
reads a request's headers itself, so one client that sends them a byte at a
time (slow loris) blocks that worker until the arbiter kills it after
`timeout`; with two workers, two such sockets stop the service. A gthread
worker's main thread accepts connections and keeps idle ones in a poller; a
connection that has sent nothing after a few seconds goes back there, and
one that trickles its headers holds a single thread while the others keep
serving. Each thread holds at most one database connection, so
workers x threads (16) stays well under PostgreSQL's connection limit.

This narrows the attack, it does not end it: enough slow sockets to hold
every thread would still starve the service. In production, put gunicorn
behind a proxy that buffers whole requests before passing them on (the
platform's router on Render/Heroku/Fly, or nginx with proxy_request_buffering
on), which is what gunicorn's own documentation recommends.

Each setting can be overridden from the environment (WEB_CONCURRENCY,
GUNICORN_THREADS, PORT, ...) or on the command line.
"""

import os


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{_int('PORT', 8000)}"

# Two cores: one process per core; threads overlap the time each request
# spends waiting on PostgreSQL, Stripe or Clerk.
workers = _int("WEB_CONCURRENCY", 2)
worker_class = "gthread"
threads = _int("GUNICORN_THREADS", 8)
# Open connections per worker, idle keep-alive ones included.
worker_connections = _int("GUNICORN_WORKER_CONNECTIONS", 200)

# A worker silent for this long is killed and replaced. Stripe calls are
# bounded by STRIPE_HTTP_TIMEOUT_SECONDS (x retries) and Clerk calls by
# CLERK_HTTP_TIMEOUT_SECONDS, so a healthy request ends well before this.
timeout = _int("GUNICORN_TIMEOUT", 30)
# On restart or deploy, requests in flight get this long to finish.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Idle keep-alive connections are closed after this many seconds. Short,
# so idle clients do not pile up; behind a load balancer that reuses
# connections, raise it above the balancer's own idle timeout.
keepalive = _int("GUNICORN_KEEPALIVE", 5)

# Request line and headers: a Clerk session token is about 1-2 KB, far
# below the per-field limit; the API's URLs are short.
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190

# Recycle workers now and then so a slow leak cannot grow forever. Not
# often: each recycle costs far more than its import (the new worker's first
# requests, its copy-on-write page faults, one worker fewer while it starts).
# At 2,000 the list served 19 to 26 % fewer requests per second at full load
# than without recycling (docs/PERFORMANCE.md); at 20,000 about a tenth of that.
max_requests = _int("GUNICORN_MAX_REQUESTS", 20000)
max_requests_jitter = 2000

# The master imports the application (and its URL configuration, see
# config/wsgi.py) once and each worker is forked from it. Without this, every
# recycled worker imports Django and the project again, about 0.5 s of CPU:
# once every 20,000 requests, 0.025 ms per request, a fortieth of what a cached
# catalog answer costs. Forked workers also share the imported code's memory.
# Nothing opens a connection at import time (databases, Redis and HTTP
# clients connect on first use, in the worker).
preload_app = os.environ.get("GUNICORN_PRELOAD", "true").strip().lower() not in {
    "0",
    "false",
    "no",
    "off",
}

# No gunicorn access log: it would print query strings (payment session
# ids). courses.middleware.RequestLogMiddleware logs each request instead.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
