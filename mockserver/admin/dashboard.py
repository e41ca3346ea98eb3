"""The dashboard's files, served from ``admin/static/`` (operationIds of ``admin/openapi.yaml``)."""

from __future__ import annotations

from starlette.responses import Response

from ..api.base import Exchange
from ..packaged import packaged
from ..world.errors import DomainError, ErrorCode

__all__ = ["get_dashboard", "get_dashboard_asset"]

_MEDIA = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml"}


def _static(name: str) -> bytes:
    path = packaged("admin", "static", name)
    if not path.is_file():
        raise DomainError(ErrorCode.NOT_FOUND, f"no dashboard file {name!r}")
    return path.read_bytes()


def get_dashboard(ex: Exchange) -> Response:
    return Response(_static("index.html"), media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"})


def get_dashboard_asset(ex: Exchange) -> Response:
    name = ex.path["asset"]
    suffix = name[name.rfind(".") :] if "." in name else ""
    media = _MEDIA.get(suffix, "application/octet-stream")
    return Response(_static(name), media_type=media, headers={"Cache-Control": "no-cache"})
