"""Which department may send which source: who owns the facts of a topic.

A department's key (query/keys.py, ``--department``) sends over HTTP only the sources its
department owns, and every row it sends carries its department (query/ingest.py).

| source     | owner                                                            |
|------------|------------------------------------------------------------------|
| enterprise | SAMR (市场监督管理局: registration, changes, 专精特新)              |
| tax        | SAT (税务局)                                                      |
| trademark  | SAMR (the provincial 市场监督管理局 also carries 知识产权局 duties;  |
|            | the register itself is CNIPA's Trademark Office) **[unconfirmed]** |
| blacklist  | any department of the catalog: each reports its own listings     |
| patent     | CNIPA (知识产权局: the provincial intellectual-property office,   |
|            | which keeps the patent and patent-pledge registers' local copy)  |
|            | **[unconfirmed]**: the registers are CNIPA's; Zhejiang's office  |
|            | sits in its 市场监督管理局, so the province may send as SAMR      |

Example::

    may_send("SAT", "tax", catalog)        # True
    may_send("SAT", "enterprise", catalog) # False
"""

from __future__ import annotations

from collections.abc import Mapping

from schemas.sectors import SectorCatalog

__all__ = ["SOURCE_OWNERS", "may_send", "owners_of"]

# None: every department of the catalog (a blacklist listing is its lister's fact).
SOURCE_OWNERS: Mapping[str, frozenset[str] | None] = {
    "enterprise": frozenset({"SAMR"}),
    "tax": frozenset({"SAT"}),
    "trademark": frozenset({"SAMR"}),
    "blacklist": None,
    "patent": frozenset({"CNIPA"}),
}


def owners_of(source: str, catalog: SectorCatalog) -> frozenset[str]:
    """The departments that may send ``source``; KeyError for an unknown source."""
    owners = SOURCE_OWNERS[source]
    return frozenset(catalog.departments) if owners is None else owners


def may_send(department: str, source: str, catalog: SectorCatalog) -> bool:
    return source in SOURCE_OWNERS and department in owners_of(source, catalog)
