"""Control-plane handler of the coverage report (``GET /_mock/coverage``; see docs/coverage.md)."""

from __future__ import annotations

from starlette.responses import Response

from ..api.base import Call, json_response
from ..coverage import report

__all__ = ["get_coverage"]


def get_coverage(call: Call) -> Response:
    # ``tenant`` narrows to one tenant; ``anonymous`` to requests no tenant authenticated.
    tenant = "" if call.query.get("anonymous") else call.query.get("tenant")
    counts = call.world.coverage.counts(tenant)
    return json_response({"tenant": tenant, "counts": counts, **report(counts)})
