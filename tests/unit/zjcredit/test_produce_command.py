"""``zjcredit produce`` on the command line, dry runs (no broker): what a clerk sees."""

from __future__ import annotations

from pathlib import Path

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
    assert code == 2
    assert "unknown encoding 'klingon'" in err
