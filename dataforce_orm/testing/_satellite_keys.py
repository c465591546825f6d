"""Satellite keys (``dfssat_...``): a principal of the worker routes, which every user route
refuses with the platform's 403 naming the scopes the route takes."""

from __future__ import annotations

import secrets

from ._ids import now_iso
from ._store import Store, hash_key

PREFIX = "dfssat_"
SCHEMA = """
CREATE TABLE IF NOT EXISTS satellite_keys (key_hash TEXT PRIMARY KEY, created_at TEXT NOT NULL);
"""
API_KEY_ONLY = frozenset({"/v1/auth/api-keys/validate"})  # every other route: jwt, api_key


def add_satellite_key(store: Store) -> str:
    """A new satellite key (the platform makes one per satellite)."""
    store.install(SCHEMA)
    key = PREFIX + secrets.token_urlsafe(32)
    with store.tx() as db:
        db.execute("INSERT INTO satellite_keys VALUES (?, ?)", (hash_key(key), now_iso()))
    return key


def is_satellite_key(store: Store, token: str) -> bool:
    """Whether ``token`` is a known satellite key (an unknown one leaves the request
    anonymous, as the platform's quiet authentication does)."""
    if not token.startswith(PREFIX):
        return False
    store.install(SCHEMA)
    return store._one("SELECT 1 FROM satellite_keys WHERE key_hash = ?", hash_key(token)) \
        is not None


def wrong_scope(template: str) -> str:
    """The 403's text for a satellite key on the route ``template``."""
    scopes = "api_key" if template in API_KEY_ONLY else "jwt, api_key"
    return f"This endpoint requires {scopes} authentication."
