"""The docs page works offline: it and everything it references come from the server itself;
its OpenAPI document names the bearer scheme on every operation that needs a token."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx

from server.auth import OPEN_PATHS


class _References(HTMLParser):
    """Every `src` and `href` the page asks a browser to load."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"src", "href"} and value:
                self.found.append(value)


async def test_the_root_points_at_the_docs_page(served: str) -> None:
    async with httpx.AsyncClient(base_url=served) as client:
        answer = await client.get("/")

    assert answer.status_code in {301, 302, 303, 307, 308}
    assert answer.headers["location"] == "/schema"


async def test_the_docs_page_and_every_asset_it_references_come_from_the_server(
    served: str,
) -> None:
    async with httpx.AsyncClient(base_url=served, follow_redirects=True) as client:
        page = await client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")

        parser = _References()
        parser.feed(page.text)
        # The page's script, styles, preset and icon: none of them on another host.
        assert len(parser.found) >= 4, parser.found
        for reference in parser.found:
            assert reference.startswith("/"), f"{reference} is not served by Loopline"
            asset = await client.get(reference)
            assert asset.status_code == 200, reference
            assert asset.content, reference
        assert "SwaggerUIBundle" in page.text


async def test_every_operation_that_needs_a_token_names_the_bearer_scheme(served: str) -> None:
    async with httpx.AsyncClient(base_url=served) as client:
        document = (await client.get("/schema/openapi.json")).json()

    scheme = document["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    open_path = re.compile("|".join(OPEN_PATHS))
    for path, item in document["paths"].items():
        for method, operation in item.items():
            expected: list[dict[str, list[str]]] | None = (
                None if open_path.match(path) else [{"bearer": []}]
            )
            assert operation.get("security") == expected, f"{method} {path}"
            if expected:
                assert "401" in operation["responses"], f"{method} {path}"
