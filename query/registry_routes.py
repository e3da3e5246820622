"""The Schema Registry's read-only REST paths, served from ``schemas/manifest.json``.

Enough of Confluent's API for its clients to decode the topics and to write them:
``SchemaRegistryClient`` (``get_schema``, ``get_subjects``, ``get_versions``,
``get_version``, ``lookup_schema``) and so its ``AvroDeserializer``, its ``AvroSerializer``
with ``auto.register.schemas=False``, or ``kcat -s value=avro -r URL``. Subjects are
``<topic prefix>.<role>-value``; errors carry Confluent's ``error_code`` (40401 subject,
40402 version, 40403 schema not found; 42201 invalid schema, 42202 invalid version).

Registration is refused (403, ``error_code`` 40301): schemas enter through the manifest
and its compatibility test (docs/operations.md, "Schema upgrades"), never from a client.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request, Response

from query.errors import Forbidden, InvalidParameter, NotFound
from query.models import (
    ApiError,
    RegistryConfig,
    RegistryLookup,
    RegistrySchema,
    RegistrySubjectVersion,
    SchemaById,
)
from query.routes import json_response
from query.services import Services, services_of
from schemas.errors import UnknownSchemaId
from schemas.registry import RegisteredSchema

__all__ = ["router"]

_SUFFIX = "-value"
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ApiError, "description": "no such subject, version or schema"},
    422: {"model": ApiError, "description": "a malformed id or version"},
}

router = APIRouter(tags=["schema registry"], responses=_ERRORS)


def _subject(services: Services, entry: RegisteredSchema) -> str:
    return f"{services.topic_prefix}.{entry.subject}{_SUFFIX}"


def _role(services: Services, subject: str) -> str:
    """The manifest's subject (a topic role) for a Confluent subject name; 40401 if none."""
    prefix = f"{services.topic_prefix}."
    role = subject.removeprefix(prefix).removesuffix(_SUFFIX)
    known = services.registry.subjects()
    if subject.startswith(prefix) and subject.endswith(_SUFFIX) and role in known:
        return role
    raise NotFound(f"Subject '{subject}' not found.", error="subject_not_found", error_code=40401)


def _versions(services: Services, subject: str) -> list[RegisteredSchema]:
    return services.registry.versions(_role(services, subject))


def _text(entry: RegisteredSchema) -> str:
    return json.dumps(entry.schema, ensure_ascii=False, separators=(",", ":"))


@router.get("/schemas/ids/{schema_id}", response_model=SchemaById)
async def schema_by_id(request: Request, schema_id: Annotated[int, Path()]) -> Response:
    try:
        entry = services_of(request).registry.by_id(schema_id)
    except UnknownSchemaId:
        raise NotFound(
            f"Schema {schema_id} not found", error="schema_not_found", error_code=40403
        ) from None
    return json_response(SchemaById(schema=_text(entry)))


@router.get("/schemas/ids/{schema_id}/versions", response_model=list[RegistrySubjectVersion])
async def schema_versions(request: Request, schema_id: Annotated[int, Path()]) -> Response:
    services = services_of(request)
    try:
        entry = services.registry.by_id(schema_id)
    except UnknownSchemaId:
        raise NotFound(
            f"Schema {schema_id} not found", error="schema_not_found", error_code=40403
        ) from None
    body = [{"subject": _subject(services, entry), "version": entry.version}]
    return Response(json.dumps(body), media_type="application/json")


@router.get("/subjects", response_model=list[str])
async def subjects(request: Request) -> Response:
    services = services_of(request)
    names = sorted(f"{services.topic_prefix}.{s}{_SUFFIX}" for s in services.registry.subjects())
    return Response(json.dumps(names), media_type="application/json")


@router.get("/subjects/{subject}/versions", response_model=list[int])
async def subject_versions(request: Request, subject: str) -> Response:
    versions = [e.version for e in _versions(services_of(request), subject)]
    return Response(json.dumps(versions), media_type="application/json")


@router.get("/subjects/{subject}/versions/{version}", response_model=RegistrySchema)
async def subject_version(
    request: Request,
    subject: str,
    version: Annotated[str, Path(description="a version number, or latest")],
) -> Response:
    services = services_of(request)
    entries = _versions(services, subject)
    if version in ("latest", "-1"):
        entry = entries[-1]
    else:
        number = version.isascii() and version.isdigit() and len(version) <= 10
        if not number or not 0 < int(version) < 2**31:
            raise InvalidParameter.one(
                "version", "version",
                "The specified version is not a valid version id. Allowed values are between "
                "[1, 2^31-1] and the string \"latest\"",
                error="invalid_version", error_code=42202,
            )  # fmt: skip
        found = [e for e in entries if e.version == int(version)]
        if not found:
            raise NotFound(
                f"Version {version} not found.", error="version_not_found", error_code=40402
            )
        entry = found[0]
    return json_response(
        RegistrySchema(subject=subject, version=entry.version, id=entry.id, schema=_text(entry))
    )


@router.post(
    "/subjects/{subject}",
    response_model=RegistrySchema,
    responses={400: {"model": ApiError, "description": "the body is not JSON"}},
)
async def lookup_schema(
    request: Request, subject: str, body: Annotated[RegistryLookup, Body()]
) -> Response:
    """Which registered version of ``subject`` a client's schema is (Avro's Parsing
    Canonical Form decides, so docs and defaults may differ). What ``AvroSerializer`` asks
    with ``auto.register.schemas=False`` before it writes the schema id."""
    services = services_of(request)
    role = _role(services, subject)
    if body.schemaType.upper() != "AVRO":
        raise InvalidParameter.one(
            "schemaType", "schemaType",
            f"Only AVRO schemas are registered here, not {body.schemaType[:40]!r}.",
            error="invalid_schema", error_code=42201,
        )  # fmt: skip
    try:
        entry = services.registry.matching(role, json.loads(body.schema_))
    except (ValueError, RecursionError) as e:  # json.JSONDecodeError is a ValueError
        raise InvalidParameter.one(
            "schema", "schema", f"Invalid schema: {str(e)[:300]}",
            error="invalid_schema", error_code=42201,
        ) from None  # fmt: skip
    if entry is None:
        raise NotFound(
            f"Schema not found under subject '{subject}': it matches no registered version "
            f"({len(services.registry.versions(role))} known; GET /subjects/{subject}/versions).",
            error="schema_not_found", error_code=40403,
        )  # fmt: skip
    return json_response(
        RegistrySchema(subject=subject, version=entry.version, id=entry.id, schema=_text(entry))
    )


@router.get("/config", response_model=RegistryConfig)
async def config() -> Response:
    """The global compatibility level: every manifest schema is backward compatible with the
    versions before it (schemas/compat.py, checked by the tests)."""
    return json_response(RegistryConfig())


@router.get("/schemas/types", response_model=list[str])
async def schema_types() -> Response:
    return Response(json.dumps(["AVRO"]), media_type="application/json")


_READ_ONLY = (
    "This registry is read-only: schemas are registered through schemas/manifest.json and "
    "its compatibility test, never by a client. Produce with auto.register.schemas=False."
)


@router.api_route("/subjects/{subject}/versions", methods=["POST"], include_in_schema=False)
@router.api_route("/subjects/{subject}", methods=["DELETE"], include_in_schema=False)
@router.api_route("/subjects/{subject}/versions/{version}", methods=["DELETE"],
                  include_in_schema=False)  # fmt: skip
@router.api_route("/config", methods=["PUT", "DELETE"], include_in_schema=False)
@router.api_route("/config/{subject}", methods=["PUT", "DELETE"], include_in_schema=False)
@router.api_route("/mode", methods=["PUT"], include_in_schema=False)
async def refuse_write() -> Response:
    """Registration, deletion and config changes: Confluent's 403 body, error_code 40301."""
    raise Forbidden(_READ_ONLY, error="read_only_registry", error_code=40301)
