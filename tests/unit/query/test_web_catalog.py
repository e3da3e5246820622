"""The web page's copy of the catalog's codes (query/web/lists.js) matches the catalog.

The page lists the key sectors and departments in its own tables (names in two languages
for the filters); the browser test checks them too, but only where Chromium runs and only
after a whole pipeline has started. A code added to schemas/catalog/sectors.json and not
to the page fails here in a second.
"""

import re
from pathlib import Path

from schemas.sectors import load_catalog

LISTS_JS = Path(__file__).resolve().parents[3] / "query" / "web" / "lists.js"


def _codes(table: str) -> list[str]:
    """The first string of each row in `const <table> = [ ... ];` of lists.js."""
    text = LISTS_JS.read_text("utf-8")
    body = re.search(rf"const {table} = \[(.*?)\n  \];", text, re.S)
    assert body is not None, f"no {table} table in {LISTS_JS}"
    return re.findall(r'\["([^"]+)",', body.group(1))


def test_the_pages_departments_are_the_catalogs_in_its_order() -> None:
    assert _codes("DEPARTMENTS") == list(load_catalog().departments)


def test_the_pages_sectors_are_the_catalogs_in_its_order() -> None:
    assert _codes("SECTORS") == list(load_catalog().sectors)
