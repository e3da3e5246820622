"""``zjcredit generate`` and ``zjcredit produce`` as a department clerk runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ZJCREDIT = str(Path(sys.executable).with_name("zjcredit"))


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ZJCREDIT, *args], env={**os.environ, **(env or {})},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_generate_then_produce_with_bad_rows_exits_1_with_a_summary(
    bootstrap_servers: str, tmp_path: Path, unique_name: Callable[[str], str]
) -> None:
    generated = run("generate", "--enterprises", "300", "--seed", "4", "--out", str(tmp_path),
                    "--bad-rows", "0.05")  # fmt: skip
    assert generated.returncode == 0, generated.stderr
    assert "tax.csv" in generated.stdout
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers,
        "ZJCREDIT_TOPIC_PREFIX": unique_name("cli"),
    }
    assert run("topics", "create", env=env).returncode == 0

    result = run("produce", "tax", str(tmp_path / "tax.csv"), env=env)

    planted = [json.loads(x) for x in (tmp_path / "bad_rows.jsonl").read_text().splitlines()]
    bad = sum(1 for b in planted if b["file"] == "tax.csv")
    assert bad > 0
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"rejected      {bad}" in result.stdout
    assert "acknowledged" in result.stdout
    rejects = (tmp_path / "tax.csv.rejects.jsonl").read_text().splitlines()
    assert len(rejects) == bad
    first = json.loads(rejects[0])
    assert {"line", "reason", "field", "message", "row"} <= first.keys()


def test_dry_run_needs_no_broker_and_sends_nothing(tmp_path: Path) -> None:
    assert (
        run("generate", "--enterprises", "50", "--seed", "2", "--out", str(tmp_path)).returncode
        == 0
    )
    result = run("produce", "enterprise", str(tmp_path / "enterprise.csv"), "--dry-run",
                 env={"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9"})  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid (dry run, nothing sent)" in result.stdout


def test_produce_against_a_stopped_broker_exits_2_and_says_why(tmp_path: Path) -> None:
    assert (
        run("generate", "--enterprises", "20", "--seed", "2", "--out", str(tmp_path)).returncode
        == 0
    )
    result = run("produce", "tax", str(tmp_path / "tax.csv"),
                 env={"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9"})  # fmt: skip
    assert result.returncode == 2
    assert "cannot reach Kafka at 127.0.0.1:9" in result.stdout + result.stderr
    assert "0 of" in result.stdout
    assert "Traceback" not in result.stderr


def test_a_missing_file_and_an_unknown_source_are_usage_errors(tmp_path: Path) -> None:
    missing = run("produce", "tax", str(tmp_path / "nope.csv"))
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr
    wrong = run("produce", "taxes", str(tmp_path / "nope.csv"))
    assert wrong.returncode == 2
    assert "'taxes' is not one of" in wrong.stderr
