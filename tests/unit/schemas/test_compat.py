"""The compatibility checker refuses the changes Avro resolution cannot bridge."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from schemas.compat import backward_problems
from schemas.registry import ManifestRegistry
from tests.avro_oracle import avro_says_compatible

BASE: dict[str, Any] = {
    "type": "record", "name": "TaxEvent",
    "fields": [
        {"name": "uscc", "type": "string"},
        {"name": "year", "type": "int"},
        {"name": "grade", "type": {"type": "enum", "name": "TaxGrade", "symbols": ["A", "B", "M", "C", "D"]}},
        {"name": "amount", "type": ["null", {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 2}], "default": None},
    ],
}  # fmt: skip


def _changed(edit: Any) -> dict[str, Any]:
    schema = copy.deepcopy(BASE)
    edit(schema)
    return schema


def test_identical_and_every_registered_schema_read_themselves() -> None:
    assert backward_problems(BASE, BASE) == []
    for entry in ManifestRegistry.load().entries():
        assert backward_problems(entry.schema, entry.schema) == [], entry.file


@pytest.mark.parametrize(
    "edit",
    [
        lambda s: s["fields"].append(
            {"name": "office", "type": ["null", "string"], "default": None}
        ),
        lambda s: s["fields"].pop(),  # the reader ignores a field it no longer has
        lambda s: s["fields"].__setitem__(1, {"name": "year", "type": "long"}),  # int -> long
        lambda s: s["fields"][2]["type"]["symbols"].append("E"),
    ],
    ids=["new optional field", "dropped field", "int promoted to long", "enum symbol added"],
)
def test_compatible_changes_pass(edit: Any) -> None:
    assert backward_problems(_changed(edit), BASE) == []
    assert avro_says_compatible(_changed(edit), BASE)


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda s: s["fields"].append({"name": "office", "type": "string"}), "office: new field without a default"),
        (lambda s: s["fields"].__setitem__(1, {"name": "year", "type": "string"}), "year: int cannot be read as string"),
        (lambda s: s["fields"][2]["type"]["symbols"].remove("M"), "lost symbols ['M']"),
        (lambda s: s["fields"][3]["type"][1].__setitem__("scale", 3), "decimal precision/scale changed"),
        (lambda s: s["fields"].__setitem__(3, {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 2}}), "null cannot be read as bytes"),
    ],
    ids=["required field added", "type changed", "enum symbol removed", "decimal scale changed", "nullable made required"],
)  # fmt: skip
def test_incompatible_changes_are_named(edit: Any, fragment: str) -> None:
    problems = backward_problems(_changed(edit), BASE)
    assert any(fragment in p for p in problems), problems
    if "decimal" not in fragment:  # the avro checker resolves a decimal as its bytes
        assert not avro_says_compatible(_changed(edit), BASE)
