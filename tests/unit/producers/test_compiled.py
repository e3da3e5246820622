"""The compiled row parser: what reaches its source, and what does not."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from producers.compiled import compile_parser
from producers.rows import RowParser
from schemas.registry import ManifestRegistry
from schemas.sectors import load_catalog

NOW = dt.datetime(2017, 5, 1, tzinfo=dt.UTC)


def test_a_files_column_names_never_reach_the_source() -> None:
    tax = RowParser("tax", ManifestRegistry.load().latest("tax"), load_catalog())
    row = {"uscc": "91330100716105852F", "department": "SAT", "occurred_at": "2017-04-20",
           "event_type": "TAX_PAID", "tax_year": "2016", "amount": "1.00",
           '"); import os; os._exit(1) #': "x", "{f0}": "y", "\\": "z"}  # fmt: skip
    assert tax.parse(row, NOW) == tax.parse_by_name(row, NOW)


def test_a_name_that_is_not_an_avro_name_is_refused() -> None:
    tax = RowParser("tax", ManifestRegistry.load().latest("tax"), load_catalog())
    plan = tax._plan(("uscc",))  # a plan to spoil
    with pytest.raises(ValueError, match="not an Avro name"):
        compile_parser(dataclasses.replace(plan, fields=[*plan.fields, 'x"}']))
