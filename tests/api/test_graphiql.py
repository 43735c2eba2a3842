"""GraphiQL works offline: its page loads scripts and styles from this server only."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable

from tests.api.conftest import Api

MakeApi = Callable[..., Api]

HTML = {"Accept": "text/html"}


def _references(page: str) -> list[tuple[str, str | None]]:
    """(URL, integrity) of every <script src> and <link href> of the page."""
    found = []
    for tag in re.findall(r"<(?:script|link)\b[^>]*>", page):
        url = re.search(r'\b(?:src|href)="([^"]*)"', tag)
        integrity = re.search(r'\bintegrity="([^"]*)"', tag)
        if url is not None:
            found.append((url.group(1), integrity.group(1) if integrity else None))
    return found


def test_the_graphiql_page_references_only_urls_of_this_server(make_api: MakeApi) -> None:
    page = make_api().client.get("/graphql", headers=HTML).text
    urls = [url for url, _ in _references(page) if not url.startswith("data:")]
    assert len(urls) >= 7
    assert all(url.startswith("/") and not url.startswith("//") for url in urls), urls
    assert "unpkg.com" not in page


def test_every_script_and_style_of_the_graphiql_page_is_served_with_its_pinned_hash(
    make_api: MakeApi,
) -> None:
    client = make_api().client
    for url, integrity in _references(client.get("/graphql", headers=HTML).text):
        if url.startswith("data:"):
            continue
        response = client.get(url)
        assert response.status_code == 200, f"{url}: {response.text}"
        assert integrity is not None
        digest = base64.b64encode(hashlib.sha384(response.content).digest()).decode()
        assert integrity == f"sha384-{digest}", url


def test_only_the_files_graphiql_loads_are_served_under_graphiql(make_api: MakeApi) -> None:
    client = make_api().client
    assert client.get("/graphiql/react@18.2.0/package.json").status_code == 404
    assert client.get("/graphiql/../pyproject.toml").status_code == 404


def test_graphiql_assets_are_not_served_when_graphiql_is_disabled(make_api: MakeApi) -> None:
    client = make_api(GRAPHIQL="false").client
    assert client.get("/graphiql/react@18.2.0/umd/react.production.min.js").status_code == 404
