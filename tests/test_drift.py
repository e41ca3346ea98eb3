"""The drift report: a recording replayed against the mock arranged from it, answer by answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml
from click.testing import CliRunner
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mockserver import MockServer
from mockserver.bridge.drift import replay
from mockserver.bridge.fixture_from import fixture_from_entries
from mockserver.bridge.har import read_har
from mockserver.cli import main
from mockserver.fixtures import check_document

from .bridge_support import SECRET, agora_traffic, bithuman_traffic, record

ROOMS = ["customer_session_1", "room_123"]


def _drifting_app() -> Starlette:
    """bitHuman as the mock answers it, but for four planted differences (and one faithful answer)."""

    async def speak(request: Request) -> Response:
        if request.method == "GET":
            # Planted: a 405 without the Allow header.
            return JSONResponse(
                {
                    "error": {"code": "METHOD_NOT_ALLOWED", "message": "no", "httpStatus": 405},
                    "status": "error",
                    "status_code": 405,
                },
                405,
            )
        if request.headers.get("api-secret") is None:
            # Planted: another dialect (the legacy envelope where the mock speaks the current one).
            return JSONResponse({"success": False, "error": "UNAUTHORIZED", "message": "Invalid api-secret"}, 401)
        body = await request.json()
        rooms = [body["room_id"]] if "room_id" in body else ROOMS
        answer: dict[str, Any] = {"agent_code": request.path_params["code"], "context_type": "speak"}
        if body.get("room_id") == "room_456":
            answer["delivered_to_rooms"] = "1"  # planted: a body that breaks its schema
        elif "room_id" in body:
            answer["delivered_to_rooms"] = len(rooms)  # faithful
        else:
            answer["delivered_rooms"] = len(rooms)  # planted: a renamed field
        answer |= {"rooms": rooms, "rooms_skipped": [], "rooms_failed": []}
        return JSONResponse(answer)

    async def add_context(request: Request) -> Response:
        answer = {"agent_code": request.path_params["code"], "context_type": "speak", "delivered_to_rooms": 2}
        answer |= {"rooms": ROOMS, "rooms_skipped": [], "rooms_failed": []}
        return JSONResponse(answer, 202)  # planted: an undocumented status

    return Starlette(
        routes=[
            Route("/v1/agent/{code}/speak", speak, methods=["GET", "POST"]),
            Route("/v1/agent/{code}/add-context", add_context, methods=["POST"]),
        ]
    )


def _drifting_traffic(client: httpx.Client) -> None:
    client.post("/v1/agent/A1/speak", headers=SECRET, json={"message": "Hello"})  # renamed field
    client.post("/v1/agent/A1/speak", headers=SECRET, json={"message": "Hi", "room_id": "room_123"})  # faithful
    client.post("/v1/agent/A1/add-context", headers=SECRET, json={"context": "VIP"})  # 202
    client.post("/v1/agent/A1/speak", json={"message": "no secret"})  # legacy 401
    client.get("/v1/agent/A1/speak")  # 405 without Allow
    client.post("/v1/agent/A1/speak", headers=SECRET, json={"message": "Hi", "room_id": "room_456"})  # a string


@pytest.fixture(scope="module")
def identical(tmp_path_factory: pytest.TempPathFactory) -> Path:
    har = tmp_path_factory.mktemp("identical") / "identical.har"
    with MockServer(fixtures=["fixtures/default.yaml"]) as upstream:
        record(upstream.url, har, bithuman_traffic, agora_traffic)
    return har


@pytest.fixture(scope="module")
def drifting(tmp_path_factory: pytest.TempPathFactory) -> Path:
    har = tmp_path_factory.mktemp("drifting") / "drifting.har"
    with MockServer(app=_drifting_app()) as upstream:
        record(upstream.url, har, _drifting_traffic)
    return har


def test_an_upstream_identical_to_the_mock_gives_an_empty_report(identical: Path, tmp_path: Path) -> None:
    report = replay(read_har(identical))
    assert len(report.entries) == 13
    assert [e.to_dict() for e in report.entries if e.drift] == []
    junit = tmp_path / "drift.xml"
    result = CliRunner().invoke(main, ["drift", str(identical), "--junit", str(junit)])
    assert result.exit_code == 0, result.output
    assert "13 exchanges replayed against the mock, in process, 0 differ" in result.output
    assert 'tests="13" failures="0"' in junit.read_text()


def test_the_fixture_of_a_recording_is_valid_and_holds_what_the_answers_imply(identical: Path) -> None:
    result = CliRunner().invoke(main, ["fixture-from", str(identical)])
    assert result.exit_code == 0, result.output
    document = check_document(yaml.safe_load(result.output))
    (account,) = document["bithuman"]["accounts"]
    agents = {a["code"]: a["rooms"] for a in account["agents"]}
    # A00000000 was "not found" and is absent; A91XMB7113 exists with no active room.
    assert set(agents) == {"A12345678", "A91XMB7113"} and agents["A91XMB7113"] == []
    assert "room_123" in agents["A12345678"] and len(agents["A12345678"]) == 10
    assert account["dialect"] == "current" and account["secrets"][0].startswith("replay-secret-")
    (customer,) = document["agora"]["customers"]
    assert [p["appid"] for p in customer["projects"]] == ["demo-app-id"]
    assert [n["phone_number"] for n in customer["phone_numbers"]] == ["+15550100001"]


def test_the_report_names_each_planted_difference_and_nothing_else(drifting: Path, tmp_path: Path) -> None:
    report = replay(read_har(drifting))
    found = {e.index: sorted(f"{f.kind}: {f.detail}" for f in e.findings) for e in report.entries}
    assert found[2] == []  # the faithful answer
    assert "field: delivered_rooms: only in the real answer (number)" in found[1]
    assert "field: delivered_to_rooms: only in the mock's answer (number)" in found[1]
    assert [f for f in found[1] if not f.startswith("contract: ")] == [
        "field: delivered_rooms: only in the real answer (number)",
        "field: delivered_to_rooms: only in the mock's answer (number)",
    ]
    assert [f for f in found[3] if not f.startswith("contract: ")] == ["status: real 202, mock 200"]
    assert any("does not document" in f for f in found[3])
    assert found[4] == [
        "error_code: real 'UNAUTHORIZED', mock 'MISSING_AUTH'",
        "field: error.code: only in the mock's answer (string)",
        "field: error.httpStatus: only in the mock's answer (number)",
        "field: error.message: only in the mock's answer (string)",
        "field: error: real string, mock object",
        "field: message: only in the real answer (string)",
        "field: status: only in the mock's answer (string)",
        "field: status_code: only in the mock's answer (number)",
        "field: success: only in the real answer (boolean)",
    ]
    assert found[5] == ["header: allow: only in the mock's answer"]
    assert [f for f in found[6] if not f.startswith("contract: ")] == [
        "field: delivered_to_rooms: real string, mock number"
    ]
    assert any("the body does not match the contract" in f for f in found[6])
    # The proxy's findings are part of the report: exactly the two answers that break the contract.
    assert {e.index for e in report.entries if any(f.kind == "contract" for f in e.findings)} == {3, 6}
    # Every output says the same, and the exit status says there is drift.
    paths = {kind: tmp_path / f"drift.{kind}" for kind in ("md", "json", "xml")}
    args = ["drift", str(drifting), "--markdown", str(paths["md"]), "--json", str(paths["json"])]
    result = CliRunner().invoke(main, [*args, "--junit", str(paths["xml"])])
    assert result.exit_code == 1
    assert "6 exchanges replayed against the mock, in process, 5 differ" in result.output
    assert "allow: only in the mock's answer" in paths["md"].read_text()
    assert json.loads(paths["json"].read_text())["drifted"] == 5
    assert 'tests="6" failures="5"' in paths["xml"].read_text()


def test_drift_replays_against_a_served_mock(identical: Path) -> None:
    with MockServer(fixtures=["fixtures/default.yaml"]) as served:
        report = replay(read_har(identical), against=served.url)
        assert not report.drift, report.text()
        assert served.world.inbox.query(agent="A12345678")  # the replay reached the served mock


LIMITED = """
clock: {freeze_at: "2026-01-05T10:00:00Z"}
bithuman:
  accounts:
    - id: metered
      secrets: [metered-secret]
      rate_limit: 2
      agents:
        - code: A12345678
          rooms: [room_1]
"""


def test_rate_limits_are_read_from_the_recording_and_their_headers_compared(tmp_path: Path) -> None:
    fixture = tmp_path / "limited.yaml"
    fixture.write_text(LIMITED)

    def three(client: httpx.Client) -> None:
        for _ in range(3):
            client.post("/v1/agent/A12345678/speak", headers={"api-secret": "metered-secret"}, json={"message": "Hi"})

    with MockServer(fixtures=[str(fixture)]) as upstream:
        record(upstream.url, tmp_path / "limited.har", three)
    entries = read_har(tmp_path / "limited.har")
    assert [e["response"]["status"] for e in entries] == [200, 200, 429]
    assert fixture_from_entries(entries)["bithuman"]["accounts"][0]["rate_limit"] == 2
    report = replay(entries)
    assert not report.drift, report.text()
    # Without the headers of a 429, the report says so.
    last = entries[2]["response"]
    last["headers"] = [h for h in last["headers"] if h["name"].lower() != "retry-after"]
    (finding,) = [f.detail for _, f in replay(entries).findings()]
    assert finding == "retry-after: only in the mock's answer"


def test_a_file_that_is_not_a_recording_is_refused_plainly(tmp_path: Path) -> None:
    bad = tmp_path / "bad.har"
    bad.write_text('{"not": "a har"}')
    for command in ("drift", "fixture-from"):
        result = CliRunner().invoke(main, [command, str(bad)])
        assert result.exit_code == 1 and "not a HAR file" in result.output


def _entry(method: str, path: str, status: int, answer: Any = None, sent: Any = None, **credential: str) -> Any:
    entry: dict[str, Any] = {
        "startedDateTime": "2026-01-05T10:00:00.000+00:00",
        "request": {"method": method, "url": f"https://api.agora.io{path}", "headers": []},
        "response": {"status": status, "headers": [], "content": {"text": orjson.dumps(answer).decode()}},
    }
    if sent is not None:
        entry["request"]["postData"] = {"mimeType": "application/json", "text": orjson.dumps(sent).decode()}
    if credential:
        entry["_credential"] = {"header": "authorization", **credential}
    return entry


def test_agora_tenants_tokens_and_numbers_are_read_from_the_answers() -> None:
    numbers = "/api/conversational-ai-agent/v2/phone-numbers"
    calls = "/api/conversational-ai-agent/v2/projects/tok-app/call"
    listed = {"phone_number": "+15550100002", "provider": "twilio", "label": "Sales", "inbound": False}
    entries = [
        _entry("GET", f"{numbers}/%2B15550100002", 200, listed, scheme="basic", label="aaa"),
        _entry(
            "POST",
            numbers,
            409,
            {"error_type": "phone_number_exists"},
            {**listed, "phone_number": "+15550100003"},
            scheme="basic",
            label="aaa",
        ),
        _entry("POST", numbers, 201, {}, {**listed, "phone_number": "+15550100004"}, scheme="basic", label="aaa"),
        _entry(
            "GET",
            f"{numbers}/%2B15550100004",
            200,
            {**listed, "phone_number": "+15550100004"},
            scheme="basic",
            label="aaa",
        ),
        _entry(
            "POST", calls, 200, {"agent_id": "x"}, {"sip": {"from_number": "+15550100005"}}, scheme="token", label="ttt"
        ),
        _entry(
            "GET", "/api/conversational-ai-agent/v2/projects/other-app/agents", 403, {}, scheme="basic", label="bbb"
        ),
    ]
    document = check_document(fixture_from_entries(entries))
    customers = document["agora"]["customers"]
    # An answer of 401 or 403 proves no project of that credential: "bbb" arranges nothing.
    assert [c["id"] for c in customers] == ["replay-customer-aaa", "replay-customer-ttt"]
    assert customers[1]["projects"] == [{"appid": "tok-app", "tokens": ["replay-token-ttt"]}]
    # Numbers the answers show before the recording imports them; not the one it imports itself.
    assert [n["phone_number"] for n in customers[0]["phone_numbers"]] == [
        "+15550100002",
        "+15550100003",
        "+15550100005",
    ]
    assert customers[0]["phone_numbers"][0] == listed
