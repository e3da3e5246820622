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
    # 64 (EX_USAGE), apart from 2 = publishing failed (producers/produce.py).
    missing = run("produce", "tax", str(tmp_path / "nope.csv"))
    assert missing.returncode == 64
    assert "does not exist" in missing.stderr
    wrong = run("produce", "taxes", str(tmp_path / "nope.csv"))
    assert wrong.returncode == 64
    assert "'taxes' is not one of" in wrong.stderr


def test_the_issues_hostile_rows_are_rejected_with_their_reason(tmp_path: Path) -> None:
    """Issue 13's examples: each once stopped a process downstream; now a reject each."""
    examples = Path(__file__).parents[2] / "examples"
    header, good, *_ = (examples / "blacklist.csv").read_text("utf-8").splitlines()
    cells = good.split(",")
    long_decision = cells.copy()
    long_decision[6] = "浙" * 4000
    from_2107 = cells.copy()
    from_2107[3] = "2107-03-01T10:00:00+08:00"
    spaced = cells.copy()
    spaced[0] = cells[0][:5] + " " * 100_000 + cells[0][5:]
    (tmp_path / "blacklist.csv").write_text(
        "\n".join([header, good, *(",".join(c) for c in (long_decision, from_2107, spaced))])
        + "\n", "utf-8",
    )  # fmt: skip
    e_header, e_good, *_ = (examples / "enterprise.csv").read_text("utf-8").splitlines()
    with_nul = e_good.split(",")
    with_nul[5] = with_nul[5][:2] + "\x00" + with_nul[5][2:]
    (tmp_path / "enterprise.csv").write_text(f"{e_header}\n{','.join(with_nul)}\n", "utf-8")

    listings = run("produce", "blacklist", str(tmp_path / "blacklist.csv"), "--dry-run")
    firms = run("produce", "enterprise", str(tmp_path / "enterprise.csv"), "--dry-run")

    assert listings.returncode == 1, listings.stdout + listings.stderr
    assert "valid (dry run, nothing sent) 1" in listings.stdout
    rejects = [json.loads(x) for x in
               (tmp_path / "blacklist.csv.rejects.jsonl").read_text("utf-8").splitlines()]  # fmt: skip
    assert [(x["line"], x["field"], x["reason"]) for x in rejects] == [
        (3, "decision_no", "too_long"),
        (4, "reported_at", "out_of_range"),
        (5, "uscc", "too_long"),
    ]
    assert all(len(x["message"]) < 300 for x in rejects)
    assert firms.returncode == 1, firms.stdout + firms.stderr
    (nul,) = (tmp_path / "enterprise.csv.rejects.jsonl").read_text("utf-8").splitlines()
    assert (json.loads(nul)["field"], json.loads(nul)["reason"]) == ("name", "control_character")
