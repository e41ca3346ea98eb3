"""Hostile requests against authentication, secrets and the request journal.

Each test replays an attack on the mock (a zlib bomb in a token, raw non-ASCII credentials, a
forged token, a body still uploading while its account goes away, a journal stuffed with huge or
deep requests, secrets sent every way) and checks the whole class is closed, not only the example.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import struct
import time
import zlib
from typing import Any

import orjson
import pytest
from agora_agent.agentkit.token import generate_convo_ai_token
from starlette.testclient import TestClient

from mockserver import World, create_app
from mockserver.world.agora import TOKEN_MAX_BYTES, TOKEN_MAX_CHARS, parse_access_token

from .conftest import DEFAULT_FIXTURE, DOCS_SECRET

AGORA = "/api/conversational-ai-agent/v2/projects/demo-app-id"
VICTIM = "0f" * 16  # a 32-character App ID, as the SDK's token builder wants
DEMO_CERT = "00112233445566778899aabbccddeeff"  # fixtures/default.yaml
BASIC = "Basic " + base64.b64encode(b"demo-customer-id:demo-customer-secret").decode()
PROPS = {
    "channel": "support",
    "token": "rtc-token",
    "agent_rtc_uid": "1001",
    "remote_rtc_uids": ["1002"],
    "llm": {"url": "https://llm.example/v1/chat/completions"},
    "tts": {"vendor": "microsoft", "params": {"key": "k", "region": "eastus", "voice_name": "en-US-A"}},
}


def agora_token(info: bytes, signature: bytes = b"\0" * 32) -> str:
    """An AccessToken2 around ``info`` (the signed part), with any signature."""
    raw = struct.pack("<H", len(signature)) + signature + info
    return "007" + base64.b64encode(zlib.compress(raw)).decode()


def signed_token(app_id: str, certificate: str, channel: str = "support") -> str:
    """A token signed as AccessToken2 signs (the SDK's builder takes only 32-character App IDs)."""
    issue, salt = int(time.time()), 1
    info = token_info(app_id, issue=issue, channel=channel)
    key = hmac.new(struct.pack("<I", issue), certificate.encode(), hashlib.sha256).digest()
    key = hmac.new(struct.pack("<I", salt), key, hashlib.sha256).digest()
    return agora_token(info, hmac.new(key, info, hashlib.sha256).digest())


def token_info(app_id: str, *, issue: int = 1705314600, expire: int = 3600, channel: str = "support") -> bytes:
    app = app_id.encode()
    rtc = struct.pack("<HH", 1, 1) + struct.pack("<HI", 1, 0)  # RTC, one privilege (join)
    rtc += struct.pack("<H", len(channel)) + channel.encode() + struct.pack("<H", 4) + b"1001"
    return struct.pack("<H", len(app)) + app + struct.pack("<IIIH", issue, expire, 1, 1) + rtc


def token_header(token: str) -> dict[str, str]:
    return {"authorization": f"agora token={token}"}


# -- 1. the AccessToken2 zlib bomb ----------------------------------------------------------------


def test_a_token_that_inflates_past_a_real_tokens_size_is_401(client: TestClient) -> None:
    bomb = "007" + base64.b64encode(zlib.compress(b"\0" * (64 * 1024 * 1024), 9)).decode()
    assert len(bomb) > TOKEN_MAX_CHARS  # 64 MiB of zeros in ~87 KB of text: refused before decoding
    r = client.get(f"{AGORA}/agents", headers=token_header(bomb))
    assert r.status_code == 401 and r.json()["reason"] == "InvalidPermission" and "longer than" in r.json()["detail"]
    small_bomb = "007" + base64.b64encode(zlib.compress(b"\0" * (TOKEN_MAX_BYTES * 100), 9)).decode()
    assert len(small_bomb) < TOKEN_MAX_CHARS  # short enough to be decoded: the inflate bound refuses it
    r = client.get(f"{AGORA}/agents", headers=token_header(small_bomb))
    assert r.status_code == 401 and "inflates to more than" in r.json()["detail"]


def test_parse_access_token_bounds_every_length() -> None:
    with pytest.raises(ValueError, match="inflates to more than"):
        parse_access_token("007" + base64.b64encode(zlib.compress(b"\0" * (TOKEN_MAX_BYTES + 1))).decode())
    with pytest.raises(ValueError, match="longer than"):
        parse_access_token("007" + "A" * TOKEN_MAX_CHARS)
    truncated = base64.b64encode(zlib.compress(b"\x20\x00" + b"s" * 32 + token_info("demo-app-id"))[:-6]).decode()
    with pytest.raises(ValueError, match="truncated"):
        parse_access_token("007" + truncated)
    # Length fields that point past the data, a signature of the wrong size, too many services.
    with pytest.raises(ValueError, match="past the end"):
        parse_access_token(agora_token(struct.pack("<H", 60000) + b"demo-app-id"))
    with pytest.raises(ValueError, match="signature"):
        parse_access_token(agora_token(token_info("demo-app-id"), signature=b"\0" * 4))
    many = token_info("demo-app-id")[: 2 + 11 + 12] + struct.pack("<H", 60000)
    with pytest.raises(ValueError, match="services"):
        parse_access_token(agora_token(many))
    past_privileges = token_info("demo-app-id")[: 2 + 11 + 14] + struct.pack("<HH", 1, 60000)
    with pytest.raises(ValueError, match="past the end"):
        parse_access_token(agora_token(past_privileges))
    # A real token still parses.
    assert parse_access_token(generate_convo_ai_token(VICTIM, DEMO_CERT, "support", 1001))["channel"] == "support"


# -- 2. non-ASCII credentials -----------------------------------------------------------------------

NON_ASCII = [b"\xc3\xa9", b"\xff\xfe", "é".encode("latin-1"), b"caf\xc3\xa9:x"]


@pytest.mark.parametrize("raw", NON_ASCII)
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"{AGORA}/agents", None),
        ("POST", f"{AGORA}/join", {"name": "x", "properties": PROPS}),
        ("GET", f"{AGORA}/calls/abc", None),
        ("GET", "/api/conversational-ai-agent/v2/phone-numbers", None),
        ("GET", "/api/conversational-ai-agent/v2/phone-numbers/%2B15550100001", None),
    ],
)
def test_non_ascii_agora_credentials_are_the_vendors_401(
    client: TestClient, raw: bytes, method: str, path: str, body: Any
) -> None:
    for value in (b"Basic " + raw, b"agora token=" + raw, b"agora token=007" + raw, raw):
        r = client.request(method, path, headers={"authorization": value}, json=body)
        assert r.status_code == 401, (value, r.text)
        error = r.json()
        assert "detail" in error or "description" in error, error


@pytest.mark.parametrize("raw", NON_ASCII)
def test_non_ascii_api_secret_is_bithumans_401(client: TestClient, raw: bytes) -> None:
    r = client.post("/v1/agent/A12345678/speak", headers={"api-secret": raw}, json={"message": "hi"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHORIZED"


# -- 3. forged AccessToken2 -------------------------------------------------------------------------


def test_every_project_has_a_certificate_so_a_forged_token_is_refused(client: TestClient, world: World) -> None:
    created = client.post(
        "/_mock/agora/customers", json={"id": "victim", "secret": "s3", "projects": [{"appid": VICTIM}]}
    ).json()
    certificate = created["projects"][0]["app_certificate"]
    assert len(certificate) == 32 and created["projects"][0]["accept_unsigned_tokens"] is False
    assert client.get(f"/_mock/agora/projects/{VICTIM}").json()["app_certificate"] == certificate
    forged = agora_token(token_info(VICTIM))  # an all-zero signature: the App ID alone
    base = f"/api/conversational-ai-agent/v2/projects/{VICTIM}"
    r = client.get(f"{base}/agents", headers=token_header(forged))
    assert r.status_code == 401 and "signature" in r.json()["detail"]
    signed = generate_convo_ai_token(VICTIM, certificate, "support", 1001)
    assert client.get(f"{base}/agents", headers=token_header(signed)).status_code == 200
    # The same forgery on a project created directly in the world, and on the default one.
    other = VICTIM[:-1] + "0"
    world.agora.create_project("victim", appid=other)
    forged = agora_token(token_info(other))
    r = client.get(f"/api/conversational-ai-agent/v2/projects/{other}/agents", headers=token_header(forged))
    assert r.status_code == 401
    r = client.get(f"{AGORA}/agents", headers=token_header(agora_token(token_info("demo-app-id"))))
    assert r.status_code == 401 and "signature" in r.json()["detail"]


def test_default_project_certificate_and_fixed_token_work(client: TestClient) -> None:
    assert client.get("/_mock/agora/projects/demo-app-id").json()["app_certificate"] == DEMO_CERT
    token = signed_token("demo-app-id", DEMO_CERT)
    assert client.get(f"{AGORA}/agents", headers=token_header(token)).status_code == 200
    assert client.get(f"{AGORA}/agents", headers=token_header("demo-token")).status_code == 200


def test_accepting_unsigned_tokens_is_an_explicit_opt_in(client: TestClient) -> None:
    client.post("/_mock/agora/customers", json={"id": "lab", "secret": "s", "projects": [{"appid": "lab-app"}]})
    base = "/api/conversational-ai-agent/v2/projects/lab-app"
    forged = agora_token(token_info("lab-app"))
    assert client.get(f"{base}/agents", headers=token_header(forged)).status_code == 401
    r = client.patch("/_mock/agora/projects/lab-app", json={"accept_unsigned_tokens": True})
    assert r.status_code == 200 and r.json()["accept_unsigned_tokens"] is True
    assert client.get(f"{base}/agents", headers=token_header(forged)).status_code == 200
    expired = agora_token(token_info("lab-app", issue=1, expire=60))  # expiry is still checked
    assert client.get(f"{base}/agents", headers=token_header(expired)).status_code == 401
    r = client.post("/_mock/agora/customers/lab/projects", json={"appid": "lab-app-2", "accept_unsigned_tokens": True})
    assert r.status_code == 201 and r.json()["accept_unsigned_tokens"] is True


def test_generated_certificates_follow_the_seed() -> None:
    def certificate(seed: int) -> tuple[str, str]:
        world = World(seed=seed)
        world.agora.create_customer("c", "s", [{"appid": "a"}])
        return world.agora.get_project("a").app_certificate, world.ids.agent_code()

    assert certificate(7) == certificate(7)
    assert certificate(7)[0] != certificate(8)[0]
    # Keys come from their own stream: the other seeded ids are those of a world without them.
    plain = World(seed=7)
    plain.agora.create_customer("c", "s")
    assert certificate(7)[1] == plain.ids.agent_code()


def test_fixture_opt_in_field() -> None:
    world = World(seed=1)
    world.load(
        {
            "agora": {
                "customers": [{"id": "c", "secret": "s", "projects": [{"appid": "a", "accept_unsigned_tokens": True}]}]
            }
        }
    )
    with TestClient(create_app(world)) as c:
        forged = agora_token(token_info("a", issue=int(world.clock.now())))
        r = c.get("/api/conversational-ai-agent/v2/projects/a/agents", headers=token_header(forged))
        assert r.status_code == 200


def test_docs_secret_still_works(client: TestClient) -> None:
    r = client.post("/v1/agent/A12345678/speak", headers={"api-secret": DOCS_SECRET}, json={"message": "hi"})
    assert r.status_code == 200


# -- 4. authenticate when the handler runs ----------------------------------------------------------


async def asgi_call(
    app: Any,
    method: str,
    path: str,
    headers: dict[str, str],
    chunks: list[bytes] | None = None,
    between: Any = None,
) -> tuple[int, bytes]:
    """Drive the ASGI app with a body in ``chunks``; ``between()`` runs after the first chunk is sent."""
    pending = list(chunks or [b""])
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if len(pending) < len(chunks or [b""]) and between is not None:
            await between()  # the upload is under way: the world changes before the next chunk
        chunk = pending.pop(0) if pending else b""
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def fresh_app() -> tuple[Any, World]:
    world = World(seed=3)
    return create_app(world, fixtures=[DEFAULT_FIXTURE]), world


SPEAK = [b'{"message": "We have a 20% ', b'discount today."}']


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ("DELETE", "/_mock/bithuman/accounts/demo"),
        ("PATCH", "/_mock/bithuman/accounts/demo"),  # the secret rotated
    ],
)
def test_bithuman_request_uploading_while_its_account_changes_is_401(change: str, path: str) -> None:
    asyncio.run(bithuman_account_changes(change, path))


async def bithuman_account_changes(change: str, path: str) -> None:
    app, world = fresh_app()

    async def control_plane() -> None:
        body = b'{"secrets": ["rotated-secret"]}' if change == "PATCH" else b""
        status, _ = await asgi_call(app, change, path, {"content-type": "application/json"}, [body])
        assert status in (200, 204)

    headers = {"api-secret": DOCS_SECRET, "content-type": "application/json"}
    status, body = await asgi_call(app, "POST", "/v1/agent/A12345678/speak", headers, SPEAK, control_plane)
    assert status == 401 and orjson.loads(body)["error"]["code"] == "UNAUTHORIZED"
    assert world.inbox.query(agent="A12345678") == []  # nothing was delivered
    # Without the change in between, the same request is delivered.
    status, _ = await asgi_call(fresh_app()[0], "POST", "/v1/agent/A12345678/speak", headers, SPEAK)
    assert status == 200


def test_agora_request_uploading_while_its_customer_is_deleted_is_401() -> None:
    asyncio.run(agora_customer_deleted())


async def agora_customer_deleted() -> None:
    app, world = fresh_app()

    async def delete_customer() -> None:
        status, _ = await asgi_call(app, "DELETE", "/_mock/agora/customers/demo-customer-id", {}, [b""])
        assert status == 204

    body = orjson.dumps({"name": "late", "properties": PROPS})
    headers = {"authorization": BASIC, "content-type": "application/json"}
    status, answer = await asgi_call(app, "POST", f"{AGORA}/join", headers, [body[:20], body[20:]], delete_customer)
    assert status == 401 and orjson.loads(answer)["reason"] == "InvalidPermission"
    assert "demo-customer-id" not in world.agora.customers


# -- 5. the journal is bounded, and reading it never fails ------------------------------------------

SPEAK_PATH = "/v1/agent/A12345678/speak"
OK_SECRET = {"api-secret": DOCS_SECRET}


def test_a_huge_header_on_a_refused_request_costs_the_journal_a_few_kib(client: TestClient, world: World) -> None:
    headers = {"api-secret": "wrong", "x-junk": "a" * (1024 * 1024), **{f"x-h{i}": "v" for i in range(200)}}
    assert client.post(SPEAK_PATH, headers=headers, json={"message": "hi"}).status_code == 401
    entry = world.journal.query()[-1]
    assert entry.size < 32 * 1024
    shown = client.get("/_mock/journal").json()["entries"][-1]["request_headers"]
    assert len(shown["x-junk"]) < 400 and shown["x-junk"].endswith("more characters)")
    assert shown["..."].endswith("more headers")


def test_a_large_body_is_kept_cut_with_its_size(client: TestClient, world: World) -> None:
    body = b"[" + b",".join([b"{}"] * 340_000) + b"]"  # ~1 MiB of empty objects: 400, not an object
    r = client.post(SPEAK_PATH, headers={**OK_SECRET, "content-type": "application/json"}, content=body)
    assert r.status_code == 400
    entry = world.journal.query()[-1]
    assert entry.size < 8 * 1024 and entry.request_size == len(body)
    shown = client.get("/_mock/journal").json()["entries"][-1]
    assert shown["request_body_bytes"] == len(body)
    assert isinstance(shown["request_body"], str) and shown["request_body"].endswith(f"({len(body)} bytes in all)")


def test_the_journal_is_bounded_by_bytes_as_well_as_by_count() -> None:
    world = World(seed=1, journal_limit=1000, journal_bytes=64 * 1024)
    with TestClient(create_app(world, fixtures=[DEFAULT_FIXTURE])) as c:
        for _ in range(100):  # an unknown agent: 404 once the 100 KB body is read
            r = c.post("/v1/agent/A00000000/speak", headers=OK_SECRET, json={"message": "x" * 100_000})
            assert r.status_code == 404
        journal = c.get("/_mock/journal").json()
    assert world.journal.bytes <= 64 * 1024 and journal["total"] == 100
    assert 0 < journal["count"] < 100 and journal["entries"][-1]["id"] == 100  # the oldest went first


@pytest.mark.parametrize("depth", [900, 2000])
def test_a_deep_body_never_breaks_reading_the_journal(client: TestClient, depth: int) -> None:
    deep = '{"message": "hi", "extra": ' + "[" * depth + "]" * depth + "}"
    r = client.post(SPEAK_PATH, headers={**OK_SECRET, "content-type": "application/json"}, content=deep)
    assert r.status_code in (200, 400)  # 900 deep is a valid speak; 2,000 deep is refused
    for _ in range(3):
        journal = client.get("/_mock/journal")
        assert journal.status_code == 200
        assert journal.json()["entries"][-1]["request_body"].startswith('{"message": "hi"')
    assert client.get("/_mock/journal/count").status_code == 200


def test_a_shallow_json_body_is_still_shown_parsed(client: TestClient) -> None:
    client.post(SPEAK_PATH, headers=OK_SECRET, json={"message": "hi", "meta": {"a": [1, {"b": 2}]}})
    shown = client.get("/_mock/journal").json()["entries"][-1]
    assert shown["request_body"] == {"message": "hi", "meta": {"a": [1, {"b": 2}]}}
    assert shown["response_body"]["delivered_to_rooms"] == 10


# -- 6. redaction by rule ---------------------------------------------------------------------------

# (what is sent, what must never be shown, whether its shape alone gives it away)
SECRETS = [
    ("sk-live-4f9a8b7c6d5e4f3a2b1c0d9e", "4f9a8b7c6d5e4f3a2b1c0d9e", True),
    (
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJlLXNlY3JldA",
        "c2lnbmF0dXJlLXNlY3JldA",
        True,
    ),
    ("Basic ZGVtby1jdXN0b21lci1pZDpkZW1vLWN1c3RvbWVyLXNlY3JldA", "ZGVtby1jdXN0b21lci1pZDpkZW1v", True),
    ("007eJxTYBBb9c5Gc3Ks1pRvOzXq2FhYmJuZGVmYWtl", "eJxTYBBb9c5Gc3Ks1pRvOzXq2FhYmJu", True),
    ("https://alice:hunter2-pass@llm.example/v1", "hunter2-pass", True),
    ("plain-words-password-9731", "plain-words-password-9731", False),
]
SECRET_HEADERS = ["authorization", "x-api-secret", "x-auth-token", "cookie", "x-api-key", "proxy-authorization"]
SECRET_KEYS = ["api_key", "token", "secret", "password", "Authorization", "credential", "signature", "x-auth-token"]


def _requests(value: str, shaped: bool) -> list[dict[str, Any]]:
    """Every way to send ``value`` to bitHuman's speak and Agora's join (valid credentials or not)."""
    sent: list[dict[str, Any]] = []
    targets = [
        ("POST", SPEAK_PATH, OK_SECRET, {"message": "hi"}),
        ("POST", SPEAK_PATH, {"api-secret": "wrong"}, {"message": "hi"}),
        ("POST", f"{AGORA}/join", {"authorization": BASIC}, {"name": "n", "properties": PROPS}),
    ]
    for method, path, auth, body in targets:
        names = SECRET_HEADERS + (["x-note"] if shaped else [])
        for name in names:
            if name in auth:
                continue
            sent.append({"method": method, "url": path, "headers": {**auth, name: value}, "json": body})
        keys = SECRET_KEYS + (["note"] if shaped else [])
        for key in keys:
            sent.append({"method": method, "url": path, "headers": auth, "params": {key: value}, "json": body})
            deep = {**body, "meta": {"level": [{"inner": {key: value}}]}}
            sent.append({"method": method, "url": path, "headers": auth, "json": deep})
            malformed = '{"message": "hi", "meta": {"' + key + '": "' + value + '", "x": [1, 2'
            headers = {**auth, "content-type": "application/json"}
            sent.append({"method": method, "url": path, "headers": headers, "content": malformed})
            for pad in (100, 2000 - len(key)):  # a body too large to show whole; the secret inside, or cut
                large = {**body, "pad": "p" * pad, key: value, "tail": "t" * 3000}
                sent.append({"method": method, "url": path, "headers": auth, "json": large})
            yaml_like = f"message: hi\n{key}: {value}\n"
            sent.append({"method": method, "url": path, "headers": {**headers, "x-k": "1"}, "content": yaml_like})
        if "properties" in body:  # custom LLM headers, under any name
            llm = {**PROPS["llm"], "headers": {"Authorization": value, "X-Custom": value}}
            sent.append(
                {"method": method, "url": path, "headers": auth, "json": {**body, "properties": {**PROPS, "llm": llm}}}
            )
            url = {
                **PROPS["llm"],
                "url": value if value.startswith("https") else f"https://llm.example/?api_key={value}",
            }
            sent.append(
                {"method": method, "url": path, "headers": auth, "json": {**body, "properties": {**PROPS, "llm": url}}}
            )
    return sent


@pytest.mark.parametrize(("value", "needle", "shaped"), SECRETS, ids=[s[1][:12] for s in SECRETS])
def test_secrets_sent_every_way_are_shown_nowhere(
    value: str, needle: str, shaped: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mockserver.access")
    world = World(seed=1)
    with TestClient(create_app(world, fixtures=[DEFAULT_FIXTURE], access_log=True)) as c:
        for request in _requests(value, shaped):
            r = c.request(**request)  # joins after the first are 409 (same name): still journaled
            assert r.status_code < 500, (request, r.text)
        journal = c.get("/_mock/journal").text
        # What the mock logs (the test's own HTTP client may log its URLs: not the mock's output).
        logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("mockserver"))
        views = [journal, c.get("/_mock/inbox").text, c.get("/_mock/journal/count").text, logged]
        assert orjson.loads(journal)["count"] > 0 and f"POST {SPEAK_PATH} 200" in logged
        for view in views:
            assert needle not in view
        assert "[redacted]" in journal


def test_redaction_keeps_what_is_not_a_credential(client: TestClient) -> None:
    client.post(
        SPEAK_PATH,
        headers={**OK_SECRET, "x-trace": "abc123"},
        params={"lang": "en"},
        json={"message": "Your token: it has expired", "max_tokens": 5, "room_id": "customer_session_1"},
    )
    entry = client.get("/_mock/journal").json()["entries"][-1]
    assert entry["request_headers"]["x-trace"] == "abc123" and entry["request_headers"]["api-secret"] == "[redacted]"
    assert entry["query"] == "lang=en"
    assert entry["request_body"] == {
        "message": "Your token: it has expired",
        "max_tokens": 5,
        "room_id": "customer_session_1",
    }


@pytest.mark.parametrize("unit", ["x", "sk-", "+007", "eyJ-", "a:", "a=", '"a":', "://", "Bearer ", '"', "'a'"])
def test_redacting_attacker_text_stays_linear(client: TestClient, unit: str) -> None:
    # Bodies made to make a backtracking pattern go quadratic or worse: the journal reads them at
    # once (a regression here shows as a test that takes seconds, not as a timing assertion).
    body = (unit * (4096 // len(unit))).encode()
    for _ in range(20):
        client.post(SPEAK_PATH, headers={**OK_SECRET, "content-type": "application/json"}, content=body)
    entries = client.get("/_mock/journal").json()["entries"]
    assert len(entries) == 20 and all(isinstance(e["request_body"], str) for e in entries)


@pytest.mark.parametrize(
    "body",
    [b'{"message": "hi", "x": "\\ud800"}', b'{"message": "hi", "x": NaN}', b'{"message": "hi", "x": 1e999}'],
)
def test_a_body_json_cannot_carry_back_is_shown_as_text(client: TestClient, body: bytes) -> None:
    client.post(SPEAK_PATH, headers={**OK_SECRET, "content-type": "application/json"}, content=body)
    client.post("/v1/agent/A%ED%A0%80/speak", headers=OK_SECRET, json={"message": "hi"})  # a lone surrogate in the path
    journal = client.get("/_mock/journal")
    assert journal.status_code == 200 and len(journal.json()["entries"]) == 2
