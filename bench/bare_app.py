"""The baseline for ``bench_speak.py``: the speak endpoint with the JSON work and nothing else.

It reads and parses the body with orjson, checks that an ``api-secret`` header is present and
answers the mock's 200 body shape serialised with orjson. No spec validation, no authentication
against a world, no rooms, no inbox: whatever the mock costs beyond this is the price of being a
mock rather than the price of Starlette + uvicorn + JSON.

Served by uvicorn as a factory: ``uvicorn --factory --app-dir bench bare_app:create_app``.
"""

from __future__ import annotations

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def speak(request: Request) -> Response:
    body = orjson.loads(await request.body())
    if "api-secret" not in request.headers:
        return Response(orjson.dumps({"error": "missing api-secret"}), 401, media_type="application/json")
    room = body.get("room_id")
    rooms = [room] if room else []
    return Response(
        orjson.dumps(
            {
                "agent_code": request.path_params["agent_code"],
                "context_type": "speak",
                "delivered_to_rooms": len(rooms),
                "rooms": rooms,
                "rooms_skipped": [],
                "rooms_failed": [],
            }
        ),
        media_type="application/json",
    )


def create_app() -> Starlette:
    return Starlette(routes=[Route("/v1/agent/{agent_code}/speak", speak, methods=["POST"])])
