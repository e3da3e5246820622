from pathlib import Path

import pytest

from base.errors import ConfigError
from base.settings import Settings, redact_url


def test_defaults_start_embedded_servers() -> None:
    s = Settings.from_env({"HOME": "/home/clerk"})
    assert s.kafka_bootstrap_servers is None
    assert s.database_url is None
    assert s.topic_prefix == "zjcredit"
    assert s.partitions == 12


def test_common_names_are_honoured() -> None:
    s = Settings.from_env(
        {"KAFKA_BOOTSTRAP_SERVERS": "k1:9092,k2:9092", "DATABASE_URL": "postgresql://h/db"}
    )
    assert s.kafka_bootstrap_servers == "k1:9092,k2:9092"
    assert s.database_url == "postgresql://h/db"


def test_prefixed_names_win_over_common_names() -> None:
    s = Settings.from_env(
        {
            "KAFKA_BOOTSTRAP_SERVERS": "other:9092",
            "ZJCREDIT_KAFKA_BOOTSTRAP_SERVERS": "ours:9092",
            "DATABASE_URL": "postgresql://other/db",
            "ZJCREDIT_DATABASE_URL": "postgresql://ours/db",
        }
    )
    assert s.kafka_bootstrap_servers == "ours:9092"
    assert s.database_url == "postgresql://ours/db"


def test_blank_values_count_as_unset() -> None:
    assert Settings.from_env({"KAFKA_BOOTSTRAP_SERVERS": "  "}).kafka_bootstrap_servers is None


def test_cache_and_run_dirs() -> None:
    s = Settings.from_env({"XDG_CACHE_HOME": "/x"})
    assert s.cache_dir == Path("/x/zjcredit")
    assert s.run_dir == Path("/x/zjcredit/run")
    s = Settings.from_env({"ZJCREDIT_CACHE_DIR": "/c", "ZJCREDIT_RUN_DIR": "/r"})
    assert (s.cache_dir, s.run_dir) == (Path("/c"), Path("/r"))


def test_the_query_timeout_is_seconds() -> None:
    assert Settings.from_env({}).query_timeout == 2.0
    assert Settings.from_env({"ZJCREDIT_QUERY_TIMEOUT": "0.5"}).query_timeout == 0.5


def test_rate_limits_per_minute_and_zero_turns_them_off() -> None:
    s = Settings.from_env({})
    assert (s.rate_limit, s.key_rate_limit) == (600, 6000)
    s = Settings.from_env({"ZJCREDIT_RATE_LIMIT": "0", "ZJCREDIT_KEY_RATE_LIMIT": "120"})
    assert (s.rate_limit, s.key_rate_limit) == (0, 120)


def test_cors_is_off_unless_origins_are_listed() -> None:
    assert Settings.from_env({}).cors_origins == ()
    s = Settings.from_env(
        {"ZJCREDIT_CORS_ORIGINS": " https://Credit.Bank.example/, http://h:8080,"}
    )
    assert s.cors_origins == ("https://credit.bank.example", "http://h:8080")


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"ZJCREDIT_PARTITIONS": "four"}, "ZJCREDIT_PARTITIONS='four': expected a whole number"),
        ({"ZJCREDIT_PARTITIONS": "0"}, "ZJCREDIT_PARTITIONS=0: expected 1..1000"),
        ({"ZJCREDIT_KAFKA_PORT": "70000"}, "ZJCREDIT_KAFKA_PORT=70000"),
        ({"ZJCREDIT_TOPIC_PREFIX": "信用"}, "ZJCREDIT_TOPIC_PREFIX"),
        ({"ZJCREDIT_KAFKA_HEAP": "lots"}, "ZJCREDIT_KAFKA_HEAP='lots'"),
        ({"ZJCREDIT_QUERY_TIMEOUT": "soon"}, "ZJCREDIT_QUERY_TIMEOUT='soon': expected seconds"),
        ({"ZJCREDIT_QUERY_TIMEOUT": "0"}, "ZJCREDIT_QUERY_TIMEOUT=0: expected 0.1..600"),
        ({"ZJCREDIT_RATE_LIMIT": "-1"}, "ZJCREDIT_RATE_LIMIT=-1: expected 0..10000000"),
        ({"ZJCREDIT_CORS_ORIGINS": "*"}, "ZJCREDIT_CORS_ORIGINS: '*' is not an origin"),
        ({"ZJCREDIT_CORS_ORIGINS": "https://a.example/app"}, "'https://a.example/app'"),
    ],
)
def test_malformed_settings_name_the_variable(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert fragment in str(caught.value)


def test_settings_are_frozen() -> None:
    s = Settings.from_env({})
    with pytest.raises(AttributeError):
        s.partitions = 9  # type: ignore[misc]


def test_database_password_is_never_printed() -> None:
    s = Settings.from_env({"DATABASE_URL": "postgresql://clerk:s3cret@db:5432/zjcredit"})
    assert "s3cret" not in repr(s)
    assert s.redacted_database_url() == "postgresql://clerk:***@db:5432/zjcredit"
    assert redact_url("postgresql://clerk@db/zjcredit") == "postgresql://clerk@db/zjcredit"


def test_replication_is_the_clusters_unless_set_and_brokers_default_to_one() -> None:
    s = Settings.from_env({})
    assert (s.replication_factor, s.min_insync_replicas, s.kafka_brokers) == (None, None, 1)
    s = Settings.from_env({"ZJCREDIT_REPLICATION_FACTOR": "3", "ZJCREDIT_MIN_INSYNC_REPLICAS": "2",
                           "ZJCREDIT_KAFKA_BROKERS": "3"})  # fmt: skip
    assert (s.replication_factor, s.min_insync_replicas, s.kafka_brokers) == (3, 2, 3)
    with pytest.raises(ConfigError, match="ZJCREDIT_MIN_INSYNC_REPLICAS"):
        Settings.from_env({"ZJCREDIT_MIN_INSYNC_REPLICAS": "0"})
    with pytest.raises(ConfigError, match="ZJCREDIT_KAFKA_BROKERS"):
        Settings.from_env({"ZJCREDIT_KAFKA_BROKERS": "three"})
