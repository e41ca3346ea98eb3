"""Seedable identifiers: the same seed gives the same ids, run after run."""

from __future__ import annotations

import random
import string
from collections.abc import Callable

__all__ = ["Ids"]

_UPPER_ALNUM = string.ascii_uppercase + string.digits
_URLSAFE = string.ascii_letters + string.digits


class Ids:
    """Makes ids from a seedable RNG.

    Args:
        seed: a fixed seed makes every generated id reproducible; ``None`` draws from the OS.
    """

    def __init__(self, seed: int | None = None) -> None:
        self.reseed(seed)

    def reseed(self, seed: int | None = None) -> None:
        self.seed = seed
        self._rng = random.Random(seed)
        # Keys come from a stream of their own, so adding one leaves every other seeded id as it was;
        # without a seed they come from the OS's secure source.
        self._keys: random.Random = random.SystemRandom() if seed is None else random.Random(f"keys:{seed}")

    def snapshot(self) -> Callable[[], None]:
        """A function that puts the seed and the RNG's state back as they are now."""
        seed, state = self.seed, self._rng.getstate()

        def restore() -> None:
            self.seed = seed
            self._rng.setstate(state)

        return restore

    def token(self, alphabet: str, length: int) -> str:
        return "".join(self._rng.choices(alphabet, k=length))

    def key(self, length: int) -> str:
        """A secret key of ``length`` hex digits (an Agora App Certificate, say)."""
        return "".join(self._keys.choices("0123456789abcdef", k=length))

    def agent_code(self) -> str:
        """A bitHuman-looking agent code: ``A`` and eight upper-case letters or digits."""
        return "A" + self.token(_UPPER_ALNUM, 8)

    def account_id(self) -> str:
        return "acct_" + self.token(string.hexdigits[:16], 12)

    def secret(self) -> str:
        return "sk_mock_" + self.token(_URLSAFE, 32)

    def room_id(self) -> str:
        return "room_" + self.token(string.ascii_lowercase + string.digits, 10)
