"""Properties of names and URLs that operators and Kafka depend on."""

import re
import string

from hypothesis import given
from hypothesis import strategies as st

from base.settings import Settings, redact_url
from schemas.topics import project_topics

_LEGAL_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
prefixes = st.text(alphabet=string.ascii_letters + string.digits + "._-", min_size=1, max_size=100)


@given(prefix=prefixes, partitions=st.integers(1, 1000))
def test_any_accepted_prefix_gives_legal_distinct_topic_names(prefix: str, partitions: int) -> None:
    specs = project_topics(
        Settings.from_env({"ZJCREDIT_TOPIC_PREFIX": prefix, "ZJCREDIT_PARTITIONS": str(partitions)})
    )
    assert all(_LEGAL_TOPIC.match(s.name) for s in specs)
    assert len({s.name for s in specs}) == len(specs)
    assert {s.partitions for s in specs} == {partitions}


passwords = st.text(
    alphabet=string.ascii_letters + string.digits + "!$&'()*+,;=-._~", min_size=1, max_size=30
)


@given(user=st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True), password=passwords)
def test_redaction_never_leaks_the_password(user: str, password: str) -> None:
    url = f"postgresql://{user}:{password}@db.example:5432/zjcredit"
    shown = redact_url(url)
    assert shown == f"postgresql://{user}:***@db.example:5432/zjcredit"
