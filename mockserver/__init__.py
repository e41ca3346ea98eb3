"""agent-mockserver: a stateful mock of the bitHuman Agent Context API and the Agora
Conversational AI Engine REST API v2, driven by one OpenAPI contract."""

from __future__ import annotations

__version__ = "0.1.0"

from .app import create_app  # noqa: E402
from .server import MockServer  # noqa: E402
from .world import World  # noqa: E402

__all__ = ["MockServer", "World", "__version__", "create_app"]
