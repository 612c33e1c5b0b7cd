"""WSGI entry point (gunicorn config.wsgi:application)."""

import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

# The URL configuration, and with it the views, serializers and DRF, imported
# now rather than on the first request: gunicorn's preloading master
# (config/gunicorn.py) then holds them, and each worker it forks starts
# without importing them again. A broken URL configuration fails the start.
get_resolver().url_patterns  # noqa: B018 - evaluated for its imports
