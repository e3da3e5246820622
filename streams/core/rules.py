"""The versioned rules of the scorecard and the credit line, loaded from ``rules.json``.

The numbers are data (their notes say where each comes from); :class:`Rules` also carries
the key-sector catalog, so one object is all the fold and the scorecard need.

Example::

    rules = load_rules()
    rules.version, rules.scorecard["base"]
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.sectors import SectorCatalog, load_catalog
from streams.errors import RulesError

__all__ = ["DEFAULT_PATH", "Rules", "load_rules"]

DEFAULT_PATH = Path(__file__).with_name("rules.json")
GRADES = ("EXCELLENT", "GOOD", "FAIR", "POOR")


@dataclass(frozen=True)
class Rules:
    version: str
    scorecard: Mapping[str, Any]
    credit_line: Mapping[str, Any]
    catalog: SectorCatalog


def load_rules(path: Path | None = None) -> Rules:
    """The rules in ``path`` (default: the packaged ``rules.json``); ValueError if malformed."""
    return _load(path or DEFAULT_PATH)


@functools.cache
def _load(path: Path) -> Rules:
    data = json.loads(path.read_text(encoding="utf-8"))
    bands = data["scorecard"]["bands"]
    if [b[0] for b in bands] != list(GRADES) or bands[-1][1] != 0:
        raise RulesError(f"{path}: scorecard.bands must be {GRADES} down to 0, got {bands}")
    if [b[1] for b in bands] != sorted((b[1] for b in bands), reverse=True):
        raise RulesError(f"{path}: scorecard.bands cut-offs must descend, got {bands}")
    return Rules(data["version"], data["scorecard"], data["credit_line"], load_catalog())
