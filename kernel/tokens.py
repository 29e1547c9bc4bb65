"""One-time link tokens (door links, waiting-list offers, judges' magic links): only their hash is stored."""

from __future__ import annotations

import hashlib


def hash_token(token: str) -> str:
    """SHA-256 hex of a random URL token; a leaked database row cannot be turned back into a working link."""
    return hashlib.sha256(token.encode()).hexdigest()
