"""Static checks of openapi.yaml (no network, no server)."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml
from openapi_spec_validator import validate

from mockserver.spec import resolve_path_item

SPEC_PATH = Path(__file__).parents[1] / "openapi.yaml"
DIGEST_PATH = Path(__file__).with_name("contract_digest.json")

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

AG = "/api/conversational-ai-agent/v2"
EXPECTED_OPERATIONS: dict[str, tuple[str, str, str]] = {
    # operationId: (METHOD, path, tag)
    "bithuman_speak": ("POST", "/v1/agent/{agent_code}/speak", "bitHuman Agent Context"),
    "bithuman_add_context": ("POST", "/v1/agent/{agent_code}/add-context", "bitHuman Agent Context"),
    "start_agent": ("POST", f"{AG}/projects/{{appid}}/join", "Agora Agents"),
    "list_agents": ("GET", f"{AG}/projects/{{appid}}/agents", "Agora Agents"),
    "get_agent": ("GET", f"{AG}/projects/{{appid}}/agents/{{agent_id}}", "Agora Agents"),
    "get_agent_history": ("GET", f"{AG}/projects/{{appid}}/agents/{{agent_id}}/history", "Agora Agents"),
    "get_agent_turns": ("GET", f"{AG}/projects/{{appid}}/agents/{{agent_id}}/turns", "Agora Agents"),
    "stop_agent": ("POST", f"{AG}/projects/{{appid}}/agents/{{agent_id}}/leave", "Agora Agents"),
    "update_agent": ("POST", f"{AG}/projects/{{appid}}/agents/{{agent_id}}/update", "Agora Agents"),
    "speak_agent": ("POST", f"{AG}/projects/{{appid}}/agents/{{agent_id}}/speak", "Agora Agents"),
    "interrupt_agent": ("POST", f"{AG}/projects/{{appid}}/agents/{{agent_id}}/interrupt", "Agora Agents"),
    "think_agent": ("POST", f"{AG}/projects/{{appid}}/agents/{{agent_id}}/think", "Agora Agents"),
    "list_calls": ("GET", f"{AG}/projects/{{appid}}/call", "Agora Telephony"),
    "start_call": ("POST", f"{AG}/projects/{{appid}}/call", "Agora Telephony"),
    "get_call": ("GET", f"{AG}/projects/{{appid}}/calls/{{agent_id}}", "Agora Telephony"),
    "hangup_call": ("POST", f"{AG}/projects/{{appid}}/calls/{{agent_id}}/hangup", "Agora Telephony"),
    "list_phone_numbers": ("GET", f"{AG}/phone-numbers", "Agora Phone Numbers"),
    "add_phone_number": ("POST", f"{AG}/phone-numbers", "Agora Phone Numbers"),
    "get_phone_number": ("GET", f"{AG}/phone-numbers/{{phone_number}}", "Agora Phone Numbers"),
    "update_phone_number": ("PATCH", f"{AG}/phone-numbers/{{phone_number}}", "Agora Phone Numbers"),
    "delete_phone_number": ("DELETE", f"{AG}/phone-numbers/{{phone_number}}", "Agora Phone Numbers"),
    "bithuman_create_webhook": ("POST", "/v1/webhooks", "bitHuman Webhooks"),
    "bithuman_list_webhooks": ("GET", "/v1/webhooks", "bitHuman Webhooks"),
    "bithuman_get_webhook": ("GET", "/v1/webhooks/{webhook_id}", "bitHuman Webhooks"),
    "bithuman_delete_webhook": ("DELETE", "/v1/webhooks/{webhook_id}", "bitHuman Webhooks"),
    "bithuman_test_webhook": ("POST", "/v1/webhooks/{webhook_id}/test", "bitHuman Webhooks"),
    "bithuman_list_webhook_deliveries": ("GET", "/v1/webhooks/{webhook_id}/deliveries", "bitHuman Webhooks"),
}

TAGS = {"bitHuman Agent Context", "Agora Agents", "Agora Telephony", "Agora Phone Numbers", "bitHuman Webhooks"}

ERROR_SCHEMA_BY_TAG = {
    "bitHuman Agent Context": "#/components/schemas/BitHumanError",
    "Agora Agents": "#/components/schemas/AgoraError",
    "Agora Telephony": "#/components/schemas/TelephonyError",
    "Agora Phone Numbers": "#/components/schemas/TelephonyError",
    "bitHuman Webhooks": "#/components/schemas/BitHumanError",
}

SECURITY_BY_TAG = {
    "bitHuman Agent Context": [{"apiSecret": []}],
    "Agora Agents": [{"basicAuth": []}, {"agoraToken": []}],
    "Agora Telephony": [{"basicAuth": []}, {"agoraToken": []}],
    "Agora Phone Numbers": [{"basicAuth": []}, {"agoraToken": []}],
    "bitHuman Webhooks": [{"apiSecret": []}],
}


def _load() -> dict[str, Any]:
    with SPEC_PATH.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


DOC = _load()


def _operations(doc: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """operationId -> (METHOD, path, operation object with references other than schemas followed)."""
    ops: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for path, raw in doc["paths"].items():
        item = resolve_path_item(doc, raw)
        for method in HTTP_METHODS:
            if method in item:
                operation = item[method]
                ops[operation.get("operationId", f"{method} {path}")] = (method.upper(), path, operation)
    return ops


OPERATIONS = _operations(DOC)


def _validator(schema: dict[str, Any]) -> Any:
    return jsonschema_rs.validator_for({**schema, "components": DOC["components"]}, validate_formats=True)


def _schema(name: str) -> Any:
    return _validator({"$ref": f"#/components/schemas/{name}"})


def _examples(media: dict[str, Any]) -> list[tuple[str, Any]]:
    found = []
    if "example" in media:
        found.append(("example", media["example"]))
    for key, example in (media.get("examples") or {}).items():
        assert "value" in example, f"examples[{key}] has no inline value"
        found.append((f"examples[{key}]", example["value"]))
    return found


def _check_examples(where: str, schema: dict[str, Any], container: dict[str, Any]) -> int:
    validator = _validator(schema)
    examples = _examples(container)
    for label, value in examples:
        errors = [str(e) for e in validator.iter_errors(value)]
        assert not errors, f"{where} {label} does not match its schema: {errors}"
    return len(examples)


# --------------------------------------------------------------------------------------------------
# 1. The document is valid OpenAPI 3.1.
# --------------------------------------------------------------------------------------------------


def test_document_is_valid_openapi_31() -> None:
    assert DOC["openapi"] == "3.1.0"
    assert DOC["jsonSchemaDialect"] == "https://json-schema.org/draft/2020-12/schema"
    validate(DOC)


def test_info_servers_and_security_schemes() -> None:
    assert DOC["info"]["title"] == (
        "agent-mockserver: bitHuman Agent Context API + Agora Conversational AI Engine REST API v2"
    )
    assert DOC["info"]["version"] == "0.1.0"
    assert DOC["info"]["description"].strip()
    assert [s["url"] for s in DOC["servers"]] == ["http://127.0.0.1:8080"]
    schemes = DOC["components"]["securitySchemes"]
    assert schemes["apiSecret"] == {
        **schemes["apiSecret"],
        "type": "apiKey",
        "in": "header",
        "name": "api-secret",
    }
    assert schemes["basicAuth"]["type"] == "http" and schemes["basicAuth"]["scheme"] == "basic"
    assert schemes["agoraToken"]["type"] == "apiKey"
    assert schemes["agoraToken"]["in"] == "header" and schemes["agoraToken"]["name"] == "Authorization"
    assert "agora token=" in schemes["agoraToken"]["description"]
    for path, item in DOC["paths"].items():
        real = "https://api.bithuman.ai" if path.startswith("/v1/") else "https://api.agora.io"
        assert [s["url"] for s in item.get("servers", [])] == ["http://127.0.0.1:8080", real], path


# --------------------------------------------------------------------------------------------------
# 2. Exactly the 27 operations.
# --------------------------------------------------------------------------------------------------


def test_exact_operation_set() -> None:
    actual = {(method, path) for method, path, _ in OPERATIONS.values()}
    expected = {(method, path) for method, path, _ in EXPECTED_OPERATIONS.values()}
    assert actual == expected
    assert len(OPERATIONS) == 27


def test_operation_ids() -> None:
    ids = [op.get("operationId") for _, _, op in OPERATIONS.values()]
    assert all(ids), "every operation needs an operationId"
    assert len(ids) == len(set(ids)), "operationIds must be unique"
    assert set(ids) == set(EXPECTED_OPERATIONS)
    for op_id in ids:
        assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", op_id), op_id
    for op_id, (method, path, _) in OPERATIONS.items():
        assert (method, path) == EXPECTED_OPERATIONS[op_id][:2], op_id


# --------------------------------------------------------------------------------------------------
# 3. Tags and security.
# --------------------------------------------------------------------------------------------------


def test_tags_declared() -> None:
    assert {t["name"] for t in DOC["tags"]} == TAGS
    assert all(t.get("description") for t in DOC["tags"])


@pytest.mark.parametrize("op_id", sorted(EXPECTED_OPERATIONS))
def test_operation_tag_and_security(op_id: str) -> None:
    _, _, op = OPERATIONS[op_id]
    assert op.get("tags") == [EXPECTED_OPERATIONS[op_id][2]]
    assert op["tags"][0] in TAGS
    assert op.get("security"), f"{op_id} declares no security"
    assert op["security"] == SECURITY_BY_TAG[op["tags"][0]]
    assert op.get("summary") and op.get("description")


# --------------------------------------------------------------------------------------------------
# 4. Examples exist and validate.
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("op_id", sorted(EXPECTED_OPERATIONS))
def test_examples_validate(op_id: str) -> None:
    _, _, op = OPERATIONS[op_id]

    body = op.get("requestBody")
    if body is not None:
        for media_type, media in body["content"].items():
            count = _check_examples(f"{op_id} requestBody {media_type}", media["schema"], media)
            if "json" in media_type:
                assert count, f"{op_id}: the {media_type} request body has no example"

    for status, response in op["responses"].items():
        for media_type, media in (response.get("content") or {}).items():
            count = _check_examples(f"{op_id} {status} {media_type}", media["schema"], media)
            if "json" in media_type:
                assert count, f"{op_id}: the {status} {media_type} response has no example"
        for name, header in (response.get("headers") or {}).items():
            _check_examples(f"{op_id} {status} header {name}", header["schema"], header)

    for param in op.get("parameters", []):
        _check_examples(f"{op_id} parameter {param['name']}", param["schema"], param)


@pytest.mark.parametrize("op_id", sorted(EXPECTED_OPERATIONS))
def test_every_operation_has_a_2xx_response(op_id: str) -> None:
    _, _, op = OPERATIONS[op_id]
    success = [s for s in op["responses"] if str(s).startswith("2")]
    assert len(success) == 1, success
    expected = {"add_phone_number": "201", "delete_phone_number": "204"}.get(op_id, "200")
    assert success == [expected]
    if expected == "204":
        assert "content" not in op["responses"]["204"]
    else:
        assert "application/json" in op["responses"][expected]["content"]


# --------------------------------------------------------------------------------------------------
# 5. Error responses use the vendor's error schema.
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("op_id", sorted(EXPECTED_OPERATIONS))
def test_error_responses_use_vendor_error_schema(op_id: str) -> None:
    _, _, op = OPERATIONS[op_id]
    expected_ref = ERROR_SCHEMA_BY_TAG[op["tags"][0]]
    errors = {s: r for s, r in op["responses"].items() if str(s)[0] in "45"}
    assert errors, f"{op_id} documents no error status"
    assert "401" in errors, f"{op_id} must document 401"
    for status, response in errors.items():
        content = response.get("content")
        assert content and set(content) == {"application/json"}, f"{op_id} {status}"
        assert content["application/json"]["schema"] == {"$ref": expected_ref}, f"{op_id} {status}"


# --------------------------------------------------------------------------------------------------
# 6. References stay inside #/components/ and resolve.
# --------------------------------------------------------------------------------------------------


def _refs(node: Any, where: str = "#") -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.append((where, value))
            else:
                found.extend(_refs(value, f"{where}/{key}"))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.extend(_refs(value, f"{where}/{i}"))
    return found


def test_refs_stay_in_components_and_resolve() -> None:
    refs = _refs(DOC)
    assert refs
    for where, target in refs:
        assert target.startswith("#/components/"), f"{where}: $ref {target!r} points outside #/components/"
        node: Any = DOC
        for part in target[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            assert isinstance(node, dict) and part in node, f"{where}: $ref {target!r} does not resolve"
            node = node[part]


def test_schemas_refer_only_to_schemas() -> None:
    # Validators compile each schema with components.schemas alone at its root.
    inside_schemas = [(where, target) for where, target in _refs(DOC) if "/schema" in where]
    assert inside_schemas
    for where, target in inside_schemas:
        assert target.startswith("#/components/schemas/"), f"{where}: a schema refers to {target!r}"


def test_every_component_schema_compiles_and_is_used() -> None:
    schemas = DOC["components"]["schemas"]
    used = {target.rsplit("/", 1)[-1] for _, target in _refs(DOC) if target.startswith("#/components/schemas/")}
    for name in schemas:
        _schema(name)
        assert name in used, f"components.schemas.{name} is never referenced"


SHARED_KINDS = ("responses", "parameters", "headers", "examples", "links")


def test_every_shared_component_is_used() -> None:
    used = {target for _, target in _refs(DOC)}
    for kind in SHARED_KINDS:
        for name in DOC["components"].get(kind, {}):
            assert f"#/components/{kind}/{name}" in used, f"components.{kind}.{name} is never referenced"


def _written_parts(doc: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(kind, where, object) of every response, parameter, header, example and link written out in full."""
    parts = [
        (kind, f"components.{kind}.{name}", value)
        for kind in SHARED_KINDS
        for name, value in doc["components"].get(kind, {}).items()
    ]
    responses = [(f"components.responses.{n}", r) for n, r in doc["components"].get("responses", {}).items()]
    media: list[tuple[str, Any]] = []
    for path, item in doc["paths"].items():
        for method in HTTP_METHODS:
            if method not in item:
                continue
            where = f"{method.upper()} {path}"
            op = item[method]
            parts += [("parameters", f"{where} parameters", p) for p in op.get("parameters", []) if "$ref" not in p]
            media += [(f"{where} requestBody", m) for m in (op.get("requestBody") or {}).get("content", {}).values()]
            written = [(f"{where} {status}", r) for status, r in op["responses"].items() if "$ref" not in r]
            parts += [("responses", label, r) for label, r in written]
            responses += written
    for label, response in responses:
        for kind in ("headers", "links"):
            written = (response.get(kind) or {}).items()
            parts += [(kind, f"{label} {kind}.{n}", v) for n, v in written if "$ref" not in v]
        media += [(label, m) for m in (response.get("content") or {}).values()]
    for label, m in media:
        examples = (m.get("examples") or {}).items()
        parts += [("examples", f"{label} example {n}", e) for n, e in examples if "$ref" not in e]
    return parts


def test_shared_parts_are_written_once() -> None:
    # Adding an operation means writing what is new about it: a response, parameter, header, example or
    # link that two places spell out in full belongs in components, referenced from both.
    first: dict[tuple[str, str], str] = {}
    for kind, where, value in _written_parts(DOC):
        key = (kind, json.dumps(value, sort_keys=True))
        assert key not in first, f"{where} repeats {first[key]}: move it to components.{kind} and reference it"
        first[key] = where


def test_yaml_has_no_anchors_or_aliases() -> None:
    events = yaml.parse(SPEC_PATH.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    for event in events:
        assert getattr(event, "anchor", None) is None, "YAML anchors/aliases are not used in this document"


# --------------------------------------------------------------------------------------------------
# Request-schema sanity: bodies the facts say must pass or fail.
# --------------------------------------------------------------------------------------------------

_JOIN_MIN = {"channel": "c", "token": "t", "agent_rtc_uid": "1", "remote_rtc_uids": ["2"]}
_MODULES = {"llm": {"url": "https://llm.example"}, "tts": {"vendor": "microsoft", "params": {}}}

SCHEMA_CASES = [
    # (schema, instance, valid?)
    ("BitHumanSpeakRequest", {"message": "hi"}, True),
    ("BitHumanSpeakRequest", {"message": "hi", "room_id": None, "extra": 1}, True),
    ("BitHumanSpeakRequest", {"message": ""}, False),
    ("BitHumanSpeakRequest", {"room_id": "r"}, False),
    ("BitHumanSpeakRequest", {"message": "hi", "room_id": 5}, False),
    ("BitHumanAddContextRequest", {"context": "c", "type": None}, True),
    ("BitHumanAddContextRequest", {"context": "c", "type": "speak"}, True),
    ("BitHumanAddContextRequest", {"context": "c", "type": "shout"}, False),
    ("BitHumanAddContextRequest", {"context": ""}, False),
    ("BitHumanError", {"success": False, "error": "UNAUTHORIZED", "message": "Invalid api-secret"}, True),
    (
        "BitHumanError",
        {
            "error": {"code": "NOT_FOUND", "message": "m", "httpStatus": 404},
            "status": "error",
            "status_code": 404,
        },
        True,
    ),
    ("BitHumanError", {"error": "NOT_FOUND", "message": "m"}, False),
    ("AgentContextResult", {"agent_code": "A1", "success": True}, False),
    ("AgentContextLegacyEnvelope", {"agent_code": "A1", "delivered_to_rooms": 1}, False),
    ("StartAgentRequest", {"name": "n", "properties": _JOIN_MIN, "preset": "p"}, True),
    (
        "StartAgentRequest",
        {"name": "n", "properties": {**_JOIN_MIN, "future_field": {"x": 1}}, "pipeline_id": "9"},
        True,
    ),
    # The rules across fields the contract states (StartAgentRequest.anyOf, StartAgentProperties.anyOf).
    ("StartAgentRequest", {"name": "n", "properties": _JOIN_MIN}, False),
    ("StartAgentRequest", {"name": "n", "properties": _JOIN_MIN, "preset": None, "pipeline_id": ""}, False),
    ("StartAgentRequest", {"name": "n", "properties": {**_JOIN_MIN, **_MODULES}}, True),
    ("StartAgentRequest", {"name": "n", "properties": {**_JOIN_MIN, **_MODULES, "llm": {"url": ""}}}, False),
    ("StartAgentRequest", {"name": "n", "properties": {**_JOIN_MIN, "mllm": {"enable": True}}}, True),
    ("StartAgentRequest", {"name": "n", "properties": {**_JOIN_MIN, "mllm": {"enable": False}}}, False),
    ("StartAgentRequest", {"name": "n", "properties": {**_JOIN_MIN, "advanced_features": {"enable_mllm": True}}}, True),
    ("StartAgentRequest", {"name": "n", "properties": {**_JOIN_MIN, "remote_rtc_uids": [""]}, "preset": "p"}, False),
    ("StartAgentRequest", {"name": "n", "properties": {**_JOIN_MIN, "remote_rtc_uids": ["*"]}, "preset": "p"}, True),
    ("StartAgentRequest", {"name": "n", "properties": {**_JOIN_MIN, "agent_rtc_uid": "*"}, "preset": "p"}, False),
    ("StartAgentRequest", {"name": "n", "properties": {**_JOIN_MIN, "agent_rtc_uid": "\u00b2"}, "preset": "p"}, False),
    (
        "StartAgentRequest",
        {"name": "n", "properties": {**_JOIN_MIN, "agent_rtc_uid": "bot", "enable_string_uid": True}, "preset": "p"},
        True,
    ),
    ("StartAgentRequest", {"name": "", "properties": _JOIN_MIN}, False),
    ("StartAgentRequest", {"name": "n", "properties": {**_JOIN_MIN, "remote_rtc_uids": []}}, False),
    (
        "StartAgentRequest",
        {"name": "n", "properties": {k: v for k, v in _JOIN_MIN.items() if k != "channel"}},
        False,
    ),
    ("StartAgentRequest", {"name": "n", "properties": {**_JOIN_MIN, "idle_timeout": 259201}}, False),
    ("StartAgentRequest", {"name": "n", "properties": {**_JOIN_MIN, "llm": {"max_history": 0}}}, False),
    (
        "StartAgentRequest",
        {"name": "n", "properties": {**_JOIN_MIN, "tts": {"vendor": "nope", "params": {}}}},
        False,
    ),
    (
        "StartAgentRequest",
        {"name": "n", "properties": {**_JOIN_MIN, "geofence": {"exclude_area": "ASIA"}}},
        False,
    ),
    ("StartAgentRequest", {"name": "n", "properties": {**_JOIN_MIN, "rtc": {"encryption_mode": 9}}}, False),
    (
        "StartAgentRequest",
        {
            "name": "n",
            "properties": {**_JOIN_MIN, "tts": {"vendor": "openai", "params": {}, "skip_patterns": [6]}},
        },
        False,
    ),
    ("SpeakAgentRequest", {"text": "x" * 512}, True),
    ("SpeakAgentRequest", {"text": "x" * 513}, False),
    ("SpeakAgentRequest", {"text": "hi", "priority": "LATER"}, False),
    (
        "ThinkAgentRequest",
        {"text": "t", "on_listening_action": None, "metadata": None, "interruptable": None},
        True,
    ),
    ("ThinkAgentRequest", {"text": "t", "on_thinking_action": "inject"}, False),
    ("ThinkAgentRequest", {"text": "t", "metadata": {"k": 1}}, False),
    (
        "StartCallRequest",
        {
            "name": "n",
            "sip": {
                "to_number": "+19876543210",
                "from_number": "+11234567890",
                "rtc_uid": "1",
                "rtc_token": "t",
            },
            "properties": {"channel": "c", "token": "t", "agent_rtc_uid": "1"},
            "pipeline_id": "28",
        },
        True,
    ),
    (
        "StartCallRequest",
        {
            "name": "n",
            "sip": {"to_number": "+19876543210", "from_number": "+11234567890", "rtc_uid": "1", "rtc_token": "t"},
            "properties": {"channel": "c", "token": "t", "agent_rtc_uid": "1"},
            "preset": "p",  # a call has no preset: it replaces nothing
        },
        False,
    ),
    (
        "StartCallRequest",
        {
            "name": "n",
            "sip": {"to_number": "+19876543210", "from_number": "+11234567890", "rtc_uid": "gw", "rtc_token": "t"},
            "properties": {"channel": "c", "token": "t", "agent_rtc_uid": "1"},
            "pipeline_id": "28",
        },
        False,
    ),
    (
        "StartCallRequest",
        {
            "name": "n",
            "sip": {
                "to_number": "19876543210",
                "from_number": "+11234567890",
                "rtc_uid": "1",
                "rtc_token": "t",
            },
            "properties": {"channel": "c", "token": "t", "agent_rtc_uid": "1"},
        },
        False,
    ),
    (
        "AddPhoneNumberRequest",
        {"provider": "byo", "phone_number": "+19876543210", "label": "l", "outbound_config": {}},
        True,
    ),
    ("PhoneNumberInboundConfig", {"allowed_addresses": ["112.126.15.64/27", "10.0.0.1", "2001:db8::/32"]}, True),
    ("PhoneNumberInboundConfig", {"allowed_addresses": [""]}, False),
    ("PhoneNumberInboundConfig", {"allowed_addresses": ["10.0.0.0/33"]}, False),
    ("PhoneNumberInboundConfig", {"allowed_addresses": ["not-a-cidr"]}, False),
    (
        "AddPhoneNumberRequest",
        {
            "provider": "byo",
            "phone_number": "+19876543210",
            "label": "l",
            "outbound_config": {},
            "inbound_config": {},
        },
        False,
    ),
    ("AddPhoneNumberRequest", {"provider": "byo", "phone_number": "+19876543210", "label": "l"}, False),
    (
        "AddPhoneNumberRequest",
        {
            "provider": "byo",
            "phone_number": "+19876543210",
            "label": "l",
            "outbound_config": {"transport": "sctp"},
        },
        False,
    ),
    ("UpdatePhoneNumberRequest", {"inbound_config": None, "outbound_config": {"pipeline_id": "p"}}, True),
    ("AgoraError", {"detail": "d", "reason": "TaskNotFound"}, True),
    ("AgoraError", {"detail": "d", "reason": "InvalidRequest"}, True),
    ("AgoraError", {"detail": "d"}, False),
    ("TelephonyError", {"error_type": "not_found"}, False),
    ("ListAgentsResponse", {"meta": {"cursor": ""}}, False),
    ("ListAgentsResponse", {"data": {"list": []}}, True),
    ("EmptyObject", {}, True),
]


@pytest.mark.parametrize(("schema", "instance", "valid"), SCHEMA_CASES)
def test_schema_cases(schema: str, instance: Any, valid: bool) -> None:
    assert _schema(schema).is_valid(instance) is valid


def test_speak_text_declares_utf8_byte_limit() -> None:
    text = DOC["components"]["schemas"]["SpeakAgentRequest"]["properties"]["text"]
    assert text["x-max-utf8-bytes"] == 512
    assert text["maxLength"] == 512 and text["minLength"] == 1
    assert "UTF-8" in text["description"]


def test_bodyless_agora_operations() -> None:
    assert "requestBody" not in OPERATIONS["stop_agent"][2]
    for op_id in ("interrupt_agent", "hangup_call"):
        body = OPERATIONS[op_id][2]["requestBody"]
        assert body["required"] is False
        assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/EmptyObject"}


# --------------------------------------------------------------------------------------------------
# 7. What each operation means, references followed, is pinned.
# --------------------------------------------------------------------------------------------------


def _lookup(doc: dict[str, Any], target: str) -> Any:
    node: Any = doc
    for part in target[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _dereferenced(doc: dict[str, Any], node: Any, seen: tuple[str, ...] = ()) -> Any:
    """``node`` with every ``$ref`` replaced by its target, siblings laid over it (a recursive one stays)."""
    if isinstance(node, list):
        return [_dereferenced(doc, value, seen) for value in node]
    if not isinstance(node, dict):
        return node
    target = node.get("$ref")
    siblings = {key: _dereferenced(doc, value, seen) for key, value in node.items() if key != "$ref"}
    if not isinstance(target, str) or target in seen:
        return {**siblings, "$ref": target} if isinstance(target, str) else siblings
    return {**_dereferenced(doc, _lookup(doc, target), (*seen, target)), **siblings}


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def contract_digests(doc: dict[str, Any]) -> dict[str, Any]:
    """operationId -> digests of its parameters, request body and each response, dereferenced."""
    digests: dict[str, Any] = {}
    for item in doc["paths"].values():
        for method in HTTP_METHODS:
            if method not in item:
                continue
            op = item[method]
            parameters = [*item.get("parameters", []), *op.get("parameters", [])]
            digests[op["operationId"]] = {
                "parameters": _digest(_dereferenced(doc, parameters)),
                "requestBody": _digest(_dereferenced(doc, op.get("requestBody"))),
                "responses": {status: _digest(_dereferenced(doc, r)) for status, r in op["responses"].items()},
            }
    return digests


def test_operations_mean_what_the_pinned_digests_say() -> None:
    # Moving repeated parts into components must not change what any operation says. After an
    # intended change of the contract, rewrite the digests: python tests/test_spec.py
    pinned = json.loads(DIGEST_PATH.read_text(encoding="utf-8"))
    actual = contract_digests(DOC)
    assert set(actual) == set(pinned)
    for op_id, parts in pinned.items():
        assert actual[op_id] == parts, f"{op_id}: dereferenced parameters, body or responses changed"


if __name__ == "__main__":
    if sys.argv[1:] != ["--write-digests"]:
        sys.exit("usage: python tests/test_spec.py --write-digests  (after an intended change of openapi.yaml)")
    DIGEST_PATH.write_text(json.dumps(contract_digests(DOC), indent=1, sort_keys=True) + "\n", encoding="utf-8")


@pytest.mark.parametrize("name", ["openapi.yaml", "admin/openapi.yaml"])
def test_every_response_of_the_loaded_specs_resolves(name: str) -> None:
    # ``Spec`` follows the references of an operation's responses when they are first read, not
    # at start-up: read every one here, as a served mock would fail on its first check otherwise.
    from mockserver.spec import load_spec

    for op in load_spec(name).operations.values():
        resolved = dict(op.responses.items())
        assert resolved, op.operation_id
        for status, response in resolved.items():
            assert "$ref" not in response, (op.operation_id, status)
            for part in ("headers", "links"):
                assert all("$ref" not in v for v in (response.get(part) or {}).values()), (op.operation_id, status)
