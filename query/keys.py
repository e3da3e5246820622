"""API keys: made once, shown once, stored only as their sha256 (``access.api_key``).

A key reads ``zjc_<key id>_<secret>``: the key id (8 hex) is public, names the key in
``zjcredit keys list`` and is what ``keys revoke`` takes; the secret is 32 random bytes
(URL-safe base64). The database holds the sha256 of the whole key, so a copy of the
database gives no usable key. Roles: ``bank``, ``department``, ``admin`` (``public``
needs no key).

Example::

    key_id, key = await create_key(conn, "宁波银行 credit desk", Role.BANK)
    role = await role_of_key(conn, key)      # Role.BANK; None once revoked
    await create_key(conn, "省税务局 征管科", Role.DEPARTMENT, department="SAT")

A department key may name its department (a catalog code): only such a key sends data
over HTTP (query/ingest.py), and only the sources its department owns.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from query.roles import Role

__all__ = ["KEY_ROLES", "ApiKey", "KeyCache", "KeyHolder", "create_key", "holder_of_key",
           "list_keys", "revoke_key", "role_of_key"]  # fmt: skip

KEY_ROLES = (Role.BANK, Role.DEPARTMENT, Role.ADMIN)


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None
    department: str | None = None


@dataclass(frozen=True)
class KeyHolder:
    """Who a valid key is: what the ingest records and checks."""

    key_id: str
    role: Role
    department: str | None


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


async def create_key(conn: asyncpg.Connection, name: str, role: Role,
                     department: str | None = None) -> tuple[str, str]:  # fmt: skip
    """Store a new key for ``role``; its id and the key itself (the only time it is seen).
    ``department``: a department key's department code (checked by the caller)."""
    if role not in KEY_ROLES:
        raise ValueError(f"keys are for the roles {', '.join(KEY_ROLES)}; public needs none")
    if department is not None and role is not Role.DEPARTMENT:
        raise ValueError("only a department key names a department")
    key_id = secrets.token_hex(4)
    key = f"zjc_{key_id}_{secrets.token_urlsafe(32)}"
    await conn.execute(
        "insert into access.api_key (key_id, name, role, key_sha256, department) "
        "values ($1, $2, $3, $4, $5)",
        key_id, name, role.value, _digest(key), department,
    )  # fmt: skip
    return key_id, key


async def list_keys(conn: asyncpg.Connection) -> list[ApiKey]:
    rows = await conn.fetch(
        "select key_id, name, role, created_at, revoked_at, department from access.api_key "
        "order by created_at, key_id"
    )
    return [ApiKey(r["key_id"], r["name"], Role(r["role"]), r["created_at"], r["revoked_at"],
                   r["department"]) for r in rows]  # fmt: skip


async def revoke_key(conn: asyncpg.Connection, key_id: str) -> bool:
    """Revoke the key; False if there is no such key, or it was revoked already."""
    done = await conn.fetchval(
        "update access.api_key set revoked_at = now() where key_id = $1 "
        "and revoked_at is null returning true",
        key_id,
    )
    return bool(done)


async def role_of_key(conn: asyncpg.Connection, key: str) -> Role | None:
    """The role of a valid key; None for an unknown or revoked one."""
    role = await conn.fetchval(
        "select role from access.api_key where key_sha256 = $1 and revoked_at is null",
        _digest(key),
    )
    return Role(role) if role is not None else None


async def holder_of_key(conn: asyncpg.Connection, key: str) -> KeyHolder | None:
    """The holder of a valid key; None for an unknown or revoked one. Uncached: for the
    rare calls (an upload) where a revocation must count at once."""
    row = await conn.fetchrow(
        "select key_id, role, department from access.api_key "
        "where key_sha256 = $1 and revoked_at is null",
        _digest(key),
    )
    return KeyHolder(row["key_id"], Role(row["role"]), row["department"]) if row else None


class KeyCache:
    """Remembers key lookups (valid and invalid) for ``ttl`` seconds.

    Saves a database round trip per request; the price is that a revoked key keeps
    working for up to ``ttl`` seconds (docs/query.md says so). Bounded: cleared whole
    when full, so a flood of made-up keys cannot grow it.
    """

    def __init__(self, ttl: float = 10.0, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[bytes, tuple[float, Role | None]] = {}

    def get(self, key: str) -> tuple[bool, Role | None]:
        """(found, role): found False means ask the database."""
        hit = self._entries.get(_digest(key))
        if hit is None or hit[0] < time.monotonic():
            return False, None
        return True, hit[1]

    def put(self, key: str, role: Role | None) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[_digest(key)] = (time.monotonic() + self.ttl, role)
