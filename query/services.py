"""What every handler of one app shares: the database, catalogs, key cache, metrics, the
kept answer of ``/v1/stats`` and the exports' turns."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from query.cache import Recomputed
from query.db import Database
from query.exports import EXPORTS_AT_ONCE
from query.keys import KeyCache
from query.metrics import QueryMetrics
from schemas.registry import ManifestRegistry
from schemas.sectors import SectorCatalog

__all__ = ["Services"]


@dataclass(frozen=True)
class Services:
    """Lives in ``app.state.services``; made by ``query.app.create_app``."""

    db: Database
    catalog: SectorCatalog
    registry: ManifestRegistry
    topic_prefix: str
    keys: KeyCache
    metrics: QueryMetrics
    stats: Recomputed[bytes]
    exports: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(EXPORTS_AT_ONCE))
    """Turns of the exports streaming at once (query/exports.py)."""
