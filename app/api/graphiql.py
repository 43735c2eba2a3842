"""GraphiQL at /graphql without a CDN: strawberry's page, with its unpkg.com URLs rewritten to
/graphiql/, where the server serves copies of the same pinned npm files (scripts/build-demo puts
them in build/graphiql/ under unpkg's own paths, `<package>@<version>/<file>`). The page keeps
its subresource-integrity hashes, so a browser runs only the exact files strawberry pinned.
"""

from __future__ import annotations

import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from strawberry.http.ides import get_graphql_ide_html

CDN = "https://unpkg.com/"
PREFIX = "/graphiql/"
ASSETS_DIR = Path(__file__).resolve().parents[2] / "build" / "graphiql"

_CDN_PAGE = get_graphql_ide_html("graphiql")
# The files the page loads, as paths under CDN (and under ASSETS_DIR): nothing else is served.
ASSETS = frozenset(re.findall(re.escape(CDN) + r'([^"\s]+)', _CDN_PAGE))
PAGE = _CDN_PAGE.replace(CDN, PREFIX)

_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
_HEADERS = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}


async def _asset(request: Request) -> Response:
    name = request.path_params["name"]
    path = ASSETS_DIR / name
    if name not in ASSETS:
        return PlainTextResponse("not found", status_code=404)
    if not path.is_file():
        return PlainTextResponse(f"{name} is missing: run scripts/build-demo", status_code=404)
    return FileResponse(
        path, media_type=_TYPES.get(path.suffix, "application/octet-stream"), headers=_HEADERS
    )


def routes() -> list[BaseRoute]:
    """/graphiql/<package>@<version>/<file>: GraphiQL's scripts and styles."""
    return [Route(PREFIX + "{name:path}", _asset, methods=["GET", "HEAD"])]
