"""The validating, recording proxy: traffic through unchanged, the contract checked on the side."""

from __future__ import annotations

import base64
import socket
import time
from pathlib import Path

import httpx
import orjson
import pytest
import uvicorn
from click.testing import CliRunner
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from mockserver import MockServer
from mockserver.bridge.checks import undeclared_fields
from mockserver.bridge.har import HarWriter, read_har
from mockserver.bridge.proxy import Proxy, ProxyServer, Violation, default_upstreams
from mockserver.cli import main
from mockserver.protocol import LimitedProtocol

from .bridge_support import AGORA, JOIN, PREFIX, SECRET, agora_traffic, bithuman_traffic, record

BIG = 3 * 1024 * 1024


def _odd_upstream() -> Starlette:
    """An upstream with answers the proxy must pass through whole, or flag."""

    async def echo(request: Request) -> Response:
        body = await request.body()
        seen = {"headers": dict(request.headers), "size": len(body), "tail": body[-8:].decode()}

        async def chunks():  # type: ignore[no-untyped-def]
            yield orjson.dumps(seen) + b"\n"
            for _ in range(BIG // 65536):
                yield b"x" * 65536

        return StreamingResponse(chunks(), headers={"X-Upstream": "yes"}, media_type="application/x-ndjson")

    async def speak(request: Request) -> Response:
        body = await request.json()
        if "message" not in body:
            # Accepts what the contract refuses (no message), and says so with a key in the text.
            return JSONResponse({"agent_code": "A1", "note": "used key sk-abcdef123456"}, 200)
        return JSONResponse({"agent_code": "A1", "delivered_to_rooms": 1}, 207)

    async def broken(request: Request) -> Response:
        async def chunks():  # type: ignore[no-untyped-def]
            yield b"the start of an answer"
            raise RuntimeError("the upstream dies mid-answer")

        return StreamingResponse(chunks(), media_type="text/plain")

    return Starlette(
        routes=[
            Route("/echo", echo, methods=["POST"]),
            Route("/broken", broken),
            Route("/v1/agent/{code}/speak", speak, methods=["POST"]),
        ]
    )


@pytest.fixture(scope="module")
def upstream() -> MockServer:
    with MockServer(fixtures=["fixtures/default.yaml"]) as server:
        yield server


def test_answers_through_the_proxy_are_the_upstream_s_and_the_mock_breaks_no_rule(
    upstream: MockServer, tmp_path: Path
) -> None:
    direct = httpx.post(
        f"{upstream.url}/v1/agent/A12345678/speak", headers=SECRET, json={"message": "Hi", "room_id": "room_123"}
    )
    proxy, seen = record(upstream.url, tmp_path / "mock.har", bithuman_traffic, agora_traffic)
    assert seen == [] and list(proxy.violations) == []
    assert proxy.exchanges == 13
    entries = read_har(tmp_path / "mock.har")
    assert [e["_operation"] for e in entries[:3]] == ["bithuman_speak", "bithuman_speak", "bithuman_add_context"]
    assert entries[1]["response"]["content"]["text"] == direct.text
    assert {h["name"] for h in entries[1]["response"]["headers"]} >= {"content-type", "x-request-id", "content-length"}
    assert next(h["value"] for h in entries[6]["response"]["headers"] if h["name"] == "allow") == "POST"


def test_bodies_of_any_size_and_headers_pass_through_both_ways(tmp_path: Path) -> None:
    upload = b"y" * (BIG - 4) + b"tail"
    with MockServer(app=_odd_upstream()) as odd, HarWriter(tmp_path / "big.har", body_limit=1024) as writer:
        proxy = Proxy({"bithuman": odd.url, "agora": odd.url}, record=writer)
        with ProxyServer(proxy) as server:
            answer = httpx.post(
                f"{server.url}/echo", content=upload, headers={"X-Custom": "kept", "Content-Type": "text/plain"}
            )
    head, _, rest = answer.content.partition(b"\n")
    seen = orjson.loads(head)
    assert answer.status_code == 200 and len(rest) == BIG and answer.headers["x-upstream"] == "yes"
    assert seen["size"] == BIG and seen["tail"] == "yyyytail"
    assert seen["headers"]["x-custom"] == "kept"
    assert seen["headers"]["host"] == odd.url.removeprefix("http://")  # the upstream's own name
    # The caller's own headers, and none of the proxy's.
    assert seen["headers"]["user-agent"] == answer.request.headers["user-agent"]
    assert seen["headers"]["accept-encoding"] == answer.request.headers["accept-encoding"]
    (entry,) = read_har(tmp_path / "big.har")
    assert entry["request"]["bodySize"] == BIG and entry["response"]["bodySize"] == len(answer.content)
    assert entry["response"]["content"]["comment"] == f"truncated: the first 1024 of {len(answer.content)} bytes"
    assert len(entry["response"]["content"]["text"]) == 1024
    assert "truncated" in entry["request"]["postData"]["comment"]


def test_violations_are_flagged_as_they_happen_with_secrets_masked(tmp_path: Path) -> None:
    seen: list[str] = []
    with MockServer(app=_odd_upstream()) as odd, HarWriter(tmp_path / "odd.har") as writer:
        proxy = Proxy({"bithuman": odd.url}, record=writer, on_violation=lambda v: seen.append(v.line()))
        with ProxyServer(proxy) as server:
            httpx.post(f"{server.url}/v1/agent/A1/speak", headers=SECRET, json={"message": "Hi"})
            httpx.post(f"{server.url}/v1/agent/A1/speak", headers=SECRET, json={"text": "no message"})
    assert "answered 207, which the contract does not document" in seen[0]
    assert seen[0].startswith("VIOLATION POST /v1/agent/A1/speak -> 207 [bithuman_speak] response: ")
    assert "request: bithuman_speak: the contract refuses it (Missing required field: message)" in seen[1]
    assert all("sk-abcdef123456" not in line for line in seen)
    assert [len(e["_violations"]) for e in read_har(tmp_path / "odd.har")] == [1, 1]


def test_the_checks_follow_each_answer_without_a_reader() -> None:
    # The checks run a moment after the answer (the client first); the proxy's own timer runs them
    # when nobody reads the control plane, which would run them at once.
    seen: list[Violation] = []
    with MockServer(app=_odd_upstream()) as odd:
        proxy = Proxy({"bithuman": odd.url}, on_violation=seen.append)
        with ProxyServer(proxy) as server:
            answer = httpx.post(f"{server.url}/v1/agent/A1/speak", headers=SECRET, json={"message": "Hi"})
            for _ in range(500):  # at most 5 s
                if seen:
                    break
                time.sleep(0.01)
            assert answer.status_code == 207 and proxy.exchanges == 1
            assert [v["status"] for v in seen] == [207]


def _secret_in_query(client: httpx.Client) -> None:
    client.get(f"{PREFIX}/agents", auth=AGORA, params={"access_token": "q-secret-123456", "limit": "5"})


def test_nothing_secret_reaches_the_recording(upstream: MockServer, tmp_path: Path) -> None:
    har = tmp_path / "secrets.har"
    record(upstream.url, har, bithuman_traffic, agora_traffic, _secret_in_query)
    text = har.read_text()
    basic = base64.b64encode(":".join(AGORA).encode()).decode()
    secrets = ("YOUR_API_SECRET", AGORA[1], basic, "sk-live-abcdefgh12345", JOIN["properties"]["token"])
    for secret in (*secrets, "q-secret-123456"):
        assert secret not in text
    entries = read_har(har)
    assert entries[-1]["request"]["queryString"] == [
        {"name": "access_token", "value": "[redacted]"},
        {"name": "limit", "value": "5"},
    ]
    # The same credential has the same label, another credential another label.
    labels = [e.get("_credential", {}).get("label") for e in entries]
    assert labels[0] == labels[1] and labels[0] != labels[7] and labels[5] is None


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_or_slow_upstream_answers_502_or_504_in_the_vendor_s_envelope(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{_closed_port()}"
    with ProxyServer(Proxy({"bithuman": dead, "agora": dead})) as server:
        bithuman = httpx.post(f"{server.url}/v1/agent/A1/speak", headers=SECRET, json={"message": "Hi"})
        agora = httpx.get(f"{server.url}{PREFIX}/agents", auth=AGORA)
        journal = httpx.get(f"{server.url}/_mock/journal").json()["entries"]
    assert bithuman.status_code == 502 and bithuman.json()["error"]["httpStatus"] == 502
    assert agora.status_code == 502 and agora.json()["reason"] == "ServiceUnavailable"
    assert [e["status"] for e in journal] == [502, 502]

    # An upstream that takes connections (the kernel does, from the backlog) and never answers.
    with socket.socket() as silent, HarWriter(tmp_path / "slow.har") as writer:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        mute = f"http://127.0.0.1:{silent.getsockname()[1]}"
        proxy = Proxy({"bithuman": mute, "agora": mute}, record=writer, timeout=0.3)
        with ProxyServer(proxy) as server:
            timeout = httpx.get(f"{server.url}{PREFIX}/agents", auth=AGORA)
            telephony = httpx.get(f"{server.url}/api/conversational-ai-agent/v2/phone-numbers", auth=AGORA)
    assert timeout.status_code == 504 and timeout.json()["reason"] == "TaskOperationTimeout"
    assert telephony.status_code == 504 and telephony.json()["error_type"] == "gateway_timeout"
    assert [e["response"]["status"] for e in read_har(tmp_path / "slow.har")] == [504, 504]


def test_an_answer_the_upstream_breaks_off_is_cut_for_the_client_too() -> None:
    with MockServer(app=_odd_upstream()) as odd, ProxyServer(Proxy({"bithuman": odd.url})) as server:
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(f"{server.url}/broken")
        (entry,) = httpx.get(f"{server.url}/_mock/journal").json()["entries"]
    assert entry["status"] == 200 and entry["error"]


def test_the_control_plane_shows_what_went_through(upstream: MockServer) -> None:
    proxy = Proxy({"bithuman": upstream.url, "agora": upstream.url})
    with ProxyServer(proxy) as server, httpx.Client(base_url=server.url) as client:
        bithuman_traffic(client)
        journal = client.get("/_mock/journal").json()["entries"]
        inbox = client.get("/_mock/inbox", params={"agent": "A12345678"}).json()["events"]
        dashboard = client.get("/_mock/")
    assert [e["status"] for e in journal] == [200, 200, 200, 404, 404, 401, 405]
    assert journal[0]["operation"] == "bithuman_speak" and journal[0]["request_headers"]["api-secret"] == "[redacted]"
    assert journal[0]["tenant"] == journal[1]["tenant"] is not None
    assert {(e["kind"], e["room"]) for e in inbox} >= {("speech", "room_123"), ("context", "room_1")}
    assert all(e["outcome"] == "proxied" for e in inbox)
    assert dashboard.status_code == 200 and "text/html" in dashboard.headers["content-type"]


def test_undeclared_fields_are_found_where_the_schema_lists_its_fields() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "array", "items": {"$ref": "#/components/schemas/B"}}}}
    components = {"B": {"type": "object", "properties": {"b": {}}}, "Open": {"additionalProperties": True}}
    value = {"a": [{"b": 1, "c": 2}], "d": 3}
    assert undeclared_fields(schema, value, components) == ["a[0].c", "d"]
    assert undeclared_fields({**schema, "additionalProperties": True}, value, components) == ["a[0].c"]


def test_the_default_upstreams_are_the_vendors_production_hosts() -> None:
    assert default_upstreams() == {"bithuman": "https://api.bithuman.ai", "agora": "https://api.agora.io"}


def test_the_proxy_command_serves_the_proxy_with_its_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[uvicorn.Server] = []

    async def serve(self: uvicorn.Server, sockets: list[socket.socket] | None = None) -> None:
        served.append(self)  # instead of serving: the app and its options are what count

    monkeypatch.setattr(uvicorn.Server, "serve", serve)
    har = tmp_path / "cli.har"
    args = ["proxy", "--port", "0", "--agora-upstream", "http://agora.test/", "--record", str(har)]
    args += ["--allow-host", "proxy.internal", "--max-connections", "50", "--body-timeout", "90"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "bitHuman -> https://api.bithuman.ai" in result.output and "Agora    -> http://agora.test" in result.output
    assert "proxy stopped: 0 exchanges, 0 contract violations" in result.output
    (server,) = served
    proxy = server.config.app
    assert isinstance(proxy, Proxy)
    assert proxy.upstreams == {"bithuman": "https://api.bithuman.ai", "agora": "http://agora.test"}
    assert read_har(har) == []  # the recording was closed: a valid, empty HAR
    # Served as `serve` serves the mock (server.serving): its protocol, limits and Host rule...
    protocol = server.config.http
    assert isinstance(protocol, type) and issubclass(protocol, LimitedProtocol)
    assert protocol.limits.max_connections == 50 and protocol.limits.body_timeout == 90
    assert "proxy.internal" in proxy.state.guard.allowed_hosts
    # ... as a relay: the upstream's Server and Date headers pass, the lifespan closes the upstreams.
    assert not server.config.server_header and not server.config.date_header and server.config.lifespan == "on"


def test_an_upstream_that_is_no_http_url_is_refused_at_start() -> None:
    result = CliRunner().invoke(main, ["proxy", "--port", "0", "--bithuman-upstream", "api.bithuman.ai"])
    assert result.exit_code == 1 and "an upstream is an http:// or https:// URL" in result.output


def test_forwarded_requests_pass_the_guard_first(tmp_path: Path) -> None:
    with MockServer(app=_odd_upstream()) as odd, HarWriter(tmp_path / "guard.har") as writer:
        server = ProxyServer(Proxy({"bithuman": odd.url, "agora": odd.url}, record=writer)).start()
        too_long = httpx.post(f"{server.url}/v1/agent/A1/speak?{'q' * 9000}", headers=SECRET, json={})
        elsewhere = httpx.post(f"{server.url}/v1/agent/A1/speak", headers={**SECRET, "Host": "evil.test"})
        fine = httpx.post(f"{server.url}/v1/agent/A1/speak", headers=SECRET, json={"message": "Hi"})
        server.stop()
    assert too_long.status_code == 414 and too_long.json()["error"]["httpStatus"] == 414
    assert elsewhere.status_code == 421 and "evil.test" in elsewhere.json()["error"]["message"]
    assert fine.status_code == 207
    # Refused before anything was sent upstream, like the mock's own refusals: only the third went.
    assert [e["response"]["status"] for e in read_har(tmp_path / "guard.har")] == [207]
