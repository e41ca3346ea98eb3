"""The control plane under ``/_mock/``: arrange and inspect the world (see docs/control-plane.md)."""

from __future__ import annotations

from .problem import ProblemFamily

__all__ = ["ProblemFamily"]
