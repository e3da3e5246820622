"""``POST /v1/ingest/{source}``: a department without Kafka access sends a file over HTTP.

The way Confluent's REST Proxy fronts Kafka, for the departments' files: the body (CSV,
JSON Lines or an Excel workbook, as ``zjcredit produce`` reads them, in any encoding it
detects) is streamed to a temporary file, at most
``max_bytes``, then published by the producer itself (``producers.produce.produce_file``),
so the rules, the rejects and the summary are the CLI's. The answer comes after Kafka has
acknowledged the events; it is the summary and the rejected rows. Event ids come from the
rows' content, so the same file twice is harmless.

Only a department key that names its department sends, only the sources that department
owns (schemas/owners.py), and every row is sent for it (a row naming another department is
rejected as ``wrong_department``). Every upload is recorded in ``access.ingest``.

One upload at a time per service process: the producer's row parser is per process
(producers/encoding.py), and a department's file is rare enough that a second sender is
told to retry (503 ``ingest_busy``) rather than queued behind a large file.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from producers.decoding import canonical_encoding
from producers.errors import UnreadableFileError
from producers.produce import ProduceSummary, produce_file, rejects_path
from query.access import Sender
from query.errors import (
    Forbidden,
    InvalidParameter,
    PayloadTooLarge,
    PublishingFailed,
    UnsupportedMediaType,
)
from query.keys import KeyHolder
from query.models import ApiError, IngestSummary
from query.routes import json_response
from query.services import Services, services_of
from schemas.owners import SOURCE_OWNERS, may_send, owners_of

__all__ = ["FORMATS", "MAX_REJECTED_ROWS", "router"]

# Content types a department's system sends, and the file suffix the producer reads by.
FORMATS = {
    "text/csv": ".csv",
    "application/csv": ".csv",
    "application/x-ndjson": ".jsonl",
    "application/jsonl": ".jsonl",
    "application/json-lines": ".jsonl",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
}
MAX_REJECTED_ROWS = 1_000  # in the answer; a clerk fixes the file, not 100,000 rows by hand

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ApiError, "description": "no key, or an unknown or revoked one"},
    403: {"model": ApiError, "description": "not a department key, or not this source's owner"},
    422: {
        "model": ApiError,
        "description": "no such source, a malformed name, or a body not its format at all",
    },
    413: {"model": ApiError, "description": "the body is over the size limit"},
    415: {"model": ApiError, "description": "a content type not CSV, JSON Lines or xlsx"},
    503: {"model": ApiError, "description": "Kafka did not take every row, or busy"},
}

router = APIRouter(tags=["ingest"], responses=_ERRORS)
_SHEET = "an xlsx body's sheet (default: the first)"


@router.post("/v1/ingest/{source}", response_model=IngestSummary,
             summary="Send a department's file (CSV, JSON Lines or xlsx) to Kafka")  # fmt: skip
async def ingest(
    request: Request,
    source: str,
    holder: Sender,
    name: Annotated[str | None, Query(max_length=200, description="the file's name")] = None,
    sheet: Annotated[str | None, Query(max_length=100, description=_SHEET)] = None,
) -> Response:
    services = services_of(request)
    if source not in SOURCE_OWNERS:
        known = ", ".join(SOURCE_OWNERS)
        raise InvalidParameter.one(
            "source", "source", f"no source {source[:40]!r}; sources: {known}"
        )
    department = str(holder.department)
    if not may_send(department, source, services.catalog):
        owners = ", ".join(sorted(owners_of(source, services.catalog)))
        raise Forbidden(f"{department} may not send {source} events (they are {owners}'s)")
    suffix, encoding = _media(request.headers.get("content-type"))
    ingest_state = services.ingest
    if ingest_state.bootstrap_servers is None:
        raise PublishingFailed("this service has no Kafka to send to (KAFKA_BOOTSTRAP_SERVERS)",
                               error="ingest_unavailable")  # fmt: skip
    if ingest_state.turn.locked():
        raise PublishingFailed("another upload is being sent; try again shortly",
                               error="ingest_busy")  # fmt: skip
    in_progress = services.metrics.ingest_uploads.track_inprogress()
    async with ingest_state.turn:
        with in_progress, tempfile.TemporaryDirectory(prefix="zjcredit-ingest-") as folder:
            path = Path(folder) / f"upload{suffix}"
            size, digest = await _receive(request, path, ingest_state.max_bytes)
            unreadable = None
            try:
                summary = await asyncio.to_thread(
                    produce_file, source, path, bootstrap_servers=ingest_state.bootstrap_servers,
                    topic_prefix=services.topic_prefix, show_progress=False, workers=0,
                    department=department, encoding=encoding, sheet=sheet,
                )  # fmt: skip
            except UnreadableFileError as error:  # nothing was sent; recorded as such
                unreadable = str(error).replace(path.name, "the body")
                summary = ProduceSummary(source, path, error=unreadable)
            rejected_rows = _rejected_rows(rejects_path(path))
        await _record(services, holder, source, name=name, size=size, digest=digest,
                      summary=summary)  # fmt: skip
    if unreadable is not None:
        raise InvalidParameter.one("body", "format", unreadable, error="unreadable_file")
    if summary.exit_code == 2:
        raise PublishingFailed(
            f"publishing failed: {summary.error}; {summary.acknowledged} of {summary.read} "
            "rows are safely in Kafka; sending the same file again is safe"
        )
    body = IngestSummary(
        source=source, department=department, name=name, bytes=size, sha256=digest,
        encoding=summary.encoding.label, sheet=summary.sheet,
        read=summary.read, sent=summary.sent, acknowledged=summary.acknowledged,
        rejected=summary.rejected, rejects_by_reason=dict(summary.rejects_by_reason),
        ignored_columns=summary.ignored_columns, shared_columns=summary.shared_columns,
        rejected_rows=rejected_rows,
        rejected_rows_shown=len(rejected_rows),
    )  # fmt: skip
    return json_response(body)


def _media(content_type: str | None) -> tuple[str, str | None]:
    """The file suffix the producer reads the body by, and the encoding to force.

    A ``charset`` other than UTF-8 is the sender's word and is used; ``charset=utf-8`` is
    not, since many clients add it to any body: the producer detects the encoding then.
    """
    media, *params = (content_type or "").split(";")
    media = media.strip().lower()
    if media not in FORMATS:
        raise UnsupportedMediaType(
            f"send CSV, JSON Lines or xlsx: Content-Type one of {', '.join(FORMATS)}, "
            f"not {media[:60]!r}"
        )
    charsets = [p.split("=", 1)[1].strip().strip('"') for p in params
                if p.strip().lower().startswith("charset=")]  # fmt: skip
    encoding = None
    if charsets:
        try:
            encoding = canonical_encoding(charsets[0])
        except LookupError:
            raise UnsupportedMediaType(f"unknown charset {charsets[0][:40]!r}") from None
    return FORMATS[media], None if encoding == "utf-8" else encoding


async def _receive(request: Request, path: Path, max_bytes: int) -> tuple[int, str]:
    """Stream the body to ``path``; its size and sha256. 413 past ``max_bytes``."""
    digest = hashlib.sha256()
    size = 0
    with path.open("wb") as out:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise PayloadTooLarge(
                    f"the body is over {max_bytes} bytes: split the file, or use zjcredit produce"
                )
            digest.update(chunk)
            out.write(chunk)
    return size, digest.hexdigest()


def _rejected_rows(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            rows.append(json.loads(line))
            if len(rows) == MAX_REJECTED_ROWS:
                break
    return rows


async def _record(services: Services, holder: KeyHolder, source: str, *, name: str | None,
                  size: int, digest: str, summary: ProduceSummary) -> None:  # fmt: skip
    async with services.db.connection() as conn:
        await conn.execute(
            "insert into access.ingest (key_id, department, source, name, bytes, sha256, read, "
            "sent, acknowledged, rejected, error) "
            "values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            holder.key_id, holder.department, source, name, size, digest, summary.read,
            summary.sent, summary.acknowledged, summary.rejected, summary.error,
        )  # fmt: skip
