"""pytest plugin (entry point ``mockserver``): one mock per session, fresh tenants per test.

After ``pip install agent-mockserver`` a test asks for ``mockserver`` and arranges what it needs::

    def test_announce(mockserver):
        agent = mockserver.bithuman.agent(rooms=["r1"])
        announce(mockserver.url, agent.api_secret, agent.code, "20% off")
        agent.assert_said("20% off", room="r1")

Tests never share state because each one works in tenants of its own (unique ids), not because
the world is reset: so a session needs one server, tests stay independent, and several pytest-xdist
workers (or sessions) can share one server given with ``--mockserver-url``. Everything the handle
does goes through the control plane (``mockserver.client``), whether the server is the in-thread
one, one started elsewhere, or the app called in process (``mockserver_inprocess``).
See docs/pytest-plugin.md.

PYTEST_DONT_REWRITE: the helpers raise their own readable AssertionErrors, so there is nothing to
rewrite, and a nested session (pytester) would warn that the module was imported already.
"""

from __future__ import annotations

import collections
import itertools
import logging
import math
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from secrets import token_hex
from typing import TYPE_CHECKING, Any

import pytest

from .client import ASGITransport, ControlClient, ControlError, Event, httpx_transport, quote, requests_adapter

if TYPE_CHECKING:
    from .server import MockServer

__all__ = ["Account", "Agent", "Agora", "AgoraAgent", "BitHuman", "Clock", "Mockserver", "Project"]

_SESSION_TAG = token_hex(3)  # two sessions sharing one server never pick the same tenant ids
_serial = itertools.count(1)
_ERRORS = pytest.StashKey["_ServerErrors"]()


class Mockserver:
    """What a test gets from ``mockserver``: fresh tenants, the clock, the inbox, the URL.

    Attributes:
        url: the base URL of both vendor APIs and the control plane.
        client: the ``ControlClient`` underneath, for anything the helpers do not cover.
        bithuman: makes bitHuman accounts and agents (``.agent(rooms=[...])``).
        agora: makes Agora customers and projects (``.project()``).
        clock: the mock clock, shared by every tenant of the server.
        tenants: the tenants this test created or loaded; they are reset when it ends.
    """

    def __init__(
        self, client: ControlClient, *, base_dir: Path | None = None, check: Callable[[], None] | None = None
    ) -> None:
        self.client = client
        self.url = client.url
        self.clock = Clock(client)
        self.bithuman = BitHuman(self)
        self.agora = Agora(self)
        self.tenants: list[str] = []
        self._base_dir = base_dir
        self._check = check
        self._closers: list[Callable[[], None]] = []

    @property
    def in_process(self) -> bool:
        """True when requests go to the app in this process, not over a socket."""
        return isinstance(self.client.transport, ASGITransport)

    def new_id(self) -> str:
        """A tenant id no other test, worker or session uses."""
        return f"ms-{_SESSION_TAG}-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-{next(_serial)}"

    def adopt(self, tenant: str) -> None:
        """Reset ``tenant`` when the test ends (the helpers do it for what they create)."""
        self.tenants.append(tenant)

    def load_fixture(self, path: str | os.PathLike[str]) -> list[str]:
        """Load a fixture file (relative paths: from the test's directory); returns its tenant ids.

        The tenants it names replace existing ones of the same id and are reset after the test;
        a ``clock`` section changes the shared clock until then.
        """
        found = Path(path)
        if not found.is_absolute() and self._base_dir is not None and (self._base_dir / found).exists():
            found = self._base_dir / found
        if not found.is_file():
            where = f"{self._base_dir} or {Path.cwd()}" if self._base_dir else str(Path.cwd())
            raise FileNotFoundError(f"fixture file {str(path)!r} is not in {where}")
        self.clock.snapshot()
        try:
            loaded = self.client.load_fixture(found.read_bytes())
        except ControlError as exc:
            exc.add_note(f"while loading the fixture file {found}")
            raise
        self.tenants.extend(loaded)
        return loaded

    def events(self, **filters: Any) -> list[Event]:
        """The whole inbox, filtered (tenant, vendor, agent, room, kind, since, limit)."""
        return self.client.list_inbox(**filters)

    def httpx_client(self, **kwargs: Any) -> Any:
        """An ``httpx.Client`` on ``url`` that reaches this mock (in process too); closed after the test."""
        import httpx

        if self.in_process:
            kwargs.setdefault("transport", httpx_transport(self.client.transport))
        client = httpx.Client(base_url=self.url, **kwargs)
        self._closers.append(client.close)
        return client

    def requests_session(self) -> Any:
        """A ``requests.Session`` that reaches this mock (in process too); closed after the test."""
        import requests

        session = requests.Session()
        if self.in_process:
            session.mount(self.url, requests_adapter(self.client.transport))
        self._closers.append(session.close)
        return session

    def raise_if_failed(self) -> None:
        """Fail now if the server thread died or a request hit an error inside the mock."""
        __tracebackhide__ = True
        if self._check is not None:
            self._check()

    def close(self) -> None:
        """Reset this test's tenants, put the clock back to running if the test stopped it."""
        closers, self._closers = self._closers, []
        tenants, self.tenants = dict.fromkeys(self.tenants), []
        for close in closers:
            close()
        for tenant in tenants:
            try:
                self.client.reset_world(tenant)
            except ControlError as exc:
                if exc.status != 404:  # the test deleted it itself
                    raise
        self.clock.restore()


# -- the handles -----------------------------------------------------------------------------------

Expected = str | re.Pattern[str]
AGORA_PREFIX = "/api/conversational-ai-agent"
_MAX_STEPS = 1000  # clock steps one helper may take before it calls the agent stuck


class Clock:
    """The mock clock. It is shared by every tenant of the server (see docs: xdist).

    A test that freezes or resumes it gets it back as it found it (running, at the same speed)
    when it ends; time that was advanced stays advanced, because the clock only moves forward.
    """

    def __init__(self, client: ControlClient) -> None:
        self._client = client
        self._saved: dict[str, Any] | None = None

    def now(self) -> float:
        """Mock time, in unix seconds."""
        return float(self._client.get_clock()["now"])

    @property
    def frozen(self) -> bool:
        return bool(self._client.get_clock()["frozen"])

    def freeze(self, at: float | str | None = None) -> float:
        """Stop time, now or at ``at`` (unix seconds or ISO-8601). Returns the frozen time."""
        self.snapshot()
        return float(self._client.freeze_clock(at)["now"])

    def advance(self, seconds: float) -> float:
        """Move time forward (frozen or running); scheduled agent events fall due. Returns the new time."""
        return float(self._client.advance_clock(seconds)["now"])

    def resume(self, speed: float = 1.0) -> float:
        """Let time run again, ``speed`` times real time."""
        self.snapshot()
        return float(self._client.resume_clock(speed)["now"])

    def snapshot(self) -> None:
        """Remember how the clock runs now, to put it back so after the test (first call wins)."""
        if self._saved is None:
            self._saved = self._client.get_clock()

    def restore(self) -> None:
        saved, self._saved = self._saved, None
        if saved is not None and saved["frozen"]:
            self._client.freeze_clock()
        elif saved is not None:
            self._client.resume_clock(saved["speed"])


def _matches(expected: Expected, text: str) -> bool:
    return expected == text if isinstance(expected, str) else expected.search(text) is not None


def _in_order(expected: tuple[Expected, ...], actual: list[str]) -> bool:
    rest = iter(actual)
    return all(any(_matches(e, text) for text in rest) for e in expected)  # a subsequence, in order


def _lines(items: Any) -> str:
    shown = [repr(i) if isinstance(i, str) else f"/{i.pattern}/ (a pattern)" for i in items]
    return "\n".join(f"    {s}" for s in shown) or "    (nothing)"


def _expect(who: str, verb: tuple[str, str], expected: tuple[Expected, ...], actual: list[str], events: Any) -> None:
    __tracebackhide__ = True
    if (_in_order(expected, actual) and expected) or (not expected and not actual):
        return
    wanted = (
        f"expected to {verb[0]}, in this order:\n{_lines(expected)}" if expected else f"expected to {verb[0]} nothing"
    )
    story = "\n".join(f"    {e.describe()}" for e in events) or "    (nothing)"
    raise AssertionError(
        f"{who} was {wanted}\nwhat it {verb[1]}:\n{_lines(actual)}\nall its events, oldest first:\n{story}"
    )


class BitHuman:
    """Makes bitHuman tenants: each call is a new account with an api-secret of its own."""

    def __init__(self, ms: Mockserver) -> None:
        self._ms = ms

    def account(
        self, *, agents: Any = (), secrets: list[str] | None = None, dialect: str | None = None, rate_limit: Any = None
    ) -> Account:
        """A fresh account; ``agents`` as in the control plane (``[{"code": ..., "rooms": [...]}]``)."""
        tenant = self._ms.new_id()
        body: dict[str, Any] = {"id": tenant, "secrets": secrets or [f"sk_{token_hex(16)}"], "agents": list(agents)}
        if dialect is not None:
            body["dialect"] = dialect
        if rate_limit is not None:
            body["rate_limit"] = rate_limit
        raw = self._ms.client.call("POST", "/_mock/bithuman/accounts", body)
        self._ms.adopt(tenant)
        return Account(self._ms, raw)

    def agent(self, code: str | None = None, *, rooms: Any = ("room-1",), **account: Any) -> Agent:
        """A fresh account with one agent in ``rooms`` (active; ``{"id", "active": False}`` for a closed one)."""
        spec = {"rooms": list(rooms), **({"code": code} if code else {})}
        return self.account(agents=[spec], **account).agents[0]

    def get_account(self, account_id: str) -> Account:
        """An account that exists already (from a fixture file, say)."""
        return Account(self._ms, self._ms.client.call("GET", f"/_mock/bithuman/accounts/{quote(account_id)}"))


class Account:
    """A bitHuman account: ``.id``, ``.api_secret`` (``.secrets``), ``.agents``."""

    def __init__(self, ms: Mockserver, raw: dict[str, Any]) -> None:
        self._ms = ms
        self.id: str = raw["id"]
        self.secrets: list[str] = list(raw["secrets"])
        self.path = f"/_mock/bithuman/accounts/{quote(self.id)}"
        self.agents = [Agent(self, a["code"]) for a in raw.get("agents", ())]

    @property
    def api_secret(self) -> str:
        return self.secrets[0]

    def agent(self, code: str | None = None, *, rooms: Any = ("room-1",)) -> Agent:
        """Add an agent to this account."""
        body = {"rooms": list(rooms), **({"code": code} if code else {})}
        agent = Agent(self, self._ms.client.call("POST", f"{self.path}/agents", body)["code"])
        self.agents.append(agent)
        return agent

    def get_agent(self, code: str) -> Agent:
        return next((a for a in self.agents if a.code == code), None) or Agent(self, code)

    def update(self, **changes: Any) -> dict[str, Any]:
        """Change ``secrets``, ``dialect`` or ``rate_limit`` (``None`` clears the last two)."""
        raw: dict[str, Any] = self._ms.client.call("PATCH", self.path, changes)
        self.secrets = list(raw["secrets"])
        return raw

    def events(self, **filters: Any) -> list[Event]:
        return self._ms.client.list_inbox(tenant=self.id, **filters)


class Agent:
    """A bitHuman agent: ``.code``, ``.api_secret``; what it was told, and assertions on it."""

    def __init__(self, account: Account, code: str) -> None:
        self.account, self.code = account, code
        self._client = account._ms.client
        self.path = f"{account.path}/agents/{quote(code)}"

    @property
    def api_secret(self) -> str:
        return self.account.api_secret

    @property
    def rooms(self) -> list[str]:
        """The ids of its active rooms."""
        return [r["id"] for r in self._client.call("GET", self.path)["rooms"] if r["active"]]

    def open_room(self, room_id: str | None = None) -> str:
        """Open (or re-open) a room; returns its id (generated when not given)."""
        return str(self._client.call("POST", f"{self.path}/rooms", {"room_id": room_id} if room_id else {})["id"])

    def close_room(self, room_id: str) -> None:
        """Close a room: deliveries stop reaching it."""
        self._client.call("POST", f"{self.path}/rooms/{quote(room_id)}/close")

    def events(self, *, kind: str | None = None, room: str | None = None) -> list[Event]:
        """What it received, oldest first."""
        return self._client.list_inbox(tenant=self.account.id, agent=self.code, kind=kind, room=room)

    def said(self, room: str | None = None) -> list[str]:
        """The texts it was told to speak (in ``room``, or in any), in order."""
        return [e.text for e in self.events(kind="speech", room=room)]

    def context(self, room: str | None = None) -> list[str]:
        """The background context it received, in order."""
        return [e.text for e in self.events(kind="context", room=room)]

    def _who(self, room: str | None) -> str:
        return f"bitHuman agent {self.code!r} (account {self.account.id!r}{f', room {room!r}' if room else ''})"

    def assert_said(self, *expected: Expected, room: str | None = None) -> None:
        """Assert it was told to say these (strings, or ``re`` patterns), in this order, among others."""
        __tracebackhide__ = True
        _expect(self._who(room), ("say", "said"), expected, self.said(room), self.events())

    def assert_context(self, *expected: Expected, room: str | None = None) -> None:
        """Assert it received this background context, in this order, among other context."""
        __tracebackhide__ = True
        _expect(self._who(room), ("receive as context", "received"), expected, self.context(room), self.events())

    def assert_silent(self, room: str | None = None) -> None:
        """Assert it was told to say nothing."""
        __tracebackhide__ = True
        _expect(self._who(room), ("say", "said"), (), self.said(room), self.events())


class Agora:
    """Makes Agora tenants: each ``project()`` is a new customer (id, secret) with one project."""

    def __init__(self, ms: Mockserver) -> None:
        self._ms = ms

    def project(self, *, responder: Any = None, **options: Any) -> Project:
        """A fresh customer and project.

        Args:
            responder: scripted replies to user speech: ``{"regex": "reply"}`` or ``[{match, reply}]``
                (first match wins; the agent echoes otherwise).
            **options: ``concurrency_limit``, ``startup_delay``, ``tokens``, ``app_certificate``.
        """
        tenant, appid = self._ms.new_id(), token_hex(16)
        project = {"appid": appid, **options}
        if responder is not None:
            project["responder"] = _rules(responder)
        body = {"id": tenant, "secret": token_hex(16), "projects": [project]}
        raw = self._ms.client.call("POST", "/_mock/agora/customers", body)
        self._ms.adopt(tenant)
        return Project(self._ms, appid, raw)

    def get_project(self, appid: str) -> Project:
        """A project that exists already (from a fixture file, say)."""
        customer = self._ms.client.call("GET", f"/_mock/agora/projects/{quote(appid)}")["customer_id"]
        return Project(self._ms, appid, self._ms.client.call("GET", f"/_mock/agora/customers/{quote(customer)}"))


def _rules(responder: Any) -> list[dict[str, str]]:
    if isinstance(responder, dict):
        return [{"match": match, "reply": reply} for match, reply in responder.items()]
    return [dict(rule) for rule in responder]


class Project:
    """An Agora project: ``.app_id``, ``.customer_id``, ``.customer_secret``, ``.auth_header``, ``.base_url``."""

    def __init__(self, ms: Mockserver, app_id: str, customer: dict[str, Any]) -> None:
        self._ms = ms
        self.app_id = app_id
        self.customer_id: str = customer["id"]
        self.customer_secret: str = customer["secret"]
        self.auth_header: str = customer["basic_authorization"]
        self.url = ms.url
        self.base_url = ms.url + AGORA_PREFIX  # what the SDK's ``base_url`` wants
        self.path = f"/_mock/agora/projects/{quote(app_id)}"

    def sdk(self, **kwargs: Any) -> Any:
        """The official SDK's client (``agora-agents``), authenticated, reaching this mock."""
        try:
            from agora_agent.client import Agora as AgoraSDK
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("project.sdk() needs the official SDK: pip install agora-agents") from exc
        kwargs.setdefault("httpx_client", self._ms.httpx_client(timeout=30))
        return AgoraSDK(
            base_url=self.base_url,
            authorization=self.auth_header,
            username=self.customer_id,
            password=self.customer_secret,
            **kwargs,
        )

    def agent(self, agent_id: str) -> AgoraAgent:
        """The handle of an agent started through the API."""
        return AgoraAgent(self, agent_id)

    def respond(self, match: str, reply: str) -> None:
        """Add a scripted reply: user speech that ``match`` finds is answered with ``reply``."""
        rules = self._ms.client.call("GET", self.path)["responder"]
        self.update(responder=[*rules, {"match": match, "reply": reply}])

    def update(self, **changes: Any) -> dict[str, Any]:
        """Change ``responder``, ``concurrency_limit``, ``startup_delay`` or ``tokens``."""
        if "responder" in changes:
            changes["responder"] = _rules(changes["responder"])
        return self._ms.client.call("PATCH", self.path, changes)

    def events(self, **filters: Any) -> list[Event]:
        return self._ms.client.list_inbox(tenant=self.customer_id, **filters)


class AgoraAgent:
    """An Agora agent of a project: arrange what its user does, read what it said.

    Reading anything first brings the agent up to the mock clock (its speech, thinking, idle
    timeout and stop are scheduled on it), so the answer is what the clock says now.
    """

    def __init__(self, project: Project, agent_id: str) -> None:
        self.project, self.agent_id = project, agent_id
        self._ms = project._ms
        self.path = f"{project.path}/agents/{quote(agent_id)}"

    def state(self) -> dict[str, Any]:
        """The simulation's view: ``status``, ``state``, ``current``, ``queue``, ``users_present``..."""
        return self._ms.client.call("GET", self.path)

    @property
    def status(self) -> str:
        """IDLE, STARTING, RUNNING, STOPPING, STOPPED or FAILED."""
        return str(self.state()["status"])

    @property
    def activity(self) -> str:
        """listening, thinking or speaking."""
        return str(self.state()["state"])

    def user_joins(self) -> None:
        self._ms.client.call("POST", f"{self.path}/user/join")

    def user_leaves(self) -> None:
        """The remote user leaves: the agent stops ``idle_timeout`` seconds later (on the mock clock)."""
        self._ms.client.call("POST", f"{self.path}/user/leave")

    def user_says(self, text: str, *, wait: bool = True) -> str:
        """The simulated user speaks; returns the outcome: heard, queued or ignored.

        With ``wait`` the mock clock is advanced until the agent has finished thinking and started
        its reply (0.8 s for a heard utterance), so ``said()`` lists the reply at once. The clock
        is the server's, shared by every tenant: see docs/pytest-plugin.md before using it with
        ``--mockserver-url`` and pytest-xdist.
        """
        state = self._ms.client.call("POST", f"{self.path}/user/say", {"text": text})
        outcome = str(state.get("outcome", ""))
        if wait and outcome in ("heard", "queued"):
            turn = (state["current"] if outcome == "heard" else state["queue"][-1])["turn_id"]
            self._run(state, lambda s: any(a["turn_id"] == turn and a["kind"] == "thinking" for a in _doing(s)))
        return outcome

    def fail(self, message: str | None = None) -> None:
        """Force the agent to FAILED."""
        self._ms.client.call("POST", f"{self.path}/fail", {"message": message} if message else {})

    def speak(self, text: str, *, priority: str = "INTERRUPT", interruptable: bool = True) -> None:
        """Make it speak through the vendor API (``POST …/speak``), as the code under test would."""
        target = f"{AGORA_PREFIX}/v2/projects/{quote(self.project.app_id)}/agents/{quote(self.agent_id)}/speak"
        body = {"text": text, "priority": priority, "interruptable": interruptable}
        self._ms.client.call("POST", target, body, headers={"authorization": self.project.auth_header})

    def busy(self, seconds: float = 5.0, *, interruptable: bool = True) -> None:
        """Keep it speaking for ``seconds`` of mock time (a filler text, which ``said()`` lists)."""
        from .world.conversation import SPEECH_MS_PER_CHAR

        chars = max(1, math.ceil(seconds * 1000 / SPEECH_MS_PER_CHAR))
        filler = ("Please hold. " * (chars // 13 + 1))[:chars]
        for n, start in enumerate(range(0, chars, 512)):  # the API takes 512 bytes a request
            self.speak(
                filler[start : start + 512], priority="APPEND" if n else "INTERRUPT", interruptable=interruptable
            )

    def advance_until_listening(self) -> dict[str, Any]:
        """Advance the mock clock until it has nothing left to say or think; returns its state."""
        return self._run(self.state(), lambda s: bool(_doing(s)))

    def _run(self, state: dict[str, Any], busy: Any) -> dict[str, Any]:
        for _ in range(_MAX_STEPS):
            current = state.get("current")
            if current is None or not busy(state):
                return state
            # Step to the end of what it is doing now: the next scheduled change. The microsecond
            # makes sure float rounding never leaves the clock a hair short of it.
            self._ms.clock.advance(max(0.0, current["end"] - self._ms.clock.now()) + 1e-6)
            state = self.state()
        raise RuntimeError(f"Agora agent {self.agent_id} was still busy after {_MAX_STEPS} clock steps")

    def events(self, kind: str | None = None) -> list[Event]:
        """Everything that happened to it (lifecycle, speech, thinking, users), oldest first."""
        self.state()  # bring it up to the clock: due events are recorded when it is read
        return self._ms.client.list_inbox(tenant=self.project.customer_id, agent=self.agent_id, kind=kind)

    def said(self) -> list[str]:
        """What it spoke (greeting, replies, speak), in order; interrupted speech included."""
        return [e.text for e in self.events("speech") if e.outcome == "spoken"]

    def heard(self) -> list[str]:
        """What the simulated user said to it (not ignored), in order."""
        return [e.text for e in self.events("user_speech") if e.outcome in ("heard", "queued")]

    def context(self) -> list[str]:
        """What was injected with ``think`` (not ignored), in order."""
        return [e.text for e in self.events("think") if e.outcome in ("thinking", "queued")]

    def _who(self) -> str:
        return f"Agora agent {self.agent_id!r} (project {self.project.app_id!r})"

    def assert_said(self, *expected: Expected) -> None:
        """Assert it spoke these (strings, or ``re`` patterns), in this order, among others."""
        __tracebackhide__ = True
        events = self.events()
        said = [e.text for e in events if e.kind == "speech" and e.outcome == "spoken"]
        _expect(self._who(), ("say", "said"), expected, said, events)

    def assert_context(self, *expected: Expected) -> None:
        """Assert ``think`` injected these, in this order, among others."""
        __tracebackhide__ = True
        events = self.events()
        thought = [e.text for e in events if e.kind == "think" and e.outcome in ("thinking", "queued")]
        _expect(self._who(), ("receive with think", "received"), expected, thought, events)

    def assert_status(self, expected: str) -> None:
        """Assert its status (RUNNING, STOPPED, FAILED...), showing its lifecycle if not."""
        __tracebackhide__ = True
        state = self.state()
        if state["status"] != expected:
            story = "\n".join(f"    {e.describe()}" for e in self.events("lifecycle")) or "    (nothing)"
            message = f" ({state['message']})" if state.get("message") else ""
            raise AssertionError(
                f"{self._who()} was expected to be {expected}, but it is {state['status']}{message}\n"
                f"its lifecycle, oldest first:\n{story}"
            )


def _doing(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in [state.get("current"), *state.get("queue", ())] if a]


# -- errors in the server ---------------------------------------------------------------------------


class _ServerErrors(logging.Handler):
    """Collects errors the mock logs while serving (a handler that raised, uvicorn failing)."""

    LOGGERS = ("mockserver", "uvicorn.error")

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: collections.deque[logging.LogRecord] = collections.deque(maxlen=50)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.count += 1

    def since(self, mark: int) -> list[logging.LogRecord]:
        return list(self.records)[-(self.count - mark) :] if self.count > mark else []


# -- hooks ----------------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mockserver", "agent-mockserver")
    group.addoption(
        "--mockserver-url",
        default=None,
        help="use the mock server at this URL instead of starting one per session (env: MOCKSERVER_URL)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "mockserver_fixture(*paths): load these fixture files (relative to the test file) into the mock for the test",
    )
    errors = config.stash[_ERRORS] = _ServerErrors()
    for name in _ServerErrors.LOGGERS:
        logging.getLogger(name).addHandler(errors)


def pytest_unconfigure(config: pytest.Config) -> None:
    errors = config.stash.get(_ERRORS, None)
    if errors is not None:
        for name in _ServerErrors.LOGGERS:
            logging.getLogger(name).removeHandler(errors)


def pytest_report_header(config: pytest.Config) -> str | None:
    url = _external_url(config)
    return f"mockserver: using {url}" if url else None


def _external_url(config: pytest.Config) -> str | None:
    return config.getoption("mockserver_url", default=None) or os.environ.get("MOCKSERVER_URL") or None


# -- configuration fixtures (override them in a conftest.py) --------------------------------------


@pytest.fixture(scope="session")
def mockserver_listen_address() -> tuple[str, int]:
    """Where the session's server listens: ``MOCKSERVER_HOST`` / ``MOCKSERVER_PORT``, else 127.0.0.1:0."""
    return os.environ.get("MOCKSERVER_HOST", "127.0.0.1"), int(os.environ.get("MOCKSERVER_PORT", "0"))


@pytest.fixture(scope="session")
def mockserver_app_options() -> dict[str, Any]:
    """``create_app`` options of the session's mock (in-thread and in-process).

    Defaults from the environment: ``MOCKSERVER_FIXTURES`` (paths joined with ``os.pathsep``; the
    start-up world, empty otherwise), ``MOCKSERVER_SEED``, ``MOCKSERVER_BITHUMAN_DIALECT``.
    """
    options: dict[str, Any] = {}
    if os.environ.get("MOCKSERVER_FIXTURES"):
        options["fixtures"] = [p for p in os.environ["MOCKSERVER_FIXTURES"].split(os.pathsep) if p]
    if os.environ.get("MOCKSERVER_SEED"):
        options["seed"] = int(os.environ["MOCKSERVER_SEED"])
    if os.environ.get("MOCKSERVER_BITHUMAN_DIALECT"):
        options["bithuman_dialect"] = os.environ["MOCKSERVER_BITHUMAN_DIALECT"]
    return options


# -- the server, the client, the handles -----------------------------------------------------------


@pytest.fixture(scope="session")
def mockserver_server(
    pytestconfig: pytest.Config, mockserver_listen_address: tuple[str, int], mockserver_app_options: dict[str, Any]
) -> Iterator[MockServer]:
    """The session's ``MockServer``: uvicorn in a thread (skips the test under ``--mockserver-url``)."""
    if _external_url(pytestconfig):
        pytest.skip("needs the in-thread mock server, but --mockserver-url / MOCKSERVER_URL names another one")
    from .server import MockServer

    host, port = mockserver_listen_address
    server = MockServer(host=host, port=port, **mockserver_app_options)
    _no_delay(server)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _no_delay(server: MockServer) -> None:
    # MockServer binds a socket whose proto is 0, so asyncio never sets TCP_NODELAY on accepted
    # connections and each small response waits ~40 ms for a delayed ACK. Accepted sockets inherit
    # the option from the listening one on Linux and macOS. Harmless once server.py sets it itself.
    sock = getattr(server, "_sock", None)
    if sock is not None:
        import socket

        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


@pytest.fixture(scope="session")
def mockserver_url(request: pytest.FixtureRequest) -> str:
    """The base URL: ``--mockserver-url`` / ``MOCKSERVER_URL``, else the session's in-thread server."""
    url = _external_url(request.config)
    return url.rstrip("/") if url else str(request.getfixturevalue("mockserver_server").url)


@pytest.fixture(scope="session")
def mockserver_client(mockserver_url: str) -> Iterator[ControlClient]:
    """A ``ControlClient`` of the session's mock (HTTP)."""
    with ControlClient(mockserver_url) as client:
        yield client


@pytest.fixture
def mockserver(request: pytest.FixtureRequest, mockserver_client: ControlClient) -> Iterator[Mockserver]:
    """A handle on the session's mock for one test: fresh tenants, reset when the test ends."""
    server = None if _external_url(request.config) else request.getfixturevalue("mockserver_server")
    yield from _handle(request, mockserver_client, server)


@pytest.fixture(scope="session")
def mockserver_app(mockserver_app_options: dict[str, Any]) -> Any:
    """The session's in-process app (``create_app``): its own world, no socket, no thread."""
    from .app import create_app

    return create_app(**mockserver_app_options)


@pytest.fixture(scope="session")
def mockserver_inprocess_client(mockserver_app: Any) -> Iterator[ControlClient]:
    """A ``ControlClient`` that calls ``mockserver_app`` directly."""
    with ControlClient(ASGITransport(mockserver_app)) as client:
        yield client


@pytest.fixture
def mockserver_inprocess(
    request: pytest.FixtureRequest, mockserver_inprocess_client: ControlClient
) -> Iterator[Mockserver]:
    """Like ``mockserver``, in process: reach it with ``.httpx_client()``, ``.requests_session()`` or
    ``project.sdk()`` (its ``url`` is an ``.invalid`` one that no socket answers)."""
    yield from _handle(request, mockserver_inprocess_client, None)


def _handle(request: pytest.FixtureRequest, client: ControlClient, server: MockServer | None) -> Iterator[Mockserver]:
    errors: _ServerErrors = request.config.stash[_ERRORS]
    seen = errors.count  # only what goes wrong from now on is this test's

    def check() -> None:
        __tracebackhide__ = True
        if server is not None:
            server.raise_if_failed()
        failures = errors.since(seen)
        if failures:
            text = "\n".join(logging.Formatter().format(r) for r in failures)
            pytest.fail(f"the mock server failed while serving this test:\n{text}", pytrace=False)

    check()
    handle = Mockserver(client, base_dir=request.path.parent, check=check)
    try:
        # The closest mark comes first; load module and class marks before the test's own.
        for mark in reversed(list(request.node.iter_markers("mockserver_fixture"))):
            for path in mark.args:
                handle.load_fixture(path)
        yield handle
    finally:
        try:
            handle.close()
        finally:
            check()
