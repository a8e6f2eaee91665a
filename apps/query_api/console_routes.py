"""The web console: its page at `/` and its files under `/console/`, served by the API itself, and
the headers that hold every response to a strict Content-Security-Policy."""

from __future__ import annotations

from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONSOLE_DIR = Path(__file__).with_name("console")
ASSETS_PREFIX = "/console"
# Only this origin's own files: no inline script or style, no other host, no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
    " object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


async def index(request: Request) -> Response:
    """The console's page; its scripts ask the API for everything else."""
    return FileResponse(CONSOLE_DIR / "index.html", headers={"Cache-Control": "no-cache"})


def assets() -> Mount:
    """The console's scripts and styles, revalidated on each load so an upgrade shows at once."""
    return Mount(ASSETS_PREFIX, app=StaticFiles(directory=CONSOLE_DIR), name="console")


class SecurityHeadersMiddleware:
    """Adds `SECURITY_HEADERS` to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
