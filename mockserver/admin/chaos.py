"""Control-plane handlers of the chaos scenarios (``/_mock/chaos/...``; see docs/chaos.md)."""

from __future__ import annotations

from starlette.responses import Response

from ..api.base import Call, json_response
from ..world.chaos import SCENARIOS

__all__ = ["add_chaos_rule", "clear_chaos_rules", "delete_chaos_rule", "list_chaos_rules", "list_chaos_scenarios"]


def list_chaos_scenarios(call: Call) -> Response:
    return json_response([s.to_dict() for s in SCENARIOS.values()])


def list_chaos_rules(call: Call) -> Response:
    return json_response([r.to_dict() for r in call.world.chaos.list_rules(call.query.get("tenant"))])


def add_chaos_rule(call: Call) -> Response:
    # The world checks the scenario's own parameters (the schema cannot say which go with which).
    return json_response(call.world.chaos.add(call.body).to_dict(), 201)


def clear_chaos_rules(call: Call) -> Response:
    return json_response({"dropped": call.world.chaos.clear(call.query.get("tenant"))})


def delete_chaos_rule(call: Call) -> Response:
    call.world.chaos.remove(int(call.path["rule_id"]))
    return Response(status_code=204)
