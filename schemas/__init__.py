"""The contract between departments and the pipeline.

Lands with issue 3: Avro ``.avsc`` files, the schema manifest (ids), the Confluent-framed
codec, credit-code validation, enums and the key-sector catalog. Empty until then.
"""

__all__: list[str] = []
