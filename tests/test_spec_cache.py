"""The parsed contract is cached as JSON by content hash; the cache gives the same document."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from mockserver.spec import load_document


def test_cached_document_equals_the_parsed_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = load_document()  # parses the YAML and writes the cache
    [cached] = (tmp_path / "agent-mockserver").glob("openapi.yaml-*.json")
    second = load_document()  # reads the cache
    assert orjson.loads(orjson.dumps(first)) == second
    cached.write_bytes(b"{not json")  # a damaged cache is ignored, not fatal
    assert load_document() == second


def test_cache_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("MOCKSERVER_NO_CACHE", "1")
    assert load_document()["openapi"].startswith("3.1")
    assert not (tmp_path / "agent-mockserver").exists()
