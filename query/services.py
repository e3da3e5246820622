"""What every handler of one app shares: the database, catalogs, key cache, metrics and
the kept answer of ``/v1/stats``."""

from __future__ import annotations

from dataclasses import dataclass

from query.cache import Recomputed
from query.db import Database
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
