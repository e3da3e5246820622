"""The Schema Registry's read-only REST paths, served from ``schemas/manifest.json``.

Enough of Confluent's API for its clients to decode the topics: ``SchemaRegistryClient``
(``get_schema``, ``get_subjects``, ``get_versions``, ``get_version``) and so its
``AvroDeserializer``, or ``kcat -s value=avro -r URL``. Subjects are
``<topic prefix>.<role>-value``; errors carry Confluent's ``error_code`` (40401 subject,
40402 version, 40403 schema not found; 42202 invalid version).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from query.errors import InvalidParameter, NotFound
from query.models import ApiError, RegistrySchema, RegistrySubjectVersion, SchemaById
from query.routes import json_response
from query.services import Services
from schemas.errors import SchemaRegistryError, UnknownSchemaId
from schemas.registry import RegisteredSchema

__all__ = ["router"]

_SUFFIX = "-value"
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ApiError, "description": "no such subject, version or schema"},
    422: {"model": ApiError, "description": "a malformed id or version"},
}

router = APIRouter(tags=["schema registry"], responses=_ERRORS)


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _subject(services: Services, entry: RegisteredSchema) -> str:
    return f"{services.topic_prefix}.{entry.subject}{_SUFFIX}"


def _versions(services: Services, subject: str) -> list[RegisteredSchema]:
    prefix = f"{services.topic_prefix}."
    role = subject.removeprefix(prefix).removesuffix(_SUFFIX)
    if subject.startswith(prefix) and subject.endswith(_SUFFIX):
        try:
            return services.registry.versions(role)
        except SchemaRegistryError:
            pass
    raise NotFound(f"Subject '{subject}' not found.", error="subject_not_found", error_code=40401)


def _text(entry: RegisteredSchema) -> str:
    return json.dumps(entry.schema, ensure_ascii=False, separators=(",", ":"))


@router.get("/schemas/ids/{schema_id}", response_model=SchemaById)
async def schema_by_id(request: Request, schema_id: Annotated[int, Path()]) -> Response:
    try:
        entry = _services(request).registry.by_id(schema_id)
    except UnknownSchemaId:
        raise NotFound(
            f"Schema {schema_id} not found", error="schema_not_found", error_code=40403
        ) from None
    return json_response(SchemaById(schema=_text(entry)))


@router.get("/schemas/ids/{schema_id}/versions", response_model=list[RegistrySubjectVersion])
async def schema_versions(request: Request, schema_id: Annotated[int, Path()]) -> Response:
    services = _services(request)
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
    services = _services(request)
    names = sorted(f"{services.topic_prefix}.{s}{_SUFFIX}" for s in services.registry.subjects())
    return Response(json.dumps(names), media_type="application/json")


@router.get("/subjects/{subject}/versions", response_model=list[int])
async def subject_versions(request: Request, subject: str) -> Response:
    versions = [e.version for e in _versions(_services(request), subject)]
    return Response(json.dumps(versions), media_type="application/json")


@router.get("/subjects/{subject}/versions/{version}", response_model=RegistrySchema)
async def subject_version(
    request: Request,
    subject: str,
    version: Annotated[str, Path(description="a version number, or latest")],
) -> Response:
    services = _services(request)
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
