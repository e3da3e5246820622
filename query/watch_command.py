"""``zjcredit watch``: a key's watched firms' changes in a terminal, one line each, live."""

from __future__ import annotations

import json
import time
from typing import Any

import click

from base.settings import Settings
from query.errors import ApiClientError

__all__ = ["change_line", "watch_command"]

RECONNECT_SECONDS = 3.0
_ARROW = "→"


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value).lower() if isinstance(value, bool) else str(value)


def change_line(change: dict[str, Any]) -> str:
    """``2026-12-04T09:30:01Z  913301...  杭州某某有限公司  grade  GOOD → POOR  [cursor]``."""
    name = change.get("name") or "(name not known yet)"
    move = f"{_value(change['before'])} {_ARROW} {_value(change['after'])}"
    return (f"{change['changed_at']}  {change['uscc']}  {name}  {change['kind']}  {move}  "
            f"[{change['cursor']}]")  # fmt: skip


@click.command("watch")
@click.option("--since", default=None, metavar="CURSOR",
              help="Start after this change (the [cursor] ending a line); default: every "
              "change kept.")  # fmt: skip
@click.option(
    "--count",
    type=click.IntRange(1),
    default=None,
    help="Stop after this many changes (default: follow until Ctrl-C).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line, for scripts.")
@click.pass_obj
def watch_command(settings: Settings, since: str | None, count: int | None,
                  as_json: bool) -> None:  # fmt: skip
    """Follow the changes of the firms on the key's watchlist (grade, score band, listed,
    lifted, escalated, tax grade, credit line refused), live, one line each.

    Needs a key in ZJCREDIT_API_KEY (bank, department or admin) whose watchlist is kept
    with PUT /v1/watchlist. A dropped connection is resumed after the last change
    printed, so none is missed or printed twice. An error answer (a wrong key) ends with
    its message and exit status 2.
    """
    from query.client import ApiClient  # noqa: PLC0415

    if not settings.api_key:
        raise click.UsageError("zjcredit watch needs a key: set ZJCREDIT_API_KEY")
    seen = 0
    with ApiClient(settings.api_url, settings.api_key) as client:
        watched = client.get("/v1/watchlist")["count"]
        click.echo(f"watching {watched} credit codes at {settings.api_url}; Ctrl-C stops",
                   err=True)  # fmt: skip
        while count is None or seen < count:
            try:
                for change in client.changes(since):
                    click.echo(json.dumps(change, ensure_ascii=False) if as_json
                               else change_line(change))  # fmt: skip
                    since, seen = change["cursor"], seen + 1
                    if count is not None and seen >= count:
                        return
            except ApiClientError as error:
                if error.http_status:  # an answer (401, 422): trying again will not help
                    raise
                click.echo(f"{error.message}; resuming in {RECONNECT_SECONDS:.0f} s", err=True)
            time.sleep(RECONNECT_SECONDS)
