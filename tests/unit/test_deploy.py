"""deploy/ without Docker: the compose file, the Dockerfile, the dashboard and the alerts
name only real commands, real settings and real metrics."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from prometheus_client import CollectorRegistry

from base.settings import Settings
from producers.metrics import ProducerMetrics
from query.metrics import QueryMetrics
from sink.metrics import SinkMetrics
from streams.metrics import WorkerMetrics
from zjcredit.cli import cli
from zjcredit.metrics import DemoMetrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


class _Recorder(dict[str, str]):
    """An environment that remembers every name looked up."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return super().get(key, default)


def _settings_names() -> set[str]:
    env = _Recorder()
    Settings.from_env(env)
    return env.asked


def _compose() -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text("utf-8"))
    assert isinstance(data, dict)
    return data


def _app_services() -> Iterator[tuple[str, Mapping[str, Any]]]:
    for name, service in _compose()["services"].items():
        if service.get("image") == "zjcredit:latest":
            yield name, service


def _check_command(argv: list[str]) -> None:
    """Parse ``zjcredit ARGV`` as click would run it, down to the sub-command's options."""
    ctx = cli.make_context("zjcredit", list(argv), obj=Settings())
    command: click.Command = cli
    args = list(argv)
    while isinstance(command, click.Group) and args and not args[0].startswith("-"):
        name, sub, args = command.resolve_command(ctx, args)
        assert sub is not None, f"zjcredit has no command {name!r}"
        ctx = sub.make_context(name or "", list(args), parent=ctx)
        # A group keeps what follows its own options as "protected" args (click >= 8.2).
        command, args = sub, [*getattr(ctx, "_protected_args", []), *ctx.args]


def test_compose_runs_every_role_from_one_image_with_real_commands() -> None:
    services = dict(_app_services())
    assert {"topics", "migrate", "worker", "sink", "query"} <= set(services)
    for name, service in services.items():
        _check_command(service["command"])
        assert service["build"]["dockerfile"] == "deploy/Dockerfile", name
    assert services["worker"]["deploy"]["replicas"] > 1  # one consumer group, scaled out
    images = {n: s.get("image", "") for n, s in _compose()["services"].items()}
    assert images["kafka"].startswith("apache/kafka:")
    assert images["postgres"].startswith("postgres:")
    assert images["prometheus"].startswith("prom/prometheus:")
    assert images["grafana"].startswith("grafana/grafana:")


def test_compose_restarts_every_long_running_service() -> None:
    for name, service in _compose()["services"].items():
        once = name in ("topics", "migrate")  # creates the topics or the tables, then exits
        assert service.get("restart") == ("no" if once else "unless-stopped"), name


def test_compose_sets_only_settings_the_code_reads() -> None:
    known = _settings_names()
    for name, service in _app_services():
        unknown = set(service["environment"]) - known
        assert not unknown, f"{name}: {unknown} are not read by base/settings.py"


def test_compose_mounts_files_that_exist() -> None:
    for name, service in _compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"


def test_dockerfile_sets_only_real_settings_and_runs_zjcredit() -> None:
    text = (DEPLOY / "Dockerfile").read_text("utf-8")
    assert 'ENTRYPOINT ["zjcredit"]' in text
    env_blocks = re.findall(r"^ENV ((?:.*\\\n)*.*)$", text, re.MULTILINE)
    names = {m for block in env_blocks for m in re.findall(r"([A-Z_]+)=", block)}
    zjcredit_names = {n for n in names if n.startswith("ZJCREDIT_")}
    assert zjcredit_names
    assert zjcredit_names <= _settings_names()


def _series_names() -> set[str]:
    """Every sample name the processes can expose, from the metrics classes themselves."""
    registry = CollectorRegistry()
    WorkerMetrics(registry)
    SinkMetrics(registry)
    ProducerMetrics(registry)
    QueryMetrics(registry)
    DemoMetrics(registry=registry)
    suffixes = {"counter": ("_total", "_created"), "gauge": ("",),
                "histogram": ("_bucket", "_sum", "_count", "_created")}  # fmt: skip
    return {m.name + s for m in registry.collect() for s in suffixes[m.type]}


def _exprs() -> Iterator[tuple[str, str]]:
    dashboard = json.loads((DEPLOY / "grafana/dashboards/zjcredit.json").read_text("utf-8"))
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            yield f"dashboard: {panel['title']}", target["expr"]
    rules = yaml.safe_load((DEPLOY / "prometheus/alerts.yml").read_text("utf-8"))
    for group in rules["groups"]:
        for rule in group["rules"]:
            yield f"alert {rule['alert']}", rule["expr"]


def test_dashboard_and_alerts_use_only_metrics_that_exist() -> None:
    exist = _series_names()
    for where, expr in _exprs():
        # A regex over names, as in the dead-letter panel: expand its alternatives.
        for stem, alts, tail in re.findall(r"(zjcredit_)\((\w+(?:\|\w+)*)\)(\w+)", expr):
            for alt in alts.split("|"):
                assert f"{stem}{alt}{tail}" in exist, f"{where}: {stem}{alt}{tail}"
        for name in re.findall(r"\bzjcredit_\w+", expr):
            assert name in exist or name.endswith("_"), f"{where}: no series {name}"


@pytest.mark.parametrize(
    "panel",
    ["throughput", "freshness", "lag", "rejects", "dead letters", "listings", "api latency"],
)
def test_dashboard_has_the_panels_an_operator_needs(panel: str) -> None:
    dashboard = json.loads((DEPLOY / "grafana/dashboards/zjcredit.json").read_text("utf-8"))
    titles = " | ".join(p["title"].lower() for p in dashboard["panels"])
    words = {"throughput": "events/s", "api latency": "api latency"}.get(panel, panel)
    assert words in titles


def test_the_image_copies_every_room() -> None:
    """A room the package finds but the Dockerfile forgets would break the image only."""
    text = (DEPLOY / "Dockerfile").read_text("utf-8")
    rooms = {p.parent.name for p in DEPLOY.parent.glob("*/__init__.py")} - {"tests"}
    copied = set(re.findall(r"^COPY (\w+) \./\1$", text, re.MULTILINE))
    assert rooms == copied, f"rooms {sorted(rooms)}, copied {sorted(copied)}"
