"""``zjcredit produce SOURCE FILE``: the producer's command (mounted by zjcredit/cli.py).

Meant to sit in a pipeline as well as in a clerk's terminal: ``-`` reads standard input,
``--json`` prints the summary as one JSON object on stdout, and the exit status says what
happened, each case its own code:

- 0: every row was sent and acknowledged (or, ``--dry-run``, is valid);
- 1: some rows were rejected (``FILE.rejects.jsonl``); the others went;
- 2: publishing failed: Kafka unreachable or not acknowledging (the summary says what it
  holds);
- 64 (EX_USAGE): a usage error: a bad option, source, encoding or sheet; a missing file,
  or one that is not its format at all (a broken workbook, an old .xls); nothing was sent.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from base.endpoints import resolve_endpoints
from base.errors import ZjcreditError
from base.settings import Settings
from producers.decoding import canonical_encoding
from producers.errors import UnreadableFileError
from producers.produce import EXIT_PUBLISH_FAILED, EXIT_USAGE, ProduceSummary, produce_file
from schemas.topics import SOURCES

__all__ = ["STDIN_NAME", "produce_command"]

# Standard input is spooled to a temporary file (the readers seek and re-read); the
# summary calls it this, and its rejects go to ./stdin.rejects.jsonl.
STDIN_NAME = Path("stdin")


class _UsageExit(click.Command):
    """Usage errors end with 64 (EX_USAGE), not click's 2, which here is "publishing failed"."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:  # fmt: skip
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as error:
            error.exit_code = EXIT_USAGE
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as error:
            error.exit_code = EXIT_USAGE
            raise


def _encoding_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return canonical_encoding(value)
    except LookupError:
        raise click.BadParameter(f"unknown encoding {value!r} (e.g. gb18030, utf-16)") from None


@click.command("produce", cls=_UsageExit)
@click.argument("source", type=click.Choice(SOURCES))
@click.argument(
    "file", type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path)
)
@click.option("--dry-run", is_flag=True, help="Validate every row; send nothing.")
@click.option("--metrics-port", type=int, default=None, help="Serve Prometheus metrics here.")
@click.option("--encoding", default=None, metavar="NAME", callback=_encoding_option,
              help="The file's text encoding (gb18030, gbk, utf-16, utf-8, ...); "
                   "default: detected.")  # fmt: skip
@click.option("--sheet", default=None, metavar="NAME",
              help="The sheet of an .xlsx workbook; default: the first.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.pass_obj
def produce_command(
    settings: Settings, source: str, file: Path, *, dry_run: bool, metrics_port: int | None,
    encoding: str | None, sheet: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Send a department's export FILE (CSV, JSON Lines or .xlsx; - for stdin) to SOURCE.

    Bad rows go to FILE.rejects.jsonl with line number and reason. Exit 0: all rows
    sent; 1: some rows rejected; 2: publishing failed (the summary says how many rows
    were acknowledged; sending the same file again is safe); 64: usage error.
    """
    from prometheus_client import start_http_server  # noqa: PLC0415

    bootstrap = None
    if not dry_run:
        try:
            bootstrap = resolve_endpoints(settings, need_database=False).bootstrap_servers
        except ZjcreditError as error:  # no Kafka to send to: publishing failed, said as such
            shown = STDIN_NAME if str(file) == "-" else file
            _report(ProduceSummary(source, shown, error=str(error)), as_json)
            sys.exit(EXIT_PUBLISH_FAILED)
    if metrics_port is not None:
        start_http_server(metrics_port)

    def run(path: Path, name: Path | None = None) -> ProduceSummary:
        try:
            return produce_file(
                source, path, bootstrap_servers=bootstrap, topic_prefix=settings.topic_prefix,
                dry_run=dry_run, encoding=encoding, name=name, sheet=sheet,
                notice=lambda note: click.echo(note, err=True),
            )  # fmt: skip
        except UnreadableFileError as error:
            raise click.BadParameter(str(error), param_hint="FILE") from None

    if str(file) == "-":
        with tempfile.TemporaryDirectory(prefix="zjcredit-stdin-") as folder:
            spooled = Path(folder) / STDIN_NAME.name  # no suffix: the format is sniffed
            with spooled.open("wb") as out:
                shutil.copyfileobj(click.get_binary_stream("stdin"), out, 1 << 20)
            summary = run(spooled, STDIN_NAME)
    else:
        summary = run(file)
    _report(summary, as_json)
    sys.exit(summary.exit_code)


def _report(summary: ProduceSummary, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(summary.as_dict(), ensure_ascii=False))
        return
    lines: Sequence[str] = summary.lines()
    for line in lines:
        failed = summary.exit_code == EXIT_PUBLISH_FAILED
        click.echo(line, err=failed and line.lstrip().startswith("PUBLISHING"))
