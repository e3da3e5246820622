"""``zjcredit produce`` on the command line, dry runs (no broker): what a clerk sees."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from base.settings import Settings
from zjcredit.cli import cli

EXAMPLES = Path(__file__).parents[3] / "examples"


def run(*args: str, input: bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), obj=Settings.from_env(), input=input)
    return result.exit_code, result.stdout, result.stderr


def test_the_chosen_encoding_is_printed(tmp_path: Path) -> None:
    path = tmp_path / "tax.csv"
    path.write_bytes((EXAMPLES / "tax.csv").read_text("utf-8").encode("gb18030"))
    code, out, err = run("produce", "tax", str(path), "--dry-run")
    assert code == 0, out + err
    assert "reading tax.csv as GB18030 (not valid UTF-8)" in err
    assert "encoding      GB18030 (not valid UTF-8)" in out


def test_a_forced_encoding_is_used_and_an_unknown_one_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "tax.csv"
    path.write_bytes((EXAMPLES / "tax.csv").read_text("utf-8").encode("gbk"))
    code, out, err = run("produce", "tax", str(path), "--dry-run", "--encoding", "cp936")
    assert code == 0, out + err
    assert "reading tax.csv as GBK (--encoding)" in err
    code, out, err = run("produce", "tax", str(path), "--dry-run", "--encoding", "klingon")
    assert code == 64
    assert "unknown encoding 'klingon'" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["produce", "tax", "no-such-file.csv", "--dry-run"], "does not exist"),
        (["produce", "taxes", str(EXAMPLES / "tax.csv"), "--dry-run"], "'taxes' is not one of"),
        (["produce", "tax", str(EXAMPLES / "tax.csv"), "--no-such-option"], "No such option"),
        (["produce", "tax"], "Missing argument 'FILE'"),
    ],
)
def test_usage_errors_exit_64_not_2_which_is_publishing_failed(
    args: list[str], message: str
) -> None:
    code, _, err = run(*args)
    assert code == 64, err
    assert message in err


def test_stdin_in_gb18030_with_chinese_headers_and_a_json_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    header, *body = (EXAMPLES / "tax.csv").read_text("utf-8").splitlines(keepends=True)
    chinese = header.replace("uscc,", "统一社会信用代码,").replace(",grade,", ",纳税信用级别,")
    bad = "91330100716105852X,SAT,2017-04-20,,GRADE_ASSESSED,2016,A,,,,,,\n"  # a wrong check digit
    data = (chinese + "".join(body) + bad).encode("gb18030")
    code, out, err = run("produce", "tax", "-", "--dry-run", "--json", input=data)
    assert code == 1, out + err  # one row rejected
    assert "reading stdin as GB18030 (not valid UTF-8)" in err
    summary = json.loads(out)  # stdout is the one JSON object, nothing else
    assert summary == {
        "file": "stdin", "source": "tax", "dry_run": True,
        "encoding": {"name": "GB18030", "why": "not valid UTF-8"}, "sheet": None,
        "read": len(body) + 1, "sent": len(body), "acknowledged": 0, "rejected": 1,
        "rejects_by_reason": {"invalid_credit_code": 1}, "rejects_file": "stdin.rejects.jsonl",
        "ignored_columns": [], "shared_columns": {}, "error": None, "exit_code": 1,
    }  # fmt: skip
    (reject,) = (tmp_path / "stdin.rejects.jsonl").read_text("utf-8").splitlines()
    assert json.loads(reject)["line"] == len(body) + 2


def test_jsonl_on_stdin_is_told_by_its_first_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    header, *body = (EXAMPLES / "tax.csv").read_text("utf-8").splitlines()
    names = header.split(",")
    lines = [
        json.dumps(dict(zip(names, row.split(","), strict=True)), ensure_ascii=False)
        for row in body
    ]
    code, out, err = run("produce", "tax", "-", "--dry-run", input="\n".join(lines).encode())
    assert code == 0, out + err
    assert f"  read          {len(body)}" in out.splitlines()
    assert not (tmp_path / "stdin.rejects.jsonl").exists()


def test_a_workbook_on_stdin_is_told_by_its_zip_header_and_a_missing_sheet_is_usage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "纳税信用"
    for row in csv.reader(io.StringIO((EXAMPLES / "tax.csv").read_text("utf-8"))):
        sheet.append(row)  # every cell typed as text, as a clerk who pastes does
    book.save(tmp_path / "tax.xlsx")
    data = (tmp_path / "tax.xlsx").read_bytes()
    code, out, err = run("produce", "tax", "-", "--dry-run", "--json", input=data)
    assert code == 0, out + err
    assert "reading stdin, sheet '纳税信用'" in err
    summary = json.loads(out)
    assert (summary["sheet"], summary["rejected"]) == ("纳税信用", 0)
    assert summary["read"] == sheet.max_row - 1
    code, _, err = run("produce", "tax", str(tmp_path / "tax.xlsx"), "--dry-run", "--sheet", "x")
    assert code == 64
    assert "no sheet 'x'; its sheets: '纳税信用'" in err


def test_no_kafka_configured_is_publishing_failed_and_still_one_json_object(
    tmp_path: Path,
) -> None:
    settings = Settings.from_env({"ZJCREDIT_RUN_DIR": str(tmp_path)})  # no stack, no variable
    result = CliRunner().invoke(cli, ["produce", "tax", str(EXAMPLES / "tax.csv"), "--json"],
                                obj=settings)  # fmt: skip
    assert result.exit_code == 2, result.output
    summary = json.loads(result.stdout)
    assert summary["exit_code"] == 2
    assert summary["read"] == summary["acknowledged"] == 0
    assert "export KAFKA_BOOTSTRAP_SERVERS" in summary["error"]


def test_the_patent_source_on_the_command_line_in_gb18030(tmp_path: Path) -> None:
    """A 知识产权局 export, as its system saves it: GB18030, Chinese headers and kinds."""
    path = tmp_path / "专利.csv"
    text = (EXAMPLES / "patent.csv").read_text("utf-8")
    path.write_bytes(
        (text + text.splitlines()[1].replace(".4,", ".7,", 1) + "\n").encode("gb18030")
    )
    code, out, err = run("produce", "patent", str(path), "--dry-run", "--json")
    assert code == 1, out + err  # the one row with a wrong check character
    summary = json.loads(out)
    assert (summary["source"], summary["read"], summary["rejected"]) == ("patent", 12, 1)
    assert summary["rejects_by_reason"] == {"patent_check_digit": 1}
    assert summary["ignored_columns"] == []
