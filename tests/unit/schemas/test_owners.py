from __future__ import annotations

from schemas.owners import SOURCE_OWNERS, may_send, owners_of
from schemas.sectors import load_catalog
from schemas.topics import SOURCES


def test_every_source_has_owners_that_the_catalog_knows() -> None:
    catalog = load_catalog()
    assert set(SOURCE_OWNERS) == set(SOURCES)
    for source in SOURCE_OWNERS:
        assert owners_of(source, catalog)
        assert owners_of(source, catalog) <= set(catalog.departments)


def test_the_tax_bureau_sends_tax_and_its_listings_only() -> None:
    catalog = load_catalog()
    assert may_send("SAT", "tax", catalog)
    assert may_send("SAT", "blacklist", catalog)
    assert not may_send("SAT", "enterprise", catalog)
    assert not may_send("SAT", "trademark", catalog)
    assert may_send("SAMR", "enterprise", catalog)
    assert may_send("SAMR", "trademark", catalog)
    assert not may_send("NOPE", "blacklist", catalog)
    assert not may_send("SAT", "profiles", catalog)


def test_the_intellectual_property_office_alone_sends_patents() -> None:
    catalog = load_catalog()
    assert owners_of("patent", catalog) == {"CNIPA"}
    assert may_send("CNIPA", "patent", catalog)
    assert may_send("CNIPA", "blacklist", catalog)  # its own listings, like any department
    assert not may_send("SAMR", "patent", catalog)
    assert not may_send("CNIPA", "trademark", catalog)
