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
# The emulator's icon: four squares, as a stand-in for a Microsoft 365 logo it must not use.
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<rect width="7" height="7" fill="#5b6b7f"/><rect x="9" width="7" height="7" fill="#7d8ea3"/>'
    '<rect y="9" width="7" height="7" fill="#7d8ea3"/>'
    '<rect x="9" y="9" width="7" height="7" fill="#5b6b7f"/></svg>'
)


def home_routes(backend: Backend, links: list[dict[str, str]] | None = None) -> list[BaseRoute]:
    async def home(request: Request) -> Response:
        tenants = sorted(backend.all_tenants(), key=lambda t: t.domain)
        users = {t.id: sorted(backend.users_in(t.id), key=lambda u: u.upn) for t in tenants}
        return templates.TemplateResponse(
            request, "home.html", {"tenants": tenants, "users": users, "links": links or []}
        )

    async def favicon(request: Request) -> Response:
        # Browsers ask every site for /favicon.ico; answer instead of logging a 404 each time.
        return Response(
            FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"}
        )

    return [Route("/", home, name="home"), Route("/favicon.ico", favicon, name="favicon")]
