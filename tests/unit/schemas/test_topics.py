import pytest

from base.errors import TopicsError
from base.settings import Settings
from schemas.topics import SOURCES, Replication, project_topics, replication_for


def test_every_topic_is_co_partitioned_and_prefixed() -> None:
    specs = project_topics(Settings.from_env({"ZJCREDIT_PARTITIONS": "6"}))
    assert {s.partitions for s in specs} == {6}
    assert all(s.name.startswith("zjcredit.") for s in specs)
    assert len({s.name for s in specs}) == len(specs)


def test_sources_are_kept_forever_and_profiles_compacted() -> None:
    specs = {s.name: s for s in project_topics(Settings.from_env({}))}
    for source in SOURCES:
        assert specs[f"zjcredit.{source}"].config["retention.ms"] == "-1"
        # The worker reads reported_at against the broker's stamp, not the sender's.
        assert specs[f"zjcredit.{source}"].config["message.timestamp.type"] == "LogAppendTime"
    assert specs["zjcredit.profiles"].config["cleanup.policy"] == "compact"
    assert {"zjcredit.penalties", "zjcredit.deadletters"} <= specs.keys()


def test_replication_follows_the_cluster_up_to_three_with_one_fewer_in_sync() -> None:
    # Three brokers: a write lives on two, so any one broker may go without losing it.
    assert replication_for(3) == Replication(3, 2)
    assert replication_for(1) == Replication(1, 1)
    assert replication_for(2) == Replication(2, 1)
    assert replication_for(5) == Replication(3, 2)
    assert replication_for(5, factor=5) == Replication(5, 2)
    assert replication_for(3, factor=3, min_insync=3) == Replication(3, 3)
    with pytest.raises(TopicsError, match=r"min\.insync\.replicas=3 is more than"):
        replication_for(3, factor=2, min_insync=3)


def test_topics_take_the_settings_replication_or_leave_it_to_the_cluster() -> None:
    assert {(s.replication_factor, s.min_insync_replicas)
            for s in project_topics(Settings.from_env({}))} == {(None, None)}  # fmt: skip
    chosen = Settings.from_env(
        {"ZJCREDIT_REPLICATION_FACTOR": "3", "ZJCREDIT_MIN_INSYNC_REPLICAS": "2"}
    )
    assert {(s.replication_factor, s.min_insync_replicas)
            for s in project_topics(chosen)} == {(3, 2)}  # fmt: skip
