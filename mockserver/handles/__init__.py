"""The handles of the pytest plugin: what a test drives the mock with, through the control plane.

``Mockserver`` (the ``mockserver`` fixture) makes fresh tenants and resets them when the test ends;
``BitHuman`` / ``Account`` / ``Agent`` and ``Agora`` / ``Project`` / ``AgoraAgent`` arrange a vendor's
tenants and read what their agents were told; ``Clock`` drives the mock clock. They need only
``mockserver.client``, so they work on any server the client reaches, in process too.
See docs/pytest-plugin.md.
"""

from __future__ import annotations

from .agora import Agora, AgoraAgent, Project
from .bithuman import Account, Agent, BitHuman
from .common import Clock, Expected
from .mockserver import Mockserver

__all__ = ["Account", "Agent", "Agora", "AgoraAgent", "BitHuman", "Clock", "Expected", "Mockserver", "Project"]
