"""Control-plane handlers, one per operationId of ``admin/openapi.yaml``."""

from __future__ import annotations

import base64
import logging
import time
from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

from .. import __version__
from ..api.base import Exchange, json_response
from ..fixtures import FixtureError, check_document
from ..spec import load_spec
from ..world import World
from ..world.agora import AgoraAgent, Customer
from ..world.bithuman import Account
from ..world.errors import DomainError, ErrorCode

logger = logging.getLogger("mockserver")

__all__ = [
    "advance_clock",
    "answer_agora_call",
    "reject_agora_call",
    "remote_hangup_agora_call",
    "set_agora_dial_rules",
    "simulate_inbound_call",
    "agora_user_joins",
    "agora_user_leaves",
    "agora_user_says",
    "create_agora_customer",
    "create_agora_project",
    "delete_agora_customer",
    "fail_agora_agent",
    "get_agora_agent_state",
    "get_agora_customer",
    "get_agora_project",
    "list_agora_customers",
    "update_agora_project",
    "clear_inbox",
    "close_bithuman_room",
    "create_bithuman_account",
    "create_bithuman_agent",
    "delete_bithuman_account",
    "delete_bithuman_agent",
    "freeze_clock",
    "get_bithuman_account",
    "get_bithuman_agent",
    "get_clock",
    "get_control_plane_spec",
    "get_health",
    "get_version",
    "list_bithuman_accounts",
    "list_inbox",
    "list_tenants",
    "load_fixture",
    "open_bithuman_room",
    "reset_world",
    "resume_clock",
    "update_bithuman_account",
]


def _account(world: World, account: Account) -> dict[str, Any]:
    return {**account.to_dict(), "effective_dialect": world.bithuman.dialect_of(account)}


def _clock(world: World) -> dict[str, Any]:
    now = world.clock.now()
    iso = datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z")
    return {"now": now, "iso": iso, "frozen": world.clock.frozen, "speed": world.clock.speed}


def _no_content() -> Response:
    return Response(status_code=204)


def get_health(ex: Exchange) -> Response:
    started = getattr(ex.request.app.state, "started", time.monotonic())
    return json_response(
        {
            "status": "ok",
            "version": __version__,
            "uptime_seconds": round(time.monotonic() - started, 3),
            "tenants": len(ex.world.tenants()),
            "events": len(ex.world.inbox),
        }
    )


def get_version(ex: Exchange) -> Response:
    contract = load_spec().document.get("info", {}).get("version", "")
    return json_response({"version": __version__, "contract_version": contract})


def get_control_plane_spec(ex: Exchange) -> Response:
    return json_response(load_spec("admin/openapi.yaml").document)


def reset_world(ex: Exchange) -> Response:
    tenant = (ex.body or {}).get("tenant")
    ex.world.reset(tenant)
    return json_response({"reset": tenant or "all", "tenants": sorted(ex.world.tenants())})


def load_fixture(ex: Exchange) -> Response:
    try:
        document = check_document(ex.body, "<request body>")
    except FixtureError as exc:
        raise DomainError(
            ErrorCode.INVALID_FIXTURE,
            "; ".join(f"{place}: {message}" for place, message in exc.problems),
            problems=[f"{place}: {message}" for place, message in exc.problems],
        ) from None
    # All or nothing: a document that fails half-way leaves the world as it was.
    try:
        loaded = ex.world.load(document, replace=bool(ex.query.get("replace")))
    except DomainError:
        raise
    except Exception as exc:  # a combination the schema admits but the world cannot apply: still the caller's 4xx
        logger.exception("fixture could not be applied")
        raise DomainError(
            ErrorCode.INVALID_FIXTURE,
            f"The fixture could not be applied ({type(exc).__name__}); the world is unchanged",
        ) from None
    return json_response({"loaded": loaded})


def list_tenants(ex: Exchange) -> Response:
    return json_response([{"id": t, "vendor": v} for t, v in sorted(ex.world.tenants().items())])


# -- bitHuman arrangement ------------------------------------------------------------------------


def list_bithuman_accounts(ex: Exchange) -> Response:
    world = ex.world
    with world.lock:
        return json_response([_account(world, a) for a in world.bithuman.accounts.values()])


def create_bithuman_account(ex: Exchange) -> Response:
    body = ex.body or {}
    account = ex.world.bithuman.create_account(
        body.get("id"),
        secrets=body.get("secrets"),
        dialect=body.get("dialect"),
        rate_limit=body.get("rate_limit"),
        agents=body.get("agents"),
    )
    return json_response(_account(ex.world, account), 201)


def get_bithuman_account(ex: Exchange) -> Response:
    return json_response(_account(ex.world, ex.world.bithuman.get_account(ex.path["account_id"])))


def update_bithuman_account(ex: Exchange) -> Response:
    body = ex.body
    account = ex.world.bithuman.update_account(
        ex.path["account_id"],
        secrets=body.get("secrets"),
        dialect=body.get("dialect"),
        rate_limit=body.get("rate_limit"),
        fields=frozenset(body),
    )
    return json_response(_account(ex.world, account))


def delete_bithuman_account(ex: Exchange) -> Response:
    ex.world.bithuman.delete_account(ex.path["account_id"])
    return _no_content()


def create_bithuman_agent(ex: Exchange) -> Response:
    body = ex.body or {}
    agent = ex.world.bithuman.create_agent(ex.path["account_id"], body.get("code"), body.get("rooms", ()))
    return json_response(agent.to_dict(), 201)


def get_bithuman_agent(ex: Exchange) -> Response:
    return json_response(ex.world.bithuman.get_agent(ex.path["account_id"], ex.path["agent_code"]).to_dict())


def delete_bithuman_agent(ex: Exchange) -> Response:
    ex.world.bithuman.delete_agent(ex.path["account_id"], ex.path["agent_code"])
    return _no_content()


def open_bithuman_room(ex: Exchange) -> Response:
    room_id = (ex.body or {}).get("room_id")
    room = ex.world.bithuman.open_room(ex.path["account_id"], ex.path["agent_code"], room_id)
    return json_response(room.to_dict(), 201)


def close_bithuman_room(ex: Exchange) -> Response:
    path = ex.path
    room = ex.world.bithuman.close_room(path["account_id"], path["agent_code"], path["room_id"])
    return json_response(room.to_dict())


# -- Agora arrangement ---------------------------------------------------------------------------


def _customer(customer: Customer) -> dict[str, Any]:
    basic = base64.b64encode(f"{customer.id}:{customer.secret}".encode()).decode()
    return {**customer.to_dict(), "basic_authorization": f"Basic {basic}"}


def _agent_state(agent: AgoraAgent, **extra: Any) -> dict[str, Any]:
    conv = agent.conversation

    def activity(a: Any) -> dict[str, Any]:
        return {
            "kind": a.kind,
            "text": a.text,
            "source": a.source,
            "start": a.start,
            "end": a.end,
            "interruptable": a.interruptable,
            "turn_id": a.turn.turn_id,
        }

    return {
        "agent_id": agent.agent_id,
        "appid": agent.appid,
        "name": agent.name,
        "channel": agent.channel,
        "status": conv.status,
        "state": conv.state,
        "current": activity(conv.current) if conv.current is not None else None,
        "queue": [activity(a) for a in conv.queue],
        "users_present": conv.users_present,
        "idle_timeout": conv.idle_timeout,
        "message": conv.message,
        **extra,
    }


def list_agora_customers(ex: Exchange) -> Response:
    with ex.world.lock:
        return json_response([_customer(c) for c in ex.world.agora.customers.values()])


def create_agora_customer(ex: Exchange) -> Response:
    body = ex.body or {}
    customer = ex.world.agora.create_customer(body.get("id"), body.get("secret"), body.get("projects"))
    return json_response(_customer(customer), 201)


def get_agora_customer(ex: Exchange) -> Response:
    return json_response(_customer(ex.world.agora.get_customer(ex.path["customer_id"])))


def delete_agora_customer(ex: Exchange) -> Response:
    ex.world.agora.delete_customer(ex.path["customer_id"])
    return _no_content()


def create_agora_project(ex: Exchange) -> Response:
    project = ex.world.agora.create_project(ex.path["customer_id"], **(ex.body or {}))
    return json_response(project.to_dict(), 201)


def get_agora_project(ex: Exchange) -> Response:
    return json_response(ex.world.agora.get_project(ex.path["appid"]).to_dict())


def update_agora_project(ex: Exchange) -> Response:
    return json_response(ex.world.agora.update_project(ex.path["appid"], ex.body).to_dict())


def get_agora_agent_state(ex: Exchange) -> Response:
    return json_response(_agent_state(ex.world.agora.agent(ex.path["appid"], ex.path["agent_id"])))


def agora_user_joins(ex: Exchange) -> Response:
    return json_response(_agent_state(ex.world.agora.user_joins(ex.path["appid"], ex.path["agent_id"])))


def agora_user_leaves(ex: Exchange) -> Response:
    return json_response(_agent_state(ex.world.agora.user_leaves(ex.path["appid"], ex.path["agent_id"])))


def agora_user_says(ex: Exchange) -> Response:
    agent, outcome = ex.world.agora.user_says(ex.path["appid"], ex.path["agent_id"], ex.body["text"])
    return json_response(_agent_state(agent, outcome=outcome))


def fail_agora_agent(ex: Exchange) -> Response:
    message = (ex.body or {}).get("message") or "failed on request of the control plane"
    return json_response(_agent_state(ex.world.agora.fail_agent(ex.path["appid"], ex.path["agent_id"], message)))


# -- Agora telephony arrangement ------------------------------------------------------------------


def _call_state(call: Any) -> dict[str, Any]:
    return {
        **call.to_dict(),
        "appid": call.agent.appid,
        "agent_status": call.agent.conversation.status,
        "events": list(call.events),
    }


def set_agora_dial_rules(ex: Exchange) -> Response:
    customer = ex.world.agora.get_customer(ex.path["customer_id"])
    return json_response([r.to_dict() for r in ex.world.telephony.set_rules(customer, ex.body)])


def simulate_inbound_call(ex: Exchange) -> Response:
    customer = ex.world.agora.get_customer(ex.path["customer_id"])
    return json_response(_call_state(ex.world.telephony.inbound_call(customer, ex.body)), 201)


def answer_agora_call(ex: Exchange) -> Response:
    project = ex.world.agora.get_project(ex.path["appid"])
    return json_response(_call_state(ex.world.telephony.answer(project, ex.path["agent_id"])))


def reject_agora_call(ex: Exchange) -> Response:
    project = ex.world.agora.get_project(ex.path["appid"])
    why = {"busy": "busy", "no_answer": "no answer"}[(ex.body or {}).get("reason", "busy")]
    return json_response(_call_state(ex.world.telephony.reject(project, ex.path["agent_id"], why)))


def remote_hangup_agora_call(ex: Exchange) -> Response:
    project = ex.world.agora.get_project(ex.path["appid"])
    return json_response(_call_state(ex.world.telephony.remote_hangup(project, ex.path["agent_id"])))


# -- inbox and clock -----------------------------------------------------------------------------


def list_inbox(ex: Exchange) -> Response:
    q = ex.query
    since = q.get("since")
    events, more = ex.world.inbox.page(
        tenant=q.get("tenant"),
        vendor=q.get("vendor"),
        agent=q.get("agent"),
        room=q.get("room"),
        kind=q.get("kind"),
        since=since,
        limit=q.get("limit"),
    )
    last_id = events[-1].id if events else None
    return json_response(
        {
            "count": len(events),
            "last_id": last_id,
            # The cursor: pass it as `since` for the next page (unchanged when nothing was new).
            "next": last_id if last_id is not None else since,
            "more": more,
            "events": [e.to_dict() for e in events],
        }
    )


def clear_inbox(ex: Exchange) -> Response:
    return json_response({"dropped": ex.world.inbox.clear(ex.query.get("tenant"))})


def get_clock(ex: Exchange) -> Response:
    return json_response(_clock(ex.world))


def freeze_clock(ex: Exchange) -> Response:
    # The clock checks the range (epoch to year 9999), so nothing rendered later can overflow.
    ex.world.clock.freeze((ex.body or {}).get("at"))
    return json_response(_clock(ex.world))


def advance_clock(ex: Exchange) -> Response:
    ex.world.clock.advance(ex.body["seconds"])
    return json_response(_clock(ex.world))


def resume_clock(ex: Exchange) -> Response:
    ex.world.clock.resume((ex.body or {}).get("speed", 1.0))
    return json_response(_clock(ex.world))
