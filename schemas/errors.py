"""Errors of the contract: malformed credit codes, unknown sectors, undecodable messages.

::

    ZjcreditError
    └── ContractError
        ├── InvalidCreditCode (ValueError)   a credit code broke a rule of GB 32100-2015
        ├── InvalidPatentNumber (ValueError) a patent application number broke a rule
        ├── UnknownSector (ValueError)        a sector code not in the key-sector catalog
        ├── InvalidEvent (ValueError)         an event breaks a rule of its source (``field``)
        ├── SchemaRegistryError               a schema id or subject the registry lacks
        ├── EncodeError (ValueError)          a record does not fit its schema
        └── DecodeError (ValueError)          a message is not a valid Confluent-framed Avro
            ├── BadMagicByte                  byte 0 is not 0 (or the message is too short)
            ├── UnknownSchemaId               the 4-byte schema id is not registered
            └── CorruptBody                   the Avro body does not decode with that schema

Every error has a short, stable ``reason`` code (``"bad_magic_byte"``, ``"check_char"``,
...) for metrics labels and dead letters; the message is for people.
"""

from __future__ import annotations

from base.errors import ZjcreditError

__all__ = [
    "BadMagicByte",
    "ContractError",
    "CorruptBody",
    "DecodeError",
    "EncodeError",
    "InvalidCreditCode",
    "InvalidEvent",
    "InvalidPatentNumber",
    "SchemaRegistryError",
    "UnknownSchemaId",
    "UnknownSector",
]


class ContractError(ZjcreditError):
    """Root of the contract's errors. ``reason`` is a stable machine-readable code."""

    reason = "contract"

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class InvalidCreditCode(ContractError, ValueError):  # noqa: N818 - reads as a verdict
    """A unified social credit code broke a rule; ``reason`` names the rule.

    Rules: ``empty``, ``length``, ``charset``, ``authority``, ``entity_type``,
    ``division``, ``org_check`` (position 17), ``check_char`` (position 18).
    """

    reason = "invalid_credit_code"


class InvalidPatentNumber(ContractError, ValueError):  # noqa: N818 - reads as a verdict
    """A patent application number broke a rule (schemas/patent_no.py); ``reason`` names it.

    Rules: ``empty``, ``format``, ``year``, ``kind``, ``check_digit``.
    """

    reason = "invalid_patent_number"


class UnknownSector(ContractError, ValueError):  # noqa: N818
    """A key-sector code that is not in the catalog."""

    reason = "unknown_sector"


class InvalidEvent(ContractError, ValueError):  # noqa: N818
    """An event breaks a rule of its source; ``field`` names the field at fault.

    ``reason`` is the rule: ``missing_field``, ``out_of_range``, ``bad_value``,
    ``invalid_credit_code``, ``unknown_sector``, ``unknown_department``, ``bad_dates``;
    for patents ``invalid_patent_number``, ``patent_check_digit``, ``patent_kind_mismatch``,
    ``patent_year_mismatch``, ``transfer_party_mismatch``.
    """

    reason = "invalid_event"

    def __init__(self, message: str, reason: str | None = None, field: str | None = None):
        super().__init__(message, reason)
        self.field = field


class SchemaRegistryError(ContractError):
    """The registry has no schema with that id, or no such subject/version."""

    reason = "schema_registry"


class EncodeError(ContractError, ValueError):
    """A record does not fit its schema (a missing field, a wrong type)."""

    reason = "encode"


class DecodeError(ContractError, ValueError):
    """A message could not be decoded."""

    reason = "decode"


class BadMagicByte(DecodeError):  # noqa: N818
    reason = "bad_magic_byte"


class UnknownSchemaId(DecodeError):  # noqa: N818
    reason = "unknown_schema_id"


class CorruptBody(DecodeError):  # noqa: N818
    reason = "corrupt_body"
