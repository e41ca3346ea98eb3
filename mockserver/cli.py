"""The ``mockserver`` command: ``serve`` the mock, ``validate`` fixture files."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import logging
import shlex
import sys
from importlib import resources
from pathlib import Path

import click

from . import __version__
from .app import create_app
from .fixtures import FixtureError, load_fixture_file
from .protocol import Limits, default_max_connections
from .server import listening_socket, serving
from .world import World
from .world.inbox import DEFAULT_INBOX_LIMIT
from .world.journal import DEFAULT_JOURNAL_BYTES, DEFAULT_JOURNAL_LIMIT

__all__ = ["main"]

LEVELS = ["critical", "error", "warning", "info", "debug"]


def default_fixture() -> Path:
    """The packaged default world (``fixtures/default.yaml`` in the source tree)."""
    return Path(str(resources.files("mockserver").joinpath("default.yaml")))


def _resolve(fixtures: tuple[str, ...]) -> list[Path]:
    if not fixtures:
        return [default_fixture()]
    return [default_fixture() if f == "default" else Path(f) for f in fixtures]


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def banner(world: World, url: str, *, host: str = "127.0.0.1", token: str | None = None) -> str:
    dashboard = f"{url}/_mock/" + (f"#token={token}" if token else "")
    lines = [
        f"agent-mockserver {__version__} serving on {url}",
        f"  bitHuman Agent Context API   {url}/v1/agent/{{agent_code}}/speak | /add-context"
        f"  (default dialect: {world.bithuman.default_dialect})",
        f"  Agora Conversational AI v2   {url}/api/conversational-ai-agent",
        f"  Dashboard and control plane  {dashboard}  (spec: {url}/_mock/openapi.json)",
    ]
    if not _loopback(host):
        lines.append(
            f"WARNING: listening on {host}: anyone who can reach this address can read every secret and"
            " rearrange the world."
        )
        if token:
            lines.append("  The control plane (/_mock/) needs the control token; the vendor APIs and their demo")
            lines.append("  credentials below do not. See docs/security.md.")
        else:
            lines.append("  The control plane (/_mock/) has no authentication: set --control-token (or")
            lines.append("  MOCKSERVER_CONTROL_TOKEN), or bind 127.0.0.1. See docs/security.md.")
    accounts = list(world.bithuman.accounts.values())
    if accounts:
        lines.append("Demo credentials (from the fixtures):")
    for account in accounts:
        agents = ", ".join(f"{a.code} ({len(a.active_rooms())} active rooms)" for a in account.agents.values())
        lines.append(
            f"  bitHuman {account.id} [{world.bithuman.dialect_of(account)}]: api-secret "
            f"{' | '.join(account.secrets)}; agents {agents or 'none'}"
        )
    for customer in world.agora.customers.values():
        projects = ", ".join(f"{p.appid} (App Certificate {p.app_certificate})" for p in customer.projects.values())
        projects = projects or "none"
        lines.append(f"  Agora {customer.id}: Basic {customer.id}:{customer.secret}; projects {projects}")
    sample = next(((a, ag) for a in accounts for ag in a.agents.values() if ag.active_rooms()), None)
    if sample:
        account, agent = sample
        curl = [
            "curl",
            "-s",
            "-X",
            "POST",
            f"{url}/v1/agent/{agent.code}/speak",
            "-H",
            f"api-secret: {account.secrets[0]}",
            "-H",
            "Content-Type: application/json",
            "-d",
            '{"message": "Hello from the mock"}',
        ]
        lines += ["Try:", "  " + shlex.join(curl)]
    demo = next((c for c in world.agora.customers.values() if c.projects), None)
    if demo is not None:
        appid = next(iter(demo.projects))
        lines.append(
            "  "
            + shlex.join(
                [
                    "curl",
                    "-s",
                    "-u",
                    f"{demo.id}:{demo.secret}",
                    f"{url}/api/conversational-ai-agent/v2/projects/{appid}/agents",
                ]
            )
        )
        basic = "Basic " + base64.b64encode(f"{demo.id}:{demo.secret}".encode()).decode()
        lines += [
            "  python: from agora_agent.client import Agora",
            f'          client = Agora(base_url="{url}/api/conversational-ai-agent", authorization="{basic}",',
            f'                         username="{demo.id}", password="{demo.secret}")',
        ]
    if sample or demo is not None:
        auth = ["-H", f"Authorization: Bearer {token}"] if token else []
        lines.append("  " + shlex.join(["curl", "-s", *auth, f"{url}/_mock/inbox"]))
    return "\n".join(lines)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="agent-mockserver")
def main() -> None:
    """A stateful mock of the bitHuman Agent Context API and the Agora Conversational AI Engine v2."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (0.0.0.0 exposes the mock).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
@click.option(
    "--fixtures",
    "fixtures",
    multiple=True,
    metavar="PATH",
    help="Fixture file to load (repeatable). Default: the packaged default world; 'default' names it.",
)
@click.option("--empty", is_flag=True, help="Start with no tenants at all (ignores --fixtures).")
@click.option("--seed", type=int, default=None, help="Seed for generated ids.")
@click.option(
    "--bithuman-dialect",
    type=click.Choice(["current", "transitional", "legacy"]),
    default="current",
    show_default=True,
    help="bitHuman response and error shapes for accounts that do not set their own.",
)
@click.option(
    "--log-level",
    type=click.Choice(LEVELS, case_sensitive=False),
    default="info",
    show_default=True,
    help="'info' prints one line per request; 'warning' silences them.",
)
@click.option(
    "--inbox-limit",
    type=click.IntRange(1),
    default=DEFAULT_INBOX_LIMIT,
    show_default=True,
    help="Events kept per tenant in the inbox.",
)
@click.option(
    "--journal-limit",
    type=click.IntRange(0),
    default=DEFAULT_JOURNAL_LIMIT,
    show_default=True,
    help="Requests kept in the request journal (0 turns it off).",
)
@click.option(
    "--journal-bytes",
    type=click.IntRange(1024),
    default=DEFAULT_JOURNAL_BYTES,
    show_default=True,
    help="Bytes the request journal may keep; its oldest entries go first.",
)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="NAME",
    envvar="MOCKSERVER_ALLOW_HOSTS",
    help="Host name served besides loopback names and IP addresses (repeatable; '*.example.test' "
    "patterns; '*' allows any). Env: MOCKSERVER_ALLOW_HOSTS, comma-separated.",
)
@click.option(
    "--control-token",
    envvar="MOCKSERVER_CONTROL_TOKEN",
    default=None,
    metavar="TOKEN",
    help="Require this token on every control-plane request (Authorization: Bearer, or X-Mock-Token). "
    "Env: MOCKSERVER_CONTROL_TOKEN.",
)
@click.option(
    "--max-connections",
    type=click.IntRange(1),
    default=default_max_connections(),
    show_default=True,
    help="Open connections at once; more are answered 503 and closed.",
)
@click.option("--keep-alive-timeout", type=click.FloatRange(1), default=5.0, show_default=True, help="Seconds.")
@click.option(
    "--header-timeout", type=click.FloatRange(0.1), default=10.0, show_default=True, help="Seconds for a request head."
)
@click.option(
    "--body-timeout", type=click.FloatRange(0.1), default=30.0, show_default=True, help="Seconds for a request body."
)
@click.option(
    "--max-header-bytes",
    type=click.IntRange(1024),
    default=64 * 1024,
    show_default=True,
    help="Request line plus headers; more is refused with 431.",
)
def serve(
    host: str,
    port: int,
    fixtures: tuple[str, ...],
    empty: bool,
    seed: int | None,
    bithuman_dialect: str,
    log_level: str,
    inbox_limit: int,
    journal_limit: int,
    journal_bytes: int,
    allow_hosts: tuple[str, ...],
    control_token: str | None,
    max_connections: int,
    keep_alive_timeout: float,
    header_timeout: float,
    body_timeout: float,
    max_header_bytes: int,
) -> None:
    """Serve both vendor APIs and the control plane."""
    level = getattr(logging, log_level.upper())
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr)
    world = World(
        seed=seed,
        bithuman_dialect=bithuman_dialect,
        inbox_limit=inbox_limit,
        journal_limit=journal_limit,
        journal_bytes=journal_bytes,
    )
    try:
        app = create_app(
            world, fixtures=[] if empty else _resolve(fixtures), access_log=True, control_token=control_token
        )
    except FixtureError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        sock = listening_socket(host, port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    bound_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    limits = Limits(
        max_connections=max_connections,
        keep_alive_timeout=keep_alive_timeout,
        header_timeout=header_timeout,
        body_timeout=body_timeout,
        max_header_bytes=max_header_bytes,
    )
    hosts = [h.strip() for entry in allow_hosts for h in entry.split(",") if h.strip()]
    server = serving(app, sock, limits=limits, hosts=hosts, log_level=level)
    # The socket listens from here on: the banner means the mock is ready.
    click.echo(banner(world, f"http://{shown}:{bound_port}", host=host, token=control_token))
    # A second Ctrl-C forces uvicorn out with KeyboardInterrupt: still a stop on request.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(server.serve(sockets=[sock]))
    click.echo("agent-mockserver stopped")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
def validate(paths: tuple[str, ...]) -> None:
    """Check fixture files; print what is wrong and where."""
    failed = False
    for path in paths:
        try:
            document = load_fixture_file(path)
        except FixtureError as exc:
            failed = True
            click.echo(str(exc), err=True)
            continue
        accounts = (document.get("bithuman") or {}).get("accounts", [])
        customers = (document.get("agora") or {}).get("customers", [])
        click.echo(f"{path}: ok ({len(accounts)} bitHuman accounts, {len(customers)} Agora customers)")
    if failed:
        sys.exit(1)


# The bridge to the real services (docs/proxy.md) keeps its commands in its own package.
from .bridge.commands import COMMANDS  # noqa: E402

for _command in COMMANDS:
    main.add_command(_command)
