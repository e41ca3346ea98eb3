"""Control-plane handlers of the chaos scenarios (``/_mock/chaos/...``; see docs/chaos.md)."""

from __future__ import annotations

from starlette.responses import Response

from ..api.base import Exchange, json_response
from ..world.chaos import SCENARIOS

__all__ = ["add_chaos_rule", "clear_chaos_rules", "delete_chaos_rule", "list_chaos_rules", "list_chaos_scenarios"]


def list_chaos_scenarios(ex: Exchange) -> Response:
    return json_response([s.to_dict() for s in SCENARIOS.values()])


def list_chaos_rules(ex: Exchange) -> Response:
    return json_response([r.to_dict() for r in ex.world.chaos.list_rules(ex.query.get("tenant"))])


def add_chaos_rule(ex: Exchange) -> Response:
    # The world checks the scenario's own parameters (the schema cannot say which go with which).
    return json_response(ex.world.chaos.add(ex.body).to_dict(), 201)


def clear_chaos_rules(ex: Exchange) -> Response:
    return json_response({"dropped": ex.world.chaos.clear(ex.query.get("tenant"))})


def delete_chaos_rule(ex: Exchange) -> Response:
    ex.world.chaos.remove(int(ex.path["rule_id"]))
    return Response(status_code=204)
