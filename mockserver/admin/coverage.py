"""Control-plane handler of the coverage report (``GET /_mock/coverage``; see docs/coverage.md)."""

from __future__ import annotations

from starlette.responses import Response

from ..api.base import Exchange, json_response
from ..coverage import report

__all__ = ["get_coverage"]


def get_coverage(ex: Exchange) -> Response:
    # ``tenant`` narrows to one tenant; ``anonymous`` to requests no tenant authenticated.
    tenant = "" if ex.query.get("anonymous") else ex.query.get("tenant")
    counts = ex.world.coverage.counts(tenant)
    return json_response({"tenant": tenant, "counts": counts, **report(counts)})
