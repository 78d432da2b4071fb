"""People: badge digests and PIN/password hashes (login pages arrive with the scanner issue)."""

from __future__ import annotations

import hashlib
import hmac

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def badge_digest(key: str, badge: str) -> str:
    """The HMAC-SHA256 of a badge number, by which a user is looked up (never the badge itself)."""
    return hmac.new(key.encode(), badge.strip().encode(), hashlib.sha256).hexdigest()


def hash_secret(secret: str) -> str:
    """Hash a PIN or password with argon2id."""
    return _hasher.hash(secret)


def verify_secret(stored_hash: str | None, secret: str) -> bool:
    """True when the secret matches the stored argon2 hash."""
    if not stored_hash:
        return False
    try:
        return _hasher.verify(stored_hash, secret)
    except (VerificationError, InvalidHashError):
        return False
