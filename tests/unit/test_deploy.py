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
from compose_spec import PyOptions
from prometheus_client import CollectorRegistry

from base.settings import Settings
from producers.metrics import ProducerMetrics
from query.metrics import QueryMetrics
from schemas.topics import replication_for
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
    assert all(images[f"kafka-{i}"].startswith("apache/kafka:") for i in (1, 2, 3))
    assert images["postgres"].startswith("postgres:")
    assert images["prometheus"].startswith("prom/prometheus:")
    assert images["grafana"].startswith("grafana/grafana:")


def test_compose_is_a_valid_compose_file_by_a_real_implementation_of_the_spec() -> None:
    """compose-spec (Python bindings of the Rust compose_spec crate) parses the file as
    Docker Compose does: every key known (a typo is refused), every value of its type
    (durations, restart policies, depends_on conditions), merge keys applied; then its
    own reference checks. What it leaves out (services named in depends_on, named
    volumes declared) is checked here."""
    compose = PyOptions(apply_merge=True).from_yaml((DEPLOY / "docker-compose.yml").read_text())
    compose.validate()
    spec = compose.to_dict()
    services = spec["services"]
    declared = set(spec.get("volumes") or {})
    for name, service in services.items():
        needs = service.get("depends_on") or {}
        assert set(needs) <= set(services), f"{name} depends on {set(needs) - set(services)}"
        for volume in service.get("volumes", []):
            source = (volume["source"] if isinstance(volume, dict) else volume).split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name} mounts the undeclared volume {source}"


def test_the_refusals_of_the_compose_validator_are_real() -> None:
    """The validator above does refuse what Docker Compose refuses (so its pass means
    something): an unknown key, a restart policy or a depends_on condition that is not one."""
    for bad in ("services:\n  a:\n    image: x\n    comand: [x]\n",
                "services:\n  a:\n    image: x\n    restart: sometimes\n",
                "services:\n  a: {image: x, depends_on: {b: {condition: service_happy}}}\n"
                "  b: {image: y}\n"):  # fmt: skip
        with pytest.raises(ValueError, match=r"extension key|unknown variant"):
            PyOptions(apply_merge=True).from_yaml(bad).validate()


def _kafka_nodes() -> dict[str, Mapping[str, Any]]:
    return {n: s for n, s in _compose()["services"].items()
            if str(s.get("image", "")).startswith("apache/kafka:")}  # fmt: skip


def test_compose_runs_the_three_node_cluster_the_settings_expect() -> None:
    nodes = _kafka_nodes()
    assert sorted(nodes) == ["kafka-1", "kafka-2", "kafka-3"]
    envs = {name: service["environment"] for name, service in nodes.items()}
    assert sorted(e["KAFKA_NODE_ID"] for e in envs.values()) == [1, 2, 3]
    assert len({e["CLUSTER_ID"] for e in envs.values()}) == 1  # one cluster, formatted once
    voters = {e["KAFKA_CONTROLLER_QUORUM_VOTERS"] for e in envs.values()}
    assert voters == {"1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"}
    for name, env in envs.items():
        node = env["KAFKA_NODE_ID"]
        assert name == f"kafka-{node}"
        assert nodes[name]["hostname"] == name
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{name}:9092"
        assert nodes[name]["volumes"] == [f"{name}-data:/var/lib/kafka/data"]  # its own disk
        assert "healthcheck" in nodes[name]
    # The brokers' replication and the project's agree: 3 copies, 2 in sync for a write.
    wanted = replication_for(3)
    for env in envs.values():
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == wanted.factor
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == wanted.min_insync
        assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == wanted.min_insync
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == wanted.factor
    for name, service in _app_services():
        env = service["environment"]
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka-1:9092,kafka-2:9092,kafka-3:9092", name
        assert (int(env["ZJCREDIT_REPLICATION_FACTOR"]),
                int(env["ZJCREDIT_MIN_INSYNC_REPLICAS"])) == (wanted.factor, wanted.min_insync)  # fmt: skip
    topics = _compose()["services"]["topics"]["depends_on"]
    assert {n: c["condition"] for n, c in topics.items()} == dict.fromkeys(nodes, "service_healthy")


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
