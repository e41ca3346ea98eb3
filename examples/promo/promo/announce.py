"""Announce a promotion through a bitHuman avatar agent (Agent Context API), with ``requests``."""

from __future__ import annotations

from typing import Any

import requests

__all__ = ["AnnouncementFailed", "announce", "brief"]


class AnnouncementFailed(Exception):
    """bitHuman refused the request; the message is the API's own."""


def _post(
    base_url: str, secret: str, path: str, body: dict[str, Any], session: requests.Session | None
) -> dict[str, Any]:
    http: Any = session or requests
    response = http.post(f"{base_url.rstrip('/')}{path}", json=body, headers={"api-secret": secret}, timeout=10)
    if response.status_code >= 400:
        error = response.json().get("error") or {}
        raise AnnouncementFailed(error.get("message") if isinstance(error, dict) else str(error))
    return response.json()  # type: ignore[no-any-return]


def announce(
    base_url: str,
    secret: str,
    agent_code: str,
    text: str,
    *,
    room_id: str | None = None,
    session: requests.Session | None = None,
) -> list[str]:
    """Make the agent say ``text`` in all its live rooms, or in ``room_id``.

    Returns:
        The rooms that heard it.

    Raises:
        AnnouncementFailed: unknown agent, no active room, bad secret...
    """
    body = {"message": text, **({"room_id": room_id} if room_id else {})}
    return list(_post(base_url, secret, f"/v1/agent/{agent_code}/speak", body, session)["rooms"])


def brief(
    base_url: str, secret: str, agent_code: str, facts: list[str], *, session: requests.Session | None = None
) -> None:
    """Give the agent background facts it may use, without saying them (``add-context``)."""
    for fact in facts:
        _post(
            base_url, secret, f"/v1/agent/{agent_code}/add-context", {"context": fact, "type": "add_context"}, session
        )
