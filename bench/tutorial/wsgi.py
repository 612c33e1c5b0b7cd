"""WSGI entry point of the tutorial peer: bench.tutorial.wsgi:application."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.tutorial.settings")

application = get_wsgi_application()
