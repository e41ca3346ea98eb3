"""The command-line options ``serve`` and ``proxy`` share: the ``Host`` names served and the limits.

``connection_options`` adds ``--allow-host``, ``--max-connections``, ``--keep-alive-timeout``,
``--header-timeout``, ``--body-timeout`` and ``--max-header-bytes`` to a command, which receives them
as ``hosts`` (a list) and ``limits`` (``protocol.Limits``), the two arguments ``server.serving`` takes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from .protocol import Limits, default_max_connections

__all__ = ["connection_options"]

F = TypeVar("F", bound=Callable[..., Any])


def connection_options(*, environment: bool) -> Callable[[F], F]:
    """The options, each read from ``MOCKSERVER_<NAME>`` too when ``environment`` (as ``serve``'s are).

    ``--allow-host`` always reads ``MOCKSERVER_ALLOW_HOSTS``: ``server.allowed_hosts`` does.
    """

    def option(name: str, **kwargs: Any) -> Callable[[F], F]:
        if environment:
            kwargs.update(envvar="MOCKSERVER_" + name.upper().replace("-", "_"), show_envvar=True)
        return click.option(f"--{name}", **kwargs)

    options = [
        click.option(
            "--allow-host",
            "allow_hosts",
            multiple=True,
            metavar="NAME",
            envvar="MOCKSERVER_ALLOW_HOSTS",
            show_envvar=True,
            help="Host name served besides loopback names and IP addresses (repeatable; '*.example.test' "
            "patterns; '*' allows any). The variable takes a comma-separated list.",
        ),
        option(
            "max-connections",
            type=click.IntRange(1),
            default=default_max_connections(),
            show_default=True,
            help="Open connections at once; more are answered 503 and closed.",
        ),
        option("keep-alive-timeout", type=click.FloatRange(1), default=5.0, show_default=True, help="Seconds."),
        option(
            "header-timeout",
            type=click.FloatRange(0.1),
            default=10.0,
            show_default=True,
            help="Seconds for a request head.",
        ),
        option(
            "body-timeout",
            type=click.FloatRange(0.1),
            default=30.0,
            show_default=True,
            help="Seconds for a request body.",
        ),
        option(
            "max-header-bytes",
            type=click.IntRange(1024),
            default=64 * 1024,
            show_default=True,
            help="Request line plus headers; more is refused with 431.",
        ),
    ]

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def with_connection(
            *args: Any,
            allow_hosts: tuple[str, ...],
            max_connections: int,
            keep_alive_timeout: float,
            header_timeout: float,
            body_timeout: float,
            max_header_bytes: int,
            **kwargs: Any,
        ) -> Any:
            limits = Limits(
                max_connections=max_connections,
                keep_alive_timeout=keep_alive_timeout,
                header_timeout=header_timeout,
                body_timeout=body_timeout,
                max_header_bytes=max_header_bytes,
            )
            hosts = [h.strip() for entry in allow_hosts for h in entry.split(",") if h.strip()]
            return command(*args, hosts=hosts, limits=limits, **kwargs)

        decorated: Any = with_connection
        for add in reversed(options):
            decorated = add(decorated)
        return decorated

    return decorate
