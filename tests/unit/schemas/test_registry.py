"""The manifest is append-only and every schema in it is sound."""

from __future__ import annotations

import itertools
import json

import pytest

from base.settings import Settings
from schemas.compat import backward_problems
from schemas.errors import SchemaRegistryError
from schemas.registry import MANIFEST, ManifestRegistry, canonical_form, schema_sha256
from schemas.topics import project_topics
from tests.avro_oracle import avro_says_compatible


def test_ids_are_contiguous_and_versions_count_up_per_subject() -> None:
    entries = ManifestRegistry.load().entries()
    assert [e.id for e in entries] == list(range(1, len(entries) + 1))
    for subject in {e.subject for e in entries}:
        versions = [e.version for e in entries if e.subject == subject]
        assert versions == list(range(1, len(versions) + 1)), subject


def test_no_registered_schema_was_edited_after_registration() -> None:
    document = json.loads(MANIFEST.read_text("utf-8"))
    for item in document["schemas"]:
        schema = json.loads((MANIFEST.parent / item["file"]).read_text("utf-8"))
        assert schema_sha256(schema) == item["sha256"], (
            f"schema id {item['id']} ({item['file']}) changed after registration: "
            "register the change as a new file with the next id instead"
        )


def test_every_topic_has_a_subject() -> None:
    subjects = set(ManifestRegistry.load().subjects())
    roles = {s.name.split(".", 1)[1] for s in project_topics(Settings.from_env({}))}
    assert roles == subjects


def test_every_version_reads_data_of_every_earlier_one() -> None:
    """Every ordered pair, not only neighbours: the codec decodes any earlier version."""
    registry = ManifestRegistry.load()
    checked = 0
    for subject in registry.subjects():
        versions = registry.versions(subject)
        for old, new in itertools.combinations(versions, 2):
            assert backward_problems(new.schema, old.schema) == [], (
                f"{subject} v{new.version} cannot read v{old.version}"
            )
            assert avro_says_compatible(new.schema, old.schema), f"{subject}: avro disagrees"
            checked += 1
    n = [len(registry.versions(s)) for s in registry.subjects()]
    assert checked == sum(k * (k - 1) // 2 for k in n)


def test_unknown_subject_lists_the_known_ones() -> None:
    with pytest.raises(SchemaRegistryError, match=r"no subject 'taxes' \(known: .*tax"):
        ManifestRegistry.load().latest("taxes")


def test_a_clients_schema_matches_the_version_with_its_canonical_form() -> None:
    registry = ManifestRegistry.load()
    for entry in registry.entries():
        # As a client holds it: docs, defaults and key order may differ; the bytes may not.
        text = json.dumps(dict(reversed(list(entry.schema.items()))), ensure_ascii=False)
        found = registry.matching(entry.subject, {**json.loads(text), "doc": "our copy"})
        assert found == entry
    penalties = registry.versions("penalties")
    assert registry.matching("penalties", penalties[0].schema) == penalties[0]
    assert registry.matching("tax", penalties[0].schema) is None  # right schema, wrong subject


def test_a_changed_field_matches_nothing_and_a_non_schema_is_a_value_error() -> None:
    registry = ManifestRegistry.load()
    tax = dict(registry.latest("tax").schema)
    tax["fields"] = [*tax["fields"], {"name": "extra", "type": "string"}]
    assert registry.matching("tax", tax) is None
    for bad in ({"type": "record"}, {"type": "nope"}, [1], 5, {"type": "array"}):
        with pytest.raises(ValueError, match="not an Avro schema"):
            canonical_form(bad)
    with pytest.raises(SchemaRegistryError):
        registry.matching("patents", tax)
