"""The web page in headless Chromium, against ``zjcredit serve`` on a filled read model.

A person searches a Chinese name, opens the profile and sees the grade (the public gets no score), the
tax-grade chart, the listings in force and the joint penalties; a malformed code, an
unknown code and a database that is down each give their message. The read model is the
sink's rows of a generated province folded by the pure core (what the sink writes for
those profiles), copied into a fresh database. A screenshot of the profile is saved under
``artifacts/`` (path printed).

Chromium, chromedriver and a CJK font are Debian packages that ``make browser`` (a
dependency of ``make test``) installs as root; without them the test is skipped and says
how to get them.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import os
import signal
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from base.endpoints import Endpoints, free_port
from base.settings import Settings
from query.keys import create_key
from query.roles import Role
from readmodel import rows as r
from readmodel.migrate import SCHEMA, migrate
from schemas.codec import Codec
from schemas.registry import ManifestRegistry
from schemas.sectors import load_catalog
from schemas.topics import create_topics, project_topics
from schemas.uscc import make_code
from tests.queryservice import QueryService
from tests.readmodel import create_database, drop_database

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
GRADE_ZH = {"EXCELLENT": "优秀", "GOOD": "良好", "FAIR": "中等", "POOR": "较差"}

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="no /usr/bin/chromium or /usr/bin/chromedriver: `make browser` installs chromium, "
    "chromium-driver and fonts-noto-cjk (Debian, as root)",
)
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium (the dev extra) is missing")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


@dataclass(frozen=True)
class Firm:
    """The listed enterprise the test looks up, as the pure fold rendered it."""

    profile: dict[str, Any]
    term: str  # what the person types: part of the Chinese name


def _province_rows(firms: int) -> list[r.ProfileRows]:
    from benchmarks.province import province_profiles  # noqa: PLC0415

    codec = Codec(ManifestRegistry.load())
    with tempfile.TemporaryDirectory(prefix="zjcredit-web-") as folder:
        frames = province_profiles(Path(folder), firms)
    return [r.profile_rows(codec.decode(frame)[0]) for _, frame in frames]


async def _fill(database_url: str, profiles: list[r.ProfileRows]) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
        tables = {
            "enterprise": (r.ENTERPRISE, [p.enterprise for p in profiles]),
            "listing": (r.LISTING, [x for p in profiles for x in p.listings]),
            "penalty_measure": (r.PENALTY_MEASURE, [x for p in profiles for x in p.measures]),
            "tax_grade": (r.TAX_GRADE, [x for p in profiles for x in p.tax_grades]),
            "trademark": (r.TRADEMARK, [x for p in profiles for x in p.trademarks]),
        }
        for table, (columns, records) in tables.items():
            await conn.copy_records_to_table(
                table, schema_name=SCHEMA, columns=columns, records=records
            )
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def read_model(stack: Endpoints) -> Iterator[tuple[str, Firm]]:
    """A fresh database holding a 400-firm province; the listed firm to look up."""
    import orjson  # noqa: PLC0415

    rows = _province_rows(400)
    profiles = [orjson.loads(p.enterprise[-1]) for p in rows]
    listed = [
        p
        for p in profiles
        if p["blacklist"] and p["penalties"] and len(p["tax_grades"]) >= 2 and p["name"]
    ]
    assert listed, "the generated province has no listed firm with tax grades"
    firm = listed[0]
    name = f"web_{uuid.uuid4().hex[:8]}"
    url = create_database(stack.database_url, name)
    try:
        asyncio.run(_fill(url, rows))
        yield url, Firm(firm, firm["name"][2:6])
    finally:
        drop_database(stack.database_url, name)


@contextlib.contextmanager
def _serve(database_url: str, log: Path, *, migrate: bool = True) -> Iterator[str]:
    """``zjcredit serve`` (tests/queryservice.py) over ``database_url``; its base URL."""
    service = QueryService(database_url, "zjcredit", log, migrate=migrate)
    try:
        yield service.url
    finally:
        service.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1280,1800", "--lang=zh-CN"):  # fmt: skip
        options.add_argument(arg)
    # The console's messages, so that a test can see what the CSP blocked.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=str(CHROMEDRIVER))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


def _wait(driver: Any, seconds: float = 10) -> Any:
    return WebDriverWait(driver, seconds)


def _message(driver: Any) -> str:
    box = _wait(driver).until(ec.visibility_of_element_located((By.ID, "message")))
    return str(box.text)


def test_search_a_chinese_name_open_the_profile_see_grade_listings_and_penalties(
    read_model: tuple[str, Firm], browser: Any, open_tmp_path: Path, capsys: Any
) -> None:
    database_url, firm = read_model
    p = firm.profile
    with _serve(database_url, open_tmp_path / "serve.log") as base:
        browser.get(base + "/")
        assert "信用浙江" in browser.title
        box = browser.find_element(By.ID, "q")
        box.send_keys(firm.term)
        browser.find_element(By.ID, "go").click()

        row = _wait(browser).until(ec.presence_of_element_located(
            (By.CSS_SELECTOR, f'#rows tr[data-uscc="{p["uscc"]}"]')))  # fmt: skip
        cells = row.find_elements(By.TAG_NAME, "td")
        assert cells[0].text == p["name"]
        assert cells[1].text == p["uscc"]
        assert GRADE_ZH[p["grade"]] in cells[3].text

        cells[0].find_element(By.TAG_NAME, "a").click()
        _wait(browser).until(ec.text_to_be_present_in_element((By.ID, "profile-name"), p["name"]))
        assert browser.find_element(By.ID, "profile-uscc").text == p["uscc"]
        # The page asks as the public, which gets the grade and no score.
        assert browser.find_element(By.ID, "profile-score").text == "不公开 not public"
        assert GRADE_ZH[p["grade"]] in browser.find_element(By.ID, "profile-grade").text
        assert browser.find_element(By.ID, "profile-tax").text == p["tax_grade"]
        dots = browser.find_elements(By.CSS_SELECTOR, "#tax-chart circle")
        assert len(dots) == len(p["tax_grades"])
        listings = browser.find_element(By.ID, "listings").text
        for x in p["blacklist"]:
            assert x["decision_no"] in listings
        penalties = browser.find_element(By.ID, "penalties").text
        for m in p["penalties"]:
            assert m["measure"] in penalties
        # The page asks for a CJK font first; the machine must have it, or the names are boxes.
        assert browser.execute_script("return document.fonts.check('16px \"Noto Sans CJK SC\"')"), (
            "no Noto Sans CJK SC font: `make browser` installs fonts-noto-cjk"
        )

        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "web-page-profile.png"
        assert browser.save_screenshot(str(shot))
        with capsys.disabled():
            print(f"\nscreenshot of the profile page: {shot}")

        browser.get(base + "/#uscc=91330100716105852G")  # the check character is wrong
        text = _message(browser)
        assert "输入有误" in text
        assert "check_char" in text
        browser.get(base + "/#uscc=91330100716105852F")  # valid, but not in this province
        assert "未找到该企业" in _message(browser)


def _blocked(driver: Any) -> list[str]:
    """What the Content-Security-Policy blocked since the last call (the console's log)."""
    return [e["message"] for e in driver.get_log("browser")
            if "Content Security Policy" in e["message"]]  # fmt: skip


def test_the_page_and_the_docs_keep_to_the_content_security_policy(
    read_model: tuple[str, Firm], browser: Any, open_tmp_path: Path
) -> None:
    """The page (a search, a profile with its chart) and Swagger UI at /docs work under the
    service's CSP with nothing blocked: every script, style and image is the service's."""
    database_url, firm = read_model
    with _serve(database_url, open_tmp_path / "serve-csp.log") as base:
        _blocked(browser)  # forget the earlier tests' messages
        browser.get(base + "/")
        browser.get(base + f"/#uscc={firm.profile['uscc']}")
        _wait(browser).until(ec.text_to_be_present_in_element(
            (By.ID, "profile-name"), firm.profile["name"]))  # fmt: skip
        assert browser.find_elements(By.CSS_SELECTOR, "#tax-chart circle")
        assert _blocked(browser) == []
        browser.get(base + "/docs")
        ops = _wait(browser, 20).until(
            ec.presence_of_all_elements_located((By.CSS_SELECTOR, ".opblock")))  # fmt: skip
        assert len(ops) >= 13  # every operation of /openapi.json, drawn by Swagger UI
        assert _blocked(browser) == []


def test_a_database_that_is_down_is_a_clear_message_on_the_page(
    browser: Any, open_tmp_path: Path
) -> None:
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/zjcredit"
    with _serve(dead, open_tmp_path / "serve-dead.log", migrate=False) as base:
        browser.get(base + "/#q=" + "杭州市")
        text = _message(browser)
    assert "服务暂时不可用" in text
    assert "Service unavailable" in text


def _downloaded(folder: Path, link: Any, seconds: float = 15) -> Path:
    """Click ``link`` (an export button) and wait for the one file it saves in ``folder``."""
    for old in folder.iterdir():
        old.unlink()
    link.click()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        files = [f for f in folder.iterdir() if not f.name.endswith(".crdownload")]
        if files:
            assert len(files) == 1, files
            return files[0]
        time.sleep(0.1)
    raise AssertionError(f"no file saved in {folder} within {seconds} s")


def _all_items(base: str, route: str, params: dict[str, str], key: str | None = None) -> list[Any]:
    """Every item of the JSON route, page after page: what an export must hold."""
    headers = {"X-API-Key": key} if key else {}
    items: list[Any] = []
    page = 1
    while True:
        answer = httpx.get(f"{base}/v1/{route}", params={**params, "page": page, "size": 100},
                           headers=headers, timeout=10).json()  # fmt: skip
        items += answer["items"]
        if page * 100 >= answer["total"]:
            return items
        page += 1


def _csv_rows(path: Path) -> list[dict[str, str]]:
    data = path.read_bytes()
    assert data.startswith("\ufeff".encode()), "an export's CSV starts with the UTF-8 BOM"
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def _key(database_url: str, role: Role, department: str | None = None) -> str:
    async def make() -> str:
        conn = await asyncpg.connect(database_url)
        try:
            return (await create_key(conn, f"网页测试 {role.value}", role, department))[1]
        finally:
            await conn.close()

    return asyncio.run(make())


def _key_id(key: str) -> str:
    """The key as the page shows it: its id (``zjc_<id>``), never its secret."""
    return key[: key.index("_", 4)] + "_…"


def _enter_key(driver: Any, key: str) -> None:
    """The person's way in: "使用密钥 Use a key" in the nav, the key typed, "Use key"."""
    _wait(driver).until(ec.element_to_be_clickable((By.ID, "key-open"))).click()
    box = _wait(driver).until(ec.visibility_of_element_located((By.ID, "key")))
    assert box.get_attribute("type") == "password"
    box.send_keys(key)
    driver.find_element(By.ID, "key-go").click()
    _wait(driver).until(ec.text_to_be_present_in_element((By.ID, "key-id"), _key_id(key)))


def test_the_export_buttons_save_the_views_matches_as_csv_and_json_lines(
    read_model: tuple[str, Firm], browser: Any, open_tmp_path: Path
) -> None:
    """The blacklist, a department's penalty checklist and a search each offer CSV and
    JSON Lines: the file the browser saves holds every match of the view's filters (the
    JSON route's items, read back by Python's csv module); with a bank's key in the
    session the export goes with it, and a rejected key is a clear message."""
    database_url, firm = read_model
    p = firm.profile
    sector = p["blacklist"][0]["sector"]
    city = p["city_code"]
    department = p["penalties"][0]["department"]
    folder = open_tmp_path / "downloads"
    folder.mkdir()
    browser.execute_cdp_cmd("Browser.setDownloadBehavior",
                            {"behavior": "allow", "downloadPath": str(folder)})  # fmt: skip
    catalog = load_catalog()
    with _serve(database_url, open_tmp_path / "serve-exports.log") as base:
        _blocked(browser)
        browser.get(base + f"/#view=blacklist&city={city}")
        _wait(browser).until(ec.presence_of_element_located(
            (By.CSS_SELECTOR, "#blacklist-list tbody tr[data-uscc]")))  # fmt: skip
        options = browser.find_elements(By.CSS_SELECTOR, "#blacklist-sector option")
        assert [o.get_attribute("value") for o in options][1:] == list(catalog.sectors)
        expected = _all_items(base, "blacklist", {"city": city})
        assert len(expected) > 1
        saved = _downloaded(folder, browser.find_element(By.ID, "blacklist-exports-csv"))
        assert saved.name.startswith("zjcredit-blacklist-")
        assert saved.suffix == ".csv"
        rows = _csv_rows(saved)
        assert [(r["uscc"], r["decision_no"], r["name"]) for r in rows] == [
            (x["uscc"], x["decision_no"], x["name"]) for x in expected]  # fmt: skip
        assert {r["city_code"] for r in rows} == {city}
        ARTIFACTS.mkdir(exist_ok=True)
        assert browser.save_screenshot(str(ARTIFACTS / "web-page-blacklist.png"))
        saved = _downloaded(folder, browser.find_element(By.ID, "blacklist-exports-jsonl"))
        assert saved.suffix == ".jsonl"
        assert [json.loads(line) for line in saved.read_text("utf-8").splitlines()] == expected

        browser.get(base + f"/#view=penalties&department={department}")
        _wait(browser).until(ec.presence_of_element_located(
            (By.CSS_SELECTOR, f'#penalties-list tr[data-uscc="{p["uscc"]}"]')))  # fmt: skip
        options = browser.find_elements(By.CSS_SELECTOR, "#penalties-department option")
        assert [o.get_attribute("value") for o in options][1:] == list(catalog.departments)
        expected = _all_items(base, "penalties", {"department": department})
        rows = _csv_rows(_downloaded(folder, browser.find_element(By.ID, "penalties-exports-csv")))
        assert [(r["uscc"], r["measure_code"], r["department"]) for r in rows] == [
            (m["uscc"], m["measure_code"], m["department"]) for m in expected]  # fmt: skip
        assert {r["department"] for r in rows} == {department}

        # A search, exported under a bank's key entered in the page's key form.
        key = _key(database_url, Role.BANK)
        browser.get(base + "/#q=" + firm.term)
        _wait(browser).until(ec.presence_of_element_located(
            (By.CSS_SELECTOR, f'#rows tr[data-uscc="{p["uscc"]}"]')))  # fmt: skip
        _enter_key(browser, key)
        assert browser.find_element(By.ID, "key-id").text == _key_id(key)
        _wait(browser).until(ec.presence_of_element_located(
            (By.CSS_SELECTOR, f'#rows tr[data-uscc="{p["uscc"]}"]')))  # fmt: skip
        expected = _all_items(base, "enterprises", {"q": firm.term}, key)
        rows = _csv_rows(_downloaded(folder, browser.find_element(By.ID, "results-exports-csv")))
        assert [(r["uscc"], r["name"], r["grade"]) for r in rows] == [
            (x["uscc"], x["name"], x["grade"]) for x in expected]  # fmt: skip
        assert p["uscc"] in {r["uscc"] for r in rows}
        assert _blocked(browser) == []

        # A revoked or mistyped key: the export is refused with a clear message, and the
        # page forgets the key.
        browser.execute_script("sessionStorage.setItem('zjcredit.apiKey', arguments[0])",
                               "zjc_00000000_not-a-key")  # fmt: skip
        browser.get(base + f"/#view=blacklist&sector={sector}&x=1")
        text = _message(browser)
        assert "密钥被拒绝" in text
        assert "Key rejected" in text
        assert browser.execute_script("return sessionStorage.getItem('zjcredit.apiKey')") is None


def test_a_key_is_entered_once_kept_in_the_tabs_session_and_forgotten_on_request(
    read_model: tuple[str, Firm], browser: Any, open_tmp_path: Path
) -> None:
    """The key form (nav: "Use a key") takes a bank's key once; it is kept in
    sessionStorage (never localStorage, never shown), survives a reload, reads the profile
    as the bank (its credit line, which the public does not see) and "Forget key" drops it."""
    database_url, firm = read_model
    uscc = firm.profile["uscc"]
    with _serve(database_url, open_tmp_path / "serve-key.log") as base:
        key = _key(database_url, Role.BANK)
        browser.get(base + f"/#uscc={uscc}")
        _wait(browser).until(ec.text_to_be_present_in_element(
            (By.ID, "profile-name"), firm.profile["name"]))  # fmt: skip
        assert "公开访问" in browser.find_element(By.ID, "keystate").text
        public = browser.find_element(By.ID, "profile").text
        _enter_key(browser, key)
        assert not browser.find_element(By.ID, "key-form").is_displayed()
        assert browser.find_element(By.ID, "key").get_attribute("value") == ""
        stored = browser.execute_script(
            "return [sessionStorage.getItem('zjcredit.apiKey'), localStorage.length]"
        )
        assert stored == [key, 0]
        # The profile again, as the bank: it shows more than the public's.
        _wait(browser).until(lambda d: d.find_element(By.ID, "profile").text != public)
        browser.refresh()
        label = _wait(browser).until(ec.visibility_of_element_located((By.ID, "key-id")))
        assert label.text == _key_id(key)
        assert key not in browser.find_element(By.TAG_NAME, "body").text
        assert key not in browser.current_url
        browser.find_element(By.ID, "key-forget").click()
        _wait(browser).until(ec.visibility_of_element_located((By.ID, "key-open")))
        assert browser.execute_script("return sessionStorage.getItem('zjcredit.apiKey')") is None
        assert _blocked(browser) == []


def test_the_profile_card_shows_patents_counts_to_the_public_and_the_patents_to_a_bank(
    read_model: tuple[str, Firm], browser: Any, open_tmp_path: Path
) -> None:
    """The "知识产权" section: the public sees the patents in force by kind; a bank's key
    adds each patent with its status and pledges, and the IP-pledge summary."""
    database_url, _ = read_model
    query = ("select profile from credit.enterprise"
             " where jsonb_array_length(profile->'patents') > 0 order by uscc limit 1")  # fmt: skip
    assert SCHEMA == "credit"
    (row,) = _sql_now(database_url, query)
    p = json.loads(row["profile"])
    with _serve(database_url, open_tmp_path / "serve-ip.log") as base:
        browser.get(base + f"/#uscc={p['uscc']}")
        counts = _wait(browser).until(ec.visibility_of_element_located((By.ID, "ip-counts")))
        assert f"发明 invention {p['invention_patent_count']} ·" in counts.text
        assert f"外观设计 design {p['design_patent_count']}" in counts.text
        assert browser.find_elements(By.ID, "patents") == []  # the public: counts only
        _enter_key(browser, _key(database_url, Role.BANK))
        patents = _wait(browser).until(ec.visibility_of_element_located((By.ID, "patents")))
        for x in p["patents"]:
            assert x["patent_no"] in patents.text
            for pledge in x["pledges"]:
                assert pledge["pledge_no"] in patents.text
        summary = browser.find_element(By.ID, "ip-pledge").text
        assert f"知识产权质押 IP pledges {p['ip_pledge']['active_pledge_count']} ·" in summary
        browser.find_element(By.ID, "key-forget").click()
        _wait(browser).until(ec.visibility_of_element_located((By.ID, "key-open")))
        assert _blocked(browser) == []


def _sql_now(database_url: str, statement: str, *args: Any) -> list[Any]:
    return asyncio.run(_sql(database_url, statement, *args))


async def _sql(database_url: str, statement: str, *args: Any) -> list[Any]:
    conn = await asyncpg.connect(database_url)
    try:
        return list(await conn.fetch(statement, *args))
    finally:
        await conn.close()


def _change(database_url: str, changes: list[tuple[str, str, Any, Any, Any]]) -> None:
    """Changes ``(uscc, kind, before, after, detail)`` as the sink writes them: rows of
    credit.change (txid, id and changed_at by their defaults) and, in the same transaction,
    ``pg_notify('zjcredit_changes', '')`` (sink/writer.py does both in its batch's
    transaction); the whole pipeline is not needed to make a change arrive."""

    async def write() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            async with conn.transaction():
                await conn.executemany(
                    "insert into credit.change (uscc, kind, before, after, detail, reported_at)"
                    " values ($1, $2, $3::jsonb, $4::jsonb, $5::jsonb, now())",
                    [(u, k, *(None if v is None else json.dumps(v) for v in (b, a, d)))
                     for u, k, b, a, d in changes],
                )  # fmt: skip
                await conn.execute("select pg_notify('zjcredit_changes', '')")
        finally:
            await conn.close()

    asyncio.run(write())


def _rows(driver: Any, body: str) -> list[dict[str, Any]]:
    """The rows of a table body, read in one script: the page redraws them at any time."""
    script = """return Array.from(document.querySelectorAll('#' + arguments[0] + ' tr[data-uscc]'))
        .map((r) => ({uscc: r.dataset.uscc, kind: r.dataset.kind, cursor: r.dataset.cursor,
                      cells: Array.from(r.cells).map((c) => c.innerText), text: r.innerText}))"""
    return list(driver.execute_script(script, body))


def _codes_shown(driver: Any) -> list[str]:
    return [row["uscc"] for row in _rows(driver, "watch-rows")]


def _live_since(driver: Any, cursor: str) -> None:
    """Until the page's stream is live again from ``cursor`` (what it sent as since=)."""

    def state(d: Any) -> bool:
        box = d.find_element(By.ID, "stream-state")
        return bool(box.get_attribute("data-state") == "live"
                    and box.get_attribute("data-since") == cursor)  # fmt: skip

    try:
        _wait(driver, 30).until(state)
    except Exception as error:
        box = driver.find_element(By.ID, "stream-state")
        raise AssertionError(
            f"the stream is {box.get_attribute('data-state')} from "
            f"{box.get_attribute('data-since')!r}, not live from {cursor!r}; the page says "
            f"{driver.find_element(By.ID, 'message').text!r}"
        ) from error


def _live(driver: Any) -> None:
    _wait(driver, 20).until(
        lambda d: d.find_element(By.ID, "stream-state").get_attribute("data-state") == "live"
    )


def test_the_watchlist_view_keeps_a_banks_codes_and_shows_their_changes_live(
    read_model: tuple[str, Firm], browser: Any, open_tmp_path: Path
) -> None:
    """A bank enters its key in the form, watches a firm, pastes a list with malformed
    codes (each named, the list unchanged), then a good list, removes one, sees a change
    made before the page opened (GET /v1/changes) and changes arriving while it looks (the
    stream, read with fetch()), and clears the list; under the CSP, nothing blocked."""
    database_url, firm = read_model
    a = firm.profile["uscc"]
    others = asyncio.run(_sql(database_url, "select uscc, name from credit.enterprise "
                              "where uscc <> $1 and name is not null order by uscc limit 2", a))  # fmt: skip
    (b, _), (c, c_name) = [(row["uscc"], row["name"]) for row in others]
    service = QueryService(database_url, "zjcredit", open_tmp_path / "serve-watch.log")
    try:
        base = service.url
        key = _key(database_url, Role.BANK)  # the service made the keys' tables
        _blocked(browser)
        browser.get(base + "/#view=watch")
        _wait(browser).until(ec.visibility_of_element_located((By.ID, "watch-nokey")))
        assert browser.find_element(By.ID, "key-form").is_displayed()  # the view asks for it
        _enter_key(browser, key)
        _wait(browser).until(ec.visibility_of_element_located((By.ID, "watch-body")))
        assert not browser.find_element(By.ID, "watch-nokey").is_displayed()
        _wait(browser).until(ec.text_to_be_present_in_element((By.ID, "watch-count"), "(0)"))

        # Add one code: the list shows it with its name.
        browser.find_element(By.ID, "watch-codes").send_keys(a)
        browser.find_element(By.ID, "watch-add-go").click()
        _wait(browser).until(lambda d: _codes_shown(d) == [a])
        assert _rows(browser, "watch-rows")[0]["cells"][0] == firm.profile["name"]
        assert "已加入关注" in _message(browser)

        # A paste with two malformed codes: each named with its rule, nothing saved.
        box = browser.find_element(By.ID, "watch-codes")
        box.send_keys(f"{b}\n91330100716105852G, ABC123")
        browser.find_element(By.ID, "watch-add-go").click()
        refused = _wait(browser).until(ec.visibility_of_element_located((By.ID, "watch-refused")))
        assert "关注列表未改变" in refused.text
        items = refused.find_elements(By.TAG_NAME, "li")
        assert [i.text.split(":")[0] for i in items] == ["91330100716105852G", "ABC123"]
        assert items[0].get_attribute("data-rule") == "check_char"
        assert _codes_shown(browser) == [a]
        assert "ABC123" in box.get_attribute("value")  # kept in the box, to be corrected

        # The corrected paste (one a line, a comma too): one whole-list PUT.
        box.clear()
        box.send_keys(f"{b}\n{c},")
        browser.find_element(By.ID, "watch-add-go").click()
        # (PUT /v1/watchlist replaces the list: every code is added anew, listed by code.)
        _wait(browser).until(lambda d: sorted(_codes_shown(d)) == sorted([a, b, c]))
        assert not browser.find_element(By.ID, "watch-refused").is_displayed()
        browser.find_element(By.CSS_SELECTOR, f'#watch-rows button.remove[data-uscc="{b}"]').click()
        _wait(browser).until(lambda d: sorted(_codes_shown(d)) == sorted([a, c]))

        # A change made before the page is opened: the first page of GET /v1/changes.
        _change(database_url, [(a, "grade", "GOOD", "POOR", None)])
        browser.refresh()
        _wait(browser, 30).until(lambda d: len(_rows(d, "change-rows")) == 1)
        _live(browser)
        first = _rows(browser, "change-rows")[0]
        assert first["kind"] == "grade"
        assert "信用等级变化" in first["text"]
        assert "良好" in first["text"]
        assert "较差" in first["text"]

        # Changes arriving while the page is open: on the stream, newest on top.
        _change(database_url, [
            (c, "listed", None, "court_defaulter",
             {"decision_no": "(2026)浙0106执0001号", "department": "SPC"}),
            (c, "credit_line_refused", True, False, None),
            (a, "escalated", None, ["court_defaulter", "environment"], None),
        ])  # fmt: skip
        _wait(browser, 30).until(lambda d: len(_rows(d, "change-rows")) == 4)
        rows = _rows(browser, "change-rows")
        assert [r["kind"] for r in rows] == [
            "escalated", "credit_line_refused", "listed", "grade"]  # fmt: skip
        cells = rows[2]["cells"]
        assert cells[1:3] == [c, c_name]
        assert "列入黑名单" in cells[3]
        assert "Listed" in cells[3]
        assert "— → 失信被执行人 court_defaulter" in cells[3]
        assert "(2026)浙0106执0001号" in cells[3]
        assert "可授信 eligible → 不予授信 not eligible" in rows[1]["text"]
        assert "失信被执行人 court_defaulter、环境保护领域 environment" in rows[0]["text"]
        cursors = [r["cursor"] for r in rows]
        assert len(set(cursors)) == 4
        ARTIFACTS.mkdir(exist_ok=True)
        assert browser.save_screenshot(str(ARTIFACTS / "web-page-watchlist.png"))

        # The service killed and started again on its port: the page's stream breaks, the
        # page reconnects from the newest cursor it has, and a change after that comes once.
        since = browser.find_element(By.ID, "stream-state").get_attribute("data-since")
        assert since == cursors[3]  # the first stream went on from the first page's next
        os.killpg(service.proc.pid, signal.SIGKILL)
        service.proc.wait()
        service = QueryService(database_url, "zjcredit", open_tmp_path / "serve-watch-2.log",
                               migrate=False, port=service.port)  # fmt: skip
        _live_since(browser, cursors[0])
        _change(database_url, [(a, "tax_grade", "B", "D", None)])
        _wait(browser, 30).until(lambda d: len(_rows(d, "change-rows")) == 5)
        rows = _rows(browser, "change-rows")
        assert rows[0]["kind"] == "tax_grade"
        assert "纳税信用等级变化" in rows[0]["text"]
        assert "B → D" in rows[0]["text"]
        assert len({r["cursor"] for r in rows}) == 5

        # Clear, after confirming.
        browser.find_element(By.ID, "watch-clear").click()
        _wait(browser).until(ec.alert_is_present()).accept()
        _wait(browser).until(lambda d: _codes_shown(d) == [])
        assert asyncio.run(_sql(database_url, "select * from access.watchlist where key_id = $1",
                                key.split("_")[1])) == []  # fmt: skip
        assert _blocked(browser) == []
    finally:
        service.stop()


def test_the_pages_server_sent_events_reader_splits_the_streams_text_into_changes(
    read_model: tuple[str, Firm], browser: Any, open_tmp_path: Path
) -> None:
    """The page reads the change stream with fetch() (EventSource cannot send the key), so
    it parses the SSE text itself (watch.js ``parseSSE``): here in the page, on the text
    cut where a network would cut it."""
    database_url, _ = read_model
    change = {"cursor": "5.2", "uscc": "91330100716105852F", "kind": "listed",
              "before": None, "after": "court_defaulter"}  # fmt: skip
    text = ("retry: 3000\n\n: keep-alive\r\n\r\nid: 5.1\r\nevent: change\r\n"
            'data: {"cursor": "5.1"}\r\n\r\n'
            f"id: 5.2\nevent: change\ndata: {json.dumps(change)}\n\n"
            'id: 5.3\nevent: change\ndata: {"cur')  # fmt: skip
    with _serve(database_url, open_tmp_path / "serve-sse.log") as base:
        browser.get(base + "/")
        parse = "return zjcredit.parseSSE(arguments[0])"
        events, rest = browser.execute_script(parse, text)
        assert [(e["type"], e["id"]) for e in events] == [("change", "5.1"), ("change", "5.2")]
        assert json.loads(events[1]["data"]) == change
        assert rest == 'id: 5.3\nevent: change\ndata: {"cur'
        # Cut anywhere, chunk after chunk, the same events come out.
        for cut in range(1, len(text)):
            first, left = browser.execute_script(parse, text[:cut])
            second, _ = browser.execute_script(parse, left + text[cut:])
            assert [e["id"] for e in first + second] == ["5.1", "5.2"], cut
        two_lines, _ = browser.execute_script(parse, "data: a\ndata: b\n\n")
        assert two_lines == [{"type": "message", "id": None, "data": "a\nb"}]
        assert _blocked(browser) == []


def test_a_department_uploads_its_file_and_sees_the_summary_and_the_rejected_rows(
    read_model: tuple[str, Firm], browser: Any, open_tmp_path: Path, stack: Endpoints,
    settings: Settings,
) -> None:  # fmt: skip
    """The tax bureau's key in the key form, its file chosen in the upload view: the page
    posts it to POST /v1/ingest/tax (published to Kafka by the service) and shows the
    summary and each rejected row with its line and reason; a bank's key gets the 403."""
    database_url, _ = read_model
    prefix = f"web-ingest-{uuid.uuid4().hex[:8]}"
    create_topics(stack.bootstrap_servers, project_topics(replace(settings, topic_prefix=prefix)))
    firms = [make_code("91", "330106", f"WEB{n:05d}") for n in range(3)]
    upload = open_tmp_path / "2025年纳税信用.csv"
    upload.write_text(
        "uscc,department,occurred_at,event_type,tax_year,grade,score,direct_judgement\n"
        f"{firms[0]},SAT,2026-04-20 09:30,GRADE_ASSESSED,2025,A,95.5,否\n"
        f"{firms[1]},SAMR,2026-04-20 09:30,GRADE_ASSESSED,2025,A,95.5,否\n"  # not the key's
        f"{firms[2]},,2026-04-20 09:30,GRADE_ASSESSED,2025,B,80,否\n"  # the key's department
        "91330106NOTACODE,SAT,2026-04-20 09:30,GRADE_ASSESSED,2025,A,95.5,否\n",
        "utf-8",
    )
    env = {"KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers}
    service = QueryService(database_url, prefix, open_tmp_path / "serve-upload.log", env=env)
    try:
        sat = _key(database_url, Role.DEPARTMENT, "SAT")
        _blocked(browser)
        browser.get(service.url + "/#view=upload")
        _wait(browser).until(ec.visibility_of_element_located((By.ID, "upload-nokey")))
        _enter_key(browser, sat)
        _wait(browser).until(ec.visibility_of_element_located((By.ID, "upload-form")))
        Select(browser.find_element(By.ID, "upload-source")).select_by_value("tax")
        browser.find_element(By.ID, "upload-file").send_keys(str(upload))
        browser.find_element(By.ID, "upload-go").click()
        _wait(browser, 60).until(ec.visibility_of_element_located((By.ID, "upload-summary")))
        assert browser.find_element(By.ID, "upload-read").text == "4"
        assert browser.find_element(By.ID, "upload-sent").text == "2 / 2"
        assert browser.find_element(By.ID, "upload-rejected-count").text == "2"
        assert upload.name in browser.find_element(By.ID, "upload-summary").text
        rejected = _rows_of(browser, "#upload-rejected tr")
        assert [(r["line"], r["reason"]) for r in rejected] == [
            ("3", "wrong_department"), ("5", "invalid_credit_code")]  # fmt: skip
        assert "SAT" in rejected[0]["text"]
        ARTIFACTS.mkdir(exist_ok=True)
        assert browser.save_screenshot(str(ARTIFACTS / "web-page-upload.png"))
        recorded = asyncio.run(_sql(database_url, "select name, read, sent, rejected from "
                                    "access.ingest where key_id = $1", sat.split("_")[1]))  # fmt: skip
        assert [tuple(r) for r in recorded] == [(upload.name, 4, 2, 2)]

        # A bank's key may not send: the 403, as the page's message.
        browser.find_element(By.ID, "key-forget").click()
        _enter_key(browser, _key(database_url, Role.BANK))
        _wait(browser).until(ec.visibility_of_element_located((By.ID, "upload-form")))
        browser.find_element(By.ID, "upload-file").send_keys(str(upload))
        browser.find_element(By.ID, "upload-go").click()
        text = _message(browser)
        assert "无权访问" in text
        assert "Not allowed" in text
        assert not browser.find_element(By.ID, "upload-result").is_displayed()
        assert _blocked(browser) == []
    finally:
        service.stop()


def _rows_of(driver: Any, selector: str) -> list[dict[str, str]]:
    script = """return Array.from(document.querySelectorAll(arguments[0])).map((r) =>
        ({line: r.dataset.line, reason: r.dataset.reason, text: r.innerText}))"""
    return list(driver.execute_script(script, selector))
