"""The request journal as the control plane shows it: list, count, clear."""

from __future__ import annotations

from collections import Counter
from typing import Any

from starlette.responses import Response

from ..api.base import Exchange, json_response

__all__ = ["clear_journal", "count_journal", "list_journal"]


def _journal_filters(ex: Exchange) -> dict[str, Any]:
    return {k: ex.query[k] for k in ("operation", "status", "tenant") if k in ex.query}


def list_journal(ex: Exchange) -> Response:
    journal = ex.world.journal
    entries = journal.query(**_journal_filters(ex), since=ex.query.get("since"), limit=ex.query.get("limit"))
    return json_response(
        {
            "count": len(entries),
            "total": journal.total,
            "last_id": entries[-1].id if entries else None,
            "entries": [e.to_dict() for e in entries],
        }
    )


def count_journal(ex: Exchange) -> Response:
    journal = ex.world.journal
    entries = journal.query(**_journal_filters(ex))
    by_status = Counter(str(e.status) for e in entries)
    by_operation = Counter(e.operation or "(no operation)" for e in entries)
    return json_response(
        {"count": len(entries), "total": journal.total, "by_status": by_status, "by_operation": by_operation}
    )


def clear_journal(ex: Exchange) -> Response:
    return json_response({"dropped": ex.world.journal.clear()})
