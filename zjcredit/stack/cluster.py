"""A local KRaft cluster: N nodes, each a broker and a controller, on loopback ports.

The nodes run the same jars and the same ``deploy/kafka/server.properties`` as the single
node (:class:`~zjcredit.stack.kafka.KafkaBroker`); each has its own storage folder and log
under ``<work_dir>/node<id>/`` and its own bounded heap. They share one cluster id and a
static controller quorum (``controller.quorum.voters``), so a majority of the nodes must
be up for the cluster to work: two of three. A node keeps its id and ports across a
restart, so the others take it back.

Internal topics and topics created without their own numbers get ``min(3, N)`` replicas
and need one fewer in sync for a write (schemas.topics.replication_for): on three nodes,
replication factor 3 and ``min.insync.replicas=2``.

Example::

    cluster = KafkaCluster(jars_dir=ensure_jars(cache), work_dir=Path("/tmp/k"), brokers=3)
    print(cluster.start())        # 127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094
    cluster.kill(2)               # SIGKILL node 2 ...
    cluster.restart(2)            # ... and bring it back
    cluster.stop()
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Self

from base.endpoints import free_port
from base.errors import ServerStartError
from schemas.topics import replication_for
from zjcredit.stack.kafka import KafkaBroker, NodeConfig, new_cluster_id
from zjcredit.stack.process import log_tail

__all__ = ["KafkaCluster"]


def _distinct_ports(count: int, first: int) -> list[int]:
    """``count`` different free ports: ``first``, ``first + 1``, ... where free (0: any)."""
    ports: list[int] = []
    while len(ports) < count:
        preferred = first + len(ports) if first else 0
        port = free_port(preferred)
        if port not in ports:
            ports.append(port)
    return ports


class KafkaCluster:
    """N KRaft nodes (broker + controller each) started and stopped together.

    Args:
        jars_dir: folder from :func:`~zjcredit.stack.kafka.ensure_jars`.
        work_dir: one ``node<id>/`` folder per node (config, log, storage); a single node
            uses ``work_dir`` itself, as it always has. Formatted storage is reused.
        brokers: how many nodes (1 is the single node of ``zjcredit stack up``).
        heap: maximum Java heap of each node.
        port: preferred client port of node 1 (node ``i`` prefers ``port + i - 1``); taken
            if free, else any free port (0 = any).
    """

    def __init__(
        self, *, jars_dir: Path, work_dir: Path, brokers: int = 3, heap: str = "512m", port: int = 0
    ) -> None:
        if brokers < 1:
            raise ValueError(f"a cluster needs at least one node, not {brokers}")
        replication = replication_for(brokers)
        client = _distinct_ports(brokers, port)
        controller = _distinct_ports(brokers, 0)
        while set(controller) & set(client):  # pragma: no cover - the OS hands out new ones
            controller = _distinct_ports(brokers, 0)
        voters = ",".join(f"{i + 1}@127.0.0.1:{p}" for i, p in enumerate(controller))
        cluster_id = new_cluster_id()
        self.work_dir = work_dir
        self.nodes = [
            KafkaBroker(
                jars_dir=jars_dir,
                work_dir=work_dir if brokers == 1 else work_dir / f"node{i + 1}",
                heap=heap,
                node=NodeConfig(
                    i + 1,
                    client[i],
                    controller[i],
                    voters,
                    replication.factor,
                    replication.min_insync,
                ),
                cluster_id=cluster_id,
            )
            for i in range(brokers)
        ]
        self.bootstrap_servers = ",".join(f"127.0.0.1:{p}" for p in client)

    def node(self, node_id: int) -> KafkaBroker:
        """The node with id ``node_id`` (1..N)."""
        return self.nodes[node_id - 1]

    def start(self, timeout: float = 180.0) -> str:
        """Start every node; the bootstrap list once each answers naming all N brokers."""
        try:
            for node in self.nodes:
                node.launch()
            self._wait_all(self.nodes, timeout)
        except BaseException:
            self.stop()
            raise
        return self.bootstrap_servers

    def kill(self, node_id: int) -> None:
        """SIGKILL one node (a crash: no controlled shutdown, no flush)."""
        self.node(node_id).kill()

    def restart(self, node_id: int, timeout: float = 180.0) -> None:
        """Start a stopped or killed node again (same id, ports and storage); return once
        it answers naming every node that is up."""
        node = self.node(node_id)
        node.launch()
        self._wait_all([node], timeout)

    def running(self) -> list[int]:
        """Ids of the nodes whose process is alive."""
        return [i + 1 for i, n in enumerate(self.nodes) if n.pid is not None and
                n.exit_code() is None]  # fmt: skip

    def exited(self) -> dict[int, int]:
        """Node id -> exit status, of the nodes that exited by themselves."""
        return {
            i + 1: code for i, n in enumerate(self.nodes) if (code := n.exit_code()) is not None
        }

    def _wait_all(self, nodes: list[KafkaBroker], timeout: float) -> None:
        """Until each of ``nodes`` answers naming every running node: a node lists only
        brokers registered with the quorum and not fenced, so this is "the cluster is
        whole again"."""
        deadline = time.monotonic() + timeout
        waiting = list(nodes)
        while waiting:
            want = len(self.running())
            for node in list(waiting):
                code = node.exit_code()
                if code is not None:
                    raise ServerStartError(
                        f"Kafka node {self.nodes.index(node) + 1} exited with status {code} while "
                        f"starting (log: {node.log_path})",
                        log_tail(node.log_path),
                    )
                if node.answers_metadata(brokers=want):
                    waiting.remove(node)
            if waiting and time.monotonic() > deadline:
                slow = waiting[0]
                raise ServerStartError(
                    f"Kafka node {self.nodes.index(slow) + 1} did not see all {want} nodes within "
                    f"{timeout:.0f} s (log: {slow.log_path})",
                    log_tail(slow.log_path),
                )
            if waiting:
                time.sleep(0.5)

    def stop(self, timeout: float = 60.0) -> None:
        """Stop every node at once (SIGTERM, then SIGKILL after ``timeout``). Together,
        because a node that stops alone waits for the others to move its leaderships, and
        the last ones would wait for a quorum that is gone."""
        with ThreadPoolExecutor(max_workers=len(self.nodes)) as pool:
            list(pool.map(lambda n: n.stop(timeout), self.nodes))

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
