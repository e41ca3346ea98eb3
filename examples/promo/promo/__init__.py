"""Promotions and customer support for a small shop, on bitHuman avatars and Agora voice agents."""

from __future__ import annotations

from .announce import AnnouncementFailed, announce, brief
from .support import GREETING, share_order_status, start_support_agent

__all__ = ["GREETING", "AnnouncementFailed", "announce", "brief", "share_order_status", "start_support_agent"]
