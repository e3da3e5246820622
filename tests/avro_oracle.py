"""The ``avro`` package's schema-compatibility checker, as the oracle of schemas/compat.py."""

from __future__ import annotations

import json
from typing import Any


def avro_says_compatible(reader: Any, writer: Any) -> bool:
    """Can ``reader`` read data written with ``writer``, says ReaderWriterCompatibilityChecker."""
    from avro.compatibility import (  # noqa: PLC0415 - only the tests need the package
        ReaderWriterCompatibilityChecker,
        SchemaCompatibilityType,
    )
    from avro.schema import parse  # noqa: PLC0415

    result = ReaderWriterCompatibilityChecker().get_compatibility(
        parse(json.dumps(reader)), parse(json.dumps(writer))
    )
    return bool(result.compatibility is SchemaCompatibilityType.compatible)
