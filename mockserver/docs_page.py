"""The contract and browsable API docs, served by the mock itself.

- ``GET /openapi.yaml`` and ``GET /openapi.json``: the vendor contract (both vendors), as shipped;
- ``GET /docs``: Swagger UI over the vendor contract and the control plane's (``/_mock/openapi.json``),
  with its files from the ``swagger-ui-bundle-v2`` package (Swagger UI 5, Apache-2.0): no CDN, works offline.

The page holds no data, so it lives outside ``/_mock`` (no control token needed to load it; the
control plane's document, which it fetches, still asks for one when a token is set).
"""

from __future__ import annotations

import functools
import mimetypes
from pathlib import Path

import orjson
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .packaged import packaged
from .spec import load_document

__all__ = ["DOCS_ASSETS", "DocsPages"]

# The Swagger UI files the page loads (of the bundle's 20; the source maps alone are 6 MB).
DOCS_ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "init.js")

_PAGE = b"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>agent-mockserver: API docs</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/swagger-ui-standalone-preset.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""

_INIT = b"""window.ui = SwaggerUIBundle({
  urls: [
    {url: "/openapi.json", name: "Vendor APIs: bitHuman and Agora (the contract)"},
    {url: "/_mock/openapi.json", name: "Control plane (/_mock)"},
  ],
  dom_id: "#swagger-ui",
  deepLinking: true,
  displayOperationId: true,  // the operationId is the one name of an operation in every layer
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout",
});
"""


@functools.cache
def _contract_yaml() -> bytes:
    return packaged("openapi.yaml").read_bytes()


@functools.cache
def _contract_json() -> bytes:
    # The spec loader's parse (kept as JSON in the user's cache): parsing 150 KB of YAML here again
    # would take a second or more.
    return orjson.dumps(load_document("openapi.yaml"))


def _swagger_ui_dir() -> Path:
    import swagger_ui_bundle  # type: ignore[import-untyped]

    return Path(swagger_ui_bundle.swagger_ui_path)


@functools.cache
def _asset(name: str) -> tuple[bytes, str]:
    if name == "init.js":
        return _INIT, "text/javascript"
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return (_swagger_ui_dir() / name).read_bytes(), kind


def _response(path: str) -> Response | None:
    if path == "/openapi.yaml":
        return Response(_contract_yaml(), media_type="application/yaml")
    if path == "/openapi.json":
        return Response(_contract_json(), media_type="application/json")
    if path in ("/docs", "/docs/"):
        return Response(_PAGE, media_type="text/html")
    name = path.removeprefix("/docs/")
    if name in DOCS_ASSETS:
        body, kind = _asset(name)
        # The files change only with the package: let the browser keep them for a day.
        return Response(body, media_type=kind, headers={"cache-control": "public, max-age=86400"})
    return None


class DocsPages:
    """Answers ``GET``/``HEAD`` of the contract and docs paths; passes every other request on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            response = _response(scope["path"])
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
