"""Bulk lookup (``POST /v1/enterprises/lookup``), its pure parts: no I/O.

The codes asked are sorted out first: each is normalised and validated as the single
route does (``schemas/uscc.py``), a malformed one is kept with the rule it broke, a
repeated one is asked once. The found profiles come back in the order first asked, each
as :func:`query.roles.profile_view` makes it for the caller's role (the single route's
body), then the codes not found, then the malformed ones.

Example::

    >>> codes, malformed = split_codes(["91330100716105852f", "91330100716105852G", ""])
    >>> codes, [m["rule"] for m in malformed]
    (['91330100716105852F'], ['check_char', 'empty'])
    >>> codes_from_text("\\ufeff# bank's list\\n91330100716105852F  # 美兴\\n\\n")
    ['91330100716105852F']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from query.roles import Role, profile_view
from schemas.errors import InvalidCreditCode
from schemas.sectors import SectorCatalog
from schemas.uscc import MAX_RAW, validate

__all__ = ["LOOKUP_MAX", "codes_from_text", "lookup_view", "split_codes"]

LOOKUP_MAX = 1_000
"""Codes per request at most (one ``= any($1)`` read of at most this many rows)."""


def split_codes(raw: Iterable[str]) -> tuple[list[str], list[dict[str, str]]]:
    """The distinct valid codes (normalised, in the order first asked) and the malformed
    ones as ``{"uscc": as sent, "rule": ..., "message": ...}``, in the order asked (a
    code longer than ``MAX_RAW`` characters is shown cut there)."""
    codes: dict[str, None] = {}
    malformed = []
    for text in raw:
        try:
            codes[validate(text).code] = None
        except InvalidCreditCode as error:
            # The code as sent, cut as the validator cuts it: a megabyte is not echoed.
            shown = text if len(text) <= MAX_RAW else text[:MAX_RAW] + "…"
            malformed.append({"uscc": shown, "rule": error.reason, "message": str(error)})
    return list(codes), malformed


def lookup_view(codes: list[str], malformed: list[dict[str, str]],
                stored: Mapping[str, Mapping[str, Any]], role: Role,
                catalog: SectorCatalog) -> dict[str, Any]:  # fmt: skip
    """The answer (query/models.py ``LookupResult``) from the stored profiles found."""
    return {
        "profiles": [profile_view(stored[c], role, catalog) for c in codes if c in stored],
        "not_found": [c for c in codes if c not in stored],
        "malformed": malformed,
        "role": role.value,
    }


def codes_from_text(text: str) -> list[str]:
    """The codes of a file, one a line: a BOM, blank lines and ``#`` comments (whole
    lines or after a code; a code has no ``#``) are skipped; each code is trimmed."""
    codes = []
    for line in text.removeprefix("\ufeff").splitlines():
        code = line.partition("#")[0].strip()
        if code:
            codes.append(code)
    return codes
