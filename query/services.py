"""What every handler of one app shares: the database, catalogs, key cache, metrics, the
kept answer of ``/v1/stats`` and the exports' turns."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from query.cache import Recomputed
from query.db import Database
from query.exports import EXPORTS_AT_ONCE
from query.keys import KeyCache
from query.metrics import QueryMetrics
from query.reads import EXPORT_ROWS
from schemas.registry import ManifestRegistry
from schemas.sectors import SectorCatalog

__all__ = ["INGEST_MAX_BYTES", "IngestState", "Services", "services_of"]

INGEST_MAX_BYTES = 64 * 1024 * 1024  # a large department file; more goes by zjcredit produce


@dataclass(frozen=True)
class IngestState:
    """Where uploads go (query/ingest.py): Kafka (None: uploads answer 503), the size
    limit, and the one turn for an upload at a time."""

    bootstrap_servers: str | None = None
    max_bytes: int = INGEST_MAX_BYTES
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)


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
    export_rows: int = EXPORT_ROWS
    """The most rows one export may have (query/reads.py); more is a 422."""
    ingest: IngestState = field(default_factory=IngestState)


def services_of(request: Any) -> Services:
    """The app's :class:`Services`, for a handler that has its ``Request``."""
    services: Services = request.app.state.services
    return services
