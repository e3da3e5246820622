"""Files in the encodings departments' systems really export: GB18030, UTF-16, mixed."""

from __future__ import annotations

import codecs
import csv
import io
import json
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from producers.decoding import canonical_encoding, detect_encoding, utf8_view
from producers.metrics import ProducerMetrics
from producers.produce import ProduceSummary, produce_file
from producers.readers import read_rows

EXAMPLES = Path(__file__).parents[3] / "examples"


def example(source: str) -> str:
    return (EXAMPLES / f"{source}.csv").read_text("utf-8")


def dry_run(source: str, path: Path, **kwargs: object) -> ProduceSummary:
    return produce_file(source, path, bootstrap_servers=None, dry_run=True, show_progress=False,
                        metrics=ProducerMetrics(CollectorRegistry()), workers=0, **kwargs)  # type: ignore[arg-type]  # fmt: skip


def utf8_fields(source: str, tmp_path: Path) -> list[dict[str, object] | None]:
    path = tmp_path / f"utf8-{source}.csv"
    path.write_text(example(source), encoding="utf-8")
    return [row.fields for row in read_rows(path)]


def test_a_gb18030_csv_is_detected_read_and_every_row_valid(tmp_path: Path) -> None:
    text = example("enterprise")
    path = tmp_path / "enterprise.csv"
    path.write_bytes(text.encode("gb18030"))
    assert detect_encoding(path).name == "gb18030"
    notes: list[str] = []
    summary = dry_run("enterprise", path, notice=notes.append)
    assert notes == ["reading enterprise.csv as GB18030 (not valid UTF-8)"]
    assert summary.read == len(text.splitlines()) - 1
    assert summary.rejected == 0, summary.lines()
    assert "  encoding      GB18030 (not valid UTF-8)" in summary.lines()
    with utf8_view(path) as view:
        assert [r.fields for r in read_rows(view.path)] == utf8_fields("enterprise", tmp_path)
    assert not view.path.exists(), "the transcoded copy is left behind"


def test_a_broken_byte_in_a_gb18030_file_rejects_only_its_row(tmp_path: Path) -> None:
    lines = example("enterprise").splitlines()
    broken = (
        lines[2].replace("有限公司", "有限\x00公司").encode("gb18030").replace(b"\x00", b"\xff")
    )
    data = "\n".join(lines[:2]).encode("gb18030") + b"\n" + broken + b"\n"
    data += "\n".join(lines[3:]).encode("gb18030") + b"\n"
    path = tmp_path / "enterprise.csv"
    path.write_bytes(data)
    summary = dry_run("enterprise", path)
    assert summary.encoding.name == "gb18030"
    assert summary.rejects_by_reason == {"encoding": 1}
    (reject,) = map(
        json.loads, (tmp_path / "enterprise.csv.rejects.jsonl").read_text().splitlines()
    )
    assert reject["line"] == 3
    assert "not valid GB18030 (byte 0xff)" in reject["message"]
    assert summary.read == len(lines) - 1


@pytest.mark.parametrize("bom", ["utf-16-le", "utf-16-be"])
def test_an_excel_unicode_text_export_utf16_tab_separated_is_read(tmp_path: Path, bom: str) -> None:
    rows = list(csv.reader(io.StringIO(example("blacklist"))))
    out = io.StringIO()
    csv.writer(out, delimiter="\t", lineterminator="\r\n").writerows(rows)
    path = tmp_path / "blacklist.txt"
    path.write_bytes(("\ufeff" + out.getvalue()).encode(bom))  # as Excel writes it: with a BOM
    choice = detect_encoding(path)
    assert (choice.name, choice.why) == ("utf-16", "byte order mark")
    notes: list[str] = []
    summary = dry_run("blacklist", path, notice=notes.append)
    assert notes == ["reading blacklist.txt as UTF-16 (byte order mark)"]
    assert summary.read == len(rows) - 1
    assert summary.rejected == 0, summary.lines()
    assert summary.ignored_columns == []
    with utf8_view(path) as view:
        assert [r.fields for r in read_rows(view.path)] == utf8_fields("blacklist", tmp_path)


def test_a_utf8_file_with_one_gbk_row_stays_utf8_and_says_how_to_force(tmp_path: Path) -> None:
    lines = example("enterprise").splitlines()
    data = ("\n".join(lines[:3]) + "\n").encode() + lines[3].encode("gbk") + b"\n"
    path = tmp_path / "enterprise.csv"
    path.write_bytes(data)
    assert detect_encoding(path).name == "utf-8"
    notes: list[str] = []
    summary = dry_run("enterprise", path, notice=notes.append)
    assert notes == []
    assert summary.rejects_by_reason == {"encoding": 1}
    assert any("--encoding gb18030" in line for line in summary.lines())


def test_an_encoding_can_be_forced(tmp_path: Path) -> None:
    path = tmp_path / "tax.csv"
    path.write_bytes(example("tax").encode("gbk"))
    summary = dry_run("tax", path, encoding="GBK")
    assert (summary.encoding.name, summary.encoding.why) == ("gbk", "--encoding")
    assert summary.rejected == 0
    assert canonical_encoding("utf8") == canonical_encoding("UTF-8-SIG") == "utf-8"
    with pytest.raises(LookupError):
        canonical_encoding("klingon")


def test_plain_utf8_and_a_utf8_bom_need_no_copy(tmp_path: Path) -> None:
    path = tmp_path / "tax.csv"
    path.write_bytes(b"\xef\xbb\xbf" + example("tax").encode())
    with utf8_view(path) as view:
        assert view.path == path
        assert (view.choice.name, view.choice.why) == ("utf-8", "byte order mark")
    assert dry_run("tax", path).rejected == 0


@pytest.mark.parametrize(
    ("codec", "name"), [("utf-16-le", "utf-16-le"), ("utf-16-be", "utf-16-be")]
)
def test_utf16_without_a_bom_is_told_by_its_nul_bytes(
    tmp_path: Path, codec: str, name: str
) -> None:
    path = tmp_path / "tax.csv"
    path.write_bytes(example("tax").encode(codec))
    assert detect_encoding(path).name == name
    assert dry_run("tax", path).rejected == 0


def test_a_chinese_header_csv_in_gb18030_is_read_as_the_field_named_one(tmp_path: Path) -> None:
    header, *body = example("blacklist").splitlines(keepends=True)
    chinese = {"uscc": "统一社会信用代码", "department": "报送部门", "occurred_at": "发生时间",
               "reported_at": "报送时间", "event_type": "事件类型", "sector": "失信领域",
               "decision_no": "决定文书号", "listing_department": "认定部门",
               "listed_on": "列入日期", "planned_end_on": "计划移出日期", "reason": "失信事实",
               "removal_ground": "移出原因", "removed_on": "移出日期"}  # fmt: skip
    names = [chinese[name] for name in header.strip().split(",")]
    path = tmp_path / "失信名单.csv"
    path.write_bytes((",".join([*names, "备注"]) + "\n" + "".join(body)).encode("gb18030"))
    summary = dry_run("blacklist", path)
    assert summary.encoding.name == "gb18030"
    assert summary.rejected == 0, summary.lines()
    assert summary.read == len(body)
    assert summary.ignored_columns == ["备注"]


def test_a_broken_utf16_row_is_rejected_alone(tmp_path: Path) -> None:
    lines = example("tax").splitlines()
    encoded = [line.encode("utf-16-le") for line in lines]
    encoded[3] = encoded[3][:10] + b"\x00\xd8" + encoded[3][10:]  # a lone high surrogate
    path = tmp_path / "tax.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + "\n".encode("utf-16-le").join(encoded))
    summary = dry_run("tax", path)
    assert summary.encoding.name == "utf-16"
    assert summary.rejects_by_reason == {"encoding": 1}, summary.lines()
    assert summary.read == len(lines) - 1
    (reject,) = map(json.loads, (tmp_path / "tax.txt.rejects.jsonl").read_text().splitlines())
    assert reject["line"] == 4
    assert "not valid UTF-16" in reject["message"]


def test_two_columns_for_one_field_are_reported(tmp_path: Path) -> None:
    header, *body = example("enterprise").splitlines(keepends=True)
    path = tmp_path / "enterprise.csv"
    path.write_text(header.rstrip("\n") + ",企业名称\n" + "".join(r.rstrip("\n") + ",\n" for r in body),
                    encoding="utf-8")  # fmt: skip
    summary = dry_run("enterprise", path)
    assert summary.rejected == 0
    assert summary.shared_columns == {"name": ["name", "企业名称"]}
    assert (
        "  columns name and 企业名称 both fill name: in each row the later non-blank one is used"
        in summary.lines()
    )
