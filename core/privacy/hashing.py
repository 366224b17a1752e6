"""The keyed hashes that stand in for ID numbers and other identifiers (Kafka keys, record ids,
search columns, blocking keys, objection digests). The only place a key meets a value.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

__all__ = ["keyed_hash", "short_keyed_hasher"]


def _secret(key: bytes | str, what: str) -> bytes:
    secret = key.encode("utf-8") if isinstance(key, str) else key
    if not secret:
        raise ValueError(f"{what} needs a non-empty key: an unkeyed hash of an ID number can be reversed")
    return secret


def keyed_hash(value: str | bytes, key: bytes | str) -> str:
    """HMAC-SHA256 (hex) of ``value`` as given: stable, joinable, and useless without the key.

    Callers that hash an ID number clean it first (``core.standardise.keyed_hash`` does), so that
    every spelling of one number gives one hash.

    >>> len(keyed_hash("11010519491231002X", "k"))
    64
    """
    data = value.encode("utf-8") if isinstance(value, str) else value
    return hmac.new(_secret(key, "keyed_hash"), data, hashlib.sha256).hexdigest()


def short_keyed_hasher(key: bytes | str, digest_bytes: int) -> Callable[[str], str]:
    """A keyed BLAKE2b of ``digest_bytes`` bytes (hex): many short keys per record (blocking) cost
    less than HMAC-SHA256 and are as useless without the key. A key over 64 bytes is hashed first
    (BLAKE2b takes at most 64)."""
    secret = _secret(key, "blocking")
    if len(secret) > 64:
        secret = hashlib.sha256(secret).digest()

    def digest(text: str) -> str:
        return hashlib.blake2b(text.encode("utf-8"), key=secret, digest_size=digest_bytes).hexdigest()

    return digest
