"""The handles of the pytest plugin: what a test drives the mock with, through the control plane.

``MockHandle`` (the ``mockserver`` fixture) makes fresh tenants and resets them when the test ends;
``BitHuman`` / ``Account`` / ``Agent`` and ``Agora`` / ``Project`` / ``AgoraAgent`` arrange a vendor's
tenants and read what their agents were told; ``Clock`` drives the mock clock. Each is given the
``ControlClient`` (and what else it uses) explicitly, and needs only ``mockserver.client``, so they
work on any server the client reaches, in process too. See docs/pytest-plugin.md.
"""

from __future__ import annotations

import warnings
from typing import Any

from .agora import Agora, AgoraAgent, Project
from .bithuman import Account, Agent, BitHuman
from .common import Clock, Expected, Tenants
from .handle import MockHandle

__all__ = [
    "Account",
    "Agent",
    "Agora",
    "AgoraAgent",
    "BitHuman",
    "Clock",
    "Expected",
    "MockHandle",
    "Project",
    "Tenants",
]


def __getattr__(name: str) -> Any:
    # ``Mockserver`` was the handle's first name; it read too much like ``mockserver.MockServer``
    # (the server thread). Kept, with a warning, for code written against it.
    if name == "Mockserver":
        warnings.warn("mockserver.handles.Mockserver is deprecated: use MockHandle", DeprecationWarning, stacklevel=2)
        return MockHandle
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
