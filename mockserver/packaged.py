"""The files the package ships (contracts, fixtures, schemas, dashboard).

Installed as files (pip unpacks wheels; the source tree is used as is), they are next to this
module, and reading them needs nothing more. ``importlib.resources``, whose import costs a few
milliseconds of every start-up, is used only when the package is imported from a zip (a wheel on
``PYTHONPATH``), where there is no such folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = ["PACKAGE", "packaged"]

PACKAGE = Path(__file__).parent  # absolute (as __file__ is), symlinks kept
_ON_DISK = PACKAGE.is_dir()


def packaged(*parts: str) -> Traversable:
    """A shipped file, e.g. ``packaged("admin", "openapi.yaml")`` (a ``Path`` unless zipped)."""
    if _ON_DISK:
        return PACKAGE.joinpath(*parts)
    from importlib import resources

    return resources.files(__package__ or "mockserver").joinpath(*parts)
