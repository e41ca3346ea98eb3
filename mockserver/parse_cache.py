"""YAML the package ships, parsed once and read back as JSON from the user's cache folder.

Parsing YAML is slow next to reading JSON with orjson (the 190 KB contract takes a good part of a
second on a slow machine), and importing PyYAML at all costs tens of milliseconds of every start
(its reader compiles a large regular expression). So the documents the package ships (the two
contracts, the packaged fixtures) are parsed by the first start of each version and read back as
JSON by the next ones. An entry is named after the SHA-256 of the text it was parsed from: a
changed text is parsed again, never answered from a stale entry. Only a document that JSON holds
exactly is kept (a YAML date, say, would come back a string, so it is parsed every time).

``MOCKSERVER_NO_CACHE`` turns the cache off and ``XDG_CACHE_HOME`` moves it; deleting the folder
is always safe.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

__all__ = ["cache_dir", "parsed"]


def cache_dir() -> Path | None:
    """``$XDG_CACHE_HOME/agent-mockserver`` (``~/.cache/agent-mockserver``); None when turned off."""
    if os.environ.get("MOCKSERVER_NO_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "agent-mockserver"


def parsed(name: str, raw: bytes, parse: Callable[[], Any]) -> Any:
    """What ``parse()`` makes of ``raw`` (the text of ``name``), from the cache when it holds it.

    ``parse`` runs on a miss and its exceptions propagate (nothing is kept then).
    """
    folder = cache_dir()
    if folder is None:
        return parse()
    cached = folder / f"{name.replace('/', '_')}-{hashlib.sha256(raw).hexdigest()[:24]}.json"
    if cached.is_file():
        with contextlib.suppress(OSError, orjson.JSONDecodeError):
            return orjson.loads(cached.read_bytes())
    document = parse()
    # TypeError: orjson cannot write it (a set, a key that is not a string...).
    with contextlib.suppress(OSError, TypeError):
        data = orjson.dumps(document)
        if orjson.loads(data) == document:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(data)
            tmp.replace(cached)  # atomic: parallel workers never read a half-written file
    return document
