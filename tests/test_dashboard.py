"""The dashboard (`GET /_mock/`) in a real browser: Playwright driving Debian's Chromium.

Skipped, with the reason, when the ``playwright`` package or the browser is missing
(``.ci/browser.sh`` installs Chromium where it can). Run as a script, the module stages a live
conversation and saves the screenshot shown in docs/dashboard.md::

    .venv/bin/python -m tests.test_dashboard docs/dashboard.png
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from mockserver import MockServer

from .agora_support import basic, properties
from .conftest import DEFAULT_FIXTURE, DOCS_SECRET

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed", exc_type=ImportError
)
expect = playwright_api.expect

CHROMIUM = os.environ.get("MOCKSERVER_CHROMIUM", "/usr/bin/chromium")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or .ci/browser.sh)", allow_module_level=True)

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1400, "height": 900}
DASHBOARD = "/_mock/"
BITHUMAN = {"api-secret": DOCS_SECRET}
AGORA = {"authorization": basic("demo-customer-id", "demo-customer-secret")}
AGORA_PROJECT = "/api/conversational-ai-agent/v2/projects/demo-app-id"
GREETING = "Hi, I'm Ava from support. How can I help?"


# -- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer(fixtures=[DEFAULT_FIXTURE], seed=11) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def http(server: MockServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


@pytest.fixture
def console_errors() -> list[str]:
    """What the page logged as errors; a test that expects some takes them out."""
    return []


@pytest.fixture
def page(server: MockServer, browser: Browser, console_errors: list[str]) -> Iterator[Page]:
    """The dashboard of a freshly reset world, live; fails the test on any console error."""
    server.world.reset()
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    watch_console(page, console_errors)
    open_dashboard(page, server)
    yield page
    context.close()
    assert not console_errors, f"console errors: {console_errors}"


def watch_console(page: Page, errors: list[str]) -> list[str]:
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def open_dashboard(page: Page, server: MockServer) -> None:
    url = server.url + DASHBOARD
    response = page.goto(url)
    assert response is not None and response.status == 200, f"GET {url} answered {response and response.status}"
    expect(page.locator("#conn")).to_have_text("Stream: Live")
    expect(page.locator("#tenant-list")).to_contain_text("demo-customer-id")


def start_agora_agent(http: httpx.Client, name: str = "support", greeting: str | None = GREETING) -> str:
    llm: dict[str, Any] = {"url": "https://llm.example/v1/chat/completions", "api_key": "sk-test"}
    if greeting:
        llm["greeting_message"] = greeting
    response = http.post(f"{AGORA_PROJECT}/join", headers=AGORA, json={"name": name, "properties": properties(llm=llm)})
    assert response.status_code == 200, response.text
    return str(response.json()["agent_id"])


def speak(http: httpx.Client, message: str | None, room: str = "room_1", secret: str = DOCS_SECRET) -> int:
    """A bitHuman speak call (``message`` None leaves the field out); returns the status."""
    body = {"room_id": room} if message is None else {"message": message, "room_id": room}
    return http.post("/v1/agent/A12345678/speak", headers={"api-secret": secret}, json=body).status_code


def room_active(server: MockServer, room: str, account: str = "demo", code: str = "A12345678") -> bool:
    return server.world.bithuman.get_agent(account, code).rooms[room].active


# -- the page ----------------------------------------------------------------------------------------


def test_the_dashboard_is_served_at_its_documented_path(http: httpx.Client) -> None:
    response = http.get(DASHBOARD)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"


def test_page_loads_with_every_section(page: Page, http: httpx.Client) -> None:
    expect(page).to_have_title("agent-mockserver · dashboard")
    for heading in ("Tenants", "Agora agents", "bitHuman agents", "Faults", "Live feed", "Request log"):
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    expect(page.locator("#tenant-list")).to_contain_text("demo-legacy")
    expect(page.locator("#bithuman-list")).to_contain_text("A12345678")
    expect(page.locator("#agora-projects")).to_contain_text("demo-app-id")
    expect(page.locator("#clock-now")).to_contain_text("UTC")
    expect(page.locator("#version")).to_have_text("v" + http.get("/_mock/version").json()["version"])
    # The feed is a live region; every control has a name.
    assert page.locator("#feed-list").get_attribute("role") == "log"
    assert page.locator("#feed-list").get_attribute("aria-live") == "polite"
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll('button, input, select')]
             .filter(e => !e.closest('[hidden]'))
             .filter(e => !(e.labels?.length || e.getAttribute('aria-label') || e.textContent.trim()))
             .map(e => e.outerHTML)"""
    )
    assert unnamed == []
    for asset, media in (("app.js", "text/javascript"), ("style.css", "text/css")):
        response = http.get(f"/_mock/static/{asset}")
        assert response.status_code == 200 and response.headers["content-type"].startswith(media)


def test_a_speak_call_appears_in_the_feed_within_a_second(page: Page, http: httpx.Client) -> None:
    message = "Flash sale: 30% off for the next hour."
    assert speak(http, message, room="customer_session_1") == 200
    row = page.locator("#feed-list li").first
    expect(row).to_contain_text(message, timeout=1000)
    expect(row).to_contain_text("Told to say")
    expect(row).to_contain_text("delivered")
    expect(row).to_contain_text("customer_session_1")


def test_event_text_is_shown_as_text_never_as_markup(page: Page, http: httpx.Client) -> None:
    message = "<img src=x onerror=\"document.title='owned'\"><b>bold</b>"
    assert speak(http, message) == 200
    expect(page.locator("#feed-list li").first).to_contain_text(message, timeout=1000)
    assert page.locator("#feed-list img, #feed-list b").count() == 0
    expect(page).to_have_title("agent-mockserver · dashboard")


def test_feed_filters_by_kind_and_tenant(page: Page, http: httpx.Client) -> None:
    assert speak(http, "spoken aloud") == 200
    context = {"context": "known silently", "room_id": "room_1"}
    assert http.post("/v1/agent/A12345678/add-context", headers=BITHUMAN, json=context).status_code == 200
    feed = page.locator("#feed-list")
    expect(feed).to_contain_text("known silently", timeout=1000)
    page.select_option("#feed-kind", "context")
    expect(feed).not_to_contain_text("spoken aloud")
    expect(feed).to_contain_text("Given context")
    page.select_option("#feed-kind", "")
    page.select_option("#feed-tenant", "demo-customer-id")
    expect(page.locator("#feed-list li")).to_have_count(0)
    page.select_option("#feed-tenant", "demo")
    expect(page.locator("#feed-list li")).to_have_count(2)


# -- controls change the world -------------------------------------------------------------------------


def test_closing_and_reopening_a_room_in_the_page(page: Page, server: MockServer) -> None:
    close = page.get_by_role("button", name="Close room vip_session_42 of A12345678")
    close.click()
    reopen = page.get_by_role("button", name="Reopen room vip_session_42 of A12345678")
    expect(reopen).to_be_visible()
    assert not room_active(server, "vip_session_42")
    reopen.click()
    expect(close).to_be_visible()
    assert room_active(server, "vip_session_42")


def test_opening_a_room_in_the_page(page: Page, server: MockServer) -> None:
    page.select_option("#room-agent", label="SALES_AGENT · demo")
    page.fill("#room-id", "dashboard_room")
    page.get_by_role("button", name="Open room").click()
    expect(page.locator("#notice")).to_have_text("Room dashboard_room of SALES_AGENT is open.")
    assert server.world.bithuman.get_agent("demo", "SALES_AGENT").rooms["dashboard_room"].active


def test_the_simulated_user_makes_an_agora_agent_think_then_reply(
    page: Page, server: MockServer, http: httpx.Client
) -> None:
    server.world.clock.freeze()
    agent_id = start_agora_agent(http)
    card = page.locator("#agora-list li", has_text=agent_id[:8])
    expect(card).to_contain_text("RUNNING", timeout=3000)
    expect(card).to_contain_text("speaking")
    card.get_by_label("User says").fill("Where is my order?")
    card.get_by_role("button", name="Say").click()
    expect(card.locator(".conv")).to_have_text("… thinking")
    assert server.world.agora.agent("demo-app-id", agent_id).conversation.state == "thinking"
    feed = page.locator("#feed-list")
    expect(feed).to_contain_text("Where is my order?")
    expect(feed).to_contain_text("interrupted")  # the user barged in on the greeting
    # Time moves on from the page's own control; the scripted LLM answers.
    page.fill("#advance-seconds", "1")
    page.get_by_role("button", name="Advance").click()
    expect(page.locator("#feed-list li").first).to_contain_text("Your order has shipped.", timeout=3000)
    expect(card.locator(".conv")).to_have_text("▶ speaking")


def test_adding_and_removing_a_fault(page: Page, server: MockServer, http: httpx.Client) -> None:
    page.select_option("#fault-kind", "error")
    page.fill("#fault-status", "503")
    page.fill("#fault-operation", "bithuman_speak")
    page.fill("#fault-times", "1")
    page.get_by_role("button", name="Add fault").click()
    rule = page.locator("#fault-list li").first
    expect(rule).to_contain_text("error 503")
    [added] = server.world.faults.list()
    assert (added.kind, added.operation, added.status, added.times) == ("error", "bithuman_speak", 503, 1)

    assert speak(http, "hi") == 503
    row = page.locator("#journal-rows tr.req").first
    expect(row).to_contain_text("503 Unavailable", timeout=3000)
    expect(row).to_contain_text("fault: error 503")
    expect(rule).to_contain_text("fired 1")

    page.get_by_role("button", name=f"Remove fault {added.id}").click()
    expect(page.locator("#fault-list li")).to_have_count(0)
    assert server.world.faults.list() == []


def test_a_refused_fault_says_why(page: Page, server: MockServer, console_errors: list[str]) -> None:
    page.fill("#fault-status", "418")
    page.fill("#fault-operation", "bithuman_speak")
    page.get_by_role("button", name="Add fault").click()
    # The control plane refuses (422); the page shows its reason.
    expect(page.locator("#notice")).to_contain_text("does not document status 418")
    assert server.world.faults.list() == []
    [refusal] = console_errors  # Chromium logs every 4xx answer to fetch()
    assert "422" in refusal
    console_errors.clear()


def test_reset_restores_the_start_up_world(page: Page, server: MockServer, http: httpx.Client) -> None:
    page.get_by_role("button", name="Close room room_2 of A12345678").click()
    expect(page.get_by_role("button", name="Reopen room room_2 of A12345678")).to_be_visible()
    assert speak(http, "before the reset") == 200
    expect(page.locator("#feed-list")).to_contain_text("before the reset", timeout=1000)
    page.get_by_role("button", name="Reset world").click()
    expect(page.get_by_role("button", name="Close room room_2 of A12345678")).to_be_visible()
    expect(page.locator("#feed-list li")).to_have_count(0)
    expect(page.locator("#journal-rows tr")).to_have_count(0)
    assert room_active(server, "room_2")


# -- the request log ---------------------------------------------------------------------------------


def test_request_log_shows_status_in_words_and_details_on_demand(page: Page, http: httpx.Client) -> None:
    assert speak(http, "x", secret="wrong") == 401
    assert speak(http, None) == 400  # no message
    rows = page.locator("#journal-rows tr.req")
    expect(rows).to_have_count(2, timeout=3000)
    refused, unauthorized = rows.nth(0), rows.nth(1)
    expect(unauthorized).to_contain_text("⚠ 401 Unauthorized")
    expect(unauthorized.locator(".status")).to_have_attribute("title", "client error")
    expect(refused).to_contain_text("400 Bad Request")
    expect(refused).to_contain_text("near miss")

    toggle = refused.get_by_role("button")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    details = page.locator("#journal-rows tr.detail:visible")
    expect(details).to_contain_text("Near miss")
    expect(details).to_contain_text("bithuman_speak")
    expect(details).to_contain_text("[redacted]")  # the api-secret header
    expect(details).not_to_contain_text(DOCS_SECRET)

    page.check("#journal-errors")
    expect(rows.first).to_be_visible()
    assert speak(http, "ok") == 200
    expect(rows).to_have_count(3, timeout=3000)
    expect(rows.first).to_be_hidden()  # a 200, hidden by "Errors only"


# -- keyboard ----------------------------------------------------------------------------------------


def test_a_room_can_be_closed_with_tab_and_enter(page: Page, server: MockServer) -> None:
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to the live feed")).to_be_focused()
    target = page.get_by_role("button", name="Close room customer_session_1 of A12345678")
    for _ in range(60):
        page.keyboard.press("Tab")
        if target.evaluate("e => e === document.activeElement"):
            break
    else:
        pytest.fail("Tab never reached the Close button of customer_session_1")
    outline = target.evaluate("e => getComputedStyle(e).outlineStyle")
    assert outline != "none", "the focused control shows no focus ring"
    page.keyboard.press("Enter")
    reopen = page.get_by_role("button", name="Reopen room customer_session_1 of A12345678")
    expect(reopen).to_be_focused()  # the same control, relabelled: focus is not lost
    assert not room_active(server, "customer_session_1")


def test_the_user_can_speak_from_the_keyboard(page: Page, server: MockServer, http: httpx.Client) -> None:
    server.world.clock.freeze()
    agent_id = start_agora_agent(http, greeting=None)
    field = page.locator("#agora-list li", has_text=agent_id[:8]).get_by_label("User says")
    expect(field).to_be_visible(timeout=3000)
    field.focus()
    page.keyboard.type("I need a human")
    page.keyboard.press("Enter")  # submits the form
    expect(page.locator("#feed-list")).to_contain_text("I need a human", timeout=1000)
    assert server.world.agora.agent("demo-app-id", agent_id).conversation.state == "thinking"


# -- the screenshot --------------------------------------------------------------------------------------


def stage_conversation(server: MockServer, http: httpx.Client) -> str:
    """Arrange what docs/dashboard.png shows: bitHuman deliveries, an Agora agent greeting, a user
    turn and the reply, a think, and requests that failed (a 401, an injected 503, a near miss).
    The clock is frozen and moved by hand, so every run shows the same story. Returns the agent id."""
    world = server.world
    world.clock.freeze(1748857260.0)  # 2025-06-02 09:41:00 UTC
    agent_id = start_agora_agent(http)
    world.clock.advance(1.2)
    http.post(
        "/v1/agent/A12345678/speak",
        headers=BITHUMAN,
        json={"message": "Welcome back! We have a 20% discount available today.", "room_id": "customer_session_1"},
    )
    world.clock.advance(0.8)
    http.post(
        "/v1/agent/A12345678/add-context",
        headers=BITHUMAN,
        json={"context": "The customer is a premium member since 2021.", "room_id": "customer_session_1"},
    )
    http.post("/_mock/bithuman/accounts/demo/agents/A12345678/rooms/vip_session_42/close")
    http.post("/v1/agent/A12345678/speak", headers={"api-secret": "not-the-secret"}, json={"message": "hi"})
    world.clock.advance(1.5)
    http.post(f"/_mock/agora/projects/demo-app-id/agents/{agent_id}/user/say", json={"text": "Where is my order?"})
    world.clock.advance(1.0)
    http.get(f"/_mock/agora/projects/demo-app-id/agents/{agent_id}")  # the reply falls due
    world.clock.advance(2.5)
    http.post(
        f"{AGORA_PROJECT}/agents/{agent_id}/think",
        headers=AGORA,
        json={"text": "The user just opened the returns page.", "on_listening_action": "inject"},
    )
    world.clock.advance(0.4)
    http.post("/_mock/faults", json={"kind": "error", "operation": "bithuman_speak", "status": 503, "times": 1})
    http.post(
        "/v1/agent/A12345678/speak",
        headers=BITHUMAN,
        json={"message": "Your order #1234 has shipped.", "room_id": "customer_session_1"},
    )
    http.post("/v1/agent/A12345678/speak", headers=BITHUMAN, json={"room_id": "customer_session_1"})  # no message
    http.post("/_mock/faults", json={"kind": "latency", "operation": "speak_agent", "latency_ms": 250})
    http.post(
        f"{AGORA_PROJECT}/agents/{agent_id}/speak",
        headers=AGORA,
        json={"text": "Anything else I can help you with?", "priority": "APPEND"},
    )
    return agent_id


def shoot(page: Page, server: MockServer, http: httpx.Client, path: Path) -> None:
    agent_id = stage_conversation(server, http)
    feed = page.locator("#feed-list")
    expect(feed).to_contain_text("Anything else I can help you with?", timeout=3000)
    expect(feed).to_contain_text("Your order has shipped.")
    expect(page.locator("#journal-rows")).to_contain_text("fault: error 503", timeout=3000)
    expect(page.locator("#fault-list li")).to_have_count(2, timeout=3000)
    expect(page.locator("#agora-list li", has_text=agent_id[:8])).to_contain_text("thinking", timeout=3000)
    expect(page.get_by_role("button", name="Reopen room vip_session_42 of A12345678")).to_be_visible(timeout=3000)
    page.evaluate("document.activeElement?.blur()")
    page.screenshot(path=str(path))


def test_screenshot_of_a_live_conversation(page: Page, server: MockServer, http: httpx.Client, tmp_path: Path) -> None:
    shot = tmp_path / "dashboard.png"
    shoot(page, server, http, shot)
    assert shot.read_bytes().startswith(b"\x89PNG")


def main(argv: list[str]) -> int:
    """Save the screenshot of docs/dashboard.md: ``python -m tests.test_dashboard [PATH]``."""
    target = Path(argv[0] if argv else Path(__file__).resolve().parents[1] / "docs" / "dashboard.png")
    with (
        MockServer(fixtures=[DEFAULT_FIXTURE], seed=11) as server,
        httpx.Client(base_url=server.url, timeout=10) as http,
        playwright_api.sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORT)
        errors = watch_console(page, [])
        open_dashboard(page, server)
        shoot(page, server, http, target)
        browser.close()
    if errors:
        print(f"console errors: {errors}", file=sys.stderr)
        return 1
    print(f"saved {target} ({target.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


# -- first hour: first state, hint, search, copy-as-curl, layout ------------------------------------


def test_the_first_state_is_rendered_before_the_stream_connects(
    server: MockServer, browser: Browser, console_errors: list[str]
) -> None:
    server.world.reset()
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    watch_console(page, console_errors)
    held: list[Any] = []
    released: list[bool] = []
    # Hold the fault rules, one part of the first state: until it is in, the page is loading.
    # Once released, a later fetch of them goes through (none may be left hanging).
    page.route("**/_mock/faults", lambda route: route.continue_() if released else held.append(route))
    with page.expect_request("**/_mock/faults"):
        page.goto(server.url + DASHBOARD)
    expect(page.locator("#agora-agents-empty")).to_be_hidden()  # no "No agents yet" while loading
    expect(page.locator("#faults-empty")).to_be_hidden()
    expect(page.locator("#conn")).to_have_text("Stream: connecting…")  # the stream waits for the state
    assert held  # (route handlers run while the expectations above wait)
    released.append(True)
    for route in held:
        route.continue_()
    page.unroute("**/_mock/faults")
    expect(page.locator("#conn")).to_have_text("Stream: Live")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#tenant-list")).to_contain_text("demo-customer-id")
    expect(page.locator("#faults-empty")).to_be_visible()
    context.close()
    assert not console_errors, console_errors


def test_the_empty_feed_hint_names_the_pages_own_origin(page: Page, server: MockServer) -> None:
    hint = page.locator("#feed-hint")
    expect(hint).to_contain_text(f"curl -X POST {server.url}/v1/agent/A12345678/speak")
    expect(hint).not_to_contain_text("localhost:8080")


def test_the_faults_panel_is_above_the_fold(page: Page) -> None:
    box = page.locator("#faults-h").bounding_box()
    assert box is not None and box["y"] + box["height"] <= VIEWPORT["height"]


def test_search_and_copy_as_curl_in_the_request_log(page: Page, http: httpx.Client) -> None:
    assert speak(http, "first words") == 200
    assert speak(http, "x", secret="wrong") == 401
    rows = page.locator("#journal-rows tr.req")
    expect(rows).to_have_count(2, timeout=3000)
    page.fill("#journal-search", "first words")
    expect(rows.nth(0)).to_be_hidden()  # the 401: its body says "x"
    expect(rows.nth(1)).to_be_visible()
    page.fill("#journal-search", "")
    expect(rows.nth(0)).to_be_visible()

    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    rows.nth(1).get_by_role("button").click()
    details = page.locator("#journal-rows tr.detail:visible")
    command = details.locator("pre.curl")
    expect(command).to_contain_text(f"curl -X POST '{page.url.split('/_mock')[0]}/v1/agent/A12345678/speak'")
    expect(command).to_contain_text("-H 'api-secret: [redacted]'")
    expect(command).to_contain_text('"message": "first words"')
    details.get_by_role("button", name="Copy as curl").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("curl -X POST ") and DOCS_SECRET not in copied
    expect(page.locator("#tenant-list")).to_be_visible()
    tenant = rows.nth(1).locator("td.tenant")
    assert tenant.evaluate("el => getComputedStyle(el).userSelect") == "all"


def test_a_shortened_agent_id_is_copied_whole(page: Page, http: httpx.Client) -> None:
    agent_id = start_agora_agent(http)
    shown = page.locator(f"#agora-list [data-full='{agent_id}']")
    expect(shown).to_contain_text("…")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    shown.click()  # user-select: all selects the whole id
    page.evaluate("document.execCommand('copy')")
    assert page.evaluate("navigator.clipboard.readText()") == agent_id


def test_an_event_unfolds_to_every_field(page: Page, http: httpx.Client) -> None:
    assert speak(http, "details please") == 200
    event = page.locator("#feed-list li.ev").first
    expect(event.locator(".ev-text")).to_have_text("details please")
    expect(event.locator("pre.ev-json")).to_be_hidden()
    event.locator("summary").click()
    shown = event.locator("pre.ev-json")
    expect(shown).to_be_visible()
    expect(shown).to_contain_text('"operation": "bithuman_speak"')
    expect(shown).to_contain_text('"room": "room_1"')


def test_chaos_rules_are_added_and_removed_and_coverage_is_shown(
    page: Page, server: MockServer, http: httpx.Client
) -> None:
    expect(page.locator("#chaos-scenario option")).not_to_have_count(0)
    page.select_option("#chaos-scenario", "rtc_drop")
    expect(page.locator("#chaos-summary")).to_contain_text("agora")
    page.fill("#chaos-tenant", "demo-customer-id")
    page.get_by_role("button", name="Add chaos rule").click()
    rule = page.locator("#chaos-list li").first
    expect(rule).to_contain_text("rtc_drop")
    expect(rule).to_contain_text("demo-customer-id")
    [added] = server.world.chaos.list_rules()
    assert (added.scenario, added.tenant) == ("rtc_drop", "demo-customer-id")
    page.get_by_role("button", name=f"Remove chaos rule {added.id}").click()
    expect(page.locator("#chaos-list li")).to_have_count(0)
    assert server.world.chaos.list_rules() == []

    # The coverage panel follows what vendor requests exercised.
    assert speak(http, "counted") == 200
    expect(page.locator("#coverage-total")).to_contain_text("exercised by vendor requests")
    expect(page.locator("#coverage-areas")).to_contain_text("bithuman")
    expect(page.locator("#coverage-gaps li")).not_to_have_count(0)
