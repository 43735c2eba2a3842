"""The browser demo at /demo: a reader who pays per article with a session key, and a creator
who watches settlement and withdraws. A page over the public API, nothing more.

index.html and demo.css are served from this package; demo.js is the page's script
(src/, with viem) bundled by scripts/build-demo into build/demo/, which is not committed.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

HERE = Path(__file__).resolve().parent
BUNDLE = HERE.parents[2] / "build" / "demo"

# Scripts and styles only from this origin, and the API on it (HTTP and WebSocket).
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
FILES = {
    "": (HERE / "index.html", "text/html; charset=utf-8"),
    "demo.css": (HERE / "demo.css", "text/css; charset=utf-8"),
    "demo.js": (BUNDLE / "demo.js", "text/javascript; charset=utf-8"),
    "demo.js.map": (BUNDLE / "demo.js.map", "application/json"),
}


async def _file(request: Request) -> Response:
    found = FILES.get(request.path_params.get("name", ""))
    if found is None:
        return PlainTextResponse("not found", status_code=404, headers=HEADERS)
    path, media_type = found
    if not path.is_file():
        return PlainTextResponse(
            f"{path.name} is missing: run scripts/build-demo", status_code=404, headers=HEADERS
        )
    return FileResponse(path, media_type=media_type, headers=HEADERS)


async def _to_index(request: Request) -> Response:
    return RedirectResponse(str(request.url.replace(path="/demo/")), status_code=308)


def routes() -> list[BaseRoute]:
    """/demo/ and its files; /demo redirects to /demo/ so that relative URLs resolve."""
    return [
        Route("/demo", _to_index, methods=["GET", "HEAD"]),
        Route("/demo/", _file, methods=["GET", "HEAD"]),
        Route("/demo/{name}", _file, methods=["GET", "HEAD"]),
    ]
