"""API keys, tenants and tiers.

A key is `kin-` + 32 random bytes (urlsafe base64); only its SHA-256 is stored (a random 256-bit secret needs
no slow hash). The tenant of a request is the key's id, so one key never sees another key's videos.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from kinema.errors import InvalidInputError
from kinema.serving.key_store import KeyStore
from kinema.serving.settings import LOCAL_TIER, TIERS, Tier
from kinema.serving.store import Store, new_id

KEY_PREFIX = "kin-"


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    tier: Tier


LOCAL_TENANT = Tenant("local", "local", LOCAL_TIER)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(store: Store | KeyStore, name: str, tier: str) -> tuple[str, str]:
    """Make a key, store its hash, return (key id, the key itself — shown once)."""
    if tier not in TIERS:
        raise InvalidInputError(f"Unknown tier {tier!r}; use one of: {', '.join(TIERS)}.")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = new_id("key")
    keys = store.keys if isinstance(store, Store) else store
    keys.add(key_id, name, tier, hash_key(key), key[:10])
    return key_id, key


def tenant_for_key(keys: KeyStore, key: str) -> Tenant | None:
    row = keys.find(hash_key(key))
    if row is None:
        return None
    return Tenant(row["id"], row["name"], TIERS.get(row["tier"], TIERS["free"]))
