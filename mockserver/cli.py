"""The ``mockserver`` command: ``serve`` the mock, ``validate`` fixture files."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import shlex
import sys
from importlib import resources
from pathlib import Path

import click
import uvicorn

from . import __version__
from .app import create_app
from .fixtures import FixtureError, load_fixture_file
from .server import listening_socket
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


def banner(world: World, url: str) -> str:
    lines = [
        f"agent-mockserver {__version__} serving on {url}",
        f"  bitHuman Agent Context API   {url}/v1/agent/{{agent_code}}/speak | /add-context"
        f"  (default dialect: {world.bithuman.default_dialect})",
        f"  Agora Conversational AI v2   {url}/api/conversational-ai-agent",
        f"  Dashboard and control plane  {url}/_mock/  (spec: {url}/_mock/openapi.json)",
    ]
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
        lines.append(f"  curl -s {url}/_mock/inbox")
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
        app = create_app(world, fixtures=[] if empty else _resolve(fixtures), access_log=True)
    except FixtureError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        sock = listening_socket(host, port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    bound_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    click.echo(banner(world, f"http://{shown}:{bound_port}"))
    config = uvicorn.Config(app, log_level=level, access_log=False, lifespan="off", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    # uvicorn re-raises the captured Ctrl-C after a graceful shutdown: that is a clean exit.
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
