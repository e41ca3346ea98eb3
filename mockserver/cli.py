"""The ``mockserver`` command: ``serve`` the mock, ``validate`` fixture files."""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import logging
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from . import __version__
from .accesslog import configure_logging
from .app import create_app
from .connection_options import connection_options
from .fixtures import FixtureError, load_fixture_file, resolve_fixture
from .packaged import packaged
from .protocol import Limits
from .server import listening_socket, serving
from .world import World
from .world.inbox import DEFAULT_INBOX_LIMIT
from .world.journal import DEFAULT_JOURNAL_BYTES, DEFAULT_JOURNAL_LIMIT

__all__ = ["main"]

LEVELS = ["critical", "error", "warning", "info", "debug"]
F = TypeVar("F", bound=Callable[..., Any])


def default_fixture() -> Path:
    """The packaged default world (``fixtures/default.yaml`` in the source tree)."""
    return Path(str(packaged("default.yaml")))


def _resolve(fixtures: tuple[str, ...]) -> list[Path]:
    if not fixtures:
        return [default_fixture()]
    return [resolve_fixture(f) for f in fixtures]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


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
        agents = ", ".join(
            f"{a.code} ({_count(len(a.active_rooms()), 'active room')})" for a in account.agents.values()
        )
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


class _Commands(click.Group):
    """The command group. The bridge's commands (docs/proxy.md) live in their own package and are
    imported when one of them is asked for (click's lazy subcommands), so ``serve`` does not load
    them at every start."""

    _BRIDGE = {"proxy": "proxy", "fixture-from": "fixture_from", "drift": "drift"}  # name -> function

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self._BRIDGE])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self._BRIDGE:
            from .bridge import commands

            command: click.Command = getattr(commands, self._BRIDGE[cmd_name])
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="agent-mockserver")
def main() -> None:
    """A stateful mock of the bitHuman Agent Context API and the Agora Conversational AI Engine v2.

    Every option of `serve` may come from the environment too (MOCKSERVER_<OPTION>, shown in
    `mockserver serve --help`); an option on the command line wins. Shell completion:
    eval "$(_MOCKSERVER_COMPLETE=bash_source mockserver)" (zsh_source, fish_source).
    """


def _option(name: str, *decls: str, **kwargs: Any) -> Callable[[F], F]:
    # Every serve option reads MOCKSERVER_<NAME> (the names the pytest plugin reads too) and says so.
    envvar = "MOCKSERVER_" + name.upper().replace("-", "_")
    return click.option(f"--{name}", *decls, envvar=envvar, show_envvar=True, **kwargs)


@main.command()
@_option("host", default="127.0.0.1", show_default=True, help="Interface to bind (0.0.0.0 exposes the mock).")
@_option("port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
@_option(
    "fixtures",
    multiple=True,
    metavar="PATH",
    # click.Path splits the variable's value on os.pathsep, as the pytest plugin does.
    type=click.Path(dir_okay=False),
    help="Fixture file to load (repeatable). Default: the packaged default world; 'default' names it.",
)
@_option("empty", is_flag=True, help="Start with no tenants at all (not with --fixtures).")
@_option("seed", type=int, default=None, help="Seed for generated ids.")
@_option(
    "bithuman-dialect",
    type=click.Choice(["current", "transitional", "legacy"]),
    default="current",
    show_default=True,
    help="bitHuman response and error shapes for accounts that do not set their own.",
)
@_option(
    "log-level",
    type=click.Choice(LEVELS, case_sensitive=False),
    default="info",
    show_default=True,
    help="'info' prints one line per vendor request; 'debug' adds control-plane requests and bodies "
    "(secrets masked); 'warning' silences requests.",
)
@_option("verbose", "-v", is_flag=True, help="The same as --log-level debug.")
@_option(
    "inbox-limit",
    type=click.IntRange(1),
    default=DEFAULT_INBOX_LIMIT,
    show_default=True,
    help="Events kept per tenant in the inbox.",
)
@_option(
    "journal-limit",
    type=click.IntRange(0),
    default=DEFAULT_JOURNAL_LIMIT,
    show_default=True,
    help="Requests kept in the request journal (0 turns it off).",
)
@_option(
    "journal-bytes",
    type=click.IntRange(1024),
    default=DEFAULT_JOURNAL_BYTES,
    show_default=True,
    help="Bytes the request journal may keep; its oldest entries go first.",
)
@_option(
    "control-token",
    default=None,
    metavar="TOKEN",
    help="Require this token on every control-plane request (Authorization: Bearer, or X-Mock-Token).",
)
@connection_options(environment=True)
def serve(
    host: str,
    port: int,
    fixtures: tuple[str, ...],
    empty: bool,
    seed: int | None,
    bithuman_dialect: str,
    log_level: str,
    verbose: bool,
    inbox_limit: int,
    journal_limit: int,
    journal_bytes: int,
    control_token: str | None,
    hosts: list[str],
    limits: Limits,
) -> None:
    """Serve both vendor APIs and the control plane."""
    if empty and fixtures:
        raise click.UsageError("--empty starts with no tenants: it cannot be combined with --fixtures")
    level = logging.DEBUG if verbose else getattr(logging, log_level.upper())
    configure_logging(level)
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
    server = serving(app, sock, limits=limits, hosts=hosts, log_level=level)
    configure_logging(level)  # again: uvicorn's Config has just installed its own handlers
    # The socket listens from here on: the banner means the mock is ready.
    click.echo(banner(world, f"http://{shown}:{bound_port}", host=host, token=control_token))
    # A second Ctrl-C forces uvicorn out with KeyboardInterrupt: still a stop on request.
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    click.echo("agent-mockserver stopped")


FIXTURE_SUFFIXES = (".yaml", ".yml", ".json")


def _fixture_files(paths: tuple[str, ...]) -> list[Path]:
    # A folder stands for the fixture files directly inside it, in name order.
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.suffix in FIXTURE_SUFFIXES and p.is_file())
            if not inside:
                raise click.BadParameter(f"{given}: no *.yaml, *.yml or *.json file inside", param_hint="PATHS")
            files += inside
        else:
            files.append(resolve_fixture(given))  # a packaged name (``default``...) or a file
    return files


def _problem(place: str, message: str) -> dict[str, Any]:
    line, sep, where = place.partition(": ")
    if sep and line.isdigit():
        return {"line": int(line), "path": where, "message": message}
    return {
        "line": int(place) if place.isdigit() else None,
        "path": None if place.isdigit() else place,
        "message": message,
    }


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print one JSON report (files, problems with line and path).")
def validate(paths: tuple[str, ...], as_json: bool) -> None:
    """Check fixture files (or every *.yaml, *.yml and *.json in a folder); print what is wrong and where."""
    failed = False
    report: list[dict[str, Any]] = []
    for path in _fixture_files(paths):
        try:
            document = load_fixture_file(path)
        except FixtureError as exc:
            failed = True
            report.append({"file": str(path), "ok": False, "problems": [_problem(*p) for p in exc.problems]})
            if not as_json:
                click.echo(str(exc), err=True)
            continue
        accounts = (document.get("bithuman") or {}).get("accounts", [])
        customers = (document.get("agora") or {}).get("customers", [])
        report.append({"file": str(path), "ok": True, "problems": []})
        if not as_json:
            click.echo(
                f"{path}: ok ({_count(len(accounts), 'bitHuman account')}, {_count(len(customers), 'Agora customer')})"
            )
    if as_json:
        click.echo(json.dumps({"ok": not failed, "files": report}, indent=2))
    if failed:
        sys.exit(1)
