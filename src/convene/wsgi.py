"""WSGI entry point for any WSGI server (gunicorn, uWSGI, mod_wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convene.settings")
application = get_wsgi_application()
