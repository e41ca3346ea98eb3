"""``Guard``: what a request must pass before any route sees it.

The mock is a development tool that serves secrets (the control plane lists every api-secret) and
rearranges the world on request, so a web page the developer happens to visit must not be able to
use it. The guard, in order:

1. refuses a URL longer than ``max_url`` (414) and a request head the protocol found too large
   (431; see ``mockserver.protocol``), without any routing work;
2. refuses a ``Host`` that is not allowed (421): a DNS-rebinding page reaches the mock under the
   attacker's own host name, which a browser then sends as ``Host``;
3. on the control plane (``/_mock``): asks for the control token when one is set (401);
4. adds ``nosniff`` and anti-framing headers to every control-plane response.

The control plane's family refuses a write whose body is not declared JSON or YAML (415, see
``admin.problem``). Refusals are rendered by the family whose prefix the path is under (the vendor's envelope, or
problem+json on the control plane), like an unknown route.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .api.base import Family
from .world.errors import DomainError, ErrorCode

__all__ = [
    "DEFAULT_MAX_URL",
    "HEAD_TOO_LARGE",
    "LOOPBACK_HOSTS",
    "Guard",
    "GuardSettings",
    "host_allowed",
]

DEFAULT_MAX_URL = 8 * 1024  # path and query; browsers and proxies commonly stop near here
HEAD_TOO_LARGE = "mockserver.head_too_large"  # scope key the protocol sets: "url" or "headers"
LOOPBACK_HOSTS = ("localhost", "*.localhost", "127.0.0.1", "::1")
CONTROL_PREFIX = "/_mock"
TOKEN_QUERY = "token"  # EventSource cannot send headers: the stream takes the token in its query
_STREAM_PATH = "/_mock/events/stream"
_HOSTS_KEPT = 256


def _dashboard_file(path: str) -> bool:
    # The page and its scripts hold no data: the browser must load them before it can ask for a token.
    return path == "/_mock/" or path.startswith("/_mock/static/")


_DASHBOARD_CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
_CONTROL_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


@dataclass(slots=True)
class GuardSettings:
    """What the guard enforces (read on every request: the server sets the hosts once it binds).

    Attributes:
        allowed_hosts: ``Host`` names served (``*.suffix`` patterns, ``*`` for any); ``None``
            serves any host (an app called in process, which no browser can reach).
        control_token: when set, every control-plane request but the dashboard's static files
            must carry it (``Authorization: Bearer`` or ``X-Mock-Token``).
        max_url: the longest path plus query string accepted, in bytes.
    """

    allowed_hosts: tuple[str, ...] | None = None
    control_token: str | None = None
    max_url: int = DEFAULT_MAX_URL


def host_allowed(host: str, allowed: Iterable[str]) -> bool:
    """Whether a ``Host`` header value (with or without port) names an allowed host.

    An IP literal is always allowed: DNS rebinding needs a host *name* that the attacker's DNS
    points at the mock, and a page whose origin is an IP address is simply another origin.
    """
    name = host.strip().lower()
    if name.startswith("["):  # [v6]:port
        name = name[1 : name.find("]")] if "]" in name else name[1:]
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    name = name.rstrip(".")
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        pass
    for pattern in allowed:
        pattern = pattern.lower()
        if pattern == "*" or pattern == name or (pattern.startswith("*.") and name.endswith(pattern[1:])):
            return True
    return False


class Guard:
    """Pure ASGI middleware (see the module docstring)."""

    def __init__(self, app: ASGIApp, family_for: Callable[[str], Family], settings: GuardSettings) -> None:
        self.app = app
        self.family_for = family_for
        self.settings = settings
        # Host values already judged (host_allowed parses IP literals: 8 µs a request), for one
        # allowed list; bounded, so a flood of made-up names only stops the remembering.
        self._hosts: dict[str, bool] = {}
        self._hosts_for: tuple[str, ...] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        control = path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/")
        error = self._refusal(scope, path, control)
        if error is not None:
            await self._refuse(error, scope, receive, send, path)
            return
        if not control:
            await self.app(scope, receive, send)
            return
        csp = _DASHBOARD_CSP if _dashboard_file(path) else "default-src 'none'; frame-ancestors 'none'"
        extra = [*_CONTROL_HEADERS, (b"content-security-policy", csp.encode())]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _refusal(self, scope: Scope, path: str, control: bool) -> DomainError | None:
        too_large = scope.get(HEAD_TOO_LARGE)
        url_size = len(scope.get("raw_path") or path.encode()) + len(scope.get("query_string", b""))
        if too_large == "url" or url_size > self.settings.max_url:
            return DomainError(
                ErrorCode.URI_TOO_LONG, f"The URL is longer than {self.settings.max_url} bytes", status=414
            )
        if too_large == "headers":
            return DomainError(ErrorCode.HEADER_TOO_LARGE, "The request headers are too large", status=431)
        allowed = self.settings.allowed_hosts
        if allowed is not None:
            host = _header(scope, b"host")
            if host is not None and not self._host_allowed(host, allowed):
                return DomainError(
                    ErrorCode.MISDIRECTED_REQUEST,
                    f"Host {host!r} is not served here; allow it with --allow-host or MOCKSERVER_ALLOW_HOSTS",
                    status=421,
                )
        if not control:
            return None
        token = self.settings.control_token
        if token and not _dashboard_file(path) and not self._authorized(scope, path, token):
            return DomainError(
                ErrorCode.UNAUTHORIZED,
                "The control plane needs its token: Authorization: Bearer <token>, or X-Mock-Token",
                status=401,
            )
        return None

    def _host_allowed(self, host: str, allowed: tuple[str, ...]) -> bool:
        if allowed is not self._hosts_for:  # the server has set its list (once it binds)
            self._hosts, self._hosts_for = {}, allowed
        known = self._hosts.get(host)
        if known is None:
            known = host_allowed(host, allowed)
            if len(self._hosts) < _HOSTS_KEPT:
                self._hosts[host] = known
        return known

    def _authorized(self, scope: Scope, path: str, token: str) -> bool:
        offered = _header(scope, b"x-mock-token")
        authorization = _header(scope, b"authorization")
        if offered is None and authorization is not None and authorization[:7].lower() == "bearer ":
            offered = authorization[7:].strip()
        if offered is None and path == _STREAM_PATH:
            offered = self._token_from_query(scope)
        # compare_digest needs equal types: compare the UTF-8 bytes.
        return offered is not None and hmac.compare_digest(offered.encode(), token.encode())

    @staticmethod
    def _token_from_query(scope: Scope) -> str | None:
        pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        tokens = [v for k, v in pairs if k == TOKEN_QUERY]
        if not tokens:
            return None
        # The stream's own query schema knows nothing of the token: drop it before routing.
        scope["query_string"] = urlencode([(k, v) for k, v in pairs if k != TOKEN_QUERY]).encode("latin-1")
        return tokens[0]

    async def _refuse(self, error: DomainError, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        family = self.family_for(path)
        status: int = error.details["status"]
        if family.vendor:
            # Vendor envelopes have no code of their own for these: an invalid request, with the
            # HTTP status that says what was wrong.
            error = DomainError(ErrorCode.INVALID, error.message, fault_status=status)
        response = family.finish(None, family.render(error, None))
        response.status_code = status
        if status in (414, 431):
            # The rest of an oversized head was discarded unread: this connection is done.
            response.headers["Connection"] = "close"
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="mockserver control plane"'
        await response(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None
