"""The built-in schema registry: ``schemas/manifest.json`` maps ids to ``.avsc`` files.

The manifest is append-only: an id, once given, always means the same schema, so any
message ever written stays decodable. A changed schema gets a new id and the next
version of its subject. Subjects are topic roles (``tax``, ``profiles``, ...); the
Confluent subject name is ``<topic prefix>.<role>-value``.

Example::

    registry = ManifestRegistry.load()
    tax = registry.latest("tax")          # RegisteredSchema(id=2, subject="tax", version=1, ...)
    registry.by_id(2).parsed              # fastavro's parsed schema, ready for (de)serialising
    registry.matching("tax", text)        # the version whose canonical form equals text's, or None
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import to_parsing_canonical_form

from schemas.errors import SchemaRegistryError, UnknownSchemaId

__all__ = ["MANIFEST", "ManifestRegistry", "RegisteredSchema", "canonical_form", "schema_sha256"]

MANIFEST = Path(__file__).with_name("manifest.json")


def schema_sha256(schema: Mapping[str, Any]) -> str:
    """Digest of a schema's JSON with sorted keys: any edit at all changes it."""
    text = json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical_form(schema: Any) -> str:
    """Avro's Parsing Canonical Form of a schema (a parsed JSON value): what decides the
    bytes on the wire, without docs, defaults or aliases. Two schemas with the same form
    write and read the same bytes, so a client holding either writes our schema id.

    Raises ``ValueError`` (with fastavro's message) when ``schema`` is not an Avro schema.
    """
    try:
        return str(to_parsing_canonical_form(schema))
    except (fastavro.schema.SchemaParseException, ValueError, TypeError, KeyError,
            AttributeError, RecursionError) as e:  # fmt: skip
        # fastavro reports a malformed schema with whichever of these its walk hit first.
        raise ValueError(f"not an Avro schema: {e}") from None


@dataclass(frozen=True)
class RegisteredSchema:
    """One manifest entry with its schema loaded and parsed."""

    id: int
    subject: str
    version: int
    file: str
    schema: Mapping[str, Any] = field(repr=False)
    parsed: Any = field(repr=False, compare=False)

    @cached_property
    def canonical(self) -> str:
        return canonical_form(self.schema)

    @property
    def record_name(self) -> str:
        return f"{self.schema.get('namespace', '')}.{self.schema['name']}".lstrip(".")


class ManifestRegistry:
    """Read-only registry over the manifest. Build it once per process with :meth:`load`."""

    def __init__(self, entries: list[RegisteredSchema]) -> None:
        self._by_id = {e.id: e for e in entries}
        self._by_subject: dict[str, list[RegisteredSchema]] = {}
        for entry in sorted(entries, key=lambda e: (e.subject, e.version)):
            self._by_subject.setdefault(entry.subject, []).append(entry)

    @classmethod
    def load(cls, manifest: Path = MANIFEST) -> ManifestRegistry:
        """Load and parse every schema the manifest names (cached for the default path)."""
        return _load_default() if manifest == MANIFEST else _load(manifest)

    def by_id(self, schema_id: int) -> RegisteredSchema:
        try:
            return self._by_id[schema_id]
        except KeyError:
            raise UnknownSchemaId(f"no schema with id {schema_id} in the registry") from None

    def versions(self, subject: str) -> list[RegisteredSchema]:
        """Every version of ``subject``, oldest first."""
        try:
            return list(self._by_subject[subject])
        except KeyError:
            known = ", ".join(sorted(self._by_subject))
            raise SchemaRegistryError(f"no subject {subject!r} (known: {known})") from None

    def latest(self, subject: str) -> RegisteredSchema:
        return self.versions(subject)[-1]

    def matching(self, subject: str, schema: Any) -> RegisteredSchema | None:
        """The newest version of ``subject`` with ``schema``'s canonical form, or None.

        Raises ``SchemaRegistryError`` for an unknown subject and ``ValueError`` for a
        ``schema`` that is not an Avro schema.
        """
        versions = self.versions(subject)
        wanted = canonical_form(schema)
        return next((e for e in reversed(versions) if e.canonical == wanted), None)

    def subjects(self) -> list[str]:
        return sorted(self._by_subject)

    def entries(self) -> list[RegisteredSchema]:
        return [self._by_id[i] for i in sorted(self._by_id)]


def _load(manifest: Path) -> ManifestRegistry:
    document = json.loads(manifest.read_text("utf-8"))
    entries = []
    for item in document["schemas"]:
        schema = json.loads((manifest.parent / item["file"]).read_text("utf-8"))
        entries.append(
            RegisteredSchema(
                id=int(item["id"]),
                subject=item["subject"],
                version=int(item["version"]),
                file=item["file"],
                schema=schema,
                parsed=fastavro.parse_schema(schema),
            )
        )
    return ManifestRegistry(entries)


@cache
def _load_default() -> ManifestRegistry:
    return _load(MANIFEST)
