"""agent-mockserver: a stateful mock of the bitHuman Agent Context API and the Agora
Conversational AI Engine REST API v2, driven by one OpenAPI contract.

``create_app``, ``MockServer`` and ``World`` are imported on first use: the pytest plugin (loaded by
every pytest run once the package is installed) and ``mockserver.client`` import this package, and
should not pay for the app, starlette and uvicorn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app
    from .server import MockServer
    from .world import World

__version__ = "0.1.0"

__all__ = ["MockServer", "World", "__version__", "create_app"]

_LAZY = {"create_app": "app", "MockServer": "server", "World": "world"}  # name -> submodule


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value  # once: later lookups do not come here
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
