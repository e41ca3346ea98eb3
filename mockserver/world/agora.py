"""Agora Conversational AI Engine v2: customers, projects and agents (api-facts §2).

A customer (customer id + secret, HTTP Basic) owns projects (appid). Agents belong to a project
and live on the mock clock (see ``conversation.py``). A request authenticated with an
``agora token=`` AccessToken2 is tied to the project whose App ID the token carries.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
import threading
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .conversation import STATUS_CODES, Conversation
from .credentials import digest as _digest
from .errors import DomainError, ErrorCode

if TYPE_CHECKING:
    from . import World

__all__ = [
    "MAX_CUSTOMERS",
    "MAX_LIVE_AGENTS",
    "MAX_PROJECTS",
    "AgoraAgent",
    "AgoraWorld",
    "Customer",
    "Principal",
    "Project",
    "ResponderRule",
    "is_integer_uid",
    "parse_access_token",
]

VENDOR = "agora"
LIVE = ("STARTING", "RUNNING", "STOPPING")
STOPPED_KEPT = 500  # stopped agents kept per project for get/turns (oldest forgotten first)
# Bounds of our choosing (the vendor publishes no numbers; docs/control-plane.md lists them): a
# project without a concurrency_limit still runs at most MAX_LIVE_AGENTS agents at once (join
# answers 422 ConcurrencyLimitExceeded beyond), so a long-running mock never grows without limit.
MAX_LIVE_AGENTS = 1000
MAX_CUSTOMERS = 10_000
MAX_PROJECTS = 100  # per customer
# Responder rules (the scripted LLM) come from fixtures and the control plane: bounded in size and time.
MAX_RULE_PATTERN = 500
RULE_TIMEOUT = 0.05  # seconds of real time one pattern may search one input
MAX_REPLY = 10_000  # characters of a reply, "{text}" filled in
TURNS_KEPT_S = 7 * 24 * 3600  # turns of a finished session stay readable for 7 days
DEFAULT_ACTIONS = {"listening": "interrupt", "thinking": "interrupt", "speaking": "ignore"}  # v2.7+


# Words, spaces and bars (alternatives): a pattern made of these alone always compiles.
_PLAIN = re.compile(r"[\w |]*")


@dataclass(slots=True)
class ResponderRule:
    """A scripted LLM rule: if ``match`` (a case-insensitive regex) is found, reply ``reply``.

    A pattern is compiled, and so checked, when the rule is made; a plain one (``_PLAIN``, such as
    the default world's ``human|agent|person``) cannot fail, so it compiles on its first search
    instead: a world whose rules are all plain loads without importing ``regex``, a good part of
    the mock's start-up.
    """

    match: str
    reply: str
    pattern: Any = field(init=False, default=None, repr=False, compare=False)  # the compiled ``regex`` pattern

    def __post_init__(self) -> None:
        if len(self.match) > MAX_RULE_PATTERN:
            raise DomainError(ErrorCode.INVALID, f"responder match is longer than {MAX_RULE_PATTERN} characters")
        if _PLAIN.fullmatch(self.match) is None:
            self._compile()

    def _compile(self) -> Any:
        import regex

        try:
            self.pattern = regex.compile(self.match, regex.IGNORECASE | regex.VERSION0)
        except (regex.error, RecursionError, OverflowError) as exc:
            raise DomainError(
                ErrorCode.INVALID, f"responder match {self.match[:100]!r} is not a valid regex: {exc}"
            ) from None
        return self.pattern

    def found_in(self, text: str) -> bool:
        """Whether the pattern is in ``text``; a search that runs too long counts as no match.

        Rules come from fixtures and the control plane, so a pattern such as ``(a+)+$`` must not be
        able to hold the server: ``regex`` (unlike ``re``) bounds a search in time.
        """
        pattern = self.pattern if self.pattern is not None else self._compile()
        try:
            return pattern.search(text, timeout=RULE_TIMEOUT) is not None
        except TimeoutError:
            return False

    def to_dict(self) -> dict[str, str]:
        return {"match": self.match, "reply": self.reply}


@dataclass(slots=True)
class AgoraAgent:
    agent_id: str
    name: str
    appid: str
    channel: str
    properties: dict[str, Any]
    conversation: Conversation
    created: float
    preset: str | None = None
    pipeline_id: str | None = None

    @property
    def mllm(self) -> bool:
        props = self.properties
        return bool((props.get("mllm") or {}).get("enable")) or bool(
            (props.get("advanced_features") or {}).get("enable_mllm")
        )


@dataclass(slots=True)
class Project:
    appid: str
    customer_id: str
    app_certificate: str = ""  # every project has one, so token signatures are always verified
    tokens: list[str] = field(default_factory=list)
    concurrency_limit: int | None = None
    startup_delay: float = 0.0
    responder: list[ResponderRule] = field(default_factory=list)
    agents: dict[str, AgoraAgent] = field(default_factory=dict)
    # Opt-in: accept an AccessToken2 whatever its signature (App ID and expiry are still checked).
    accept_unsigned_tokens: bool = False
    # Indexes over the agents last seen live, so join checks names, uids and the limit in O(1):
    # an agent leaves them when it is next looked at and found finished (see AgoraWorld._retire).
    live: dict[str, AgoraAgent] = field(default_factory=dict)
    live_names: dict[str, str] = field(default_factory=dict)  # name -> agent id
    live_uids: dict[tuple[str, str], str] = field(default_factory=dict)  # (channel, agent_rtc_uid) -> agent id
    finished: deque[str] = field(default_factory=deque)  # finished agent ids, oldest first

    @property
    def live_limit(self) -> int:
        return min(self.concurrency_limit or MAX_LIVE_AGENTS, MAX_LIVE_AGENTS)

    def reply_to(self, text: str) -> str:
        for rule in self.responder:
            if rule.found_in(text):
                # Bounded: a reply of many "{text}" must not multiply a long input without end.
                return rule.reply.replace("{text}", text, MAX_REPLY // max(len(text), 1) + 1)[:MAX_REPLY]
        return text  # echo by default

    def to_dict(self) -> dict[str, Any]:
        return {
            "appid": self.appid,
            "customer_id": self.customer_id,
            "app_certificate": self.app_certificate,
            "accept_unsigned_tokens": self.accept_unsigned_tokens,
            "tokens": list(self.tokens),
            "concurrency_limit": self.concurrency_limit,
            "startup_delay": self.startup_delay,
            "responder": [r.to_dict() for r in self.responder],
            "agents": len(self.agents),
        }


@dataclass(slots=True)
class Customer:
    id: str
    secret: str
    projects: dict[str, Project] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "secret": self.secret, "projects": [p.to_dict() for p in self.projects.values()]}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a customer (Basic), or one project of a customer (token)."""

    customer: Customer
    project: Project | None = None  # set when authenticated by an AccessToken2
    token_channel: str | None = None


# Bounds of a real AccessToken2 (api-facts §2.2; built by the SDK's agentkit/token.py): a 32-byte
# HMAC-SHA256 signature, a 32-character App ID, a channel name under 64 bytes, a user account
# under 256 bytes and a handful of services with a few privileges each come to well under 1 KiB
# once decompressed. The bounds leave room
# for that and refuse anything larger before it costs memory (a zlib bomb inflates a 1 MiB header
# to gigabytes).
TOKEN_MAX_CHARS = 4096  # the encoded token, checked before base64-decoding it
TOKEN_MAX_BYTES = 4096  # the decompressed token
_SIGNATURE_BYTES = 32
_MAX_APP_ID = 256  # the control plane's own App ID limit
_MAX_SERVICES = 16


def _field(data: bytes, offset: int) -> tuple[bytes, int]:
    """A uint16-length-prefixed byte string at ``offset``, and the offset after it."""
    (n,) = struct.unpack_from("<H", data, offset)
    value = data[offset + 2 : offset + 2 + n]
    if len(value) != n:
        raise ValueError("a length field points past the end of the token")
    return value, offset + 2 + n


def _inflate(data: bytes) -> bytes:
    # zlib.decompress has no output limit: inflate at most one byte past the bound, and refuse a
    # stream that would go further or does not end.
    inflater = zlib.decompressobj()
    raw = inflater.decompress(data, TOKEN_MAX_BYTES + 1)
    if len(raw) > TOKEN_MAX_BYTES or inflater.unconsumed_tail:
        raise ValueError(f"it inflates to more than {TOKEN_MAX_BYTES} bytes")
    if not inflater.eof:
        raise ValueError("its compressed data is truncated")
    return raw


def parse_access_token(token: str) -> dict[str, Any]:
    """Decode an AccessToken2 (``007`` + base64(zlib(signature, app id, times, services))).

    Returns the app id, issue time, expiry, salt, signature, the signed bytes and the RTC channel.
    Raises ``ValueError`` when the text is not an AccessToken2, or is larger than a real one can be.
    """
    if not token.startswith("007"):
        raise ValueError("not an AccessToken2 (it does not start with 007)")
    if len(token) > TOKEN_MAX_CHARS:
        raise ValueError(f"longer than {TOKEN_MAX_CHARS} characters")
    try:
        raw = _inflate(base64.b64decode(token[3:].encode("ascii"), validate=True))
        signature, offset = _field(raw, 0)
        if len(signature) != _SIGNATURE_BYTES:
            raise ValueError(f"its signature is not {_SIGNATURE_BYTES} bytes")
        info = raw[offset:]
        app, offset = _field(info, 0)
        if len(app) > _MAX_APP_ID:
            raise ValueError(f"its App ID is longer than {_MAX_APP_ID} bytes")
        app_id = app.decode("utf-8")
        issue_ts, expire, salt, n_services = struct.unpack_from("<IIIH", info, offset)
        if n_services > _MAX_SERVICES:
            raise ValueError(f"it lists more than {_MAX_SERVICES} services")
        offset += 14
        channel = None
        for _ in range(n_services):
            service, n_priv = struct.unpack_from("<HH", info, offset)
            offset += 4 + n_priv * 6
            if offset > len(info):
                raise ValueError("a privilege count points past the end of the token")
            if service == 1:  # RTC: channel name, account
                name, offset = _field(info, offset)
                channel = name.decode("utf-8")
                _, offset = _field(info, offset)
            elif service == 2:  # RTM: user id
                _, offset = _field(info, offset)
            else:
                break
    except (struct.error, zlib.error, ValueError) as exc:  # binascii.Error and UnicodeError are ValueErrors
        detail = str(exc) if type(exc) is ValueError else exc.__class__.__name__
        raise ValueError(f"not a readable AccessToken2 ({detail})") from None
    return {
        "app_id": app_id,
        "issue_ts": issue_ts,
        "expire": expire,
        "salt": salt,
        "signature": signature,
        "info": info,
        "channel": channel,
    }


def _token_signature(certificate: str, token: dict[str, Any]) -> bytes:
    signing = hmac.new(struct.pack("<I", token["issue_ts"]), certificate.encode(), hashlib.sha256).digest()
    signing = hmac.new(struct.pack("<I", token["salt"]), signing, hashlib.sha256).digest()
    return hmac.new(signing, token["info"], hashlib.sha256).digest()


class AgoraWorld:
    """The Agora part of the world. Methods named after operations are the API's behaviour."""

    def __init__(self, world: World) -> None:
        self._world = world
        self._lock: threading.RLock = world.lock
        self.customers: dict[str, Customer] = {}
        self.projects: dict[str, Project] = {}  # appid -> project, across customers
        # Called under the world lock when a customer goes (None: every customer): what other
        # parts of the world hold for a customer (telephony's numbers and calls) goes with it.
        # ``World`` wires them, so this module knows no other vendor.
        self.customer_removed: list[Callable[[Customer | None], None]] = []

    # -- authentication ------------------------------------------------------------------------

    def authenticate(self, authorization: str | None) -> Principal:
        """Basic ``customer_id:secret``, or ``agora token=<AccessToken2>``; anything else is 401."""
        if not authorization or not authorization.strip():
            raise DomainError(
                ErrorCode.MISSING_AUTH, "Missing Authorization header: use Basic auth or 'agora token=<token>'"
            )
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "basic":
            return Principal(self._basic(value.strip()))
        if scheme.lower() == "agora" and value.strip().lower().startswith("token="):
            return self._token(value.strip()[6:])
        raise DomainError(
            ErrorCode.UNAUTHORIZED, "Unsupported Authorization scheme: use Basic auth or 'agora token=<token>'"
        )

    def _basic(self, value: str) -> Customer:
        # Header values arrive decoded as Latin-1, so they may hold any character: anything that is
        # not ASCII base64 of UTF-8 text is malformed (binascii.Error and UnicodeError are ValueErrors).
        try:
            customer_id, sep, secret = base64.b64decode(value.encode("ascii"), validate=True).decode().partition(":")
        except ValueError:
            raise DomainError(ErrorCode.UNAUTHORIZED, "Malformed Basic credentials") from None
        with self._lock:
            customer = self.customers.get(customer_id)
        ok = customer is not None and sep == ":" and hmac.compare_digest(_digest(secret), _digest(customer.secret))
        if not ok or customer is None:
            raise DomainError(ErrorCode.UNAUTHORIZED, "Invalid customer ID or customer secret")
        return customer

    def _token(self, token: str) -> Principal:
        # compare_digest refuses non-ASCII text: compare bytes.
        given = token.encode("utf-8", "surrogatepass")
        with self._lock:
            static = next(
                (
                    p
                    for p in self.projects.values()
                    if any(hmac.compare_digest(given, t.encode("utf-8", "surrogatepass")) for t in p.tokens)
                ),
                None,
            )
        if static is not None:
            return Principal(self.customers[static.customer_id], static)
        try:
            parsed = parse_access_token(token)
        except ValueError as exc:
            raise DomainError(ErrorCode.UNAUTHORIZED, f"Invalid token: {exc}") from None
        with self._lock:
            project = self.projects.get(parsed["app_id"])
        if project is None:
            raise DomainError(ErrorCode.UNAUTHORIZED, "Invalid token: its App ID is not a project of this mock")
        if not project.accept_unsigned_tokens and not hmac.compare_digest(
            _token_signature(project.app_certificate, parsed), parsed["signature"]
        ):
            raise DomainError(ErrorCode.UNAUTHORIZED, "Invalid token: the signature does not match the App Certificate")
        if self._world.clock.now() > parsed["issue_ts"] + parsed["expire"]:
            raise DomainError(ErrorCode.UNAUTHORIZED, "Invalid token: it has expired")
        return Principal(self.customers[project.customer_id], project, parsed["channel"])

    def project_for(self, principal: Principal, appid: str) -> Project:
        """The project ``appid`` if the caller may use it.

        Our choice (the vendor documents none): an appid that is not a project of the customer is
        403 ``InvalidPermission``; a token for another project is 401.
        """
        if principal.project is not None:
            if principal.project.appid != appid:
                raise DomainError(ErrorCode.UNAUTHORIZED, f"The token was issued for another App ID, not {appid!r}")
            return principal.project
        project = principal.customer.projects.get(appid)
        if project is None:
            raise DomainError(ErrorCode.FORBIDDEN, f"App ID {appid!r} is not a project of this customer")
        return project

    # -- the agent API ---------------------------------------------------------------------------

    def _agent(self, project: Project, agent_id: str, *, running: bool = True) -> AgoraAgent:
        agent = project.agents.get(agent_id)
        if agent is None:
            raise DomainError(ErrorCode.NOT_FOUND, f"agent {agent_id} not found", agent_id=agent_id)
        agent.conversation.advance(self._world.clock.now())
        status = agent.conversation.status
        if running and status != "RUNNING":
            raise DomainError(ErrorCode.NOT_FOUND, f"agent {agent_id} is {status}, not RUNNING", agent_id=agent_id)
        return agent

    def _emit(self, project: Project, agent_id: str, channel: str) -> Callable[..., int]:
        def emit(
            *, kind: str, text: str, outcome: str, time: float, data: dict[str, Any] | None = None, operation: str = ""
        ) -> int:
            event = self._world.inbox.record(
                time=time,
                vendor=VENDOR,
                tenant=project.customer_id,
                agent=agent_id,
                room=channel,
                kind=kind,
                text=text,
                operation=operation,
                outcome=outcome,
                data={"appid": project.appid, **(data or {})},
            )
            return event.id

        return emit

    def start_agent(
        self,
        principal: Principal,
        project: Project,
        body: dict[str, Any],
        *,
        greet_on_start: bool = True,
        operation: str = "start_agent",
    ) -> AgoraAgent:
        """``join``: validate the rules the schema cannot say, then start an agent.

        A telephony call starts its agent with ``greet_on_start=False``: it greets once the callee answers.
        """
        props = body["properties"]
        _check_modules(body)
        _check_uids(props)
        if principal.token_channel is not None and principal.token_channel != props["channel"]:
            raise DomainError(
                ErrorCode.UNAUTHORIZED,
                f"The token was issued for channel {principal.token_channel!r}, not {props['channel']!r}",
            )
        with self._lock:
            now = self._world.clock.now()
            clash = self._still_live(project, project.live_names.get(body["name"]), now)
            if clash is not None:
                raise DomainError(
                    ErrorCode.CONFLICT, f"agent name {body['name']!r} is already in use", agent_id=clash.agent_id
                )
            uid = props["agent_rtc_uid"]
            if uid != "0" and self._still_live(project, project.live_uids.get((props["channel"], uid)), now):
                raise DomainError(
                    ErrorCode.CONFLICT, f"agent_rtc_uid {uid!r} is already used in channel {props['channel']!r}"
                )
            limit = project.live_limit
            if len(project.live) >= limit:
                # Only at the limit does it pay to bring every live agent up to the clock.
                for other in list(project.live):
                    self._still_live(project, other, now)
            if len(project.live) >= limit:
                raise DomainError(
                    ErrorCode.CONCURRENCY_LIMIT,
                    f"project {project.appid} already runs {len(project.live)} agents (limit {limit})",
                )
            agent_id = "1NT29X" + self._world.ids.token("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 19)
            llm = props.get("llm") or {}
            mllm = props.get("mllm") or {}
            # mllm.max_history has no documented range: below 1 means the default (as 0 does), and
            # it is capped at llm.max_history's documented maximum.
            max_history = min(int(llm.get("max_history") or mllm.get("max_history") or 32), 1024)
            conversation = Conversation(
                start=now,
                startup_delay=project.startup_delay,
                idle_timeout=int(props.get("idle_timeout", 30)),
                max_history=max_history if max_history >= 1 else 32,
                greeting=llm.get("greeting_message") or mllm.get("greeting_message"),
                responder=project.reply_to,
                emit=self._emit(project, agent_id, props["channel"]),
                custom_llm=llm.get("vendor") == "custom",
                greet_on_start=greet_on_start,
            )
            agent = AgoraAgent(
                agent_id,
                body["name"],
                project.appid,
                props["channel"],
                props,
                conversation,
                now,
                body.get("preset"),
                body.get("pipeline_id"),
            )
            project.agents[agent_id] = agent
            project.live[agent_id] = agent
            project.live_names[agent.name] = agent_id
            if uid != "0":
                project.live_uids[(agent.channel, uid)] = agent_id
            conversation.emit(
                kind="lifecycle",
                text="STARTING",
                outcome="STARTING",
                time=now,
                data={"name": agent.name},
                operation=operation,
            )
            self._world.chaos.on_agent_start(project.customer_id, agent)
            conversation.advance(now)
            return agent

    def _still_live(self, project: Project, agent_id: str | None, now: float) -> AgoraAgent | None:
        """The agent if it is live at ``now``; a finished one leaves the live indexes."""
        agent = project.live.get(agent_id) if agent_id is not None else None
        if agent is None:
            return None
        agent.conversation.advance(now)
        if agent.conversation.live:
            return agent
        self._retire(project, agent)
        return None

    def _retire(self, project: Project, agent: AgoraAgent) -> None:
        del project.live[agent.agent_id]
        if project.live_names.get(agent.name) == agent.agent_id:
            del project.live_names[agent.name]
        key = (agent.channel, agent.properties["agent_rtc_uid"])
        if project.live_uids.get(key) == agent.agent_id:
            del project.live_uids[key]
        # Finished agents stay readable (get, turns) until STOPPED_KEPT newer ones have finished.
        project.finished.append(agent.agent_id)
        while len(project.finished) > STOPPED_KEPT:
            project.agents.pop(project.finished.popleft(), None)

    def list_agents(self, project: Project, query: dict[str, Any]) -> tuple[list[AgoraAgent], str, int]:
        now = self._world.clock.now()
        states = {int(s) for s in str(query.get("state", "2")).split(",")}
        start = float(query.get("from_time", now - 2 * 3600))
        end = float(query.get("to_time", now))
        with self._lock:
            found = [
                a
                for a in project.agents.values()
                if STATUS_CODES[_advanced(a, now).conversation.status] in states
                and start <= a.created <= end
                and ("channel" not in query or a.channel == query["channel"])
            ]
        offset = 0
        if query.get("cursor"):
            # Our choice: a cursor that names no agent of this listing (expired, or from another
            # filter) gives an empty last page rather than an error.
            ids = [a.agent_id for a in found]
            offset = ids.index(query["cursor"]) if query["cursor"] in ids else len(found)
        limit = int(query.get("limit", 20))
        page = found[offset : offset + limit]
        following = found[offset + limit : offset + limit + 1]
        return page, following[0].agent_id if following else "", len(found)

    def get_agent(self, project: Project, agent_id: str) -> AgoraAgent:
        with self._lock:
            return self._agent(project, agent_id, running=False)

    def get_agent_history(self, project: Project, agent_id: str) -> AgoraAgent:
        with self._lock:
            return self._agent(project, agent_id)

    def get_agent_turns(self, project: Project, agent_id: str) -> AgoraAgent:
        with self._lock:
            agent = self._agent(project, agent_id, running=False)
            stopped = agent.conversation.stopped_at
            if not agent.conversation.live and stopped and self._world.clock.now() > stopped + TURNS_KEPT_S:
                raise DomainError(
                    ErrorCode.NOT_FOUND, f"agent {agent_id}: its turns are kept for 7 days", agent_id=agent_id
                )
            return agent

    def stop_agent(self, project: Project, agent_id: str) -> AgoraAgent:
        with self._lock:
            agent = self._agent(project, agent_id, running=False)
            conv = agent.conversation
            if conv.status in ("STOPPED", "FAILED"):
                raise DomainError(ErrorCode.NOT_FOUND, f"agent {agent_id} has already exited", agent_id=agent_id)
            if conv.status == "STOPPING" or conv.stop_at is not None:
                return agent  # already on its way out
            farewell = (agent.properties.get("parameters") or {}).get("farewell_config") or {}
            graceful = float(farewell.get("graceful_timeout_seconds", 30)) if farewell.get("graceful_enabled") else None
            conv.request_stop(self._world.clock.now(), graceful)
            conv.advance(self._world.clock.now())
            return agent

    def update_agent(self, project: Project, agent_id: str, properties: dict[str, Any]) -> AgoraAgent:
        with self._lock:
            agent = self._agent(project, agent_id)
            if "token" in properties:
                agent.properties["token"] = properties["token"]
            for module in ("llm", "mllm"):
                changes = properties.get(module) or {}
                if not changes:
                    continue  # an update that names no module leaves the stored ones as they are
                stored = agent.properties.setdefault(module, {})
                for key in ("system_messages", "params"):
                    if key in changes:
                        stored[key] = changes[key]  # replaced whole, as documented
            agent.conversation.emit(
                kind="update",
                text="",
                outcome="updated",
                time=self._world.clock.now(),
                data={"fields": sorted(properties)},
                operation="update_agent",
            )
            return agent

    def speak_agent(
        self, project: Project, agent_id: str, text: str, priority: str, interruptable: bool
    ) -> tuple[AgoraAgent, str]:
        with self._lock:
            agent = self._agent(project, agent_id)
            if agent.mllm:
                raise DomainError(
                    ErrorCode.INVALID_FIELD, "speak is not supported for agents that use mllm", field="text"
                )
            return agent, agent.conversation.speak(self._world.clock.now(), text, priority, interruptable)

    def interrupt_agent(self, project: Project, agent_id: str) -> AgoraAgent:
        with self._lock:
            agent = self._agent(project, agent_id)
            agent.conversation.interrupt(self._world.clock.now())
            return agent

    def think_agent(self, project: Project, agent_id: str, body: dict[str, Any]) -> tuple[AgoraAgent, str]:
        actions = {
            "listening": body.get("on_listening_action") or DEFAULT_ACTIONS["listening"],
            "thinking": body.get("on_thinking_action") or DEFAULT_ACTIONS["thinking"],
            "speaking": body.get("on_speaking_action") or DEFAULT_ACTIONS["speaking"],
        }
        interruptable = body.get("interruptable")
        with self._lock:
            agent = self._agent(project, agent_id)
            outcome = agent.conversation.think(
                self._world.clock.now(),
                body["text"],
                actions,
                True if interruptable is None else interruptable,
                body.get("metadata"),
            )
            return agent, outcome

    # -- arrangement (control plane and fixtures) ----------------------------------------------

    def clear(self) -> None:
        with self._lock:
            self.customers.clear()
            self.projects.clear()
            for listener in self.customer_removed:
                listener(None)

    def snapshot(self) -> Callable[[], None]:
        """A function that puts the customers back as they are now (loading replaces them whole)."""
        customers, projects = dict(self.customers), dict(self.projects)

        def restore() -> None:
            _refill(self.customers, customers)
            _refill(self.projects, projects)

        return restore

    def create_customer(
        self,
        customer_id: str | None = None,
        secret: str | None = None,
        projects: list[dict[str, Any]] | None = None,
        *,
        replace: bool = False,
    ) -> Customer:
        ids = self._world.ids
        with self._lock:
            customer_id = customer_id or "cust_" + ids.token("0123456789abcdef", 16)
            if customer_id in self.customers:
                if not replace:
                    raise DomainError(ErrorCode.CONFLICT, f"Agora customer {customer_id!r} already exists")
                self.delete_customer(customer_id)
            elif len(self.customers) >= MAX_CUSTOMERS:
                raise DomainError(ErrorCode.INVALID, f"the mock holds at most {MAX_CUSTOMERS} Agora customers")
            if len(projects or ()) > MAX_PROJECTS:
                raise DomainError(ErrorCode.INVALID, f"a customer has at most {MAX_PROJECTS} projects")
            for spec in projects or ():
                owner = self.projects.get(spec.get("appid", ""))
                if owner is not None:
                    raise DomainError(
                        ErrorCode.CONFLICT, f"App ID {spec['appid']!r} already belongs to {owner.customer_id!r}"
                    )
            customer = self.customers[customer_id] = Customer(customer_id, secret or ids.secret())
            for spec in projects or ():
                self.create_project(customer_id, **spec)
            return customer

    def delete_customer(self, customer_id: str) -> None:
        with self._lock:
            customer = self.get_customer(customer_id)
            for listener in self.customer_removed:
                listener(customer)
            for appid in customer.projects:
                self.projects.pop(appid, None)
            del self.customers[customer_id]

    def get_customer(self, customer_id: str) -> Customer:
        with self._lock:
            customer = self.customers.get(customer_id)
        if customer is None:
            raise DomainError(ErrorCode.NOT_FOUND, f"no Agora customer {customer_id!r}")
        return customer

    def create_project(
        self,
        customer_id: str,
        appid: str | None = None,
        app_certificate: str | None = None,
        tokens: list[str] | None = None,
        concurrency_limit: int | None = None,
        startup_delay: float = 0.0,
        responder: list[dict[str, str]] | None = None,
        accept_unsigned_tokens: bool = False,
    ) -> Project:
        """A new project. Without ``app_certificate`` it gets one from the world's seeded ids."""
        with self._lock:
            customer = self.get_customer(customer_id)
            appid = appid or self._world.ids.token("0123456789abcdef", 32)
            if appid in self.projects:
                raise DomainError(ErrorCode.CONFLICT, f"App ID {appid!r} already exists")
            if len(customer.projects) >= MAX_PROJECTS:
                raise DomainError(ErrorCode.INVALID, f"a customer has at most {MAX_PROJECTS} projects")
            project = Project(
                appid,
                customer_id,
                app_certificate or self._world.ids.key(32),
                list(tokens or ()),
                concurrency_limit,
                float(startup_delay),
                [ResponderRule(r["match"], r["reply"]) for r in responder or ()],
                accept_unsigned_tokens=bool(accept_unsigned_tokens),
            )
            customer.projects[appid] = project
            self.projects[appid] = project
            return project

    def get_project(self, appid: str) -> Project:
        with self._lock:
            project = self.projects.get(appid)
        if project is None:
            raise DomainError(ErrorCode.NOT_FOUND, f"no Agora project {appid!r}")
        return project

    def update_project(self, appid: str, changes: dict[str, Any]) -> Project:
        with self._lock:
            project = self.get_project(appid)
            if "concurrency_limit" in changes:
                project.concurrency_limit = changes["concurrency_limit"]
            if "startup_delay" in changes:
                project.startup_delay = float(changes["startup_delay"])
            if "responder" in changes:
                project.responder = [ResponderRule(r["match"], r["reply"]) for r in changes["responder"] or ()]
            if "tokens" in changes:
                project.tokens = list(changes["tokens"] or ())
            if "accept_unsigned_tokens" in changes:
                project.accept_unsigned_tokens = bool(changes["accept_unsigned_tokens"])
            return project

    def agent(self, appid: str, agent_id: str) -> AgoraAgent:
        """An agent, brought up to the clock (for the control plane)."""
        with self._lock:
            return self._agent(self.get_project(appid), agent_id, running=False)

    def user_joins(self, appid: str, agent_id: str) -> AgoraAgent:
        with self._lock:
            agent = self._agent(self.get_project(appid), agent_id, running=False)
            agent.conversation.user_joins(self._world.clock.now())
            return agent

    def user_leaves(self, appid: str, agent_id: str) -> AgoraAgent:
        with self._lock:
            agent = self._agent(self.get_project(appid), agent_id, running=False)
            agent.conversation.user_leaves(self._world.clock.now())
            return agent

    def user_says(self, appid: str, agent_id: str, text: str) -> tuple[AgoraAgent, str]:
        with self._lock:
            agent = self._agent(self.get_project(appid), agent_id)
            interruption = agent.properties.get("interruption") or {}
            strategy = (interruption.get("disabled_config") or {}).get("strategy", "append")
            if interruption.get("enable") is False and agent.conversation.current is not None:
                agent.conversation.current.interruptable = False
            try:
                return agent, agent.conversation.user_says(self._world.clock.now(), text, strategy)
            except DomainError as exc:
                # A full queue: the control plane says so as a conflict with the agent's state.
                raise DomainError(ErrorCode.CONFLICT, exc.message, agent_id=agent_id) from None

    def fail_agent(self, appid: str, agent_id: str, message: str) -> AgoraAgent:
        with self._lock:
            agent = self._agent(self.get_project(appid), agent_id, running=False)
            if not agent.conversation.live:
                raise DomainError(ErrorCode.CONFLICT, f"agent {agent_id} has already exited")
            agent.conversation.fail(self._world.clock.now(), message)
            return agent


def _advanced(agent: AgoraAgent, now: float) -> AgoraAgent:
    agent.conversation.advance(now)
    return agent


def _check_modules(body: dict[str, Any]) -> None:
    # api-facts §2.5.6 rule 3: llm (with url) and tts are required unless a preset, a pipeline or
    # an MLLM replaces them.
    props = body["properties"]
    if body.get("pipeline_id") or body.get("preset"):
        return
    if (props.get("mllm") or {}).get("enable") or (props.get("advanced_features") or {}).get("enable_mllm"):
        return
    llm = props.get("llm")
    if not llm:
        raise DomainError(
            ErrorCode.MISSING_FIELD,
            "Missing required field: properties.llm (or give preset, pipeline_id or mllm)",
            field="properties.llm",
        )
    if not llm.get("url"):
        raise DomainError(
            ErrorCode.MISSING_FIELD, "Missing required field: properties.llm.url", field="properties.llm.url"
        )
    if not props.get("tts"):
        raise DomainError(
            ErrorCode.MISSING_FIELD,
            "Missing required field: properties.tts (or give preset, pipeline_id or mllm)",
            field="properties.tts",
        )


def is_integer_uid(uid: Any) -> bool:
    """An integer-string uid: ASCII digits only (``str.isdigit`` also takes "²" and "٣")."""
    return isinstance(uid, str) and uid.isascii() and uid.isdigit()


def _check_uids(props: dict[str, Any]) -> None:
    # StartAgentProperties.anyOf: the agent's uid is an integer string, a remote one may be "*".
    if props.get("enable_string_uid"):
        return
    uids = [(props["agent_rtc_uid"], False), *((uid, True) for uid in props.get("remote_rtc_uids", ()))]
    for uid, may_be_all in uids:
        if not (is_integer_uid(uid) or (may_be_all and uid == "*")):
            raise DomainError(
                ErrorCode.INVALID_FIELD,
                f"Invalid value for uid {uid!r}: uids must be integer strings unless enable_string_uid is true",
                field="properties.agent_rtc_uid",
            )


def _refill(live: dict[Any, Any], saved: dict[Any, Any]) -> None:
    # In place: whoever holds the dict sees the restored contents.
    live.clear()
    live.update(saved)
