"""The demo process's own metrics, declared once, behind hooks.

``zjcredit demo`` serves them on its ``--metrics-port`` beside the producer's
(``zjcredit_producer_*``). Tests pass a fresh ``CollectorRegistry``.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import REGISTRY, CollectorRegistry, Counter

__all__ = ["DemoMetrics"]


class DemoMetrics:
    """Restarts of the demo's children (a crash loop shows as a steady increase).

    Args:
        children: the names to expose at 0 from the start, so ``increase()`` sees the
            first restart.
        registry: where the metrics are registered (the process registry by default).
    """

    def __init__(
        self, children: Iterable[str] = (), registry: CollectorRegistry = REGISTRY
    ) -> None:
        self._restarts = Counter(
            "zjcredit_demo_child_restarts_total",
            "Times the demo restarted a child process (worker, sink, query service) that exited",
            ["child"],
            registry=registry,
        )
        for name in children:
            self._restarts.labels(name)

    def on_child_restart(self, name: str) -> None:
        self._restarts.labels(name).inc()
