"""The query service's errors: each is one HTTP status and one JSON body.

::

    ZjcreditError
    └── QueryError                 an answer other than 2xx, with status and error code
        ├── Unauthorized           401: unknown or revoked API key
        ├── Forbidden              403: the role may not use the route
        ├── NotFound               404: no such enterprise, route, subject, version or schema
        ├── InvalidParameter       422: a parameter (credit code included) breaks a rule
        ├── PayloadTooLarge        413: an upload over the ingest's size limit
        ├── UnsupportedMediaType   415: an upload that is neither CSV nor JSON Lines
        ├── TooManyRequests        429: over the key's or the address's rate limit
        ├── DatabaseUnavailable    503: PostgreSQL does not answer, is not migrated yet, or
        │                          its connections for exports are taken (exports_busy)
        ├── QueryTimeout           503: PostgreSQL cancelled a statement at its timeout
        ├── DatabaseBusy           503: every pooled connection stayed in use
        └── PublishingFailed       503: an upload's rows did not all reach Kafka, or no
                                   Kafka is configured, or another upload is running

Every error body has one shape (docs/query.md): ``status``, ``error`` (a stable
snake_case code), ``error_code`` (Confluent Schema Registry style, which its clients
read), ``message`` and ``details``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from base.errors import ZjcreditError

__all__ = [
    "ApiClientError",
    "DatabaseBusy",
    "DatabaseUnavailable",
    "Forbidden",
    "InvalidParameter",
    "NotFound",
    "PayloadTooLarge",
    "PublishingFailed",
    "QueryError",
    "QueryTimeout",
    "TooManyRequests",
    "Unauthorized",
    "UnsupportedMediaType",
    "error_body",
]


def error_body(
    status: int,
    error: str,
    message: str,
    *,
    error_code: int | None = None,
    details: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The JSON body of every error answer."""
    return {
        "status": status,
        "error": error,
        "error_code": error_code if error_code is not None else status * 100,
        "message": message,
        "details": details or [],
    }


class QueryError(ZjcreditError):
    """An error answer. ``error`` and ``error_code`` default per class."""

    status: ClassVar[int] = 500
    error: str = "internal_error"
    error_code: int = 50000

    def __init__(
        self,
        message: str,
        *,
        error: str | None = None,
        error_code: int | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if error is not None:
            self.error = error
        self.error_code = error_code if error_code is not None else self.status * 100
        self.details = details or []

    def headers(self) -> dict[str, str] | None:
        """The answer's extra headers: ``Retry-After`` on a 503, ``WWW-Authenticate`` on a 401."""
        if self.status == 503:
            return {"Retry-After": "5"}
        if self.status == 401:
            return {"WWW-Authenticate": 'Bearer realm="zjcredit"'}
        return None

    def body(self) -> dict[str, Any]:
        return error_body(
            self.status,
            self.error,
            self.message,
            error_code=self.error_code,
            details=self.details,
        )


class Unauthorized(QueryError):  # noqa: N818 - named as the HTTP status
    status = 401
    error = "unauthorized"


class Forbidden(QueryError):  # noqa: N818 - named as the HTTP status
    status = 403
    error = "forbidden"


class NotFound(QueryError):  # noqa: N818 - named as the HTTP status
    status = 404
    error = "not_found"


class InvalidParameter(QueryError, ValueError):  # noqa: N818 - named as the HTTP status
    status = 422
    error = "invalid_parameter"

    @classmethod
    def one(cls, field: str, rule: str, message: str, *, error: str | None = None,
            error_code: int | None = None) -> InvalidParameter:  # fmt: skip
        """The error for one parameter breaking one rule."""
        return cls(
            f"{field}: {message}",
            error=error,
            error_code=error_code,
            details=[{"field": field, "rule": rule, "message": message}],
        )


class PayloadTooLarge(QueryError):  # noqa: N818 - named as the HTTP status
    status = 413
    error = "payload_too_large"


class UnsupportedMediaType(QueryError):  # noqa: N818 - named as the HTTP status
    status = 415
    error = "unsupported_media_type"


class TooManyRequests(QueryError):  # noqa: N818 - named as the HTTP status
    """Over the rate limit (query/limits.py); ``retry_after``: whole seconds to wait."""

    status = 429
    error = "too_many_requests"
    retry_after = 1

    @classmethod
    def after(cls, seconds: int) -> TooManyRequests:
        error = cls(f"too many requests; try again in {seconds} s")
        error.retry_after = seconds
        return error

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)}


class DatabaseUnavailable(QueryError):  # noqa: N818 - named as the HTTP status
    """PostgreSQL is down, failing over, out of connections, or not migrated yet; or the
    connections an export may take are taken (``error="exports_busy"``, query/exports.py)."""

    status = 503
    error = "database_unavailable"


class QueryTimeout(QueryError):  # noqa: N818 - named as what happened
    """PostgreSQL cancelled a statement that ran past the pool's ``statement_timeout``
    (SQLSTATE 57014): the database is up, the question too costly."""

    status = 503
    error = "query_timeout"


class DatabaseBusy(QueryError):  # noqa: N818 - named as what happened
    """Every connection of the pool stayed in use while a request waited for one."""

    status = 503
    error = "database_busy"


class PublishingFailed(QueryError):  # noqa: N818 - named as what happened
    """An upload (query/ingest.py) could not be published: Kafka unreachable or not
    acknowledging (the message says how many rows it holds), no Kafka configured for the
    service (``ingest_unavailable``), or another upload running (``ingest_busy``)."""

    status = 503
    error = "publishing_failed"


class ApiClientError(QueryError):
    """The service answered an error (its JSON body is in ``answer``), or did not answer."""

    def __init__(self, message: str, status: int = 0, body: dict[str, Any] | None = None) -> None:
        super().__init__(message, error=(body or {}).get("error", "unreachable"))
        self.http_status = status
        self.answer = body or {}
