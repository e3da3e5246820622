"""A synthetic read model of N enterprises for ``zjcredit bench query``, loaded by COPY.

Folding a real province of a million firms takes an hour; the query service does not care
how the rows were made, only that they look like the sink's. So a few hundred firms of a
generated province are folded and rendered with the pure core (:mod:`streams.core`) and
turned into read-model rows by the sink's own :func:`readmodel.rows.profile_rows`; those are the
*templates*. Row ``i`` of the load is template ``i mod T`` with:

- a new, valid credit code: the template's authority, type and division, and an 8-digit
  body ``(a*i + b) mod 10^8`` (a bijection, so every code is unique), both check
  characters computed by :func:`schemas.uscc.make_code`;
- a new Chinese name: the template's city, a trade name of 2-3 characters from
  :data:`producers.names.BRAND_SYLLABLES`, a word of the template's industry, and the
  template's legal form (有限公司 / 股份有限公司 / 商行 / 专业合作社 ...);
- the template's profile jsonb with that code and name put in, and its child rows (tax
  grades, listings in force, measures, trademarks) under the new code.

Secondary indexes are dropped before the COPY and built after it (a trigram GIN index built
once is far cheaper than one maintained row by row), then the tables are analysed.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from tqdm import tqdm

from benchmarks.harness import BenchError
from producers import names as nm
from readmodel import rows as r
from readmodel.migrate import SCHEMA, migrate
from schemas.codec import Codec
from schemas.registry import ManifestRegistry
from schemas.uscc import ZHEJIANG_CITIES, make_code

__all__ = ["Loaded", "Template", "load_enterprises", "make_templates"]

_A, _B, _BODY = 48_271, 12_345_679, 10**8  # a is coprime with 10: i -> body is one-to-one
_CHUNK = 5_000
_PARALLEL = 2  # COPY connections for the enterprise table
_SAMPLE = 20_000  # codes and name terms kept for the measurements
_LOADED = ("enterprise", "listing", "penalty_measure", "tax_grade", "trademark")
_FORMS = ("股份有限公司", "有限公司", "专业合作社", "经营部", "商行", "店")
_WORDS = {ind.code: ind.words for _, classes in nm.INDUSTRIES.values() for ind in classes}


@dataclass(frozen=True)
class Template:
    """One folded, rendered firm: its read-model rows and where its code and name sit."""

    rows: r.ProfileRows
    kind: str  # positions 1-2 of the code
    division: str  # positions 3-8
    city: str
    words: tuple[str, ...]
    form: str
    profile_head: str  # the profile jsonb split around its code and name
    profile_mid: str
    profile_tail: str


@dataclass(frozen=True)
class Loaded:
    """What was loaded: counts, time, and samples for the measurements."""

    enterprises: int
    rows: dict[str, int]
    seconds: float
    index_seconds: float
    codes: list[str]  # a random sample of loaded codes
    terms: list[str]  # name fragments (trade name + industry word) of sampled firms
    templates: int


def make_templates(count: int, seed: int = 7) -> list[Template]:
    """Fold and render a generated province of ``count`` firms; one template per firm."""
    from benchmarks.province import province_profiles  # noqa: PLC0415

    codec = Codec(ManifestRegistry.load())
    with tempfile.TemporaryDirectory(prefix="zjcredit-bench-") as folder:
        frames = province_profiles(Path(folder), count)
    templates = []
    for _, frame in frames:
        profile = codec.decode(frame)[0]
        if not profile.get("name") or not profile.get("city_code"):
            continue
        rows = r.profile_rows(profile)
        text = rows.enterprise[-1]
        code_at, name_at = f'"uscc":"{profile["uscc"]}"', f'"name":"{profile["name"]}"'
        if text.count(code_at) != 1 or text.count(name_at) != 1:
            continue
        head, rest = text.split(name_at)
        if code_at in head:  # keys are sorted: name comes before uscc
            continue
        mid, tail = rest.split(code_at)
        name: str = profile["name"]
        templates.append(
            Template(
                rows=rows,
                kind=profile["uscc"][:2],
                division=profile["uscc"][2:8],
                city=profile["city_code"],
                words=_WORDS.get(profile.get("industry_code") or "", ("科技",)),
                form=next((f for f in _FORMS if name.endswith(f)), "有限公司"),
                profile_head=head,
                profile_mid=mid,
                profile_tail=tail,
            )
        )
    if not templates:
        raise BenchError("no usable template profiles")
    return templates


def _code(t: Template, i: int) -> str:
    return make_code(t.kind, t.division, f"{(_A * i + _B) % _BODY:08d}")


async def load_enterprises(
    database_url: str,
    templates: Sequence[Template],
    enterprises: int,
    *,
    seed: int = 11,
    progress: bool = True,
) -> Loaded:
    """Migrate ``database_url`` (empty) and COPY ``enterprises`` firms into the read model."""
    if enterprises > _BODY:
        raise BenchError(f"at most {_BODY:,} enterprises")
    load = _Load(database_url, templates, enterprises, seed, progress)
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
        indexes = await _drop_indexes(conn)
        started = time.perf_counter()
        await load.enterprises(conn)
        rows = {"enterprise": enterprises}
        for table, (columns, pick) in _CHILDREN.items():
            rows[table] = await load.children(conn, table, columns, pick)
        seconds = time.perf_counter() - started
        began = time.perf_counter()
        await conn.execute("set maintenance_work_mem = '512MB'")
        for ddl in tqdm(indexes, desc="indexes", unit="index", disable=not progress):
            await conn.execute(ddl)
        for table in _LOADED:
            await conn.execute(f"analyze {SCHEMA}.{table}")
        index_seconds = time.perf_counter() - began
    finally:
        await conn.close()
    sampled = sorted(load.sampled)
    random.Random(seed).shuffle(sampled)  # noqa: S311 - a sample, not a secret
    return Loaded(enterprises, rows, seconds, index_seconds, [c for _, c, _ in sampled],
                  [t for _, _, t in sampled], len(templates))  # fmt: skip


_CHILDREN: dict[str, tuple[tuple[str, ...], Callable[[r.ProfileRows], list[r.Row]]]] = {
    "tax_grade": (r.TAX_GRADE, lambda p: p.tax_grades),
    "trademark": (r.TRADEMARK, lambda p: p.trademarks),
    "listing": (r.LISTING, lambda p: p.listings),
    "penalty_measure": (r.PENALTY_MEASURE, lambda p: p.measures),
}


class _Load:
    """One load: row ``i`` is made from template ``i mod T``; codes are kept for the children."""

    def __init__(self, database_url: str, templates: Sequence[Template], enterprises: int,
                 seed: int, progress: bool) -> None:  # fmt: skip
        self.database_url = database_url
        self.templates = templates
        self.count = enterprises
        self.seed = seed
        self.progress = progress
        self.codes = [""] * enterprises
        self.every = max(1, enterprises // _SAMPLE)
        self.sampled: list[tuple[int, str, str]] = []  # (index, code, name term)

    async def enterprises(self, conn: asyncpg.Connection) -> None:
        # The server's side of COPY (jsonb parsing above all) costs about twice the
        # generator's, so two connections keep both cores busy.
        bar = tqdm(total=self.count, desc="enterprise", unit="row", disable=not self.progress)
        bounds = [self.count * k // _PARALLEL for k in range(_PARALLEL + 1)]
        extra = [await asyncpg.connect(self.database_url) for _ in range(_PARALLEL - 1)]
        try:
            await asyncio.gather(*(
                c.copy_records_to_table("enterprise", schema_name=SCHEMA, columns=r.ENTERPRISE,
                                        records=self._rows(lo, hi, bar))
                for c, lo, hi in zip([conn, *extra], bounds[:-1], bounds[1:], strict=True)
            ))  # fmt: skip
        finally:
            for c in extra:
                await c.close()
        bar.close()

    async def _rows(self, lo: int, hi: int, bar: tqdm[Any]) -> AsyncIterator[tuple[Any, ...]]:
        rng = random.Random(self.seed * 1_000_003 + lo)  # noqa: S311 - synthetic data
        brands, templates, codes = nm.BRAND_SYLLABLES, self.templates, self.codes
        for i in range(lo, hi):
            t = templates[i % len(templates)]
            code = codes[i] = _code(t, i)
            brand = "".join(rng.sample(brands, 2 if rng.random() < 0.8 else 3))
            word = rng.choice(t.words)
            name = f"{ZHEJIANG_CITIES[t.city][0]}{brand}{word}{t.form}"
            if i % self.every == 0:
                self.sampled.append((i, code, f"{brand}{word}"))
            profile = (
                f'{t.profile_head}"name":"{name}"{t.profile_mid}"uscc":"{code}"{t.profile_tail}'
            )
            yield (code, name, *t.rows.enterprise[2:-1], profile)
            if (i - lo) % _CHUNK == _CHUNK - 1:
                bar.update(_CHUNK)
                await asyncio.sleep(0)  # let the other COPY run
        bar.update((hi - lo) % _CHUNK)

    async def children(self, conn: asyncpg.Connection, table: str, columns: tuple[str, ...],
                       pick: Callable[[r.ProfileRows], list[r.Row]]) -> int:  # fmt: skip
        per_template = [pick(t.rows) for t in self.templates]
        n = len(per_template)
        total = sum(len(per_template[i % n]) for i in range(self.count))
        if not total:
            return 0
        bar = tqdm(total=total, desc=table, unit="row", disable=not self.progress)

        async def records() -> AsyncIterator[tuple[Any, ...]]:
            done = 0
            for i, code in enumerate(self.codes):
                for row in per_template[i % n]:
                    yield (code, *row[1:])
                    done += 1
                    if done % _CHUNK == 0:
                        bar.update(_CHUNK)
                        await asyncio.sleep(0)
            bar.update(done % _CHUNK)

        await conn.copy_records_to_table(table, schema_name=SCHEMA, records=records(),
                                          columns=columns)  # fmt: skip
        bar.close()
        return total


async def _drop_indexes(conn: asyncpg.Connection) -> list[str]:
    """Drop the loaded tables' secondary indexes; return the DDL that recreates them."""
    found = await conn.fetch(
        "select indexname, indexdef from pg_indexes where schemaname = $1 "
        "and tablename = any($2::text[]) and indexname not like '%\\_pkey'",
        SCHEMA,
        list(_LOADED),
    )
    for row in found:
        await conn.execute(f'drop index {SCHEMA}."{row["indexname"]}"')
    return [row["indexdef"] for row in found]
