"""COPY text lines (sink/copytext.py, how ``sink rebuild`` writes profiles) read back by
PostgreSQL as exactly the values asyncpg's binary COPY of the same rows stores, for every
table a profile writes, on rows with every escape and type the layout has."""

from __future__ import annotations

import datetime as dt
import decimal

import asyncpg

from readmodel import rows as r
from readmodel.migrate import SCHEMA, migrate
from sink.copytext import copy_lines
from tests.samples import SAMPLES

TABLES = {
    "enterprise": r.ENTERPRISE,
    "listing": r.LISTING,
    "penalty_measure": r.PENALTY_MEASURE,
    "tax_grade": r.TAX_GRADE,
    "trademark": r.TRADEMARK,
}


def _hostile(profile: dict[str, object]) -> r.ProfileRows:
    """The sample profile's rows, and the same again with text that needs every escape."""
    rows = r.profile_rows(profile)
    odd = 'tab\there, two\nlines\r, a back\\slash, "quotes", {braces}, 逗号，NULL, \\N'
    e = list(rows.enterprise)
    at = r.ENTERPRISE.index
    e[0] = "91330000000000000X"
    e[at("name")] = odd
    e[at("listed_sectors")] = ['a"b', "c\\d", "e,f", "NULL", "", "中文"]
    e[at("credit_amount")] = decimal.Decimal("1E+3")
    e[at("profile")] = r.to_json({**profile, "name": odd, "uscc": e[0]})
    e[at("updated_at")] = dt.datetime(2017, 4, 20, 9, 30, 0, 123000,
                                      tzinfo=dt.timezone(dt.timedelta(hours=8)))  # fmt: skip
    listing = (e[0], "tax", odd[:40], "SAT", dt.date(2017, 1, 1), None, odd, True, None, None)
    return r.ProfileRows(
        tuple(e),
        [listing, (e[0], "court", "(2017)浙01执123号", "SPC", dt.date(2016, 1, 1),
                   dt.date(2019, 1, 1), None, False, dt.date(2018, 1, 1), "EXPIRY")],
        [(e[0], "tax", odd[:40], "M01", odd, "SAT")],
        [(e[0], 2016, "B", decimal.Decimal("85.50"), False, True),
         (e[0], 2017, "A", None, True, False)],
        [(e[0], "10205176", odd, 35, "REGISTERED", None, False, 0, decimal.Decimal("0.00"))],
    )  # fmt: skip


async def test_copy_text_lines_store_what_binary_copy_of_the_rows_stores(
    database_url: str,
) -> None:
    profiles = [r.profile_rows(SAMPLES["profiles"]), _hostile(SAMPLES["profiles"])]
    parts = {
        "enterprise": [p.enterprise for p in profiles],
        "listing": [x for p in profiles for x in p.listings],
        "penalty_measure": [x for p in profiles for x in p.measures],
        "tax_grade": [x for p in profiles for x in p.tax_grades],
        "trademark": [x for p in profiles for x in p.trademarks],
    }
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
        for table, columns in TABLES.items():
            names = ", ".join(f'"{c}"' for c in columns)
            await conn.execute(
                f"create temp table bin_{table} (like {SCHEMA}.{table} including defaults)"
            )
            await conn.execute(
                f"create temp table txt_{table} (like {SCHEMA}.{table} including defaults)"
            )
            await conn.copy_records_to_table(f"bin_{table}", records=parts[table],
                                             columns=columns)  # fmt: skip
            text = copy_lines(parts[table]).encode()
            await conn.copy_to_table(
                f"txt_{table}", source=memoryview(text), format="text", columns=columns
            )
            read = f"select {names} from {{}} order by {names}"  # noqa: S608 - constants
            binary = await conn.fetch(read.format(f"bin_{table}"))
            copied = await conn.fetch(read.format(f"txt_{table}"))
            assert len(binary) == len(parts[table]) > 0, table
            assert [tuple(x) for x in copied] == [tuple(x) for x in binary], table
    finally:
        await conn.close()
