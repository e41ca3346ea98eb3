"""How the worlds keep credentials: as digests, never as the secrets themselves.

A bitHuman ``api-secret`` or an Agora customer secret is looked up by its digest and compared, as
a digest, with ``hmac.compare_digest``. BLAKE2s rather than SHA-256: the digest is only ever
compared with other digests made here, and BLAKE2s is CPython's own C code, about half the cost
per call of OpenSSL's SHA-256 (whose per-call set-up dominates for a short secret), on a path that
runs for every authenticated request.
"""

from __future__ import annotations

from hashlib import blake2s

__all__ = ["digest"]


def digest(secret: str) -> bytes:
    """The digest a secret is known by (any text, lone surrogates included)."""
    return blake2s(secret.encode("utf-8", "surrogatepass")).digest()
