from base.settings import Settings
from schemas.topics import SOURCES, project_topics


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
