"""``create_topics`` against the real broker: idempotent, honest about differences."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from base.settings import Settings
from schemas.topics import TopicOutcome, create_topics, project_topics


def test_create_is_idempotent_and_applies_topic_configs(
    bootstrap_servers: str, settings: Settings, unique_name: Callable[[str], str]
) -> None:
    ours = replace(settings, topic_prefix=unique_name("zjc"), partitions=3)
    specs = project_topics(ours)

    first = create_topics(bootstrap_servers, specs)
    second = create_topics(bootstrap_servers, specs)

    assert [outcome for _, outcome, _ in first] == [TopicOutcome.CREATED] * len(specs)
    assert [outcome for _, outcome, _ in second] == [TopicOutcome.FOUND] * len(specs)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers)
    try:
        described = {d["name"]: d for d in admin.describe_topics([s.name for s in specs])}
        assert {len(d["partitions"]) for d in described.values()} == {3}
        profiles = f"{ours.topic_prefix}.profiles"
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, profiles)])
        text = repr(configs)
        assert "cleanup.policy" in text
        assert "compact" in text
    finally:
        admin.close()


def test_a_topic_with_another_partition_count_is_reported_not_changed(
    bootstrap_servers: str, settings: Settings, unique_name: Callable[[str], str]
) -> None:
    prefix = unique_name("zjc")
    create_topics(
        bootstrap_servers, project_topics(replace(settings, topic_prefix=prefix, partitions=2))
    )

    again = create_topics(
        bootstrap_servers, project_topics(replace(settings, topic_prefix=prefix, partitions=5))
    )

    assert {(outcome, actual) for _, outcome, actual in again} == {(TopicOutcome.MISMATCH, 2)}
