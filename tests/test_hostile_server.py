"""Hostile clients and hostile web pages against the served mock (issue 14: the server's exposure).

Each test replays an attack report and checks the whole class is closed: work per request is
bounded, slow or idle clients cannot hold the server's files, shutdown is clean, and a web page on
another origin (or rebinding its DNS to the mock) cannot use the control plane. Tests over a socket
wait for the server's answer with a bounded socket timeout; none sleeps or measures time.
"""

from __future__ import annotations

import difflib
import errno
import logging
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from mockserver import MockServer, World, create_app
from mockserver.cli import banner
from mockserver.client import ASGITransport, ControlClient

from .conftest import DEFAULT_FIXTURE, DOCS_SECRET

pytest_plugins = ["pytester"]

SPEAK = "/v1/agent/A12345678/speak"
WAIT = 15.0  # seconds a socket waits for the server's answer before the test fails


# -- helpers -----------------------------------------------------------------------------------------


@pytest.fixture
def plain() -> Iterator[TestClient]:
    """The app in process, without the contract checker (refusals here are not spec operations)."""
    with TestClient(create_app(World(seed=1), fixtures=[DEFAULT_FIXTURE])) as client:
        yield client


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (bounded by WAIT and size)."""
    sock.settimeout(WAIT)
    chunks: list[bytes] = []
    for _ in range(10_000):
        data = sock.recv(65536)
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def read_head(sock: socket.socket) -> bytes:
    """The status line and headers of one response."""
    sock.settimeout(WAIT)
    data = b""
    for _ in range(1000):
        if b"\r\n\r\n" in data:
            break
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def connect(server: MockServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def body_of(response: bytes) -> bytes:
    return response.partition(b"\r\n\r\n")[2]


# -- 1. CPU per request: the "closest route" hint is bounded ----------------------------------------


def test_a_long_unknown_path_gets_no_closest_route_work(plain: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[str] = []
    real = difflib.SequenceMatcher  # the router imports difflib when it first looks for a closest route

    def counting(isjunk: Any, a: str, b: str) -> Any:
        compared.append(b)
        return real(isjunk, a, b)

    monkeypatch.setattr(difflib, "SequenceMatcher", counting)
    long_path = "/v1/" + "x" * 6000  # under the URL cap: routed, and found nowhere
    r = plain.post(long_path, json={})
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    assert "closest route" not in r.text
    assert compared == []  # no difflib work at all for a path no route could be a typo of
    # A typo still gets its hint, comparing only routes of a close shape.
    r = plain.post("/v1/agent/A12345678/speek", json={})
    assert "closest route: POST /v1/agent/{agent_code}/speak" in r.json()["error"]["message"]
    assert len(compared) < len(plain.app.router.default.app.known)  # not every route: only the near shapes


@pytest.mark.parametrize(
    ("prefix", "check"),
    [
        ("/v1/", lambda body: body["error"]["httpStatus"] == 414 and body["status_code"] == 414),
        ("/api/conversational-ai-agent/v2/projects/x/", lambda body: "reason" in body and "detail" in body),
        ("/_mock/", lambda body: body["status"] == 414 and body["title"] == "URI too long"),
    ],
)
def test_an_overlong_url_is_414_in_the_envelope_of_its_prefix(plain: TestClient, prefix: str, check: Any) -> None:
    r = plain.get(prefix + "a" * 9000)
    assert r.status_code == 414
    assert check(r.json())
    r = plain.get(prefix + "health?q=" + "b" * 9000)
    assert r.status_code == 414


# -- 2. idle and slow clients, header size, connection limit, log floods ---------------------------


@pytest.fixture
def tight() -> Iterator[MockServer]:
    from mockserver.protocol import Limits

    limits = Limits(max_connections=4, header_timeout=0.5, body_timeout=0.5, max_header_bytes=8 * 1024)
    with MockServer(fixtures=[DEFAULT_FIXTURE], limits=limits) as server:
        yield server


def test_a_client_that_sends_nothing_is_timed_out(tight: MockServer) -> None:
    with connect(tight) as sock:
        response = read_all(sock)  # returns once the server closes the connection
    assert status_of(response) == 408


def test_a_slow_request_head_is_timed_out(tight: MockServer) -> None:
    with connect(tight) as sock:
        sock.sendall(b"GET /_mock/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1")
        response = read_all(sock)
    assert status_of(response) == 408


def test_a_slow_request_body_is_timed_out(tight: MockServer) -> None:
    with connect(tight) as sock:
        sock.sendall(
            b"POST " + SPEAK.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"api-secret: " + DOCS_SECRET.encode() + b'\r\nContent-Length: 100\r\n\r\n{"mess'
        )
        response = read_all(sock)
    # The server answers nothing or a 408 (a handler may already be waiting for the body); either
    # way it closes the connection instead of waiting for ever.
    assert response == b"" or status_of(response) == 408


def test_idle_connections_make_room_for_a_client_with_a_request(tight: MockServer) -> None:
    idle = [connect(tight) for _ in range(8)]  # twice the limit, sending nothing
    try:
        for _ in range(3):
            with connect(tight) as sock:
                sock.sendall(b"GET /_mock/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                assert status_of(read_all(sock)) == 200
        closed = 0
        for sock in idle:  # the server closed the idle ones it needed room for (or timed them out)
            sock.settimeout(0)
            try:
                closed += sock.recv(1) == b""
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
        assert closed >= 4
    finally:
        for sock in idle:
            sock.close()


def test_connections_over_the_limit_are_refused_when_all_are_busy(tight: MockServer) -> None:
    streams = [connect(tight) for _ in range(4)]
    try:
        for sock in streams:  # an open event stream is a request being answered
            sock.sendall(b"GET /_mock/events/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert status_of(read_head(sock)) == 200
        with connect(tight) as extra:
            assert status_of(read_all(extra)) == 503
    finally:
        for sock in streams:
            sock.close()
    statuses = []
    for _ in range(200):  # the server notices the closed streams as it reads them
        with connect(tight) as sock:
            sock.sendall(b"GET /_mock/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            statuses.append(status_of(read_all(sock)))
        if statuses[-1] == 200:
            break
    assert statuses[-1] == 200


@pytest.mark.parametrize(("path", "key"), [(SPEAK, "error"), ("/_mock/health", "title")])
def test_oversized_request_headers_are_431_in_the_envelope(tight: MockServer, path: str, key: str) -> None:
    filler = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"v" * 100) for i in range(200))  # ~23 KB
    with connect(tight) as sock:
        sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" + filler + b"\r\n")
        response = read_all(sock)  # the server closes: the rest of the head was never read
    assert status_of(response) == 431
    assert key.encode() in body_of(response)


def test_a_url_over_the_cap_is_refused_without_routing_work(tight: MockServer) -> None:
    with connect(tight) as sock:
        sock.sendall(b"GET /v1/" + b"a" * 60_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        response = read_all(sock)
    assert status_of(response) == 414
    assert b"closest route" not in response


def test_running_out_of_file_descriptors_is_logged_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    from mockserver.protocol import loop_exception_handler

    class Loop:
        def default_exception_handler(self, context: dict[str, Any]) -> None:
            raise AssertionError("not for descriptor exhaustion")

    caplog.set_level(logging.ERROR, logger="mockserver")
    error = OSError(errno.EMFILE, "Too many open files")
    for _ in range(10_000):
        loop_exception_handler(Loop(), {"message": "socket.accept() out of system resource", "exception": error})  # type: ignore[arg-type]
    assert len([r for r in caplog.records if "cannot accept connections" in r.getMessage()]) <= 1


def test_malformed_requests_are_not_logged_one_by_one(tight: MockServer) -> None:
    from mockserver.protocol import ThrottleFilter

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    uvicorn_errors = logging.getLogger("uvicorn.error")
    uvicorn_errors.addHandler(handler)
    try:
        for _ in range(20):
            with connect(tight) as sock:
                sock.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
                assert status_of(read_all(sock)) == 400
    finally:
        uvicorn_errors.removeHandler(handler)
    assert any(isinstance(f, ThrottleFilter) for f in uvicorn_errors.filters)
    assert [r for r in records if "Invalid HTTP request" in r.getMessage()] == []


# -- 3. shutdown -------------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_cleanly_with_open_streams(sig: signal.Signals) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    streams: list[socket.socket] = []
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # printed once the socket listens
        port = int(re.search(r"serving on http://127\.0\.0\.1:(\d+)", first).group(1))  # type: ignore[union-attr]
        for _ in range(3):
            sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
            sock.sendall(b"GET /_mock/events/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert status_of(read_head(sock)) == 200
            streams.append(sock)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
        tails = [read_all(sock) for sock in streams]
    finally:
        for sock in streams:
            sock.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "agent-mockserver stopped" in out
    assert "ERROR" not in err and "Traceback" not in err, err
    assert all(tail.endswith(b"0\r\n\r\n") for tail in tails)  # each stream's last chunk: complete


def test_stopping_a_mock_server_ends_its_streams() -> None:
    server = MockServer(fixtures=[DEFAULT_FIXTURE]).start()
    with connect(server) as sock:
        sock.sendall(b"GET /_mock/events/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert status_of(read_head(sock)) == 200
        server.stop()
        assert read_all(sock).endswith(b"0\r\n\r\n")


# -- 4. the control plane refuses simple (pre-flight-free) cross-origin writes ----------------------


@pytest.mark.parametrize(
    ("path", "headers", "content"),
    [
        ("/_mock/bithuman/accounts", {"content-type": "text/plain"}, b'{"id": "evil", "secrets": ["chosen"]}'),
        ("/_mock/faults", {"content-type": "application/x-www-form-urlencoded"}, b"status=503"),
        ("/_mock/faults", {"content-type": "multipart/form-data; boundary=x"}, b"--x--"),
        ("/_mock/clock/freeze", {}, b""),
        ("/_mock/reset", {}, None),
    ],
)
def test_control_plane_writes_need_a_json_content_type(
    plain: TestClient, path: str, headers: dict[str, str], content: bytes | None
) -> None:
    origin = {"origin": "http://evil.example", **headers}
    r = plain.post(path, content=content, headers=origin)
    assert r.status_code == 415
    assert r.headers["content-type"] == "application/problem+json"
    assert "application/json" in r.json()["detail"]
    assert not any(k.lower().startswith("access-control-") for k in r.headers)
    state = plain.get("/_mock/bithuman/accounts").json()
    assert "evil" not in str(state)
    assert plain.get("/_mock/faults").json() == []
    assert plain.get("/_mock/clock").json()["frozen"] is False


def test_control_plane_answers_no_cors_and_refuses_preflights(plain: TestClient) -> None:
    preflight = {
        "origin": "http://evil.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
    }
    r = plain.options("/_mock/bithuman/accounts", headers=preflight)
    assert r.status_code == 405
    assert not any(k.lower().startswith("access-control-") for k in r.headers)
    r = plain.get("/_mock/bithuman/accounts", headers={"origin": "http://evil.example"})
    assert r.status_code == 200
    assert not any(k.lower().startswith("access-control-") for k in r.headers)


def test_a_browsers_empty_write_is_refused_by_its_fetch_metadata_too(plain: TestClient) -> None:
    r = plain.post("/_mock/reset", headers={"sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors"})
    assert r.status_code == 415


def test_json_writes_and_the_control_client_still_work(plain: TestClient) -> None:
    r = plain.post("/_mock/bithuman/accounts", json={"id": "shop"})
    assert r.status_code == 201
    # An empty write from a client that is no browser (curl -X POST, a test's httpx.post) carries no
    # Origin and cannot be a page's forged request: it is served.
    assert plain.post("/_mock/clock/freeze").status_code == 200
    r = plain.post("/_mock/reset", content=b"", headers={"content-type": "application/json"})
    assert r.status_code == 200
    with ControlClient(ASGITransport(plain.app)) as client:
        closed = client.request("POST", "/_mock/bithuman/accounts/demo/agents/A12345678/rooms/room_1/close")
        assert closed.status == 200  # no body: the client still declares JSON
        yaml_text = "bithuman:\n  accounts:\n    - {id: yaml-account, secrets: [s]}\n"
        assert client.load_fixture(yaml_text) == ["yaml-account"]


def test_the_dashboard_declares_json_on_every_write() -> None:
    from importlib import resources

    api = resources.files("mockserver").joinpath("admin", "static", "api.js").read_text()
    # the one place the dashboard calls the control plane sets the header for any method but reads
    assert re.search(r'method !== "GET".*content-type"\] = "application/json"', api)
    assert "x-mock-token" in api


# -- 5. DNS rebinding: only loopback names, IP literals and allowed names are served ----------------


@pytest.fixture(scope="module")
def served() -> Iterator[MockServer]:
    with MockServer(fixtures=[DEFAULT_FIXTURE], allow_hosts=["mock.test", "*.dev.test"]) as server:
        yield server


def _get(server: MockServer, path: str, host: str, **headers: str) -> httpx.Response:
    return httpx.get(server.url + path, headers={"host": host, **headers})


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:8080", "localhost.evil.example", "mock.test.evil", "127.0.0.1.nip.io"],
)
def test_a_foreign_host_is_misdirected(served: MockServer, host: str) -> None:
    r = _get(served, "/_mock/bithuman/accounts", host)
    assert r.status_code == 421
    assert r.headers["content-type"] == "application/problem+json"
    assert "secret" not in r.text.lower() or "allow" in r.json()["detail"]
    assert "your_secret" not in r.text
    r = httpx.post(served.url + SPEAK, headers={"host": host, "api-secret": DOCS_SECRET}, json={"message": "hi"})
    assert r.status_code == 421
    assert r.json()["error"]["httpStatus"] == 421  # the vendor's own envelope


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "LOCALHOST:8080",
        "127.0.0.1",
        "127.0.0.1:9",
        "[::1]",
        "[::1]:8080",
        "app.localhost",
        "192.168.1.20:8080",
        "mock.test",
        "a.dev.test:1",
    ],
)
def test_loopback_names_ip_literals_and_allowed_names_are_served(served: MockServer, host: str) -> None:
    assert _get(served, "/_mock/health", host).status_code == 200


def test_allow_host_star_and_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with MockServer(allow_hosts=["*"]) as server:
        assert _get(server, "/_mock/health", "anything.example").status_code == 200
    monkeypatch.setenv("MOCKSERVER_ALLOW_HOSTS", "one.test, two.test")
    with MockServer() as server:
        assert _get(server, "/_mock/health", "two.test").status_code == 200
        assert _get(server, "/_mock/health", "three.test").status_code == 421


def test_a_host_is_judged_against_the_list_in_force(plain: TestClient) -> None:
    # The guard remembers its verdicts per Host value, for the allowed list they were made under.
    settings = plain.app.state.guard  # type: ignore[attr-defined]
    settings.allowed_hosts = ("localhost",)
    assert plain.get("/_mock/health", headers={"host": "mock.test"}).status_code == 421
    settings.allowed_hosts = ("localhost", "mock.test")
    assert plain.get("/_mock/health", headers={"host": "mock.test"}).status_code == 200
    settings.allowed_hosts = ("localhost",)
    assert plain.get("/_mock/health", headers={"host": "mock.test"}).status_code == 421
    for n in range(300):  # made-up names beyond what is remembered are still judged
        assert plain.get("/_mock/health", headers={"host": f"n{n}.evil.test"}).status_code == 421
    assert plain.get("/_mock/health", headers={"host": "localhost:8080"}).status_code == 200


def test_in_process_clients_keep_any_host(plain: TestClient) -> None:
    assert plain.get("/_mock/health").status_code == 200  # http://testserver
    with ControlClient(ASGITransport(plain.app)) as client:  # http://mockserver.invalid
        assert client.get_health()["status"] == "ok"


# -- 6. the control token, and the banner's warning -------------------------------------------------


@pytest.fixture(scope="module")
def guarded() -> Iterator[MockServer]:
    with MockServer(fixtures=[DEFAULT_FIXTURE], control_token="s3cret-token") as server:
        yield server


def test_the_control_plane_needs_the_token(guarded: MockServer) -> None:
    r = httpx.get(guarded.url + "/_mock/bithuman/accounts")
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert "your_secret" not in r.text
    assert httpx.get(guarded.url + "/_mock/nope").status_code == 401  # unknown control paths too
    wrong = httpx.get(guarded.url + "/_mock/health", headers={"authorization": "Bearer s3cret-tokeN"})
    assert wrong.status_code == 401
    bearer = httpx.get(guarded.url + "/_mock/bithuman/accounts", headers={"authorization": "Bearer s3cret-token"})
    assert bearer.status_code == 200
    header = httpx.get(guarded.url + "/_mock/health", headers={"x-mock-token": "s3cret-token"})
    assert header.status_code == 200
    # The dashboard's page and scripts hold no data: the browser loads them, then asks for the token.
    assert httpx.get(guarded.url + "/_mock/").status_code == 200
    assert httpx.get(guarded.url + "/_mock/static/api.js").status_code == 200
    # The vendor APIs have their own credentials.
    vendor = httpx.post(guarded.url + SPEAK, headers={"api-secret": DOCS_SECRET}, json={"message": "hi"})
    assert vendor.status_code == 200


def test_the_stream_takes_the_token_in_its_query(guarded: MockServer) -> None:
    for query, expected in [("", 401), ("?token=wrong", 401), ("?token=s3cret-token&kind=speak", 200)]:
        with connect(guarded) as sock:
            request = f"GET /_mock/events/stream{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            sock.sendall(request.encode())
            assert status_of(read_head(sock)) == expected


def test_the_control_client_sends_the_token(guarded: MockServer) -> None:
    with ControlClient(guarded.url, token="s3cret-token") as client:
        assert client.get_health()["status"] == "ok"
        assert client.freeze_clock()["frozen"] is True
        client.resume_clock()
    with ControlClient(guarded.url) as client:
        assert client.request("GET", "/_mock/health").status == 401


def test_the_banner_warns_when_exposed() -> None:
    world = World()
    assert "WARNING" not in banner(world, "http://127.0.0.1:8080", host="127.0.0.1")
    exposed = banner(world, "http://0.0.0.0:8080", host="0.0.0.0")
    assert "WARNING" in exposed and "no authentication" in exposed and "--control-token" in exposed
    with_token = banner(world, "http://0.0.0.0:8080", host="0.0.0.0", token="t0k")
    assert "WARNING" in with_token and "no authentication" not in with_token
    assert "/_mock/#token=t0k" in with_token


def test_the_plugin_passes_the_token(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_uses_the_mock(mockserver, mockserver_server):
            assert mockserver_server.app.state.guard.control_token == "plug-token"
            account = mockserver.bithuman.account()
            assert account.id
        """
    )
    result = pytester.runpytest_subprocess("-p", "mockserver", "--mockserver-token", "plug-token")
    result.assert_outcomes(passed=1)


# -- 7. framing and sniffing -------------------------------------------------------------------------


def test_control_plane_responses_forbid_framing_and_sniffing(plain: TestClient) -> None:
    page = plain.get("/_mock/")
    assert page.headers["x-frame-options"] == "DENY"
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    for path in ("/_mock/health", "/_mock/static/app.js", "/_mock/nope"):
        r = plain.get(path)
        assert r.headers["x-frame-options"] == "DENY", path
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"], path
        assert r.headers["x-content-type-options"] == "nosniff", path


# -- in a real browser (skipped without playwright and Chromium, like tests/test_dashboard.py) -------


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", exc_type=ImportError)
    path = os.environ.get("MOCKSERVER_CHROMIUM", "/usr/bin/chromium")
    if not os.path.exists(path):
        pytest.skip(f"no Chromium at {path}")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=["--headless", "--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


def test_the_dashboard_takes_the_token_from_its_link(chromium: Any, guarded: MockServer) -> None:
    from playwright.sync_api import expect

    guarded.world.reset()
    context = chromium.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(guarded.url + "/_mock/#token=s3cret-token")
    expect(page.locator("#conn")).to_have_text("Stream: Live")  # the stream took the token too
    expect(page.locator("#tenant-list")).to_contain_text("demo-customer-id")
    assert "token" not in page.url  # out of the address bar and the history
    page.locator("#clock-freeze").click()  # a write: JSON and the token
    expect(page.locator("#clock-mode")).to_have_text("frozen")
    assert guarded.world.clock.frozen
    context.close()
    guarded.world.reset()
    assert errors == []


def test_a_page_on_another_origin_cannot_drive_the_control_plane(chromium: Any) -> None:
    from playwright.sync_api import expect

    with MockServer(fixtures=[DEFAULT_FIXTURE]) as mock, MockServer() as other:
        attack = f"""
            const target = "{mock.url}/_mock";
            const attempts = [
              fetch(target + "/bithuman/accounts", {{method: "POST", mode: "no-cors",
                headers: {{"content-type": "text/plain"}}, body: JSON.stringify({{id: "evil", secrets: ["chosen"]}})}}),
              fetch(target + "/faults", {{method: "POST", mode: "no-cors", body: new Blob(['{{"status": 503}}'])}}),
              fetch(target + "/clock/freeze", {{method: "POST", mode: "no-cors"}}),
              fetch(target + "/clock/freeze", {{method: "POST", headers: {{"content-type": "application/json"}},
                body: "{{}}"}}),
            ];
            Promise.allSettled(attempts).then(() => {{ document.title = "done"; }});
        """
        context = chromium.new_context()
        page = context.new_page()
        # Another origin: a page of the second server outside its control plane (which would
        # forbid the page's scripts any connection by its own CSP), with the attack run in it.
        page.goto(other.url + "/v1/nothing-here")
        page.evaluate(attack)
        expect(page).to_have_title("done")
        context.close()
        assert "evil" not in mock.world.bithuman.accounts
        assert mock.world.faults.list() == []
        assert not mock.world.clock.frozen
