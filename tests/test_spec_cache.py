"""The parsed contract is cached as JSON by content hash; the cache gives the same document."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from mockserver.spec import Spec, load_document


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


def test_a_spec_from_the_cache_follows_the_same_references(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The cache holds the document as written; references are followed when the spec is built, so a
    # cached document gives the same operations, shared responses and parameters included.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    parsed = Spec(load_document())
    cached = Spec(load_document())
    assert list((tmp_path / "agent-mockserver").glob("openapi.yaml-*.json"))
    assert cached.operations["start_agent"].responses["401"]["content"]
    for op_id, op in parsed.operations.items():
        assert cached.operations[op_id].responses == op.responses, op_id
        assert cached.operations[op_id].parameters == op.parameters, op_id
