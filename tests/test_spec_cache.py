"""The parsed contracts and packaged fixtures are cached as JSON by content hash; the cache gives
the same document, and a start that finds it warm reads no YAML."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from mockserver import parse_cache
from mockserver.fixtures import FixtureError, load_fixture_file
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


def test_packaged_fixtures_are_cached_and_other_files_are_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "cache" / "agent-mockserver"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first = load_fixture_file("legacy")
    [cached] = folder.glob("fixture-worlds_legacy.yaml-*.json")
    assert load_fixture_file("legacy") == first == orjson.loads(cached.read_bytes())
    mine = tmp_path / "mine.yaml"
    mine.write_text("version: 1\nbithuman: {accounts: [{id: a, secrets: [s]}]}\n")
    assert load_fixture_file(mine)["bithuman"]["accounts"][0]["id"] == "a"
    assert [p.name for p in folder.iterdir()] == [cached.name]  # a user's file is never copied


def test_a_cached_fixture_is_validated_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The cache holds what the text parses to, nothing more: the document is checked on every load.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    load_fixture_file("default")
    [cached] = (tmp_path / "agent-mockserver").glob("fixture-worlds_default.yaml-*.json")
    cached.write_bytes(orjson.dumps({"version": 1, "bithuman": {"accounts": [{"id": "x"}]}}))
    with pytest.raises(FixtureError, match="secrets"):
        load_fixture_file("default")


def test_only_what_json_holds_exactly_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    when = {"freeze_at": datetime.datetime(2024, 1, 15, tzinfo=datetime.UTC)}  # a YAML timestamp
    assert parse_cache.parsed("dated.yaml", b"freeze_at: 2024-01-15T00:00:00Z", lambda: when) is when
    assert parse_cache.parsed("keys.yaml", b"1: one", lambda: {1: "one"}) == {1: "one"}
    assert not (tmp_path / "agent-mockserver").exists()
    assert parse_cache.parsed("plain.yaml", b"a: 1", lambda: {"a": 1}) == {"a": 1}
    assert parse_cache.parsed("plain.yaml", b"a: 1", lambda: pytest.fail("parsed again")) == {"a": 1}
    assert parse_cache.parsed("plain.yaml", b"a: 2", lambda: {"a": 2}) == {"a": 2}  # another text: parsed


def test_a_warm_start_imports_none_of_what_the_first_request_does_not_need(tmp_path: Path) -> None:
    # What the first request does not need is imported when first used (bench/README.md, start-up).
    code = (
        "import sys, mockserver.cli as c, mockserver.app as a;"
        "a.create_app(fixtures=c._resolve(()), access_log=True);"
        "print(sorted(m for m in ('yaml', 'sse_starlette', 'difflib', 'httpx', 'mockserver.bridge.har', 'regex',"
        " 'importlib.resources', 'mockserver.bridge.commands')"
        " if m in sys.modules))"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    env.pop("MOCKSERVER_NO_CACHE", None)
    runs = [
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
        for _ in range(2)
    ]
    assert runs[0].strip() == "['yaml']"  # the first start parses and caches
    assert runs[1].strip() == "[]"
