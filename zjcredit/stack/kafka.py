"""An embedded Apache Kafka broker: KRaft, one node, jars from Maven Central.

``ensure_jars`` runs Maven once against ``deploy/kafka/pom.xml`` and keeps the jars in
the cache folder; ``KafkaBroker`` formats a storage folder, starts ``kafka.Kafka`` on the
local JDK with a bounded heap, and waits until the broker answers metadata requests.

Example::

    jars = ensure_jars(Path("~/.cache/zjcredit").expanduser())
    with KafkaBroker(jars_dir=jars, work_dir=Path("/tmp/k")) as broker:
        print(broker.bootstrap_servers)
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import socket
import string
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from base.endpoints import free_port
from base.errors import ServerStartError, StackError, ToolMissingError
from zjcredit.stack.process import ManagedServer, ServerProcess

__all__ = [
    "KAFKA_DIR",
    "KafkaBroker",
    "NodeConfig",
    "ensure_jars",
    "find_java",
    "kafka_version",
    "new_cluster_id",
]

KAFKA_DIR = Path(__file__).resolve().parents[2] / "deploy" / "kafka"
_POINT_ELSEWHERE = (
    "or point the project at an existing broker instead: export KAFKA_BOOTSTRAP_SERVERS=host:9092"
)


def kafka_version(pom: Path = KAFKA_DIR / "pom.xml") -> str:
    """The Kafka version pinned in the pom (its ``kafka.version`` property)."""
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", pom.read_text("utf-8"))
    if not match:
        raise StackError(f"{pom}: no <kafka.version> property")
    return match.group(1).strip()


def find_java() -> str:
    """Path of a ``java`` of version 17 or newer; ToolMissingError says what to do if not."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        raise ToolMissingError(
            "Java 17 or newer is needed to run the embedded Kafka broker, and no `java` was "
            "found (JAVA_HOME unset, none on PATH). Install a JDK "
            "(Debian: apt-get install openjdk-17-jdk-headless) " + _POINT_ELSEWHERE
        )
    out = subprocess.run(
        [java, "-version"], capture_output=True, text=True, check=False, timeout=60
    ).stderr
    match = re.search(r'version "(\d+)', out)
    if not match or int(match.group(1)) < 17:
        raise ToolMissingError(
            f"{java} is not Java 17 or newer ({out.strip().splitlines()[:1]}); Kafka 4 needs "
            "17+. Set JAVA_HOME to a newer JDK " + _POINT_ELSEWHERE
        )
    return java


def ensure_jars(cache_dir: Path, pom: Path = KAFKA_DIR / "pom.xml") -> Path:
    """Return the folder of the broker's jars, fetching them with Maven the first time.

    The folder is named by version and only appears complete (it is filled beside, then
    renamed), so a run interrupted mid-download fetches again instead of half-starting.
    """
    target = cache_dir / f"kafka-{kafka_version(pom)}" / "libs"
    if target.is_dir() and any(target.glob("kafka_2.13-*.jar")):
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ToolMissingError(
            "Maven (`mvn`) is needed once, to fetch Apache Kafka's jars from Maven Central, "
            "and was not found on PATH. Install it (Debian: apt-get install maven) "
            + _POINT_ELSEWHERE
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="libs-", dir=target.parent))
    result = subprocess.run(
        [mvn, "-B", "-q", "-f", str(pom), "dependency:copy-dependencies",
         "-DincludeScope=runtime", f"-DoutputDirectory={staging}"],
        capture_output=True, text=True, check=False, timeout=1800,
    )  # fmt: skip
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
        raise StackError(
            f"Maven could not fetch Kafka's jars (is Maven Central reachable?):\n{tail}"
        )
    try:
        staging.rename(target)
    except OSError:  # another process finished first; its copy is as good as ours
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _accepts_connections(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1.0):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class NodeConfig:
    """One node's place in a KRaft cluster: the fields of ``deploy/kafka/server.properties``.

    Attributes:
        node_id: the node's id (1, 2, 3, ...), the same across restarts.
        broker_port, controller_port: its loopback ports, the same across restarts (the
            other nodes know it by them).
        voters: the controller quorum, ``1@127.0.0.1:port,2@...``.
        replication: replicas of the internal topics, and the default of every topic.
        min_isr: replicas an acks=all write needs, internal topics and default.
    """

    node_id: int
    broker_port: int
    controller_port: int
    voters: str
    replication: int = 1
    min_isr: int = 1

    @classmethod
    def single(cls, port: int = 0) -> NodeConfig:
        """A lone node on ``port`` if free (else any free port)."""
        controller = free_port()
        return cls(1, free_port(port), controller, f"1@127.0.0.1:{controller}")


def new_cluster_id() -> str:
    """16 random bytes in URL-safe base64, as ``kafka-storage random-uuid`` prints (made
    here to save starting a JVM)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


class KafkaBroker(ManagedServer):
    """One KRaft broker+controller process on loopback.

    Args:
        jars_dir: folder from :func:`ensure_jars`.
        work_dir: holds ``server.properties``, the log and (under ``data/``) the storage;
            an already formatted storage is reused.
        port: preferred client port of a lone node; taken if free, else any free port
            (0 = any). Ignored with ``node``.
        heap: maximum Java heap, e.g. ``512m`` (the machines have 2 cores and share them).
        node: this node's place in a cluster (:class:`zjcredit.stack.cluster.KafkaCluster`
            makes them); None: a cluster of one, its ports chosen at the first start.
        cluster_id: the id its storage is formatted with (every node of a cluster shares
            one); None: a new one.
    """

    def __init__(
        self,
        *,
        jars_dir: Path,
        work_dir: Path,
        port: int = 0,
        heap: str = "512m",
        node: NodeConfig | None = None,
        cluster_id: str | None = None,
    ):
        self.jars_dir = jars_dir
        self.work_dir = work_dir
        self.port = port
        self.heap = heap
        self.node = node
        self.cluster_id = cluster_id or new_cluster_id()
        self.log_path = work_dir / "broker.log"
        self._process: ServerProcess | None = None
        self.bootstrap_servers = ""

    def start(self, timeout: float = 120.0) -> str:
        """Start the broker and return ``host:port`` once it answers metadata requests."""
        self.launch()
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self.bootstrap_servers

    def launch(self) -> str:
        """Start the process without waiting for it (a cluster's nodes need each other
        to get ready); ``host:port``. A restart keeps the node's ports."""
        java = find_java()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        if self.node is None:
            self.node = NodeConfig.single(self.port)
        node = self.node
        config = self.work_dir / "server.properties"
        template = string.Template((KAFKA_DIR / "server.properties").read_text("utf-8"))
        config.write_text(
            template.substitute(
                node_id=node.node_id,
                voters=node.voters,
                broker_port=node.broker_port,
                controller_port=node.controller_port,
                log_dirs=self.work_dir / "data",
                replication=node.replication,
                min_isr=node.min_isr,
            ),
            "utf-8",
        )
        classpath = f"{self.jars_dir}/*"
        if not (self.work_dir / "data" / "meta.properties").exists():
            self._format(java, classpath, config)
        self._process = ServerProcess(
            [java, "-Xms128m", f"-Xmx{self.heap}", "-XX:+UseG1GC", "-XX:+ExitOnOutOfMemoryError",
             "-Djava.awt.headless=true",
             f"-Dlog4j2.configurationFile={KAFKA_DIR / 'log4j2.properties'}",
             "-cp", classpath, "kafka.Kafka", str(config)],
            log_path=self.log_path,
        )  # fmt: skip
        self.bootstrap_servers = f"127.0.0.1:{node.broker_port}"
        return self.bootstrap_servers

    def kill(self) -> None:
        """SIGKILL the broker (a crash, for fault tests) and reap it; restart with
        :meth:`start` or :meth:`launch`."""
        if self._process is not None:
            self._process.kill()
            self._process = None

    def _format(self, java: str, classpath: str, config: Path) -> None:
        result = subprocess.run(
            [java, "-cp", classpath, "kafka.tools.StorageTool", "format",
             f"--cluster-id={self.cluster_id}", "-c", str(config)],  # the id may start with "-"
            capture_output=True, text=True, check=False, timeout=300,
        )  # fmt: skip
        if result.returncode != 0:
            raise ServerStartError(
                "Kafka storage format failed", (result.stdout + result.stderr)[-4000:]
            )

    def _wait_ready(self, timeout: float) -> None:
        self._wait_until(self.answers_metadata, "the Kafka broker", timeout, poll=0.5)

    def answers_metadata(self, brokers: int = 1) -> bool:
        """Whether the broker answers a cluster description naming at least ``brokers``."""
        from kafka import KafkaAdminClient  # noqa: PLC0415 - heavy, only needed here
        from kafka.errors import KafkaError  # noqa: PLC0415

        # Knock first: kafka-python leaks a socket each time its client constructor
        # fails against a port nobody listens on yet.
        if not _accepts_connections(self.bootstrap_servers):
            return False
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=self.bootstrap_servers,
                request_timeout_ms=5000,
                client_id="zjcredit-stack-probe",
            )
        except KafkaError:
            return False
        try:
            return len(admin.describe_cluster()["brokers"]) >= brokers
        except KafkaError:
            return False
        finally:
            admin.close()
