"""Files as departments really send them: BOM or not, broken bytes, broken lines."""

from __future__ import annotations

from pathlib import Path

from producers.readers import ChunkReader, detect_format, read_rows, rows_of


def test_csv_with_bom_quoted_newlines_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "tax.csv"
    path.write_bytes(
        "\ufeffuscc,name\n"
        '91330100716105852F,"阿里巴巴（中国）\n网络技术有限公司"\n'
        "\n"
        "91330000733796106P,海康威视\n".encode()
    )
    rows = list(read_rows(path))
    assert [r.line for r in rows] == [2, 5]
    assert rows[0].fields == {
        "uscc": "91330100716105852F",
        "name": "阿里巴巴（中国）\n网络技术有限公司",
    }
    assert rows[1].fields == {"uscc": "91330000733796106P", "name": "海康威视"}


def test_a_row_in_the_wrong_encoding_is_flagged_and_the_rest_read(tmp_path: Path) -> None:
    path = tmp_path / "enterprise.csv"
    path.write_bytes(
        b"uscc,name\n"
        + b"91330100716105852F," + "海康威视".encode("gbk") + b"\n"
        + "91330000733796106P,海康威视\n".encode()
    )  # fmt: skip
    first, second = read_rows(path)
    assert first.fields is None
    assert first.problem_reason == "encoding"
    assert "UTF-8" in (first.problem or "")
    assert second.fields == {"uscc": "91330000733796106P", "name": "海康威视"}


def test_too_many_fields_is_flagged(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("uscc,name\na,b,c\n", encoding="utf-8")
    (row,) = read_rows(path)
    assert row.problem_reason == "bad_csv"
    assert "3 fields" in (row.problem or "")


def test_jsonl_with_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "tax.jsonl"
    path.write_bytes(
        b'\xef\xbb\xbf{"uscc": "91330100716105852F", "tax_year": 2016}\n'
        b"{not json}\n"
        b"[1, 2]\n"
        b"\n"
        b'{"name": "\xba\xa3"}\n'
    )
    rows = list(read_rows(path))
    assert [r.line for r in rows] == [1, 2, 3, 5]
    assert rows[0].fields == {"uscc": "91330100716105852F", "tax_year": 2016}
    assert [r.problem_reason for r in rows[1:]] == ["bad_json", "bad_json", "encoding"]


def test_format_detection(tmp_path: Path) -> None:
    assert detect_format(Path("a.CSV")) == "csv"
    assert detect_format(Path("a.ndjson")) == "jsonl"
    mystery = tmp_path / "export.dat"
    mystery.write_text('  {"uscc": "x"}\n', encoding="utf-8")
    assert detect_format(mystery) == "jsonl"


def test_chunks_split_only_between_records_and_keep_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "names.csv"
    lines = ["uscc,name"]
    for i in range(7):
        lines.append(
            f'9133010071610585{i:02d},"公司{i}\n第二行 ""引号"""'
            if i % 2
            else f"9133010071610585{i:02d},公司{i}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def rows(records: int) -> list[tuple[int, dict[str, str] | None]]:
        with ChunkReader(path, records=records) as reader:
            chunks = list(reader)
        return [(r.line, r.fields) for chunk in chunks for r in rows_of(chunk)]

    whole = rows(1000)
    assert len(whole) == 7
    assert whole[1] == (3, {"uscc": "913301007161058501", "name": '公司1\n第二行 "引号"'})
    assert whole[2][0] == 5  # the record after a two-line one
    for size in (1, 2, 3):
        assert rows(size) == whole
