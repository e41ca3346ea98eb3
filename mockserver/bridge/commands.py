"""The bridge's commands: ``mockserver proxy``, ``mockserver fixture-from``, ``mockserver drift``."""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..connection_options import connection_options
from ..protocol import Limits
from ..server import listening_socket, serving
from . import DEFAULT_BODY_LIMIT

if TYPE_CHECKING:
    from .proxy import Violation

# The proxy, the drift replay and fixture-from load their modules (httpx, PyYAML and the HAR
# recordings among them) when their command runs: every `mockserver` command line builds this
# group, and `serve` should not pay for them.

__all__ = ["drift", "fixture_from", "proxy"]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (0.0.0.0 exposes the proxy).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
@click.option(
    "--bithuman-upstream", metavar="URL", help="bitHuman base URL. Default: the production host of openapi.yaml."
)
@click.option("--agora-upstream", metavar="URL", help="Agora base URL. Default: the production host of openapi.yaml.")
@click.option("--record", "record", type=click.Path(dir_okay=False), help="Write every exchange to this HAR 1.2 file.")
@click.option(
    "--record-body-limit",
    type=click.IntRange(0),
    default=DEFAULT_BODY_LIMIT,
    show_default=True,
    help="Bytes of each body recorded; longer ones are cut, with a note.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.1),
    default=60.0,
    show_default=True,
    help="Seconds to wait for an upstream (504 after).",
)
@connection_options(environment=False)
def proxy(
    host: str,
    port: int,
    bithuman_upstream: str | None,
    agora_upstream: str | None,
    record: str | None,
    record_body_limit: int,
    timeout: float,
    hosts: list[str],
    limits: Limits,
) -> None:
    """Forward both vendor APIs to the real services, checking every exchange against the contract."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    from .har import HarWriter
    from .proxy import Proxy, default_upstreams

    upstreams = default_upstreams()
    upstreams.update({k: v for k, v in (("bithuman", bithuman_upstream), ("agora", agora_upstream)) if v})
    try:
        writer = HarWriter(record, record_body_limit) if record else None
    except OSError as exc:
        raise click.ClickException(f"cannot record to {record}: {exc.strerror}") from None

    def report(violation: Violation) -> None:
        click.echo(violation.line(), err=True)

    try:
        app = Proxy(upstreams, record=writer, on_violation=report, timeout=timeout)
    except ValueError as exc:  # an upstream that is no http(s) URL
        if writer is not None:
            writer.close()
        raise click.ClickException(str(exc)) from None
    try:
        sock = listening_socket(host, port)
    except OSError as exc:
        if writer is not None:
            writer.close()
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{sock.getsockname()[1]}"
    click.echo(f"agent-mockserver proxy on {url}")
    click.echo(f"  bitHuman -> {upstreams['bithuman']}")
    click.echo(f"  Agora    -> {upstreams['agora']}")
    click.echo(f"  journal, inbox and dashboard: {url}/_mock/")
    if writer is not None:
        click.echo(f"  recording to {record}")
    # Served as the mock is (limits, deadlines, the guard's Host rule), as a relay: the upstream's
    # Server and Date headers pass through, and the lifespan closes the upstream connections.
    server = serving(app, sock, limits=limits, hosts=hosts, relay=True)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            server.run(sockets=[sock])
    finally:
        sock.close()
        if writer is not None:
            writer.close()
    click.echo(f"proxy stopped: {app.exchanges} exchanges, {len(app.violations)} contract violations")


def _entries(har: str) -> list[dict[str, Any]]:
    from .har import read_har

    try:
        return read_har(har)
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None


@click.command("fixture-from")
@click.argument("har", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the fixture here (default: stdout).")
def fixture_from(har: str, output: str | None) -> None:
    """Print the fixture world a HAR recording implies (placeholder secrets)."""
    import yaml

    from .fixture_from import fixture_from_entries

    document = fixture_from_entries(_entries(har), description=f"Arranged from {Path(har).name}")
    header = "# Arranged by `mockserver fixture-from`; secrets are placeholders (`mockserver drift` sends them).\n"
    text = header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


@click.command()
@click.argument("har", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--against", metavar="URL", help="A served mock to replay against (its world is replaced). Default: in process."
)
@click.option("--markdown", type=click.Path(dir_okay=False), help="Also write the report as Markdown.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the report as JSON.")
@click.option("--junit", type=click.Path(dir_okay=False), help="Also write the report as JUnit XML.")
def drift(har: str, against: str | None, markdown: str | None, json_path: str | None, junit: str | None) -> None:
    """Replay a HAR recording against the mock and report where the answers differ (exit 1 if any)."""
    try:
        from .drift import replay

        report = replay(_entries(har), against=against)
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    for path, text in ((markdown, report.markdown), (json_path, report.json), (junit, report.junit)):
        if path:
            Path(path).write_text(text(), encoding="utf-8")
    click.echo(report.text())
    sys.exit(1 if report.drift else 0)
