"""The spec-driven core: routes from the contract, and bad input answered in the vendor's envelope."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from starlette.testclient import TestClient

from mockserver import World, create_app
from mockserver.app import default_handlers
from mockserver.routing import DEFAULT_BODY_LIMIT, MissingHandlerError
from mockserver.spec import load_spec

from .conftest import DEFAULT_FIXTURE, DOCS_SECRET

SPEAK = "/v1/agent/A12345678/speak"
JOIN = "/api/conversational-ai-agent/v2/projects/demo-app-id/join"
PHONE = "/api/conversational-ai-agent/v2/phone-numbers"
AUTH = {"api-secret": DOCS_SECRET}
AGORA = {"authorization": "Basic " + base64.b64encode(b"demo-customer-id:demo-customer-secret").decode()}


def test_every_operation_has_a_handler_of_the_same_name() -> None:
    handlers = default_handlers()
    for spec in (load_spec(), load_spec("admin/openapi.yaml")):
        for op_id in spec.operations:
            assert op_id in handlers, op_id


def test_a_missing_handler_fails_start_up() -> None:
    handlers = default_handlers()
    del handlers["bithuman_speak"]
    with pytest.raises(MissingHandlerError, match="bithuman_speak"):
        create_app(handlers=handlers)


def test_every_spec_path_is_routed(client: TestClient) -> None:
    # Each (method, path) of the contract reaches a handler: never the router's 404 or 405.
    for op in load_spec().operations.values():
        path = op.path.replace("{", "").replace("}", "")
        r = client.request(op.method, path, headers=AUTH)
        assert r.status_code not in (404, 405) or "No route" not in r.text, (op.operation_id, r.text)


# -- malformed input -----------------------------------------------------------------------------


def test_malformed_json(client: TestClient) -> None:
    r = client.post(SPEAK, content=b'{"message": ', headers={**AUTH, "content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "VALIDATION_ERROR"
    assert "not valid JSON" in r.json()["error"]["message"]


def test_invalid_utf8(client: TestClient) -> None:
    r = client.post(SPEAK, content=b'{"message": "\xff"}', headers={**AUTH, "content-type": "application/json"})
    assert r.status_code == 400


def test_wrong_content_type(client: TestClient) -> None:
    r = client.post(SPEAK, content=b"message=hi", headers={**AUTH, "content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400
    assert "application/json" in r.json()["error"]["message"]


def test_json_without_content_type_is_accepted(client: TestClient) -> None:
    r = client.post(SPEAK, content=b'{"message": "hi", "room_id": "room_1"}', headers=AUTH)
    assert r.status_code == 200


def test_empty_body_is_missing_fields(client: TestClient) -> None:
    r = client.post(SPEAK, headers=AUTH)
    assert r.status_code == 400 and r.json()["error"]["code"] == "MISSING_PARAM"


@pytest.mark.parametrize("chunked", [False, True])
def test_bodies_over_one_mebibyte_are_413(client: TestClient, chunked: bool) -> None:
    body = b'{"message": "' + b"a" * DEFAULT_BODY_LIMIT + b'"}'
    content: Any = iter([body[: len(body) // 2], body[len(body) // 2 :]]) if chunked else body
    r = client.post(SPEAK, content=content, headers={**AUTH, "content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_a_large_body_under_the_limit_is_served(client: TestClient) -> None:
    body = {"message": "a" * (DEFAULT_BODY_LIMIT - 100), "room_id": "room_1"}
    assert client.post(SPEAK, json=body, headers=AUTH).status_code == 200


def test_deeply_nested_json_is_a_clear_error(client: TestClient) -> None:
    body = b'{"message": "x", "extra": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    r = client.post(SPEAK, content=body, headers={**AUTH, "content-type": "application/json"})
    assert r.status_code in (200, 400)


# -- unknown paths and methods, per vendor ------------------------------------------------------


def test_unknown_bithuman_path(client: TestClient) -> None:
    r = client.post("/v1/agent/A12345678/speek", json={}, headers=AUTH)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "NOT_FOUND"
    assert "closest route: POST /v1/agent/{agent_code}/speak" in r.json()["error"]["message"]


def test_unknown_agora_path(client: TestClient) -> None:
    r = client.get("/api/conversational-ai-agent/v2/projects/x/agentz")
    assert r.status_code == 404
    assert set(r.json()) == {"detail", "reason"}


def test_unknown_phone_number_path_uses_the_telephony_envelope(client: TestClient) -> None:
    r = client.get(PHONE + "/+15551234567/extra")
    assert r.status_code == 404
    assert r.json()["error_type"] == "not_found"


def test_unknown_path_elsewhere_is_problem_json(client: TestClient) -> None:
    r = client.get("/nothing/here")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 404


def test_trailing_slash_is_not_redirected(client: TestClient) -> None:
    r = client.post(SPEAK + "/", json={"message": "x"}, headers=AUTH, follow_redirects=False)
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "allow", "key"),
    [
        ("GET", SPEAK, "POST", "error"),
        ("DELETE", JOIN, "POST", "reason"),
        ("PUT", PHONE, "GET, POST", "error_type"),
        ("PUT", "/_mock/clock", "GET", "title"),
    ],
)
def test_wrong_method_is_405_in_the_vendor_envelope(
    client: TestClient, method: str, path: str, allow: str, key: str
) -> None:
    r = client.request(method, path)
    assert r.status_code == 405
    assert r.headers["allow"] == allow
    assert key in r.json()


# -- Agora operations not simulated yet ----------------------------------------------------------


def test_agora_validation_errors(client: TestClient) -> None:
    r = client.post(JOIN, json={"properties": {}}, headers=AGORA)
    assert (r.status_code, r.json()["reason"]) == (400, "MissingRequiredField")
    assert "name" in r.json()["detail"]
    r = client.post(JOIN, content=b"{", headers={**AGORA, "content-type": "application/json"})
    assert (r.status_code, r.json()["reason"]) == (400, "InvalidRequestBody")


def test_agora_query_parameters_are_typed(client: TestClient) -> None:
    r = client.get(
        "/api/conversational-ai-agent/v2/projects/demo-app-id/agents", params={"limit": "lots"}, headers=AGORA
    )
    assert (r.status_code, r.json()["reason"]) == (400, "InvalidFieldValue")
    assert "limit" in r.json()["detail"]


# -- no bug escapes as a bare 500 ----------------------------------------------------------------


def test_a_handler_bug_is_the_vendor_500_envelope(caplog: pytest.LogCaptureFixture) -> None:
    def broken(call: Any) -> Any:
        raise RuntimeError("boom")

    handlers = {**default_handlers(), "bithuman_speak": broken}
    app = create_app(World(), fixtures=[DEFAULT_FIXTURE], handlers=handlers)
    with TestClient(app) as c:
        r = c.post(SPEAK, json={"message": "x"}, headers=AUTH)
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "INTERNAL_ERROR"
    assert "boom" in caplog.text


def test_a_malformed_phone_number_is_invalid_phone_format(client: TestClient) -> None:
    body = {
        "provider": "byo",
        "phone_number": "555-1234",
        "label": "x",
        "outbound_config": {"address": "sip.example.com", "transport": "tls"},
    }
    r = client.post(PHONE, json=body, headers=AGORA)
    assert (r.status_code, r.json()["error_type"]) == (400, "invalid_phone_format")
    body["phone_number"] = "+15551234567"
    del body["label"]
    r = client.post(PHONE, json=body, headers=AGORA)
    assert (r.status_code, r.json()["error_type"]) == (422, "unprocessable_content")


def test_regressions_found_by_the_contract_suite(client: TestClient) -> None:
    # A negative mllm.max_history (no documented range) once crashed join with a 500.
    props = {
        "channel": "c",
        "token": "t",
        "agent_rtc_uid": "1",
        "remote_rtc_uids": ["2"],
        "mllm": {"enable": True, "max_history": -5},
    }
    r = client.post(JOIN, json={"name": "m", "properties": props}, headers=AGORA)
    assert r.status_code == 200, r.text
    # A huge page_index (no documented maximum) is echoed: beyond 64 bits orjson once refused it.
    url = f"/api/conversational-ai-agent/v2/projects/demo-app-id/agents/{r.json()['agent_id']}/turns"
    r = client.get(url, params={"page_index": str(2**70)}, headers=AGORA)
    assert r.status_code == 200 and r.json()["pagination"]["page_index"] == 2**70
