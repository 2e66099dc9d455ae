"""Shared bits of the UI port: the Jinja2 templates and the home page."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.templating import Jinja2Templates

if TYPE_CHECKING:
    from m365_emulator.backend import Backend

# The layout (base.html) and the identity pages; other areas may extend "base.html".
TEMPLATE_DIR = Path(__file__).parent / "templates"
templates = Jinja2Templates(directory=TEMPLATE_DIR)


def home_routes(backend: Backend, links: list[dict[str, str]] | None = None) -> list[BaseRoute]:
    async def home(request: Request) -> Response:
        tenants = sorted(backend.all_tenants(), key=lambda t: t.domain)
        users = {t.id: sorted(backend.users_in(t.id), key=lambda u: u.upn) for t in tenants}
        return templates.TemplateResponse(
            request, "home.html", {"tenants": tenants, "users": users, "links": links or []}
        )

    return [Route("/", home, name="home")]
