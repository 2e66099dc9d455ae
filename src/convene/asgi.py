"""ASGI entry point for any ASGI server.

Graph's change notifications take a short way to their view
(``convene.outlook.inbound.webhook_asgi``); everything else goes through Django's ASGI handler.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convene.settings")
django_application = get_asgi_application()

from convene.outlook.inbound.webhook_asgi import WebhookFastPath  # noqa: E402 (needs Django set up)

application = WebhookFastPath(django_application)
