"""Errors of the PostgreSQL contract (drawn with the whole tree in base/errors.py)."""

from __future__ import annotations

from base.errors import ZjcreditError

__all__ = ["MigrationError", "SchemaVersionError"]


class MigrationError(ZjcreditError, ValueError):
    """A migrations folder is malformed: a file misnamed, or a gap in the numbering."""


class SchemaVersionError(ZjcreditError):
    """The database lacks migrations a reader needs; ``missing`` names them."""

    def __init__(self, schema: str, missing: list[str]) -> None:
        super().__init__(
            f"the {schema} schema lacks migration(s) {', '.join(missing)}: run `zjcredit migrate`"
        )
        self.missing = missing
