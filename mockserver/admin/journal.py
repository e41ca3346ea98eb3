"""The request journal as the control plane shows it: list, count, clear."""

from __future__ import annotations

from collections import Counter
from typing import Any

from starlette.responses import Response

from ..api.base import Call, json_response

__all__ = ["clear_journal", "count_journal", "list_journal"]


def _journal_filters(call: Call) -> dict[str, Any]:
    return {k: call.query[k] for k in ("operation", "status", "tenant") if k in call.query}


def list_journal(call: Call) -> Response:
    journal = call.world.journal
    entries = journal.query(**_journal_filters(call), since=call.query.get("since"), limit=call.query.get("limit"))
    return json_response(
        {
            "count": len(entries),
            "total": journal.total,
            "last_id": entries[-1].id if entries else None,
            "entries": [e.to_dict() for e in entries],
        }
    )


def count_journal(call: Call) -> Response:
    journal = call.world.journal
    entries = journal.query(**_journal_filters(call))
    by_status = Counter(str(e.status) for e in entries)
    by_operation = Counter(e.operation or "(no operation)" for e in entries)
    return json_response(
        {"count": len(entries), "total": journal.total, "by_status": by_status, "by_operation": by_operation}
    )


def clear_journal(call: Call) -> Response:
    return json_response({"dropped": call.world.journal.clear()})
