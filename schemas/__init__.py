"""The Kafka contract between the departments and the pipeline: the Avro ``.avsc`` files,
the schema manifest (ids), the Confluent-framed codec, credit codes, patent numbers, the
event rules and bounds, the key-sector catalog, and the topics.

Imports ``base`` only (the README's layout table).
"""

__all__: list[str] = []
