"""The producer's metrics hooks count what happened to a file (dry run: no broker)."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from producers.generator import generate
from producers.metrics import ProducerMetrics
from producers.produce import produce_file


def test_dry_run_counts_rows_read_and_rejected_by_reason(tmp_path: Path) -> None:
    report = generate(400, seed=9, out_dir=tmp_path, bad_rows=0.05)
    registry = CollectorRegistry()
    summary = produce_file("tax", report.paths["tax"], bootstrap_servers=None, dry_run=True,
                           metrics=ProducerMetrics(registry), show_progress=False, workers=0)  # fmt: skip

    def value(name: str, **labels: str) -> float:
        return registry.get_sample_value(name, {"source": "tax", **labels}) or 0.0

    assert value("zjcredit_producer_rows_read_total") == summary.read == report.rows["tax"]
    by_reason = sum(
        value("zjcredit_producer_rows_rejected_total", reason=r) for r in summary.rejects_by_reason
    )
    assert by_reason == summary.rejected > 0
    assert value("zjcredit_producer_events_sent_total") == 0  # a dry run sends nothing


def test_a_second_default_instance_is_the_same_one() -> None:
    assert ProducerMetrics.default() is ProducerMetrics.default()


def test_the_readme_examples_are_valid(tmp_path: Path) -> None:
    examples = Path(__file__).parents[3] / "examples"
    for source in ("enterprise", "tax", "trademark", "blacklist"):
        copy = tmp_path / f"{source}.csv"  # rejects would be written beside the file
        copy.write_bytes((examples / f"{source}.csv").read_bytes())
        summary = produce_file(source, copy, bootstrap_servers=None, dry_run=True,
                               metrics=ProducerMetrics(CollectorRegistry()), show_progress=False)  # fmt: skip
        assert summary.read > 0
        assert summary.rejected == 0, source
