"""query/audit.py's pure parts: a key's public id, the routes audited."""

from __future__ import annotations

from query.audit import AUDITED, key_id_of


def test_the_key_id_is_the_public_part_of_a_key() -> None:
    assert key_id_of("zjc_3f9a0c1d_s3cr3t_with_underscores") == "3f9a0c1d"
    assert key_id_of("not a key of ours") == "?"


def test_a_profile_and_a_history_are_audited_a_search_is_not() -> None:
    def route(path: str) -> str | None:
        return next((r for pattern, r in AUDITED if pattern.match(path)), None)

    assert route("/v1/enterprises/91330100716105852F") == "/v1/enterprises/{uscc}"
    assert route("/v1/enterprises/91330100716105852F/history") == "/v1/enterprises/{uscc}/history"
    assert route("/v1/enterprises") is None
    assert route("/v1/blacklist") is None
