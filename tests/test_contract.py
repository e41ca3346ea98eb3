"""The one reading of the contract: matching requests, checking answers, knowing whose path it is."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from mockserver.contract import CONTROL, Contract, PathTable, load_contract
from mockserver.spec import Spec, load_spec, resolve_path_item

AG = "/api/conversational-ai-agent/v2"
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_contract()


def _concrete(template: str) -> str:
    return template.replace("{", "x").replace("}", "")


def test_every_operation_is_matched_by_its_own_method_and_path(contract: Contract) -> None:
    for spec in (load_spec(), load_spec("admin/openapi.yaml")):
        for op in spec.operations.values():
            assert contract.match(op.method, _concrete(op.path)) is op, op.operation_id
            assert contract.match(op.method.lower(), op.path) is op, "a template matches itself"


def test_every_request_validator_compiles() -> None:
    # Validators compile when first used, not at start-up: a schema that does not compile fails here.
    for spec in (load_spec(), load_spec("admin/openapi.yaml")):
        validators = spec.validators()
        assert validators
        for validator in validators:
            validator.compiled()


def test_match_is_none_for_other_methods_and_unknown_paths(contract: Contract) -> None:
    assert contract.match("GET", "/v1/agent/A12345678/speak") is None
    assert contract.match("POST", "/v1/agent/A12345678/speak/again") is None
    assert contract.match("GET", "/nowhere") is None


def test_path_table_prefers_a_literal_segment_and_returns_parameters() -> None:
    table = PathTable({"/a/{id}": "param", "/a/me": "literal", "/": "root"})
    assert table.match("/a/me") == ("literal", {})
    assert table.match("/a/42") == ("param", {"id": "42"})
    assert table.match("/") == ("root", {})
    assert table.match("/a") is None


@pytest.mark.parametrize(
    ("path", "tag", "vendor"),
    [
        ("/v1/agent/A1/speak", "bitHuman Agent Context", "bithuman"),
        ("/v1/anything", "bitHuman Agent Context", "bithuman"),
        (f"{AG}/projects/p/join", "Agora Agents", "agora"),
        (f"{AG}/projects/p/unknown", "Agora Agents", "agora"),
        ("/api/conversational-ai-agent/v9/x", "Agora Agents", "agora"),
        (f"{AG}/projects/p/call", "Agora Telephony", "agora"),
        (f"{AG}/projects/p/calls/a/nope", "Agora Telephony", "agora"),
        (f"{AG}/projects/p/callsign", "Agora Agents", "agora"),
        (f"{AG}/phone-numbers/+1/x", "Agora Phone Numbers", "agora"),
        ("/_mock/reset", "Control plane", CONTROL),
        ("/elsewhere", None, None),
        ("/api/other", None, None),
    ],
)
def test_whose_path_it_is_comes_from_the_tags(contract: Contract, path: str, tag: str | None, vendor: str) -> None:
    assert contract.tag_of(path) == tag
    assert contract.vendor_of(path) == vendor


def test_a_conforming_answer_has_no_problems(contract: Contract) -> None:
    op = load_spec().operations["start_agent"]
    body = orjson.dumps({"agent_id": "a1", "create_ts": 1737111452, "status": "RUNNING"})
    assert contract.check_response(op, 200, JSON, body) == []


def test_an_answer_through_a_referenced_response_is_checked(contract: Contract) -> None:
    # start_agent's 401 is #/components/responses/AgoraUnauthorized: its schema still applies.
    op = load_spec().operations["start_agent"]
    good = orjson.dumps({"detail": "authentication failed", "reason": "InvalidPermission"})
    assert contract.check_response(op, 401, JSON, good) == []
    [problem] = contract.check_response(op, 401, JSON, b'{"detail": "no reason"}')
    assert "start_agent 401: the body does not match the contract" in problem
    assert "reason" in problem


@pytest.mark.parametrize(
    ("op_id", "status", "headers", "body", "expected"),
    [
        ("start_agent", 418, JSON, b"{}", "start_agent answered 418, which the contract does not document"),
        ("delete_phone_number", 204, {}, b'{"x": 1}', "delete_phone_number 204 must have no body"),
        ("start_agent", 401, {"Content-Type": "text/plain"}, b"no", "content type 'text/plain'"),
        ("start_agent", 401, JSON, b"<html>", "start_agent 401: the body is not JSON"),
    ],
)
def test_problems_name_the_operation_and_what_is_wrong(
    contract: Contract, op_id: str, status: int, headers: dict[str, str], body: bytes, expected: str
) -> None:
    problems = contract.check_response(load_spec().operations[op_id], status, headers, body)
    assert len(problems) == 1 and expected in problems[0], problems


def test_an_empty_answer_where_none_is_declared_conforms(contract: Contract) -> None:
    op = load_spec().operations["delete_phone_number"]
    assert contract.check_response(op, 204, {}, b"") == []


def test_control_plane_errors_fall_under_default(contract: Contract) -> None:
    op = load_spec("admin/openapi.yaml").operations["get_health"]
    problem = orjson.dumps({"type": "about:blank", "title": "Teapot", "status": 418, "detail": "d"})
    assert contract.check_response(op, 418, {"content-type": "application/problem+json"}, problem) == []


def test_references_to_shared_parts_are_followed_and_schemas_kept() -> None:
    document: dict[str, Any] = {
        "components": {
            "responses": {"Gone": {"description": "gone", "headers": {"X": {"$ref": "#/components/headers/X"}}}},
            "headers": {"X": {"description": "x", "schema": {"$ref": "#/components/schemas/S"}}},
            "parameters": {"Id": {"name": "id", "in": "path", "required": True}},
            "examples": {"E": {"value": {"$ref": "data, not a reference"}}},
            "schemas": {"S": {"type": "string"}},
        }
    }
    item = {
        "parameters": [{"$ref": "#/components/parameters/Id"}],
        "get": {
            "responses": {
                "410": {"$ref": "#/components/responses/Gone", "description": "gone for good"},
                "200": {
                    "description": "ok",
                    "content": {"application/json": {"examples": {"e": {"$ref": "#/components/examples/E"}}}},
                },
            }
        },
    }
    resolved = resolve_path_item(document, item)
    assert resolved["parameters"] == [{"name": "id", "in": "path", "required": True}]
    assert resolved["get"]["responses"]["410"] == {
        "description": "gone for good",
        "headers": {"X": {"description": "x", "schema": {"$ref": "#/components/schemas/S"}}},
    }
    examples = resolved["get"]["responses"]["200"]["content"]["application/json"]["examples"]
    assert examples == {"e": {"value": {"$ref": "data, not a reference"}}}
    assert item["get"]["responses"]["410"]["$ref"] == "#/components/responses/Gone", "the document is untouched"
    with pytest.raises(ValueError, match="does not resolve"):
        resolve_path_item(document, {"parameters": [{"$ref": "#/components/parameters/Missing"}]})


def test_operations_hold_their_responses_with_references_followed() -> None:
    spec = load_spec()
    raw = spec.document["paths"][f"{AG}/projects/{{appid}}/join"]["post"]["responses"]["401"]
    assert raw == {"$ref": "#/components/responses/AgoraUnauthorized"}
    shared = spec.document["components"]["responses"]["AgoraUnauthorized"]
    assert spec.operations["start_agent"].responses["401"] == shared
    assert [p.name for p in spec.operations["get_agent"].parameters] == ["appid", "agent_id"]


def test_a_contract_of_one_spec_knows_only_its_paths() -> None:
    contract = Contract(Spec(load_spec().document))
    assert contract.match("GET", "/_mock/health") is None
    assert contract.vendor_of("/_mock/health") is None
    assert contract.vendor_of("/v1/agent/A1/speak") == "bithuman"
